/**
 * The v1 proving benchmark of issue #5 (`npm run bench:v1 [-- options]`).
 *
 * MEASURED, per committed shape (circuits/shapes.json; the cached keys are reused, a cold ceremony is
 * refused): constraints (r1cs), compile time and compiler peak RSS (a fresh compile into a temp dir),
 * witness / prove (median of --reps) / verify time, peak RSS of the proving process, zkey size; gas
 * of an on-chain submit (bench/gas.ts, run as a child). The load average is recorded around each.
 *
 * EXACT, per real LoRA shape (distilgpt2 c_attn, Llama q/v_proj) and a ladder between: constraints
 * from src/zk/cost.ts, whose formula this run first checks against every compiled r1cs (it stops
 * when one differs). With --compile-big they are also compiled (r1cs only, temp dir, no setup).
 *
 * EXTRAPOLATED (labelled so): prove time, zkey size, prover RSS, compile time/memory, setup time.
 * MODEL (circuits that do not exist here): packing 16/8-bit values before hashing, 2^16 chunk proofs.
 *
 * Options: --reps N (prove repetitions, default 3) · --shapes a,b (committed shapes to measure) ·
 * --no-compile · --no-gas · --gas-shapes a,b (default t2_i8_r2_o8) · --compile-big[=name,name] ·
 * --compile-big-all (keep compiling after an out-of-memory) · --compile-timeout S (default 1800).
 * Writes bench/results/bench-<ISO date>.json and .md. `--render FILE.json` derives an earlier run's extrapolations again (current code) and re-renders its .md.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as snarkjs from "snarkjs";
import { PROJECT_ROOT } from "../src/common/cache.js";
import { TOOL_VERSIONS, buildCircuit } from "../src/zk/build.js";
import { constraintModel } from "../src/zk/cost.js";
import {
  calculateWitness,
  circuitInput,
  moduleStatement,
  verifyModule,
  type Groth16Proof,
} from "../src/zk/prove.js";
import { findShape, loadShapes, type Shape } from "../src/zk/shape.js";
import { compileMeasured, type CompileMeasurement } from "./compile-measure.js";
import {
  bigRow,
  comparisons,
  extrapolationBase,
  type BigRow,
  type CompilePoint,
  type MeasuredRow,
  type ProveMeasurement,
} from "./extrapolate.js";
import { batchRows, markdownReport, type BenchResult } from "./report.js";
import { LADDER_SHAPES, REAL_SHAPES, ZKLORA_PUBLISHED, RECORDED_SETUP, type BenchShape } from "./shapes.js";
import { benchWitness, emitResult } from "./common.js";

const SCRIPT = fileURLToPath(import.meta.url);
const RESULTS = path.join(PROJECT_ROOT, "bench", "results");

/** The benchmark could not produce a trustworthy number; the message says what to fix. */
export class BenchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BenchError";
  }
}

interface Options {
  reps: number;
  shapes?: string[];
  compile: boolean;
  gas: boolean;
  gasShapes: string[];
  compileBig?: string[] | "all";
  compileBigAll: boolean;
  compileTimeoutS: number;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    reps: 3,
    compile: true,
    gas: true,
    gasShapes: ["t2_i8_r2_o8"],
    compileBigAll: false,
    compileTimeoutS: 1800,
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split("=", 2) as [string, string | undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new BenchError(`${flag} needs a value`);
      return v;
    };
    if (flag === "--reps") o.reps = Number(value());
    else if (flag === "--shapes") o.shapes = value().split(",");
    else if (flag === "--no-compile") o.compile = false;
    else if (flag === "--no-gas") o.gas = false;
    else if (flag === "--gas-shapes") o.gasShapes = value().split(",");
    else if (flag === "--compile-big") o.compileBig = inline !== undefined ? inline.split(",") : "all";
    else if (flag === "--compile-big-all") o.compileBigAll = true;
    else if (flag === "--compile-timeout") o.compileTimeoutS = Number(value());
    else throw new BenchError(`unknown option ${flag} (see the header of bench/index.ts)`);
  }
  if (!Number.isInteger(o.reps) || o.reps < 1) throw new BenchError("--reps must be a positive integer");
  if (!(o.compileTimeoutS > 0))
    throw new BenchError("--compile-timeout must be a positive number of seconds");
  return o;
}

