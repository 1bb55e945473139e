/**
 * The chunked variant (circuits/README.md "Chunked module proofs", ARCHITECTURE.md "Chunked
 * variant"): one LoRA module proven as a chain of K = DIN/WA + DOUT/WB small Groth16 proofs,
 * bit-identical to circuits/chunk/*.circom.
 *
 * - Weight chunk hashes (salted, hiding): `hA_c = Sponge_4(A[c·WA .. c·WA+WA-1] row-major || saltA_c)`,
 *   `hB_d = Sponge_4(B[0..R-1][d·WB .. d·WB+WB-1] row-major || saltB_d)`.
 * - Activation chunk hashes (unsalted): `hXc_c = Sponge_5(X[·][c·WA .. c·WA+WA-1] column-major)`.
 * - `C_m = keccak256(hA_0‖…‖hA_{KA-1}‖hB_0‖…‖hB_{KB-1}) mod p`, `hX = keccak256(hXc_0‖…) mod p`
 *   (32-byte big-endian words, `abi.encodePacked`).
 * - Links `L(u, pw, blind) = Sponge_6(u ‖ pw ‖ blind)`; `L0 = L(0…0, 1, 0)`.
 * - A chunk c: `u += xrᵀ·A_c` with `xr[i] = Σ_t ρ^(DOUT·t)·X[t][i]`; B chunk d: `f += Σ_k u[k]·Σ_j pw_j·B[k][j]`,
 *   `pw_j = ρ^(d·WB + j)`. The last B chunk's `fOut` is the module's fingerprint fY of statement.ts.
 */
import { concat, keccak256, toBeHex } from "ethers";
import * as snarkjs from "snarkjs";
import {
  CHUNK_A_SIGNALS,
  CHUNK_B_SIGNALS,
  chunkCounts,
  validateChunkedShape,
  type ChunkedArtifacts,
  type ChunkedShape,
} from "./chunk-build.js";
import { FieldError, ShapeError, WitnessError } from "./errors.js";
import { P, assertField, powMod, toField } from "./field.js";
import type { ProvingPool } from "./pool.js";
import { progressLogger, type ProgressFn } from "./progress.js";
import {
  calculateWitness,
  checkMatrix,
  toSolidityProof,
  type Groth16Proof,
  type SolidityProof,
} from "./prove.js";
import { randomSalt, spongeHash } from "./sponge.js";
import { preparedVerifierFor } from "./verifier.js";

/** Sponge tag of a weight chunk hash (hA_c, hB_d). */
export const SPONGE_TAG_WEIGHT_CHUNK = 4n;
/** Sponge tag of an activation chunk hash (hXc_c). */
export const SPONGE_TAG_ACTIVATION_CHUNK = 5n;
/** Sponge tag of a link value L(u, pw, blind). */
export const SPONGE_TAG_LINK = 6n;

/** One salt per weight chunk: `a[c]` for A chunk c, `b[d]` for B chunk d. */
export interface ChunkSalts {
  a: bigint[];
  b: bigint[];
}

/** The prover's private inputs of one chunked module plus the challenge rho. */
export interface ChunkedWitness {
  /** DIN x R */
  A: bigint[][];
  /** R x DOUT */
  B: bigint[][];
  /** T x DIN */
  X: bigint[][];
  salts: ChunkSalts;
  rho: bigint;
}

/** The module-level public values a chunk chain is checked against. */
export interface ChunkedSignals {
  C_m: bigint;
  hX: bigint;
  rho: bigint;
  fY: bigint;
}

/**
 * One chunk proof. publicSignals in circuit order: A `[hA, hX, rho, Lin, Lout]`,
 * B `[hB, rho, Lin, Lout, fIn, fOut]`.
 */
export interface ChunkProof {
  kind: "A" | "B";
  /** c for A chunks, d for B chunks. */
  index: number;
  proof: Groth16Proof;
  publicSignals: bigint[];
}

/** A chunk proof with its points in the Solidity verifier's argument order (src/chain `ChunkProofInput`). */
export interface SolidityChunkProof {
  kind: "A" | "B";
  index: number;
  proof: SolidityProof;
  publicSignals: bigint[];
}

