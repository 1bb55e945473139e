/**
 * Builds the delivery circuits of circuits/delivery-shapes.json (compile + the same Groth16
 * ceremony as `zklora:circuits`) and writes `contracts/verifiers/Groth16Delivery_<name>.sol` and
 * `circuits/delivery-manifest.json`.
 *
 *   npm run circuits:delivery [-- --shape a,b] [--check]
 *       [--ptau FILE] [--contribute NAME[,NAME…] --beacon HEX]
 */
import { runDeliveryPipeline } from "../src/zk/index.js";
import { runPipelineCli } from "./pipeline-cli.js";

await runPipelineCli(runDeliveryPipeline, (a) =>
  console.log(`${a.verifierContract}: ${a.constraints} constraints, ptau 2^${a.ptau.power}`),
);
