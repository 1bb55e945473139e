/**
 * Proof jobs over Redis (BullMQ), for when one machine is not enough: the coordinator
 * (`zklora:prove --redis URL`) queues the jobs ({@link RedisProofJobs}) and `zklora:worker --redis
 * URL` processes on any machine prove them ({@link RedisProofWorker}). Loaded only when Redis is
 * selected (importing it loads BullMQ and ioredis).
 *
 * BullMQ does the distribution: a job id is its {@link proofJobId}, so adding it twice is a no-op;
 * `attempts` retries a job whose proof failed (a permanent failure is an UnrecoverableError: no
 * retry); a worker holds a lock on its job and renews it while it proves (the proof itself runs in
 * a prover process, so the worker's event loop stays free); when a worker dies its lock expires
 * and another worker's stalled-job check puts the job back in the wait list.
 *
 * Exactly once, checkably: a worker that finishes a proof counts it in the hash
 * `<prefix>:<queue>:zklora-proved` (job id → proofs made) and stores the result with HSETNX in
 * `<prefix>:<queue>:zklora-results` (job id → result JSON): a second completion of one job finds
 * the first result and returns it, and the count shows that it happened.
 *
 * The payload holds the module's opening (the contributor's secret weights): use a Redis that only
 * the contributor's machines reach (a private network, `rediss://` with a password).
 */
import { Queue, QueueEvents, UnrecoverableError, Worker, type Job } from "bullmq";
import { Redis } from "ioredis";
import {
  ProofJobError,
  QueueFullError,
  isRetryable,
  parsePayload,
  payloadJson,
  queueLimits,
  waitForJobs,
  workerName,
  type EnqueueOptions,
  type ProofJobPayload,
  type ProofJobQueue,
  type ProofJobRecord,
  type ProofJobResult,
  type ProofJobState,
  type ProveJob,
} from "./jobs.js";

/** The default BullMQ queue name of proof jobs. */
export const PROOF_QUEUE = "zklora-proofs";
/** BullMQ's default key prefix. */
const PREFIX = "bull";

/** Options shared by the coordinator and the workers. */
export interface RedisJobsConnection {
  /** `redis://[user:password@]host:port[/db]` or `rediss://...` */
  url: string;
  /** The queue's name (default {@link PROOF_QUEUE}); coordinator and workers must agree. */
  queue?: string;
}

/** Checks a Redis URL and that a server answers there (5 s), with one-line errors. */
export async function checkRedis(url: string): Promise<void> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ProofJobError("bad_redis_url", `--redis must be a URL like redis://127.0.0.1:6379, got ${url}`);
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:")
    throw new ProofJobError("bad_redis_url", `--redis must be a redis:// or rediss:// URL, got ${url}`);
  const probe = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 5000,
  });
  let seen: Error | undefined;
  probe.on("error", (err: Error) => (seen ??= err));
  try {
    await probe.connect();
    await probe.ping();
  } catch (err) {
    throw new ProofJobError(
      "redis_unreachable",
      `no Redis answers at ${u.host} (${(seen ?? (err as Error)).message}): start redis-server or fix --redis`,
      false,
    );
  } finally {
    probe.disconnect();
  }
}

/** A connection for BullMQ (it needs `maxRetriesPerRequest: null`). */
function connect(url: string): Redis {
  const r = new Redis(url, { maxRetriesPerRequest: null });
  r.on("error", () => {}); // ioredis reconnects; the commands in flight report the error
  return r;
}

function keys(queue: string) {
  return {
    results: `${PREFIX}:${queue}:zklora-results`,
    proved: `${PREFIX}:${queue}:zklora-proved`,
  };
}

const STATE: Record<string, ProofJobState> = {
  waiting: "queued",
  wait: "queued",
  delayed: "queued",
  prioritized: "queued",
  paused: "queued",
  "waiting-children": "queued",
  active: "running",
  completed: "done",
  failed: "failed",
};

/** Options of {@link RedisProofJobs.connect}. */
export interface RedisProofJobsOptions extends RedisJobsConnection {
  /** Most jobs waiting or active at once (default 10 000; checked before each add). */
  capacity?: number;
  /** Attempts per job (BullMQ `attempts`; default 3). */
  maxAttempts?: number;
}

