/**
 * A proving pool: Groth16 proofs (witness calculation + snarkjs Groth16 prove) of any circuit in
 * child processes, FIFO, with concurrency bounded by cores and by memory (src/zk/v2/prove.ts uses it).
 *
 * Why: circom's witness calculator is single-threaded WASM and snarkjs parses the zkey and builds
 * the proof's polynomials on the calling thread, so an in-process proof blocks the event loop for
 * seconds (an HTTP server stops answering). A prover process moves all of it off the main thread.
 *
 * Why processes, not worker threads: snarkjs's curve (ffjavascript) starts its MSM/FFT threads
 * through the `web-worker` package, which decides at import time, from `isMainThread`, whether it
 * is a worker of its own; imported inside a worker thread it runs its worker bootstrap and throws
 * ("Cannot destructure property 'mod' of 'threads.workerData'"). A forked process is a main
 * thread, so snarkjs works unchanged there; a crash or the OOM killer takes one prover, not the
 * server; and each prover's peak RSS is its own, which the pool measures.
 *
 * The entry is plain JavaScript (`pool-worker.mjs`, forked with an empty `execArgv`), so it needs
 * no TypeScript loader and behaves the same under `npx hardhat test` and `tsx`.
 *
 * Memory: each running proof reserves max(`proofMemoryBytes(zkeyBytes)`, the largest peak RSS a
 * prover reported after proving with that zkey) of a budget (default 75 % of the free memory when
 * the pool is made); the head of the queue waits until its reservation fits, except that a proof
 * always runs when nothing else does.
 *
 * Idle provers are unref'd (a forgotten pool does not keep a process alive) and exit after
 * `idleTimeoutMs` without work; `close()` ends every prover together with its snarkjs curve.
 *
 * The prover (issue #20): when the native Groth16 prover is built (native/, src/zk/native.ts) each
 * prover process pipes its witness to it, one native process per proof with `nativeThreads`
 * threads; otherwise snarkjs proves, and the first pool of the process says so once on stderr.
 * `prover: "snarkjs"` (or `ZKLORA_PROVER=snarkjs`) forces snarkjs, `"native"` requires the binary.
 */
