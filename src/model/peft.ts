/**
 * PEFT LoRA adapters: `adapter_config.json` + `adapter_model.safetensors` with PEFT's key names
 * `base_model.model.<module path>.lora_A.weight` [R, DIN] and `.lora_B.weight` [DOUT, R].
 */
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import {
  loadConfig,
  loadWeights,
  matchesTarget,
  parseModuleName,
  readJsonFile,
  selectTargets,
  sortCanonical,
  type LoraTarget,
} from "./config.js";
import { ModelError } from "./errors.js";
import { readSafetensors, writeSafetensors, type TensorMap } from "./safetensors.js";
import type { LoraHook } from "./base.js";

export interface PeftModule {
  /** PEFT module path, e.g. "model.layers.0.self_attn.q_proj" */
  name: string;
  R: number;
  DIN: number;
  DOUT: number;
  /** [R, DIN] row-major */
  loraA: Float32Array;
  /** [DOUT, R] row-major */
  loraB: Float32Array;
}

export interface PeftConfig {
  r: number;
  lora_alpha: number;
  target_modules: string[];
  fan_in_fan_out: boolean;
  base_model_name_or_path?: string;
}

export interface PeftAdapter {
  config: PeftConfig;
  /** lora_alpha / r */
  scaling: number;
  /** in canonical order (layer, then module name) */
  modules: PeftModule[];
}

const PREFIX = "base_model.model.";

/**
 * The module path as PEFT writes it for the causal-LM classes: adapters made on a bare GPT2Model /
 * LlamaModel ("h.0.attn.c_attn", "layers.0.self_attn.q_proj") get the "transformer." / "model." prefix.
 */
export function canonicalModuleName(name: string): string {
  if (/^h\.\d+\./.test(name)) return `transformer.${name}`;
  if (/^layers\.\d+\./.test(name)) return `model.${name}`;
  return name;
}