/** The coordinator's side: queues jobs in BullMQ and waits for the workers' results. */
export class RedisProofJobs implements ProofJobQueue {
  readonly kind = "redis";
  readonly capacity: number;
  readonly maxAttempts: number;
  readonly queueName: string;
  private readonly client: Redis;
  private readonly eventsClient: Redis;
  private readonly queue: Queue;
  private readonly events: QueueEvents;
  private readonly waiters = new Set<() => void>();
  private closed = false;

  private constructor(opts: RedisProofJobsOptions) {
    ({ capacity: this.capacity, maxAttempts: this.maxAttempts } = queueLimits(opts));
    this.queueName = opts.queue ?? PROOF_QUEUE;
    this.client = connect(opts.url);
    this.queue = new Queue(this.queueName, { connection: this.client, prefix: PREFIX });
    this.eventsClient = connect(opts.url);
    this.events = new QueueEvents(this.queueName, { connection: this.eventsClient, prefix: PREFIX });
    const wake = () => {
      for (const w of this.waiters) w();
      this.waiters.clear();
    };
    this.events.on("completed", wake);
    this.events.on("failed", wake);
    this.events.on("error", () => {});
  }

  /** Connects (checks that Redis answers first). */
  static async connect(opts: RedisProofJobsOptions): Promise<RedisProofJobs> {
    await checkRedis(opts.url);
    const q = new RedisProofJobs(opts);
    await q.queue.waitUntilReady();
    await q.events.waitUntilReady();
    return q;
  }

  /**
   * A job's record: its state first, then its data (read after the state, the data is at least as
   * new, so a settled state comes with its reason and result), or undefined when there is none.
   */
  private async record(id: string): Promise<ProofJobRecord | undefined> {
    const raw = await this.queue.getJobState(id);
    const job = (await this.queue.getJob(id)) as Job | undefined;
    if (raw === "unknown" || job === undefined) return undefined;
    const state = STATE[raw] ?? "queued";
    let result: ProofJobResult | null = null;
    if (state === "done") {
      const stored = await this.client.hget(keys(this.queueName).results, id);
      result = stored !== null ? (JSON.parse(stored) as ProofJobResult) : (job.returnvalue as ProofJobResult);
    }
    return {
      id,
      state,
      attempts: Math.max(job.attemptsStarted ?? 0, job.attemptsMade),
      maxAttempts: job.opts.attempts ?? 1,
      reason: job.failedReason ?? null,
      result,
    };
  }

  async pending(): Promise<number> {
    const c = await this.queue.getJobCounts("wait", "active", "delayed", "prioritized", "waiting-children");
    return Object.values(c).reduce((a, b) => a + b, 0);
  }

  /**
   * Adds a job (BullMQ job id = the job id), or returns the job of that id: unchanged when its
   * payload is the same (a failed one retried with fresh attempts with `retryFailed`), removed and
   * added anew with another payload unless a worker is proving it. QueueFullError beyond capacity.
   */
  async enqueue(payload: ProofJobPayload, opts: EnqueueOptions = {}): Promise<ProofJobRecord> {
    const json = payloadJson(parsePayload(payload));
    const k = keys(this.queueName);
    const old = (await this.queue.getJob(payload.id)) as Job | undefined;
    if (old !== undefined) {
      const state = await old.getState();
      if (payloadJson(old.data as ProofJobPayload) !== json && state !== "active") {
        await old.remove();
        await this.client.hdel(k.results, payload.id);
        await this.client.hdel(k.proved, payload.id);
      } else {
        if (state === "failed" && opts.retryFailed === true) {
          await this.refuseWhenFull();
          await old.retry("failed", { resetAttemptsMade: true, resetAttemptsStarted: true });
        }
        return (await this.record(payload.id))!;
      }
    }
    await this.refuseWhenFull();
    await this.queue.add("prove", JSON.parse(json) as ProofJobPayload, {
      jobId: payload.id,
      attempts: this.maxAttempts,
      backoff: { type: "fixed", delay: 1000 },
      removeOnComplete: false,
      removeOnFail: false,
    });
    return (await this.record(payload.id))!;
  }

  private async refuseWhenFull(): Promise<void> {
    const n = await this.pending();
    if (n >= this.capacity) throw new QueueFullError(this.capacity, n);
  }

  get(id: string): Promise<ProofJobRecord | undefined> {
    return this.record(id);
  }

