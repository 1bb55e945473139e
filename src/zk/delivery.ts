/**
 * The delivery cipher and delivery proofs (circuits/README.md, "Delivery"), bit-identical to
 * circuits/delivery/*.circom.
 *
 * - Key: k, a uniformly random field element, fresh per (deal, module).
 * - Key hash: `hK = Poseidon([k])`, circomlib's Poseidon with t = 2 (what circomlibjs's
 *   `poseidonContract.createCode(1)` computes on-chain).
 * - Keystream, counter mode over the width-17 Poseidon permutation π of the sponge: block b is
 *   `π([k, KEYSTREAM_DOMAIN * 2^64 + b, 0, …, 0])[1..16]` (element 0 of the output is withheld).
 * - The plaintext is the commitment's element list `w = A || B || salt` (A, B row-major), and the
 *   ciphertext `c[i] = w[i] + ks[i] mod p`.
 * - Ciphertext hash: `hC = PoseidonSponge_3(c)`.
 * - A delivery proof shows, for public `[C_m, hK, hC]`, knowledge of A, B, salt, k with
 *   `PoseidonSponge_1(w) == C_m`, `Poseidon([k]) == hK`, `PoseidonSponge_3(w + ks(k)) == hC`.
 */
import { buildPoseidonOpt, type PoseidonOpt } from "circomlibjs";
import * as snarkjs from "snarkjs";
import type { DeliveryArtifacts, DeliveryShape } from "./delivery-build.js";
import { FieldError, ShapeError, WitnessError } from "./errors.js";
import { assertField, fromFieldSigned, toField } from "./field.js";
import { progressLogger, timed, type ProgressFn } from "./progress.js";
import { calculateWitness, type Groth16Proof } from "./prove.js";
import { SPONGE_RATE, randomSalt, spongeHash, weightCommitment } from "./sponge.js";
import { preparedVerifierFor } from "./verifier.js";

/** Domain of the keystream blocks: block b absorbs `KEYSTREAM_DOMAIN * 2^64 + b` in state[1]. */
export const KEYSTREAM_DOMAIN = 3n;
/** Sponge tag of the ciphertext hash hC. */
export const SPONGE_TAG_CIPHERTEXT = 3n;

/** The public signals of a delivery proof, in circuit order: [C_m, hK, hC]. */
export type DeliverySignals = [bigint, bigint, bigint];

/** The plaintext of one module: the quantized LoRA matrices and the commitment's salt. */
export interface ModuleWeights {
  /** DIN x R */
  A: bigint[][];
  /** R x DOUT */
  B: bigint[][];
  salt: bigint;
}

let poseidonPromise: Promise<PoseidonOpt> | undefined;
function poseidon(): Promise<PoseidonOpt> {
  poseidonPromise ??= buildPoseidonOpt();
  return poseidonPromise;
}

/** A fresh uniformly random delivery key (a field element; Web Crypto). */
export function randomDeliveryKey(): bigint {
  return randomSalt();
}

/** `hK = Poseidon([k])` (circomlib, t = 2). */
export async function deliveryKeyHash(k: bigint): Promise<bigint> {
  assertField(k, "delivery key k");
  const pos = await poseidon();
  return pos.F.toObject(pos([k], 0n, 1) as Uint8Array);
}

/** The first `n` keystream elements of key k. */
export async function keystream(k: bigint, n: number): Promise<bigint[]> {
  assertField(k, "delivery key k");
  if (!Number.isInteger(n) || n < 1)
    throw new FieldError(`keystream length must be a positive integer, got ${n}`);
  const pos = await poseidon();
  const out: bigint[] = [];
  for (let b = 0; out.length < n; b++) {
    const inputs: bigint[] = [KEYSTREAM_DOMAIN * 2n ** 64n + BigInt(b)];
    for (let i = 1; i < SPONGE_RATE; i++) inputs.push(0n);
    const state = pos(inputs, k, SPONGE_RATE + 1) as Uint8Array[];
    for (let i = 1; i <= SPONGE_RATE && out.length < n; i++) out.push(pos.F.toObject(state[i]));
  }
  return out;
}

/** The number of field elements of a module's plaintext / ciphertext: DIN·R + R·DOUT + 1. */
export function deliveryLength(DIN: number, R: number, DOUT: number): number {
  return DIN * R + R * DOUT + 1;
}

function checkWeights(w: ModuleWeights, dims?: { DIN: number; R: number; DOUT: number }): void {
  const { A, B } = w;
  if (!Array.isArray(A) || A.length === 0 || !Array.isArray(B) || B.length === 0)
    throw new ShapeError("A and B must be non-empty matrices");
  const R = A[0].length;
  if (
    dims !== undefined &&
    (A.length !== dims.DIN || R !== dims.R || B.length !== dims.R || B[0].length !== dims.DOUT)
  )
    throw new ShapeError(
      `weights are A ${A.length}x${R}, B ${B.length}x${B[0]?.length}; the delivery shape needs A ${dims.DIN}x${dims.R}, B ${dims.R}x${dims.DOUT}`,
    );
  if (A.some((r) => r.length !== R) || B.length !== R || B.some((r) => r.length !== B[0].length))
    throw new ShapeError("A must be DIN x R and B R x DOUT with the same R");
  if (typeof w.salt !== "bigint") throw new ShapeError("salt must be a bigint");
}

