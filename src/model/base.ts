/**
 * The base model: loads a Hugging Face folder, builds the segment graphs once per target set and
 * runs them with onnxruntime-node, calling a LoRA hook at each insertion point.
 */
import path from "node:path";
import * as ort from "onnxruntime-node";
import { sha256, sha256File } from "../common/cache.js";
import {
  allTargets,
  loadWeights,
  selectTargets,
  weightFiles,
  type LoraTarget,
  type ModelConfig,
  type ModelWeights,
} from "./config.js";
import { ModelError } from "./errors.js";
import { buildSegments, type Segment } from "./graph.js";

/**
 * The LoRA contribution of one module: given its input x [T, DIN] (row-major), returns the delta
 * [T, DOUT] (row-major) that is added to the base layer's output.
 */
export type LoraHook = (target: LoraTarget, x: Float32Array, T: number) => Promise<Float32Array>;

export interface ForwardOptions {
  /** insertion points (from `targets()`); the hook is called once per target per forward */
  targets?: readonly LoraTarget[];
  hook?: LoraHook;
}

export interface BaseModel {
  family: "gpt2" | "llama";
  config: ModelConfig;
  dir: string;
  /** sha256 (hex) of model.safetensors (a sharded checkpoint: see weightsSha256) */
  sha256: string;
  vocabSize: number;
  /** maximum sequence length */
  contextLength: number;
  /** targets selected by PEFT-style target_modules, sorted by layer then module name (canonical order) */
  targets(targetModules: readonly string[]): LoraTarget[];
  /**
   * One forward pass over `tokens`. Hook calls happen in execution order; modules sharing one
   * input (one cut) are called in canonical order, one after the other.
   */
  forward(tokens: readonly number[], opts?: ForwardOptions): Promise<{ logits: Float32Array; T: number }>;
  /** number of ONNX segments of the session chain for a target set (1 without targets) */
  segmentCount(targets?: readonly LoraTarget[]): Promise<number>;
  close(): Promise<void>;
}

interface Chain {
  segments: (Segment & { session: ort.InferenceSession })[];
}

/** Intra-op threads per session (ZKLORA_ORT_THREADS, default 1: the models here are small). */
function ortThreads(): number {
  const v = Number(process.env.ZKLORA_ORT_THREADS ?? "1");
  return Number.isInteger(v) && v > 0 ? v : 1;
}

class OrtBaseModel implements BaseModel {
  readonly family: "gpt2" | "llama";
  readonly vocabSize: number;
  readonly contextLength: number;
  private chains = new Map<string, Promise<Chain>>();
  private masks = new Map<number, ort.Tensor>();
  private rope?: { cos: Float32Array; sin: Float32Array };
  private closed = false;
  private readonly valid: Map<string, LoraTarget>;

  constructor(
    readonly dir: string,
    readonly sha256: string,
    private readonly weights: ModelWeights,
  ) {
    this.family = weights.config.family;
    this.vocabSize = weights.config.vocab;
    this.contextLength = weights.config.ctx;
    this.valid = new Map(allTargets(weights.config).map((t) => [t.name, t]));
  }

  get config(): ModelConfig {
    return this.weights.config;
  }

  targets(targetModules: readonly string[]): LoraTarget[] {
    return selectTargets(this.config, targetModules);
  }

  private checkTargets(targets: readonly LoraTarget[]): LoraTarget[] {
    const seen = new Set<string>();
    for (const t of targets) {
      const v = this.valid.get(t.name);
      if (v === undefined)
        throw new ModelError(
          "BAD_TARGET",
          `target ${t.name} is not a linear layer of this ${this.family} model; get targets from model.targets()`,
        );
      if (v.DIN !== t.DIN || v.DOUT !== t.DOUT)
        throw new ModelError(
          "BAD_TARGET",
          `target ${t.name} has shape ${t.DIN}x${t.DOUT} but the model's layer is ${v.DIN}x${v.DOUT}`,
        );
      if (seen.has(t.name)) throw new ModelError("BAD_TARGET", `target ${t.name} is listed twice`);
      seen.add(t.name);
    }
    return [...targets];
  }

  private chain(targets: readonly LoraTarget[]): Promise<Chain> {
    if (this.closed) throw new ModelError("CLOSED", "the model was closed; load it again");
    const key = targets
      .map((t) => `${t.name}#${t.index}`)
      .sort()
      .join(",");
    let c = this.chains.get(key);
    if (c === undefined) {
      c = (async () => {
        const segs = buildSegments(this.weights, targets);
        const opts: ort.InferenceSession.SessionOptions = {
          graphOptimizationLevel: "all",
          intraOpNumThreads: ortThreads(),
          interOpNumThreads: 1,
          executionMode: "sequential",
        };
        const segments = [];
        for (const s of segs)
          segments.push({ ...s, session: await ort.InferenceSession.create(s.model, opts) });
        return { segments };
      })();
      this.chains.set(key, c);
      c.catch(() => this.chains.delete(key));
    }
    return c;
  }

  async segmentCount(targets: readonly LoraTarget[] = []): Promise<number> {
    return (await this.chain(this.checkTargets(targets))).segments.length;
  }

