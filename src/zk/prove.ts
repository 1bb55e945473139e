/** Witness building, proving and verifying one module proof (public signals [C_m, hX, rho, fY]). */
import * as snarkjs from "snarkjs";
import type { CircuitArtifacts } from "./build.js";
import { ShapeError, WitnessError } from "./errors.js";
import { assertField, toField } from "./field.js";
import { progressLogger, timed, type ProgressFn } from "./progress.js";
import type { Shape } from "./shape.js";
import { activationHash, weightCommitment } from "./sponge.js";
import { fingerprint, loraProduct } from "./statement.js";
import { preparedVerifierFor } from "./verifier.js";

/** A snarkjs Groth16 proof (decimal strings, projective coordinates). */
export interface Groth16Proof {
  pi_a: [string, string, string];
  pi_b: [[string, string], [string, string], [string, string]];
  pi_c: [string, string, string];
  protocol: "groth16";
  curve: "bn128";
}

/** The public signals of a module proof, in circuit order: [C_m, hX, rho, fY]. */
export type PublicSignals = [bigint, bigint, bigint, bigint];

/** The prover's private inputs plus the challenge rho. */
export interface ModuleWitness {
  /** DIN x R */
  A: bigint[][];
  /** R x DOUT */
  B: bigint[][];
  salt: bigint;
  /** T x DIN (unused rows zero) */
  X: bigint[][];
  rho: bigint;
}

/** Checks that `M` is a `rows` x `cols` matrix of bigints; throws ShapeError naming `what`. */
export function checkMatrix(
  M: readonly (readonly bigint[])[],
  rows: number,
  cols: number,
  what: string,
): void {
  if (!Array.isArray(M) || M.length !== rows) {
    throw new ShapeError(`${what} must have ${rows} rows, got ${Array.isArray(M) ? M.length : typeof M}`);
  }
  for (let r = 0; r < rows; r++) {
    if (!Array.isArray(M[r]) || M[r].length !== cols) {
      throw new ShapeError(`${what} row ${r} must have ${cols} entries, got ${M[r]?.length}`);
    }
    for (const v of M[r]) if (typeof v !== "bigint") throw new ShapeError(`${what} entries must be bigints`);
  }
}

/** Checks that a witness fits a shape (A DIN x R, B R x DOUT, X T x DIN); throws ShapeError. */
export function checkWitnessShape(shape: Shape, w: ModuleWitness): void {
  checkMatrix(w.A, shape.DIN, shape.R, `A (DIN x R for shape ${shape.name})`);
  checkMatrix(w.B, shape.R, shape.DOUT, `B (R x DOUT for shape ${shape.name})`);
  checkMatrix(w.X, shape.T, shape.DIN, `X (T x DIN for shape ${shape.name})`);
  if (typeof w.salt !== "bigint") throw new ShapeError("salt must be a bigint");
  assertField(w.rho, "rho");
}

/** The public signals an honest prover claims for a witness, computed in TypeScript. */
export async function moduleStatement(w: ModuleWitness): Promise<PublicSignals> {
  const C_m = await weightCommitment(w.A, w.B, w.salt);
  const hX = await activationHash(w.X);
  const fY = fingerprint(loraProduct(w.X, w.A, w.B), w.rho);
  return [C_m, hX, toField(w.rho), fY];
}

const dec = (v: bigint) => toField(v).toString();

/** The circuit's input object (decimal strings, signed values taken mod p). */
export function circuitInput(w: ModuleWitness, pub: PublicSignals): Record<string, string | string[][]> {
  return {
    C_m: dec(pub[0]),
    hX: dec(pub[1]),
    rho: dec(pub[2]),
    fY: dec(pub[3]),
    A: w.A.map((r) => r.map(dec)),
    B: w.B.map((r) => r.map(dec)),
    salt: dec(w.salt),
    X: w.X.map((r) => r.map(dec)),
  };
}

