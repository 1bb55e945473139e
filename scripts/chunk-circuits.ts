/**
 * Builds the chunk circuits (chunked variant) of circuits/chunk-shapes.json (compile + the same Groth16
 * ceremony as `zklora:circuits`) and writes `contracts/verifiers/Groth16Chunk{A,B}_<name>.sol` and
 * `circuits/chunk-manifest.json`.
 *
 *   npm run circuits:chunk [-- --shape a,b] [--check]
 *       [--ptau FILE] [--contribute NAME[,NAME…] --beacon HEX]
 */
import { runChunkPipeline } from "../src/zk/index.js";
import { runPipelineCli } from "./pipeline-cli.js";

await runPipelineCli(runChunkPipeline, (a) => {
  for (const t of [a.a, a.b])
    console.log(`${t.verifierContract}: ${t.constraints} constraints, ptau 2^${t.ptau.power}`);
  console.log(`${a.shape.name}: shapeId ${a.shapeId}`);
});
