// The call store's writer thread (src/mpi/store.ts): commits batches of answered calls to the
// server's SQLite database, so that the commit's WAL sync (synchronous = FULL) never blocks the
// server's event loop. Plain JavaScript like src/zk/pool-worker.mjs: a worker thread needs no
// TypeScript loader this way.
//
// workerData: { file, sync } (the database, created and migrated by the main thread's CallStore.open;
// sync "full" or "normal": see CommitSync in store.ts).
// Messages in:  { id, records: CallRecord-like rows (escrow checksummed, budgetKey set, X and Y as
//                JSON text) }
// Messages out: { id, results: (null | string)[] } — null: committed; string: why that call failed.
// A failure of the whole transaction fails every call of the batch.
import { createRequire } from "node:module";
import { parentPort, workerData } from "node:worker_threads";

const emit = process.emitWarning;
process.emitWarning = function (warning, ...rest) {
  const text = typeof warning === "string" ? warning : warning?.message;
  if (/SQLite is an experimental feature/.test(String(text))) return;
  return emit.call(process, warning, ...rest);
};
const { DatabaseSync } = createRequire(import.meta.url)("node:sqlite");
process.emitWarning = emit;

const db = new DatabaseSync(workerData.file);
db.exec("PRAGMA journal_mode = WAL");
db.exec(workerData.sync === "normal" ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL");
db.exec("PRAGMA busy_timeout = 10000");
const insert = db.prepare(
  "INSERT INTO calls (chain_id, escrow, deal_id, module, seq, nonce, adapter_module, budget_key, rows, buyer, " +
    "request_signature, response_signature, hx, hy, x, y, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
);
const charge = db.prepare(
  "INSERT INTO budgets (budget_key, rows_used) VALUES (?, ?) " +
    "ON CONFLICT (budget_key) DO UPDATE SET rows_used = rows_used + excluded.rows_used",
);

parentPort.on("message", (msg) => {
  if (msg === "close") {
    db.close();
    parentPort.close();
    return;
  }
  const results = msg.records.map(() => null);
  try {
    db.exec("BEGIN IMMEDIATE");
    msg.records.forEach((r, i) => {
      db.exec("SAVEPOINT call");
      try {
        insert.run(
          r.chainId,
          r.escrow,
          r.dealId,
          r.module,
          r.seq,
          r.nonce,
          r.adapterModule,
          r.budgetKey,
          r.rows,
          r.buyer,
          r.requestSignature,
          r.responseSignature,
          r.hX,
          r.hY,
          r.X,
          r.Y,
          r.time,
        );
        charge.run(r.budgetKey, r.rows);
        db.exec("RELEASE call");
      } catch (err) {
        db.exec("ROLLBACK TO call");
        db.exec("RELEASE call");
        results[i] = String(err?.message ?? err);
      }
    });
    db.exec("COMMIT");
  } catch (err) {
    if (db.isTransaction) db.exec("ROLLBACK");
    const reason = `the commit failed: ${String(err?.message ?? err)}`;
    parentPort.postMessage({ id: msg.id, results: msg.records.map(() => reason) });
    return;
  }
  parentPort.postMessage({ id: msg.id, results });
});