/** Loads a PEFT LoRA adapter folder. */
export async function loadPeftAdapter(dir: string): Promise<PeftAdapter> {
  const cfgFile = path.join(dir, "adapter_config.json");
  const raw = await readJsonFile(cfgFile, "a PEFT adapter folder needs adapter_config.json");
  const bad = (why: string) => new ModelError("BAD_ADAPTER", `${cfgFile}: ${why}`);
  if (raw.peft_type !== undefined && raw.peft_type !== "LORA")
    throw bad(`peft_type ${JSON.stringify(raw.peft_type)} is not LORA`);
  const r = raw.r;
  const alpha = raw.lora_alpha ?? r;
  if (typeof r !== "number" || !Number.isInteger(r) || r <= 0)
    throw bad(`r = ${JSON.stringify(r)} must be a positive integer`);
  if (typeof alpha !== "number" || !Number.isFinite(alpha))
    throw bad(`lora_alpha = ${JSON.stringify(alpha)} must be a number`);
  // target_modules: a list of names (PEFT: a module matches when its path equals or ends in
  // "." + name), "all-linear" (every linear layer but the output head), or a regular expression
  // (PEFT: the full module path must match it). layers_to_transform: the layer numbers adapted.
  const tm = raw.target_modules;
  const isList = Array.isArray(tm) && tm.length > 0 && tm.every((x) => typeof x === "string");
  if (!isList && (typeof tm !== "string" || tm === ""))
    throw bad(
      `target_modules must be a non-empty list of module names, "all-linear" or a regular expression`,
    );
  let pattern: RegExp | undefined;
  if (typeof tm === "string" && tm !== "all-linear") {
    try {
      pattern = new RegExp(`^(?:${tm})$`);
    } catch (err) {
      throw bad(
        `target_modules ${JSON.stringify(tm)} is not a regular expression: ${(err as Error).message}`,
      );
    }
  }
  const ltt = raw.layers_to_transform;
  let layers: Set<number> | undefined;
  if (ltt !== undefined && ltt !== null) {
    const list = typeof ltt === "number" ? [ltt] : ltt;
    if (!Array.isArray(list) || !list.every((x) => Number.isInteger(x) && (x as number) >= 0))
      throw bad(`layers_to_transform must be a layer number or a list of them`);
    layers = new Set(list as number[]);
  }
  for (const k of ["rank_pattern", "alpha_pattern"])
    if (raw[k] !== undefined && raw[k] !== null && Object.keys(raw[k] as object).length > 0)
      throw new ModelError(
        "UNSUPPORTED",
        `${cfgFile}: ${k} is not supported; use one r and lora_alpha for all modules`,
      );
  if (raw.use_dora === true)
    throw new ModelError("UNSUPPORTED", `${cfgFile}: DoRA (use_dora) is not supported`);
  const config: PeftConfig = {
    r,
    lora_alpha: alpha,
    target_modules: isList ? (tm as string[]) : [],
    fan_in_fan_out: raw.fan_in_fan_out === true,
  };
  if (typeof raw.base_model_name_or_path === "string")
    config.base_model_name_or_path = raw.base_model_name_or_path;
  const scaling = raw.use_rslora === true ? alpha / Math.sqrt(r) : alpha / r;
  const wfile = path.join(dir, "adapter_model.safetensors");
  const { tensors } = await readSafetensors(wfile);
  const names = new Set<string>();
  const strip = (k: string) => k.replace(/\.lora_[AB](\.default)?\.weight$/, "");
  for (const k of tensors.keys()) {
    if (!k.startsWith(PREFIX) || !/\.lora_[AB](\.default)?\.weight$/.test(k))
      throw new ModelError(
        "BAD_ADAPTER",
        `${wfile}: unexpected tensor ${k}; expected ${PREFIX}<module>.lora_A.weight / .lora_B.weight`,
      );
    names.add(strip(k.slice(PREFIX.length)));
  }
  if (names.size === 0) throw new ModelError("BAD_ADAPTER", `${wfile}: holds no lora_A / lora_B tensors`);
  const modules: PeftModule[] = [];
  for (const name of names) {
    const canonical = canonicalModuleName(name);
    const get = (ab: "A" | "B") =>
      tensors.get(`${PREFIX}${name}.lora_${ab}.weight`) ??
      tensors.get(`${PREFIX}${name}.lora_${ab}.default.weight`);
    const A = get("A");
    const B = get("B");
    if (A === undefined || B === undefined)
      throw new ModelError(
        "BAD_ADAPTER",
        `${wfile}: module ${name} lacks lora_${A === undefined ? "A" : "B"}.weight`,
      );
    if (A.shape.length !== 2 || B.shape.length !== 2 || A.shape[0] !== r || B.shape[1] !== r)
      throw new ModelError(
        "BAD_SHAPE",
        `${wfile}: module ${name} has lora_A [${A.shape}] and lora_B [${B.shape}]; expected [r=${r}, DIN] and [DOUT, r=${r}]`,
      );
    modules.push({ name: canonical, R: r, DIN: A.shape[1], DOUT: B.shape[0], loraA: A.data, loraB: B.data });
  }
  for (const m of modules) {
    const { layer } = parseModuleName(m.name);
    const original = [...names].find((n) => canonicalModuleName(n) === m.name) ?? m.name;
    const listed = isList
      ? (tm as string[]).some((e) => matchesTarget(m.name, e))
      : pattern === undefined || pattern.test(original) || pattern.test(m.name);
    if (!listed)
      throw bad(
        `the weights hold module ${m.name}, which target_modules ${JSON.stringify(tm)} does not select`,
      );
    if (layers !== undefined && !layers.has(layer))
      throw bad(
        `the weights hold module ${m.name} of layer ${layer}, outside layers_to_transform ${JSON.stringify(ltt)}`,
      );
  }
  const sorted = sortCanonical(modules);
  // Where the config's selection is not a plain list of names over every layer, the adapter's
  // targets are its modules' full paths (what the manifest records and the base model selects).
  if (!isList || layers !== undefined) config.target_modules = sorted.map((m) => m.name);
  return { config, scaling, modules: sorted };
}

/** Writes a PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors). */
export async function savePeftAdapter(dir: string, adapter: PeftAdapter): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tensors: TensorMap = new Map();
  for (const m of adapter.modules) {
    if (m.loraA.length !== m.R * m.DIN || m.loraB.length !== m.DOUT * m.R)
      throw new ModelError(
        "BAD_SHAPE",
        `module ${m.name}: loraA must hold R*DIN = ${m.R * m.DIN} and loraB DOUT*R = ${m.DOUT * m.R} values`,
      );
    tensors.set(`${PREFIX}${m.name}.lora_A.weight`, { shape: [m.R, m.DIN], data: m.loraA });
    tensors.set(`${PREFIX}${m.name}.lora_B.weight`, { shape: [m.DOUT, m.R], data: m.loraB });
  }
  const c = adapter.config;
  const cfg = {
    peft_type: "LORA",
    task_type: "CAUSAL_LM",
    r: c.r,
    lora_alpha: c.lora_alpha,
    lora_dropout: 0,
    bias: "none",
    target_modules: c.target_modules,
    fan_in_fan_out: c.fan_in_fan_out,
    base_model_name_or_path: c.base_model_name_or_path ?? null,
    inference_mode: true,
  };
  await writeFile(path.join(dir, "adapter_config.json"), JSON.stringify(cfg, null, 2) + "\n");
  await writeSafetensors(path.join(dir, "adapter_model.safetensors"), tensors, { format: "pt" });
}

