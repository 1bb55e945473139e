/**
 * The native Groth16 prover against snarkjs (issue #20, `npm run bench:native [-- options]`), in
 * the same run, on the same deal key and witness, one child process per shape (its peak RSS is the
 * shape's; the native prover's own peak RSS is reported apart).
 *
 * Per shape: the shape key (project cache; built when missing, which for the Llama shapes means a
 * compile and a 2^17 / 2^18 setup: --no-build skips a shape whose key is not cached, with the
 * reason), a deal key (a real δ contribution), a random opening (weights in [-127, 127], int8
 * LoRA) and rows, the witness; then the native prover (a process per proof, as the proving pool
 * runs it, wall time from spawn to exit, --reps times with 1 thread and with 2) and snarkjs
 * (in-process `groth16.prove`, --snarkjs-reps times). Every proof is checked with the project's
 * verifier (V2Verifier under the deal key's δ').
 *
 * The deal: 24 distilgpt2 modules (6 layers x c_attn, attn c_proj, c_fc, mlp c_proj, as
 * bench/deal.ts), witness and proof for each through a ProvingPool (native, default workers and
 * threads), timed end to end; --no-deal skips it. Its snarkjs counterpart is estimated from the
 * per-shape snarkjs times of bench/results/deal-*.json when present, not rerun.
 *
 * Options: --shapes a,b (default: every shape below) · --reps N (default 3) · --snarkjs-reps N
 * (default 2) · --no-deal · --no-build.
 * Writes bench/results/native-<ISO date>.json.
 */
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import * as snarkjs from "snarkjs";
import { PROJECT_ROOT } from "../src/common/cache.js";
import { calculateWitness, loraProduct } from "../src/zk/index.js";
import { nativeProverStatus, proveNative, type NativeProveStats } from "../src/zk/native.js";
import { ProvingPool } from "../src/zk/pool.js";
import type { Groth16Proof } from "../src/zk/verifier.js";
import {
  V2Verifier,
  buildShapeKey,
  commitWeights,
  contributeDelta,
  deltaOf,
  foldEntry,
  randomFieldElement,
  v2CircuitInput,
  v2PublicInputs,
  type ShapeKey,
  type V2Shape,
} from "../src/zk/v2/index.js";
import { childResult, emitResult, machineInfo, randMatrix, runBench, writeBenchResult } from "./common.js";

interface BenchShape extends V2Shape {
  name: string;
  note: string;
}

const SHAPES: readonly BenchShape[] = [
  { name: "distilgpt2_c_attn", DIN: 768, R: 8, DOUT: 2304, note: "distilgpt2 attn.c_attn" },
  { name: "llama32_1b_q_proj", DIN: 2048, R: 8, DOUT: 2048, note: "Llama-3.2-1B q_proj" },
  { name: "llama31_8b_q_proj", DIN: 4096, R: 8, DOUT: 4096, note: "Llama-3.1-8B q_proj" },
];

/** The distilgpt2 deal's 24 modules (bench/deal.ts): 6 layers of these 4 shapes. */
const DEAL_SHAPES: readonly BenchShape[] = [
  { name: "c_attn", DIN: 768, R: 8, DOUT: 2304, note: "attn.c_attn" },
  { name: "attn_c_proj", DIN: 768, R: 8, DOUT: 768, note: "attn.c_proj" },
  { name: "c_fc", DIN: 768, R: 8, DOUT: 3072, note: "mlp.c_fc" },
  { name: "mlp_c_proj", DIN: 3072, R: 8, DOUT: 768, note: "mlp.c_proj" },
];
const DEAL_LAYERS = 6;

/** The goals. */
const GOALS = { cAttnProveS: 2, cAttnSpeedup: 3, dealProvingS: 60 };

const WEIGHT_BOUND = 127;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const progress = (m: string) => process.stderr.write(`  ${m}\n`);

const CTX = {
  chainId: 31337n,
  escrow: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  contributor: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
  module: 0,
};