const round = (x: number, d = 0) => Math.round(x * 10 ** d) / 10 ** d;
const loadavg = () => os.loadavg().map((x) => round(x, 2));
export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** Refuses anything but a cache hit: a cold ceremony at 2^16 blocks both cores for 10–45 min. */
async function warmArtifacts(shape: Shape) {
  return buildCircuit(shape, {
    onProgress: (m) => {
      if (/groth16 setup|generate|contribution|beacon/.test(m)) {
        throw new BenchError(
          `${shape.name} is not in the cache (the bench would run a ceremony: "${m}"); run \`npm run circuits\` first`,
        );
      }
    },
  });
}

/** Child process: witness + prove `reps` times and verify, so that the peak RSS is proving's own. */
async function childProve(name: string, reps: number): Promise<void> {
  const art = await warmArtifacts(await findShape(name));
  const w = benchWitness(art.shape);
  const input = circuitInput(w, await moduleStatement(w));
  const witnessMs: number[] = [];
  const proveMs: number[] = [];
  const verifyMs: number[] = [];
  let allVerified = true;
  for (let i = 0; i < reps; i++) {
    let t = performance.now();
    const wtns = await calculateWitness(art, input);
    witnessMs.push(performance.now() - t);
    t = performance.now();
    const out = await snarkjs.groth16.prove(art.zkey, { type: "mem", data: wtns });
    proveMs.push(performance.now() - t);
    t = performance.now();
    allVerified &&= await verifyModule(art.vkey, out.proof as Groth16Proof, out.publicSignals);
    verifyMs.push(performance.now() - t);
  }
  const r = { witnessMs, proveMs, verifyMs, allVerified, peakRssMiB: process.resourceUsage().maxRSS / 1024 };
  emitResult(r);
}

function runNode(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(args[0], args.slice(1), { cwd: PROJECT_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => {
      out += d.toString();
      process.stderr.write(d);
    });
    p.on("error", reject);
    p.on("close", (code) => resolve({ code: code ?? -1, out }));
  });
}

async function measureProve(name: string, reps: number): Promise<ProveMeasurement> {
  const loadavgBefore = loadavg();
  const { code, out } = await runNode([
    process.execPath,
    ...process.execArgv,
    SCRIPT,
    "--child-prove",
    name,
    String(reps),
  ]);
  const line = out.split("\n").find((l) => l.startsWith("RESULT "));
  if (code !== 0 || line === undefined)
    throw new BenchError(`proving child for ${name} failed (exit ${code})`);
  const r = JSON.parse(line.slice(7)) as {
    witnessMs: number[];
    proveMs: number[];
    verifyMs: number[];
    allVerified: boolean;
    peakRssMiB: number;
  };
  if (!r.allVerified) throw new BenchError(`a ${name} proof did not verify: the artifacts are inconsistent`);
  return {
    reps,
    witnessMs: r.witnessMs.map((x) => round(x)),
    proveMs: r.proveMs.map((x) => round(x)),
    verifyMs: r.verifyMs.map((x) => round(x, 1)),
    witnessMedianMs: round(median(r.witnessMs)),
    proveMedianMs: round(median(r.proveMs)),
    verifyMedianMs: round(median(r.verifyMs), 1),
    peakRssMiB: round(r.peakRssMiB),
    loadavgBefore,
    loadavgAfter: loadavg(),
  };
}

interface GasRun {
  shape: string;
  ok: boolean;
  loadavgBefore: number[];
  loadavgAfter: number[];
  wallMs: number;
  gas?: Record<string, string | number>;
  file?: string;
  error?: string;
}

