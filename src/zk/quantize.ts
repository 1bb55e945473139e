/** Fixed-point quantization (ARCHITECTURE.md, "Quantization"). */
import { QuantizationError, ShapeError } from "./errors.js";

/** Default scales in bits: activations fx, lora_A fa, lora_B fb. */
export const DEFAULT_SCALES = { fx: 10, fa: 12, fb: 12 } as const;

/** Scales of one module, in bits. */
export interface Scales {
  fx: number;
  fa: number;
  fb: number;
}

/** The largest magnitude a quantized value may have (exactly representable in a double). */
export const MAX_QUANTIZED = 2n ** 53n - 1n;

/**
 * `round(x * 2^bits)` with round-half-away-from-zero, as a bigint.
 * Throws QuantizationError on NaN, infinities, bad `bits` or |x * 2^bits| >= 2^53.
 */
export function quantize(x: number, bits: number): bigint {
  if (!Number.isInteger(bits) || bits < 0 || bits > 52) {
    throw new QuantizationError(`scale bits must be an integer in [0, 52], got ${bits}`);
  }
  if (!Number.isFinite(x)) throw new QuantizationError(`cannot quantize ${x}: not a finite number`);
  const scaled = x * 2 ** bits;
  const r = Math.round(Math.abs(scaled));
  if (!Number.isSafeInteger(r)) {
    throw new QuantizationError(
      `cannot quantize ${x} at 2^${bits}: |x * 2^${bits}| exceeds 2^53; lower the scale`,
    );
  }
  const v = BigInt(r);
  return scaled < 0 ? -v : v;
}

/**
 * Quantizes a rows x cols matrix given either as row arrays or as one row-major flat array.
 */
export function quantizeMatrix(
  data: readonly ArrayLike<number>[] | ArrayLike<number>,
  rows: number,
  cols: number,
  bits: number,
): bigint[][] {
  const out: bigint[][] = [];
  const nested = Array.isArray(data) && (data.length === 0 || typeof data[0] !== "number");
  if (nested) {
    const m = data as readonly ArrayLike<number>[];
    if (m.length !== rows) throw new ShapeError(`matrix has ${m.length} rows, expected ${rows}`);
    for (let r = 0; r < rows; r++) {
      if (m[r].length !== cols)
        throw new ShapeError(`matrix row ${r} has ${m[r].length} columns, expected ${cols}`);
      out.push(Array.from(m[r], (x) => quantize(x, bits)));
    }
  } else {
    const f = data as ArrayLike<number>;
    if (f.length !== rows * cols) {
      throw new ShapeError(`flat matrix has ${f.length} values, expected ${rows} x ${cols} = ${rows * cols}`);
    }
    for (let r = 0; r < rows; r++) {
      const row: bigint[] = [];
      for (let c = 0; c < cols; c++) row.push(quantize(f[r * cols + c], bits));
      out.push(row);
    }
  }
  return out;
}

/**
 * Quantizes a PEFT LoRA pair into the circuit's order:
 * `A[i][k] = round(lora_A[k][i] * 2^fa)` (DIN x R), `B[k][j] = round(lora_B[j][k] * 2^fb)` (R x DOUT).
 * `loraA` is PEFT's `lora_A` [R, DIN] row-major, `loraB` is `lora_B` [DOUT, R] row-major (also for
 * GPT-2 Conv1D layers, whose LoRA matrices keep PEFT's shapes).
 */
export function quantizeLora(
  loraA: ArrayLike<number>,
  loraB: ArrayLike<number>,
  R: number,
  DIN: number,
  DOUT: number,
  fa: number = DEFAULT_SCALES.fa,
  fb: number = DEFAULT_SCALES.fb,
): { A: bigint[][]; B: bigint[][] } {
  if (loraA.length !== R * DIN) {
    throw new ShapeError(`lora_A has ${loraA.length} values, expected [R=${R}, DIN=${DIN}] = ${R * DIN}`);
  }
  if (loraB.length !== DOUT * R) {
    throw new ShapeError(`lora_B has ${loraB.length} values, expected [DOUT=${DOUT}, R=${R}] = ${DOUT * R}`);
  }
  const A: bigint[][] = [];
  for (let i = 0; i < DIN; i++) {
    const row: bigint[] = [];
    for (let k = 0; k < R; k++) row.push(quantize(loraA[k * DIN + i], fa));
    A.push(row);
  }
  const B: bigint[][] = [];
  for (let k = 0; k < R; k++) {
    const row: bigint[] = [];
    for (let j = 0; j < DOUT; j++) row.push(quantize(loraB[j * R + k], fb));
    B.push(row);
  }
  return { A, B };
}

/**
 * Quantizes activations x (rows of DIN numbers, at most T of them) into X (T x DIN), padding the
 * unused rows with zeros.
 */
export function quantizeActivations(
  x: readonly ArrayLike<number>[],
  T: number,
  DIN: number,
  fx: number = DEFAULT_SCALES.fx,
): bigint[][] {
  if (x.length > T) throw new ShapeError(`${x.length} activation rows exceed the shape's T = ${T}`);
  const X = quantizeMatrix([...x], x.length, DIN, fx);
  while (X.length < T) X.push(new Array<bigint>(DIN).fill(0n));
  return X;
}