/** A random module opening, its statement, circuit input and witness for a key. */
async function moduleJob(key: ShapeKey, seed: number) {
  const { DIN, R, DOUT } = key.shape;
  const opening = {
    A: randMatrix(DIN, R, WEIGHT_BOUND, seed),
    B: randMatrix(R, DOUT, WEIGHT_BOUND, seed + 1),
    salt: randomFieldElement(),
  };
  const { W } = await commitWeights(key, opening, { ...CTX, module: seed });
  const X = randMatrix(4, DIN, 2 ** 12, seed + 2);
  const e = await foldEntry(key, X, loraProduct(X, opening.A, opening.B), {
    chainId: 31337n,
    escrow: CTX.escrow,
    dealId: 1n,
    module: BigInt(seed),
  });
  const input = v2CircuitInput(key, e, opening);
  return {
    input,
    pub: v2PublicInputs(key, e, opening),
    st: { rho: e.rho, fY: e.fY, D_X: e.D_X, W_m: W },
  };
}

interface NativeRun {
  threads: number;
  wallS: number[];
  wallMedianS: number;
  /** The binary's own step times of the median run (ms). */
  stepsMs: Record<string, number>;
  /** CPU seconds (all threads) of each run: the cost, whatever the load. */
  cpuS: number[];
  cpuMedianS: number;
  peakRssBytes: number;
}

interface ShapeResult {
  name: string;
  note: string;
  DIN: number;
  R: number;
  DOUT: number;
  constraints: number;
  publicInputs: number;
  domainSize: number;
  zkeyBytes: number;
  keyWasCached: boolean;
  keySeconds: number;
  witnessS: number;
  native: NativeRun[];
  msmClasses: NativeProveStats["msm"];
  /** snarkjs in this process: wall and CPU seconds (CPU: every thread of the process). */
  snarkjs: { proveS: number[]; proveMedianS: number; cpuS: number[]; cpuMedianS: number };
  /** snarkjs median wall / best native median wall. */
  speedup: number;
  /** snarkjs median CPU / native 1-thread median CPU. */
  cpuRatio: number;
  /** This child process's peak RSS (Node, snarkjs, witness): snarkjs's peak. */
  processPeakRssBytes: number;
  load: { before: number[]; after: number[] };
}

async function verifyOrThrow(v: V2Verifier, proof: Groth16Proof, st: Parameters<V2Verifier["check"]>[1]) {
  const ok = await v.check(proof, st);
  if (!ok.ok) throw new Error(`a proof does not verify: ${ok.reason}`);
}