/** A chain's proofs with Solidity-ordered points, as src/chain `chunkCalldata` / `submitChunked` take them. */
export function solidityChunks(proofs: readonly ChunkProof[]): SolidityChunkProof[] {
  return proofs.map((c) => ({
    kind: c.kind,
    index: c.index,
    proof: toSolidityProof(c.proof),
    publicSignals: c.publicSignals,
  }));
}

/** One chunk's circuit input and the public signals it gives (from {@link chunkedWitness}). */
export interface ChunkInput {
  kind: "A" | "B";
  index: number;
  input: Record<string, unknown>;
  publicSignals: bigint[];
}

/** Everything an honest prover derives from a witness: module signals, chunk hashes and chunk inputs. */
export interface ChunkedStatement {
  C_m: bigint;
  hX: bigint;
  fY: bigint;
  hA: bigint[];
  hB: bigint[];
  hXc: bigint[];
  /** A chunks 0..KA-1, then B chunks 0..KB-1. */
  chunks: ChunkInput[];
}

const dec = (v: bigint) => toField(v).toString();
const mod = (v: bigint) => ((v % P) + P) % P;

function checkSalts(salts: ChunkSalts, s: ChunkedShape): void {
  const { KA, KB } = chunkCounts(s);
  if (typeof salts !== "object" || salts === null || !Array.isArray(salts.a) || !Array.isArray(salts.b)) {
    throw new ShapeError("salts must be { a: bigint[], b: bigint[] } (randomChunkSalts(shape))");
  }
  if (salts.a.length !== KA || salts.b.length !== KB) {
    throw new ShapeError(
      `shape ${s.name} needs ${KA} A-chunk salts and ${KB} B-chunk salts, got ${salts.a.length} and ${salts.b.length}`,
    );
  }
  for (const v of [...salts.a, ...salts.b])
    if (typeof v !== "bigint") throw new ShapeError("salts must be bigints");
}

/** `uint256(keccak256(abi.encodePacked(uint256[] words))) mod p`. */
export function keccakFieldOfWords(words: readonly bigint[]): bigint {
  if (words.length === 0) throw new FieldError("keccakFieldOfWords: no words");
  for (const w of words) {
    if (typeof w !== "bigint" || w < 0n || w >= 2n ** 256n)
      throw new FieldError(`keccakFieldOfWords: ${String(w)} is not a uint256`);
  }
  return BigInt(keccak256(concat(words.map((w) => toBeHex(w, 32))))) % P;
}

/** A link value `L(u, pw, blind) = PoseidonSponge_6(u ‖ pw ‖ blind)`. */
export async function linkHash(u: readonly bigint[], pw: bigint, blind: bigint): Promise<bigint> {
  if (u.length < 1) throw new ShapeError("linkHash: u must have R >= 1 entries");
  return spongeHash([...u, pw, blind], SPONGE_TAG_LINK);
}

const linkStarts = new Map<number, Promise<bigint>>();
/** The chain's public start value `L0 = L(0, …, 0, 1, 0)` for rank R. */
export function linkStart(R: number): Promise<bigint> {
  if (!Number.isInteger(R) || R < 1)
    return Promise.reject(new ShapeError(`R must be a positive integer, got ${R}`));
  let v = linkStarts.get(R);
  if (v === undefined) {
    v = linkHash(new Array<bigint>(R).fill(0n), 1n, 0n);
    linkStarts.set(R, v);
  }
  return v;
}

/** Fresh random salts (Web Crypto), one per weight chunk. */
export function randomChunkSalts(s: ChunkedShape): ChunkSalts {
  const { KA, KB } = chunkCounts(s);
  return {
    a: Array.from({ length: KA }, () => randomSalt()),
    b: Array.from({ length: KB }, () => randomSalt()),
  };
}

function aChunk(A: readonly bigint[][], s: ChunkedShape, c: number): bigint[][] {
  return A.slice(c * s.WA, (c + 1) * s.WA).map((r) => [...r]);
}
function bChunk(B: readonly bigint[][], s: ChunkedShape, d: number): bigint[][] {
  return B.map((r) => r.slice(d * s.WB, (d + 1) * s.WB));
}
function xChunk(X: readonly bigint[][], s: ChunkedShape, c: number): bigint[][] {
  return X.map((r) => r.slice(c * s.WA, (c + 1) * s.WA));
}
/** X chunk column-major: for i in the chunk's columns, for t < T: X[t][i]. */
function columnMajor(Xc: readonly bigint[][]): bigint[] {
  const out: bigint[] = [];
  for (let i = 0; i < (Xc[0]?.length ?? 0); i++) for (const row of Xc) out.push(row[i]);
  return out;
}

