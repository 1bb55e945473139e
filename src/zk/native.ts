/**
 * The native Groth16 prover (issue #20): `native/build/zkprove`, built from `native/` by
 * `npm run build:native` (g++, nasm, libgmp-dev; native/README.md). It proves a snarkjs `.zkey`
 * with a circom `.wtns` witness and gives the proof snarkjs would give (same QAP, same coset FFT,
 * same blinding), so snarkjs and the project's verifiers check it unchanged; its MSMs skip zeros,
 * add ones and bucket small scalars (the LoRA weights) over their own bit width only.
 *
 * The proving pool (src/zk/pool.ts) uses it when it is built and falls back to snarkjs when it is
 * not. `ZKLORA_PROVER=snarkjs` forces snarkjs (the benchmark's comparison), `ZKLORA_PROVER=native`
 * makes a missing binary an error; `ZKLORA_NATIVE_PROVER=<path>` points at another binary.
 *
 * The binary validates both files before proving (every coordinate below q and on the curve,
 * coefficient indices in range, witness values below r, witness[0] = 1, section sizes): a corrupt
 * file gives a NativeProverError, not a proof. It cannot tell a wrong-but-valid witness from a
 * right one (no prover can from the zkey alone): circom's witness calculator checks the
 * constraints, and proveV2 verifies every proof before it is released.
 */
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import path from "node:path";
import { PROJECT_ROOT } from "../common/cache.js";
import { ZkError } from "./errors.js";
import type { Groth16Proof } from "./verifier.js";

/** Where `npm run build:native` puts the prover. */
export const NATIVE_PROVER_DEFAULT_PATH = path.join(PROJECT_ROOT, "native", "build", "zkprove");

/**
 * Why the native prover failed: BAD_ZKEY / BAD_WITNESS (unreadable, truncated or corrupt file, or
 * a witness of another circuit), UNSUPPORTED (no BN254 Groth16 zkey: snarkjs may still prove it),
 * NOT_BUILT, CRASHED (killed or an internal error), USAGE.
 */
export type NativeProverErrorCode =
  "BAD_ZKEY" | "BAD_WITNESS" | "UNSUPPORTED" | "NOT_BUILT" | "CRASHED" | "USAGE";

/** The native prover refused its input or failed; `reason` says which way. */
export class NativeProverError extends ZkError {
  constructor(
    readonly reason: NativeProverErrorCode,
    message: string,
  ) {
    super(`NATIVE_${reason}`, message);
  }
}

/** Which prover the pool uses: "auto" (native when built), or one of them forced. */
export type ProverChoice = "auto" | "native" | "snarkjs";

/** The prover choice from `ZKLORA_PROVER` (default "auto"); throws on another value. */
export function proverChoiceFromEnv(): ProverChoice {
  const v = (process.env.ZKLORA_PROVER ?? "auto").trim().toLowerCase();
  if (v === "" || v === "auto") return "auto";
  if (v === "native" || v === "snarkjs") return v;
  throw new RangeError(
    `ZKLORA_PROVER must be auto, native or snarkjs, got ${JSON.stringify(process.env.ZKLORA_PROVER)}`,
  );
}

/** Whether the native prover can run here, its path, and why not. */
export interface NativeProverStatus {
  available: boolean;
  path: string;
  reason?: string;
}

/** Looks for the native prover binary (`ZKLORA_NATIVE_PROVER` or native/build/zkprove). */
export function nativeProverStatus(): NativeProverStatus {
  const p = process.env.ZKLORA_NATIVE_PROVER || NATIVE_PROVER_DEFAULT_PATH;
  if (process.platform !== "linux" || process.arch !== "x64") {
    return {
      available: false,
      path: p,
      reason: `the native prover needs Linux x86-64, this is ${process.platform} ${process.arch}`,
    };
  }
  try {
    accessSync(p, constants.X_OK);
  } catch {
    return {
      available: false,
      path: p,
      reason: `${p.startsWith(PROJECT_ROOT + path.sep) ? path.relative(PROJECT_ROOT, p) : p} is not built (npm run build:native; needs g++, nasm, libgmp-dev)`,
    };
  }
  return { available: true, path: p };
}