  /** Proofs workers made of a job (1 when it was proven exactly once; 0 before). */
  async proofsMade(id: string): Promise<number> {
    return Number((await this.client.hget(keys(this.queueName).proved, id)) ?? 0);
  }

  async wait(ids: readonly string[], onSettled?: (r: ProofJobRecord) => void): Promise<ProofJobRecord[]> {
    return waitForJobs(
      ids,
      async (id) => {
        const r = await this.get(id);
        if (r === undefined) throw new ProofJobError("unknown_job", `no proof job ${id} in Redis`);
        return r;
      },
      { onSettled, closed: () => this.closed, waiters: this.waiters, pollMs: 1000 },
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters) w();
    await this.events.close();
    await this.queue.close();
    this.client.disconnect();
    this.eventsClient.disconnect();
  }
}

/** What a worker reports. */
export interface RedisWorkerEvent {
  type: "start" | "done" | "duplicate" | "retry" | "failed" | "error";
  id?: string;
  attempt?: number;
  ms?: number;
  reason?: string;
}

/** Options of {@link RedisProofWorker.start}. */
export interface RedisProofWorkerOptions extends RedisJobsConnection {
  /** Jobs proven at once (default 1). */
  concurrency?: number;
  /**
   * How long a worker's hold on a job lasts without renewal (ms, default 30 000); it renews it every
   * half of this while it proves. A dead worker's job is retried after at most about twice this.
   */
  lockMs?: number;
  /** Times a job may be recovered from a dead worker before it is failed (default 2). */
  maxStalledCount?: number;
  onEvent?: (e: RedisWorkerEvent) => void;
}

/** A worker process's side: proves jobs from the queue with `prove` until closed. */
export class RedisProofWorker {
  private constructor(
    private readonly worker: Worker,
    private readonly clients: Redis[],
  ) {}

  static async start(prove: ProveJob, opts: RedisProofWorkerOptions): Promise<RedisProofWorker> {
    await checkRedis(opts.url);
    const queue = opts.queue ?? PROOF_QUEUE;
    const k = keys(queue);
    const client = connect(opts.url);
    const conn = connect(opts.url);
    const emit = opts.onEvent ?? (() => {});
    const lockMs = opts.lockMs ?? 30_000;
    const worker = new Worker(
      queue,
      async (job: Job) => {
        const attempt = Math.max(job.attemptsStarted ?? 0, job.attemptsMade + 1);
        emit({ type: "start", id: job.id, attempt });
        let result: ProofJobResult;
        try {
          result = await prove(job.data as ProofJobPayload);
        } catch (err) {
          if (!isRetryable(err)) throw new UnrecoverableError((err as Error).message);
          throw err;
        }
        const json = JSON.stringify(result);
        await client.hincrby(k.proved, job.id!, 1);
        if ((await client.hsetnx(k.results, job.id!, json)) === 0) {
          emit({ type: "duplicate", id: job.id, attempt });
          return JSON.parse((await client.hget(k.results, job.id!))!) as ProofJobResult;
        }
        emit({ type: "done", id: job.id, attempt, ms: result.ms });
        return result;
      },
      {
        connection: conn,
        prefix: PREFIX,
        name: workerName(),
        concurrency: opts.concurrency ?? 1,
        lockDuration: lockMs,
        stalledInterval: lockMs,
        maxStalledCount: opts.maxStalledCount ?? 2,
        removeOnComplete: { count: Number.MAX_SAFE_INTEGER },
        removeOnFail: { count: Number.MAX_SAFE_INTEGER },
      },
    );
    worker.on("failed", (job, err) => {
      if (job === undefined) return;
      const final = job.finishedOn !== undefined || job.attemptsMade >= (job.opts.attempts ?? 1);
      emit({ type: final ? "failed" : "retry", id: job.id, attempt: job.attemptsMade, reason: err.message });
    });
    worker.on("error", (err) => emit({ type: "error", reason: err.message }));
    await worker.waitUntilReady();
    return new RedisProofWorker(worker, [client, conn]);
  }

  /**
   * Stops taking jobs. Without `force` it waits for the jobs being proven to finish; with `force`
   * it leaves them at once (their locks expire and another worker proves them).
   */
  async close(force = false): Promise<void> {
    await this.worker.close(force);
    for (const c of this.clients) c.disconnect();
  }
}
