/**
 * Proof jobs: one Groth16 proof of one adapter module of one deal, as a durable job.
 *
 * A job's id is `<chainId>-<escrow>-<dealId>-<module>` (the escrow lower-case; BullMQ refuses `:` in
 * ids), so enqueueing the same module twice is a no-op. Its payload holds everything a prover on
 * ANOTHER machine needs and nothing it must fetch from the chain: the shape (dimensions and ptau),
 * W_m, the module's opening (the contributor's secret A, B and salt), the buyer's fold of the rows
 * (rho, fY, x, D_X, recomputed and checked against the chain by the coordinator), and the deal key
 * by file name and keccak-256 (the prover finds it in its keys folder and refuses another file).
 *
 * States: `queued` → `running` → `done` (the result, stored once) or back to `queued` (a retryable
 * failure, e.g. the prover process died) or `failed` (a permanent failure, or the attempts
 * exhausted; `reason` says why). `attempts` counts the starts.
 *
 * Two queues implement {@link ProofJobQueue}:
 * - {@link SqliteProofJobs} (default, this file): a table in the contributor's SQLite file
 *   (`<workspace>/server.sqlite`), proved by this machine's proving pool;
 * - `RedisProofJobs` (`./jobs-redis.ts`, loaded only when used): BullMQ over Redis, proved by
 *   `zklora:worker` processes on any machine.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createKeccak } from "hash-wasm";
import { ShapeError, WitnessError } from "../zk/errors.js";
import type { ProvingPool } from "../zk/pool.js";
import { PoolClosedError } from "../zk/pool.js";
import type { ProgressFn } from "../zk/progress.js";
import {
  buildShapeKey,
  deltaOf,
  proveV2,
  toSolidityProofV2,
  type ModuleOpening,
  type ShapeKey,
} from "../zk/v2/index.js";
import { transaction, openDatabase, type DatabaseSync } from "./db.js";
import { MpiError } from "./errors.js";

// ---------------------------------------------------------------- types

/** A proof job's state. */
export type ProofJobState = "queued" | "running" | "done" | "failed";

/** What a prover needs to prove one module (all values JSON: decimal strings for field elements). */
export interface ProofJobPayload {
  /** {@link proofJobId} of (chainId, escrow, dealId, module). */
  id: string;
  chainId: string;
  escrow: string;
  dealId: string;
  module: number;
  /** The v2 shape and the ptau its key comes from (`dev`, or a public ptau's file name). */
  shape: { name: string; DIN: number; R: number; DOUT: number; ptau: string };
  shapeId: string;
  /** The shape key's hash (the registered verifier's): a prover deriving another key refuses. */
  keyHash: string;
  /** The buyer's deal key of the shape: a file name in the prover's keys folder and its keccak-256. */
  dealKey: { file: string; keccak: string };
  /** W_m, on-chain. */
  wM: [string, string];
  /** The buyer's fold of the module's rows: rho, fY, x (DIN entries), and its commitment D_X. */
  fold: { rho: string; fY: string; x: string[]; dX: [string, string] };
  /** SECRET: the module's quantized A (DIN x R), B (R x DOUT) and salt. */
  opening: { A: string[][]; B: string[][]; salt: string };
}

/** A finished proof: the claim the contract checks, the proof (EIP-197 order), the deal key's δ'. */
export interface ProofJobResult {
  claim: {
    module: number;
    shapeId: string;
    wM: [string, string];
    rho: string;
    fY: string;
    dX: [string, string];
  };
  proof: { a: [string, string]; b: [string, string, string, string]; c: [string, string] };
  delta: [string, string, string, string];
  /** Who proved it (`host:pid`) and how long the proof took (ms). */
  worker: string;
  ms: number;
}

/** A job as the queue holds it. */
export interface ProofJobRecord {
  id: string;
  state: ProofJobState;
  /** Starts so far (a start whose process died counts). */
  attempts: number;
  maxAttempts: number;
  /** The last failure (set when failed; kept while a retry is queued). */
  reason: string | null;
  /** Set when done. */
  result: ProofJobResult | null;
}

