/**
 * The buyer's report: loss and perplexity of the base model on its own evaluation tokens, with
 * and without the adapter (the adapter's contribution comes from the contributor's server).
 */
import { crossEntropy } from "../model/index.js";
import type { BaseModel, LoraHook } from "../model/index.js";
import type { RemoteLoraClient } from "./client.js";

export interface EvaluationReport {
  tokens: number;
  base: { loss: number; perplexity: number };
  adapted: { loss: number; perplexity: number };
  /** adapted.loss - base.loss (negative: the adapter helps on this text). */
  lossDelta: number;
  /** Remote calls made for the adapted pass. */
  calls: number;
  /** Wall time of each pass in ms. */
  ms: { base: number; adapted: number };
}

/**
 * Runs `model` on `tokens` twice — plain, then with the client's hook at the manifest's targets —
 * and reports next-token cross-entropy and perplexity for both.
 */
export async function evaluate(
  model: Pick<BaseModel, "forward" | "targets" | "vocabSize">,
  tokens: readonly number[],
  client: Pick<RemoteLoraClient, "hook" | "deal" | "stats">,
  hook: LoraHook = client.hook,
): Promise<EvaluationReport> {
  const targets = model.targets(client.deal.manifest.adapter.target_modules);
  const calls0 = client.stats.calls;
  let t0 = performance.now();
  const base = await model.forward(tokens);
  const baseMs = performance.now() - t0;
  t0 = performance.now();
  const adapted = await model.forward(tokens, { targets, hook });
  const adaptedMs = performance.now() - t0;
  const b = crossEntropy(base.logits, base.T, model.vocabSize, tokens);
  const a = crossEntropy(adapted.logits, adapted.T, model.vocabSize, tokens);
  return {
    tokens: tokens.length,
    base: { loss: b.loss, perplexity: b.perplexity },
    adapted: { loss: a.loss, perplexity: a.perplexity },
    lossDelta: a.loss - b.loss,
    calls: client.stats.calls - calls0,
    ms: { base: baseMs, adapted: adaptedMs },
  };
}