/** The weight chunk hashes and `C_m = keccak(hA ‖ hB) mod p`. */
export async function chunkedCommitment(
  A: bigint[][],
  B: bigint[][],
  salts: ChunkSalts,
  shape: ChunkedShape,
): Promise<{ C_m: bigint; hA: bigint[]; hB: bigint[] }> {
  const s = validateChunkedShape(shape);
  checkMatrix(A, s.DIN, s.R, `A (DIN x R for ${s.name})`);
  checkMatrix(B, s.R, s.DOUT, `B (R x DOUT for ${s.name})`);
  checkSalts(salts, s);
  const { KA, KB } = chunkCounts(s);
  const hA: bigint[] = [];
  for (let c = 0; c < KA; c++)
    hA.push(await spongeHash([...aChunk(A, s, c).flat(), salts.a[c]], SPONGE_TAG_WEIGHT_CHUNK));
  const hB: bigint[] = [];
  for (let d = 0; d < KB; d++)
    hB.push(await spongeHash([...bChunk(B, s, d).flat(), salts.b[d]], SPONGE_TAG_WEIGHT_CHUNK));
  return { C_m: keccakFieldOfWords([...hA, ...hB]), hA, hB };
}

/** The activation chunk hashes and `hX = keccak(hXc) mod p`. */
export async function chunkedActivationHash(
  X: bigint[][],
  shape: ChunkedShape,
): Promise<{ hX: bigint; hXc: bigint[] }> {
  const s = validateChunkedShape(shape);
  checkMatrix(X, s.T, s.DIN, `X (T x DIN for ${s.name})`);
  const { KA } = chunkCounts(s);
  const hXc: bigint[] = [];
  for (let c = 0; c < KA; c++)
    hXc.push(await spongeHash(columnMajor(xChunk(X, s, c)), SPONGE_TAG_ACTIVATION_CHUNK));
  return { hX: keccakFieldOfWords(hXc), hXc };
}

/** A fresh uniformly random 254-bit-range field element for a link's blind (Web Crypto). */
function randomBlind(): bigint {
  return randomSalt();
}

/**
 * An honest prover's whole chain for a witness: the module signals, the chunk hashes and each
 * chunk's circuit input with the public signals it gives. Every link but L0 gets a fresh random
 * blind, so two calls give different links.
 */
