import { expect } from "chai";
import {
  ShapeError,
  WitnessError,
  buildCircuit,
  findShape,
  moduleStatement,
  proveModule,
  toField,
  verifyModule,
  type CircuitArtifacts,
  type PublicSignals,
} from "../../src/zk/index.js";
import {
  PoolClosedError,
  ProverCrashedError,
  ProverFailedError,
  ProvingPool,
  ProvingPoolError,
  estimateProofMemory,
} from "../../src/zk/pool.js";
import { randomWitness } from "./helpers.js";

/** Awaits a promise that must reject; returns the reason. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  expect.fail("the promise resolved");
}

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

/** The proving pool: real proofs in prover processes on the tiny shapes. */
describe("# proving pool (prover processes; t2_i8_r2_o8, t3_i5_r3_o4)", function () {
  let t2: CircuitArtifacts;
  let t3: CircuitArtifacts;
  const pools: ProvingPool[] = [];
  const poolOf = (opts: ConstructorParameters<typeof ProvingPool>[0]) => {
    const p = new ProvingPool(opts);
    pools.push(p);
    return p;
  };

  before(async function () {
    t2 = await buildCircuit(await findShape("t2_i8_r2_o8"));
    t3 = await buildCircuit(await findShape("t3_i5_r3_o4"));
  });

  after(async function () {
    await Promise.all(pools.map((p) => p.close()));
  });

  it("Should prove several shapes concurrently with proofs that verify and carry the in-process public signals", async function () {
    const pool = poolOf({ maxWorkers: 2 });
    const ws = [randomWitness(t2.shape, 1), randomWitness(t3.shape, 2), randomWitness(t2.shape, 3)];
    const arts = [t2, t3, t2];
    const [outs, inProcess] = await Promise.all([
      Promise.all(ws.map((w, i) => pool.prove(arts[i], w))),
      proveModule(t2, ws[0]),
    ]);
    for (let i = 0; i < ws.length; i++) {
      expect(outs[i].publicSignals).to.deep.equal(await moduleStatement(ws[i]));
      expect(await verifyModule(arts[i].vkey, outs[i].proof, outs[i].publicSignals), `proof ${i}`).to.equal(
        true,
      );
      expect(outs[i].witnessMs).to.be.greaterThan(0);
      expect(outs[i].proveMs).to.be.greaterThan(0);
      expect(outs[i].pid).to.not.equal(process.pid);
    }
    expect(outs[0].publicSignals).to.deep.equal(inProcess.publicSignals);
    // a proof of one shape does not verify under the other shape's key
    expect(await verifyModule(t3.vkey, outs[0].proof, outs[0].publicSignals)).to.equal(false);
    const st = pool.stats();
    expect(st.maxRunning).to.equal(2);
    expect(st.workers).to.equal(2);
    expect(st.completed).to.equal(3);
    expect(st.failed).to.equal(0);
    expect(st.running).to.equal(0);
    expect(st.reservedBytes).to.equal(0);
    expect(st.peakRssBytes.t2_i8_r2_o8).to.be.greaterThan(50 * 2 ** 20);
    expect(st.peakRssBytes.t3_i5_r3_o4).to.be.greaterThan(50 * 2 ** 20);
  });

  it("Should prove with the claimed public signals when they are the witness's", async function () {
    const pool = poolOf({ maxWorkers: 1 });
    const w = randomWitness(t3.shape, 4);
    const pub = await moduleStatement(w);
    const out = await pool.prove(t3, w, { expected: pub });
    expect(out.publicSignals).to.deep.equal(pub);
    expect(await verifyModule(t3.vkey, out.proof, pub)).to.equal(true);
  });

  it("Should never run more proofs than maxWorkers and start them in FIFO order", async function () {
    const pool = poolOf({ maxWorkers: 1 });
    const done: number[] = [];
    let maxSeen = 0;
    const watch = setInterval(() => (maxSeen = Math.max(maxSeen, pool.stats().running)), 5);
    try {
      const outs = await Promise.all(
        [0, 1, 2].map((i) => pool.prove(t2, randomWitness(t2.shape, 10 + i)).then((o) => (done.push(i), o))),
      );
      expect(done).to.deep.equal([0, 1, 2]);
      expect(new Set(outs.map((o) => o.pid)).size).to.equal(1);
      // the later proofs waited for the earlier ones
      expect(outs[2].queuedMs).to.be.greaterThan(outs[1].queuedMs);
      expect(outs[1].queuedMs).to.be.greaterThan(outs[0].witnessMs);
    } finally {
      clearInterval(watch);
    }
    expect(maxSeen).to.equal(1);
    expect(pool.stats().maxRunning).to.equal(1);
    expect(pool.stats().workers).to.equal(1);
  });

  it("Should run one proof at a time when two do not fit the memory budget", async function () {
    const per = 100 * 2 ** 20;
    const pool = poolOf({ maxWorkers: 2, memoryBudgetBytes: 1.5 * per, proofMemoryBytes: () => per });
    expect(pool.reservation(t2)).to.be.at.least(per);
    const outs = await Promise.all([1, 2].map((s) => pool.prove(t2, randomWitness(t2.shape, 20 + s))));
    expect(pool.stats().maxRunning).to.equal(1);
    expect(outs[1].queuedMs).to.be.greaterThan(outs[0].witnessMs);
    // after a proof the reservation is at least the measured peak RSS of its prover
    expect(pool.reservation(t2)).to.be.at.least(outs[0].proverPeakRssBytes);
    expect(estimateProofMemory(1000)).to.be.greaterThan(1000);
  });

  it("Should reject a witness of the wrong shape with ShapeError, without a prover", async function () {
    const pool = poolOf({ maxWorkers: 1 });
    const err = await rejection(pool.prove(t2, randomWitness(t3.shape, 5)));
    expect(err).to.be.instanceOf(ShapeError);
    expect((err as Error).message).to.match(/A \(DIN x R for shape t2_i8_r2_o8\) must have 8 rows, got 5/);
    expect(pool.stats().workers).to.equal(0);
  });

  it("Should reject an inconsistent witness with WitnessError naming the signal, and keep proving", async function () {
    const pool = poolOf({ maxWorkers: 1 });
    const w = randomWitness(t2.shape, 6);
    const pub = await moduleStatement(w);
    const badFy: PublicSignals = [pub[0], pub[1], pub[2], toField(pub[3] + 1n)];
    const err = await rejection(pool.prove(t2, w, { expected: badFy }));
    expect(err).to.be.instanceOf(WitnessError);
    expect((err as Error).message).to.match(/do not satisfy the t2_i8_r2_o8 circuit/);
    expect((err as Error).message).to.match(/claimed fY\)/);
    const badCm: PublicSignals = [toField(pub[0] + 1n), pub[1], pub[2], pub[3]];
    expect(((await rejection(pool.prove(t2, w, { expected: badCm }))) as Error).message).to.match(
      /claimed C_m\)/,
    );
    const out = await pool.prove(t2, w, { expected: pub });
    expect(await verifyModule(t2.vkey, out.proof, pub)).to.equal(true);
    const st = pool.stats();
    expect(st).to.include({ failed: 2, completed: 1, crashed: 0, workers: 1 });
  });

  it("Should reject a zkey of another circuit with ProverFailedError, and a missing zkey before proving", async function () {
    const pool = poolOf({ maxWorkers: 1 });
    const err = await rejection(pool.prove({ ...t2, zkey: t3.zkey }, randomWitness(t2.shape, 7)));
    expect(err).to.be.instanceOf(ProverFailedError);
    expect(err).to.be.instanceOf(ProvingPoolError);
    expect((err as ProverFailedError).code).to.equal("PROVER_FAILED");
    expect((err as Error).message).to.match(/snarkjs groth16 prove failed for t2_i8_r2_o8/);
    const missing = await rejection(
      pool.prove({ ...t2, zkey: `${t2.zkey}.missing` }, randomWitness(t2.shape, 7)),
    );
    expect(missing).to.be.instanceOf(ProverFailedError);
    expect((missing as Error).message).to.match(/cannot read the zkey/);
    const out = await pool.prove(t2, randomWitness(t2.shape, 8));
    expect(await verifyModule(t2.vkey, out.proof, out.publicSignals)).to.equal(true);
    expect(pool.stats()).to.include({ failed: 1, completed: 1, crashed: 0, killed: 0 });
  });

  it("Should reject with ProverCrashedError when a prover dies mid-proof, and replace it", async function () {
    const pool = poolOf({ maxWorkers: 1 });
    const p = pool.prove(t2, randomWitness(t2.shape, 9));
    while (pool.pids().length === 0 || pool.stats().running === 0) await sleep(5);
    const [pid] = pool.pids();
    process.kill(pid, "SIGKILL"); // what the OOM killer does
    const err = await rejection(p);
    expect(err).to.be.instanceOf(ProverCrashedError);
    expect((err as Error).message).to.match(/died during the t2_i8_r2_o8 proof \(killed by SIGKILL/);
    const out = await pool.prove(t2, randomWitness(t2.shape, 10));
    expect(out.pid).to.not.equal(pid);
    expect(await verifyModule(t2.vkey, out.proof, out.publicSignals)).to.equal(true);
    expect(pool.stats()).to.include({ crashed: 1, failed: 1, completed: 1, workers: 1 });
  });

  it("Should reject queued and running proofs on close(), end every prover and leave no process handle", async function () {
    const before = processHandles();
    const pool = new ProvingPool({ maxWorkers: 2 });
    // two provers that have proved (curves with threads), then busy again plus one queued
    await Promise.all([1, 2].map((s) => pool.prove(t2, randomWitness(t2.shape, 30 + s))));
    const pids = pool.pids();
    expect(pids).to.have.length(2);
    expect(processHandles(), "idle provers are unref'd").to.equal(before);
    const running = pool.prove(t2, randomWitness(t2.shape, 40));
    const queued = [pool.prove(t2, randomWitness(t2.shape, 41)), pool.prove(t2, randomWitness(t2.shape, 42))];
    expect(pool.stats()).to.include({ running: 2, queued: 1 });
    expect(processHandles(), "busy provers keep the process alive").to.equal(before + 2);
    const reasons = Promise.all([running, ...queued].map(rejection));
    await pool.close();
    for (const r of await reasons) expect(r).to.be.instanceOf(PoolClosedError);
    for (const pid of pids) expect(alive(pid), `prover ${pid}`).to.equal(false);
    expect(pool.stats()).to.include({ workers: 0, running: 0, queued: 0, killed: 2 });
    expect(processHandles()).to.equal(before);
    expect(await rejection(pool.prove(t2, randomWitness(t2.shape, 43)))).to.be.instanceOf(PoolClosedError);
    await pool.close(); // idempotent
  });

  it("Should let an idle prover exit after idleTimeoutMs and start a new one for the next proof", async function () {
    const pool = poolOf({ maxWorkers: 1, idleTimeoutMs: 100 });
    const first = await pool.prove(t2, randomWitness(t2.shape, 60));
    for (let i = 0; i < 200 && alive(first.pid); i++) await sleep(25);
    expect(alive(first.pid), "the idle prover exited").to.equal(false);
    expect(pool.pids()).to.deep.equal([]);
    const second = await pool.prove(t2, randomWitness(t2.shape, 61));
    expect(second.pid).to.not.equal(first.pid);
    expect(await verifyModule(t2.vkey, second.proof, second.publicSignals)).to.equal(true);
    expect(pool.stats()).to.include({ crashed: 0, killed: 0, completed: 2 });
  });

  it("Should close idle provers gracefully (each terminates its curve and exits; none killed)", async function () {
    const pool = new ProvingPool({ maxWorkers: 1 });
    await pool.prove(t3, randomWitness(t3.shape, 50));
    const [pid] = pool.pids();
    await pool.close();
    expect(alive(pid)).to.equal(false);
    expect(pool.stats()).to.include({ crashed: 0, killed: 0, workers: 0 });
  });
});
