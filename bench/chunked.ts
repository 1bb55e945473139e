/**
 * Chunked-variant benchmark (`npm run bench:chunked [-- --shape distilgpt2_c_attn] [--power 16]
 * [--skip-zkey-verify] [--sequential]`): one real LoRA module (bench/shapes.ts) proven as a chain of
 * small Groth16 proofs (src/zk/chunked.ts), NOT part of CI.
 *
 * 1. Chunk widths: the largest WA | DIN, WB | DOUT whose chunk circuits fit 2^power
 *    (`chooseChunkWidths`, the exact model of src/zk/cost.ts; the benchmark stops if a compiled
 *    r1cs differs from it).
 * 2. Build both chunk circuits as BENCHMARK targets (main files in the gitignored
 *    cache/zklora-chunk-main/, keys only in the content cache, never circuits/chunk/main, the
 *    manifest or contracts/verifiers): compile (wall time, compiler peak RSS from /proc VmHWM),
 *    groth16 setup from the development ptau (src/zk/devptau.ts), the development ceremony. With
 *    `--skip-zkey-verify` the ~14 min `zkey verify` is skipped: the development ceremony is
 *    deterministic from public strings, these keys are never committed or deployed (recorded in
 *    the JSON as `zkeyVerify: "skipped"`).
 * 3. Prove one module with random integer weights / activations in [-1000, 1000] (the range of
 *    bench/common.ts benchWitness) through the proving pool (every chunk submitted at once);
 *    `--sequential` also proves it in-process, one chunk after another.
 * 4. Verify the chain (checkChunkedModule: every chain rule + one batch verification per kind),
 *    cold (preparing the keys) and warm (median of 5), and check fY against statement.ts.
 *
 * Writes bench/results/chunked-<shape>-<ISO date>.json with the load average around each step.
 */
import { readdir, readFile, stat } from "node:fs/promises";
import os from "node:os";
import { parseArgs } from "node:util";
import {
  TOOL_VERSIONS,
  buildChunkedCircuits,
  checkChunkedModule,
  fingerprint,
  loraProduct,
  proveChunkedModule,
  randomChunkSalts,
  randomSalt,
  readR1csInfo,
  type ChunkedModuleProof,
  type ChunkedShape,
  type ChunkedWitness,
} from "../src/zk/index.js";
import { ProvingPool } from "../src/zk/pool.js";
import { runBench, writeBenchResult } from "./common.js";
import { chunkedBenchShape } from "./shapes.js";

const { values } = parseArgs({
  options: {
    shape: { type: "string", default: "distilgpt2_c_attn" },
    power: { type: "string", default: "16" },
    "skip-zkey-verify": { type: "boolean", default: false },
    sequential: { type: "boolean", default: false },
  },
});