export async function chunkedWitness(shape: ChunkedShape, w: ChunkedWitness): Promise<ChunkedStatement> {
  const s = validateChunkedShape(shape);
  checkMatrix(w.A, s.DIN, s.R, `A (DIN x R for ${s.name})`);
  checkMatrix(w.B, s.R, s.DOUT, `B (R x DOUT for ${s.name})`);
  checkMatrix(w.X, s.T, s.DIN, `X (T x DIN for ${s.name})`);
  checkSalts(w.salts, s);
  assertField(w.rho, "rho");
  const { KA, KB } = chunkCounts(s);
  const rho = w.rho;
  const { C_m, hA, hB } = await chunkedCommitment(w.A, w.B, w.salts, s);
  const { hX, hXc } = await chunkedActivationHash(w.X, s);
  const rhoD = powMod(rho, BigInt(s.DOUT));
  const rowPw: bigint[] = [];
  for (let t = 0, p = 1n; t < s.T; t++, p = (p * rhoD) % P) rowPw.push(p);

  const chunks: ChunkInput[] = [];
  let u = new Array<bigint>(s.R).fill(0n);
  let blind = 0n;
  let L = await linkStart(s.R);
  for (let c = 0; c < KA; c++) {
    const Ac = aChunk(w.A, s, c);
    const Xc = xChunk(w.X, s, c);
    const uOut = [...u];
    for (let i = 0; i < s.WA; i++) {
      let xr = 0n;
      for (let t = 0; t < s.T; t++) xr += rowPw[t] * mod(Xc[t][i]);
      xr %= P;
      for (let k = 0; k < s.R; k++) uOut[k] = (uOut[k] + xr * mod(Ac[i][k])) % P;
    }
    const blindOut = randomBlind();
    const Lout = await linkHash(uOut, 1n, blindOut);
    chunks.push({
      kind: "A",
      index: c,
      input: {
        hA: dec(hA[c]),
        hX: dec(hXc[c]),
        rho: dec(rho),
        Lin: dec(L),
        Lout: dec(Lout),
        A: Ac.map((r) => r.map(dec)),
        saltA: dec(w.salts.a[c]),
        X: Xc.map((r) => r.map(dec)),
        uIn: u.map(dec),
        blindIn: dec(blind),
        blindOut: dec(blindOut),
      },
      publicSignals: [hA[c], hXc[c], rho, L, Lout],
    });
    u = uOut;
    blind = blindOut;
    L = Lout;
  }
  let f = 0n;
  let pIn = 1n;
  const rhoWB = powMod(rho, BigInt(s.WB));
  for (let d = 0; d < KB; d++) {
    const Bd = bChunk(w.B, s, d);
    let fOut = f;
    for (let k = 0; k < s.R; k++) {
      let bk = 0n;
      for (let j = 0, pw = pIn; j < s.WB; j++, pw = (pw * rho) % P) bk += pw * mod(Bd[k][j]);
      fOut = (fOut + (bk % P) * u[k]) % P;
    }
    const pOut = (pIn * rhoWB) % P;
    const blindOut = randomBlind();
    const Lout = await linkHash(u, pOut, blindOut);
    chunks.push({
      kind: "B",
      index: d,
      input: {
        hB: dec(hB[d]),
        rho: dec(rho),
        Lin: dec(L),
        Lout: dec(Lout),
        fIn: dec(f),
        fOut: dec(fOut),
        B: Bd.map((r) => r.map(dec)),
        saltB: dec(w.salts.b[d]),
        u: u.map(dec),
        pIn: dec(pIn),
        blindIn: dec(blind),
        blindOut: dec(blindOut),
      },
      publicSignals: [hB[d], rho, L, Lout, f, fOut],
    });
    f = fOut;
    pIn = pOut;
    blind = blindOut;
    L = Lout;
  }
  return { C_m, hX, fY: f, hA, hB, hXc, chunks };
}

/** Timing of one chunk proof. */
export interface ChunkTiming {
  kind: "A" | "B";
  index: number;
  witnessMs: number;
  proveMs: number;
  /** Time waiting in the proving pool's queue (0 in-process). */
  queuedMs: number;
}

/** Options of {@link proveChunkedModule}. */
export interface ProveChunkedOptions {
  /** Prove the chunks in this pool's prover processes, in parallel as cores and memory allow. */
  pool?: ProvingPool;
  onProgress?: ProgressFn;
}

/** What {@link proveChunkedModule} returns. */
export interface ChunkedModuleProof {
  /** A chunks 0..KA-1, then B chunks 0..KB-1. */
  proofs: ChunkProof[];
  C_m: bigint;
  hX: bigint;
  fY: bigint;
  hA: bigint[];
  hB: bigint[];
  hXc: bigint[];
  timings: ChunkTiming[];
}

async function proveInProcess(
  circuit: { name: string; wasm: string; zkey: string },
  ch: ChunkInput,
  onProgress?: ProgressFn,
): Promise<{ proof: Groth16Proof; witnessMs: number; proveMs: number }> {
  let t = performance.now();
  const wtns = await calculateWitness(circuit, ch.input);
  const witnessMs = performance.now() - t;
  t = performance.now();
  const { proof, publicSignals } = await snarkjs.groth16.prove(
    circuit.zkey,
    { type: "mem", data: wtns },
    progressLogger(onProgress, "prove"),
  );
  const proveMs = performance.now() - t;
  const got = publicSignals.map((v) => BigInt(v));
  if (got.length !== ch.publicSignals.length || got.some((v, i) => v !== ch.publicSignals[i])) {
    throw new WitnessError(
      `the ${circuit.name} circuit's public signals [${publicSignals.join(", ")}] differ from chunk ${ch.kind}${ch.index}'s statement`,
    );
  }
  return { proof: proof as Groth16Proof, witnessMs, proveMs };
}

