/**
 * The durable record of answered calls (both sides): an append-only JSON-lines file, one call per
 * line. `append` resolves only after the line is written and the file's data synced to disk
 * (fdatasync), so a call acknowledged to the buyer survives a crash of the server. Concurrent
 * appends share one write and one sync (group commit): the cost per call does not grow with the
 * log. A line cut short by a crash (no trailing newline) was never acknowledged and is ignored on
 * reading; any other malformed line is an error.
 */
import { mkdir, open, readFile, type FileHandle } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import { FileFormatError } from "./errors.js";

/** One answered call, as the contributor's server and the buyer's client record it. */
export interface CallRecord {
  chainId: string;
  escrow: string;
  dealId: string;
  module: number;
  /** Call sequence number of the deal's module, assigned by the server (orders the deal's rows). */
  seq: number;
  /** W_m's x coordinate (decimal): the adapter module whose row budget the call used. */
  adapterModule: string;
  /**
   * The server's row-budget key of the adapter module: a digest of its quantized weights, so a new
   * commitment of the same weights shares the budget (server records only; the buyer cannot know it).
   */
  budgetKey?: string;
  rows: number;
  nonce: string;
  /** Address that signed the request. */
  buyer: string;
  requestSignature: string;
  responseSignature: string;
  /** Row digests of this call's X and Y (bytes32 hex). */
  hX: string;
  hY: string;
  X: string[][];
  Y: string[][];
  /** ISO time the call was answered. */
  time: string;
}

interface Pending {
  line: string;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** An append-only, fsynced JSON-lines log. */
export class CallLog {
  private queue: Pending[] = [];
  private pumping: Promise<void> | null = null;

  private constructor(
    readonly file: string,
    private readonly fh: FileHandle,
  ) {}

  /**
   * Opens (creates) the log for appending; the folder is created when missing. A line torn by a
   * crash (bytes after the last newline, never acknowledged) is cut off first: appended to, it
   * would become a malformed middle line and make the whole log unreadable.
   */
  static async open(file: string): Promise<CallLog> {
    await mkdir(path.dirname(path.resolve(file)), { recursive: true });
    const fh = await open(file, "a+", 0o600);
    try {
      const { size } = await fh.stat();
      let keep = size;
      const buf = Buffer.alloc(64 * 1024);
      while (keep > 0) {
        const start = Math.max(0, keep - buf.length);
        const { bytesRead } = await fh.read(buf, 0, keep - start, start);
        const nl = buf.subarray(0, bytesRead).lastIndexOf(0x0a);
        if (nl >= 0) {
          keep = start + nl + 1;
          break;
        }
        keep = start;
      }
      if (keep < size) {
        await fh.truncate(keep);
        await fh.datasync();
      }
    } catch (err) {
      await fh.close();
      throw err;
    }
    return new CallLog(file, fh);
  }

  /** Appends one record; resolves once it is on disk. */
  append(record: CallRecord): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ line: JSON.stringify(record) + "\n", resolve, reject });
      this.pumping ??= this.pump();
    });
  }

  private async pump(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0);
      try {
        await this.fh.write(batch.map((b) => b.line).join(""));
        await this.fh.datasync();
        for (const b of batch) b.resolve();
      } catch (err) {
        for (const b of batch) b.reject(err);
      }
    }
    // Cleared in the same synchronous step as the last empty-queue check: an append made by a
    // resumed caller (a microtask of b.resolve()) must start a new pump, not join a finished one.
    this.pumping = null;
  }

  /** Waits for pending appends and closes the file. */
  async close(): Promise<void> {
    while (this.pumping !== null) await this.pumping;
    await this.fh.close();
  }
}

/** Reads every complete record of a log (none when the file does not exist). */
export async function readCallLog(file: string): Promise<CallRecord[]> {
  if (!existsSync(file)) return [];
  const text = await readFile(file, "utf8");
  const lines = text.split("\n");
  // the part after the last newline is a line cut short by a crash (never acknowledged)
  lines.pop();
  return lines.map((line, i) => {
    try {
      const r = JSON.parse(line) as CallRecord;
      if (typeof r !== "object" || r === null || typeof r.dealId !== "string" || !Array.isArray(r.X))
        throw new Error("not a call record");
      return r;
    } catch (err) {
      throw new FileFormatError(`${file} line ${i + 1} is not a call record: ${(err as Error).message}`);
    }
  });
}

/** The calls of one deal (chain, escrow, id) to module m, in the server's sequence order. */
export function callsOf(
  records: readonly CallRecord[],
  deal: { chainId: bigint; escrow: string; dealId: bigint },
  module: number,
): CallRecord[] {
  const escrow = deal.escrow.toLowerCase();
  return records
    .filter(
      (r) =>
        r.dealId === deal.dealId.toString() &&
        r.chainId === deal.chainId.toString() &&
        r.escrow.toLowerCase() === escrow &&
        r.module === module,
    )
    .sort((a, b) => a.seq - b.seq);
}

/** All rows (X, Y) of a deal's module in sequence order: what hX_m, hY_m and the fold cover. */
export function rowsOf(
  records: readonly CallRecord[],
  deal: { chainId: bigint; escrow: string; dealId: bigint },
  module: number,
): { X: bigint[][]; Y: bigint[][]; calls: number } {
  const calls = callsOf(records, deal, module);
  const X: bigint[][] = [];
  const Y: bigint[][] = [];
  for (const c of calls) {
    for (const row of c.X) X.push(row.map((v) => BigInt(v)));
    for (const row of c.Y) Y.push(row.map((v) => BigInt(v)));
  }
  return { X, Y, calls: calls.length };
}
