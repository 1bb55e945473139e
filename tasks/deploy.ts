/** `zklora:deploy`: deploys registry, verifiers and escrow, and writes deployments/<network>.json. */
import { task } from "hardhat/config";

export const deployTask = task(
  "zklora:deploy",
  "Deploy the verifier registry, every generated Groth16 verifier (registered by shape), every chunked shape's chunk verifiers behind a ChunkedModuleVerifier, and the escrow; write deployments/<network>.json",
)
  .addOption({
    name: "shapes",
    description:
      "Comma-separated shape names from circuits/shapes.json or circuits/chunk-shapes.json (default: every shape with generated verifiers)",
    defaultValue: "",
  })
  .addOption({
    name: "registryOwner",
    description: "Account that owns the registry after deployment (default: the deployer)",
    defaultValue: "",
  })
  .addFlag({ name: "noWrite", description: "Do not write deployments/<network>.json" })
  .addFlag({
    name: "forgeableKeys",
    description:
      "Deploy development keys (anyone can forge proofs for them) to a non-local network: throwaway test deployments only",
  })
  .setAction(() => import("./actions/deploy.js"))
  .build();