/** The plaintext element list `A || B || salt` as field elements (the commitment's order). */
export function weightElements(w: ModuleWeights): bigint[] {
  checkWeights(w);
  return [...w.A.flat(), ...w.B.flat(), w.salt].map(toField);
}

/** Encrypts a module's weights under k: `c[i] = w[i] + ks[i] mod p`. */
export async function encryptWeights(
  A: bigint[][],
  B: bigint[][],
  salt: bigint,
  k: bigint,
): Promise<bigint[]> {
  const w = weightElements({ A, B, salt });
  const ks = await keystream(k, w.length);
  return w.map((v, i) => toField(v + ks[i]));
}

/**
 * Decrypts a ciphertext of the shape (DIN, R, DOUT): A and B come back as signed integers (the
 * quantized weights), the salt as a field element in [0, p).
 */
export async function decryptWeights(
  ciphertext: readonly bigint[],
  k: bigint,
  DIN: number,
  R: number,
  DOUT: number,
): Promise<ModuleWeights> {
  const n = deliveryLength(DIN, R, DOUT);
  if (ciphertext.length !== n)
    throw new ShapeError(
      `a ciphertext of DIN=${DIN}, R=${R}, DOUT=${DOUT} has ${n} elements, got ${ciphertext.length}`,
    );
  ciphertext.forEach((c, i) => assertField(c, `ciphertext[${i}]`));
  const ks = await keystream(k, n);
  const w = ciphertext.map((c, i) => toField(c - ks[i]));
  const A: bigint[][] = [];
  for (let i = 0; i < DIN; i++) A.push(w.slice(i * R, (i + 1) * R).map(fromFieldSigned));
  const B: bigint[][] = [];
  for (let r = 0; r < R; r++)
    B.push(w.slice(DIN * R + r * DOUT, DIN * R + (r + 1) * DOUT).map(fromFieldSigned));
  return { A, B, salt: w[n - 1] };
}

/** `hC = PoseidonSponge_3(c)`. */
export async function ciphertextHash(c: readonly bigint[]): Promise<bigint> {
  c.forEach((v, i) => assertField(v, `ciphertext[${i}]`));
  return spongeHash(c, SPONGE_TAG_CIPHERTEXT);
}

/** The public signals `[C_m, hK, hC]` and the ciphertext an honest contributor publishes. */
export async function deliveryStatement(
  w: ModuleWeights,
  k: bigint,
): Promise<{ signals: DeliverySignals; ciphertext: bigint[] }> {
  checkWeights(w);
  const ciphertext = await encryptWeights(w.A, w.B, w.salt, k);
  return {
    signals: [
      await weightCommitment(w.A, w.B, w.salt),
      await deliveryKeyHash(k),
      await ciphertextHash(ciphertext),
    ],
    ciphertext,
  };
}

const dec = (v: bigint) => toField(v).toString();

/** The delivery circuit's input object (decimal strings). */
export function deliveryCircuitInput(
  w: ModuleWeights,
  k: bigint,
  signals: DeliverySignals,
): Record<string, string | string[][]> {
  return {
    C_m: dec(signals[0]),
    hK: dec(signals[1]),
    hC: dec(signals[2]),
    A: w.A.map((r) => r.map(dec)),
    B: w.B.map((r) => r.map(dec)),
    salt: dec(w.salt),
    k: dec(k),
  };
}

/**
 * Encrypts a module's weights under k and proves the delivery statement. Returns the proof, the
 * public signals `[C_m, hK, hC]` and the ciphertext to publish.
 */
export async function proveDelivery(
  art: DeliveryArtifacts,
  w: ModuleWeights,
  k: bigint,
  opts: { onProgress?: ProgressFn } = {},
): Promise<{ proof: Groth16Proof; publicSignals: DeliverySignals; ciphertext: bigint[] }> {
  checkWeights(w, art.shape);
  assertField(k, "delivery key k");
  const { signals, ciphertext } = await deliveryStatement(w, k);
  const wtns = await timed(opts.onProgress, `${art.name}: witness`, () =>
    calculateWitness(art, deliveryCircuitInput(w, k, signals)),
  );
  const { proof, publicSignals } = await timed(opts.onProgress, `${art.name}: prove`, () =>
    snarkjs.groth16.prove(art.zkey, { type: "mem", data: wtns }, progressLogger(opts.onProgress, "prove")),
  );
  const got = publicSignals.map((s) => BigInt(s));
  if (got.length !== 3 || got.some((v, i) => v !== signals[i])) {
    throw new WitnessError(
      `the delivery circuit's public signals [${publicSignals.join(", ")}] differ from the statement`,
    );
  }
  return { proof: proof as Groth16Proof, publicSignals: signals, ciphertext };
}

/**
 * Verifies a delivery proof off-chain against a delivery verification key (cached prepared
 * verifier, as verifyModule).
 */
export async function verifyDelivery(
  vkey: object,
  proof: Groth16Proof,
  publicSignals: readonly (bigint | string)[],
): Promise<boolean> {
  if (publicSignals.length !== 3) return false;
  return (await preparedVerifierFor(vkey)).verify(proof, publicSignals);
}

/** The delivery shape a module's weights need (checks that the dims are positive). */
export function weightDims(w: ModuleWeights): Pick<DeliveryShape, "DIN" | "R" | "DOUT"> {
  checkWeights(w);
  return { DIN: w.A.length, R: w.A[0].length, DOUT: w.B[0].length };
}
