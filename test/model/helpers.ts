/** Shared helpers of the model tests. */
import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ModelError, type ModelErrorCode } from "../../src/model/index.js";

/** Expects `p` to reject with a ModelError of `code` whose message contains every `parts`. */
export async function expectModelError(
  p: Promise<unknown> | (() => unknown),
  code: ModelErrorCode,
  ...parts: string[]
): Promise<ModelError> {
  let err: unknown;
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err, `expected a ModelError ${code}`).to.be.instanceOf(ModelError);
  const me = err as ModelError;
  expect(me.code).to.equal(code, me.message);
  for (const s of parts) expect(me.message).to.contain(s);
  return me;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).to.equal(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** A fresh temporary folder, removed by the returned cleanup. */
export async function tempDir(tag: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `zklora-model-${tag}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Deterministic pseudo-random token ids. */
export function someTokens(n: number, vocab: number, seed = 1): number[] {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s % vocab;
  });
}
