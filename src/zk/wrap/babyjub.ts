/**
 * The buyer's Baby Jubjub wrap key (PROTOCOL.md, "Weights delivered with the payment", "Per
 * deal"): pk = sk·Base8 with sk uniform in [1, subOrder), named at funding and checked to be a
 * point of the prime-order subgroup other than the identity. Every scalar a client draws (sk and
 * the contributor's e) lies in [1, subOrder) and so below 2^251, the bound the circuit checks.
 */
import { Base8, inCurve, mulPointEscalar, subOrder } from "@zk-kit/baby-jubjub";
import { P } from "../field.js";
import { WrapKeyError } from "./errors.js";

/** An affine Baby Jubjub point (twisted Edwards coordinates, each a BN254 field element). */
export type BabyPoint = [bigint, bigint];

/** The identity (0, 1). */
export const BABY_IDENTITY: BabyPoint = [0n, 1n];

/** The Baby Jubjub prime subgroup order (re-exported from @zk-kit/baby-jubjub). */
export const BABY_SUBORDER: bigint = subOrder;

/** The generator of the prime-order subgroup (circomlib's Base8). */
export const BABY_BASE8: BabyPoint = [Base8[0], Base8[1]];

/** A uniform scalar in [1, subOrder) from the OS's entropy (rejection sampling on 251 bits). */
export function randomBabyScalar(): bigint {
  for (;;) {
    const b = globalThis.crypto.getRandomValues(new Uint8Array(32));
    b[0] &= 0x07; // 251 bits, big-endian
    const v = BigInt("0x" + Buffer.from(b).toString("hex"));
    if (v >= 1n && v < subOrder) return v;
  }
}

/** Checks that `s` is a scalar in [1, subOrder); returns it. */
export function assertBabyScalar(s: bigint, what: string): bigint {
  if (typeof s !== "bigint" || s < 1n || s >= subOrder)
    throw new WrapKeyError(`${what} must be a scalar in [1, subOrder)`);
  return s;
}

/** sk·P. */
export function babyMul(p: BabyPoint, s: bigint): BabyPoint {
  const r = mulPointEscalar(p, s);
  return [r[0], r[1]];
}

/** Whether two points are equal. */
export function babyEq(a: BabyPoint, b: BabyPoint): boolean {
  return a[0] === b[0] && a[1] === b[1];
}

/**
 * Checks that `p` is a point of the prime-order subgroup other than the identity: two canonical
 * field elements, on the curve, not (0, 1), subOrder·p = (0, 1). Throws WrapKeyError naming `what`
 * and the failed check; returns a clean copy.
 */
export function checkBabyPoint(p: readonly bigint[], what: string): BabyPoint {
  if (!Array.isArray(p) || p.length !== 2 || p.some((v) => typeof v !== "bigint" || v < 0n || v >= P)) {
    throw new WrapKeyError(`${what} must be two field elements`);
  }
  const q: BabyPoint = [p[0], p[1]];
  if (!inCurve(q)) throw new WrapKeyError(`${what} is not on the Baby Jubjub curve`);
  if (babyEq(q, BABY_IDENTITY)) throw new WrapKeyError(`${what} is the identity`);
  if (!babyEq(babyMul(q, subOrder), BABY_IDENTITY)) {
    throw new WrapKeyError(`${what} is not in the prime-order subgroup (it has a small-order component)`);
  }
  return q;
}

/**
 * The subgroup certificate of a key: Q = 8⁻¹·pk (the inverse of 8 modulo subOrder), so 8·Q = pk.
 * Every point 8·Q lies in the prime-order subgroup (the curve's group has order 8·subOrder), and
 * every subgroup point has such a Q, so the escrow checks membership with three doublings instead
 * of a 251-bit scalar multiplication. Throws WrapKeyError when pk is not a valid subgroup point.
 */
export function subgroupCertificate(pk: readonly bigint[]): BabyPoint {
  const q = checkBabyPoint(pk, "the key");
  const inv8 = modPow(8n, subOrder - 2n, subOrder);
  return babyMul(q, inv8);
}

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  for (; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
}

/** Checks a buyer's wrap public key (see {@link checkBabyPoint}); throws WrapKeyError. */
export function checkBuyerWrapKey(pk: readonly bigint[]): BabyPoint {
  return checkBabyPoint(pk, "the buyer's wrap key");
}

/** A fresh buyer wrap key pair: sk uniform in [1, subOrder), pk = sk·Base8. Keep sk in the buyer's workspace only. */
export function buyerWrapKeypair(): { sk: bigint; pk: BabyPoint } {
  const sk = randomBabyScalar();
  return { sk, pk: babyMul(BABY_BASE8, sk) };
}
