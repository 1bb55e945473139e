/**
 * Hugging Face `config.json` parsing for the GPT-2 and Llama families, weight lookup with the
 * key-name variants found in real checkpoints, and the LoRA target modules of each family.
 */
import { existsSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { ModelError } from "./errors.js";
import { readSafetensors, type Tensor, type TensorMap } from "./safetensors.js";

export type Gpt2Activation = "gelu_new" | "gelu" | "relu";

export interface Gpt2Config {
  family: "gpt2";
  hidden: number;
  layers: number;
  heads: number;
  headDim: number;
  inner: number;
  vocab: number;
  ctx: number;
  eps: number;
  activation: Gpt2Activation;
  scaleAttnWeights: boolean;
  scaleAttnByInverseLayerIdx: boolean;
}

export interface LlamaConfig {
  family: "llama";
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  intermediate: number;
  vocab: number;
  ctx: number;
  eps: number;
  ropeTheta: number;
  tieWordEmbeddings: boolean;
  /** q_proj, k_proj, v_proj have a bias (Llama's attention_bias; always in Qwen2) */
  qkvBias: boolean;
  /** o_proj has a bias (Llama's attention_bias; never in Qwen2) */
  oBias: boolean;
  mlpBias: boolean;
  /** the config's model_type (llama, mistral or qwen2: the same architecture here) */
  modelType: "llama" | "mistral" | "qwen2";
}

export type ModelConfig = Gpt2Config | LlamaConfig;

/** One LoRA-targetable linear layer of a model. */
export interface LoraTarget {
  /** position in the deal's module list (the index in the list `targets()` returned) */
  index: number;
  /** PEFT module path, e.g. "model.layers.0.self_attn.q_proj" or "transformer.h.0.attn.c_attn" */
  name: string;
  layer: number;
  /** last path segment: "q_proj" | "k_proj" | "v_proj" | "o_proj" | "gate_proj" | "up_proj" | "down_proj" | "c_attn" | "c_proj" | "c_fc" */
  module: string;
  DIN: number;
  DOUT: number;
}

async function readJsonFile(file: string, what: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    await stat(file);
    text = await readFile(file, "utf8");
  } catch {
    throw new ModelError("MISSING_FILE", `${file} does not exist; ${what}`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error("not an object");
    return v as Record<string, unknown>;
  } catch (e) {
    throw new ModelError(
      "BAD_CONFIG",
      `${file} is not a JSON object (${(e as Error).message}); fix its syntax`,
    );
  }
}

export { readJsonFile };

function num(
  raw: Record<string, unknown>,
  file: string,
  keys: string[],
  dflt?: number,
  integer = true,
): number {
  for (const k of keys) {
    const v = raw[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== "number" || !Number.isFinite(v) || (integer && (!Number.isInteger(v) || v <= 0)))
      throw new ModelError(
        "BAD_CONFIG",
        `${file}: ${k} = ${JSON.stringify(v)} must be a ${integer ? "positive integer" : "number"}`,
      );
    return v;
  }
  if (dflt !== undefined) return dflt;
  throw new ModelError("BAD_CONFIG", `${file}: missing ${keys.join(" / ")}; add it to config.json`);
}

/** Parses a Hugging Face config object of a GPT-2 or Llama model. */
export function parseConfig(raw: Record<string, unknown>, file = "config.json"): ModelConfig {
  const type = raw.model_type;
  if (type === "gpt2") {
    const hidden = num(raw, file, ["n_embd", "hidden_size"]);
    const heads = num(raw, file, ["n_head", "num_attention_heads"]);
    if (hidden % heads !== 0)
      throw new ModelError("BAD_CONFIG", `${file}: n_embd ${hidden} is not divisible by n_head ${heads}`);
    const act = (raw.activation_function ?? "gelu_new") as string;
    const acts: Record<string, Gpt2Activation> = {
      gelu_new: "gelu_new",
      gelu_pytorch_tanh: "gelu_new",
      gelu: "gelu",
      relu: "relu",
    };
    if (acts[act] === undefined)
      throw new ModelError(
        "UNSUPPORTED",
        `${file}: activation_function ${act} is not supported (use gelu_new, gelu or relu)`,
      );
    if (raw.add_cross_attention === true)
      throw new ModelError("UNSUPPORTED", `${file}: add_cross_attention is not supported`);
    return {
      family: "gpt2",
      hidden,
      layers: num(raw, file, ["n_layer", "num_hidden_layers"]),
      heads,
      headDim: hidden / heads,
      inner: num(raw, file, ["n_inner"], 4 * hidden),
      vocab: num(raw, file, ["vocab_size"]),
      ctx: num(raw, file, ["n_positions", "n_ctx", "max_position_embeddings"]),
      eps: num(raw, file, ["layer_norm_epsilon"], 1e-5, false),
      activation: acts[act],
      scaleAttnWeights: raw.scale_attn_weights !== false,
      scaleAttnByInverseLayerIdx: raw.scale_attn_by_inverse_layer_idx === true,
    };
  }
  if (type === "llama" || type === "mistral" || type === "qwen2") {
    const hidden = num(raw, file, ["hidden_size"]);
    const heads = num(raw, file, ["num_attention_heads"]);
    const kvHeads = num(raw, file, ["num_key_value_heads"], heads);
    if (heads % kvHeads !== 0)
      throw new ModelError(
        "BAD_CONFIG",
        `${file}: num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`,
      );
    const headDim = num(raw, file, ["head_dim"], hidden / heads);
    if (!Number.isInteger(headDim) || headDim % 2 !== 0)
      throw new ModelError(
        "BAD_CONFIG",
        `${file}: head dimension ${headDim} must be an even integer (set head_dim)`,
      );
    const act = (raw.hidden_act ?? "silu") as string;
    if (act !== "silu")
      throw new ModelError("UNSUPPORTED", `${file}: hidden_act ${act} is not supported (Llama uses silu)`);
    const rs = raw.rope_scaling as { type?: string; rope_type?: string } | null | undefined;
    if (rs !== undefined && rs !== null && (rs.rope_type ?? rs.type) !== "default")
      throw new ModelError(
        "UNSUPPORTED",
        `${file}: rope_scaling ${JSON.stringify(rs)} is not supported (only plain RoPE)`,
      );
    // Mistral and Qwen2 are Llama with a sliding attention window (and, for Qwen2, q/k/v biases):
    // inside the window the computation is the same, so sequences are limited to it.
    let ctx = num(raw, file, ["max_position_embeddings"], 2048);
    const useWindow = type === "mistral" || (type === "qwen2" && raw.use_sliding_window === true);
    if (useWindow && raw.sliding_window !== null && raw.sliding_window !== undefined)
      ctx = Math.min(ctx, num(raw, file, ["sliding_window"]));
    const qkvBias = type === "qwen2" ? true : raw.attention_bias === true;
    return {
      family: "llama",
      modelType: type,
      hidden,
      layers: num(raw, file, ["num_hidden_layers"]),
      heads,
      kvHeads,
      headDim,
      intermediate: num(raw, file, ["intermediate_size"]),
      vocab: num(raw, file, ["vocab_size"]),
      ctx,
      eps: num(raw, file, ["rms_norm_eps"], 1e-6, false),
      ropeTheta: num(raw, file, ["rope_theta"], 10000, false),
      tieWordEmbeddings: raw.tie_word_embeddings === true,
      qkvBias,
      oBias: type === "qwen2" ? false : raw.attention_bias === true,
      mlpBias: raw.mlp_bias === true,
    };
  }
  throw new ModelError(
    "UNKNOWN_MODEL_TYPE",
    `${file}: model_type ${JSON.stringify(type)} is not supported; supported are "gpt2" and the Llama family ("llama", "mistral", "qwen2")`,
  );
}

/** Reads and parses `<dir>/config.json`. */
export async function loadConfig(dir: string): Promise<ModelConfig> {
  const file = path.join(dir, "config.json");
  return parseConfig(
    await readJsonFile(file, "a base model folder needs the Hugging Face config.json"),
    file,
  );
}

/** A model's weights with lookup by family-relative name (prefix variants resolved). */
export class ModelWeights {
  constructor(
    readonly config: ModelConfig,
    readonly tensors: TensorMap,
    readonly file: string,
  ) {}

  /** The file key of a family-relative name, e.g. "h.0.attn.c_attn.weight" → "transformer.h.0.attn.c_attn.weight". */
  key(rel: string): string | undefined {
    const prefixes = this.config.family === "gpt2" ? ["transformer.", ""] : ["model.", ""];
    for (const p of prefixes) if (this.tensors.has(p + rel)) return p + rel;
    return undefined;
  }

  has(rel: string): boolean {
    return this.key(rel) !== undefined;
  }

  /** The tensor at `rel`, checked against `shape`. */
  get(rel: string, shape: number[]): Tensor {
    const k = this.key(rel);
    if (k === undefined) {
      const pre = this.config.family === "gpt2" ? "transformer." : "model.";
      throw new ModelError(
        "MISSING_TENSOR",
        `${this.file}: no tensor ${rel} (nor ${pre}${rel}); the checkpoint does not match config.json`,
      );
    }
    const t = this.tensors.get(k)!;
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
      throw new ModelError(
        "BAD_SHAPE",
        `${this.file}: tensor ${k} has shape [${t.shape}] but config.json implies [${shape}]`,
      );
    return t;
  }

  /** The output head [vocab, hidden]: lm_head.weight, or the tied embedding. */
  lmHead(): Tensor {
    const c = this.config;
    if (c.family === "gpt2") return this.get("wte.weight", [c.vocab, c.hidden]);
    if (!c.tieWordEmbeddings && this.tensors.has("lm_head.weight")) {
      const t = this.tensors.get("lm_head.weight")!;
      if (t.shape[0] !== c.vocab || t.shape[1] !== c.hidden)
        throw new ModelError(
          "BAD_SHAPE",
          `${this.file}: lm_head.weight has shape [${t.shape}] but config.json implies [${c.vocab},${c.hidden}]`,
        );
      return t;
    }
    return this.get("embed_tokens.weight", [c.vocab, c.hidden]);
  }
}

/** The sharded checkpoint index Hugging Face writes beside the shards. */
export const SHARD_INDEX = "model.safetensors.index.json";

/**
 * The weights files of a base-model folder: `model.safetensors`, or, when it is absent, the shards
 * that `model.safetensors.index.json` lists (its `weight_map`, tensor → file), each tensor with its file.
 */
export async function weightFiles(
  dir: string,
): Promise<{ files: string[]; index?: string; map?: Map<string, string> }> {
  const single = path.join(dir, "model.safetensors");
  if (existsSync(single)) return { files: [single] };
  const index = path.join(dir, SHARD_INDEX);
  if (!existsSync(index))
    throw new ModelError(
      "MISSING_FILE",
      `${dir} has neither model.safetensors nor ${SHARD_INDEX}: a base model folder needs its Hugging Face weights`,
    );
  const raw = await readJsonFile(index, "the index of a sharded checkpoint");
  const wm = raw.weight_map;
  if (typeof wm !== "object" || wm === null || Array.isArray(wm) || Object.keys(wm).length === 0)
    throw new ModelError("BAD_CONFIG", `${index}: weight_map must map tensor names to shard files`);
  const map = new Map<string, string>();
  for (const [tensor, f] of Object.entries(wm as Record<string, unknown>)) {
    if (typeof f !== "string" || f.includes("/") || f.includes("\\") || !f.endsWith(".safetensors"))
      throw new ModelError(
        "BAD_CONFIG",
        `${index}: weight_map[${JSON.stringify(tensor)}] must be a .safetensors file name in the folder`,
      );
    map.set(tensor, path.join(dir, f));
  }
  return { files: [...new Set(map.values())].sort(), index, map };
}

/** Loads config.json and the weights (one file or the shards of an index) of a base-model folder. */
export async function loadWeights(dir: string): Promise<ModelWeights> {
  const config = await loadConfig(dir);
  const { files, index, map } = await weightFiles(dir);
  const tensors: TensorMap = new Map();
  for (const file of files) {
    for (const [name, t] of (await readSafetensors(file)).tensors) {
      if (tensors.has(name))
        throw new ModelError("BAD_CONFIG", `tensor ${name} is in more than one shard (${file})`);
      if (map !== undefined && map.get(name) !== file)
        throw new ModelError(
          "BAD_CONFIG",
          `${index}: tensor ${name} is in ${path.basename(file)}, not where weight_map says`,
        );
      tensors.set(name, t);
    }
  }
  if (map !== undefined) {
    for (const [name, file] of map)
      if (!tensors.has(name))
        throw new ModelError("BAD_CONFIG", `${index}: tensor ${name} is not in ${path.basename(file)}`);
  }
  const w = new ModelWeights(config, tensors, index ?? files[0]);
  checkWeights(w);
  return w;
}

/** Every LoRA-targetable module of a model, in canonical order (index = position). */
export function allTargets(c: ModelConfig): LoraTarget[] {
  const out: Omit<LoraTarget, "index">[] = [];
  for (let l = 0; l < c.layers; l++) {
    if (c.family === "gpt2") {
      const p = `transformer.h.${l}.`;
      out.push({ name: `${p}attn.c_attn`, layer: l, module: "c_attn", DIN: c.hidden, DOUT: 3 * c.hidden });
      out.push({ name: `${p}attn.c_proj`, layer: l, module: "c_proj", DIN: c.hidden, DOUT: c.hidden });
      out.push({ name: `${p}mlp.c_fc`, layer: l, module: "c_fc", DIN: c.hidden, DOUT: c.inner });
      out.push({ name: `${p}mlp.c_proj`, layer: l, module: "c_proj", DIN: c.inner, DOUT: c.hidden });
    } else {
      const p = `model.layers.${l}.`;
      const q = c.heads * c.headDim;
      const kv = c.kvHeads * c.headDim;
      out.push({ name: `${p}self_attn.q_proj`, layer: l, module: "q_proj", DIN: c.hidden, DOUT: q });
      out.push({ name: `${p}self_attn.k_proj`, layer: l, module: "k_proj", DIN: c.hidden, DOUT: kv });
      out.push({ name: `${p}self_attn.v_proj`, layer: l, module: "v_proj", DIN: c.hidden, DOUT: kv });
      out.push({ name: `${p}self_attn.o_proj`, layer: l, module: "o_proj", DIN: q, DOUT: c.hidden });
      out.push({
        name: `${p}mlp.gate_proj`,
        layer: l,
        module: "gate_proj",
        DIN: c.hidden,
        DOUT: c.intermediate,
      });
      out.push({ name: `${p}mlp.up_proj`, layer: l, module: "up_proj", DIN: c.hidden, DOUT: c.intermediate });
      out.push({
        name: `${p}mlp.down_proj`,
        layer: l,
        module: "down_proj",
        DIN: c.intermediate,
        DOUT: c.hidden,
      });
    }
  }
  return sortCanonical(out).map((t, index) => ({ ...t, index }));
}

/** Layer number and last path segment of a PEFT module path. */
export function parseModuleName(name: string): { layer: number; module: string } {
  const m = /\.(?:h|layers)\.(\d+)\./.exec(name);
  const parts = name.split(".");
  return { layer: m ? Number(m[1]) : -1, module: parts[parts.length - 1] };
}

/** Canonical module order: by layer, then module name, then full path. */
export function compareCanonical(a: { name: string }, b: { name: string }): number {
  const pa = parseModuleName(a.name);
  const pb = parseModuleName(b.name);
  if (pa.layer !== pb.layer) return pa.layer - pb.layer;
  if (pa.module !== pb.module) return pa.module < pb.module ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export function sortCanonical<T extends { name: string }>(xs: readonly T[]): T[] {
  return [...xs].sort(compareCanonical);
}

/** PEFT's matching: an entry matches a module path equal to it or ending in "." + entry. */
export function matchesTarget(name: string, entry: string): boolean {
  return name === entry || name.endsWith("." + entry);
}

/** The targets selected by PEFT-style `target_modules`, in canonical order, indexed 0..n-1. */
export function selectTargets(c: ModelConfig, targetModules: readonly string[]): LoraTarget[] {
  if (targetModules.length === 0)
    throw new ModelError("BAD_TARGET", "target_modules is empty; name at least one module, e.g. q_proj");
  const all = allTargets(c);
  for (const e of targetModules) {
    if (!all.some((t) => matchesTarget(t.name, e)))
      throw new ModelError(
        "BAD_TARGET",
        `target module ${JSON.stringify(e)} matches no linear layer of this ${c.family} model; valid are ${[...new Set(all.map((t) => t.module))].join(", ")} or full paths like ${all[0].name}`,
      );
  }
  return all
    .filter((t) => targetModules.some((e) => matchesTarget(t.name, e)))
    .map((t, index) => ({ ...t, index }));
}

/** Every tensor a model of this config needs: family-relative name and shape, in file order. */
export function expectedTensors(c: ModelConfig): { rel: string; shape: number[] }[] {
  const out: { rel: string; shape: number[] }[] = [];
  const H = c.hidden;
  if (c.family === "gpt2") {
    out.push({ rel: "wte.weight", shape: [c.vocab, H] }, { rel: "wpe.weight", shape: [c.ctx, H] });
    for (let l = 0; l < c.layers; l++) {
      const p = `h.${l}.`;
      for (const n of ["ln_1", "ln_2"])
        out.push({ rel: `${p}${n}.weight`, shape: [H] }, { rel: `${p}${n}.bias`, shape: [H] });
      for (const [n, din, dout] of [
        ["attn.c_attn", H, 3 * H],
        ["attn.c_proj", H, H],
        ["mlp.c_fc", H, c.inner],
        ["mlp.c_proj", c.inner, H],
      ] as const)
        out.push({ rel: `${p}${n}.weight`, shape: [din, dout] }, { rel: `${p}${n}.bias`, shape: [dout] });
    }
    out.push({ rel: "ln_f.weight", shape: [H] }, { rel: "ln_f.bias", shape: [H] });
    return out;
  }
  const Q = c.heads * c.headDim;
  const KV = c.kvHeads * c.headDim;
  const I = c.intermediate;
  out.push({ rel: "embed_tokens.weight", shape: [c.vocab, H] });
  for (let l = 0; l < c.layers; l++) {
    const p = `layers.${l}.`;
    out.push(
      { rel: `${p}input_layernorm.weight`, shape: [H] },
      { rel: `${p}post_attention_layernorm.weight`, shape: [H] },
    );
    for (const [n, din, dout, bias] of [
      ["self_attn.q_proj", H, Q, c.qkvBias],
      ["self_attn.k_proj", H, KV, c.qkvBias],
      ["self_attn.v_proj", H, KV, c.qkvBias],
      ["self_attn.o_proj", Q, H, c.oBias],
      ["mlp.gate_proj", H, I, c.mlpBias],
      ["mlp.up_proj", H, I, c.mlpBias],
      ["mlp.down_proj", I, H, c.mlpBias],
    ] as const) {
      out.push({ rel: `${p}${n}.weight`, shape: [dout, din] });
      if (bias) out.push({ rel: `${p}${n}.bias`, shape: [dout] });
    }
  }
  out.push({ rel: "norm.weight", shape: [H] });
  return out;
}

/** Checks that every tensor the config needs is present with the right shape (throws MISSING_TENSOR / BAD_SHAPE). */
export function checkWeights(w: ModelWeights): void {
  for (const { rel, shape } of expectedTensors(w.config)) w.get(rel, shape);
  w.lmHead();
}
