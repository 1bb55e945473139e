/**
 * Helpers of the end-to-end tests: a real `hardhat node` on a free 127.0.0.1 port, Hardhat CLI
 * subprocesses (the project's node + hardhat's cli.js) and the dApp example script.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { PROJECT_ROOT } from "../../src/common/cache.js";
import { writeRandomAdapter, writeTinyLlama } from "../../src/model/index.js";

export const HARDHAT_CLI = path.join(PROJECT_ROOT, "node_modules", "hardhat", "dist", "src", "cli.js");
export const TSX_CLI = path.join(PROJECT_ROOT, "node_modules", "tsx", "dist", "cli.mjs");

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, collecting its output. */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 300_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: PROJECT_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs `hardhat <args>` with the project's node. */
export function hardhat(args: string[], env: NodeJS.ProcessEnv, timeoutMs?: number): Promise<Run> {
  return run(process.execPath, [HARDHAT_CLI, ...args], env, timeoutMs);
}

/** Like `hardhat`, but fails with the output when the exit code is not 0. */
export async function hardhatOk(args: string[], env: NodeJS.ProcessEnv, timeoutMs?: number): Promise<string> {
  const r = await hardhat(args, env, timeoutMs);
  if (r.code !== 0) {
    throw new Error(`hardhat ${args.join(" ")} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  }
  return r.stdout;
}

/** A long-running child process whose stdout is watched for a line. */
export class Background {
  readonly child: ChildProcess;
  output = "";
  private exited: Promise<number | null>;

  constructor(cmd: string, args: string[], env: NodeJS.ProcessEnv) {
    this.child = spawn(cmd, args, { cwd: PROJECT_ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    this.child.stdout?.on("data", (d: Buffer) => (this.output += d.toString()));
    this.child.stderr?.on("data", (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => this.child.on("exit", (code) => resolve(code)));
  }

  /** Waits until the output matches `re` (throws with the output after `timeoutMs` or on exit). */
  async waitFor(re: RegExp, timeoutMs = 120_000): Promise<RegExpExecArray> {
    const t0 = Date.now();
    while (Date.now() - t0 < timeoutMs) {
      const m = re.exec(this.output);
      if (m !== null) return m;
      if (this.child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no ${re} in the output of the background process:\n${this.output}`);
  }

  /** Sends `signal` and waits for the exit (SIGKILL after `graceMs`); returns the exit code. */
  async stop(signal: NodeJS.Signals = "SIGTERM", graceMs = 15_000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

/** Starts `hardhat node` on a free port and waits until its JSON-RPC answers. */
export async function startHardhatNode(): Promise<{ node: Background; url: string }> {
  const port = await freePort();
  const node = new Background(
    process.execPath,
    [HARDHAT_CLI, "node", "--hostname", "127.0.0.1", "--port", String(port)],
    process.env,
  );
  const url = `http://127.0.0.1:${port}`;
  const t0 = Date.now();
  while (Date.now() - t0 < 120_000) {
    if (node.child.exitCode !== null) break;
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      });
      if (res.ok) return { node, url };
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  await node.stop("SIGKILL");
  throw new Error(`hardhat node did not come up on ${url}:\n${node.output}`);
}

/**
 * The e2e deal inputs in `dir`: a tiny generated Llama (hidden 8, 2 layers) in `model/`, a rank-2
 * PEFT adapter on q_proj/v_proj in `adapter/` (every module of the shape v2_i8_r2_o8) and
 * the buyer's evaluation tokens in `tokens.json`.
 */
export async function writeTinyDealInputs(
  dir: string,
  o: { modelSeed: number; adapterSeed: number; tokens: number[] },
): Promise<void> {
  await writeTinyLlama(path.join(dir, "model"), {
    seed: o.modelSeed,
    hidden: 8,
    heads: 2,
    kvHeads: 2,
    layers: 2,
    intermediate: 16,
    vocab: 64,
    ctx: 32,
  });
  await writeRandomAdapter(path.join(dir, "model"), path.join(dir, "adapter"), {
    r: 2,
    alpha: 4,
    targetModules: ["q_proj", "v_proj"],
    seed: o.adapterSeed,
  });
  await writeFile(path.join(dir, "tokens.json"), `[${o.tokens.join(", ")}]\n`);
}

/** A running e2e environment: a temp folder with the deal inputs, a `hardhat node`, the env for the tasks. */
export interface E2eEnv {
  tmp: string;
  node: Background;
  rpc: string;
  env: NodeJS.ProcessEnv;
}

/**
 * Makes a temp folder (`prefix`), starts a `hardhat node`, writes the deal inputs
 * (`writeTinyDealInputs`) and the env the task processes run with (deployment records in
 * `<tmp>/deployments`).
 */
export async function startE2e(
  prefix: string,
  inputs: Parameters<typeof writeTinyDealInputs>[1],
): Promise<E2eEnv> {
  const tmp = await mkdtemp(path.join(tmpdir(), prefix));
  let started: { node: Background; url: string } | undefined;
  try {
    started = await startHardhatNode();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ZKLORA_LOCALHOST_URL: started.url,
      ZKLORA_DEPLOYMENTS_DIR: path.join(tmp, "deployments"),
      FORCE_COLOR: "0",
    };
    // Hardhat prints stack traces on purpose under CI (CI=true): the tasks' output as a user sees it.
    delete env.CI;
    await writeTinyDealInputs(tmp, inputs);
    return { tmp, node: started.node, rpc: started.url, env };
  } catch (e) {
    await started?.node.stop("SIGTERM");
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Stops what a test started (the server first, then the node), even after a failure, and removes the temp folder. */
export async function stopE2e(e: E2eEnv | undefined, serve: Background | undefined): Promise<void> {
  await serve?.stop("SIGKILL");
  await e?.node.stop("SIGTERM");
  if (e !== undefined) await rm(e.tmp, { recursive: true, force: true });
}

/** `zklora:commit` of the tiny deal inputs in `tmp` (model/, adapter/) into workspace `ws`, as account 1. */
export function commitTiny(
  net: string[],
  env: NodeJS.ProcessEnv,
  tmp: string,
  ws: string[],
): Promise<string> {
  return hardhatOk(
    [
      ...net,
      "zklora:commit",
      ...ws,
      "--model",
      path.join(tmp, "model"),
      "--adapter",
      path.join(tmp, "adapter"),
      "--from",
      "1",
    ],
    env,
  );
}

/** `zklora:propose` from account 1 to buyer account 2 with a one-hour window; the task's output. */
export function proposeToBuyer(
  net: string[],
  env: NodeJS.ProcessEnv,
  ws: string[],
  price: string,
  extra: string[] = [],
): Promise<string> {
  return hardhatOk(
    [
      ...net,
      "zklora:propose",
      ...ws,
      "--from",
      "1",
      "--price",
      price,
      "--buyer",
      "2",
      "--window",
      "3600",
      ...extra,
    ],
    env,
  );
}

/**
 * Starts `zklora:serve` for workspace `ws` and waits until it listens; stops it again when it does
 * not. The caller stops the returned server.
 */
export async function startServe(
  net: string[],
  env: NodeJS.ProcessEnv,
  ws: string[],
): Promise<{ server: Background; url: string }> {
  const server = new Background(process.execPath, [HARDHAT_CLI, ...net, "zklora:serve", ...ws], env);
  try {
    const url = (await server.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/))[1];
    return { server, url };
  } catch (err) {
    await server.stop("SIGKILL");
    throw err;
  }
}

/** `zklora:infer` of the tiny deal's tokens (`tmp`/model, `tmp`/tokens.json) against the server at `url`; the task's output. */
export function inferTiny(
  net: string[],
  env: NodeJS.ProcessEnv,
  tmp: string,
  ws: string[],
  url: string,
): Promise<string> {
  return hardhatOk(
    [
      ...net,
      "zklora:infer",
      ...ws,
      "--url",
      url,
      "--model",
      path.join(tmp, "model"),
      "--tokens",
      path.join(tmp, "tokens.json"),
    ],
    env,
  );
}
