/** `zklora:circuits`: compile the circuits, run the trusted setup, write verifiers and manifest. */
import { task } from "hardhat/config";

export const circuitsTask = task(
  "zklora:circuits",
  "Compile circuits/shapes.json's circuits, run the Groth16 setup ceremony (development by default), write contracts/verifiers/ and circuits/manifest.json",
)
  .addOption({
    name: "shape",
    description: "Comma-separated shape names from circuits/shapes.json (default: all)",
    defaultValue: "",
  })
  .addOption({
    name: "ptau",
    description:
      "A public ceremony file powersOfTau28_hez_final_NN.ptau (default: the FORGEABLE development ptau)",
    defaultValue: "",
  })
  .addOption({
    name: "contribute",
    description:
      "Production ceremony: comma-separated contributor names, each contributing random entropy (needs --beacon)",
    defaultValue: "",
  })
  .addOption({
    name: "beacon",
    description:
      "Production ceremony: the closing beacon hash in hex (e.g. a future block hash announced in advance)",
    defaultValue: "",
  })
  .addFlag({
    name: "check",
    description: "Regenerate and fail if contracts/verifiers/ or circuits/manifest.json drift",
  })
  .setAction(() => import("./actions/circuits.js"))
  .build();
