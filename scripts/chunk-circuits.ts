/**
 * Builds the chunk circuits (chunked variant) of circuits/chunk-shapes.json (compile + the same Groth16
 * ceremony as `zklora:circuits`) and writes `contracts/verifiers/Groth16Chunk{A,B}_<name>.sol` and
 * `circuits/chunk-manifest.json`.
 *
 *   npm run circuits:chunk [-- --shape a,b] [--check]
 *       [--ptau FILE --ptau-hash SHA256] [--contribute NAME[,NAME…] --beacon HEX]
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { runChunkPipeline } from "../src/zk/index.js";

const { values } = parseArgs({
  options: {
    shape: { type: "string" },
    check: { type: "boolean", default: false },
    ptau: { type: "string" },
    "ptau-hash": { type: "string" },
    contribute: { type: "string" },
    beacon: { type: "string" },
    quiet: { type: "boolean", default: false },
  },
});

const started = Date.now();
try {
  const arts = await runChunkPipeline({
    shapes: values.shape?.split(",").map((s) => s.trim()),
    check: values.check,
    ptau: values.ptau,
    ptauSha256: values["ptau-hash"],
    contributions: values.contribute
      ?.split(",")
      .map((name) => ({ name: name.trim(), entropy: randomBytes(64).toString("hex") })),
    beacon: values.beacon,
    onProgress: values.quiet
      ? undefined
      : (m) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${m}`),
  });
  for (const a of arts) {
    for (const t of [a.a, a.b])
      console.log(`${t.verifierContract}: ${t.constraints} constraints, ptau 2^${t.ptau.power}`);
    console.log(`${a.shape.name}: shapeId ${a.shapeId}`);
  }
} catch (err) {
  console.error((err as Error).message);
  process.exitCode = 1;
} finally {
  await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
}
