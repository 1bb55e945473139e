/**
 * The contributor's embedded database: one SQLite file (`node:sqlite`, Node ≥ 22.13) in WAL mode,
 * `synchronous = FULL`, so a committed transaction is on disk before the call that made it returns
 * (the server commits a call before it answers). Several connections (the server, the proof-job
 * queue) may open the same file; `busy_timeout` makes them wait for each other instead of failing.
 *
 * Node 22 prints an ExperimentalWarning the first time `node:sqlite` is loaded; it is filtered here
 * (only that one warning) so that tasks keep their one-line output. The module is loaded lazily, so
 * importing this file costs nothing to code that never opens a database (browser bundles never do).
 */
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type { DatabaseSync } from "node:sqlite";
import { MpiError } from "./errors.js";

export type { DatabaseSync } from "node:sqlite";

let sqlite: typeof import("node:sqlite") | undefined;

function loadSqlite(): typeof import("node:sqlite") {
  if (sqlite !== undefined) return sqlite;
  const emit = process.emitWarning;
  // Drop exactly node's "SQLite is an experimental feature" warning while the module loads.
  process.emitWarning = function (warning: string | Error, ...rest: unknown[]) {
    const text = typeof warning === "string" ? warning : warning.message;
    if (/SQLite is an experimental feature/.test(text)) return;
    return (emit as (...a: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    sqlite = createRequire(import.meta.url)("node:sqlite") as typeof import("node:sqlite");
  } catch (err) {
    throw new MpiError(
      "sqlite_unavailable",
      `node:sqlite is not available in Node ${process.version} (it needs Node 22.13 or later; npm scripts run the project's Node 22): ${(err as Error).message}`,
    );
  } finally {
    process.emitWarning = emit;
  }
  return sqlite;
}

/**
 * Opens (creates) a database file with the project's settings: WAL journal, full sync, foreign
 * keys, a 10 s busy timeout. `:memory:` opens a private in-memory database (tests).
 */
export function openDatabase(file: string): DatabaseSync {
  const { DatabaseSync } = loadSqlite();
  if (file !== ":memory:") mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new DatabaseSync(file);
  try {
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = FULL");
    db.exec("PRAGMA foreign_keys = ON");
    db.exec("PRAGMA busy_timeout = 10000");
  } catch (err) {
    db.close();
    throw new MpiError(
      "database_unreadable",
      `${file} is not a usable SQLite database: ${(err as Error).message}`,
    );
  }
  return db;
}

/**
 * Runs `fn` inside one IMMEDIATE transaction (the write lock is taken at BEGIN, so two connections
 * never interleave a read-check-write); commits when it returns, rolls back when it throws.
 */
export function transaction<T>(db: DatabaseSync, fn: () => T): T {
  db.exec("BEGIN IMMEDIATE");
  try {
    const out = fn();
    db.exec("COMMIT");
    return out;
  } catch (err) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw err;
  }
}
