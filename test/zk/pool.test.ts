/**
 * The proving pool (src/zk/pool.ts): real v2 proofs in prover processes, for the tiny shape's deal
 * key and its twin's initial key (same N, other bases). Concurrency, FIFO, the memory budget, typed
 * rejections, a crashed prover, close() and idle provers.
 */
import { expect } from "chai";
import { WitnessError, loraProduct, toField } from "../../src/zk/index.js";
import {
  PoolClosedError,
  ProverCrashedError,
  ProverFailedError,
  ProvingPool,
  ProvingPoolError,
  estimateProofMemory,
  type PoolCircuit,
} from "../../src/zk/pool.js";
import {
  V2Verifier,
  buildShapeKey,
  commitWeights,
  deltaOf,
  foldEntry,
  v2CircuitInput,
  v2PublicInputs,
  type G1Point,
  type ModuleOpening,
  type ShapeKey,
  type V2Statement,
} from "../../src/zk/v2/index.js";
import { CTX, RHO_CTX, TWIN_V2, randomOpening, randomRows, v2Fixture } from "./v2-fixture.js";
import { rejection } from "./helpers.js";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Child-process handles of this process (ProcessWrap), as Node reports its active resources. */
const processHandles = () => process.getActiveResourcesInfo().filter((r) => r === "ProcessWrap").length;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One shape's key, the zkey to prove with, its δ' and an opening with its W_m. */
interface Target {
  key: ShapeKey;
  circuit: PoolCircuit;
  verifier: V2Verifier;
  opening: ModuleOpening;
  W: G1Point;
}

/** A proof job: the circuit input of fresh rows, the public inputs it gives and the statement to verify. */
interface Job {
  input: Record<string, unknown>;
  expected: bigint[];
  st: V2Statement;
}

async function job(t: Target, seed: number): Promise<Job> {
  const X = randomRows(t.key.shape.DIN, 2, seed);
  const Y = loraProduct(X, t.opening.A as bigint[][], t.opening.B as bigint[][]);
  const e = await foldEntry(t.key, X, Y, { ...RHO_CTX, module: BigInt(seed) });
  const fold = { rho: e.rho, fY: e.fY, x: e.x };
  return {
    input: v2CircuitInput(t.key, fold, t.opening),
    expected: v2PublicInputs(t.key, fold, t.opening),
    st: { rho: e.rho, fY: e.fY, D_X: e.D_X, W_m: t.W },
  };
}

