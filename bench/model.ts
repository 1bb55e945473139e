/**
 * Benchmark of the base-model forward pass (onnxruntime-node, segment chain cut at the LoRA
 * insertion points) on stories260k: session build time, and forward time at T = 8 and T = 64
 * without targets, with q_proj/v_proj cuts and a zero hook (pure cut overhead), and with the
 * local float LoRA hook. Also records the measured tolerances (ONNX vs float64 reference,
 * hooked vs merged model).
 *
 *   npm run bench:model [-- --iterations N]
 *
 * Writes bench/results/model-<date>.json.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { PROJECT_ROOT } from "../src/common/cache.js";
import {
  STORIES260K_DIR,
  floatLoraHook,
  loadBaseModel,
  loadWeights,
  mergeAdapter,
  referenceForward,
  writeRandomAdapter,
  type BaseModel,
  type ForwardOptions,
} from "../src/model/index.js";

const { values } = parseArgs({ options: { iterations: { type: "string", default: "30" } } });
const ITER = Number(values.iterations);

function tokens(T: number): number[] {
  return [1, ...Array.from({ length: T - 1 }, (_, i) => (i * 37 + 11) % 512)];
}

async function timeForward(
  m: BaseModel,
  T: number,
  opts?: ForwardOptions,
): Promise<{ medianMs: number; meanMs: number }> {
  const toks = tokens(T);
  for (let i = 0; i < 3; i++) await m.forward(toks, opts); // warm-up
  const ts: number[] = [];
  for (let i = 0; i < ITER; i++) {
    const t0 = performance.now();
    await m.forward(toks, opts);
    ts.push(performance.now() - t0);
  }
  ts.sort((a, b) => a - b);
  return {
    medianMs: +ts[Math.floor(ts.length / 2)].toFixed(3),
    meanMs: +(ts.reduce((a, b) => a + b, 0) / ts.length).toFixed(3),
  };
}

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function main() {
  const dir = await mkdtemp(path.join(os.tmpdir(), "zklora-bench-model-"));
  const adapter = await writeRandomAdapter(STORIES260K_DIR, path.join(dir, "adapter"), {
    r: 4,
    alpha: 8,
    targetModules: ["q_proj", "v_proj"],
    seed: 1,
  });
  await mergeAdapter(STORIES260K_DIR, adapter, path.join(dir, "merged"));
  let t0 = performance.now();
  const m = await loadBaseModel(STORIES260K_DIR);
  const loadMs = performance.now() - t0;
  const targets = m.targets(["q_proj", "v_proj"]);
  t0 = performance.now();
  await m.segmentCount();
  const buildPlainMs = performance.now() - t0;
  t0 = performance.now();
  const segments = await m.segmentCount(targets);
  const buildCutMs = performance.now() - t0;
  const zero: ForwardOptions = { targets, hook: async (t, _x, T) => new Float32Array(T * t.DOUT) };
  const lora: ForwardOptions = { targets, hook: floatLoraHook(adapter) };
  const forward: Record<string, unknown> = {};
  for (const T of [8, 64]) {
    forward[`T${T}`] = {
      plain: await timeForward(m, T),
      cutsZeroHook: await timeForward(m, T, zero),
      cutsFloatLoraHook: await timeForward(m, T, lora),
    };
  }
  // tolerances
  const w = await loadWeights(STORIES260K_DIR);
  const merged = await loadBaseModel(path.join(dir, "merged"));
  const tolerances: Record<string, number> = {};
  for (const T of [8, 64]) {
    const toks = tokens(T);
    const plain = (await m.forward(toks)).logits;
    tolerances[`onnxVsFloat64Reference_T${T}`] = maxAbs(plain, referenceForward(w, toks));
    const hooked = (await m.forward(toks, lora)).logits;
    tolerances[`hookedVsMerged_T${T}`] = maxAbs(hooked, (await merged.forward(toks)).logits);
    tolerances[`adapterEffect_T${T}`] = maxAbs(hooked, plain);
  }
  await merged.close();
  await m.close();
  await rm(dir, { recursive: true, force: true });
  const result = {
    bench: "model",
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version },
    model: "stories260k (Llama, hidden 64, 5 layers, 8 heads / 4 kv heads, vocab 512)",
    iterations: ITER,
    ortIntraOpThreads: Number(process.env.ZKLORA_ORT_THREADS ?? "1"),
    loadMs: +loadMs.toFixed(1),
    sessionBuildMs: {
      plain: +buildPlainMs.toFixed(1),
      qvCuts: +buildCutMs.toFixed(1),
      segmentsWithQvCuts: segments,
    },
    forward,
    tolerances,
  };
  const outDir = path.join(PROJECT_ROOT, "bench", "results");
  await mkdir(outDir, { recursive: true });
  const file = path.join(outDir, `model-${result.date.slice(0, 10)}.json`);
  await writeFile(file, JSON.stringify(result, null, 2) + "\n");
  console.log(JSON.stringify(result, null, 2));
  console.log(`wrote ${path.relative(PROJECT_ROOT, file)}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
