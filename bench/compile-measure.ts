/**
 * Compiles a LoRA-module shape with circom2 (the project's templates, `--O2`) into a TEMPORARY
 * folder — never circuits/main, shapes.json or the cache — and measures wall time and the peak RSS
 * of the compiler process (GNU time's "Maximum resident set size" when /usr/bin/time exists, else
 * VmHWM polled from /proc). Records a failure (exit code, out of memory, timeout) instead of throwing.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { PROJECT_ROOT } from "../src/common/cache.js";
import { readR1csInfo } from "../src/zk/r1cs.js";
import { CIRCUITS_DIR, type Shape } from "../src/zk/shape.js";

/** What one compile attempt gave. */
export interface CompileMeasurement {
  ok: boolean;
  flags: string;
  /** From the r1cs header (only when ok). */
  constraints?: number;
  wallMs: number;
  /** Peak RSS of the compiler process, MiB. */
  peakRssMiB?: number;
  peakRssSource: "gnu-time" | "proc-vmhwm" | "none";
  r1csBytes?: number;
  wasmBytes?: number;
  failure?: "exit" | "out-of-memory" | "timeout";
  /** Tail of the compiler's output on failure. */
  message?: string;
  loadavgBefore: number[];
  loadavgAfter: number[];
}

const GNU_TIME = "/usr/bin/time";
const OOM = /out of memory|memory access out of bounds|Cannot allocate|WebAssembly\.Memory|RangeError|OOM/i;

function readVmHwmKiB(pid: number): Promise<number | undefined> {
  return readFile(`/proc/${pid}/status`, "utf8").then(
    (s) => {
      const m = /VmHWM:\s+(\d+) kB/.exec(s);
      return m ? Number(m[1]) : undefined;
    },
    () => undefined,
  );
}

/** Compiles `LoraModule(T, DIN, R, DOUT)` in a temp dir; `wasm` adds the witness generator (as the pipeline does). */
export async function compileMeasured(
  shape: Shape,
  opts: { wasm: boolean; timeoutMs: number },
): Promise<CompileMeasurement> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "zklora-bench-compile-"));
  const loadavgBefore = os.loadavg();
  try {
    const main = path.join(dir, `${shape.name}.circom`);
    await writeFile(
      main,
      `pragma circom 2.1.0;\n\ninclude "lora_module.circom";\n\n` +
        `component main {public [C_m, hX, rho, fY]} = LoraModule(${shape.T}, ${shape.DIN}, ${shape.R}, ${shape.DOUT});\n`,
    );
    const flags = ["--O2", "--r1cs", ...(opts.wasm ? ["--wasm"] : [])];
    const cli = path.join(PROJECT_ROOT, "node_modules", "circom2", "cli.js");
    const circomArgs = [
      cli,
      main,
      ...flags,
      "-l",
      CIRCUITS_DIR,
      "-l",
      path.join(PROJECT_ROOT, "node_modules"),
      "-o",
      dir,
    ];
    // ZKLORA_BENCH_NO_GNU_TIME=1 forces the /proc polling fallback (machines without GNU time).
    const useTime = existsSync(GNU_TIME) && process.env.ZKLORA_BENCH_NO_GNU_TIME !== "1";
    const [cmd, args] = useTime
      ? [GNU_TIME, ["-v", process.execPath, ...circomArgs]]
      : [process.execPath, circomArgs];

    const t0 = performance.now();
    const res = await new Promise<{
      code: number | null;
      output: string;
      timedOut: boolean;
      hwmKiB?: number;
    }>((resolve, reject) => {
      const child = spawn(cmd, args, {
        cwd: PROJECT_ROOT,
        stdio: ["ignore", "pipe", "pipe"],
        detached: true,
      });
      let output = "";
      let timedOut = false;
      let hwmKiB: number | undefined;
      const keep = (d: Buffer) => {
        output += d.toString();
        if (output.length > 200_000) output = output.slice(-100_000);
      };
      child.stdout.on("data", keep);
      child.stderr.on("data", keep);
      const poll = useTime
        ? undefined
        : setInterval(() => {
            if (child.pid === undefined) return;
            void readVmHwmKiB(child.pid).then((v) => {
              if (v !== undefined) hwmKiB = Math.max(hwmKiB ?? 0, v);
            });
          }, 200);
      const timer = setTimeout(() => {
        timedOut = true;
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      }, opts.timeoutMs);
      child.on("error", reject);
      child.on("close", (code) => {
        clearTimeout(timer);
        if (poll !== undefined) clearInterval(poll);
        resolve({ code, output, timedOut, hwmKiB });
      });
    });
    const wallMs = performance.now() - t0;
    const gnu = /Maximum resident set size \(kbytes\): (\d+)/.exec(res.output);
    const peakKiB = gnu ? Number(gnu[1]) : res.hwmKiB;
    const base = {
      flags: flags.join(" "),
      wallMs: Math.round(wallMs),
      peakRssMiB: peakKiB !== undefined ? Math.round(peakKiB / 1024) : undefined,
      peakRssSource: gnu
        ? ("gnu-time" as const)
        : res.hwmKiB !== undefined
          ? ("proc-vmhwm" as const)
          : ("none" as const),
      loadavgBefore,
    };
    const r1cs = path.join(dir, `${shape.name}.r1cs`);
    // GNU time reports a non-zero exit as "Command exited with non-zero status N".
    const exited = /Command exited with non-zero status (\d+)|Command terminated by signal (\d+)/.exec(
      res.output,
    );
    if (res.timedOut || res.code !== 0 || exited !== null || !existsSync(r1cs)) {
      const tail = res.output
        .split("\n")
        .filter((l) => !/^\s+(?!Command)[A-Z][^:]*: /.test(l))
        .join("\n")
        .slice(-1500);
      return {
        ...base,
        ok: false,
        failure: res.timedOut ? "timeout" : OOM.test(res.output) ? "out-of-memory" : "exit",
        message: res.timedOut ? `killed after ${opts.timeoutMs / 1000} s` : tail,
        loadavgAfter: os.loadavg(),
      };
    }
    const info = await readR1csInfo(r1cs);
    const wasm = path.join(dir, `${shape.name}_js`, `${shape.name}.wasm`);
    return {
      ...base,
      ok: true,
      constraints: info.nConstraints,
      r1csBytes: (await stat(r1cs)).size,
      wasmBytes: existsSync(wasm) ? (await stat(wasm)).size : undefined,
      loadavgAfter: os.loadavg(),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
