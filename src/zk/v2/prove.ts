/**
 * Proving one v2 module (PROTOCOL.md, "The circuit per shape"): the circuit input from the
 * opening and the buyer's fold, the witness, snarkjs's Groth16 prover (in this process or in a
 * prover process of the proving pool), and a local verification under the deal key's δ' before
 * the proof is released.
 *
 * snarkjs's `publicSignals` hold w and salt: they are never returned or published. What leaves is
 * the proof (A, B, C); the contract recomputes vk_x from rho, fY, D_X and W_m.
 */
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import * as snarkjs from "snarkjs";
import { ShapeError, WitnessError } from "../errors.js";
import { P, toField } from "../field.js";
import { timed, type ProgressFn } from "../progress.js";
import type { ProvingPool } from "../pool.js";
import type { Groth16Proof } from "../verifier.js";
import { calculateWitness } from "../witness.js";
import { weightVector, type ModuleOpening } from "./commit.js";
import { deltaOf } from "./delta.js";
import type { G2Point, OnchainKey, ShapeKey } from "./key.js";
import { V2Verifier, type V2Statement } from "./verify.js";

/** What the prover needs of the buyer's entry. */
export interface FoldInput {
  rho: bigint;
  fY: bigint;
  /** The fold x (DIN field elements). */
  x: readonly bigint[];
}

/** The circuit's input object: rho, fY, x, w, salt as decimal strings. */
export function v2CircuitInput(
  key: ShapeKey,
  fold: FoldInput,
  o: ModuleOpening,
): Record<string, string | string[]> {
  const { DIN } = key.shape;
  if (fold.x.length !== DIN) throw new ShapeError(`the fold has ${fold.x.length} entries, DIN = ${DIN}`);
  for (const v of [fold.rho, fold.fY, ...fold.x]) {
    if (v < 0n || v >= P) throw new ShapeError("rho, fY and the fold must be field elements");
  }
  return {
    rho: fold.rho.toString(),
    fY: fold.fY.toString(),
    x: fold.x.map((v) => v.toString()),
    w: weightVector(key.shape, o).map((v) => toField(v).toString()),
    salt: o.salt.toString(),
  };
}

/** The full public inputs in circuit order (what stock snarkjs verifies against; never publish them). */
export function v2PublicInputs(key: ShapeKey, fold: FoldInput, o: ModuleOpening): bigint[] {
  return [fold.rho, fold.fY, ...fold.x, ...weightVector(key.shape, o).map(toField), o.salt];
}

/** A module proof and its timings. */
export interface V2Proof {
  proof: Groth16Proof;
  witnessMs: number;
  proveMs: number;
  verifyMs: number;
}

/** Options of {@link proveV2}. */
export interface ProveV2Options {
  /** Prove in a prover process of this pool instead of this process. */
  pool?: ProvingPool;
  onProgress?: ProgressFn;
}

/** Deal keys up to this size stay in memory between proofs (the last one used only). */
const ZKEY_MEMO_MAX_BYTES = 256 * 2 ** 20;

/** The last deal key proved with: its file's identity, its bytes and its δ'. */
let zkeyMemo: { id: string; data: Uint8Array | undefined; delta2: G2Point } | undefined;

/** What identifies a file's content here: path, device, inode, size, modification and change times. */
async function fileId(file: string): Promise<{ id: string; size: bigint }> {
  const s = await stat(file, { bigint: true });
  return { id: [path.resolve(file), s.dev, s.ino, s.size, s.mtimeNs, s.ctimeNs].join("\0"), size: s.size };
}

/**
 * The deal key for snarkjs (`inProcess`: its bytes, else its path) and its δ': successive proofs
 * with the same, unchanged file (a deal's modules of one shape) read it once instead of once per
 * proof (25 MB for distilgpt2 c_attn).
 */
async function dealKeySource(
  dealZkey: string,
  inProcess: boolean,
): Promise<{ zkey: string | { type: "mem"; data: Uint8Array }; delta2: G2Point }> {
  const before = await fileId(dealZkey);
  let memo = zkeyMemo?.id === before.id ? zkeyMemo : undefined;
  const wantData = inProcess && before.size <= ZKEY_MEMO_MAX_BYTES;
  if (memo === undefined || (wantData && memo.data === undefined)) {
    const data = wantData ? await readFile(dealZkey) : undefined;
    const { delta2 } = await deltaOf(dealZkey);
    // memoize only what was read from one version of the file
    if ((await fileId(dealZkey)).id !== before.id) return { zkey: dealZkey, delta2 };
    memo = zkeyMemo = { id: before.id, data, delta2 };
  }
  const { data, delta2 } = memo;
  return { zkey: inProcess && data !== undefined ? { type: "mem", data } : dealZkey, delta2 };
}

/** The verifier of the last (shape key, δ') a proof was checked against. */
let verifierMemo: { key: OnchainKey; delta2: string; verifier: Promise<V2Verifier> } | undefined;

function verifierFor(key: OnchainKey, delta2: G2Point): Promise<V2Verifier> {
  const d = delta2.join(",");
  if (verifierMemo?.key !== key || verifierMemo.delta2 !== d) {
    const verifier = V2Verifier.create(key, delta2);
    verifier.catch(() => (verifierMemo = undefined));
    verifierMemo = { key, delta2: d, verifier };
  }
  return verifierMemo.verifier;
}

/**
 * Proves one module with a deal key (`dealZkey`: the buyer's key for this deal and shape, already
 * checked with checkDeltaUpdate) and verifies the proof locally against the statement the contract
 * will check. Throws WitnessError when the opening and the fold do not satisfy the circuit (the
 * outputs were not X·A·B), and WitnessError when the proof does not verify (never releases it).
 */
export async function proveV2(
  key: ShapeKey,
  dealZkey: string,
  fold: FoldInput,
  o: ModuleOpening,
  st: Pick<V2Statement, "D_X" | "W_m">,
  opts: ProveV2Options = {},
): Promise<V2Proof> {
  const input = v2CircuitInput(key, fold, o);
  const deal = await dealKeySource(dealZkey, opts.pool === undefined);
  let proof: Groth16Proof;
  let witnessMs: number;
  let proveMs: number;
  if (opts.pool !== undefined) {
    const r = await opts.pool.proveInput(
      { name: key.name, wasm: key.wasm, zkey: dealZkey },
      input,
      v2PublicInputs(key, fold, o),
    );
    proof = r.proof;
    witnessMs = r.witnessMs;
    proveMs = r.proveMs;
  } else {
    let t = performance.now();
    const wtns = await timed(opts.onProgress, `${key.name}: witness`, () => calculateWitness(key, input));
    witnessMs = performance.now() - t;
    t = performance.now();
    const out = await timed(opts.onProgress, `${key.name}: prove`, () =>
      snarkjs.groth16.prove(deal.zkey, { type: "mem", data: wtns }),
    );
    proveMs = performance.now() - t;
    proof = out.proof as Groth16Proof;
  }
  const t = performance.now();
  const verifier = await verifierFor(key.onchain, deal.delta2);
  const ok = await verifier.check(proof, { rho: fold.rho, fY: fold.fY, ...st });
  const verifyMs = performance.now() - t;
  if (!ok.ok)
    throw new WitnessError(
      `${key.name}: the proof does not verify against the statement (${ok.reason}); not released`,
    );
  return { proof, witnessMs, proveMs, verifyMs };
}