/** Options of {@link ProofJobQueue.enqueue}. */
export interface EnqueueOptions {
  /** A job that failed before is queued again with fresh attempts (a new run of zklora:prove does). */
  retryFailed?: boolean;
}

/**
 * A durable queue of proof jobs. `enqueue` is idempotent by job id and refuses with
 * {@link QueueFullError} when `capacity` jobs are queued or running; `wait` resolves once every
 * given job is done or failed.
 */
export interface ProofJobQueue {
  readonly kind: "sqlite" | "redis";
  readonly capacity: number;
  readonly maxAttempts: number;
  enqueue(payload: ProofJobPayload, opts?: EnqueueOptions): Promise<ProofJobRecord>;
  get(id: string): Promise<ProofJobRecord | undefined>;
  /** Resolves when no job is queued or running, or (`ids`) when these jobs are settled. */
  wait(ids: readonly string[], onSettled?: (r: ProofJobRecord) => void): Promise<ProofJobRecord[]>;
  /** Jobs queued or running now (back-pressure). */
  pending(): Promise<number>;
  close(): Promise<void>;
}

/** Proves one job (a {@link proofJobProver}). */
export type ProveJob = (payload: ProofJobPayload) => Promise<ProofJobResult>;

// ---------------------------------------------------------------- errors

/** A proof job cannot be proven (permanent: retrying gives the same answer) or the queue refuses. */
export class ProofJobError extends MpiError {
  constructor(
    code: string,
    message: string,
    readonly permanent = true,
  ) {
    super(code, message);
  }
}

/** enqueue refused: `capacity` jobs are queued or running (back-pressure: wait for some to finish). */
export class QueueFullError extends ProofJobError {
  constructor(
    readonly capacity: number,
    readonly pending: number,
  ) {
    super(
      "queue_full",
      `the proof job queue is full (${pending} jobs queued or running, capacity ${capacity}): wait for jobs to finish or raise the capacity`,
      false,
    );
  }
}

/** Some jobs of a run ended `failed`: lists each module and its reason. */
export class ProofJobsFailedError extends ProofJobError {
  constructor(readonly failed: readonly ProofJobRecord[]) {
    super(
      "proof_jobs_failed",
      `${failed.length} proof job(s) failed: ${failed
        .map((r) => `module ${r.id.split("-").pop()} after ${r.attempts} attempt(s): ${r.reason}`)
        .join("; ")}`,
    );
  }
}

/**
 * Whether a failure is worth another attempt: a dead or failing prover process is; a deal key that
 * is missing or another file, a key of another ptau, inputs the circuit rejects are not.
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof ProofJobError) return !err.permanent;
  if (err instanceof WitnessError || err instanceof ShapeError) return false;
  return true;
}

// ---------------------------------------------------------------- ids and payloads

/** The job id of a deal's module: `<chainId>-<escrow lower-case>-<dealId>-<module>`. */
export function proofJobId(o: {
  chainId: bigint | string;
  escrow: string;
  dealId: bigint | string;
  module: number;
}): string {
  return `${o.chainId}-${o.escrow.toLowerCase()}-${o.dealId}-${o.module}`;
}

/** keccak-256 of a file, streamed (a deal key may be hundreds of MB). */
export async function keccakFile(file: string): Promise<string> {
  const h = await createKeccak(256);
  h.init();
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 22 })) h.update(chunk as Buffer);
  return `0x${h.digest("hex")}`;
}

/** The payload in canonical JSON (fixed key order): what two enqueues of the same job compare. */
export function payloadJson(p: ProofJobPayload): string {
  return JSON.stringify({
    id: p.id,
    chainId: p.chainId,
    escrow: p.escrow,
    dealId: p.dealId,
    module: p.module,
    shape: { name: p.shape.name, DIN: p.shape.DIN, R: p.shape.R, DOUT: p.shape.DOUT, ptau: p.shape.ptau },
    shapeId: p.shapeId,
    keyHash: p.keyHash,
    dealKey: { file: p.dealKey.file, keccak: p.dealKey.keccak },
    wM: p.wM,
    fold: p.fold,
    opening: p.opening,
  });
}

