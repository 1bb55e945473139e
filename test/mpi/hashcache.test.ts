import { expect } from "chai";
import { ActivationHashCache } from "../../src/mpi/index.js";
import { activationHash } from "../../src/zk/index.js";

describe("# mpi activation hash memo", function () {
  it("Should return activationHash(X) exactly, hashing each distinct X once, and evict the oldest", async function () {
    const cache = new ActivationHashCache(2);
    const X1 = [
      [1n, -2n],
      [3n, 0n],
    ];
    const X2 = [
      [1n, -2n],
      [3n, 1n],
    ];
    const X3 = [[1n, -2n, 3n, 0n]]; // same elements as X1 in another shape: its own entry
    expect(await cache.hash(X1)).to.equal(await activationHash(X1));
    expect(await cache.hash(X1.map((r) => [...r]))).to.equal(await activationHash(X1));
    expect(await cache.hash(X2)).to.equal(await activationHash(X2));
    expect(await cache.hash(X3)).to.equal(await activationHash(X3));
    expect([cache.hits, cache.misses]).to.deep.equal([1, 3]);
    await cache.hash(X1); // evicted by X3 (capacity 2): hashed again
    expect(cache.misses).to.equal(4);
  });
});
