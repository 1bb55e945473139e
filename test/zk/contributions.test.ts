/**
 * Phase-2 contributions made in separate processes (each with its own cache dir), handed over as
 * files, then verified in order: every contribution listed with its hash, and a tampered one
 * refused with its index; a closing beacon checked against the key its public value derives.
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
  applyBeacon,
  buildShapeKey,
  checkDeltaUpdate,
  verifyContributions,
  type ShapeKey,
} from "../../src/zk/v2/index.js";
import { TINY_V2 } from "./v2-fixture.js";
import { rejection } from "./helpers.js";

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

  it("Should verify a closing beacon against the key its hash derives, and refuse a beacon whose key is not that one", async function () {
    const k1 = path.join(dir, "b1.zkey");
    const kb = path.join(dir, "b2.zkey");
    const hash = await contributeElsewhere(key.zkey, k1, "carol", path.join(dir, "cache-carol"));
    const beaconHex = "0x" + "ab".repeat(32);
    const hb = await applyBeacon(k1, kb, { beaconHash: beaconHex, iterationsExp: 10, name: "block 12345" });
    const list = await verifyContributions(kb);
    expect(list.map((c) => [c.index, c.name, c.hash, c.beacon])).to.deep.equal([
      [0, "carol", hash, false],
      [1, "block 12345", hb, true],
    ]);
    await checkDeltaUpdate(key.zkey, kb);

    // The same file with another beacon value recorded: the key is not the one that value derives.
    const buf = await readFile(kb);
    const s10 = sectionStart(buf, 10);
    const c1 = s10 + 68 + 388 + 4 + 2 + 5; // after contribution 0 and its parameters (name "carol")
    const params = c1 + 388 + 4; // contribution 1's parameters: name, iterations, hash
    const at = buf.indexOf(Buffer.from("ab".repeat(32), "hex"), params);
    expect(at).to.be.greaterThan(params);
    const t = Buffer.from(buf);
    t[at + 31] ^= 1;
    await writeFile(path.join(dir, "tb.zkey"), t);
    const e = await rejection(verifyContributions(path.join(dir, "tb.zkey")));
    expect(e).to.be.instanceOf(DeltaUpdateError);
    expect(e.message).to.match(/^contribution 1 \(block 12345\): its key is not the one its beacon/);
    // and with another iteration count
    const it2 = Buffer.from(buf);
    const iter = buf.indexOf(Buffer.from([2, 10]), params);
    expect(iter).to.be.greaterThan(params);
    it2[iter + 1] = 11;
    await writeFile(path.join(dir, "ti.zkey"), it2);
    const e2 = await rejection(verifyContributions(path.join(dir, "ti.zkey")));
    expect(e2.message).to.match(/2\^11 iterations\) derives/);
  });
});