  private mask(T: number): ort.Tensor {
    let m = this.masks.get(T);
    if (m === undefined) {
      const d = new Float32Array(T * T);
      for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) d[i * T + j] = -Infinity;
      m = new ort.Tensor("float32", d, [T, T]);
      if (T <= 1024) this.masks.set(T, m);
    }
    return m;
  }

  private ropeTables(T: number): { cos: ort.Tensor; sin: ort.Tensor } {
    const c = this.config;
    if (c.family !== "llama") throw new Error("internal: rope on gpt2");
    const d = c.headDim;
    if (this.rope === undefined) {
      const n = c.ctx;
      const cos = new Float32Array(n * d);
      const sin = new Float32Array(n * d);
      for (let p = 0; p < n; p++)
        for (let i = 0; i < d / 2; i++) {
          const a = p * Math.pow(c.ropeTheta, -(2 * i) / d);
          cos[p * d + i] = cos[p * d + i + d / 2] = Math.cos(a);
          sin[p * d + i] = sin[p * d + i + d / 2] = Math.sin(a);
        }
      this.rope = { cos, sin };
    }
    return {
      cos: new ort.Tensor("float32", this.rope.cos.subarray(0, T * d), [T, d]),
      sin: new ort.Tensor("float32", this.rope.sin.subarray(0, T * d), [T, d]),
    };
  }

  async forward(
    tokens: readonly number[],
    opts: ForwardOptions = {},
  ): Promise<{ logits: Float32Array; T: number }> {
    const T = tokens.length;
    if (T === 0) throw new ModelError("BAD_TOKEN", "tokens is empty; pass at least one token id");
    if (T > this.contextLength)
      throw new ModelError(
        "CONTEXT_TOO_LONG",
        `${T} tokens exceed the model's context of ${this.contextLength}; truncate the input`,
      );
    for (let i = 0; i < T; i++) {
      const t = tokens[i];
      if (!Number.isInteger(t) || t < 0 || t >= this.vocabSize)
        throw new ModelError(
          "BAD_TOKEN",
          `token ${i} is ${t}; ids must be integers in [0, ${this.vocabSize - 1}]`,
        );
    }
    const targets = this.checkTargets(opts.targets ?? []);
    if (targets.length > 0 && opts.hook === undefined)
      throw new ModelError(
        "BAD_TARGET",
        "targets were given without a hook; pass opts.hook (e.g. floatLoraHook(adapter))",
      );
    const chain = await this.chain(targets);
    const values = new Map<string, ort.Tensor>();
    values.set(
      "tokens",
      new ort.Tensor(
        "int64",
        BigInt64Array.from(tokens, (t) => BigInt(t)),
        [T],
      ),
    );
    values.set("mask", this.mask(T));
    if (this.family === "gpt2")
      values.set(
        "pos",
        new ort.Tensor(
          "int64",
          BigInt64Array.from({ length: T }, (_, i) => BigInt(i)),
          [T],
        ),
      );
    else {
      const r = this.ropeTables(T);
      values.set("cos", r.cos);
      values.set("sin", r.sin);
    }
    let logits: Float32Array | undefined;
    for (const seg of chain.segments) {
      const feeds: Record<string, ort.Tensor> = {};
      for (const name of seg.inputs) {
        const v = values.get(name);
        if (v === undefined) throw new Error(`internal: segment input ${name} missing`);
        feeds[name] = v;
      }
      const out = await seg.session.run(feeds);
      for (const name of seg.outputs) values.set(name, out[name]);
      if (seg.cut) {
        const x = out[seg.cut.x].data as Float32Array;
        for (const e of seg.cut.entries) {
          // each call gets its own copy: a hook may keep or modify its input
          const delta = await opts.hook!(e.target, Float32Array.from(x), T);
          const n = T * e.target.DOUT;
          if (!(delta instanceof Float32Array) || delta.length !== n)
            throw new ModelError(
              "BAD_HOOK_OUTPUT",
              `hook for ${e.target.name} returned ${delta instanceof Float32Array ? delta.length : typeof delta} values; expected a Float32Array of T*DOUT = ${T}*${e.target.DOUT} = ${n}`,
            );
          const base = out[e.base].data as Float32Array;
          const sum = new Float32Array(n);
          for (let i = 0; i < n; i++) {
            const d = delta[i];
            if (!Number.isFinite(d))
              throw new ModelError(
                "BAD_HOOK_OUTPUT",
                `hook for ${e.target.name} returned a non-finite value ${d} at index ${i}`,
              );
            sum[i] = base[i] + d;
          }
          values.set(e.final, new ort.Tensor("float32", sum, [T, e.target.DOUT]));
        }
      }
      if (seg.outputs.includes("logits")) logits = out.logits.data as Float32Array;
    }
    if (logits === undefined) throw new Error("internal: no logits");
    return { logits: Float32Array.from(logits), T };
  }

  async close(): Promise<void> {
    this.closed = true;
    const chains = [...this.chains.values()];
    this.chains.clear();
    for (const c of chains) {
      try {
        for (const s of (await c).segments) await s.session.release();
      } catch {
        // a chain that failed to build holds no sessions
      }
    }
  }
}

/**
 * The sha256 (hex) identifying a base model's weights: of `model.safetensors`, or, for a sharded
 * checkpoint, of "index <sha256 of the index>" and "<shard> <its sha256>" lines (shards by name).
 */
export async function weightsSha256(dir: string): Promise<string> {
  const { files, index } = await weightFiles(dir);
  if (index === undefined) return sha256File(files[0]);
  let lines = `index ${await sha256File(index)}\n`;
  for (const f of files) lines += `${path.basename(f)} ${await sha256File(f)}\n`;
  return sha256(lines);
}

/** Loads a base model folder (config.json + model.safetensors or its shards, Hugging Face layout). */
export async function loadBaseModel(dir: string): Promise<BaseModel> {
  const weights = await loadWeights(dir);
  return new OrtBaseModel(dir, await weightsSha256(dir), weights);
}
