/**
 * Buyer-side weight-delivery tasks: `zklora:check-delivery` (before funding: the published
 * ciphertexts match the hashes the escrow proved) and `zklora:decrypt` (after settlement: keys from
 * the KeysRevealed event → decrypted, checked weights → a PEFT adapter folder). Actions:
 * tasks/actions/check-delivery.ts, tasks/actions/decrypt.ts.
 */
import { task } from "hardhat/config";

const WORKSPACE = {
  name: "workspace",
  description: "The buyer's deal folder (deal.json from the contributor; deliveries/ is kept here)",
  defaultValue: "",
} as const;
const DEPLOYMENT = {
  name: "deployment",
  description: "Deployment record to use (default: deployments/<network>.json)",
  defaultValue: "",
} as const;

export const checkDeliveryTask = task(
  "zklora:check-delivery",
  "Buyer, before funding: check that each module's ciphertext (from --url, the contributor's server, or <workspace>/deliveries/) hashes to the hC the escrow holds for a proven delivery. Out: the checked copies in <workspace>/deliveries/; fails with what is wrong (then do not fund)",
)
  .addOption(WORKSPACE)
  .addOption(DEPLOYMENT)
  .addOption({
    name: "url",
    description:
      "The contributor's server (GET /v1/deals/:id/ciphertexts/:m); default: the workspace's files",
    defaultValue: "",
  })
  .setAction(() => import("./actions/check-delivery.js"))
  .build();

export const decryptTask = task(
  "zklora:decrypt",
  "Buyer, after settlement: read the delivery keys from the KeysRevealed event, decrypt the checked ciphertexts, check the weights against each C_m and write a PEFT adapter (adapter_config.json + adapter_model.safetensors). Out: --out DIR (default <workspace>/delivered-adapter)",
)
  .addOption(WORKSPACE)
  .addOption(DEPLOYMENT)
  .addOption({ name: "out", description: "Adapter folder to write", defaultValue: "" })
  .setAction(() => import("./actions/decrypt.js"))
  .build();

export const decryptTasks = [checkDeliveryTask, decryptTask];
