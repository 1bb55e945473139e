/**
 * Proof jobs over Redis (src/mpi/jobs-redis.ts) with a real `redis-server` on a loopback port and
 * two real `zklora:worker` processes: one is killed with SIGKILL mid-proof, and every one of 20 jobs
 * ends done, proved exactly once (the workers' proof count per job is 1). Also: a job whose deal key
 * is missing fails at once with the reason, the queue refuses beyond its capacity, enqueue is
 * idempotent across coordinator restarts, a worker stops cleanly on SIGTERM.
 *
 * Needs the `redis-server` binary (Debian package redis-server): without it the suite is skipped
 * with a printed reason.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { Redis } from "ioredis";
import { PROJECT_ROOT } from "../../src/common/cache.js";
import { RedisProofJobs, checkRedis } from "../../src/mpi/jobs-redis.js";
import { ProofJobError, QueueFullError, type ProofJobPayload } from "../../src/mpi/jobs.js";
import { HARDHAT_CLI, freePort } from "../e2e/helpers.js";
import { jobPayload, jobsFixture, resultVerifies, sleep, until, type JobsFixture } from "./jobs-fixture.js";

/** A child process in its own process group, its output collected. */
class Proc {
  readonly child: ChildProcess;
  out = "";
  readonly exited: Promise<number | null>;
  constructor(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
    this.child = spawn(cmd, args, {
      cwd: PROJECT_ROOT,
      env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child.stdout!.on("data", (d: Buffer) => (this.out += d.toString()));
    this.child.stderr!.on("data", (d: Buffer) => (this.out += d.toString()));
    this.exited = new Promise((r) => this.child.once("exit", (code) => r(code)));
  }
  /** Signals the whole process group (the process and its provers). */
  kill(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.child.pid!, signal);
    } catch {
      // already gone
    }
  }
}

/**
 * Waits for worker `w`'s next "proving <id> (attempt 1)" line and stops its process group
 * (SIGSTOP) in the same tick the line arrives; resolves with the id.
 */
function frozenAtNextProof(w: Proc, ms: number): Promise<string> {
  const re = /^proving (\S+) \(attempt 1\)$/gm;
  const seen = [...w.out.matchAll(re)].length;
  return new Promise((resolve, reject) => {
    const check = () => {
      const lines = [...w.out.matchAll(re)];
      if (lines.length <= seen) return;
      w.kill("SIGSTOP");
      done();
      resolve(lines[seen][1]);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`timed out after ${ms} ms waiting for a worker to start a proof:\n${w.out}`));
    }, ms);
    const done = () => {
      clearTimeout(timer);
      w.child.stdout!.off("data", check);
    };
    w.child.stdout!.on("data", check);
  });
}

/** Whether redis-server can run here; else why not. */
function redisMissing(): string | undefined {
  const r = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
  if (r.error !== undefined)
    return `redis-server is not installed (${(r.error as NodeJS.ErrnoException).code}; Debian: apt-get install redis-server)`;
  return r.status === 0 ? undefined : `redis-server --version exited ${r.status}`;
}

