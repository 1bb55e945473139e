/**
 * The durable call log (src/mpi/log.ts): group commit of concurrent appends, sequential appends,
 * a line torn by a crash (ignored on reading, cut before the next append), a malformed middle
 * line (FileFormatError), and the deal's rows in the server's sequence order.
 */
import { expect } from "chai";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { CallLog, FileFormatError, callsOf, readCallLog, rowsOf } from "../../src/mpi/index.js";
import type { CallRecord } from "../../src/mpi/index.js";
import { CHAIN_ID, ESCROW, OTHER_ESCROW, buyer, rejection } from "./fixtures.js";

/** A call record of deal `dealId`, module `module`, sequence `seq` with `rows` rows tagged by seq. */
function record(seq: number, opts: Partial<CallRecord> & { rows?: number } = {}): CallRecord {
  const rows = opts.rows ?? 1;
  return {
    chainId: CHAIN_ID.toString(),
    escrow: ESCROW,
    dealId: "1",
    module: 0,
    seq,
    adapterModule: "12345",
    nonce: String(1000 + seq),
    buyer: buyer.address,
    requestSignature: "0x" + "aa".repeat(65),
    responseSignature: "0x" + "bb".repeat(65),
    hX: "0x" + "01".repeat(32),
    hY: "0x" + "02".repeat(32),
    X: Array.from({ length: rows }, (_, t) => [String(seq), String(t), "-1"]),
    Y: Array.from({ length: rows }, (_, t) => [String(-seq), String(t)]),
    time: new Date(0).toISOString(),
    ...opts,
    rows,
  };
}

describe("# mpi v2 call log (JSON lines, fsynced, group commit)", function () {
  let dir: string;
  before(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), "zklora-mpi-log-"));
  });
  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it("Should group-commit 300 concurrent appends: every one resolves and is read back, in append order", async function () {
    const file = path.join(dir, "sub", "group.jsonl"); // the folder is created
    const log = await CallLog.open(file);
    const recs = Array.from({ length: 300 }, (_, i) => record(i, { rows: 1 + (i % 3) }));
    await Promise.all(recs.map((r) => log.append(r)));
    // every append resolved: all lines are on disk before close
    expect(await readCallLog(file)).to.deep.equal(recs);
    await log.close();
    const text = await readFile(file, "utf8");
    expect(text.endsWith("\n")).to.equal(true);
    expect(text.split("\n")).to.have.length(301);
  });

  it("Should resolve appends made one after another (each awaited) and keep appending after a reopen", async function () {
    this.timeout(10_000); // a lost wake-up would hang here: the timer turns it into a failure
    const file = path.join(dir, "sequential.jsonl");
    const log = await CallLog.open(file);
    const recs = Array.from({ length: 20 }, (_, i) => record(i));
    for (const r of recs) await log.append(r); // each append starts after the previous resolved
    await log.close();
    const again = await CallLog.open(file);
    await again.append(record(20));
    await again.close();
    expect(await readCallLog(file)).to.deep.equal([...recs, record(20)]);
  });

  it("Should read no records from a missing or empty log", async function () {
    expect(await readCallLog(path.join(dir, "missing.jsonl"))).to.deep.equal([]);
    await writeFile(path.join(dir, "empty.jsonl"), "");
    expect(await readCallLog(path.join(dir, "empty.jsonl"))).to.deep.equal([]);
  });

  it("Should ignore a line torn by a crash (no newline), and cut it before the next append", async function () {
    const file = path.join(dir, "torn.jsonl");
    const recs = [record(0), record(1)];
    const full = JSON.stringify(record(2)) + "\n";
    await writeFile(file, recs.map((r) => JSON.stringify(r) + "\n").join("") + full.slice(0, 40));
    // the torn call was never acknowledged: it is not a record
    expect(await readCallLog(file)).to.deep.equal(recs);
    // a torn line that happens to be complete JSON is not a record either (its newline is missing)
    await writeFile(
      path.join(dir, "torn2.jsonl"),
      JSON.stringify(record(0)) + "\n" + JSON.stringify(record(1)),
    );
    expect(await readCallLog(path.join(dir, "torn2.jsonl"))).to.deep.equal([record(0)]);
    // a restarted writer appends after the last complete line, not onto the torn bytes
    const log = await CallLog.open(file);
    await log.append(record(3));
    await log.close();
    expect(await readCallLog(file)).to.deep.equal([...recs, record(3)]);
    // a file made only of a torn line starts over
    const only = path.join(dir, "only-torn.jsonl");
    await writeFile(only, full.slice(0, 25));
    const l2 = await CallLog.open(only);
    await l2.append(record(9));
    await l2.close();
    expect(await readFile(only, "utf8")).to.equal(JSON.stringify(record(9)) + "\n");
  });

  it("Should refuse a malformed line in the middle with FileFormatError naming the line", async function () {
    const file = path.join(dir, "bad.jsonl");
    const lines = [record(0), record(1), record(2)].map((r) => JSON.stringify(r));
    await writeFile(file, [lines[0], lines[1].slice(0, 30), lines[2]].join("\n") + "\n");
    const err = await rejection(readCallLog(file));
    expect(err).to.be.instanceOf(FileFormatError);
    expect(err.message).to.match(/bad\.jsonl line 2 is not a call record/);
    // valid JSON that is not a call record is refused too
    await writeFile(file, [lines[0], "{}", lines[2]].join("\n") + "\n");
    expect((await rejection(readCallLog(file))).message).to.match(/line 2 is not a call record/);
    await writeFile(file, [lines[0], "", lines[2]].join("\n") + "\n");
    expect(await rejection(readCallLog(file))).to.be.instanceOf(FileFormatError);
  });

  it("Should give a deal module's calls and rows in sequence order, whatever the append order", async function () {
    const file = path.join(dir, "order.jsonl");
    const deal = { chainId: CHAIN_ID, escrow: ESCROW, dealId: 1n };
    const log = await CallLog.open(file);
    // answered out of order, interleaved with other modules, deals, escrows and chains
    for (const r of [
      record(2, { rows: 2 }),
      record(0, { rows: 1, module: 1 }),
      record(0, { rows: 3 }),
      record(1, { rows: 1, dealId: "2" }),
      record(3, { rows: 1 }),
      record(1, { rows: 2, escrow: OTHER_ESCROW }),
      record(1, { rows: 1, chainId: "1" }),
      record(1, { rows: 1 }),
    ])
      await log.append(r);
    await log.close();
    const recs = await readCallLog(file);
    expect(callsOf(recs, deal, 0).map((c) => c.seq)).to.deep.equal([0, 1, 2, 3]);
    // the escrow matches in any letter case
    expect(callsOf(recs, { ...deal, escrow: ESCROW.toLowerCase() }, 0)).to.have.length(4);
    const { X, Y, calls } = rowsOf(recs, deal, 0);
    expect(calls).to.equal(4);
    // seq 0 (3 rows), seq 1 (1 row), seq 2 (2 rows), seq 3 (1 row)
    expect(X.map((r) => r.slice(0, 2))).to.deep.equal([
      [0n, 0n],
      [0n, 1n],
      [0n, 2n],
      [1n, 0n],
      [2n, 0n],
      [2n, 1n],
      [3n, 0n],
    ]);
    expect(Y.map((r) => r[0])).to.deep.equal([0n, 0n, 0n, -1n, -2n, -2n, -3n]);
    expect(rowsOf(recs, deal, 1).X).to.have.length(1);
    expect(rowsOf(recs, { ...deal, dealId: 3n }, 0)).to.deep.equal({ X: [], Y: [], calls: 0 });
  });
});