/** Checks a payload's form (a job from Redis comes from another process). */
export function parsePayload(v: unknown): ProofJobPayload {
  const p = v as ProofJobPayload;
  const dec = (x: unknown) => typeof x === "string" && /^-?[0-9]+$/.test(x);
  const ok =
    p !== null &&
    typeof p === "object" &&
    typeof p.id === "string" &&
    dec(p.chainId) &&
    typeof p.escrow === "string" &&
    dec(p.dealId) &&
    Number.isSafeInteger(p.module) &&
    p.shape !== null &&
    typeof p.shape === "object" &&
    typeof p.shape.ptau === "string" &&
    typeof p.shapeId === "string" &&
    typeof p.keyHash === "string" &&
    typeof p.dealKey?.file === "string" &&
    path.basename(p.dealKey.file) === p.dealKey.file &&
    /^0x[0-9a-f]{64}$/.test(p.dealKey.keccak ?? "") &&
    Array.isArray(p.wM) &&
    p.wM.every(dec) &&
    dec(p.fold?.rho) &&
    dec(p.fold?.fY) &&
    Array.isArray(p.fold?.x) &&
    p.fold.x.every(dec) &&
    Array.isArray(p.fold?.dX) &&
    p.fold.dX.every(dec) &&
    Array.isArray(p.opening?.A) &&
    Array.isArray(p.opening?.B) &&
    dec(p.opening?.salt);
  if (!ok) throw new ProofJobError("bad_job", "the proof job's payload is malformed");
  if (p.id !== proofJobId(p))
    throw new ProofJobError("bad_job", `the proof job's id ${p.id} does not name its deal and module`);
  return p;
}

/** This process as a worker name: `host:pid`. */
export function workerName(): string {
  return `${os.hostname()}:${process.pid}`;
}

// ---------------------------------------------------------------- the prover

/** Options of {@link proofJobProver}. */
export interface ProofJobProverOptions {
  /**
   * Where deal keys lie: a folder holding each job's `dealKey.file`, or a function from that file
   * name to a path (the coordinator maps them to the files it checked).
   */
  keys: string | ((file: string) => string | undefined);
  /** The public ptau file of shapes whose `ptau` is not `dev` (its file name must match). */
  ptau?: string;
  /** Prove in its prover processes (default: in this process). */
  pool?: ProvingPool;
  onProgress?: ProgressFn;
}

/**
 * A function that proves jobs on this machine: derives the shape key (cached by content, checked
 * against the job's keyHash), finds the deal key and checks its keccak-256, proves (proveV2 verifies
 * the proof under the deal key's δ' before returning it). Throws a permanent ProofJobError for a
 * missing or wrong deal key or shape key.
 */