/**
 * Proves one module as a chain of chunk proofs (A chunks, then B chunks) with fresh random link
 * blinds. With a pool, every chunk goes to it at once (they are independent once the chain's
 * values are computed) and runs in parallel as far as cores and memory allow; otherwise the chunks
 * are proven in this process one after another. Also checks that the chain's fY equals the
 * monolithic fingerprint's value (the caller can compare with statement.ts `fingerprint`).
 */
export async function proveChunkedModule(
  art: ChunkedArtifacts,
  w: ChunkedWitness,
  opts: ProveChunkedOptions = {},
): Promise<ChunkedModuleProof> {
  const st = await chunkedWitness(art.shape, w);
  const circuitOf = (kind: "A" | "B") => (kind === "A" ? art.a : art.b);
  const K = st.chunks.length;
  let done = 0;
  const one = async (ch: ChunkInput): Promise<{ p: ChunkProof; t: ChunkTiming }> => {
    const c = circuitOf(ch.kind);
    const circuit = { name: c.name, wasm: c.wasm, zkey: c.zkey };
    let proof: Groth16Proof;
    let witnessMs: number;
    let proveMs: number;
    let queuedMs = 0;
    if (opts.pool !== undefined) {
      const r = await opts.pool.proveInput(circuit, ch.input, ch.publicSignals);
      ({ proof, witnessMs, proveMs, queuedMs } = r);
    } else {
      ({ proof, witnessMs, proveMs } = await proveInProcess(circuit, ch, opts.onProgress));
    }
    done++;
    opts.onProgress?.(
      `${art.shape.name}: chunk ${ch.kind}${ch.index} proven (${done}/${K}, witness ${witnessMs.toFixed(0)} ms, prove ${proveMs.toFixed(0)} ms)`,
    );
    return {
      p: { kind: ch.kind, index: ch.index, proof, publicSignals: [...ch.publicSignals] },
      t: { kind: ch.kind, index: ch.index, witnessMs, proveMs, queuedMs },
    };
  };
  let results: { p: ChunkProof; t: ChunkTiming }[];
  if (opts.pool !== undefined) {
    results = await Promise.all(st.chunks.map(one));
  } else {
    results = [];
    for (const ch of st.chunks) results.push(await one(ch));
  }
  return {
    proofs: results.map((r) => r.p),
    C_m: st.C_m,
    hX: st.hX,
    fY: st.fY,
    hA: st.hA,
    hB: st.hB,
    hXc: st.hXc,
    timings: results.map((r) => r.t),
  };
}

/** The outcome of {@link checkChunkedModule}: why a chain was rejected. */
export type ChunkedVerifyOutcome = { ok: true } | { ok: false; reason: string };

/**
 * Checks a chain of chunk proofs against a module's public values, every rule of the chunked
 * variant: K = KA + KB proofs in order (A 0..KA-1, then B 0..KB-1); every public signal a field
 * element; every rho = the entry's rho; A_0.Lin = L0; proof i's Lout = proof i+1's Lin; B_0.fIn = 0,
 * B_d.fOut = B_{d+1}.fIn, B_last.fOut = fY; keccak(hA ‖ hB) mod p = C_m; keccak(hXc) mod p = hX; and
 * every proof verifies with its kind's key (one random-linear-combination batch per kind, then
 * proof by proof to name a failure). Never throws on untrusted proofs or signals.
 */
