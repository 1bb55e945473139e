import os from "node:os";
/** Shared benchmark helpers. */
import { spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { ContractTransactionResponse } from "ethers";
import { PROJECT_ROOT } from "../src/common/cache.js";

/** A rows x cols matrix of integers in [-range, range] from a 32-bit LCG seeded with `seed`. */
export function matrix(rows: number, cols: number, seed: number, range: number): bigint[][] {
  let s = seed >>> 0 || 1;
  const next = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return BigInt((s >>> 8) % (2 * range + 1)) - BigInt(range);
  };
  return Array.from({ length: rows }, () => Array.from({ length: cols }, next));
}

/** The gas a transaction used; throws when it failed. */
export async function gasOf(tx: Promise<ContractTransactionResponse>): Promise<bigint> {
  const receipt = await (await tx).wait();
  if (receipt === null || receipt.status !== 1) throw new Error("transaction failed");
  return receipt.gasUsed;
}

/** Writes `out` as `bench/results/<name>.json` and returns its path relative to the project. */
export async function writeBenchResult(name: string, out: unknown): Promise<string> {
  const dir = path.join(PROJECT_ROOT, "bench", "results");
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  await writeFile(file, JSON.stringify(out, null, 2) + "\n");
  const rel = path.relative(PROJECT_ROOT, file);
  console.log(`wrote ${rel}`);
  return rel;
}

/** A benchmark child's answer to its parent: one `RESULT <json>` line on stdout. */
export function emitResult(r: unknown): void {
  process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
}

/**
 * Runs this Node with `args` (after the parent's execArgv, so tsx applies) and returns the child's
 * `RESULT` line, parsed; rejects naming `label` when the child fails or says nothing.
 */
export function childResult<T>(args: string[], label: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...process.execArgv, ...args], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.on("error", reject);
    p.on("close", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("RESULT "));
      if (code !== 0 || line === undefined) reject(new Error(`${label} failed (exit ${code})`));
      else resolve(JSON.parse(line.slice("RESULT ".length)) as T);
    });
  });
}

/** Runs a benchmark's main, then terminates the curve snarkjs built (its worker threads keep Node alive). */
export async function runBench(main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } finally {
    await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
  }
}

/** The machine a result was measured on (the load average: 2 shared cores, other work may run). */
export function machineInfo(): {
  cpus: number;
  model: string | undefined;
  memBytes: number;
  node: string;
  platform: string;
  loadavg: number[];
} {
  return {
    cpus: os.cpus().length,
    model: os.cpus()[0]?.model,
    memBytes: os.totalmem(),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadavg: os.loadavg().map((v) => Math.round(v * 100) / 100),
  };
}

/** A rows x cols matrix of integers in [-bound, bound], deterministic in `seed` (xorshift64*). */
export function randMatrix(rows: number, cols: number, bound: number, seed: number): bigint[][] {
  let s = BigInt(seed) * 0x9e3779b97f4a7c15n + 1n;
  const M = (1n << 64n) - 1n;
  const next = () => {
    s ^= s >> 12n;
    s ^= (s << 25n) & M;
    s ^= s >> 27n;
    return BigInt(-bound) + (((s * 0x2545f4914f6cdd1dn) & M) % BigInt(2 * bound + 1));
  };
  return Array.from({ length: rows }, () => Array.from({ length: cols }, next));
}