/** The adapter's module for a target, checked against the target's shape. */
export function adapterModule(adapter: PeftAdapter, target: LoraTarget): PeftModule {
  const m = adapter.modules.find((x) => x.name === target.name);
  if (m === undefined)
    throw new ModelError(
      "BAD_ADAPTER",
      `the adapter has no module ${target.name}; its modules are ${adapter.modules.map((x) => x.name).join(", ")}`,
    );
  if (m.DIN !== target.DIN || m.DOUT !== target.DOUT)
    throw new ModelError(
      "BAD_SHAPE",
      `adapter module ${m.name} is ${m.DIN}x${m.DOUT} but the model's layer is ${target.DIN}x${target.DOUT}`,
    );
  return m;
}

/** The float LoRA delta s · x · Aᵀ · Bᵀ of one module, x [T, DIN] → [T, DOUT], float64 accumulation. */
export function loraDelta(m: PeftModule, scaling: number, x: Float32Array, T: number): Float32Array {
  const { R, DIN, DOUT, loraA, loraB } = m;
  if (x.length !== T * DIN)
    throw new ModelError("BAD_SHAPE", `x for ${m.name} has ${x.length} values; expected T*DIN = ${T}*${DIN}`);
  const out = new Float32Array(T * DOUT);
  const h = new Float64Array(R);
  for (let t = 0; t < T; t++) {
    for (let k = 0; k < R; k++) {
      let s = 0;
      for (let i = 0; i < DIN; i++) s += x[t * DIN + i] * loraA[k * DIN + i];
      h[k] = s;
    }
    for (let j = 0; j < DOUT; j++) {
      let s = 0;
      for (let k = 0; k < R; k++) s += h[k] * loraB[j * R + k];
      out[t * DOUT + j] = scaling * s;
    }
  }
  return out;
}

/** A hook computing the exact float delta locally (the reference for the multi-party forward). */
export function floatLoraHook(adapter: PeftAdapter): LoraHook {
  return async (target, x, T) => loraDelta(adapterModule(adapter, target), adapter.scaling, x, T);
}

/** The base-model targets an adapter applies to (its modules, indexed in canonical order). */
export async function adapterTargets(modelDir: string, adapter: PeftAdapter): Promise<LoraTarget[]> {
  const cfg = await loadConfig(modelDir);
  const targets = selectTargets(
    cfg,
    adapter.modules.map((m) => m.name),
  );
  for (const t of targets) adapterModule(adapter, t);
  return targets;
}

/**
 * Writes a copy of the model at `modelDir` into `outDir` with the adapter merged into the base
 * weights: W + s·B·A for nn.Linear ([out, in]), W + s·(B·A)ᵀ for GPT-2's Conv1D ([in, out]).
 */
export async function mergeAdapter(modelDir: string, adapter: PeftAdapter, outDir: string): Promise<void> {
  const w = await loadWeights(modelDir);
  const targets = await adapterTargets(modelDir, adapter);
  const tensors: TensorMap = new Map(
    [...w.tensors].map(([k, t]) => [k, { shape: [...t.shape], data: Float32Array.from(t.data) }]),
  );
  const conv = w.config.family === "gpt2";
  for (const t of targets) {
    const m = adapterModule(adapter, t);
    const rel = conv
      ? t.name.replace(/^transformer\./, "") + ".weight"
      : t.name.replace(/^model\./, "") + ".weight";
    const shape = conv ? [t.DIN, t.DOUT] : [t.DOUT, t.DIN];
    w.get(rel, shape);
    const W = tensors.get(w.key(rel)!)!.data;
    for (let o = 0; o < t.DOUT; o++)
      for (let i = 0; i < t.DIN; i++) {
        let s = 0;
        for (let k = 0; k < m.R; k++) s += m.loraB[o * m.R + k] * m.loraA[k * t.DIN + i];
        W[conv ? i * t.DOUT + o : o * t.DIN + i] += adapter.scaling * s;
      }
  }
  await mkdir(outDir, { recursive: true });
  await copyFile(path.join(modelDir, "config.json"), path.join(outDir, "config.json"));
  await writeSafetensors(path.join(outDir, "model.safetensors"), tensors, { format: "pt" });
}