/** Runs bench/gas.ts (real proofs through the escrow on Hardhat's chain) and reads what it wrote. */
async function measureGas(shape: string): Promise<GasRun> {
  const loadavgBefore = loadavg();
  const started = new Date();
  const t0 = performance.now();
  const hardhat = path.join(PROJECT_ROOT, "node_modules", ".bin", "hardhat");
  const { code, out } = await runNode([hardhat, "run", "bench/gas.ts"], {
    ...process.env,
    ZKLORA_GAS_SHAPE: shape,
  });
  const wallMs = round(performance.now() - t0);
  const file = path.join(RESULTS, `gas-${started.toISOString().slice(0, 10)}.json`);
  const base = { shape, loadavgBefore, loadavgAfter: loadavg(), wallMs };
  if (code !== 0 || !existsSync(file)) return { ...base, ok: false, error: out.slice(-1500) };
  const json = JSON.parse(await readFile(file, "utf8")) as { date: string; gas: Record<string, string> };
  if (new Date(json.date) < started)
    return { ...base, ok: false, error: `${file} was not rewritten by this run` };
  return { ...base, ok: true, gas: json.gas, file: path.relative(PROJECT_ROOT, file) };
}

/** The newest bench/results/gas-*.json (an earlier bench/gas.ts run), if any. */
async function latestGasFile(): Promise<
  { file: string; date: string; gas: Record<string, string> } | undefined
> {
  if (!existsSync(RESULTS)) return undefined;
  const last = (await readdir(RESULTS))
    .filter((f) => /^gas-.*\.json$/.test(f))
    .sort()
    .at(-1);
  if (last === undefined) return undefined;
  const j = JSON.parse(await readFile(path.join(RESULTS, last), "utf8")) as {
    date: string;
    gas: Record<string, string>;
  };
  return { file: `bench/results/${last}`, date: j.date, gas: j.gas };
}

/** H3's batch-verification results (bench/batch.ts), when present: the newest file, as written. */
async function latestBatch(): Promise<{ file: string; data: unknown } | undefined> {
  if (!existsSync(RESULTS)) return undefined;
  const files = (await readdir(RESULTS)).filter((f) => /^batch-.*\.json$/.test(f)).sort();
  const last = files.at(-1);
  if (last === undefined) return undefined;
  return {
    file: `bench/results/${last}`,
    data: JSON.parse(await readFile(path.join(RESULTS, last), "utf8")),
  };
}