async function measureShape(
  shape: BenchShape,
  reps: number,
  sjReps: number,
  build: boolean,
): Promise<ShapeResult | { name: string; skipped: string }> {
  const load0 = os.loadavg();
  let building = false;
  let t = performance.now();
  const key = await buildShapeKey(shape, {
    onProgress: (m) => {
      if (/^compile |groth16 setup/.test(m)) building = true;
      if (building && !build) throw new Error(`NO_BUILD ${m}`);
      progress(m);
    },
  }).catch((err: Error) => {
    if (err.message.startsWith("NO_BUILD")) return null;
    throw err;
  });
  if (key === null)
    return { name: shape.name, skipped: "its shape key is not cached and --no-build was given" };
  const keySeconds = (performance.now() - t) / 1000;
  const work = await mkdtemp(path.join(os.tmpdir(), "zklora-bench-native-"));
  try {
    const dealZkey = path.join(work, "deal.zkey");
    await contributeDelta(key.zkey, dealZkey);
    const verifier = await V2Verifier.create(key.onchain, (await deltaOf(dealZkey)).delta2);
    const job = await moduleJob(key, 1);
    t = performance.now();
    const wtns = await calculateWitness(key, job.input);
    const witnessS = (performance.now() - t) / 1000;
    const native: NativeRun[] = [];
    let msmClasses: NativeProveStats["msm"] | undefined;
    for (const threads of [1, 2]) {
      const runs: { wallS: number; stats: NativeProveStats }[] = [];
      for (let i = 0; i < reps; i++) {
        const r = await proveNative(dealZkey, wtns, { threads });
        if (
          r.publicSignals.length !== job.pub.length ||
          r.publicSignals.some((s, j) => s !== job.pub[j].toString())
        )
          throw new Error("the native prover's public signals differ from the statement");
        await verifyOrThrow(verifier, r.proof, job.st);
        runs.push({ wallS: r.wallMs / 1000, stats: r.stats });
        progress(
          `native ${threads} thread(s): ${(r.wallMs / 1000).toFixed(2)} s ${JSON.stringify(r.stats.ms)}`,
        );
      }
      const sorted = [...runs].sort((a, b) => a.wallS - b.wallS);
      const mid = sorted[Math.floor(sorted.length / 2)];
      msmClasses = mid.stats.msm;
      native.push({
        threads,
        wallS: runs.map((r) => r.wallS),
        wallMedianS: mid.wallS,
        stepsMs: mid.stats.ms,
        cpuS: runs.map((r) => r.stats.cpuMs / 1000),
        cpuMedianS: median(runs.map((r) => r.stats.cpuMs / 1000)),
        peakRssBytes: Math.max(...runs.map((r) => r.stats.maxRssBytes)),
      });
    }
    const sj: number[] = [];
    const sjCpu: number[] = [];
    for (let i = 0; i < sjReps; i++) {
      t = performance.now();
      const c0 = process.cpuUsage();
      const out = await snarkjs.groth16.prove(dealZkey, { type: "mem", data: wtns });
      sj.push((performance.now() - t) / 1000);
      const c = process.cpuUsage(c0);
      sjCpu.push((c.user + c.system) / 1e6);
      await verifyOrThrow(verifier, out.proof as Groth16Proof, job.st);
      progress(`snarkjs: ${sj[sj.length - 1].toFixed(2)} s`);
    }
    const best = Math.min(...native.map((n) => n.wallMedianS));
    return {
      name: shape.name,
      note: shape.note,
      DIN: shape.DIN,
      R: shape.R,
      DOUT: shape.DOUT,
      constraints: key.constraints,
      publicInputs: key.publicInputs,
      domainSize: key.domainSize,
      zkeyBytes: (await stat(dealZkey)).size,
      keyWasCached: !building,
      keySeconds,
      witnessS,
      native,
      msmClasses: msmClasses!,
      snarkjs: { proveS: sj, proveMedianS: median(sj), cpuS: sjCpu, cpuMedianS: median(sjCpu) },
      speedup: median(sj) / best,
      cpuRatio: median(sjCpu) / native[0].cpuMedianS,
      processPeakRssBytes: process.resourceUsage().maxRSS * 1024,
      load: { before: load0, after: os.loadavg() },
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

interface DealResult {
  modules: number;
  workers: number;
  nativeThreads: number;
  prover: string;
  /** Wall time of all 24 witness + proofs through the pool (s), keys and deal keys ready. */
  provingS: number;
  perModule: { shape: string; witnessS: number; proveS: number }[];
  poolPeakRssBytes: Record<string, number>;
  snarkjsEstimate?: { provingS: number; source: string };
  load: { before: number[]; after: number[] };
}

/** snarkjs's time for the same 24 modules from the newest bench/results/deal-*.json, if any. */
async function snarkjsDealEstimate(): Promise<DealResult["snarkjsEstimate"]> {
  const dir = path.join(PROJECT_ROOT, "bench", "results");
  const files = (await readdir(dir).catch(() => [] as string[]))
    .filter((f) => /^deal-.*\.json$/.test(f))
    .sort();
  for (const f of files.reverse()) {
    try {
      const j = JSON.parse(await readFile(path.join(dir, f), "utf8")) as {
        proving?: { proofsWallS?: number; proveSumS?: number; pool?: { maxWorkers?: number } };
      };
      const s = j.proving?.proofsWallS;
      if (typeof s === "number")
        return {
          provingS: s,
          source: `bench/results/${f}: proving.proofsWallS (24 witnesses + snarkjs proofs, pool of ${j.proving?.pool?.maxWorkers ?? "?"} prover(s); another run, other load)`,
        };
    } catch {
      // not a deal result of this layout
    }
  }
  return undefined;
}

async function measureDeal(): Promise<DealResult> {
  const load0 = os.loadavg();
  const work = await mkdtemp(path.join(os.tmpdir(), "zklora-bench-native-deal-"));
  try {
    const jobs: {
      shape: string;
      circuit: { name: string; wasm: string; zkey: string };
      job: Awaited<ReturnType<typeof moduleJob>>;
      verifier: V2Verifier;
    }[] = [];
    for (const s of DEAL_SHAPES) {
      const key = await buildShapeKey(s, { onProgress: progress });
      const dealZkey = path.join(work, `${s.name}.zkey`);
      await contributeDelta(key.zkey, dealZkey);
      const verifier = await V2Verifier.create(key.onchain, (await deltaOf(dealZkey)).delta2);
      for (let l = 0; l < DEAL_LAYERS; l++) {
        jobs.push({
          shape: s.name,
          circuit: { name: key.name, wasm: key.wasm, zkey: dealZkey },
          job: await moduleJob(key, 100 + 10 * l),
          verifier,
        });
      }
    }
    const pool = new ProvingPool();
    try {
      const t = performance.now();
      const outs = await Promise.all(jobs.map((j) => pool.proveInput(j.circuit, j.job.input, j.job.pub)));
      const provingS = (performance.now() - t) / 1000;
      for (let i = 0; i < jobs.length; i++)
        await verifyOrThrow(jobs[i].verifier, outs[i].proof, jobs[i].job.st);
      return {
        modules: jobs.length,
        workers: pool.maxWorkers,
        nativeThreads: Math.max(1, Math.floor(os.availableParallelism() / pool.maxWorkers)),
        prover: pool.prover,
        provingS,
        perModule: outs.map((o, i) => ({
          shape: jobs[i].shape,
          witnessS: o.witnessMs / 1000,
          proveS: o.proveMs / 1000,
        })),
        poolPeakRssBytes: pool.stats().peakRssBytes,
        snarkjsEstimate: await snarkjsDealEstimate(),
        load: { before: load0, after: os.loadavg() },
      };
    } finally {
      await pool.close();
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { values: opt } = parseArgs({
    options: {
      reps: { type: "string", default: "3" },
      "snarkjs-reps": { type: "string", default: "2" },
      "no-build": { type: "boolean", default: false },
      "no-deal": { type: "boolean", default: false },
      child: { type: "string" },
      shapes: { type: "string" },
    },
  });
  const reps = Number(opt.reps);
  const sjReps = Number(opt["snarkjs-reps"]);
  const build = !opt["no-build"];
  const st = nativeProverStatus();
  if (!st.available) throw new Error(`the native prover is unavailable: ${st.reason}`);
  const child = opt.child;
  if (child !== undefined) {
    if (child === "deal") {
      emitResult(await measureDeal());
      return;
    }
    const shape = SHAPES.find((s) => s.name === child);
    if (shape === undefined) throw new Error(`unknown shape ${child}`);
    emitResult(await measureShape(shape, reps, sjReps, build));
    return;
  }
  const names = opt.shapes?.split(",") ?? SHAPES.map((s) => s.name);
  const shapes: (ShapeResult | { name: string; skipped: string })[] = [];
  for (const n of names) {
    if (!SHAPES.some((s) => s.name === n))
      throw new Error(`unknown shape ${n}; have ${SHAPES.map((s) => s.name).join(", ")}`);
    console.log(`== ${n}`);
    const childArgs = [
      process.argv[1],
      "--child",
      n,
      "--reps",
      String(reps),
      "--snarkjs-reps",
      String(sjReps),
    ];
    if (!build) childArgs.push("--no-build");
    let r: ShapeResult | { name: string; skipped: string };
    try {
      r = await childResult<ShapeResult | { name: string; skipped: string }>(childArgs, n);
    } catch (err) {
      r = { name: n, skipped: `failed: ${(err as Error).message}` };
    }
    shapes.push(r);
    if ("skipped" in r) {
      console.log(`   skipped: ${r.skipped}`);
      continue;
    }
    for (const nr of r.native)
      console.log(
        `   native ${nr.threads} thread(s): ${nr.wallMedianS.toFixed(2)} s (median of ${nr.wallS.length}), CPU ${nr.cpuMedianS.toFixed(2)} s, peak RSS ${(nr.peakRssBytes / 2 ** 20).toFixed(0)} MiB`,
      );
    console.log(
      `   snarkjs: ${r.snarkjs.proveMedianS.toFixed(2)} s (median of ${r.snarkjs.proveS.length}), CPU ${r.snarkjs.cpuMedianS.toFixed(2)} s (ratio ${r.cpuRatio.toFixed(1)}x), process peak RSS ${(r.processPeakRssBytes / 2 ** 20).toFixed(0)} MiB; speedup ${r.speedup.toFixed(1)}x; 2^${Math.log2(r.domainSize)}, ${r.constraints} constraints, ${r.publicInputs} public inputs; load ${r.load.before[0].toFixed(1)}→${r.load.after[0].toFixed(1)}`,
    );
  }
  let deal: DealResult | { skipped: string } | undefined;
  if (!opt["no-deal"]) {
    console.log(`== deal: ${DEAL_SHAPES.length * DEAL_LAYERS} distilgpt2 modules through the proving pool`);
    try {
      deal = await childResult<DealResult>([process.argv[1], "--child", "deal"], "deal");
      console.log(
        `   ${deal.modules} modules in ${deal.provingS.toFixed(1)} s (${deal.prover}, ${deal.workers} workers x ${deal.nativeThreads} thread(s))` +
          (deal.snarkjsEstimate
            ? `; snarkjs ${deal.snarkjsEstimate.provingS.toFixed(1)} s in ${deal.snarkjsEstimate.source}`
            : ""),
      );
    } catch (err) {
      deal = { skipped: `failed: ${(err as Error).message}` };
    }
  }
  const cAttn = shapes.find((s): s is ShapeResult => s.name === "distilgpt2_c_attn" && !("skipped" in s));
  const goals: Record<string, { goal: number; measured: number; met: boolean }> = {};
  if (cAttn !== undefined) {
    const best = Math.min(...cAttn.native.map((n) => n.wallMedianS));
    goals.cAttnProveS = { goal: GOALS.cAttnProveS, measured: best, met: best <= GOALS.cAttnProveS };
    goals.cAttnSpeedup = {
      goal: GOALS.cAttnSpeedup,
      measured: cAttn.speedup,
      met: cAttn.speedup >= GOALS.cAttnSpeedup,
    };
  }
  if (deal !== undefined && "provingS" in deal) {
    goals.dealProvingS = {
      goal: GOALS.dealProvingS,
      measured: deal.provingS,
      met: deal.provingS <= GOALS.dealProvingS,
    };
  }
  for (const [k, g] of Object.entries(goals))
    console.log(
      `   goal ${k} ${k.endsWith("Speedup") ? "≥" : "≤"} ${g.goal}: ${g.measured.toFixed(2)} ${g.met ? "met" : "NOT met"}`,
    );
  await writeBenchResult(`native-${new Date().toISOString().replace(/[:.]/g, "-")}`, {
    bench: "native Groth16 prover vs snarkjs (issue #20)",
    date: new Date().toISOString(),
    machine: machineInfo(),
    prover: st.path,
    weights: `int8: uniform in [-${WEIGHT_BOUND}, ${WEIGHT_BOUND}]`,
    shapes,
    deal,
    goals,
  });
}

await runBench(main);
