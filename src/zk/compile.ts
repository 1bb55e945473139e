/**
 * Compiling a circom main file with circom2 (`--O2 --r1cs --wasm`) into the content-hash cache
 * (src/common/cache.ts), and the tool versions that determine every compiled artifact and key.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { PROJECT_ROOT, cached, type KeyPart } from "../common/cache.js";
import { CompileError } from "./errors.js";
import { timed, type ProgressFn } from "./progress.js";

/** The installed folder of an npm package (package exports hide package.json from require). */
function packageDir(name: string): string {
  return path.join(PROJECT_ROOT, "node_modules", name);
}
function packageVersion(name: string): string {
  return (
    JSON.parse(readFileSync(path.join(packageDir(name), "package.json"), "utf8")) as { version: string }
  ).version;
}

/** Tool versions that determine the artifacts (part of every cache key). */
export const TOOL_VERSIONS = {
  circom2: packageVersion("circom2"),
  circomlib: packageVersion("circomlib"),
  snarkjs: packageVersion("snarkjs"),
};

/** Runs a child process and collects its stdout + stderr. */
function runProcess(cmd: string, args: string[], cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, output }));
  });
}

/** A compiled circuit in the cache. */
export interface CompiledCircuit {
  r1cs: string;
  wasm: string;
  dir: string;
  hit: boolean;
}

/**
 * Compiles a main file with circom2 (`--O2 --r1cs --wasm`) into the "zk-compile" cache. The key is
 * the tool versions and flags followed by `keyParts` (the caller names the circuit and lists every
 * source file it depends on). Outputs are named after the main file's stem.
 */
export async function compileMain(
  label: string,
  main: string,
  keyParts: KeyPart[],
  onProgress?: ProgressFn,
  includeDirs: readonly string[] = [],
): Promise<CompiledCircuit> {
  const stem = path.basename(main, ".circom");
  const parts: KeyPart[] = [
    `circom2@${TOOL_VERSIONS.circom2}`,
    `circomlib@${TOOL_VERSIONS.circomlib}`,
    "--O2 --r1cs --wasm",
    ...keyParts,
    ...includeDirs.map((d) => `-l ${path.relative(PROJECT_ROOT, d)}`),
  ];
  const res = await cached("zk-compile", parts, async (out) => {
    const cli = path.join(packageDir("circom2"), "cli.js");
    const { code, output } = await timed(onProgress, `compile ${label}`, () =>
      runProcess(
        process.execPath,
        [
          cli,
          main,
          "--O2",
          "--r1cs",
          "--wasm",
          ...includeDirs.flatMap((d) => ["-l", d]),
          "-l",
          path.join(PROJECT_ROOT, "node_modules"),
          "-o",
          out,
        ],
        PROJECT_ROOT,
      ),
    );
    if (code !== 0 || !existsSync(path.join(out, `${stem}.r1cs`))) {
      throw new CompileError(`circom2 failed on ${main} (exit ${code}):\n${output.slice(-4000)}`);
    }
  });
  return {
    dir: res.dir,
    hit: res.hit,
    r1cs: path.join(res.dir, `${stem}.r1cs`),
    wasm: path.join(res.dir, `${stem}_js`, `${stem}.wasm`),
  };
}