import { fork, type ChildProcess } from "node:child_process";
import { statSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import { WitnessError, ZkError } from "./errors.js";
import { nativeProverStatus, proverChoiceFromEnv, type ProverChoice } from "./native.js";
import type { Groth16Proof } from "./verifier.js";

const WORKER_FILE = fileURLToPath(new URL("./pool-worker.mjs", import.meta.url));

/** Fixed part of one prover's peak RSS (Node, snarkjs, the curve's WASM memories and threads). */
export const PROOF_MEMORY_BASE_BYTES = 192 * 2 ** 20;
/** Peak RSS per zkey byte on top of the base (zkey sections in memory, witness and FFT buffers). */
export const PROOF_MEMORY_ZKEY_FACTOR = 4;

/**
 * The default memory reservation of one proof before any is measured:
 * {@link PROOF_MEMORY_BASE_BYTES} + {@link PROOF_MEMORY_ZKEY_FACTOR} x zkey size.
 */
export function estimateProofMemory(zkeyBytes: number): number {
  return PROOF_MEMORY_BASE_BYTES + PROOF_MEMORY_ZKEY_FACTOR * zkeyBytes;
}

/** Base class of the pool's own errors (bad inputs reject with WitnessError). */
export class ProvingPoolError extends ZkError {}

/** The pool was closed before (or while) the proof ran. */
export class PoolClosedError extends ProvingPoolError {
  constructor(message: string) {
    super("POOL_CLOSED", message);
  }
}

/** The Groth16 prover (native or snarkjs) failed (unreadable, corrupt or mismatched zkey, ...): the witness itself was fine. */
export class ProverFailedError extends ProvingPoolError {
  constructor(message: string) {
    super("PROVER_FAILED", message);
  }
}

/** `prover: "native"` was asked for and the native prover is not built (or cannot run here). */
export class NativeProverUnavailableError extends ProvingPoolError {
  constructor(message: string) {
    super("NATIVE_PROVER_UNAVAILABLE", message);
  }
}

/** The prover process died during a proof (killed, out of memory, crash); the pool replaces it. */
export class ProverCrashedError extends ProvingPoolError {
  constructor(message: string) {
    super("PROVER_CRASHED", message);
  }
}

export interface ProvingPoolOptions {
  /** Prover processes at most (default `os.availableParallelism()`). */
  maxWorkers?: number;
  /** Bytes all running proofs may reserve together (default 75 % of `os.freemem()` now). */
  memoryBudgetBytes?: number;
  /** A proof's reservation from its zkey size before one is measured (default {@link estimateProofMemory}). */
  proofMemoryBytes?: (zkeyBytes: number) => number;
  /**
   * Each proof on one thread (snarkjs `singleThread` curve) instead of a curve with one MSM thread
   * per core in every prover (default false).
   */
  singleThread?: boolean;
  /**
   * An idle prover exits after this many ms without work, freeing its memory (a stories260k
   * prover holds ~450 MiB); the next proof starts a new one (~1 s). Default 60 000; Infinity keeps them.
   */
  idleTimeoutMs?: number;
  /**
   * "auto" (default, or `ZKLORA_PROVER`): the native prover when built, else snarkjs; "native":
   * the native prover or a NativeProverUnavailableError now; "snarkjs": always snarkjs.
   */
  prover?: ProverChoice;
  /**
   * Threads of each native proof (default max(1, floor(cores / maxWorkers)), 1 with singleThread):
   * proofs run side by side in separate processes, so more would oversubscribe the cores.
   */
  nativeThreads?: number;
}

/** Whether the snarkjs fallback was already stated on stderr in this process. */
let fallbackStated = false;

/** A circuit for {@link ProvingPool.proveInput}: a name (for errors and stats) and its wasm and zkey. */
export interface PoolCircuit {
  name: string;
  wasm: string;
  zkey: string;
}

/** A finished proof. */
export interface PoolInputProof {
  proof: Groth16Proof;
  /** The circuit's public signals (equal to the expected ones). */
  publicSignals: bigint[];
  /** Witness calculation in the prover. */
  witnessMs: number;
  /** snarkjs groth16 prove in the prover. */
  proveMs: number;
  /** Time between `proveInput()` and the start in a prover. */
  queuedMs: number;
  /** The prover process's pid. */
  pid: number;
  /** Which prover made the proof. */
  prover: "native" | "snarkjs";
  /** That prover's peak RSS so far (bytes). */
  proverPeakRssBytes: number;
}

export interface PoolStats {
  maxWorkers: number;
  memoryBudgetBytes: number;
  /** Live prover processes. */
  workers: number;
  /** Proofs running now. */
  running: number;
  /** Proofs waiting. */
  queued: number;
  /** Most proofs that ever ran at once. */
  maxRunning: number;
  /** Bytes reserved by the running proofs. */
  reservedBytes: number;
  /** Proofs that finished. */
  completed: number;
  /** Proofs that started and failed (rejections before the start, e.g. an unreadable zkey, not counted). */
  failed: number;
  /** Provers that died during a proof. */
  crashed: number;
  /** Provers the pool killed (busy at close, or not exiting within 5 s of a close request). */
  killed: number;
  /** Largest peak RSS a prover reported after a proof, per circuit name (bytes). */
  peakRssBytes: Record<string, number>;
}

interface Job {
  /** The circuit's name (errors, stats) and its artifacts. */
  name: string;
  wasm: string;
  zkey: string;
  /** The circuit input and the public signals it must give. */
  input: Record<string, unknown>;
  pub: bigint[];
  enqueued: number;
  /** Set when it starts: the reservation and the wait in the queue. */
  mem?: number;
  queuedMs?: number;
  resolve: (p: PoolInputProof) => void;
  reject: (e: unknown) => void;
}

interface Slot {
  child: ChildProcess;
  job: Job | null;
  /** Message id of the running job. */
  msgId: number;
  /** Set once the prover is being closed or has exited. */
  gone: boolean;
  /** Resolves when the process has exited and its IPC channel is closed. */
  exited: Promise<void>;
  /** Retires the prover after `idleTimeoutMs` without work. */
  idleTimer?: NodeJS.Timeout;
}

interface ResultMessage {
  type: "result";
  id: number;
  ok: boolean;
  stage?: "witness" | "prove";
  message?: string;
  prover?: "native" | "snarkjs";
  proof?: Groth16Proof;
  publicSignals?: string[];
  witnessMs?: number;
  proveMs?: number;
  maxRssBytes?: number;
}

export class ProvingPool {
  readonly maxWorkers: number;
  readonly memoryBudgetBytes: number;
  private readonly memOf: (zkeyBytes: number) => number;
  private readonly singleThread: boolean;
  private readonly idleTimeoutMs: number;
  /** The prover this pool uses: the native binary (its path and threads) or snarkjs. */
  readonly prover: "native" | "snarkjs";
  private readonly native: { binary: string; threads: number } | null;
  private readonly zkeyBytes = new Map<string, number>();
  /** Largest measured prover peak RSS per zkey path, and per circuit name (for stats). */
  private readonly measured = new Map<string, number>();
  private readonly measuredByName: Record<string, number> = {};
  private readonly queue: Job[] = [];
  private readonly slots: Slot[] = [];
  private reserved = 0;
  private running = 0;
  private maxRunning = 0;
  private completed = 0;
  private failed = 0;
  private crashed = 0;
  private killed = 0;
  private nextId = 1;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(opts: ProvingPoolOptions = {}) {
    this.maxWorkers = opts.maxWorkers ?? os.availableParallelism();
    if (!Number.isInteger(this.maxWorkers) || this.maxWorkers < 1) {
      throw new RangeError(`maxWorkers must be an integer >= 1, got ${opts.maxWorkers}`);
    }
    this.memoryBudgetBytes = opts.memoryBudgetBytes ?? Math.floor(os.freemem() * 0.75);
    if (!(this.memoryBudgetBytes > 0)) {
      throw new RangeError(`memoryBudgetBytes must be > 0, got ${opts.memoryBudgetBytes}`);
    }
    this.memOf = opts.proofMemoryBytes ?? estimateProofMemory;
    this.singleThread = opts.singleThread ?? false;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 60_000;
    if (!(this.idleTimeoutMs >= 0))
      throw new RangeError(`idleTimeoutMs must be >= 0, got ${opts.idleTimeoutMs}`);
    const choice = opts.prover ?? proverChoiceFromEnv();
    const threads =
      opts.nativeThreads ??
      (this.singleThread ? 1 : Math.max(1, Math.floor(os.availableParallelism() / this.maxWorkers)));
    if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
      throw new RangeError(`nativeThreads must be an integer in [1, 256], got ${opts.nativeThreads}`);
    }
    const st = choice === "snarkjs" ? null : nativeProverStatus();
    if (st !== null && st.available) {
      this.native = { binary: st.path, threads };
    } else {
      this.native = null;
      if (choice === "native") {
        throw new NativeProverUnavailableError(`the native Groth16 prover was asked for: ${st?.reason}`);
      }
      if (st !== null && !fallbackStated) {
        fallbackStated = true;
        process.stderr.write(
          `proving pool: native Groth16 prover not used: ${st.reason}; proving with snarkjs\n`,
        );
      }
    }
    this.prover = this.native !== null ? "native" : "snarkjs";
  }

  /**
   * Proves any circuit in a prover process: `input` is the circuit's input object (decimal
   * strings), `expected` the public signals it must give, in the circuit's order. Rejects with
   * WitnessError (the circuit rejects the input or gives other signals), ProverFailedError,
   * ProverCrashedError or PoolClosedError; the pool keeps working.
   */
  proveInput(
    circuit: PoolCircuit,
    input: Record<string, unknown>,
    expected: readonly bigint[],
  ): Promise<PoolInputProof> {
    if (this.closed) return Promise.reject(new PoolClosedError("the proving pool is closed"));
    return this.enqueue({
      name: circuit.name,
      wasm: circuit.wasm,
      zkey: circuit.zkey,
      input,
      pub: [...expected],
    });
  }

  private enqueue(job: Omit<Job, "enqueued" | "resolve" | "reject">): Promise<PoolInputProof> {
    try {
      this.zkeySize(job);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<PoolInputProof>((resolve, reject) => {
      this.queue.push({ ...job, enqueued: performance.now(), resolve, reject });
      this.pump();
    });
  }

  /** The memory a proof with these artifacts reserves now (estimate or measured, whichever is larger). */
  reservation(art: { name: string; zkey: string }): number {
    return Math.max(this.memOf(this.zkeySize(art)), this.measured.get(art.zkey) ?? 0);
  }

  stats(): PoolStats {
    return {
      maxWorkers: this.maxWorkers,
      memoryBudgetBytes: this.memoryBudgetBytes,
      workers: this.slots.length,
      running: this.running,
      queued: this.queue.length,
      maxRunning: this.maxRunning,
      reservedBytes: this.reserved,
      completed: this.completed,
      failed: this.failed,
      crashed: this.crashed,
      killed: this.killed,
      peakRssBytes: { ...this.measuredByName },
    };
  }

  /** The pids of the live prover processes (to watch or signal them). */
  pids(): number[] {
    return this.slots.flatMap((s) => (s.child.pid === undefined ? [] : [s.child.pid]));
  }

  /** Resolves when nothing is queued or running. */
  idle(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Rejects queued and running proofs with PoolClosedError and ends every prover with its snarkjs
   * curve (idle ones terminate their curve and exit; busy ones are killed). Idempotent.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) {
      job.reject(new PoolClosedError(`the proving pool was closed before the ${job.name} proof started`));
    }
    const ends: Promise<void>[] = [];
    for (const slot of [...this.slots]) {
      clearTimeout(slot.idleTimer);
      const job = slot.job;
      if (job !== null) {
        this.finish(slot, job);
        job.reject(new PoolClosedError(`the proving pool was closed during the ${job.name} proof`));
      }
      if (!slot.gone) {
        slot.gone = true;
        slot.child.ref();
        if (job === null && slot.child.connected) {
          slot.child.send({ type: "close" });
          const t = setTimeout(() => this.kill(slot), 5_000);
          ends.push(slot.exited.finally(() => clearTimeout(t)));
        } else {
          this.kill(slot);
          ends.push(slot.exited);
        }
      } else {
        ends.push(slot.exited);
      }
    }
    await Promise.all(ends);
    // let libuv finish closing the exited processes' handles (in the loop's close phase, after the
    // check phase), so none is live when close() resolves
    for (let i = 0; i < 2; i++) await new Promise<void>((r) => setImmediate(r));
    this.wakeIdle();
  }

  /** Closes an idle prover (its curve, then the process). */
  private retire(slot: Slot): void {
    if (slot.job !== null || slot.gone) return;
    slot.gone = true;
    if (slot.child.connected) slot.child.send({ type: "close" });
    setTimeout(() => this.kill(slot), 5_000).unref();
  }

  private kill(slot: Slot): void {
    if (slot.child.exitCode === null && slot.child.signalCode === null && slot.child.kill("SIGKILL")) {
      this.killed++;
    }
  }

  private zkeySize(art: { name: string; zkey: string }): number {
    let n = this.zkeyBytes.get(art.zkey);
    if (n === undefined) {
      try {
        n = statSync(art.zkey).size;
      } catch (err) {
        throw new ProverFailedError(
          `cannot read the zkey of ${art.name} at ${art.zkey} (${(err as Error).message}); build the key first`,
        );
      }
      this.zkeyBytes.set(art.zkey, n);
    }
    return n;
  }

  private pump(): void {
    while (!this.closed && this.queue.length > 0) {
      const head = this.queue[0];
      const mem = this.reservation(head);
      if (this.running > 0 && this.reserved + mem > this.memoryBudgetBytes) break;
      const slot = this.slots.find((s) => s.job === null && !s.gone) ?? this.spawn();
      if (slot === null) break;
      this.queue.shift();
      head.mem = mem;
      this.start(slot, head);
    }
    this.wakeIdle();
  }

  private wakeIdle(): void {
    if (this.running === 0 && this.queue.length === 0) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private spawn(): Slot | null {
    if (this.slots.filter((s) => !s.gone).length >= this.maxWorkers) return null;
    const child = fork(WORKER_FILE, [], {
      execArgv: [],
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let onEnded!: () => void;
    const slot: Slot = {
      child,
      job: null,
      msgId: 0,
      gone: false,
      exited: new Promise<void>((r) => (onEnded = r)),
    };
    let lastError: Error | undefined;
    child.on("message", (m: ResultMessage) => {
      if (m.type === "result") this.onResult(slot, m);
    });
    child.on("error", (err) => {
      lastError = err;
    });
    child.on("exit", (code, signal) => {
      slot.gone = true;
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots.splice(i, 1);
      const job = slot.job;
      if (job !== null) {
        this.finish(slot, job);
        this.crashed++;
        this.failed++;
        const how = signal !== null ? `killed by ${signal}` : `exit code ${code}`;
        const why = lastError !== undefined ? `: ${lastError.message}` : "";
        job.reject(
          new ProverCrashedError(
            `the prover process died during the ${job.name} proof (${how}${why}); if it ran out of memory, lower maxWorkers or memoryBudgetBytes`,
          ),
        );
      }
      if (!child.connected) onEnded();
      else child.once("disconnect", onEnded);
      this.pump();
    });
    this.slots.push(slot);
    return slot;
  }

  private setRef(slot: Slot, on: boolean): void {
    if (on) {
      slot.child.ref();
      slot.child.channel?.ref();
    } else {
      slot.child.unref();
      slot.child.channel?.unref();
    }
  }

  private start(slot: Slot, job: Job): void {
    clearTimeout(slot.idleTimer);
    slot.job = job;
    slot.msgId = this.nextId++;
    this.setRef(slot, true);
    this.running++;
    this.reserved += job.mem ?? 0;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    const id = slot.msgId;
    job.queuedMs = performance.now() - job.enqueued;
    slot.child.send({
      type: "prove",
      id,
      wasm: job.wasm,
      zkey: job.zkey,
      input: job.input,
      singleThread: this.singleThread,
      native: this.native,
    });
  }

  /** Frees a slot's job (counters, reservation, unref) without settling it. */
  private finish(slot: Slot, job: Job): void {
    if (slot.job !== job) return;
    slot.job = null;
    this.running--;
    this.reserved -= job.mem ?? 0;
    if (!slot.gone) {
      this.setRef(slot, false);
      if (Number.isFinite(this.idleTimeoutMs)) {
        slot.idleTimer = setTimeout(() => this.retire(slot), this.idleTimeoutMs);
        slot.idleTimer.unref();
      }
    }
  }

  private onResult(slot: Slot, m: ResultMessage): void {
    const job = slot.job;
    if (job === null || m.id !== slot.msgId) return;
    if (m.maxRssBytes !== undefined) {
      const name = job.name;
      this.measured.set(job.zkey, Math.max(this.measured.get(job.zkey) ?? 0, m.maxRssBytes));
      this.measuredByName[name] = Math.max(this.measuredByName[name] ?? 0, m.maxRssBytes);
    }
    this.finish(slot, job);
    // snarkjs may leave state behind when it throws (it leaks the zkey's file handle): retire that prover
    if (!m.ok && m.stage === "prove") this.retire(slot);
    this.settle(job, m, slot.child.pid ?? 0);
    this.pump();
  }

  private settle(job: Job, m: ResultMessage, pid: number): void {
    const name = job.name;
    const pub = job.pub;
    if (!m.ok) {
      this.failed++;
      if (m.stage === "witness") {
        job.reject(new WitnessError(`the inputs do not satisfy the ${name} circuit: ${m.message}`));
      } else {
        job.reject(
          new ProverFailedError(
            `${m.prover ?? "snarkjs"} groth16 prove failed for ${name} (zkey ${job.zkey}): ${m.message}; check that the zkey belongs to this circuit or rebuild it`,
          ),
        );
      }
      return;
    }
    const got = (m.publicSignals ?? []).map((s) => BigInt(s));
    if (got.length !== pub.length || got.some((v, i) => v !== pub[i])) {
      this.failed++;
      job.reject(
        new WitnessError(
          `the ${name} circuit's public signals [${(m.publicSignals ?? []).join(", ")}] differ from the statement [${pub.join(", ")}]`,
        ),
      );
      return;
    }
    this.completed++;
    job.resolve({
      proof: m.proof as Groth16Proof,
      publicSignals: pub,
      witnessMs: m.witnessMs ?? 0,
      proveMs: m.proveMs ?? 0,
      queuedMs: job.queuedMs ?? 0,
      pid,
      prover: m.prover ?? "snarkjs",
      proverPeakRssBytes: m.maxRssBytes ?? 0,
    });
  }
}