async function manifestConstraints(): Promise<Map<string, number>> {
  const m = JSON.parse(await readFile(path.join(PROJECT_ROOT, "circuits", "manifest.json"), "utf8")) as {
    shapes: { name: string; constraints: number }[];
  };
  return new Map(m.shapes.map((s) => [s.name, s.constraints]));
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === "--child-prove") return childProve(argv[1], Number(argv[2]));
  if (argv[0] === "--render") {
    // Re-renders the Markdown of an earlier run's JSON (e.g. after changing bench/report.ts).
    // The extrapolations are derived again from the run's measurements with the current code.
    const file = path.resolve(argv[1] ?? "");
    const r = JSON.parse(await readFile(file, "utf8")) as BenchResult;
    const okGas = r.gas.find((g) => g.ok) ?? r.previousGas;
    const base = extrapolationBase(r.measured, r.compilePoints);
    const batchBest = batchRows(r.batch).sort((a, b) => b.n - a.n)[0];
    const big = r.bigShapes.map((old) => {
      const { name, kind, T, DIN, R, DOUT, note } = old;
      const row = bigRow({ name, kind, T, DIN, R, DOUT, note }, base, {
        submitGas: okGas?.gas?.submit !== undefined ? Number(okGas.gas.submit) : undefined,
        submitManyGas:
          okGas?.gas?.submitMany_perProof !== undefined ? Number(okGas.gas.submitMany_perProof) : undefined,
        batch: batchBest,
      });
      row.compile = old.compile;
      row.compileSkipped = old.compileSkipped;
      return row;
    });
    r.extrapolationBase = base;
    r.bigShapes = big;
    r.comparisons = comparisons(big, base, r.measured);
    await writeFile(file, JSON.stringify(r, null, 2) + "\n");
    const md = markdownReport(r);
    await writeFile(file.replace(/\.json$/, ".md"), md);
    console.log(md);
    return;
  }
  const opts = parseArgs(argv);
  const startedAt = new Date();
  const log = (m: string) => console.error(`[bench] ${m}`);
  const environment = {
    date: startedAt.toISOString(),
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model,
    memGiB: round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    tools: TOOL_VERSIONS,
    loadavgStart: loadavg(),
    argv,
  };

  // 1. Committed shapes: measured, and the formula checked against each r1cs.
  const committed = (await loadShapes()).filter(
    (s) => opts.shapes === undefined || opts.shapes.includes(s.name),
  );
  const manifest = await manifestConstraints();
  const measured: MeasuredRow[] = [];
  const formulaChecks: { shape: string; source: string; r1cs: number; model: number; match: boolean }[] = [];
  const check = (shape: Shape, source: string, r1cs: number) => {
    const model = constraintModel(shape).total;
    formulaChecks.push({ shape: shape.name, source, r1cs, model, match: r1cs === model });
    if (r1cs !== model) {
      throw new BenchError(
        `constraint model mismatch for ${shape.name} (${source}): r1cs has ${r1cs}, src/zk/cost.ts says ${model}; ` +
          "fix constraintModel before trusting any extrapolation",
      );
    }
  };
  for (const shape of committed) {
    log(`${shape.name}: artifacts (cache)`);
    const art = await warmArtifacts(shape);
    check(shape, "cached r1cs", art.constraints);
    const inManifest = manifest.get(shape.name);
    if (inManifest !== undefined) check(shape, "circuits/manifest.json", inManifest);
    let compile: CompileMeasurement | undefined;
    if (opts.compile) {
      log(`${shape.name}: compile (temp dir, --O2 --r1cs --wasm)`);
      compile = await compileMeasured(shape, { wasm: true, timeoutMs: opts.compileTimeoutS * 1000 });
      if (!compile.ok)
        throw new BenchError(`compiling ${shape.name} failed: ${compile.failure} ${compile.message}`);
      check(shape, "fresh compile", compile.constraints as number);
    }
    log(`${shape.name}: prove x${opts.reps}`);
    const prove = await measureProve(shape.name, opts.reps);
    const row: MeasuredRow = {
      shape: shape.name,
      T: shape.T,
      DIN: shape.DIN,
      R: shape.R,
      DOUT: shape.DOUT,
      constraints: art.constraints,
      breakdown: constraintModel(shape),
      ptauPower: art.ptau.power,
      zkeyBytes: (await stat(art.zkey)).size,
      compile,
      prove,
    };
    log(JSON.stringify({ shape: row.shape, constraints: row.constraints, compile, prove }));
    measured.push(row);
  }
  if (measured.length === 0) throw new BenchError("no committed shape measured: check --shapes");

  // 2. Gas (real proofs on Hardhat's chain, through the escrow).
  const gas: GasRun[] = [];
  if (opts.gas) {
    for (const s of opts.gasShapes) {
      log(`gas: hardhat run bench/gas.ts (${s})`);
      gas.push(await measureGas(s));
    }
  }
  // When this run's gas measurement failed (e.g. another job left a contract half-edited), show the
  // newest earlier bench/gas.ts result, labelled with its file and date.
  let previousGas: { file: string; date: string; gas: Record<string, string> } | undefined;
  if (opts.gas && !gas.some((g) => g.ok)) previousGas = await latestGasFile();
  const okGas = gas.find((g) => g.ok) ?? previousGas;
  const submitGas = okGas?.gas?.submit !== undefined ? Number(okGas.gas.submit) : undefined;
  const submitManyGas =
    okGas?.gas?.submitMany_perProof !== undefined ? Number(okGas.gas.submitMany_perProof) : undefined;

  // 3. Big shapes: optional real compiles (r1cs only, temp dir), then exact constraints,
  // extrapolations and models.
  const bigShapes: BenchShape[] = [...LADDER_SHAPES, ...REAL_SHAPES].sort(
    (a, b) => constraintModel(a).total - constraintModel(b).total,
  );
  const bigCompiles = new Map<string, CompileMeasurement | string>();
  if (opts.compileBig !== undefined) {
    const wanted = opts.compileBig;
    let oomAt: string | undefined;
    for (const s of bigShapes) {
      if (wanted !== "all" && !wanted.includes(s.name)) continue;
      if (oomAt !== undefined && !opts.compileBigAll) {
        bigCompiles.set(
          s.name,
          `skipped: the smaller ${oomAt} already ran out of memory (--compile-big-all to try anyway)`,
        );
        continue;
      }
      log(`${s.name}: compile-only attempt (${constraintModel(s).total} constraints by the model)`);
      const c = await compileMeasured(s, { wasm: false, timeoutMs: opts.compileTimeoutS * 1000 });
      bigCompiles.set(s.name, c);
      log(JSON.stringify({ shape: s.name, ...c }));
      if (c.ok) check(s, "compile-big", c.constraints as number);
      else if (c.failure === "out-of-memory") oomAt = s.name;
    }
  }
  const compilePoints: CompilePoint[] = [];
  const addPoint = (shape: string, c: CompileMeasurement | string | undefined) => {
    if (typeof c === "object" && c.ok && c.peakRssMiB !== undefined && c.constraints !== undefined) {
      compilePoints.push({
        shape,
        constraints: c.constraints,
        wallMs: c.wallMs,
        peakRssMiB: c.peakRssMiB,
        flags: c.flags,
      });
    }
  };
  for (const m of measured) addPoint(m.shape, m.compile);
  for (const [name, c] of bigCompiles) addPoint(name, c);
  const base = extrapolationBase(measured, compilePoints);
  const batch = await latestBatch();
  const batchBest = batchRows(batch).sort((a, b) => b.n - a.n)[0];
  const big: BigRow[] = bigShapes.map((s) => {
    const row = bigRow(s, base, { submitGas, submitManyGas, batch: batchBest });
    const c = bigCompiles.get(s.name);
    if (typeof c === "string") row.compileSkipped = c;
    else if (c !== undefined) row.compile = c;
    return row;
  });

  const result = {
    kind: "zklora-escrow bench (issue #5)",
    environment: {
      ...environment,
      loadavgEnd: loadavg(),
      wallS: round((Date.now() - startedAt.getTime()) / 1000),
    },
    legend: {
      measured: "run by this bench on this machine",
      exact: "src/zk/cost.ts constraint model, checked against every compiled r1cs in formulaChecks",
      extrapolated:
        "linear in constraints from the largest measured shape (see extrapolationBase); not measured",
      model: "a circuit that does not exist in this repository (packing, chunked statements)",
    },
    formulaChecks,
    measured,
    gas,
    previousGas,
    batch,
    compilePoints,
    extrapolationBase: base,
    bigShapes: big,
    zklora: ZKLORA_PUBLISHED,
    recordedSetup: RECORDED_SETUP,
    comparisons: comparisons(big, base, measured),
  };
  await mkdir(RESULTS, { recursive: true });
  const stem = path.join(RESULTS, `bench-${environment.date.replace(/[:.]/g, "-")}`);
  const typed: BenchResult = result;
  await writeFile(`${stem}.json`, JSON.stringify(typed, null, 2) + "\n");
  await writeFile(`${stem}.md`, markdownReport(result));
  console.log(markdownReport(result));
  console.log(`wrote ${path.relative(PROJECT_ROOT, stem)}.json and .md`);
}

try {
  await main();
} finally {
  await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
}