export function proofJobProver(opts: ProofJobProverOptions): ProveJob {
  const shapeKeys = new Map<string, Promise<ShapeKey>>();
  const hashes = new Map<string, { size: number; mtimeMs: number; keccak: Promise<string> }>();
  const shapeKey = (p: ProofJobPayload): Promise<ShapeKey> => {
    const s = p.shape;
    let ptau: string | undefined;
    if (s.ptau !== "dev") {
      if (opts.ptau === undefined)
        throw new ProofJobError(
          "ptau_missing",
          `job ${p.id}: shape ${s.name} uses the public ptau ${s.ptau}: give the worker its file (--ptau)`,
        );
      if (path.basename(opts.ptau) !== path.basename(s.ptau))
        throw new ProofJobError(
          "ptau_mismatch",
          `job ${p.id}: shape ${s.name} uses the ptau ${s.ptau}, the worker has ${path.basename(opts.ptau)}`,
        );
      ptau = opts.ptau;
    }
    const k = `${s.DIN}x${s.R}x${s.DOUT}:${ptau ?? "dev"}`;
    let key = shapeKeys.get(k);
    if (key === undefined) {
      key = buildShapeKey({ DIN: s.DIN, R: s.R, DOUT: s.DOUT }, { ptau, onProgress: opts.onProgress });
      shapeKeys.set(k, key);
      key.catch(() => shapeKeys.delete(k));
    }
    return key;
  };
  const dealKey = async (p: ProofJobPayload): Promise<string> => {
    const file =
      typeof opts.keys === "string" ? path.join(opts.keys, p.dealKey.file) : opts.keys(p.dealKey.file);
    const missing = () =>
      new ProofJobError(
        "deal_key_missing",
        `job ${p.id}: the deal key ${p.dealKey.file} is not in ${typeof opts.keys === "string" ? opts.keys : "the workspace"}: copy the buyer's deal keys there`,
      );
    if (file === undefined) throw missing();
    const st = await stat(file).catch(() => {
      throw missing();
    });
    let h = hashes.get(file);
    if (h === undefined || h.size !== st.size || h.mtimeMs !== st.mtimeMs) {
      h = { size: st.size, mtimeMs: st.mtimeMs, keccak: keccakFile(file) };
      hashes.set(file, h);
    }
    const got = await h.keccak;
    if (got !== p.dealKey.keccak)
      throw new ProofJobError(
        "deal_key_mismatch",
        `job ${p.id}: ${file} has keccak-256 ${got}, the job's deal key ${p.dealKey.keccak}: another file; copy the buyer's deal key again`,
      );
    return file;
  };
  return async (payload) => {
    const p = parsePayload(payload);
    const t0 = performance.now();
    const key = await shapeKey(p);
    if (key.keyHash !== p.keyHash || key.shapeId !== p.shapeId)
      throw new ProofJobError(
        "shape_key_mismatch",
        `job ${p.id}: the shape key derived here has hash ${key.keyHash}, the job's ${p.keyHash} (another ptau or circuit?)`,
      );
    const zkey = await dealKey(p);
    const big = (x: string) => BigInt(x);
    const opening: ModuleOpening = {
      A: p.opening.A.map((r) => r.map(big)),
      B: p.opening.B.map((r) => r.map(big)),
      salt: BigInt(p.opening.salt),
    };
    const fold = { rho: big(p.fold.rho), fY: big(p.fold.fY), x: p.fold.x.map(big) };
    const dX: [bigint, bigint] = [big(p.fold.dX[0]), big(p.fold.dX[1])];
    const wM: [bigint, bigint] = [big(p.wM[0]), big(p.wM[1])];
    const { proof } = await proveV2(
      key,
      zkey,
      fold,
      opening,
      { D_X: dX, W_m: wM },
      {
        pool: opts.pool,
        onProgress: opts.onProgress,
      },
    );
    const sp = toSolidityProofV2(proof);
    const delta = (await deltaOf(zkey)).delta2;
    const s = (x: bigint) => x.toString();
    return {
      claim: {
        module: p.module,
        shapeId: p.shapeId,
        wM: p.wM,
        rho: p.fold.rho,
        fY: p.fold.fY,
        dX: p.fold.dX,
      },
      proof: {
        a: [s(sp.a[0]), s(sp.a[1])],
        b: [s(sp.b[0]), s(sp.b[1]), s(sp.b[2]), s(sp.b[3])],
        c: [s(sp.c[0]), s(sp.c[1])],
      },
      delta: [s(delta[0]), s(delta[1]), s(delta[2]), s(delta[3])],
      worker: workerName(),
      ms: Math.round(performance.now() - t0),
    };
  };
}

/**
 * A queue's capacity (default 10 000) and attempts per job (default 3), each checked to be a
 * positive integer (RangeError otherwise).
 */
export function queueLimits(opts: { capacity?: number; maxAttempts?: number }): {
  capacity: number;
  maxAttempts: number;
} {
  const capacity = opts.capacity ?? 10_000;
  const maxAttempts = opts.maxAttempts ?? 3;
  if (!Number.isSafeInteger(capacity) || capacity < 1)
    throw new RangeError(`capacity must be a positive integer, got ${opts.capacity}`);
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1)
    throw new RangeError(`maxAttempts must be a positive integer, got ${opts.maxAttempts}`);
  return { capacity, maxAttempts };
}

// ---------------------------------------------------------------- the embedded queue

