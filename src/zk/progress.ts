/** Progress reporting for long steps (compile, setup, contributions, prove). */
import type { SnarkjsLogger } from "snarkjs";

/** Receives one human-readable line per step. */
export type ProgressFn = (msg: string) => void;

/**
 * A snarkjs logger forwarding info/warn/error lines to `onProgress`, prefixed; debug and log lines
 * (snarkjs's per-chunk progress) at most once every `debugEveryMs`.
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
      onProgress(`${prefix}: ${m}`);
    }
  };
  return {
    log: debug,
    debug,
    info: (m: string) => onProgress(`${prefix}: ${m}`),
    warn: (m: string) => onProgress(`${prefix}: warning: ${m}`),
    error: (m: string) => onProgress(`${prefix}: error: ${m}`),
  };
}

/** Runs `step`, reporting its start and duration. */
export async function timed<T>(
  onProgress: ProgressFn | undefined,
  label: string,
  step: () => Promise<T>,
): Promise<T> {
  const t0 = performance.now();
  onProgress?.(`${label} ...`);
  const out = await step();
  onProgress?.(`${label} done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return out;
}
