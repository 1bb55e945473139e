/**
 * Exact constraint counts of the project's circuits (circom2 0.2.23, `--O2`), derived from the
 * templates in circuits/ and checked against every compiled r1cs (test/zk/cost.test.ts, and the
 * benchmark `npm run bench` asserts it for each shape it compiles).
 *
 * Where the counts come from:
 * - circomlib's `PoseidonEx(16, 17)` (width 17: 8 full rounds, 68 partial rounds, x^5 S-boxes of
 *   3 constraints each) costs 8·17·3 + 68·3 = 612 constraints per permutation;
 * - `--O2` folds every S-box of the FIRST round whose input is a compile-time constant: the sponge's
 *   initial capacity `tag·2^64 + n` (3 constraints saved per sponge) and, for a one-block sponge,
 *   its zero padding (3 per padded lane); a keystream block has only its key lane non-constant
 *   (16 lanes · 3 = 48 saved per block);
 * - `MatVec(N, M)` is N·M products, minus the products with the constant `rho^0 = 1`;
 *   `Powers(n)` is n − 2 products; sums are linear and vanish under `--O2`.
 *
 * Also: models of the levers of issue #5 (packing range-checked values before hashing, splitting a
 * statement into 2^16-constraint chunk proofs). These are MODELS of circuits that do not exist in
 * this repository; they reuse the exact sponge count but their range-check cost is an estimate.
 */
import { ShapeError } from "./errors.js";
import { requiredPower } from "./ptau.js";
import type { Shape } from "./shape.js";
import { SPONGE_RATE } from "./sponge.js";

/** Constraints of one circomlib Poseidon permutation of width 17 (`PoseidonEx(16, 17)`). */
export const POSEIDON_T17_CONSTRAINTS = 612;
/** Constraints of circomlib's `Poseidon(1)` (width 2) with a constant capacity lane. */
export const POSEIDON_T2_CONSTRAINTS = 213;
/** Constraints of one S-box (x^5): x², x⁴, x⁵. */
const SBOX = 3;
/** Public inputs of a module proof (C_m, hX, rho, fY). */
export const MODULE_PUBLIC_INPUTS = 4;
/** Public inputs of a delivery proof (C_m, hK, hC). */
export const DELIVERY_PUBLIC_INPUTS = 3;
/** Usable bits of a BN254 scalar field element for packing (p ≈ 2^253.6). */
export const PACKABLE_BITS = 253;

type Dims = Pick<Shape, "T" | "DIN" | "R" | "DOUT">;

function checkDims(s: Dims): void {
  for (const k of ["T", "DIN", "R", "DOUT"] as const) {
    if (!Number.isInteger(s[k]) || s[k] < 1) {
      throw new ShapeError(`constraint model: ${k} must be a positive integer, got ${s[k]}`);
    }
  }
}

function checkCount(n: number, what: string): void {
  if (!Number.isInteger(n) || n < 1) throw new ShapeError(`${what} must be a positive integer, got ${n}`);
}

/** Permutations a sponge over n elements runs: ⌈n / 16⌉. */
export function spongeBlocks(n: number): number {
  checkCount(n, "sponge length");
  return Math.ceil(n / SPONGE_RATE);
}

/** Exact constraints of `PoseidonSponge(n, tag)` (circuits/sponge.circom) under `--O2`. */
export function spongeConstraints(n: number): number {
  const blocks = spongeBlocks(n);
  const constantLanes = 1 + (blocks === 1 ? SPONGE_RATE - n : 0);
  return blocks * POSEIDON_T17_CONSTRAINTS - SBOX * constantLanes;
}

/** Exact constraints of `LoraFingerprint(T, DIN, R, DOUT)` (circuits/fingerprint.circom). */
export function fingerprintConstraints(s: Dims): number {
  checkDims(s);
  const powers = (n: number) => Math.max(0, n - 2);
  return (
    powers(s.DOUT + 1) + // rho^0 .. rho^DOUT
    powers(s.T) + // (rho^DOUT)^0 .. ^(T-1)
    s.R * (s.DOUT - 1) + // B · pw (the j = 0 column times the constant 1 is linear)
    s.DIN * s.R + // A · b
    s.T * s.DIN + // X · a
    (s.T - 1) // rowPw · c (t = 0 times the constant 1 is linear)
  );
}

/** The split of a module circuit's constraints. */
export interface ConstraintBreakdown {
  /** Weight elements hashed into C_m: DIN·R + R·DOUT + 1 (salt). */
  weightElements: number;
  /** Activation elements hashed into hX: T·DIN. */
  inputElements: number;
  /** `PoseidonSponge_1(A‖B‖salt)`. */
  weightHash: number;
  /** `PoseidonSponge_2(X)`. */
  inputHash: number;
  /** `LoraFingerprint`. */
  fingerprint: number;
  total: number;
  /** Smallest powers-of-tau exponent snarkjs's groth16 setup accepts for this circuit. */
  ptauPower: number;
}

