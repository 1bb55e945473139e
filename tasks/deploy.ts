/**
 * `zklora:deploy`: deploys the shape registry and the escrow (and shape verifiers), through Hardhat
 * Ignition on a JSON-RPC network (resumable: ignition/deployments/<deployment id>/), writes
 * deployments/<network>.json; asks before sending transactions to a public chain; --verify.
 */
import { task } from "hardhat/config";
import { ArgumentType } from "hardhat/types/arguments";

export const deployTask = task(
  "zklora:deploy",
  "Deploy the protocol-v2 shape registry and escrow, and register a verifier per shape (from --shapes, or derived from --adapter with --model); with --register, only add shapes to the network's existing deployment. On a JSON-RPC network (localhost, sepolia) it runs the Hardhat Ignition modules of ignition/modules: a second run resumes from the journal in ignition/deployments/<deployment id>/ and sends only what is missing. Keys come from the FORGEABLE development ptau unless --ptau names a public ceremony file; write deployments/<network>.json; on a chain that is not local, show what will be sent and ask (--yes: do not ask); --verify: verify every contract on the block explorer",
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
    description:
      "Only add the shapes to the registry of the existing deployments/<network>.json (never deploys a registry)",
  })
  .addFlag({ name: "noWrite", description: "Do not write deployments/<network>.json" })
  .addFlag({
    name: "forgeableKeys",
    description:
      "Deploy development keys (anyone can forge proofs for them) to a non-local network: throwaway test deployments only",
  })
  .addOption({
    name: "deploymentId",
    description:
      "The Ignition deployment (its journal: ignition/deployments/<id>/); default chain-<chain id>. Another id deploys a new instance",
    type: ArgumentType.STRING_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addFlag({
    name: "yes",
    description:
      "Do not ask before sending transactions to a chain that is not local (required there when stdin is not a terminal)",
  })
  .addFlag({
    name: "verify",
    description:
      "Then verify the registry, the escrow and every verifier on the block explorer (hardhat-verify; ETHERSCAN_API_KEY in the keystore); not on a local chain",
  })
  .setAction(() => import("./actions/deploy.js"))
  .build();