/** MSM classes of one multi-scalar multiplication: how many scalars fell in each. */
export interface NativeMsmStats {
  /** Zero scalars or identity points. */
  skipped: number;
  /** |k| = 1 (after making k signed). */
  ones: number;
  /** Scalars by bit length class: "8", "16", "32", "64", "128", "256". */
  bits: Record<string, number>;
}

/** What the binary reports of one proof. */
export interface NativeProveStats {
  threads: number;
  nVars: number;
  nPublic: number;
  domainSize: number;
  nCoef: number;
  /** Milliseconds per step: load (read and validate), qap, fft, msmAB1, msmB2, msmC, msmH, total. */
  ms: Record<string, number>;
  msm: Record<"A" | "B1" | "B2" | "C" | "H", NativeMsmStats>;
  /** CPU time of the binary, all threads (user + system, ms): its cost on a loaded machine. */
  cpuMs: number;
  /** The binary's peak RSS. */
  maxRssBytes: number;
}

export interface NativeProof {
  proof: Groth16Proof;
  publicSignals: string[];
  stats: NativeProveStats;
  /** Wall time of the process (spawn to exit). */
  wallMs: number;
}

export interface NativeProveOptions {
  /** OpenMP threads inside the prover (default 1). */
  threads?: number;
  /** The binary (default {@link nativeProverStatus}'s path). */
  binary?: string;
}

/** The prover's environment: idle OpenMP threads sleep instead of spinning (shared, loaded cores). */
function nativeEnv(): NodeJS.ProcessEnv {
  return { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? "PASSIVE" };
}

const EXIT_REASON: Record<number, NativeProverErrorCode> = {
  2: "USAGE",
  3: "BAD_ZKEY",
  4: "BAD_WITNESS",
  5: "UNSUPPORTED",
};

/**
 * Proves with the native prover: `zkey` a snarkjs Groth16 key file, `witness` a `.wtns` file path or
 * its bytes (piped to the prover). Rejects with NativeProverError.
 */
export function proveNative(
  zkey: string,
  witness: string | Uint8Array,
  opts: NativeProveOptions = {},
): Promise<NativeProof> {
  const threads = opts.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
    return Promise.reject(new RangeError(`threads must be an integer in [1, 256], got ${threads}`));
  }
  let binary = opts.binary;
  if (binary === undefined) {
    const st = nativeProverStatus();
    if (!st.available)
      return Promise.reject(new NativeProverError("NOT_BUILT", `native prover unavailable: ${st.reason}`));
    binary = st.path;
  }
  const wtnsArg = typeof witness === "string" ? witness : "-";
  const t0 = performance.now();
  return new Promise<NativeProof>((resolve, reject) => {
    const child = spawn(binary, [zkey, wtnsArg, "--threads", String(threads)], {
      stdio: [typeof witness === "string" ? "ignore" : "pipe", "pipe", "pipe"],
      env: nativeEnv(),
    });
    const out: Buffer[] = [];
    let err = "";
    child.stdout?.on("data", (d: Buffer) => out.push(d));
    child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", (e) =>
      reject(new NativeProverError("NOT_BUILT", `cannot run the native prover ${binary}: ${e.message}`)),
    );
    if (typeof witness !== "string" && child.stdin !== null) {
      child.stdin.on("error", () => {}); // the prover may exit before reading all (bad zkey): its exit code says why
      child.stdin.end(witness);
    }
    child.on("close", (code, signal) => {
      const msg = err.trim().replace(/^zkprove: [A-Z_]+: /, "");
      if (code === 0) {
        try {
          const r = JSON.parse(Buffer.concat(out).toString()) as Omit<NativeProof, "wallMs">;
          resolve({ ...r, wallMs: performance.now() - t0 });
        } catch (e) {
          reject(
            new NativeProverError(
              "CRASHED",
              `the native prover's output is not JSON: ${(e as Error).message}`,
            ),
          );
        }
        return;
      }
      const reason = code !== null ? EXIT_REASON[code] : undefined;
      if (reason !== undefined) reject(new NativeProverError(reason, msg));
      else
        reject(
          new NativeProverError(
            "CRASHED",
            `the native prover failed (${signal !== null ? `killed by ${signal}` : `exit code ${code}`})${msg ? `: ${msg}` : ""}`,
          ),
        );
    });
  });
}
