/**
 * The embedded proof job queue (src/mpi/jobs.ts) with real proofs of the tiny v2 shape: a prover
 * killed mid-proof (its job is retried and succeeds), a zklora:prove stand-in killed with 20 jobs
 * queued (a restart finishes all 20, none twice), back-pressure, failures after the attempts with
 * the reason, permanent failures (deal key missing or another file), idempotent enqueue.
 */
import { spawn } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { PROJECT_ROOT } from "../../src/common/cache.js";
import {
  ProofJobError,
  QueueFullError,
  SqliteProofJobs,
  proofJobProver,
  type ProofJobRecord,
} from "../../src/mpi/jobs.js";
import { ProvingPool } from "../../src/zk/pool.js";
import { jobPayload, jobsFixture, resultVerifies, sleep, until, type JobsFixture } from "./jobs-fixture.js";

describe("proof jobs: the embedded queue", function () {
  this.timeout(600_000);
  let f: JobsFixture;
  let dir: string;
  const open: { close(): Promise<void> }[] = [];
  const track = <T extends { close(): Promise<void> }>(x: T): T => {
    open.push(x);
    return x;
  };

  before(async () => {
    f = await jobsFixture();
    dir = await mkdtemp(path.join(os.tmpdir(), "zklora-jobs-"));
  });
  afterEach(async () => {
    for (const x of open.splice(0).reverse()) await x.close();
  });

  it("kills the prover mid-proof: the job is retried and succeeds, done once", async () => {
    const q = track(SqliteProofJobs.open(path.join(dir, "kill.sqlite"), { maxAttempts: 3 }));
    const pool = track(new ProvingPool({ maxWorkers: 1 }));
    q.start(proofJobProver({ keys: f.keysDir, pool }));
    const p = await jobPayload(f, 0);
    await q.enqueue(p);
    // a fresh prover's first proof takes seconds (it builds its curve): kill it then
    await until(
      async () => (await q.get(p.id))?.state === "running" && pool.pids().length === 1,
      60_000,
      "the proof to start",
    );
    // stop the prover, check that the job is still running (mid-proof), then kill it
    const pid = pool.pids()[0];
    process.kill(pid, "SIGSTOP");
    expect((await q.get(p.id))!.state, "the proof ended before the prover could be stopped").to.equal(
      "running",
    );
    process.kill(pid, "SIGKILL");
    const [r] = await q.wait([p.id]);
    expect(r.state).to.equal("done");
    expect(r.attempts).to.equal(2);
    expect(await resultVerifies(f, p, r.result!)).to.equal(true);
    const ev = q.events(p.id).map((e) => `${e.event} ${e.attempt}`);
    expect(ev).to.deep.equal(["enqueued 0", "started 1", "retry 1", "started 2", "done 2"]);
    expect(q.events(p.id)[2].reason).to.match(/prover process died.*SIGKILL/);
    expect(pool.stats().crashed).to.equal(1);
  });

  it("fails a job after maxAttempts dead provers, with the reason; retryFailed queues it again", async () => {
    const q = track(SqliteProofJobs.open(path.join(dir, "attempts.sqlite"), { maxAttempts: 2 }));
    const pool = track(new ProvingPool({ maxWorkers: 1 }));
    q.start(proofJobProver({ keys: f.keysDir, pool }));
    const p = await jobPayload(f, 1);
    await q.enqueue(p);
    // each attempt runs in a fresh prover (the pool replaces a dead one): kill it in its first proof
    let killed = -1;
    for (let attempt = 1; attempt <= 2; attempt++) {
      await until(
        async () => (await q.get(p.id))?.attempts === attempt && pool.pids().some((x) => x !== killed),
        60_000,
        `attempt ${attempt} to start`,
      );
      killed = pool.pids().find((x) => x !== killed)!;
      process.kill(killed, "SIGKILL");
    }
    const [r] = await q.wait([p.id]);
    expect(r.state).to.equal("failed");
    expect(r.attempts).to.equal(2);
    expect(r.reason).to.match(/prover process died.*\(attempt 2 of 2\)/);
    expect(r.result).to.equal(null);
    // a new run retries it with fresh attempts
    const again = await q.enqueue(p, { retryFailed: true });
    expect(again.state).to.be.oneOf(["queued", "running"]);
    const [r2] = await q.wait([p.id]);
    expect(r2.state).to.equal("done");
    expect(r2.attempts).to.equal(1);
    expect(await resultVerifies(f, p, r2.result!)).to.equal(true);
  });

  it("fails at once, without retries, when the deal key is missing or another file", async () => {
    const q = track(SqliteProofJobs.open(path.join(dir, "key.sqlite"), { maxAttempts: 3 }));
    q.start(proofJobProver({ keys: f.keysDir }));
    const good = await jobPayload(f, 2);
    const missing = { ...good, dealKey: { ...good.dealKey, file: "absent.zkey" } };
    const other = await jobPayload(f, 3);
    other.dealKey = { ...other.dealKey, keccak: `0x${"ab".repeat(32)}` };
    await q.enqueue(missing);
    await q.enqueue(other);
    const [a, b] = await q.wait([missing.id, other.id]);
    expect(a.state).to.equal("failed");
    expect(a.attempts).to.equal(1);
    expect(a.reason).to.match(/deal key absent\.zkey is not in .*copy the buyer's deal keys there/);
    expect(b.state).to.equal("failed");
    expect(b.attempts).to.equal(1);
    expect(b.reason).to.match(/has keccak-256 0x[0-9a-f]{64}, the job's deal key 0xabab/);
    // the same id with the right payload replaces the failed job and proves it
    const replaced = await q.enqueue(good);
    expect(replaced.attempts).to.equal(0);
    const [c] = await q.wait([good.id]);
    expect(c.state).to.equal("done");
    expect(q.events(good.id).map((e) => e.event)).to.deep.equal([
      "enqueued",
      "started",
      "failed",
      "replaced",
      "started",
      "done",
    ]);
  });

  it("refuses a job beyond its capacity with QueueFullError (back-pressure); enqueue is idempotent", async () => {
    const q = track(SqliteProofJobs.open(path.join(dir, "full.sqlite"), { capacity: 3 }));
    const ps = await Promise.all([0, 1, 2, 3].map((m) => jobPayload(f, m, 7n)));
    for (const p of ps.slice(0, 3)) expect((await q.enqueue(p)).state).to.equal("queued");
    let err: unknown;
    try {
      await q.enqueue(ps[3]);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(QueueFullError);
    expect(err).to.be.instanceOf(ProofJobError);
    expect((err as QueueFullError).code).to.equal("queue_full");
    expect((err as QueueFullError).pending).to.equal(3);
    // the same job again is not a new one: no error, no second row
    expect((await q.enqueue(ps[0])).state).to.equal("queued");
    expect(q.list()).to.have.length(3);
    expect(await q.pending()).to.equal(3);
    // once one is done there is room
    q.start(proofJobProver({ keys: f.keysDir }));
    await q.wait([ps[0].id]);
    await until(async () => (await q.pending()) < 3, 60_000, "room in the queue");
    expect((await q.enqueue(ps[3])).id).to.equal(ps[3].id);
    const all = await q.wait(ps.map((p) => p.id));
    expect(all.map((r) => r.state)).to.deep.equal(["done", "done", "done", "done"]);
  });

  it("claims only the given ids when start() names them", async () => {
    const q = track(SqliteProofJobs.open(path.join(dir, "ids.sqlite")));
    const [mine, other] = await Promise.all([jobPayload(f, 0, 9n), jobPayload(f, 1, 9n)]);
    await q.enqueue(other);
    await q.enqueue(mine);
    q.start(proofJobProver({ keys: f.keysDir }), { ids: [mine.id] });
    const [r] = await q.wait([mine.id]);
    expect(r.state).to.equal("done");
    await sleep(300);
    expect((await q.get(other.id))!.state).to.equal("queued");
    expect(q.events(other.id).map((e) => e.event)).to.deep.equal(["enqueued"]);
  });

  it("restart with 20 queued jobs after the prover process is killed: all 20 finish, none twice", async () => {
    const db = path.join(dir, "restart.sqlite");
    const ps = await Promise.all(Array.from({ length: 20 }, (_, m) => jobPayload(f, m, 20n)));
    const file = path.join(dir, "payloads.json");
    await writeFile(file, JSON.stringify(ps));
    // the first run: a separate process (its own process group, with its provers), killed with
    // SIGKILL while it proves, after at least 3 jobs are done
    const child = spawn(
      process.execPath,
      ["--import", "tsx", path.join(PROJECT_ROOT, "test", "mpi", "jobs-child.ts"), db, file, f.keysDir, "2"],
      { cwd: PROJECT_ROOT, detached: true, stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    let killedAt = -1;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d: string) => {
      out += d;
      const done = (out.match(/^done /gm) ?? []).length;
      if (killedAt < 0 && done >= 3 && /started [^\n]+\n$/.test(out)) {
        killedAt = done;
        process.kill(-child.pid!, "SIGKILL");
      }
    });
    await exited;
    expect(killedAt, `the first run ended before it could be killed:\n${out}`).to.be.greaterThan(0);
    // the restart: opening recovers the dead process's running jobs; every job is enqueued again
    const q = track(SqliteProofJobs.open(db));
    const before = q.list();
    expect(before).to.have.length(20);
    expect(before.filter((r) => r.state === "running")).to.have.length(0);
    const doneBefore = before.filter((r) => r.state === "done").length;
    expect(doneBefore).to.be.at.least(3);
    expect(doneBefore).to.be.lessThan(20);
    const recovered = q.events().filter((e) => e.event === "recovered");
    expect(recovered.length).to.be.at.least(1);
    const pool = track(new ProvingPool({ maxWorkers: 2 }));
    q.start(proofJobProver({ keys: f.keysDir, pool }), { concurrency: 2 });
    for (const p of ps) await q.enqueue(p, { retryFailed: true });
    const records: ProofJobRecord[] = await q.wait(ps.map((p) => p.id));
    expect(records.map((r) => r.state)).to.deep.equal(Array(20).fill("done"));
    const events = q.events();
    for (const p of ps) {
      expect(
        events.filter((e) => e.id === p.id && e.event === "done"),
        p.id,
      ).to.have.length(1);
    }
    // the restart proved only what was not done
    const startedAfter = events.filter((e) => e.event === "started" && e.owner === q.owner);
    expect(startedAfter).to.have.length(20 - doneBefore);
    for (const r of records) {
      const p = ps.find((x) => x.id === r.id)!;
      expect(await resultVerifies(f, p, r.result!), r.id).to.equal(true);
    }
  });
});
