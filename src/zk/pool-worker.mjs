/**
 * Child-process entry of the proving pool (src/zk/pool.ts). Plain JavaScript on purpose: it runs
 * under bare Node (started with an empty execArgv, no TypeScript loader) whether the pool was made
 * from `npx hardhat test` (tsx inside Hardhat) or a `tsx` script, and needs nothing but snarkjs.
 *
 * With `native` set ({ binary, threads }), the proof is made by the native prover (native/,
 * src/zk/native.ts): the witness bytes are piped to `binary <zkey> - --threads N`, which prints the
 * proof JSON. When it says the file is no BN254 Groth16 zkey/witness (exit 5) or cannot be started,
 * snarkjs proves instead; a corrupt zkey or witness (exit 3, 4) is an error, never a fallback.
 *
 * Protocol (IPC messages, advanced serialization):
 *   in:  { type: "prove", id, wasm, zkey, input, singleThread, native: { binary, threads } | null }
 *   out: { type: "result", id, ok: true, prover, proof, publicSignals, witnessMs, proveMs, maxRssBytes }
 *        { type: "result", id, ok: false, stage: "witness" | "prove", prover, message, maxRssBytes }
 *   in:  { type: "close" }  -> terminates this process's snarkjs curve and disconnects (exit 0)
 * `prover` is "native" or "snarkjs"; maxRssBytes adds the native prover's peak RSS to this process's.
 */
import { spawn } from "node:child_process";
import { performance } from "node:perf_hooks";
import * as snarkjs from "snarkjs";

if (typeof process.send !== "function") throw new Error("pool-worker.mjs must run as a forked child");

/** The first line of an error's message (circom's witness errors carry a long wasm trace). */
function firstLine(err) {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split("\n")[0];
}

const maxRssBytes = () => process.resourceUsage().maxRSS * 1024;

/** Exit codes of the native prover (native/zkprove.cpp). */
const NATIVE_EXIT = { 2: "USAGE", 3: "BAD_ZKEY", 4: "BAD_WITNESS", 5: "UNSUPPORTED" };

/** Runs the native prover on the witness bytes; rejects with an Error carrying `reason`. */
function proveNative(native, zkey, wtnsData) {
  return new Promise((resolve, reject) => {
    const child = spawn(native.binary, [zkey, "-", "--threads", String(native.threads)], {
      stdio: ["pipe", "pipe", "pipe"],
      // idle OpenMP threads sleep instead of spinning: provers share the cores with each other
      env: { ...process.env, OMP_WAIT_POLICY: process.env.OMP_WAIT_POLICY ?? "PASSIVE" },
    });
    const out = [];
    let err = "";
    const failWith = (reason, message) => reject(Object.assign(new Error(message), { reason }));
    child.stdout.on("data", (d) => out.push(d));
    child.stderr.on("data", (d) => (err += d.toString()));
    child.on("error", (e) => failWith("NOT_BUILT", `cannot run ${native.binary}: ${e.message}`));
    child.stdin.on("error", () => {}); // it may exit before reading everything; its exit code says why
    child.stdin.end(wtnsData);
    child.on("close", (code, signal) => {
      const msg = err.trim().replace(/^zkprove: [A-Z_]+: /, "");
      if (code === 0) {
        try {
          resolve(JSON.parse(Buffer.concat(out).toString()));
        } catch (e) {
          failWith("CRASHED", `the native prover's output is not JSON: ${firstLine(e)}`);
        }
      } else if (code !== null && NATIVE_EXIT[code] !== undefined) {
        failWith(NATIVE_EXIT[code], msg);
      } else {
        const how = signal !== null ? `killed by ${signal}` : `exit code ${code}`;
        failWith("CRASHED", `the native prover failed (${how})${msg ? `: ${msg}` : ""}`);
      }
    });
  });
}

async function prove(msg) {
  const fail = (stage, err, prover = "snarkjs") => ({
    type: "result",
    id: msg.id,
    ok: false,
    stage,
    prover,
    message: firstLine(err),
    maxRssBytes: maxRssBytes(),
  });
  const wtns = { type: "mem" };
  let t = performance.now();
  try {
    await snarkjs.wtns.calculate(msg.input, msg.wasm, wtns);
    if (wtns.data === undefined) throw new Error("witness calculation produced no data");
  } catch (err) {
    return fail("witness", err);
  }
  const witnessMs = performance.now() - t;
  t = performance.now();
  let nativeNote = "";
  if (msg.native) {
    try {
      const r = await proveNative(msg.native, msg.zkey, wtns.data);
      return {
        type: "result",
        id: msg.id,
        ok: true,
        prover: "native",
        proof: r.proof,
        publicSignals: r.publicSignals,
        witnessMs,
        proveMs: performance.now() - t,
        maxRssBytes: maxRssBytes() + (r.stats?.maxRssBytes ?? 0),
      };
    } catch (err) {
      if (err.reason !== "UNSUPPORTED" && err.reason !== "NOT_BUILT") return fail("prove", err, "native");
      nativeNote = ` (the native prover declined: ${firstLine(err)})`;
      t = performance.now();
    }
  }
  try {
    const { proof, publicSignals } = await snarkjs.groth16.prove(
      msg.zkey,
      { type: "mem", data: wtns.data },
      undefined,
      msg.singleThread ? { singleThread: true } : undefined,
    );
    const proveMs = performance.now() - t;
    return {
      type: "result",
      id: msg.id,
      ok: true,
      prover: "snarkjs",
      proof,
      publicSignals,
      witnessMs,
      proveMs,
      maxRssBytes: maxRssBytes(),
    };
  } catch (err) {
    return fail("prove", new Error(firstLine(err) + nativeNote));
  }
}

async function close() {
  const curve = globalThis.curve_bn128;
  if (curve != null) {
    await curve.terminate();
    delete globalThis.curve_bn128;
  }
  process.disconnect();
}

process.on("message", (msg) => {
  if (msg.type === "prove") {
    void prove(msg).then((out) => process.send(out));
  } else if (msg.type === "close") {
    void close();
  }
});
// Closed, or the parent went away: exit (this also ends a running proof and the curve's threads).
process.on("disconnect", () => process.exit(0));
