/**
 * Proving-pool benchmark (`npm run bench:pool [-- --n 3 --shape stories260k_q_t8_r4 --modes ...]`):
 * N module proofs proved sequentially in-process (proveModule, today's path) vs through the
 * proving pool (src/zk/pool.ts, prover processes) at concurrency 1 and 2 (all N submitted at once;
 * `pool2single`: 2 provers whose snarkjs curves use one thread each instead of one per core).
 * Per mode: wall time, throughput relative to in-process, per-proof witness/prove times, peak RSS
 * (the benchmark process and each prover), and the event loop's responsiveness while proving
 * (perf_hooks.monitorEventLoopDelay, 10 ms resolution: the delay a server's request would see).
 * Writes bench/results/prove-pool-<date>.json, with os.loadavg() (the machine is shared).
 *
 * Each mode runs in a fresh child process so that its peak RSS is its own. The circuit must be
 * built already (it is taken from the cache; a cold build is a long ceremony).
 */
import os from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { buildCircuit, findShape, moduleStatement, proveModule, verifyModule } from "../src/zk/index.js";
import { ProvingPool } from "../src/zk/pool.js";
import { benchWitness, childResult, emitResult, runBench, writeBenchResult } from "./common.js";

const SCRIPT = fileURLToPath(import.meta.url);
const MODES = ["inprocess", "pool1", "pool2", "pool2single"] as const;
type Mode = (typeof MODES)[number];

const { values } = parseArgs({
  options: {
    n: { type: "string", default: "3" },
    shape: { type: "string", default: "stories260k_q_t8_r4" },
    modes: { type: "string", default: MODES.join(",") },
    child: { type: "string" },
  },
});

interface ModeResult {
  mode: Mode;
  concurrency: number;
  n: number;
  wallMs: number;
  proofsPerMinute: number;
  /** Per proof: witness and prove ms (in the prover for pool modes). */
  witnessMs: number[];
  proveMs: number[];
  allVerified: boolean;
  /** Peak RSS of the benchmark process itself. */
  mainPeakRssMiB: number;
  /** Peak RSS of each prover process (pool modes). */
  proverPeakRssMiB: number[];
  /** Upper bound of the memory in use at once: main + every prover's peak. */
  totalPeakRssMiB: number;
  /** Event-loop delay while proving (ms): max, p99, mean. */
  eventLoopDelayMs: { max: number; p99: number; mean: number };
  loadavgBefore: number[];
  loadavgAfter: number[];
}

const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
const round = (xs: number[]) => xs.map((x) => Math.round(x));

async function child(mode: Mode, n: number, shapeName: string): Promise<void> {
  const art = await buildCircuit(await findShape(shapeName));
  const ws = Array.from({ length: n }, (_, i) => benchWitness(art.shape, 12345n + BigInt(i)));
  const pubs = await Promise.all(ws.map((w) => moduleStatement(w)));
  const concurrency = mode.startsWith("pool2") ? 2 : 1;
  const pool =
    mode === "inprocess"
      ? null
      : new ProvingPool({ maxWorkers: concurrency, singleThread: mode === "pool2single" });
  const witnessMs: number[] = [];
  const proveMs: number[] = [];
  const proofs: { proof: Parameters<typeof verifyModule>[1]; pub: readonly bigint[] }[] = [];
  const proverPeak = new Map<number, number>();
  const loadavgBefore = os.loadavg();
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  const t0 = performance.now();
  if (pool === null) {
    for (const w of ws) {
      let tw = 0;
      let tp = 0;
      const { proof, publicSignals } = await proveModule(art, w, {
        onProgress: (m) => {
          if (m.endsWith(": witness ...")) tw = performance.now();
          if (m.endsWith(": prove ...")) tp = performance.now();
        },
      });
      witnessMs.push(tp - tw);
      proveMs.push(performance.now() - tp);
      proofs.push({ proof, pub: publicSignals });
    }
  } else {
    const outs = await Promise.all(ws.map((w, i) => pool.prove(art, w, { expected: pubs[i] })));
    for (const o of outs) {
      witnessMs.push(o.witnessMs);
      proveMs.push(o.proveMs);
      proofs.push({ proof: o.proof, pub: o.publicSignals });
      proverPeak.set(o.pid, Math.max(proverPeak.get(o.pid) ?? 0, o.proverPeakRssBytes));
    }
  }
  const wallMs = performance.now() - t0;
  h.disable();
  const loadavgAfter = os.loadavg();
  await pool?.close();
  let allVerified = true;
  for (const p of proofs) allVerified &&= await verifyModule(art.vkey, p.proof, p.pub);
  const mainPeak = process.resourceUsage().maxRSS * 1024;
  const peaks = [...proverPeak.values()];
  const result: ModeResult = {
    mode,
    concurrency,
    n,
    wallMs: Math.round(wallMs),
    proofsPerMinute: Math.round((n / (wallMs / 60_000)) * 100) / 100,
    witnessMs: round(witnessMs),
    proveMs: round(proveMs),
    allVerified,
    mainPeakRssMiB: mib(mainPeak),
    proverPeakRssMiB: peaks.map(mib),
    totalPeakRssMiB: mib(mainPeak + peaks.reduce((a, b) => a + b, 0)),
    eventLoopDelayMs: {
      max: Math.round(h.max / 1e6),
      p99: Math.round(h.percentile(99) / 1e6),
      mean: Math.round(h.mean / 1e6),
    },
    loadavgBefore,
    loadavgAfter,
  };
  emitResult(result);
}

function runChild(mode: Mode, n: number, shape: string): Promise<ModeResult> {
  return childResult<ModeResult>(
    [SCRIPT, "--child", mode, "--n", String(n), "--shape", shape],
    `benchmark child ${mode}`,
  );
}

async function main(): Promise<void> {
  const n = Number(values.n);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--n must be a positive integer, got ${values.n}`);
  if (values.child !== undefined) return child(values.child as Mode, n, values.shape);
  const modes = values.modes.split(",").map((m) => m.trim()) as Mode[];
  for (const m of modes)
    if (!MODES.includes(m)) throw new Error(`unknown mode ${m}; modes: ${MODES.join(", ")}`);
  const art = await buildCircuit(await findShape(values.shape));
  const loadavgStart = os.loadavg();
  const results: ModeResult[] = [];
  for (const mode of modes) {
    const r = await runChild(mode, n, values.shape);
    console.log(JSON.stringify(r));
    results.push(r);
  }
  const base = results.find((r) => r.mode === "inprocess");
  const out = {
    date: new Date().toISOString(),
    shape: values.shape,
    constraints: art.constraints,
    n,
    machine: {
      cpus: os.cpus().length,
      availableParallelism: os.availableParallelism(),
      cpuModel: os.cpus()[0]?.model,
      memGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
    },
    loadavgStart,
    loadavgEnd: os.loadavg(),
    note: "in-process: proveModule sequentially (statement, witness and parts of proving on the main thread); poolK: all N submitted to a ProvingPool with maxWorkers K (prover processes, each snarkjs curve with one thread per core), the public signals given; pool2single: the same with singleThread curves (one thread per prover). wallMs includes each prover's start (fork, snarkjs import, curve build). Event-loop delay sampled at 10 ms resolution while proving. The machine is shared with other jobs: compare modes within one run only.",
    results: results.map((r) => ({
      ...r,
      throughputVsInProcess: base === undefined ? null : Math.round((base.wallMs / r.wallMs) * 100) / 100,
    })),
  };
  await writeBenchResult(`prove-pool-${out.date.replace(/[:.]/g, "-")}`, out);
}

await runBench(main);
