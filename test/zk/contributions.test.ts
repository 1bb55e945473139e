/**
 * Phase-2 contributions made in separate processes (each with its own cache dir), handed over as
 * files, then verified in order: every contribution listed with its hash, and a tampered one
 * refused with its index.
 */
import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { PROJECT_ROOT } from "../../src/common/cache.js";
import {
  DeltaUpdateError,
  buildShapeKey,
  checkDeltaUpdate,
  verifyContributions,
  type ShapeKey,
} from "../../src/zk/v2/index.js";
import { TINY_V2 } from "./v2-fixture.js";

const run = promisify(execFile);

/** Runs test/zk/contribute-child.ts in a new process with its own cache dir; returns the printed hash. */
async function contributeElsewhere(
  inFile: string,
  outFile: string,
  name: string,
  cache: string,
): Promise<string> {
  await mkdir(cache, { recursive: true });
  const { stdout } = await run(
    process.execPath,
    ["--import", "tsx", path.join(PROJECT_ROOT, "test", "zk", "contribute-child.ts"), inFile, outFile, name],
    { cwd: PROJECT_ROOT, env: { ...process.env, ZKLORA_CACHE_DIR: cache } },
  );
  return stdout.trim();
}

/** Byte offset of a zkey section's data. */
function sectionStart(buf: Buffer, id: number): number {
  const n = buf.readUInt32LE(8);
  let pos = 12;
  for (let i = 0; i < n; i++) {
    const sid = buf.readUInt32LE(pos);
    const size = Number(buf.readBigUInt64LE(pos + 4));
    if (sid === id) return pos + 12;
    pos += 12 + size;
  }
  throw new Error(`no section ${id}`);
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
}

describe("# phase-2 contributions handed over as files (zklora:contribute / zklora:verify-key)", function () {
  this.timeout(600_000);
  let key: ShapeKey;
  let dir: string;
  before(async function () {
    key = await buildShapeKey(TINY_V2);
    dir = await mkdtemp(path.join(os.tmpdir(), "zklora-contrib-"));
  });
  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it("Should verify two contributions made in two processes, list their hashes, and name a tampered one by index", async function () {
    expect(await verifyContributions(key.zkey)).to.deep.equal([]);
    const k1 = path.join(dir, "k1.zkey");
    const k2 = path.join(dir, "k2.zkey");
    const h1 = await contributeElsewhere(key.zkey, k1, "alice", path.join(dir, "cache-alice"));
    const h2 = await contributeElsewhere(k1, k2, "bob", path.join(dir, "cache-bob"));
    const list = await verifyContributions(k2);
    expect(list.map((c) => [c.index, c.name, c.hash, c.beacon])).to.deep.equal([
      [0, "alice", h1, false],
      [1, "bob", h2, false],
    ]);
    await checkDeltaUpdate(key.zkey, k2);

    const buf = await readFile(k2);
    const s10 = sectionStart(buf, 10);
    // contribution 0 starts after csHash (64) and the count (4): its [s·x]₁ is at +128
    const t0 = Buffer.from(buf);
    t0[s10 + 68 + 128 + 5] ^= 1;
    await writeFile(path.join(dir, "t0.zkey"), t0);
    const e0 = await rejection(verifyContributions(path.join(dir, "t0.zkey")));
    expect(e0).to.be.instanceOf(DeltaUpdateError);
    expect(e0.message).to.match(/^contribution 0 \(alice\): /);
    // contribution 1 follows contribution 0's 388 bytes and its parameters (4 + 2 + "alice")
    const c1 = s10 + 68 + 388 + 4 + 2 + 5;
    const t1 = Buffer.from(buf);
    t1[c1 + 192 + 7] ^= 1; // its [s·x·p]₂
    await writeFile(path.join(dir, "t1.zkey"), t1);
    const e1 = await rejection(verifyContributions(path.join(dir, "t1.zkey")));
    expect(e1).to.be.instanceOf(DeltaUpdateError);
    expect(e1.message).to.match(/^contribution 1 \(bob\): /);
  });
});
