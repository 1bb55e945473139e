/** `zklora:demo`: a complete deal on the embedded Hardhat network, in one command. */
import { task } from "hardhat/config";

export const demoTask = task(
  "zklora:demo",
  "Run a complete demo deal on the embedded Hardhat network: generated rank-4 LoRA on stories260k, commit, deploy, propose with weight delivery, deliver (encrypt + prove each module's weights), serve (127.0.0.1), check the ciphertexts, infer, fund, prove, submit, settle with the keys, decrypt. Out: a report (modules, constraints, proving/verification times, gas per step, loss with/without adapter, payments, the delivered adapter); files in --workspace, the buyer's decrypted PEFT adapter in <workspace>/buyer/delivered-adapter",
)
  .addOption({
    name: "workspace",
    description: "Folder for the demo's files (wiped first; default deals/demo)",
    defaultValue: "deals/demo",
  })
  .addOption({
    name: "layers",
    description:
      "Comma-separated decoder layers of stories260k that get a LoRA on q_proj and v_proj (default: all 5)",
    defaultValue: "",
  })
  .addOption({
    name: "tokens",
    description:
      "Evaluation tokens (BOS + greedy continuation; 8 = one call per module; at most 16, the row budget)",
    defaultValue: "8",
  })
  .addOption({ name: "json", description: "Also write the report as JSON to this file", defaultValue: "" })
  .addFlag({
    name: "skipDelivery",
    description:
      "Plain deal without weight delivery: propose, settle (no delivery proofs, keys or adapter for the buyer)",
  })
  .setAction(() => import("./actions/demo.js"))
  .build();