/** Exact constraints of `LoraModule(T, DIN, R, DOUT)` (circuits/lora_module.circom) under `--O2`. */
export function constraintModel(s: Dims): ConstraintBreakdown {
  checkDims(s);
  const weightElements = s.DIN * s.R + s.R * s.DOUT + 1;
  const inputElements = s.T * s.DIN;
  const weightHash = spongeConstraints(weightElements);
  const inputHash = spongeConstraints(inputElements);
  const fingerprint = fingerprintConstraints(s);
  const total = weightHash + inputHash + fingerprint;
  return {
    weightElements,
    inputElements,
    weightHash,
    inputHash,
    fingerprint,
    total,
    ptauPower: requiredPower(total, MODULE_PUBLIC_INPUTS, 0),
  };
}

/**
 * Exact constraints of `LoraDelivery(DIN, R, DOUT)` (circuits/delivery/lora_delivery.circom):
 * commitment sponge + keystream (one permutation per 16 elements, 16 constant lanes folded) +
 * ciphertext sponge + `Poseidon(1)`.
 */
export function deliveryConstraintModel(s: Pick<Shape, "DIN" | "R" | "DOUT">): number {
  checkDims({ T: 1, ...s });
  const n = s.DIN * s.R + s.R * s.DOUT + 1;
  const keystream = spongeBlocks(n) * (POSEIDON_T17_CONSTRAINTS - SBOX * SPONGE_RATE);
  return 2 * spongeConstraints(n) + keystream + POSEIDON_T2_CONSTRAINTS;
}

/** The levers' model of a module circuit whose hashed values are packed before hashing. */
export interface PackedModel {
  bits: number;
  /** Values per field element: ⌊253 / bits⌋. */
  valuesPerElement: number;
  /** Range checks (bits per value) + sponge over the packed elements, weights and activations. */
  hashing: number;
  /** Unchanged fingerprint. */
  fingerprint: number;
  total: number;
  /** Constraints per hashed value (range check + its share of the sponge). */
  perValue: number;
  ptauPower: number;
}

/**
 * MODEL (no such circuit exists here): every weight and activation value range-checked to `bits`
 * bits (`Num2Bits`, `bits` constraints, the signed offset is linear), packed ⌊253/bits⌋ per field
 * element (linear), then hashed by the same sponges. 16 bits: ≈ 18.5 constraints per value;
 * 8 bits: ≈ 9.2. The salt stays one full element.
 */
export function packedHashModel(s: Dims, bits: number): PackedModel {
  checkDims(s);
  if (!Number.isInteger(bits) || bits < 1 || bits > PACKABLE_BITS) {
    throw new ShapeError(`packing width must be an integer in [1, ${PACKABLE_BITS}] bits, got ${bits}`);
  }
  const k = Math.floor(PACKABLE_BITS / bits);
  const weights = s.DIN * s.R + s.R * s.DOUT;
  const inputs = s.T * s.DIN;
  const hashing =
    (weights + inputs) * bits +
    spongeConstraints(Math.ceil(weights / k) + 1) +
    spongeConstraints(Math.ceil(inputs / k));
  const fingerprint = fingerprintConstraints(s);
  const total = hashing + fingerprint;
  return {
    bits,
    valuesPerElement: k,
    hashing,
    fingerprint,
    total,
    perValue: hashing / (weights + inputs),
    ptauPower: requiredPower(total, MODULE_PUBLIC_INPUTS, 0),
  };
}

/** The chunking model of a statement too large for one proof. */
export interface ChunkModel {
  power: number;
  /** Constraints one chunk circuit can hold after its linking overhead. */
  perChunk: number;
  chunks: number;
}

/**
 * MODEL, a lower bound: chunk proofs of at most 2^power constraints each (snarkjs needs
 * constraints + public inputs + 1 ≤ 2^power), each chunk carrying the sponge states it resumes and
 * ends with as 2·17 public inputs plus the 4 statement signals, and one permutation of linking
 * overhead (hashing its intermediate state). Real splits pay more (duplicated fingerprint terms).
 */
export function chunkProofsModel(totalConstraints: number, power = 16): ChunkModel {
  checkCount(totalConstraints, "total constraints");
  const publicInputs = MODULE_PUBLIC_INPUTS + 2 * (SPONGE_RATE + 1);
  const perChunk = 2 ** power - 1 - publicInputs - POSEIDON_T17_CONSTRAINTS;
  if (perChunk < 1) throw new ShapeError(`2^${power} leaves no room for a chunk`);
  return { power, perChunk, chunks: Math.ceil(totalConstraints / perChunk) };
}

/** Public inputs of an A chunk (hA, hX, rho, Lin, Lout). */
export const CHUNK_A_PUBLIC_INPUTS = 5;
/** Public inputs of a B chunk (hB, rho, Lin, Lout, fIn, fOut). */
export const CHUNK_B_PUBLIC_INPUTS = 6;

/** The dims of a chunked shape (no name needed). */
export type ChunkDims = Dims & { WA: number; WB: number };

/** Exact constraints of `ChunkLink(R)` (circuits/chunk/link.circom); `pwConstant`: the A chunks' pw = 1 lane folds. */
export function chunkLinkConstraints(R: number, pwConstant: boolean): number {
  checkCount(R, "R");
  return spongeConstraints(R + 2) - (pwConstant && R < SPONGE_RATE ? SBOX : 0);
}

