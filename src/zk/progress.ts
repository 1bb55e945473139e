/** Progress reporting for long steps (compile, setup, contributions, prove). */
import type { SnarkjsLogger } from "snarkjs";

/**
 * What a progress line is, for a caller that shows them differently (src/app/progress.ts): the
 * start, end or failure of a step that `timed` runs ("start", "done", "fail"), a line of snarkjs's
 * own logger ("raw": its info/debug lines, which src/app prints only with --verbose), or any other
 * line ("info", the default).
 */
export type ProgressKind = "start" | "done" | "fail" | "raw" | "info";

/** Receives one human-readable line per step (and, optionally, what kind of line it is). */
export type ProgressFn = (msg: string, kind?: ProgressKind) => void;

/**
 * A snarkjs logger forwarding its lines to `onProgress`, prefixed: info lines as "raw", warnings and
 * errors as "info"; debug and log lines (snarkjs's per-chunk progress) as "raw" at most once every
 * `debugEveryMs`.
 */
export function progressLogger(
  onProgress: ProgressFn | undefined,
  prefix: string,
  debugEveryMs = 15_000,
): SnarkjsLogger | undefined {
  if (onProgress === undefined) return undefined;
  let last = performance.now();
  const debug = (m: string) => {
    const now = performance.now();
    if (now - last >= debugEveryMs) {
      last = now;
      onProgress(`${prefix}: ${m}`, "raw");
    }
  };
  return {
    log: debug,
    debug,
    info: (m: string) => onProgress(`${prefix}: ${m}`, "raw"),
    warn: (m: string) => onProgress(`${prefix}: warning: ${m}`, "info"),
    error: (m: string) => onProgress(`${prefix}: error: ${m}`, "info"),
  };
}

/**
 * Runs `step`, reporting its start (`${label} ...`, "start") and its duration (`${label} done in
 * X s`, "done"), or `${label} failed after X s` ("fail") when it throws.
 */
export async function timed<T>(
  onProgress: ProgressFn | undefined,
  label: string,
  step: () => Promise<T>,
): Promise<T> {
  const t0 = performance.now();
  const secs = () => ((performance.now() - t0) / 1000).toFixed(1);
  onProgress?.(`${label} ...`, "start");
  let out: T;
  try {
    out = await step();
  } catch (err) {
    onProgress?.(`${label} failed after ${secs()} s`, "fail");
    throw err;
  }
  onProgress?.(`${label} done in ${secs()} s`, "done");
  return out;
}
