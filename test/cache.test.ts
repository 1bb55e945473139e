import { expect } from "chai";
import { mkdtemp, readFile, writeFile, readdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { cached, cacheKey } from "../src/common/cache.js";

describe("# cache", () => {
  let saved: string | undefined;
  before(async () => {
    saved = process.env.ZKLORA_CACHE_DIR;
    process.env.ZKLORA_CACHE_DIR = await mkdtemp(path.join(os.tmpdir(), "zklora-cache-test-"));
  });
  after(() => {
    if (saved === undefined) delete process.env.ZKLORA_CACHE_DIR;
    else process.env.ZKLORA_CACHE_DIR = saved;
  });

  it("Should produce an entry once and reuse it for the same key", async () => {
    let runs = 0;
    const produce = async (dir: string) => {
      runs++;
      await writeFile(path.join(dir, "out.txt"), "hello");
    };
    const first = await cached("t", ["a", "b"], produce);
    const second = await cached("t", ["a", "b"], produce);
    expect(runs).to.equal(1);
    expect(first.hit).to.equal(false);
    expect(second.hit).to.equal(true);
    expect(second.dir).to.equal(first.dir);
    expect(await readFile(path.join(second.dir, "out.txt"), "utf8")).to.equal("hello");
  });

  it("Should key files by content, not by name", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "zklora-key-"));
    const f = path.join(dir, "in.bin");
    await writeFile(f, "one");
    const k1 = await cacheKey([{ file: f }]);
    await writeFile(f, "two");
    const k2 = await cacheKey([{ file: f }]);
    expect(k1).to.not.equal(k2);
    expect(await cacheKey(["ab", "c"])).to.not.equal(await cacheKey(["a", "bc"]));
  });

  it("Should leave no entry behind when the producer fails", async () => {
    let error: unknown;
    try {
      await cached("fail", ["x"], async (dir) => {
        await writeFile(path.join(dir, "partial"), "x");
        throw new Error("boom");
      });
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(Error).with.property("message", "boom");
    const entries = await readdir(path.join(process.env.ZKLORA_CACHE_DIR!, "fail"));
    expect(entries).to.deep.equal([]);
  });
});
