/** The BN254 scalar field and signed-integer encoding (ARCHITECTURE.md, "Field"). */
import { FieldError } from "./errors.js";

/** The BN254 scalar field modulus p. */
export const P = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;

/** A signed integer as a field element: `v mod p` in [0, p). */
export function toField(v: bigint): bigint {
  const r = v % P;
  return r < 0n ? r + P : r;
}

/** A field element as a signed integer: values above (p-1)/2 are negative. */
export function fromFieldSigned(v: bigint): bigint {
  const r = toField(v);
  return r > (P - 1n) / 2n ? r - P : r;
}

/** Checks that `v` is a canonical field element (0 <= v < p); returns it. */
export function assertField(v: bigint, what: string): bigint {
  if (typeof v !== "bigint") throw new FieldError(`${what} must be a bigint, got ${typeof v}`);
  if (v < 0n || v >= P) throw new FieldError(`${what} = ${v} is not a field element (need 0 <= v < p)`);
  return v;
}

/** b^e mod p (e ≥ 0). */
export function powMod(b: bigint, e: bigint): bigint {
  let r = 1n;
  let x = toField(b);
  while (e > 0n) {
    if (e & 1n) r = (r * x) % P;
    x = (x * x) % P;
    e >>= 1n;
  }
  return r;
}

/** The inverse of a nonzero field element (Fermat). */
export function invMod(a: bigint): bigint {
  return powMod(a, P - 2n);
}
