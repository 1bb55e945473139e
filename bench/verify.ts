/**
 * Off-chain verification benchmark (`npm run bench:verify [-- shape,shape]`), against issue #5's
 * goal of <= 15 ms per module proof (ZKLoRA: 690 ms). Per module shape (default t2_i8_r2_o8 and
 * stories260k_q_t8_r4): makes 2 real proofs, then times (warm, median of >= 50 calls, proofs
 * alternated) stock `snarkjs.groth16.verify`, the PreparedVerifier of src/zk/verifier.ts,
 * `verifyModule` (the hot path: cached prepared verifier), the one-time prepare, and
 * `verifyBatch` per proof for n = 1, 4, 16 (the proofs repeated). Records os.loadavg() before and
 * after: other processes share this machine. Writes bench/results/verify-<date>.json.
 */
import os from "node:os";
import {
  buildCircuit,
  findShape,
  prepareVerifier,
  proveModule,
  verifyGroth16Snarkjs,
  verifyModule,
  type Groth16Proof,
} from "../src/zk/index.js";
import { benchWitness, runBench, writeBenchResult } from "./common.js";

const GOAL_MS = 15;
const RUNS = 60;
const BATCH_SIZES = [1, 4, 16];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round = (x: number) => Math.round(x * 1000) / 1000;

/** Times `f` `runs` times after 3 warm-up calls; returns the median and the 10th/90th percentiles. */
async function timeIt(runs: number, f: (i: number) => unknown): Promise<Record<string, number>> {
  for (let i = 0; i < 3; i++) await f(i);
  const ts: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const ok = await f(i);
    ts.push(performance.now() - t);
    if (ok !== true) throw new Error("a valid proof did not verify in the benchmark");
  }
  const s = [...ts].sort((a, b) => a - b);
  return {
    medianMs: round(median(ts)),
    p10Ms: round(s[Math.floor(runs * 0.1)]),
    p90Ms: round(s[Math.floor(runs * 0.9)]),
    runs,
  };
}

async function benchShape(name: string): Promise<Record<string, unknown>> {
  const art = await buildCircuit(await findShape(name));
  const proofs: { proof: Groth16Proof; sigs: bigint[] }[] = [];
  const proveMs: number[] = [];
  for (const seed of [1n, 2n]) {
    const t = performance.now();
    const { proof, publicSignals } = await proveModule(art, benchWitness(art.shape, seed));
    proveMs.push(Math.round(performance.now() - t));
    proofs.push({ proof, sigs: [...publicSignals] });
  }
  const pick = (i: number) => proofs[i % proofs.length];

  let t = performance.now();
  const pv = await prepareVerifier(art.vkey);
  const prepareMs = round(performance.now() - t);

  const loadBefore = os.loadavg();
  const snarkjs = await timeIt(RUNS, (i) => verifyGroth16Snarkjs(art.vkey, pick(i).proof, pick(i).sigs));
  const prepared = await timeIt(RUNS, (i) => pv.verify(pick(i).proof, pick(i).sigs));
  const hotPath = await timeIt(RUNS, (i) => verifyModule(art.vkey, pick(i).proof, pick(i).sigs));
  t = performance.now();
  pv.verifyBatch([proofs[0].proof], [proofs[0].sigs]); // builds the G_T power table once
  const batchTableMs = round(performance.now() - t);
  const batch: Record<string, unknown>[] = [];
  for (const n of BATCH_SIZES) {
    const items = Array.from({ length: n }, (_, i) => pick(i));
    const ps = items.map((x) => x.proof);
    const ss = items.map((x) => x.sigs);
    const runs = Math.max(10, Math.ceil(RUNS / n));
    const r = await timeIt(runs, () => pv.verifyBatch(ps, ss));
    batch.push({ n, batchMedianMs: r.medianMs, perProofMs: round(r.medianMs / n), runs });
  }
  const loadAfter = os.loadavg();
  return {
    shape: name,
    constraints: art.constraints,
    nPublic: pv.nPublic,
    proofsMade: proofs.length,
    proveMs,
    prepareMs,
    batchTableMs,
    snarkjs,
    prepared,
    verifyModule: hotPath,
    speedup: round(snarkjs.medianMs / prepared.medianMs),
    batch,
    meetsGoal: prepared.medianMs <= GOAL_MS,
    loadavg: { before: loadBefore.map(round), after: loadAfter.map(round) },
  };
}

async function main(): Promise<void> {
  const names = (process.argv[2] ?? "t2_i8_r2_o8,stories260k_q_t8_r4").split(",");
  const rows: Record<string, unknown>[] = [];
  for (const name of names) {
    const row = await benchShape(name);
    console.log(JSON.stringify(row));
    rows.push(row);
  }
  const out = {
    date: new Date().toISOString(),
    goal: `verify <= ${GOAL_MS} ms off-chain per module proof (issue #5; ZKLoRA: 690 ms)`,
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      loadavgAtEnd: os.loadavg().map(round),
      note: "shared machine: other processes run at the same time (see loadavg per shape)",
    },
    results: rows,
  };
  await writeBenchResult(`verify-${out.date.replace(/[:.]/g, "-")}`, out);
}

await runBench(main);