describe("proof jobs over Redis (BullMQ): two zklora:worker processes", function () {
  this.timeout(600_000);
  let f: JobsFixture;
  let dir: string;
  let redis: Proc | undefined;
  let url: string;
  const workers: Proc[] = [];
  const queues: RedisProofJobs[] = [];
  let direct: Redis | undefined;

  before(async function () {
    const missing = redisMissing();
    if (missing !== undefined) {
      console.log(`    skipped: ${missing}; the BullMQ proof-job tests need a real Redis`);
      this.skip();
    }
    dir = await mkdtemp(path.join(os.tmpdir(), "zklora-redis-"));
    const port = await freePort();
    url = `redis://127.0.0.1:${port}`;
    redis = new Proc("redis-server", [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--save",
      "",
      "--appendonly",
      "no",
    ]);
    await until(
      () =>
        checkRedis(url).then(
          () => true,
          () => false,
        ),
      30_000,
      "redis-server to answer",
    );
    direct = new Redis(url);
    f = await jobsFixture();
  });

  after(async () => {
    for (const q of queues) await q.close();
    direct?.disconnect();
    for (const w of workers) {
      w.kill("SIGKILL");
      await w.exited;
    }
    if (redis !== undefined) {
      redis.kill("SIGTERM");
      await redis.exited;
    }
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  const worker = () => {
    const env = { ...process.env };
    delete env.CI;
    const w = new Proc(
      process.execPath,
      [HARDHAT_CLI, "zklora:worker", "--redis", url, "--keys", f.keysDir, "--jobs", "1", "--lock-ms", "3000"],
      env,
    );
    workers.push(w);
    return w;
  };

  it("kills one of two workers mid-proof: every job is done, each proved exactly once", async () => {
    const a = worker();
    const b = worker();
    await until(
      () => /zklora worker .* Ctrl-C to stop/.test(a.out) || a.child.exitCode !== null,
      120_000,
      "worker A",
    );
    await until(
      () => /zklora worker .* Ctrl-C to stop/.test(b.out) || b.child.exitCode !== null,
      120_000,
      "worker B",
    );
    expect(a.child.exitCode, a.out).to.equal(null);
    expect(b.child.exitCode, b.out).to.equal(null);
    const q = await RedisProofJobs.connect({ url, maxAttempts: 3 });
    queues.push(q);
    const ps: ProofJobPayload[] = await Promise.all(
      Array.from({ length: 20 }, (_, m) => jobPayload(f, m, 30n)),
    );
    for (const p of ps) await q.enqueue(p);
    // Freeze A and its prover the moment A starts a proof, then kill them. A proof can be fast (the
    // native prover), so when the frozen proof had already been made (counted in Redis), A goes on
    // and the next one is caught.
    let killed: string | undefined;
    for (let tries = 0; killed === undefined; tries++) {
      if (tries === 10)
        expect.fail(`worker A finished each of 10 proofs before it could be frozen:\n${a.out}`);
      const id = await frozenAtNextProof(a, 120_000);
      await sleep(200); // a report A sent before it froze reaches Redis
      if ((await q.proofsMade(id)) === 0) killed = id;
      else a.kill("SIGCONT");
    }
    a.kill("SIGKILL");
    expect(await a.exited).to.equal(null);
    expect(a.out).not.to.match(new RegExp(`^proved ${killed} `, "m"));
    const records = await q.wait(ps.map((p) => p.id));
    expect(
      records.map((r) => r.state),
      records.map((r) => `${r.id} ${r.state} ${r.reason}`).join("\n"),
    ).to.deep.equal(Array(20).fill("done"));
    for (const r of records) {
      expect(await q.proofsMade(r.id), r.id).to.equal(1);
      const p = ps.find((x) => x.id === r.id)!;
      expect(await resultVerifies(f, p, r.result!), r.id).to.equal(true);
    }
    expect(await direct!.hlen("bull:zklora-proofs:zklora-results")).to.equal(20);
    // the killed job: started again (by B, after A's lock expired) and proved there
    const k = records.find((r) => r.id === killed)!;
    expect(k.attempts).to.be.at.least(2);
    expect(k.result!.worker).to.equal(`${os.hostname()}:${b.child.pid}`);
    expect(b.out).to.match(new RegExp(`^proved ${killed} `, "m"));
    // a coordinator restart enqueues them again: nothing is queued or proved anew
    await q.close();
    queues.pop();
    const q2 = await RedisProofJobs.connect({ url });
    queues.push(q2);
    for (const p of ps) expect((await q2.enqueue(p, { retryFailed: true })).state).to.equal("done");
    expect(await q2.pending()).to.equal(0);
    for (const p of ps) expect(await q2.proofsMade(p.id)).to.equal(1);
  });

  it("fails a job whose deal key the worker lacks at once, with the reason", async () => {
    const q = queues[0];
    const p = await jobPayload(f, 40, 31n);
    p.dealKey = { ...p.dealKey, file: "not-there.zkey" };
    await q.enqueue(p);
    const [r] = await q.wait([p.id]);
    expect(r.state).to.equal("failed");
    expect(r.attempts).to.equal(1);
    expect(r.reason).to.match(/deal key not-there\.zkey is not in .*copy the buyer's deal keys there/);
    expect(await q.proofsMade(p.id)).to.equal(0);
    // a new run retries it (fresh attempts): it fails again, as the key is still missing
    expect((await q.enqueue(p)).state).to.equal("failed");
    expect((await q.enqueue(p, { retryFailed: true })).state).to.be.oneOf(["queued", "running", "failed"]);
    const [again] = await q.wait([p.id]);
    expect(again.state).to.equal("failed");
    expect(again.attempts).to.equal(1);
    // the same job with the key the worker has replaces it and is proved
    const good = await jobPayload(f, 40, 31n);
    await q.enqueue(good);
    const [done] = await q.wait([good.id]);
    expect(done.state).to.equal("done");
    expect(await resultVerifies(f, good, done.result!)).to.equal(true);
    expect(await q.proofsMade(good.id)).to.equal(1);
  });

  it("refuses a job beyond its capacity with QueueFullError", async () => {
    const q = await RedisProofJobs.connect({ url, queue: "zklora-proofs-full", capacity: 2 });
    queues.push(q);
    const ps = await Promise.all([0, 1, 2].map((m) => jobPayload(f, m, 32n)));
    await q.enqueue(ps[0]);
    await q.enqueue(ps[1]);
    let err: unknown;
    try {
      await q.enqueue(ps[2]);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(QueueFullError);
    expect((err as ProofJobError).code).to.equal("queue_full");
    expect((await q.enqueue(ps[0])).state).to.equal("queued");
    expect(await q.pending()).to.equal(2);
  });

  it("a worker stops cleanly on SIGTERM", async () => {
    const b = workers[1];
    b.kill("SIGTERM");
    expect(await b.exited).to.equal(0);
    expect(b.out).to.match(/stopped: \d+ proved, 2 failed/);
  });
});
