/**
 * Contributor-side weight-delivery tasks (zero-knowledge contingent payment): `zklora:deliver`
 * (encrypt + prove + submit the deliveries, before funding) and `zklora:reveal` (reveal the keys
 * and get paid in one transaction). Actions: tasks/actions/deliver.ts, tasks/actions/reveal.ts.
 */
import { task } from "hardhat/config";

const WORKSPACE = {
  name: "workspace",
  description: "The deal's folder (manifest.json, secrets.json, deal.json; deliveries/ is written here)",
  defaultValue: "",
} as const;
const DEPLOYMENT = {
  name: "deployment",
  description: "Deployment record to use (default: deployments/<network>.json)",
  defaultValue: "",
} as const;
const FROM = {
  name: "from",
  description: "Account (index or address; default: the deal's contributor)",
  defaultValue: "",
} as const;

export const deliverTask = task(
  "zklora:deliver",
  "Contributor: encrypt each module's committed weights under a fresh key, prove the delivery (ciphertext encrypts the weights behind C_m under the key behind hK) and submit it, before the buyer funds. In: <workspace>/deal.json (a deal proposed with --deliver), secrets.json. Out: <workspace>/deliveries/module-<m>.json (PUBLIC: send them to the buyer or serve them), <workspace>/delivery-keys.json (PRIVATE, mode 0600)",
)
  .addOption(WORKSPACE)
  .addOption(DEPLOYMENT)
  .addOption(FROM)
  .setAction(() => import("./actions/deliver.js"))
  .build();

export const revealTask = task(
  "zklora:reveal",
  "Contributor: settle a delivery deal: reveal the delivery keys (checked on-chain against hK) and get paid, in one transaction (settleWithKeys). In: <workspace>/delivery-keys.json; every entry proven, within the proving window",
)
  .addOption(WORKSPACE)
  .addOption(DEPLOYMENT)
  .addOption(FROM)
  .setAction(() => import("./actions/reveal.js"))
  .build();

export const deliverTasks = [deliverTask, revealTask];
