/**
 * One cache for every expensive generated artifact (powers of tau, zkeys, compiled circuits).
 *
 * Entries live under `<cache dir>/<namespace>/<key>/`, where the key is the sha256 of everything
 * that determines the output (input file contents, parameters, tool versions). An entry is
 * produced in a temporary folder and renamed into place only when its producer succeeds, so a
 * crash never leaves a half-written entry behind, and two processes racing on one key both end
 * with a complete entry.
 *
 * The cache dir is `$ZKLORA_CACHE_DIR` when set, else the user's cache dir
 * (`$XDG_CACHE_HOME/zklora-escrow`, by default `~/.cache/zklora-escrow`), shared by every clone of
 * the project on the machine: entries are keyed by content, so a clone never reads an entry made
 * from other inputs, and a second clone (or CI on the same machine) skips ceremonies already run.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, rename, rm, stat, mkdtemp, writeFile, readFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The project root (the folder holding package.json). */
export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Where cached artifacts live. */
export function cacheDir(): string {
  if (process.env.ZKLORA_CACHE_DIR) return process.env.ZKLORA_CACHE_DIR;
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  return path.join(base, "zklora-escrow");
}

/** sha256 (hex) of a file's content, streamed. */
export function sha256File(file: string): Promise<string> {
  return hashFile(file, "sha256");
}

/** A node:crypto digest (hex) of a file's content, streamed. */
export async function hashFile(file: string, algorithm: "sha256" | "blake2b512"): Promise<string> {
  const hash = createHash(algorithm);
  await new Promise<void>((resolve, reject) => {
    createReadStream(file)
      .on("data", (chunk) => hash.update(chunk))
      .on("end", () => resolve())
      .on("error", reject);
  });
  return hash.digest("hex");
}

/** sha256 (hex) of a string or bytes. */
export function sha256(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** A part of a cache key: literal text, or a file whose content counts. */
export type KeyPart = string | { file: string };

/** The cache key of a list of parts: sha256 over each part's tag and content hash. */
export async function cacheKey(parts: readonly KeyPart[]): Promise<string> {
  const hash = createHash("sha256");
  for (const part of parts) {
    if (typeof part === "string") hash.update(`s:${part.length}:${part}\n`);
    else hash.update(`f:${await sha256File(part.file)}\n`);
  }
  return hash.digest("hex");
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Returns the folder of the cache entry `namespace/key(parts)`, producing it first when absent.
 * `produce` writes its outputs into the folder it is given.
 */
export async function cached(
  namespace: string,
  parts: readonly KeyPart[],
  produce: (dir: string) => Promise<void>,
): Promise<{ dir: string; key: string; hit: boolean }> {
  const key = await cacheKey(parts);
  const dir = path.join(cacheDir(), namespace, key);
  const done = path.join(dir, ".complete");
  if (await exists(done)) return { dir, key, hit: true };
  await mkdir(path.join(cacheDir(), namespace), { recursive: true });
  const tmp = await mkdtemp(path.join(cacheDir(), namespace, `.tmp-${key.slice(0, 8)}-`));
  try {
    await produce(tmp);
    await writeFile(path.join(tmp, ".complete"), new Date().toISOString());
    try {
      await rename(tmp, dir);
    } catch (err) {
      // Another process finished the same entry first: keep theirs.
      if (!(await exists(done))) throw err;
      await rm(tmp, { recursive: true, force: true });
    }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return { dir, key, hit: false };
}

/** Reads a JSON file. */
export async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, "utf8")) as T;
}
