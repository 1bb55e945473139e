/**
 * A small LRU memo of activation hashes keyed by X's content (and, for the chunked variant, the
 * chunked shape). Modules that share one input (e.g. q_proj and v_proj of a Llama layer) send the
 * same X, so each side hashes it once instead of once per module. The hash is a pure function of X
 * (and the shape), so a hit is exactly the recomputed value.
 */
import { activationHash, chunkedActivationHash, type ChunkedShape } from "../zk/index.js";

export class ActivationHashCache {
  private readonly map = new Map<string, bigint>();
  hits = 0;
  misses = 0;

  constructor(private readonly max = 64) {}

  /**
   * activationHash(X) (v1), or with `chunked` the chunked variant's `chunkedActivationHash(X, chunked).hX`,
   * memoized.
   */
  async hash(X: readonly (readonly bigint[])[], chunked?: ChunkedShape): Promise<bigint> {
    const variant =
      chunked === undefined
        ? "v1"
        : `chunked:${chunked.T}:${chunked.DIN}:${chunked.R}:${chunked.DOUT}:${chunked.WA}:${chunked.WB}`;
    const key = `${variant}|${X.map((r) => r.join(",")).join(";")}`;
    const hit = this.map.get(key);
    if (hit !== undefined) {
      this.hits++;
      this.map.delete(key);
      this.map.set(key, hit);
      return hit;
    }
    this.misses++;
    const h =
      chunked === undefined
        ? await activationHash(X as bigint[][])
        : (await chunkedActivationHash(X as bigint[][], chunked)).hX;
    this.map.set(key, h);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
    return h;
  }
}