/** Exact constraints of `PowConst(e)` (circuits/chunk/pow_const.circom): (bits − 1) squarings + (popcount − 1) products. */
export function powConstConstraints(e: number): number {
  checkCount(e, "exponent");
  const bits = e.toString(2);
  return bits.length - 1 + ([...bits].filter((b) => b === "1").length - 1);
}

/** One chunk kind's constraints. */
export interface ChunkKindBreakdown {
  /** Weight chunk sponge (tag 4). */
  weightHash: number;
  /** Activation chunk sponge (tag 5; A chunks only, 0 for B). */
  inputHash: number;
  /** The two link sponges (tag 6). */
  links: number;
  /** Products of the fingerprint part (powers, xr, u or f). */
  arithmetic: number;
  total: number;
  publicInputs: number;
  ptauPower: number;
}

/** The chunked variant's cost for a shape. */
export interface ChunkConstraintModel {
  a: ChunkKindBreakdown;
  b: ChunkKindBreakdown;
  /** A chunks DIN / WA, B chunks DOUT / WB, proofs KA + KB. */
  KA: number;
  KB: number;
  chunks: number;
  /** KA · a.total + KB · b.total. */
  total: number;
}

/**
 * Exact constraints of `LoraChunkA(T, WA, R, DOUT)` and `LoraChunkB(R, WB)` (circuits/chunk/) under
 * `--O2`, checked against the tiny shape's r1cs (test/zk/cost.test.ts) and every chunk r1cs the
 * chunked benchmark compiles:
 *   A = S(WA·R + 1) + S(T·WA) + 2·link(R, pw const) + powConst(DOUT) + max(0, T − 2) + (T − 1)·WA + WA·R,
 *   B = S(R·WB + 1) + 2·link(R) + WB + R·WB + R.
 */
export function chunkConstraintModel(s: ChunkDims): ChunkConstraintModel {
  checkDims(s);
  for (const k of ["WA", "WB"] as const) checkCount(s[k], k);
  if (s.DIN % s.WA !== 0) throw new ShapeError(`WA = ${s.WA} must divide DIN = ${s.DIN}`);
  if (s.DOUT % s.WB !== 0) throw new ShapeError(`WB = ${s.WB} must divide DOUT = ${s.DOUT}`);
  const aW = spongeConstraints(s.WA * s.R + 1);
  const aX = spongeConstraints(s.T * s.WA);
  const aL = 2 * chunkLinkConstraints(s.R, true);
  const aM = powConstConstraints(s.DOUT) + Math.max(0, s.T - 2) + (s.T - 1) * s.WA + s.WA * s.R;
  const aT = aW + aX + aL + aM;
  const bW = spongeConstraints(s.R * s.WB + 1);
  const bL = 2 * chunkLinkConstraints(s.R, false);
  const bM = s.WB + s.R * s.WB + s.R;
  const bT = bW + bL + bM;
  const KA = s.DIN / s.WA;
  const KB = s.DOUT / s.WB;
  return {
    a: {
      weightHash: aW,
      inputHash: aX,
      links: aL,
      arithmetic: aM,
      total: aT,
      publicInputs: CHUNK_A_PUBLIC_INPUTS,
      ptauPower: requiredPower(aT, CHUNK_A_PUBLIC_INPUTS, 0),
    },
    b: {
      weightHash: bW,
      inputHash: 0,
      links: bL,
      arithmetic: bM,
      total: bT,
      publicInputs: CHUNK_B_PUBLIC_INPUTS,
      ptauPower: requiredPower(bT, CHUNK_B_PUBLIC_INPUTS, 0),
    },
    KA,
    KB,
    chunks: KA + KB,
    total: KA * aT + KB * bT,
  };
}

/**
 * The largest chunk widths (WA dividing DIN, WB dividing DOUT) whose chunk circuits fit a
 * 2^power ptau (fewest proofs); throws ShapeError when even width 1 does not fit.
 */
export function chooseChunkWidths(
  s: Dims,
  power = 16,
): { WA: number; WB: number; model: ChunkConstraintModel } {
  checkDims(s);
  const divisors = (n: number) => Array.from({ length: n }, (_, i) => n - i).filter((d) => n % d === 0);
  const WA = divisors(s.DIN).find(
    (wa) => chunkConstraintModel({ ...s, WA: wa, WB: s.DOUT }).a.ptauPower <= power,
  );
  const WB = divisors(s.DOUT).find(
    (wb) => chunkConstraintModel({ ...s, WA: s.DIN, WB: wb }).b.ptauPower <= power,
  );
  if (WA === undefined || WB === undefined) {
    throw new ShapeError(
      `no chunk width of T=${s.T}, DIN=${s.DIN}, R=${s.R}, DOUT=${s.DOUT} fits 2^${power} (${WA === undefined ? "A" : "B"} chunks too large even at width 1)`,
    );
  }
  return { WA, WB, model: chunkConstraintModel({ ...s, WA, WB }) };
}
