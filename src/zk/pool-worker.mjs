/**
 * Child-process entry of the proving pool (src/zk/pool.ts). Plain JavaScript on purpose: it runs
 * under bare Node (started with an empty execArgv, no TypeScript loader) whether the pool was made
 * from `npx hardhat test` (tsx inside Hardhat) or a `tsx` script, and needs nothing but snarkjs.
 *
 * Protocol (IPC messages, advanced serialization):
 *   in:  { type: "prove", id, wasm, zkey, input, singleThread }
 *   out: { type: "result", id, ok: true, proof, publicSignals, witnessMs, proveMs, maxRssBytes }
 *        { type: "result", id, ok: false, stage: "witness" | "prove", message, maxRssBytes }
 *   in:  { type: "close" }  -> terminates this process's snarkjs curve and disconnects (exit 0)
 */
import { performance } from "node:perf_hooks";
import * as snarkjs from "snarkjs";

if (typeof process.send !== "function") throw new Error("pool-worker.mjs must run as a forked child");

/** The first line of an error's message (circom's witness errors carry a long wasm trace). */
function firstLine(err) {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split("\n")[0];
}

const maxRssBytes = () => process.resourceUsage().maxRSS * 1024;

async function prove(msg) {
  const fail = (stage, err) => ({
    type: "result",
    id: msg.id,
    ok: false,
    stage,
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
      proof,
      publicSignals,
      witnessMs,
      proveMs,
      maxRssBytes: maxRssBytes(),
    };
  } catch (err) {
    return fail("prove", err);
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
