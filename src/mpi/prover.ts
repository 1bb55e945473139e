/**
 * Background proving: a bounded-concurrency queue of module proofs, one per answered call.
 * By default each proof runs in a prover process of the shared proving pool (src/zk/pool.ts), so
 * witness calculation and snarkjs never block the server's event loop while inference goes on.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import {
  buildChunkedCircuits,
  buildCircuit,
  proveChunkedModule,
  proveModule,
  toSolidityProof,
  type ChunkProof,
  type ChunkSalts,
  type ChunkedShape,
  type Groth16Proof,
} from "../zk/index.js";
import { ProvingPool, type ProvingPoolOptions } from "../zk/pool.js";
import type { ShapeRef } from "./types.js";
import { writeJsonAtomic } from "./types.js";
import type { ChunkProofJson, SolidityProofJson } from "./wire.js";

/** Everything one module proof needs. */
export interface ProofJob {
  dealId: bigint;
  module: number;
  shape: ShapeRef;
  A: bigint[][];
  B: bigint[][];
  salt: bigint;
  X: bigint[][];
  rho: bigint;
  /** The public signals the proof must carry: [C_m, hX, rho, fY]. */
  expected: [bigint, bigint, bigint, bigint];
  /** A chunked module: its chunked shape and chunk salts (then `salt` is unused). */
  chunked?: { shape: ChunkedShape; salts: ChunkSalts };
}

/** A finished proof. */
export interface ProofRecord {
  /** The snarkjs proof (v1); null for a chunked module. */
  proof: unknown;
  /** [C_m, hX, rho, fY] (decimal). */
  publicSignals: string[];
  /** Solidity verifier arguments (v1). */
  solidity?: SolidityProofJson;
  /** A chunked module's chain of chunk proofs. */
  chunks?: ChunkProofJson[];
  /** Seconds spent proving (without waiting in the queue). */
  seconds: number;
}

export type ProofState =
  | { status: "queued" }
  | { status: "proving" }
  | { status: "ready"; record: ProofRecord }
  | { status: "failed"; reason: string };

let shared: ProvingPool | null = null;

/**
 * The process-wide proving pool behind {@link proveJob}, made on first use (default options: as
 * many provers as cores, 75 % of free memory). Its idle provers do not keep the process alive;
 * {@link closeSharedProvingPool} ends them.
 */
export function sharedProvingPool(opts?: ProvingPoolOptions): ProvingPool {
  shared ??= new ProvingPool(opts);
  return shared;
}

/** Ends the shared pool's provers (the next {@link proveJob} makes a new pool). */
export async function closeSharedProvingPool(): Promise<void> {
  const p = shared;
  shared = null;
  await p?.close();
}

function record(proof: Groth16Proof, publicSignals: readonly bigint[], t0: number): ProofRecord {
  return {
    proof,
    publicSignals: publicSignals.map((s) => s.toString()),
    solidity: decimalStrings(toSolidityProof(proof)) as SolidityProofJson,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** The JSON form of a chain of chunk proofs (decimal strings, Solidity-ordered points). */
export function chunkProofsJson(proofs: readonly ChunkProof[]): ChunkProofJson[] {
  return proofs.map((c) => ({
    kind: c.kind,
    index: c.index,
    proof: c.proof,
    publicSignals: c.publicSignals.map(String),
    solidity: decimalStrings(toSolidityProof(c.proof)) as SolidityProofJson,
  }));
}

/**
 * A chunked module's chain for a call: builds (cached) the shape's two chunk circuits and proves
 * every chunk in `pool` (src/zk `proveChunkedModule`). Rejects when the chain's C_m, hX or fY are
 * not `expected`'s (the secrets or X are not the call's).
 */
export async function proveChunkedJob(
  job: ProofJob & { chunked: NonNullable<ProofJob["chunked"]> },
  pool?: ProvingPool,
): Promise<{ chunks: ChunkProof[]; seconds: number }> {
  const t0 = performance.now();
  const art = await buildChunkedCircuits(job.chunked.shape);
  const out = await proveChunkedModule(
    art,
    { A: job.A, B: job.B, X: job.X, salts: job.chunked.salts, rho: job.rho },
    { pool },
  );
  const [C_m, hX, , fY] = job.expected;
  const got = { C_m: out.C_m, hX: out.hX, fY: out.fY };
  for (const [k, want] of [
    ["C_m", C_m],
    ["hX", hX],
    ["fY", fY],
  ] as const) {
    if (got[k] !== want) {
      throw new Error(
        `the chunk chain of module ${job.module} gives ${k} ${got[k]}, the call has ${want}: the secrets or X are not the call's`,
      );
    }
  }
  return { chunks: out.proofs, seconds: (performance.now() - t0) / 1000 };
}

/**
 * The default prover: build (cached) the shape's circuit and prove the call's public signals
 * `job.expected` in a prover process of `pool` (default: the shared pool); a chunked module's
 * chain with every chunk in the pool. Rejects with WitnessError when the witness does not give
 * `job.expected`.
 */
export async function proveJob(job: ProofJob, pool: ProvingPool = sharedProvingPool()): Promise<ProofRecord> {
  if (job.chunked !== undefined) {
    const { chunks, seconds } = await proveChunkedJob({ ...job, chunked: job.chunked }, pool);
    return {
      proof: null,
      publicSignals: job.expected.map(String),
      chunks: chunkProofsJson(chunks),
      seconds,
    };
  }
  const t0 = performance.now();
  const art = await buildCircuit(job.shape);
  const out = await pool.prove(
    art,
    { A: job.A, B: job.B, salt: job.salt, X: job.X, rho: job.rho },
    { expected: job.expected },
  );
  return record(out.proof, out.publicSignals, t0);
}

/** The in-process prover (blocks the event loop during witness calculation and parts of proving). */
export async function proveJobInProcess(job: ProofJob): Promise<ProofRecord> {
  if (job.chunked !== undefined) {
    const { chunks, seconds } = await proveChunkedJob({ ...job, chunked: job.chunked });
    return { proof: null, publicSignals: job.expected.map(String), chunks: chunkProofsJson(chunks), seconds };
  }
  const t0 = performance.now();
  const art = await buildCircuit(job.shape);
  const { proof, publicSignals } = await proveModule(art, {
    A: job.A,
    B: job.B,
    salt: job.salt,
    X: job.X,
    rho: job.rho,
  });
  const want = job.expected;
  if (publicSignals.some((v, i) => v !== want[i])) {
    throw new Error(
      `public signals [${publicSignals.join(", ")}] differ from the call's [C_m, hX, rho, fY] = [${want.join(", ")}]`,
    );
  }
  return record(proof, publicSignals, t0);
}

/** Replaces every bigint in a nested array/object by its decimal string (JSON-safe). */
export function decimalStrings(v: unknown): unknown {
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return v.map(decimalStrings);
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decimalStrings(x)]));
  }
  return v;
}

