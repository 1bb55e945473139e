/**
 * zklora:prove on proof jobs, through the tasks over JSON-RPC (a `hardhat node`, the tiny e2e deal
 * of 4 modules): the task killed mid-proof and run again resumes (every module proven, each job
 * done once), a third run proves nothing (the proof files verify); then with --redis a
 * `zklora:worker` proves the jobs and the proofs are accepted on-chain (submit, settle). The Redis
 * part needs `redis-server` (skipped with a printed reason without it).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { rm } from "node:fs/promises";
import path from "node:path";
import { expect } from "chai";
import { openDatabase } from "../../src/mpi/db.js";
import { checkRedis } from "../../src/mpi/jobs-redis.js";
import { PROJECT_ROOT } from "../../src/common/cache.js";
import {
  Background,
  HARDHAT_CLI,
  commitTiny,
  inferTiny,
  startServe,
  proposeToBuyer,
  freePort,
  hardhatOk,
  startE2e,
  stopE2e,
  type E2eEnv,
} from "../e2e/helpers.js";
import { until } from "./jobs-fixture.js";

/** A process in its own group (killed with its provers). */
function detached(args: string[], env: NodeJS.ProcessEnv): { child: ChildProcess; out: () => string } {
  const child = spawn(process.execPath, [HARDHAT_CLI, ...args], {
    cwd: PROJECT_ROOT,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  return { child, out: () => out };
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // gone
  }
}

describe("zklora:prove on proof jobs (hardhat node + tasks)", function () {
  this.timeout(900_000);
  let e2e: E2eEnv | undefined;
  let serve: Background | undefined;
  const others: ChildProcess[] = [];
  let env: NodeJS.ProcessEnv = {};
  let dir = "";
  const net = ["--network", "localhost"];
  const ws = () => ["--workspace", dir];

  before(async function () {
    e2e = await startE2e("zklora-jobs-e2e-", { modelSeed: 5, adapterSeed: 9, tokens: [1, 5] });
    env = e2e.env;
    dir = path.join(e2e.tmp, "deal");
    const tmp = e2e.tmp;
    await hardhatOk(
      [...net, "zklora:deploy", "--adapter", path.join(tmp, "adapter"), "--model", path.join(tmp, "model")],
      env,
    );
    await commitTiny(net, env, tmp, ws());
    await proposeToBuyer(net, env, ws(), "0.25");
    let url: string;
    ({ server: serve, url } = await startServe(net, env, ws()));
    await inferTiny(net, env, tmp, ws(), url);
    await hardhatOk([...net, "zklora:fund", ...ws(), "--url", url], env);
  });

  after(async function () {
    for (const c of others) {
      killGroup(c, "SIGKILL");
    }
    await stopE2e(e2e, serve);
  });

  /** The proof_jobs rows and the count of each event per job, read from <workspace>/server.sqlite. */
  const jobsTable = () => {
    const db = openDatabase(path.join(dir, "server.sqlite"));
    try {
      const hasTable = db
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'proof_jobs'")
        .get();
      if (hasTable === undefined) return { jobs: [], events: [] };
      return {
        jobs: db.prepare("SELECT id, state, attempts FROM proof_jobs ORDER BY seq").all() as {
          id: string;
          state: string;
          attempts: number;
        }[],
        events: db.prepare("SELECT id, event FROM proof_jobs_events ORDER BY seq").all() as {
          id: string;
          event: string;
        }[],
      };
    } finally {
      db.close();
    }
  };

  it("resumes after the task is killed mid-proof: every module proven, each job done once; a rerun proves nothing", async function () {
    const first = detached([...net, "zklora:prove", ...ws(), "--jobs", "2"], env);
    others.push(first.child);
    const exited = new Promise<void>((r) => first.child.once("exit", () => r()));
    await until(
      () => jobsTable().jobs.some((j) => j.state === "running") || first.child.exitCode !== null,
      300_000,
      "a proof job to run",
    );
    killGroup(first.child, "SIGKILL");
    await exited;
    expect(first.out()).not.to.match(/proved modules/);
    const killed = jobsTable();
    // killed while it proves, perhaps before it queued all 4 jobs
    expect(killed.jobs.length).to.be.within(1, 4);
    expect(killed.jobs.some((j) => j.state === "running")).to.equal(true);

    const again = await hardhatOk([...net, "zklora:prove", ...ws(), "--jobs", "2"], env);
    expect(again).to.match(/proved modules 0, 1, 2, 3 in/);
    const t = jobsTable();
    expect(t.jobs.map((j) => j.state)).to.deep.equal(["done", "done", "done", "done"]);
    expect(t.events.filter((e) => e.event === "recovered").length).to.be.at.least(1);
    for (const j of t.jobs) {
      expect(
        t.events.filter((e) => e.id === j.id && e.event === "done"),
        j.id,
      ).to.have.length(1);
    }

    const third = await hardhatOk([...net, "zklora:prove", ...ws(), "--jobs", "2"], env);
    expect(third).to.match(/proof files already verify \(not proved again\): modules 0, 1, 2, 3/);
    expect(third).to.match(/proved modules none/);
  });

  it("with --redis a zklora:worker proves the jobs, and the proofs settle the deal on-chain", async function () {
    const probe = spawnSync("redis-server", ["--version"]);
    if (probe.error !== undefined) {
      console.log(
        `      skipped: redis-server is not installed (${(probe.error as NodeJS.ErrnoException).code}; Debian: apt-get install redis-server)`,
      );
      this.skip();
    }
    const port = await freePort();
    const redisUrl = `redis://127.0.0.1:${port}`;
    const redis = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", e2e!.tmp],
      { stdio: "ignore" },
    );
    others.push(redis);
    await until(
      () =>
        checkRedis(redisUrl).then(
          () => true,
          () => false,
        ),
      30_000,
      "redis-server",
    );
    await rm(path.join(dir, "proofs"), { recursive: true, force: true });
    const worker = detached(
      [
        "zklora:worker",
        "--redis",
        redisUrl,
        "--keys",
        path.join(dir, "server-keys"),
        "--jobs",
        "2",
        "--lock-ms",
        "3000",
      ],
      env,
    );
    others.push(worker.child);
    const proved = await hardhatOk([...net, "zklora:prove", ...ws(), "--redis", redisUrl], env);
    expect(proved).to.match(/proved modules 0, 1, 2, 3 in/);
    expect(worker.out().match(/^proved \S+ in/gm) ?? []).to.have.length(4);
    const submitted = await hardhatOk([...net, "zklora:submit", ...ws(), "--from", "3"], env);
    expect(submitted).to.match(/4 of 4 modules proven/);
    const settled = await hardhatOk([...net, "zklora:settle", ...ws(), "--from", "3"], env);
    expect(settled).to.match(/settled deal 1: paid 0\.25 ETH/);
    killGroup(worker.child, "SIGTERM");
    redis.kill("SIGTERM");
  });
});