const t0 = Date.now();
const log = (m: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(5)} s] ${m}`);
const loadavg = () => os.loadavg().map((x) => Math.round(x * 100) / 100);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0
    ? 0
    : s.length % 2
      ? s[(s.length - 1) / 2]
      : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const r1 = (x: number) => Math.round(x * 10) / 10;

/** Polls /proc for circom2 compiler processes and keeps the largest VmHWM (KiB) seen per main file. */
function watchCompilers(): { stop: () => Record<string, number> } {
  const peak: Record<string, number> = {};
  const timer = setInterval(() => {
    void (async () => {
      for (const pid of await readdir("/proc").catch(() => [] as string[])) {
        if (!/^\d+$/.test(pid)) continue;
        const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
        if (!cmd.includes("circom2") || !cmd.includes("cli.js")) continue;
        const main = cmd.split("\0").find((a) => a.endsWith(".circom")) ?? "?";
        const st = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
        const m = /VmHWM:\s+(\d+) kB/.exec(st);
        if (m) peak[main] = Math.max(peak[main] ?? 0, Number(m[1]));
      }
    })();
  }, 250);
  return {
    stop: () => {
      clearInterval(timer);
      return peak;
    },
  };
}

/** A chunked witness with integers in [-1000, 1000] from a 64-bit LCG (bench/common.ts's range). */
function chunkedBenchWitness(s: ChunkedShape, seed = 12345n): ChunkedWitness {
  let x = seed;
  const r = () => {
    x = (x * 6364136223846793005n + 1442695040888963407n) % 2n ** 64n;
    return ((x >> 20n) % 2001n) - 1000n;
  };
  const mat = (a: number, b: number) => Array.from({ length: a }, () => Array.from({ length: b }, r));
  return {
    A: mat(s.DIN, s.R),
    B: mat(s.R, s.DOUT),
    X: mat(s.T, s.DIN),
    salts: randomChunkSalts(s),
    rho: randomSalt(),
  };
}

function proveSummary(run: ChunkedModuleProof, wallMs: number, kind: string) {
  const of = (k: "A" | "B") => run.timings.filter((t) => t.kind === k);
  return {
    mode: kind,
    wallMs: Math.round(wallMs),
    perChunkProveMsMedian: {
      A: Math.round(median(of("A").map((t) => t.proveMs))),
      B: Math.round(median(of("B").map((t) => t.proveMs))),
    },
    perChunkWitnessMsMedian: {
      A: Math.round(median(of("A").map((t) => t.witnessMs))),
      B: Math.round(median(of("B").map((t) => t.witnessMs))),
    },
    sumProveMs: Math.round(run.timings.reduce((a, t) => a + t.proveMs, 0)),
    timings: run.timings.map((t) => ({
      ...t,
      witnessMs: Math.round(t.witnessMs),
      proveMs: Math.round(t.proveMs),
      queuedMs: Math.round(t.queuedMs),
    })),
  };
}

await runBench(async () => {
  const { base, shape, model } = chunkedBenchShape(values.shape, Number(values.power));
  log(
    `${shape.name}: ${model.KA} A chunks of ${model.a.total} + ${model.KB} B chunks of ${model.b.total} constraints (model)`,
  );

  // ---- build
  const phases: { step: string; seconds: number; loadavg: number[] }[] = [];
  const watcher = watchCompilers();
  const loadBuild = loadavg();
  const tb = performance.now();
  const art = await buildChunkedCircuits(shape, {
    bench: true,
    skipZkeyVerify: values["skip-zkey-verify"],
    onProgress: (m) => {
      const d = /^(.*) done in ([\d.]+) s$/.exec(m);
      if (d) phases.push({ step: d[1], seconds: Number(d[2]), loadavg: loadavg() });
      if (!/: (setup|contribute|beacon|verify): /.test(m)) log(m);
    },
  });
  const buildMs = performance.now() - tb;
  const compilerPeakKiB = watcher.stop();
  for (const [kind, t, m] of [
    ["A", art.a, model.a],
    ["B", art.b, model.b],
  ] as const) {
    const info = await readR1csInfo(t.r1cs);
    if (info.nConstraints !== m.total)
      throw new Error(
        `chunk ${kind}: r1cs has ${info.nConstraints} constraints, the model says ${m.total}: fix chunkConstraintModel`,
      );
  }
  log(`built in ${(buildMs / 1000).toFixed(0)} s (cache hits are fast); constraints = model`);

  // ---- prove
  const w = chunkedBenchWitness(shape);
  const fYmono = fingerprint(loraProduct(w.X, w.A, w.B), w.rho);
  const proofs: ReturnType<typeof proveSummary>[] = [];
  const pool = new ProvingPool();
  const loadPool = loadavg();
  let tp = performance.now();
  const run = await proveChunkedModule(art, w, { pool, onProgress: log });
  const poolMs = performance.now() - tp;
  const poolStats = pool.stats();
  await pool.close();
  proofs.push({
    ...proveSummary(run, poolMs, `pool (maxWorkers ${poolStats.maxWorkers})`),
    ...{ loadavgBefore: loadPool, loadavgAfter: loadavg() },
  } as never);
  log(`pool: ${run.proofs.length} chunk proofs in ${(poolMs / 1000).toFixed(1)} s`);
  if (run.fY !== fYmono) throw new Error("the chain's fY differs from the monolithic fingerprint");
  let seqMs: number | undefined;
  if (values.sequential) {
    const loadSeq = loadavg();
    tp = performance.now();
    const seq = await proveChunkedModule(art, w, { onProgress: log });
    seqMs = performance.now() - tp;
    proofs.push({
      ...proveSummary(seq, seqMs, "in-process sequential"),
      ...{ loadavgBefore: loadSeq, loadavgAfter: loadavg() },
    } as never);
    log(`sequential: ${(seqMs / 1000).toFixed(1)} s`);
  }

  // ---- verify
  const signals = { C_m: run.C_m, hX: run.hX, rho: w.rho, fY: run.fY };
  let tv = performance.now();
  const cold = await checkChunkedModule(art, signals, run.proofs);
  const verifyColdMs = performance.now() - tv;
  if (!cold.ok) throw new Error(`the chain does not verify: ${cold.reason}`);
  const warm: number[] = [];
  for (let i = 0; i < 5; i++) {
    tv = performance.now();
    const ok = await checkChunkedModule(art, signals, run.proofs);
    warm.push(performance.now() - tv);
    if (!ok.ok) throw new Error("the chain does not verify (warm)");
  }
  log(`verify: cold ${verifyColdMs.toFixed(0)} ms, warm median ${median(warm).toFixed(0)} ms`);

  const zkeyBytes = { A: (await stat(art.a.zkey)).size, B: (await stat(art.b.zkey)).size };
  const peakByKind = (stem: string) => {
    const e = Object.entries(compilerPeakKiB).find(([k]) => k.includes(stem));
    return e === undefined ? null : Math.round(e[1] / 1024);
  };
  const out = {
    bench: "chunked",
    date: new Date().toISOString(),
    command: `npm run bench:chunked -- ${process.argv.slice(2).join(" ")}`.trim(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memGiB: r1(os.totalmem() / 2 ** 30),
      node: process.version,
      ...TOOL_VERSIONS,
    },
    shape: { ...shape, source: base.note },
    chunkedShapeId: art.shapeId,
    chunks: { KA: model.KA, KB: model.KB, total: model.chunks },
    constraints: {
      A: art.a.constraints,
      B: art.b.constraints,
      modelA: model.a,
      modelB: model.b,
      module: model.total,
    },
    ptau: { A: art.a.ptau, B: art.b.ptau },
    ceremony: {
      mode: art.a.ceremony.mode,
      zkeyVerify: values["skip-zkey-verify"]
        ? "skipped (--skip-zkey-verify: deterministic public development ceremony, benchmark keys never committed or deployed)"
        : "run",
    },
    build: {
      wallMs: Math.round(buildMs),
      note: "phases absent from `phases` came from the content cache (an earlier run)",
      phases,
      compilerPeakRssMiB: { A: peakByKind(`a_${shape.name}`), B: peakByKind(`b_${shape.name}`) },
      loadavgBefore: loadBuild,
      loadavgAfter: loadavg(),
    },
    zkeyBytes,
    prove: proofs,
    proverPeakRssMiB: Object.fromEntries(
      Object.entries(poolStats.peakRssBytes).map(([k, v]) => [k, Math.round(v / 2 ** 20)]),
    ),
    fYEqualsMonolithicFingerprint: run.fY === fYmono,
    verify: {
      coldMs: Math.round(verifyColdMs),
      warmMsMedian: r1(median(warm)),
      warmMs: warm.map(r1),
      note: "every chain rule + one batch verification per chunk kind (prepared verifier)",
    },
    loadavgEnd: loadavg(),
  };
  await writeBenchResult(`chunked-${base.name}-${out.date.replace(/[:.]/g, "-")}`, out);
});