/** The key of a proof: one per (deal, module, hX). */
export function proofKey(dealId: bigint, module: number, hX: bigint): string {
  return `${dealId}:${module}:${hX}`;
}

export class ProofQueue {
  private readonly states = new Map<string, ProofState>();
  private readonly waiting: { key: string; job: ProofJob }[] = [];
  private running = 0;
  private idleWaiters: (() => void)[] = [];

  /**
   * @param concurrency proofs at a time
   * @param prove the prover (default {@link proveJob}: the shared proving pool's processes)
   * @param proofDir also write each finished proof as JSON into this folder
   */
  constructor(
    private readonly concurrency = 1,
    private readonly prove: (job: ProofJob) => Promise<ProofRecord> = (job) => proveJob(job),
    private readonly proofDir?: string,
  ) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error("proof concurrency must be >= 1");
  }

  /** Queues a proof unless one for the same key is queued, running or done. */
  enqueue(job: ProofJob): string {
    const key = proofKey(job.dealId, job.module, job.expected[1]);
    const s = this.states.get(key);
    if (s !== undefined && s.status !== "failed") return key;
    this.states.set(key, { status: "queued" });
    this.waiting.push({ key, job });
    this.pump();
    return key;
  }

  get(key: string): ProofState | undefined {
    return this.states.get(key);
  }

  counts(): { queued: number; running: number; done: number; failed: number } {
    let done = 0;
    let failed = 0;
    for (const s of this.states.values()) {
      if (s.status === "ready") done++;
      else if (s.status === "failed") failed++;
    }
    return { queued: this.waiting.length, running: this.running, done, failed };
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.running === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops queued (not yet running) jobs. */
  clearQueued(): void {
    for (const { key } of this.waiting.splice(0)) {
      this.states.set(key, { status: "failed", reason: "server stopped before this proof started" });
    }
  }

  private pump(): void {
    while (this.running < this.concurrency && this.waiting.length > 0) {
      const { key, job } = this.waiting.shift()!;
      this.running++;
      this.states.set(key, { status: "proving" });
      void this.run(key, job);
    }
    if (this.running === 0 && this.waiting.length === 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private async run(key: string, job: ProofJob): Promise<void> {
    try {
      const record = await this.prove(job);
      if (this.proofDir !== undefined) {
        await mkdir(this.proofDir, { recursive: true });
        await writeJsonAtomic(path.join(this.proofDir, `${key.replaceAll(":", "-")}.json`), {
          dealId: job.dealId.toString(),
          module: job.module,
          shape: job.shape.name,
          ...record,
        });
      }
      this.states.set(key, { status: "ready", record });
    } catch (err) {
      this.states.set(key, { status: "failed", reason: (err as Error).message });
    } finally {
      this.running--;
      this.pump();
    }
  }
}