/** Options of {@link SqliteProofJobs.open}. */
export interface SqliteProofJobsOptions {
  /** Most jobs queued or running at once (default 10 000). */
  capacity?: number;
  /** Starts per job before it is failed (default 3). */
  maxAttempts?: number;
}

/** One row of the job history (`proof_jobs_events`). */
export interface ProofJobEvent {
  seq: number;
  id: string;
  event: "enqueued" | "started" | "done" | "retry" | "failed" | "released" | "recovered" | "replaced";
  owner: string | null;
  attempt: number;
  reason: string | null;
  at: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS proof_jobs (
  id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
  payload TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  reason TEXT,
  owner TEXT,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS proof_jobs_state ON proof_jobs (state, seq);
CREATE TABLE IF NOT EXISTS proof_jobs_results (
  id TEXT PRIMARY KEY REFERENCES proof_jobs (id) ON DELETE CASCADE,
  result TEXT NOT NULL,
  worker TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS proof_jobs_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL,
  event TEXT NOT NULL,
  owner TEXT,
  attempt INTEGER NOT NULL,
  reason TEXT,
  at INTEGER NOT NULL
);
`;

interface Row {
  id: string;
  state: ProofJobState;
  payload: string;
  attempts: number;
  max_attempts: number;
  reason: string | null;
  owner: string | null;
  result: string | null;
}

/** Owners (`host:pid:n`) of the queues open in this process. */
const liveOwners = new Set<string>();
let ownerCount = 0;

/** Whether the process (and, in this process, the queue) that owns a running job still lives. */
function ownerAlive(owner: string | null): boolean {
  if (owner === null) return false;
  const [host, pid] = owner.split(":");
  if (host !== os.hostname()) return true; // another machine's: not ours to judge
  if (Number(pid) === process.pid) return liveOwners.has(owner);
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The wait loop of both queues: reads every job, reports each newly settled one (done or failed)
 * once, returns when all are settled; otherwise sleeps `pollMs` or until woken (a function put in
 * `waiters` and called by the queue on a change). Throws `queue_closed` once the queue is closed.
 */
export async function waitForJobs(
  ids: readonly string[],
  read: (id: string) => ProofJobRecord | Promise<ProofJobRecord>,
  o: {
    onSettled?: (r: ProofJobRecord) => void;
    closed: () => boolean;
    waiters: Set<() => void>;
    pollMs: number;
  },
): Promise<ProofJobRecord[]> {
  const seen = new Set<string>();
  for (;;) {
    const out: ProofJobRecord[] = [];
    for (const id of ids) {
      const rec = await read(id);
      if ((rec.state === "done" || rec.state === "failed") && !seen.has(id)) {
        seen.add(id);
        o.onSettled?.(rec);
      }
      out.push(rec);
    }
    if (out.every((r) => r.state === "done" || r.state === "failed")) return out;
    if (o.closed()) throw new ProofJobError("queue_closed", "the proof job queue was closed", false);
    let wake!: () => void;
    const woken = new Promise<void>((r) => (wake = r));
    o.waiters.add(wake);
    await Promise.race([sleep(o.pollMs), woken]);
    o.waiters.delete(wake);
  }
}

/**
 * The embedded queue: tables `proof_jobs` (state, payload, attempts), `proof_jobs_results` (one
 * result per job: a second completion is refused by the primary key) and `proof_jobs_events` (the
 * history: enqueued, started, done, retry, failed, released, recovered) in one SQLite file. Every
 * change is one transaction, on disk (full sync) before the call returns.
 *
 * The provers are this process's ({@link start}: `concurrency` jobs at once, each through the given
 * prove function, e.g. a proving pool's processes). At open, a `running` job whose process is dead
 * (the previous run crashed or was killed) goes back to `queued`, or to `failed` when its attempts
 * are used up; its attempt counts.
 */
export class SqliteProofJobs implements ProofJobQueue {
  readonly kind = "sqlite";
  readonly capacity: number;
  readonly maxAttempts: number;
  /** This queue's name in the `owner` column: `host:pid:n`. */
  readonly owner: string;
  private readonly db: DatabaseSync;
  private running = 0;
  private concurrency = 0;
  private prove: ProveJob | undefined;
  /** The ids `start` may claim (JSON array), or null: any. */
  private only: string | null = null;
  private closed = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly waiters = new Set<() => void>();

  private constructor(db: DatabaseSync, opts: SqliteProofJobsOptions) {
    this.db = db;
    ({ capacity: this.capacity, maxAttempts: this.maxAttempts } = queueLimits(opts));
    this.owner = `${os.hostname()}:${process.pid}:${++ownerCount}`;
    liveOwners.add(this.owner);
  }

  /** Opens (creates) the tables in `file` and recovers the jobs of dead processes. */
  static open(file: string, opts: SqliteProofJobsOptions = {}): SqliteProofJobs {
    const db = openDatabase(file);
    try {
      transaction(db, () => db.exec(SCHEMA)); // all tables at once (another connection may look)
      const q = new SqliteProofJobs(db, opts);
      q.recover();
      return q;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  /** Running jobs of dead owners: back to queued (attempts left) or failed. Returns their ids. */
  recover(): string[] {
    return transaction(this.db, () => {
      const rows = this.db
        .prepare("SELECT id, attempts, max_attempts, owner FROM proof_jobs WHERE state = 'running'")
        .all() as unknown as Pick<Row, "id" | "attempts" | "max_attempts" | "owner">[];
      const out: string[] = [];
      for (const r of rows) {
        if (ownerAlive(r.owner)) continue;
        const reason = `the process proving it (${r.owner}) died during attempt ${r.attempts} of ${r.max_attempts}`;
        const failed = r.attempts >= r.max_attempts;
        this.db
          .prepare("UPDATE proof_jobs SET state = ?, owner = NULL, reason = ?, updated_at = ? WHERE id = ?")
          .run(failed ? "failed" : "queued", reason, Date.now(), r.id);
        this.event(r.id, failed ? "failed" : "recovered", r.owner, r.attempts, reason);
        out.push(r.id);
      }
      return out;
    });
  }

  private event(
    id: string,
    event: ProofJobEvent["event"],
    owner: string | null,
    attempt: number,
    reason: string | null = null,
  ): void {
    this.db
      .prepare(
        "INSERT INTO proof_jobs_events (id, event, owner, attempt, reason, at) VALUES (?, ?, ?, ?, ?, ?)",
      )
      .run(id, event, owner, attempt, reason, Date.now());
  }

  private pendingNow(): number {
    const r = this.db
      .prepare("SELECT COUNT(*) AS n FROM proof_jobs WHERE state IN ('queued', 'running')")
      .get() as { n: number };
    return Number(r.n);
  }

  private row(id: string): Row | undefined {
    return this.db
      .prepare(
        "SELECT j.*, r.result AS result FROM proof_jobs j LEFT JOIN proof_jobs_results r ON r.id = j.id WHERE j.id = ?",
      )
      .get(id) as Row | undefined;
  }

  private static record(r: Row): ProofJobRecord {
    return {
      id: r.id,
      state: r.state,
      attempts: Number(r.attempts),
      maxAttempts: Number(r.max_attempts),
      reason: r.reason,
      result: r.result === null ? null : (JSON.parse(r.result) as ProofJobResult),
    };
  }

  /**
   * Queues a job, or returns the job of that id: unchanged when its payload is the same (a failed
   * one queued again with `retryFailed`), requeued with the new payload otherwise (unless running).
   * Refuses a new job with QueueFullError when `capacity` jobs are queued or running.
   */
  async enqueue(payload: ProofJobPayload, opts: EnqueueOptions = {}): Promise<ProofJobRecord> {
    this.open();
    const json = payloadJson(parsePayload(payload));
    try {
      return transaction(this.db, () => {
        const old = this.row(payload.id);
        const now = Date.now();
        const requeue = (why: ProofJobEvent["event"]) => {
          const pending = this.pendingNow();
          if (pending >= this.capacity) throw new QueueFullError(this.capacity, pending);
          this.db.prepare("DELETE FROM proof_jobs_results WHERE id = ?").run(payload.id);
          this.db
            .prepare(
              "UPDATE proof_jobs SET state = 'queued', payload = ?, attempts = 0, max_attempts = ?, reason = NULL, owner = NULL, updated_at = ? WHERE id = ?",
            )
            .run(json, this.maxAttempts, now, payload.id);
          this.event(payload.id, why, null, 0);
        };
        if (old === undefined) {
          const pending = this.pendingNow();
          if (pending >= this.capacity) throw new QueueFullError(this.capacity, pending);
          const seq = this.db.prepare("SELECT COALESCE(MAX(seq), 0) + 1 AS s FROM proof_jobs").get() as {
            s: number;
          };
          this.db
            .prepare(
              "INSERT INTO proof_jobs (id, seq, state, payload, attempts, max_attempts, updated_at) VALUES (?, ?, 'queued', ?, 0, ?, ?)",
            )
            .run(payload.id, seq.s, json, this.maxAttempts, now);
          this.event(payload.id, "enqueued", null, 0);
        } else if (old.payload !== json && old.state !== "running") {
          requeue("replaced");
        } else if (old.state === "failed" && opts.retryFailed === true) {
          requeue("enqueued");
        }
        return SqliteProofJobs.record(this.row(payload.id)!);
      });
    } finally {
      this.kick();
    }
  }

  get(id: string): Promise<ProofJobRecord | undefined> {
    this.open();
    const r = this.row(id);
    return Promise.resolve(r === undefined ? undefined : SqliteProofJobs.record(r));
  }

  /** Every job (in queue order). */
  list(): ProofJobRecord[] {
    this.open();
    const rows = this.db
      .prepare(
        "SELECT j.*, r.result AS result FROM proof_jobs j LEFT JOIN proof_jobs_results r ON r.id = j.id ORDER BY j.seq",
      )
      .all() as unknown as Row[];
    return rows.map(SqliteProofJobs.record);
  }

  /** The history of one job, or of all (in order). */
  events(id?: string): ProofJobEvent[] {
    this.open();
    const rows = (id === undefined
      ? this.db.prepare("SELECT * FROM proof_jobs_events ORDER BY seq").all()
      : this.db
          .prepare("SELECT * FROM proof_jobs_events WHERE id = ? ORDER BY seq")
          .all(id)) as unknown as ProofJobEvent[];
    return rows.map((r) => ({ ...r, seq: Number(r.seq), attempt: Number(r.attempt), at: Number(r.at) }));
  }

  pending(): Promise<number> {
    this.open();
    return Promise.resolve(this.pendingNow());
  }

  /**
   * Proves queued jobs in this process, `concurrency` at a time, with `prove` (until close). A
   * retryable failure queues the job again while attempts are left; otherwise it is failed with
   * the reason. With `ids`, only those jobs are claimed (a run proves its own deal's modules, not
   * a job an earlier run left for a module proven since). Idempotent per queue (the last call's
   * options win).
   */
  start(prove: ProveJob, opts: { concurrency?: number; ids?: readonly string[] } = {}): void {
    this.open();
    const c = opts.concurrency ?? 1;
    if (!Number.isSafeInteger(c) || c < 1) throw new RangeError(`concurrency must be >= 1, got ${c}`);
    this.prove = prove;
    this.concurrency = c;
    this.only = opts.ids === undefined ? null : JSON.stringify(opts.ids);
    this.kick();
  }

  /** Claims queued jobs while slots are free. */
  private kick(): void {
    this.wakeAll();
    while (!this.closed && this.prove !== undefined && this.running < this.concurrency) {
      const claimed = transaction(this.db, () => {
        const r = this.db
          .prepare(
            `UPDATE proof_jobs SET state = 'running', owner = ?1, attempts = attempts + 1, updated_at = ?2
             WHERE id = (SELECT id FROM proof_jobs WHERE state = 'queued'
               AND (?3 IS NULL OR id IN (SELECT value FROM json_each(?3))) ORDER BY seq LIMIT 1)
             RETURNING id, payload, attempts, max_attempts`,
          )
          .get(this.owner, Date.now(), this.only) as
          Pick<Row, "id" | "payload" | "attempts" | "max_attempts"> | undefined;
        if (r !== undefined) this.event(r.id, "started", this.owner, Number(r.attempts));
        return r;
      });
      if (claimed === undefined) return;
      this.running++;
      const p = this.runOne(claimed, this.prove)
        .catch((err: unknown) => {
          // a settled job cannot be recorded (the database went away): leave it running; the next
          // open recovers it
          process.emitWarning(`proof job ${claimed.id}: ${(err as Error).message}`);
        })
        .finally(() => {
          this.running--;
          this.inFlight.delete(p);
          if (!this.closed) this.kick();
        });
      this.inFlight.add(p);
    }
  }

  private async runOne(
    job: Pick<Row, "id" | "payload" | "attempts" | "max_attempts">,
    prove: ProveJob,
  ): Promise<void> {
    const attempt = Number(job.attempts);
    let result: ProofJobResult;
    try {
      result = await prove(JSON.parse(job.payload) as ProofJobPayload);
    } catch (err) {
      this.settleFailure(job.id, attempt, Number(job.max_attempts), err);
      return;
    }
    transaction(this.db, () => {
      // the primary key refuses a second result of one job: "done" happens once
      this.db
        .prepare("INSERT INTO proof_jobs_results (id, result, worker, at) VALUES (?, ?, ?, ?)")
        .run(job.id, JSON.stringify(result), result.worker, Date.now());
      const u = this.db
        .prepare(
          "UPDATE proof_jobs SET state = 'done', reason = NULL, owner = NULL, updated_at = ? WHERE id = ? AND state = 'running' AND owner = ?",
        )
        .run(Date.now(), job.id, this.owner);
      if (Number(u.changes) !== 1)
        throw new ProofJobError("job_lost", `job ${job.id} is no longer this queue's running job`);
      this.event(job.id, "done", this.owner, attempt);
    });
  }

  private settleFailure(id: string, attempt: number, max: number, err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    transaction(this.db, () => {
      const own = this.db
        .prepare("SELECT 1 FROM proof_jobs WHERE id = ? AND state = 'running' AND owner = ?")
        .get(id, this.owner);
      if (own === undefined) return;
      const set = (state: ProofJobState, attempts: number, reason: string | null) =>
        this.db
          .prepare(
            "UPDATE proof_jobs SET state = ?, attempts = ?, reason = ?, owner = NULL, updated_at = ? WHERE id = ?",
          )
          .run(state, attempts, reason, Date.now(), id);
      if (err instanceof PoolClosedError || this.closed) {
        // released, not failed: this attempt does not count
        set("queued", attempt - 1, null);
        this.event(id, "released", this.owner, attempt, message);
      } else if (isRetryable(err) && attempt < max) {
        set("queued", attempt, message);
        this.event(id, "retry", this.owner, attempt, message);
      } else {
        const reason = isRetryable(err) ? `${message} (attempt ${attempt} of ${max})` : message;
        set("failed", attempt, reason);
        this.event(id, "failed", this.owner, attempt, reason);
      }
    });
  }

  async wait(ids: readonly string[], onSettled?: (r: ProofJobRecord) => void): Promise<ProofJobRecord[]> {
    this.open();
    // woken by this process's changes; other processes' every 250 ms
    return waitForJobs(
      ids,
      (id) => {
        const r = this.row(id);
        if (r === undefined) throw new ProofJobError("unknown_job", `no proof job ${id}`, true);
        return SqliteProofJobs.record(r);
      },
      { onSettled, closed: () => this.closed, waiters: this.waiters, pollMs: 250 },
    );
  }

  /**
   * Stops claiming and waits for the running jobs to settle (close the proving pool first to
   * release them at once: they go back to queued without using an attempt). Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wakeAll();
    await Promise.allSettled([...this.inFlight]);
    liveOwners.delete(this.owner);
    this.db.close();
  }

  private wakeAll(): void {
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  private open(): void {
    if (this.closed) throw new ProofJobError("queue_closed", "the proof job queue is closed", false);
  }
}
