/**
 * Public API of the model layer: base models (GPT-2, the Llama family: llama, mistral, qwen2) run with onnxruntime-node from
 * generated ONNX graphs cut at LoRA insertion points, PEFT adapters, fixtures and tokenizer.
 */
import path from "node:path";
import { PROJECT_ROOT } from "../common/cache.js";
import type { BaseModel } from "./base.js";
import { ModelError } from "./errors.js";

export { ModelError, type ModelErrorCode } from "./errors.js";
export { loadBaseModel, weightsSha256, type BaseModel, type ForwardOptions, type LoraHook } from "./base.js";
export {
  allTargets,
  compareCanonical,
  loadConfig,
  loadWeights,
  matchesTarget,
  SHARD_INDEX,
  weightFiles,
  parseConfig,
  selectTargets,
  sortCanonical,
  ModelWeights,
  type Gpt2Config,
  type LlamaConfig,
  type LoraTarget,
  type ModelConfig,
} from "./config.js";
export {
  adapterModule,
  adapterTargets,
  canonicalModuleName,
  floatLoraHook,
  loadPeftAdapter,
  loraDelta,
  mergeAdapter,
  savePeftAdapter,
  type PeftAdapter,
  type PeftConfig,
  type PeftModule,
} from "./peft.js";
export {
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  writeSafetensors,
  type Tensor,
  type TensorMap,
} from "./safetensors.js";
export { referenceForward } from "./reference.js";
export {
  Rng,
  writeRandomAdapter,
  writeTinyGpt2,
  writeTinyLlama,
  writeTinyTokenizer,
  type RandomAdapterOptions,
  type TinyGpt2Options,
  type TinyLlamaOptions,
  type TinyTokenizerOptions,
} from "./fixtures.js";
export {
  gpt2Tokenizer,
  hfTokenizer,
  loadTokenizer,
  tokenizeText,
  TOKENIZER_CONFIG_JSON,
  TOKENIZER_JSON,
  type DecodeOptions,
  type Tokenizer,
} from "./tokenizer.js";

/** The real trained tiny Llama shipped in the repository (models/stories260k, MIT, see its README). */
export const STORIES260K_DIR: string = path.join(PROJECT_ROOT, "models", "stories260k");

/**
 * Mean next-token cross-entropy (natural log) of `logits` [T, vocab] over positions 0..T-2
 * (position t predicts tokens[t+1]), and its perplexity exp(loss).
 */
export function crossEntropy(
  logits: Float32Array,
  T: number,
  vocab: number,
  tokens: readonly number[],
): { loss: number; perplexity: number } {
  if (T < 2) throw new ModelError("BAD_SHAPE", `crossEntropy needs T >= 2 tokens (got ${T})`);
  if (logits.length !== T * vocab)
    throw new ModelError("BAD_SHAPE", `logits has ${logits.length} values; expected T*vocab = ${T}*${vocab}`);
  if (tokens.length < T)
    throw new ModelError("BAD_SHAPE", `tokens has ${tokens.length} ids; expected at least T = ${T}`);
  let total = 0;
  for (let t = 0; t < T - 1; t++) {
    const next = tokens[t + 1];
    if (!Number.isInteger(next) || next < 0 || next >= vocab)
      throw new ModelError("BAD_TOKEN", `token ${t + 1} is ${next}; ids must be in [0, ${vocab - 1}]`);
    let mx = -Infinity;
    for (let v = 0; v < vocab; v++) mx = Math.max(mx, logits[t * vocab + v]);
    let z = 0;
    for (let v = 0; v < vocab; v++) z += Math.exp(logits[t * vocab + v] - mx);
    total += mx + Math.log(z) - logits[t * vocab + next];
  }
  const loss = total / (T - 1);
  return { loss, perplexity: Math.exp(loss) };
}

/** Index of the largest logit in row `t`. */
export function argmaxRow(logits: Float32Array, t: number, vocab: number): number {
  let best = 0;
  for (let v = 1; v < vocab; v++) if (logits[t * vocab + v] > logits[t * vocab + best]) best = v;
  return best;
}

/** Greedy decoding: appends up to `n` argmax tokens to `prompt` (stops at the context length); returns the new tokens. */
export async function greedyContinue(
  model: BaseModel,
  prompt: number[],
  n: number,
  opts?: Parameters<BaseModel["forward"]>[1],
): Promise<number[]> {
  const seq = [...prompt];
  const out: number[] = [];
  for (let i = 0; i < n && seq.length < model.contextLength; i++) {
    const { logits, T } = await model.forward(seq, opts);
    const next = argmaxRow(logits, T - 1, model.vocabSize);
    seq.push(next);
    out.push(next);
  }
  return out;
}