export async function checkChunkedModule(
  art: ChunkedArtifacts,
  signals: ChunkedSignals,
  proofs: readonly ChunkProof[],
): Promise<ChunkedVerifyOutcome> {
  const s = art.shape;
  const { KA, KB } = chunkCounts(s);
  const K = KA + KB;
  const fail = (reason: string): ChunkedVerifyOutcome => ({ ok: false, reason });
  for (const [k, v] of Object.entries(signals)) {
    if (typeof v !== "bigint" || v < 0n || v >= P) return fail(`module signal ${k} is not a field element`);
  }
  if (!Array.isArray(proofs) || proofs.length !== K) {
    return fail(
      `expected ${K} chunk proofs (${KA} A, then ${KB} B), got ${Array.isArray(proofs) ? proofs.length : 0}`,
    );
  }
  for (let i = 0; i < K; i++) {
    const p = proofs[i];
    const kind = i < KA ? "A" : "B";
    const index = i < KA ? i : i - KA;
    if (p?.kind !== kind || p.index !== index) {
      return fail(`proof ${i} must be chunk ${kind}${index}, got ${String(p?.kind)}${String(p?.index)}`);
    }
    const n = kind === "A" ? CHUNK_A_SIGNALS.length : CHUNK_B_SIGNALS.length;
    if (!Array.isArray(p.publicSignals) || p.publicSignals.length !== n) {
      return fail(`chunk ${kind}${index} must have ${n} public signals`);
    }
    for (const v of p.publicSignals) {
      if (typeof v !== "bigint" || v < 0n || v >= P)
        return fail(`chunk ${kind}${index} has a public signal that is not a field element`);
    }
  }
  const sig = (i: number, name: string): bigint => {
    const names: readonly string[] = i < KA ? CHUNK_A_SIGNALS : CHUNK_B_SIGNALS;
    return proofs[i].publicSignals[names.indexOf(name)];
  };
  const label = (i: number) => (i < KA ? `A${i}` : `B${i - KA}`);
  for (let i = 0; i < K; i++) {
    if (sig(i, "rho") !== signals.rho) return fail(`chunk ${label(i)}'s rho is not the module's rho`);
  }
  if (sig(0, "Lin") !== (await linkStart(s.R))) return fail("chunk A0's Lin is not the start value L0");
  for (let i = 0; i + 1 < K; i++) {
    if (sig(i, "Lout") !== sig(i + 1, "Lin"))
      return fail(`broken link: chunk ${label(i)}'s Lout is not chunk ${label(i + 1)}'s Lin`);
  }
  if (sig(KA, "fIn") !== 0n) return fail("chunk B0's fIn is not 0");
  for (let i = KA; i + 1 < K; i++) {
    if (sig(i, "fOut") !== sig(i + 1, "fIn"))
      return fail(`broken fingerprint chain: chunk ${label(i)}'s fOut is not chunk ${label(i + 1)}'s fIn`);
  }
  if (sig(K - 1, "fOut") !== signals.fY) return fail(`the last chunk's fOut is not the module's fY`);
  const hA = proofs.slice(0, KA).map((_, i) => sig(i, "hA"));
  const hB = proofs.slice(KA).map((_, d) => sig(KA + d, "hB"));
  if (keccakFieldOfWords([...hA, ...hB]) !== signals.C_m)
    return fail("the chunks' weight hashes do not give the module's C_m");
  const hXc = proofs.slice(0, KA).map((_, i) => sig(i, "hX"));
  if (keccakFieldOfWords(hXc) !== signals.hX)
    return fail("the A chunks' activation hashes do not give the module's hX");

  for (const [kind, lo, hi, vkey] of [
    ["A", 0, KA, art.a.vkey],
    ["B", KA, K, art.b.vkey],
  ] as const) {
    const v = await preparedVerifierFor(vkey);
    const ps = proofs.slice(lo, hi);
    let ok: boolean;
    try {
      ok = v.verifyBatch(
        ps.map((p) => p.proof),
        ps.map((p) => p.publicSignals),
      );
    } catch {
      ok = false;
    }
    if (!ok) {
      for (let i = lo; i < hi; i++) {
        const r = v.check(proofs[i].proof, proofs[i].publicSignals);
        if (!r.ok) return fail(`chunk ${label(i)}'s proof does not verify with the ${kind} key: ${r.reason}`);
      }
      return fail(`the ${kind} chunks' batch verification failed`);
    }
  }
  return { ok: true };
}

/** True iff the chain of chunk proofs proves the module's `[C_m, hX, rho, fY]` ({@link checkChunkedModule}). */
export async function verifyChunkedModule(
  art: ChunkedArtifacts,
  signals: ChunkedSignals,
  proofs: readonly ChunkProof[],
): Promise<boolean> {
  return (await checkChunkedModule(art, signals, proofs)).ok;
}
