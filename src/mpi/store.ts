/**
 * The contributor server's durable state in its SQLite database (src/mpi/db.ts): the deals it
 * hosts, every answered call (request, signatures, X/Y and their digests, rows), the row budget
 * used per adapter module, and the deal keys the buyer uploaded.
 *
 * A call and its rows are committed in ONE transaction (the call row and the budget row together)
 * before the server answers it (synced as {@link CommitSync} says). Commits run in a writer thread with its own connection
 * (store-writer.mjs), so the WAL sync never blocks the server's event loop; calls that arrive while
 * a commit is being written share the next one (group commit: one sync for many calls, the cost
 * per call does not grow with the table). Each call runs under its own savepoint, so a call that
 * violates a constraint (a nonce or a sequence number used twice: a bug, never a buyer's doing)
 * fails alone. Reads (restore, replays, exports) use this thread's connection; WAL lets them run
 * beside the writer.
 *
 * The transcripts both sides exchange are exported from here ({@link CallStore.calls},
 * {@link exportCallLog}) in the buyer's call-log format (src/mpi/log.ts), never rewritten per call.
 */
import { writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { getAddress } from "ethers";
import { openDatabase, transaction, type DatabaseSync } from "./db.js";
import type { StatementSync } from "node:sqlite";
import { MpiError } from "./errors.js";
import type { CallRecord } from "./log.js";

/** The schema version this code reads and writes (table `meta`, key `schema`). */
export const STORE_SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS deals (
  chain_id TEXT NOT NULL, escrow TEXT NOT NULL, deal_id TEXT NOT NULL,
  contributor TEXT NOT NULL, modules INTEGER NOT NULL, hosted_at TEXT NOT NULL,
  PRIMARY KEY (chain_id, escrow, deal_id)
);
CREATE TABLE IF NOT EXISTS calls (
  id INTEGER PRIMARY KEY,
  chain_id TEXT NOT NULL, escrow TEXT NOT NULL, deal_id TEXT NOT NULL,
  module INTEGER NOT NULL, seq INTEGER NOT NULL, nonce TEXT NOT NULL,
  adapter_module TEXT NOT NULL, budget_key TEXT NOT NULL, rows INTEGER NOT NULL CHECK (rows > 0),
  buyer TEXT NOT NULL, request_signature TEXT NOT NULL, response_signature TEXT NOT NULL,
  hx TEXT NOT NULL, hy TEXT NOT NULL, x TEXT NOT NULL, y TEXT NOT NULL, time TEXT NOT NULL,
  UNIQUE (chain_id, escrow, deal_id, nonce),
  UNIQUE (chain_id, escrow, deal_id, module, seq)
);
CREATE TABLE IF NOT EXISTS budgets (budget_key TEXT PRIMARY KEY, rows_used INTEGER NOT NULL CHECK (rows_used >= 0));
CREATE TABLE IF NOT EXISTS deal_keys (
  chain_id TEXT NOT NULL, escrow TEXT NOT NULL, deal_id TEXT NOT NULL, shape_id TEXT NOT NULL,
  file TEXT NOT NULL, zkey_hash TEXT NOT NULL, bytes INTEGER NOT NULL, time TEXT NOT NULL,
  PRIMARY KEY (chain_id, escrow, deal_id, shape_id)
);
`;

/**
 * How a commit of answered calls reaches the disk before the reply:
 * - `"full"` (default): SQLite `synchronous = FULL`: the WAL is synced at every commit, so an
 *   answered call survives a killed process, an OS crash and a power loss;
 * - `"normal"`: `synchronous = NORMAL`: the WAL is written at every commit and synced at
 *   checkpoints, so an answered call survives a killed process (the kill tests hold) but the last
 *   commits may be lost with the machine's power; it takes the disk's sync latency off every call.
 */
export type CommitSync = "full" | "normal";

/** Identifies a deal: chain, escrow, id. */
export interface DealRef {
  chainId: bigint;
  escrow: string;
  dealId: bigint;
}

/** A deal's key columns (chain_id, escrow, deal_id) as stored: decimal, checksummed, decimal. */
function dealKey(deal: DealRef): [string, string, string] {
  return [deal.chainId.toString(), getAddress(deal.escrow), deal.dealId.toString()];
}

/** Counters of one deal module, as restored from the calls table. */
export interface ModuleCounters {
  module: number;
  /** Next sequence number (1 + the largest recorded). */
  nextSeq: number;
  calls: number;
  rows: number;
}

/** An uploaded deal key as recorded. */
export interface StoredDealKey {
  shapeId: string;
  file: string;
  zkeyHash: string;
  bytes: number;
}

interface CallRow {
  chain_id: string;
  escrow: string;
  deal_id: string;
  module: number;
  seq: number;
  nonce: string;
  adapter_module: string;
  budget_key: string;
  rows: number;
  buyer: string;
  request_signature: string;
  response_signature: string;
  hx: string;
  hy: string;
  x: string;
  y: string;
  time: string;
}

function recordOf(r: CallRow): CallRecord {
  return {
    chainId: r.chain_id,
    escrow: r.escrow,
    dealId: r.deal_id,
    module: r.module,
    seq: r.seq,
    adapterModule: r.adapter_module,
    budgetKey: r.budget_key,
    rows: r.rows,
    nonce: r.nonce,
    buyer: r.buyer,
    requestSignature: r.request_signature,
    responseSignature: r.response_signature,
    hX: r.hx,
    hY: r.hy,
    X: JSON.parse(r.x) as string[][],
    Y: JSON.parse(r.y) as string[][],
    time: r.time,
  };
}

interface Pending {
  record: CallRecord;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const WRITER_FILE = fileURLToPath(new URL("./store-writer.mjs", import.meta.url));

/** The server's tables in one SQLite file. */
export class CallStore {
  private queue: Pending[] = [];
  private inFlight: { id: number; batch: Pending[] } | null = null;
  private batches = 0;
  private closed = false;
  private writerError: MpiError | null = null;
  private readonly idleWaiters: (() => void)[] = [];
  private byNonce: StatementSync | undefined;
  /** The writer thread (store-writer.mjs): its own connection, commits off this event loop. */
  private worker: Worker | null = null;

  private constructor(
    readonly file: string,
    private readonly db: DatabaseSync,
    /** How a commit reaches the disk (see {@link CommitSync}). */
    readonly sync: CommitSync,
  ) {}

  /** The writer thread, started with the first commit (a store only read never starts one). */
  private get writer(): Worker {
    if (this.worker !== null) return this.worker;
    // the writer needs no TypeScript loader (plain .mjs); an empty execArgv keeps tsx out of it
    const w = new Worker(WRITER_FILE, { workerData: { file: this.file, sync: this.sync }, execArgv: [] });
    w.on("message", (m: { id: number; results: (string | null)[] }) => this.onWritten(m));
    w.on("error", (err) => this.onWriterGone(err));
    w.on("exit", (code) => {
      if (!this.closed) this.onWriterGone(new Error(`exited with code ${code}`));
    });
    w.unref();
    this.worker = w;
    return w;
  }

  /** Opens (creates) the database and its tables; refuses a database of another schema version. */
  static open(file: string, opts: { sync?: CommitSync } = {}): CallStore {
    const db = openDatabase(file);
    try {
      transaction(db, () => {
        db.exec(SCHEMA);
        const row = db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as
          { value: string } | undefined;
        if (row === undefined)
          db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?)").run(String(STORE_SCHEMA_VERSION));
        else if (row.value !== String(STORE_SCHEMA_VERSION)) {
          throw new MpiError(
            "database_version",
            `${file} has schema version ${row.value}; this server reads version ${STORE_SCHEMA_VERSION}`,
          );
        }
      });
    } catch (err) {
      db.close();
      throw err;
    }
    return new CallStore(file, db, opts.sync ?? "full");
  }

  /** Records a hosted deal (kept across restarts; the manifest itself stays in the deal file). */
  hostDeal(deal: DealRef & { contributor: string; modules: number }): void {
    this.db
      .prepare(
        "INSERT INTO deals (chain_id, escrow, deal_id, contributor, modules, hosted_at) VALUES (?, ?, ?, ?, ?, ?) " +
          "ON CONFLICT DO NOTHING",
      )
      .run(...dealKey(deal), getAddress(deal.contributor), deal.modules, new Date().toISOString());
  }

  /** The deals ever hosted in this database. */
  hostedDeals(): (DealRef & { contributor: string; modules: number })[] {
    const rows = this.db.prepare("SELECT * FROM deals ORDER BY hosted_at").all() as unknown as {
      chain_id: string;
      escrow: string;
      deal_id: string;
      contributor: string;
      modules: number;
    }[];
    return rows.map((r) => ({
      chainId: BigInt(r.chain_id),
      escrow: r.escrow,
      dealId: BigInt(r.deal_id),
      contributor: r.contributor,
      modules: r.modules,
    }));
  }

  /** Rows used per budget key (every deal and buyer). */
  budgets(): Map<string, number> {
    const rows = this.db.prepare("SELECT budget_key, rows_used FROM budgets").all() as unknown as {
      budget_key: string;
      rows_used: number;
    }[];
    return new Map(rows.map((r) => [r.budget_key, r.rows_used]));
  }

  /** Per module of a deal: next sequence number, calls and rows answered. */
  counters(deal: DealRef): ModuleCounters[] {
    return this.db
      .prepare(
        "SELECT module, MAX(seq) + 1 AS nextSeq, COUNT(*) AS calls, SUM(rows) AS rows FROM calls " +
          "WHERE chain_id = ? AND escrow = ? AND deal_id = ? GROUP BY module ORDER BY module",
      )
      .all(...dealKey(deal)) as unknown as ModuleCounters[];
  }

  /** The answered call of a deal under a nonce, or undefined. */
  callByNonce(deal: DealRef, nonce: bigint): CallRecord | undefined {
    // prepared once: the server asks for every call
    this.byNonce ??= this.db.prepare(
      "SELECT * FROM calls WHERE chain_id = ? AND escrow = ? AND deal_id = ? AND nonce = ?",
    );
    const r = this.byNonce.get(...dealKey(deal), nonce.toString()) as CallRow | undefined;
    return r === undefined ? undefined : recordOf(r);
  }

  /**
   * Every answered call, in the buyer's call-log format: of one deal (optionally one module), in
   * sequence order, or of every deal.
   */
  calls(deal?: DealRef, module?: number): CallRecord[] {
    let rows: CallRow[];
    if (deal === undefined) {
      rows = this.db.prepare("SELECT * FROM calls ORDER BY id").all() as unknown as CallRow[];
    } else {
      const args = dealKey(deal);
      rows = (module === undefined
        ? this.db
            .prepare(
              "SELECT * FROM calls WHERE chain_id = ? AND escrow = ? AND deal_id = ? ORDER BY module, seq",
            )
            .all(...args)
        : this.db
            .prepare(
              "SELECT * FROM calls WHERE chain_id = ? AND escrow = ? AND deal_id = ? AND module = ? ORDER BY seq",
            )
            .all(...args, module)) as unknown as CallRow[];
    }
    return rows.map(recordOf);
  }

  /** Number of answered calls and their rows in the whole database. */
  totals(): { calls: number; rows: number } {
    const r = this.db
      .prepare("SELECT COUNT(*) AS calls, COALESCE(SUM(rows), 0) AS rows FROM calls")
      .get() as {
      calls: number;
      rows: number;
    };
    return { calls: r.calls, rows: r.rows };
  }

  /**
   * Commits one answered call and its rows against the adapter module's budget; resolves once the
   * transaction is on disk. The commit runs in the writer thread (the sync never blocks this
   * thread's event loop); calls that arrive while a commit is being written share the next one.
   */
  append(record: CallRecord): Promise<void> {
    if (this.closed) return Promise.reject(new MpiError("store_closed", "the call store is closed"));
    return new Promise((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    if (this.inFlight !== null || this.queue.length === 0) return;
    const batch = this.queue.splice(0);
    const id = ++this.batches;
    this.inFlight = { id, batch };
    this.writer.ref(); // a commit in flight keeps the process alive until it is on disk
    this.writer.postMessage({
      id,
      // X and Y as JSON text: a string crosses to the thread as one copy (cloning the nested
      // arrays of strings cost more than the rest of the call's bookkeeping)
      records: batch.map((p) => ({
        ...p.record,
        escrow: getAddress(p.record.escrow),
        budgetKey: p.record.budgetKey ?? p.record.adapterModule,
        X: JSON.stringify(p.record.X),
        Y: JSON.stringify(p.record.Y),
      })),
    });
  }

  private onWritten(msg: { id: number; results: (string | null)[] }): void {
    const f = this.inFlight;
    if (f === null || f.id !== msg.id) return;
    this.inFlight = null;
    f.batch.forEach((p, i) => {
      const reason = msg.results[i];
      if (reason === null) p.resolve();
      else
        p.reject(
          new MpiError(
            "store_write_failed",
            `call ${p.record.dealId}/${p.record.module} seq ${p.record.seq}: ${reason}`,
          ),
        );
    });
    this.pump();
    if (this.inFlight === null) {
      this.worker?.unref();
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private onWriterGone(err: unknown): void {
    const reason = err instanceof Error ? err.message : String(err);
    this.writerError = new MpiError("store_writer_died", `the database writer stopped: ${reason}`);
    const pending = [...(this.inFlight?.batch ?? []), ...this.queue.splice(0)];
    this.inFlight = null;
    for (const p of pending) p.reject(this.writerError);
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Records an uploaded deal key (replacing an earlier upload of the same shape). */
  putDealKey(deal: DealRef, key: StoredDealKey): void {
    this.db
      .prepare(
        "INSERT INTO deal_keys (chain_id, escrow, deal_id, shape_id, file, zkey_hash, bytes, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?) " +
          "ON CONFLICT (chain_id, escrow, deal_id, shape_id) DO UPDATE SET file = excluded.file, " +
          "zkey_hash = excluded.zkey_hash, bytes = excluded.bytes, time = excluded.time",
      )
      .run(
        ...dealKey(deal),
        key.shapeId.toLowerCase(),
        key.file,
        key.zkeyHash,
        key.bytes,
        new Date().toISOString(),
      );
  }

  /** The deal keys uploaded for a deal. */
  dealKeys(deal: DealRef): StoredDealKey[] {
    const rows = this.db
      .prepare(
        "SELECT shape_id, file, zkey_hash, bytes FROM deal_keys WHERE chain_id = ? AND escrow = ? AND deal_id = ?",
      )
      .all(...dealKey(deal)) as unknown as {
      shape_id: string;
      file: string;
      zkey_hash: string;
      bytes: number;
    }[];
    return rows.map((r) => ({ shapeId: r.shape_id, file: r.file, zkeyHash: r.zkey_hash, bytes: r.bytes }));
  }

  /** Waits for pending commits, stops the writer thread and closes the database. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.writerError === null && (this.inFlight !== null || this.queue.length > 0))
      await new Promise<void>((r) => this.idleWaiters.push(r));
    const w = this.worker;
    if (this.writerError === null && w !== null) {
      const exited = new Promise((r) => w.once("exit", r));
      w.ref();
      w.postMessage("close");
      await exited;
    }
    if (this.db.isOpen) this.db.close();
  }
}

/** The answered calls in a server database, optionally of one deal (read-only use; closes it again). */
export async function readServerCalls(file: string, deal?: DealRef): Promise<CallRecord[]> {
  const store = CallStore.open(file);
  try {
    return store.calls(deal);
  } finally {
    await store.close();
  }
}

/**
 * Writes the calls of a deal (or all) as a JSON-lines transcript in the buyer's call-log format,
 * the file both sides compare; returns how many calls it holds.
 */
export async function exportCallLog(dbFile: string, out: string, deal?: DealRef): Promise<number> {
  const calls = await readServerCalls(dbFile, deal);
  await writeFile(out, calls.map((c) => JSON.stringify(c) + "\n").join(""), { mode: 0o600 });
  return calls.length;
}
