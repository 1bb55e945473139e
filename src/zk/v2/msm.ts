/**
 * Multi-scalar multiplications over a shape key's commitment bases (ffjavascript's WebAssembly
 * MSM). ffjavascript sizes its buckets by the scalars' byte length, so small signed integers (the
 * quantized weights) are split into a positive and a negative part and passed with as few bytes
 * as their largest magnitude needs: an MSM of 16-bit weights costs a fraction of one of full
 * field elements.
 */
import { engine } from "../verifier.js";
import { P } from "../field.js";
import { FieldError } from "../errors.js";

/** Little-endian fixed-width encoding of non-negative integers (each < 2^(8·width)). */
export function scalarsLE(values: readonly bigint[], width: number): Uint8Array {
  const out = new Uint8Array(values.length * width);
  for (let i = 0; i < values.length; i++) {
    let v = values[i];
    let o = i * width;
    while (v > 0n) {
      out[o++] = Number(v & 0xffn);
      v >>= 8n;
    }
  }
  return out;
}

/** Bytes needed for the largest of the values (at least 1). */
function widthOf(values: readonly bigint[]): number {
  let max = 0n;
  for (const v of values) if (v > max) max = v;
  let w = 1;
  while (max >= 1n << BigInt(8 * w)) w++;
  return w;
}

/** Σ s_i·G_i for field elements s_i (each in [0, p)), G_i the 64-byte LEM affine points of `bases`. Jacobian result. */
export async function msmField(bases: Uint8Array, scalars: readonly bigint[]): Promise<Uint8Array> {
  const c = await engine();
  if (bases.byteLength !== scalars.length * 64)
    throw new FieldError(`${scalars.length} scalars for ${bases.byteLength / 64} bases`);
  if (scalars.length === 0) return c.G1.zero;
  for (const s of scalars)
    if (s < 0n || s >= P) throw new FieldError(`MSM scalar ${s} is not a field element`);
  return c.G1.multiExpAffine(bases, scalarsLE(scalars, widthOf(scalars)));
}

/**
 * Σ v_i·G_i for signed integers v_i with |v_i| < p/2 (the point of v_i mod p): two MSMs of small
 * scalars, positive and negative parts. Jacobian result.
 */
export async function msmSigned(bases: Uint8Array, values: readonly bigint[]): Promise<Uint8Array> {
  const c = await engine();
  if (bases.byteLength !== values.length * 64)
    throw new FieldError(`${values.length} values for ${bases.byteLength / 64} bases`);
  const half = (P - 1n) / 2n;
  const pos: bigint[] = new Array<bigint>(values.length);
  const neg: bigint[] = new Array<bigint>(values.length);
  let anyNeg = false;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v > half || -v > half) throw new FieldError(`signed MSM value ${v} has |v| >= p/2`);
    if (v >= 0n) {
      pos[i] = v;
      neg[i] = 0n;
    } else {
      pos[i] = 0n;
      neg[i] = -v;
      anyNeg = true;
    }
  }
  if (values.length === 0) return c.G1.zero;
  const p = await c.G1.multiExpAffine(bases, scalarsLE(pos, widthOf(pos)));
  if (!anyNeg) return p;
  const n = await c.G1.multiExpAffine(bases, scalarsLE(neg, widthOf(neg)));
  return c.G1.sub(p, n);
}
