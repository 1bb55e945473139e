/** Action of `zklora:worker`: proves proof jobs from Redis until SIGINT/SIGTERM. */
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { UsageError } from "../../src/app/errors.js";
import { checkRedis, RedisProofWorker, type RedisWorkerEvent } from "../../src/mpi/jobs-redis.js";
import { proofJobProver, workerName } from "../../src/mpi/jobs.js";
import { ProvingPool } from "../../src/zk/pool.js";
import { defaultJobs } from "./prove.js";
import { fileOf, given, intOption, runTask } from "./lib.js";

interface Args {
  redis: string | undefined;
  keys: string | undefined;
  jobs: number;
  lockMs: number;
  ptau: string | undefined;
  verbose?: boolean;
}

/** The URL without its password (for printing). */
function shown(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    return u.toString();
  } catch {
    return url;
  }
}

export default async function workerAction(args: Args): Promise<void> {
  await runTask({ name: "zklora:worker", verbose: args.verbose }, async (progress) => {
    if (!given(args.redis))
      throw new UsageError("pass --redis URL (the Redis zklora:prove --redis queues in)");
    if (!given(args.keys)) throw new UsageError("pass --keys DIR (the folder holding the buyer's deal keys)");
    const keys = path.resolve(args.keys);
    if (!existsSync(keys) || !statSync(keys).isDirectory())
      throw new UsageError(`--keys ${args.keys} is not a folder: pass the folder holding the deal keys`);
    const jobs = intOption(args.jobs, "--jobs", 0, 1024, "0: the default") || defaultJobs();
    const lockMs = intOption(args.lockMs, "--lock-ms", 1000, 3_600_000);
    await checkRedis(args.redis);
    const pool = new ProvingPool({ maxWorkers: jobs });
    let proved = 0;
    let failed = 0;
    const onEvent = (e: RedisWorkerEvent) => {
      if (e.type === "start") console.log(`proving ${e.id} (attempt ${e.attempt})`);
      else if (e.type === "done") {
        proved++;
        console.log(`proved ${e.id} in ${((e.ms ?? 0) / 1000).toFixed(1)} s`);
      } else if (e.type === "duplicate") console.log(`${e.id} was already proved by another worker`);
      else if (e.type === "retry") console.log(`${e.id} failed, to be retried: ${e.reason}`);
      else if (e.type === "failed") {
        failed++;
        console.log(`${e.id} failed: ${e.reason}`);
      } else console.log(`redis: ${e.reason}`);
    };
    const worker = await RedisProofWorker.start(
      proofJobProver({ keys, ptau: fileOf(args.ptau), pool, onProgress: progress.zk() }),
      { url: args.redis, concurrency: jobs, lockMs, onEvent },
    );
    console.log(
      `zklora worker ${workerName()}: proving jobs from ${shown(args.redis)}, ${jobs} at a time, deal keys from ${keys}; Ctrl-C to stop`,
    );
    const signals = ["SIGINT", "SIGTERM"] as const;
    await new Promise<void>((resolve) => {
      for (const s of signals) process.once(s, () => resolve());
    });
    // A second signal leaves the proofs in progress (their locks expire; another worker proves them).
    const force = new Promise<void>((resolve) => {
      for (const s of signals) process.once(s, () => resolve());
    });
    console.log("finishing the proofs in progress (Ctrl-C again to leave them to other workers) ...");
    const left = await Promise.race([
      worker.close().then(() => false),
      force.then(async () => {
        await worker.close(true);
        await pool.close();
        return true;
      }),
    ]);
    await pool.close();
    console.log(
      `stopped: ${proved} proved, ${failed} failed${left ? "; the proofs in progress were left to other workers" : ""}`,
    );
  });
}