/**
 * Computes the witness for a circuit input (in memory). Throws WitnessError when the input does
 * not satisfy the circuit (circom's witness generator checks every `===`).
 */
export async function calculateWitness(
  art: Pick<CircuitArtifacts, "wasm">,
  input: Record<string, unknown>,
): Promise<Uint8Array> {
  const wtns: { type: "mem"; data?: Uint8Array } = { type: "mem" };
  try {
    await snarkjs.wtns.calculate(input, art.wasm, wtns);
  } catch (err) {
    throw new WitnessError(
      `the inputs do not satisfy the circuit: ${(err as Error).message.split("\n")[0]}`,
      {
        cause: err,
      },
    );
  }
  if (wtns.data === undefined) throw new WitnessError("witness calculation produced no data");
  return wtns.data;
}

/** Checks a witness (wtns bytes) against the circuit's r1cs constraint by constraint. */
export async function checkWitness(art: Pick<CircuitArtifacts, "r1cs">, wtns: Uint8Array): Promise<boolean> {
  const silent = { log: () => {}, debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
  return snarkjs.wtns.check(art.r1cs, { type: "mem", data: wtns }, silent);
}

/**
 * Proves one module: checks the witness's shape, computes the public signals in TypeScript, runs
 * the circuit's witness generator and snarkjs's Groth16 prover.
 */
export async function proveModule(
  art: CircuitArtifacts,
  w: ModuleWitness,
  opts: { onProgress?: ProgressFn } = {},
): Promise<{ proof: Groth16Proof; publicSignals: PublicSignals }> {
  checkWitnessShape(art.shape, w);
  const pub = await moduleStatement(w);
  const wtns = await timed(opts.onProgress, `${art.shape.name}: witness`, () =>
    calculateWitness(art, circuitInput(w, pub)),
  );
  const { proof, publicSignals } = await timed(opts.onProgress, `${art.shape.name}: prove`, () =>
    snarkjs.groth16.prove(art.zkey, { type: "mem", data: wtns }, progressLogger(opts.onProgress, "prove")),
  );
  const got = publicSignals.map((s) => BigInt(s));
  if (got.length !== 4 || got.some((v, i) => v !== pub[i])) {
    throw new WitnessError(
      `the circuit's public signals [${publicSignals.join(", ")}] differ from the statement`,
    );
  }
  return { proof: proof as Groth16Proof, publicSignals: pub };
}

/**
 * Verifies a module proof off-chain against a verification key, with the cached prepared
 * verifier of src/zk/verifier.ts (one final exponentiation, no worker threads; stricter than
 * snarkjs only where the EVM is too: coordinates below q, pi_b in G2).
 * `verifyGroth16Snarkjs` keeps stock snarkjs verification for parity checks.
 */
export async function verifyModule(
  vkey: object,
  proof: Groth16Proof,
  publicSignals: readonly (bigint | string)[],
): Promise<boolean> {
  if (publicSignals.length !== 4) return false;
  return (await preparedVerifierFor(vkey)).verify(proof, publicSignals);
}

/** A Solidity verifier's proof arguments (`verifyProof(a, b, c, pubSignals)`): pi_b pairs swapped. */
export interface SolidityProof {
  a: [bigint, bigint];
  b: [[bigint, bigint], [bigint, bigint]];
  c: [bigint, bigint];
}

/** Converts a snarkjs proof into the generated Solidity verifier's arguments. */
export function toSolidityProof(proof: Groth16Proof): SolidityProof {
  const b = (s: string) => BigInt(s);
  return {
    a: [b(proof.pi_a[0]), b(proof.pi_a[1])],
    b: [
      [b(proof.pi_b[0][1]), b(proof.pi_b[0][0])],
      [b(proof.pi_b[1][1]), b(proof.pi_b[1][0])],
    ],
    c: [b(proof.pi_c[0]), b(proof.pi_c[1])],
  };
}
