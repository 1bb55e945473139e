/** `zklora:deploy`: deploys the shape registry and the escrow (and shape verifiers), writes deployments/<network>.json. */
import { task } from "hardhat/config";
import { ArgumentType } from "hardhat/types/arguments";

export const deployTask = task(
  "zklora:deploy",
  "Deploy the protocol-v2 shape registry and escrow, and register a verifier per shape (from --shapes, or derived from --adapter with --model); with --register, only add shapes to the network's existing deployment. Keys come from the FORGEABLE development ptau unless --ptau names a public ceremony file; write deployments/<network>.json",
)
  .addOption({
    name: "shapes",
    description: "Comma-separated shapes DINxRxDOUT to register (e.g. 64x8x64,768x8x2304)",
    type: ArgumentType.STRING_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addOption({
    name: "adapter",
    description: "Register the shapes of this PEFT adapter folder (with --model)",
    type: ArgumentType.FILE_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addOption({
    name: "model",
    description: "The adapter's base model folder (with --adapter)",
    type: ArgumentType.FILE_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addOption({
    name: "ptau",
    description:
      "A public powers-of-tau file (powersOfTau28_hez_final_NN.ptau, checked by hash); default the FORGEABLE dev ptau",
    type: ArgumentType.FILE_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addFlag({
    name: "register",
    description: "Add the shapes to the existing deployments/<network>.json instead of deploying anew",
  })
  .addFlag({ name: "noWrite", description: "Do not write deployments/<network>.json" })
  .addFlag({
    name: "forgeableKeys",
    description:
      "Deploy development keys (anyone can forge proofs for them) to a non-local network: throwaway test deployments only",
  })
  .setAction(() => import("./actions/deploy.js"))
  .build();
