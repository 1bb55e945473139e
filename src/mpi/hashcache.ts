/**
 * A small LRU memo of activationHash(X) keyed by X's content. Modules that share one input (e.g.
 * q_proj and v_proj of a Llama layer) send the same X, so each side hashes it once instead of
 * once per module. The hash is a pure function of X, so a hit is exactly the recomputed value.
 */
import { activationHash } from "../zk/index.js";

export class ActivationHashCache {
  private readonly map = new Map<string, bigint>();
  hits = 0;
  misses = 0;

  constructor(private readonly max = 64) {}

  /** activationHash(X), memoized. */
  async hash(X: readonly (readonly bigint[])[]): Promise<bigint> {
    const key = X.map((r) => r.join(",")).join(";");
    const hit = this.map.get(key);
    if (hit !== undefined) {
      this.hits++;
      this.map.delete(key);
      this.map.set(key, hit);
      return hit;
    }
    this.misses++;
    const h = await activationHash(X as bigint[][]);
    this.map.set(key, h);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
    return h;
  }
}