describe("# proving pool (prover processes; v2_i8_r2_o6, v2_i6_r2_o8)", function () {
  let tiny: Target;
  let twin: Target;
  const pools: ProvingPool[] = [];
  const poolOf = (opts: ConstructorParameters<typeof ProvingPool>[0]) => {
    const p = new ProvingPool(opts);
    pools.push(p);
    return p;
  };
  const prove = (pool: ProvingPool, t: Target, j: Job) => pool.proveInput(t.circuit, j.input, j.expected);

  before(async function () {
    const f = await v2Fixture();
    tiny = {
      key: f.key,
      circuit: { name: f.key.name, wasm: f.key.wasm, zkey: f.dealZkey },
      verifier: await V2Verifier.create(f.key.onchain, f.delta2),
      opening: f.opening,
      W: f.W,
    };
    const key = await buildShapeKey(TWIN_V2);
    const opening = randomOpening(TWIN_V2, 8);
    twin = {
      key,
      circuit: { name: key.name, wasm: key.wasm, zkey: key.zkey },
      verifier: await V2Verifier.create(key.onchain, (await deltaOf(key.zkey)).delta2),
      opening,
      W: (await commitWeights(key, opening, CTX)).W,
    };
  });

  after(async function () {
    await Promise.all(pools.map((p) => p.close()));
  });

  it("Should prove two shapes concurrently with proofs that verify, each only under its own key", async function () {
    const pool = poolOf({ maxWorkers: 2 });
    const targets = [tiny, twin, tiny];
    const jobs = await Promise.all(targets.map((t, i) => job(t, 1 + i)));
    const outs = await Promise.all(jobs.map((j, i) => prove(pool, targets[i], j)));
    for (let i = 0; i < jobs.length; i++) {
      expect(outs[i].publicSignals).to.deep.equal(jobs[i].expected);
      expect(await targets[i].verifier.verify(outs[i].proof, jobs[i].st), `proof ${i}`).to.equal(true);
      expect(outs[i].witnessMs).to.be.greaterThan(0);
      expect(outs[i].proveMs).to.be.greaterThan(0);
      expect(outs[i].pid).to.not.equal(process.pid);
    }
    expect(await twin.verifier.verify(outs[0].proof, jobs[0].st)).to.equal(false);
    const st = pool.stats();
    expect(st).to.include({
      maxRunning: 2,
      workers: 2,
      completed: 3,
      failed: 0,
      running: 0,
      reservedBytes: 0,
    });
    expect(st.peakRssBytes[tiny.key.name]).to.be.greaterThan(50 * 2 ** 20);
    expect(st.peakRssBytes[twin.key.name]).to.be.greaterThan(50 * 2 ** 20);
  });

  it("Should never run more proofs than maxWorkers and start them in FIFO order", async function () {
    const pool = poolOf({ maxWorkers: 1 });
    const jobs = await Promise.all([0, 1, 2].map((i) => job(tiny, 10 + i)));
    const done: number[] = [];
    let maxSeen = 0;
    const watch = setInterval(() => (maxSeen = Math.max(maxSeen, pool.stats().running)), 5);
    try {
      const outs = await Promise.all(jobs.map((j, i) => prove(pool, tiny, j).then((o) => (done.push(i), o))));
      expect(done).to.deep.equal([0, 1, 2]);
      expect(new Set(outs.map((o) => o.pid)).size).to.equal(1);
      // the later proofs waited for the earlier ones
      expect(outs[2].queuedMs).to.be.greaterThan(outs[1].queuedMs);
      expect(outs[1].queuedMs).to.be.greaterThan(outs[0].witnessMs);
    } finally {
      clearInterval(watch);
    }
    expect(maxSeen).to.equal(1);
    expect(pool.stats()).to.include({ maxRunning: 1, workers: 1 });
  });

  it("Should run one proof at a time when two do not fit the memory budget", async function () {
    const per = 100 * 2 ** 20;
    const pool = poolOf({ maxWorkers: 2, memoryBudgetBytes: 1.5 * per, proofMemoryBytes: () => per });
    expect(pool.reservation(tiny.circuit)).to.be.at.least(per);
    const jobs = await Promise.all([1, 2].map((s) => job(tiny, 20 + s)));
    const outs = await Promise.all(jobs.map((j) => prove(pool, tiny, j)));
    expect(pool.stats().maxRunning).to.equal(1);
    expect(outs[1].queuedMs).to.be.greaterThan(outs[0].witnessMs);
    // after a proof the reservation is at least the measured peak RSS of its prover
    expect(pool.reservation(tiny.circuit)).to.be.at.least(outs[0].proverPeakRssBytes);
    expect(estimateProofMemory(1000)).to.be.greaterThan(1000);
  });

  it("Should reject inputs the circuit refuses and claimed signals it does not give with WitnessError, and keep proving", async function () {
    const pool = poolOf({ maxWorkers: 1 });
    const j = await job(tiny, 6);
    const badInput = { ...j.input, fY: toField(j.st.fY + 1n).toString() };
    const err = await rejection(pool.proveInput(tiny.circuit, badInput, j.expected));
    expect(err).to.be.instanceOf(WitnessError);
    expect((err as Error).message).to.match(new RegExp(`do not satisfy the ${tiny.key.name} circuit`));
    const badClaim = [...j.expected];
    badClaim[badClaim.length - 1] = toField(badClaim[badClaim.length - 1] + 1n);
    const err2 = await rejection(pool.proveInput(tiny.circuit, j.input, badClaim));
    expect(err2).to.be.instanceOf(WitnessError);
    expect((err2 as Error).message).to.match(/public signals .* differ from the statement/);
    const out = await prove(pool, tiny, j);
    expect(await tiny.verifier.verify(out.proof, j.st)).to.equal(true);
    expect(pool.stats()).to.include({ failed: 2, completed: 1, crashed: 0, workers: 1 });
  });

  it("Should refuse another circuit's zkey, reject a file that is no zkey with ProverFailedError, and a missing zkey before proving", async function () {
    const pool = poolOf({ maxWorkers: 1 });
    const j = await job(tiny, 7);
    // snarkjs proves with any zkey; the pool's check of the public signals refuses the result
    const other = await rejection(
      pool.proveInput({ ...tiny.circuit, zkey: twin.circuit.zkey }, j.input, j.expected),
    );
    expect(other).to.be.instanceOf(WitnessError);
    expect((other as Error).message).to.match(/public signals .* differ from the statement/);
    const err = await rejection(
      pool.proveInput({ ...tiny.circuit, zkey: tiny.key.wasm }, j.input, j.expected),
    );
    expect(err).to.be.instanceOf(ProverFailedError);
    expect(err).to.be.instanceOf(ProvingPoolError);
    expect((err as ProverFailedError).code).to.equal("PROVER_FAILED");
    expect((err as Error).message).to.match(new RegExp(`snarkjs groth16 prove failed for ${tiny.key.name}`));
    const missing = await rejection(
      pool.proveInput({ ...tiny.circuit, zkey: `${tiny.circuit.zkey}.missing` }, j.input, j.expected),
    );
    expect(missing).to.be.instanceOf(ProverFailedError);
    expect((missing as Error).message).to.match(/cannot read the zkey/);
    const out = await prove(pool, tiny, j);
    expect(await tiny.verifier.verify(out.proof, j.st)).to.equal(true);
    expect(pool.stats()).to.include({ failed: 2, completed: 1, crashed: 0, killed: 0 });
  });

  it("Should reject with ProverCrashedError when a prover dies mid-proof, and replace it", async function () {
    const pool = poolOf({ maxWorkers: 1 });
    const [j1, j2] = await Promise.all([job(tiny, 9), job(tiny, 10)]);
    const p = prove(pool, tiny, j1);
    while (pool.pids().length === 0 || pool.stats().running === 0) await sleep(1);
    const [pid] = pool.pids();
    process.kill(pid, "SIGKILL"); // what the OOM killer does
    const err = await rejection(p);
    expect(err).to.be.instanceOf(ProverCrashedError);
    expect((err as Error).message).to.match(
      new RegExp(`died during the ${tiny.key.name} proof \\(killed by SIGKILL`),
    );
    const out = await prove(pool, tiny, j2);
    expect(out.pid).to.not.equal(pid);
    expect(await tiny.verifier.verify(out.proof, j2.st)).to.equal(true);
    expect(pool.stats()).to.include({ crashed: 1, failed: 1, completed: 1, workers: 1 });
  });

  it("Should reject queued and running proofs on close(), end every prover and leave no process handle", async function () {
    const jobs = await Promise.all([31, 32, 40, 41, 42, 43].map((s) => job(tiny, s)));
    const before = processHandles();
    const pool = new ProvingPool({ maxWorkers: 2 });
    // two provers that have proved (curves with threads), then busy again plus one queued
    await Promise.all(jobs.slice(0, 2).map((j) => prove(pool, tiny, j)));
    const pids = pool.pids();
    expect(pids).to.have.length(2);
    expect(processHandles(), "idle provers are unref'd").to.equal(before);
    const pending = jobs.slice(2, 5).map((j) => prove(pool, tiny, j));
    expect(pool.stats()).to.include({ running: 2, queued: 1 });
    expect(processHandles(), "busy provers keep the process alive").to.equal(before + 2);
    const reasons = Promise.all(pending.map(rejection));
    await pool.close();
    for (const r of await reasons) expect(r).to.be.instanceOf(PoolClosedError);
    for (const pid of pids) expect(alive(pid), `prover ${pid}`).to.equal(false);
    expect(pool.stats()).to.include({ workers: 0, running: 0, queued: 0, killed: 2 });
    expect(processHandles()).to.equal(before);
    expect(await rejection(prove(pool, tiny, jobs[5]))).to.be.instanceOf(PoolClosedError);
    await pool.close(); // idempotent
  });

  it("Should let an idle prover exit after idleTimeoutMs and start a new one for the next proof", async function () {
    const pool = poolOf({ maxWorkers: 1, idleTimeoutMs: 100 });
    const [j1, j2] = await Promise.all([job(tiny, 60), job(tiny, 61)]);
    const first = await prove(pool, tiny, j1);
    for (let i = 0; i < 200 && alive(first.pid); i++) await sleep(25);
    expect(alive(first.pid), "the idle prover exited").to.equal(false);
    expect(pool.pids()).to.deep.equal([]);
    const second = await prove(pool, tiny, j2);
    expect(second.pid).to.not.equal(first.pid);
    expect(await tiny.verifier.verify(second.proof, j2.st)).to.equal(true);
    expect(pool.stats()).to.include({ crashed: 0, killed: 0, completed: 2 });
  });

  it("Should close idle provers gracefully (each terminates its curve and exits; none killed)", async function () {
    const pool = new ProvingPool({ maxWorkers: 1 });
    await prove(pool, twin, await job(twin, 50));
    const [pid] = pool.pids();
    await pool.close();
    expect(alive(pid)).to.equal(false);
    expect(pool.stats()).to.include({ crashed: 0, killed: 0, workers: 0 });
  });
});
