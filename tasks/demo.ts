/** `zklora:demo`: a complete deal on the embedded Hardhat network, in one command. */
import { task } from "hardhat/config";

export const demoTask = task(
  "zklora:demo",
  "Run a complete protocol-v2 demo deal on the embedded Hardhat network: a generated rank-8 LoRA on stories260k's q_proj and v_proj, deploy, commit (W_m + proof of knowledge per module; shape keys set up on demand), deliver (weights encrypted, delivery proofs), register the shapes, propose, serve (127.0.0.1), infer, fund (the buyer's offer and delivery check, its own deal key per shape and key-wrap key, one folded entry per module), prove (deal keys checked; one proof per module), submit, settle with the keys wrapped for the buyer, decrypt to a PEFT adapter. Out: a report (modules, constraints, gas per step, loss with/without adapter, payments, times); files in --workspace",
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
  .addOption({ name: "rank", description: "LoRA rank (default 8)", defaultValue: "8" })
  .addOption({
    name: "tokens",
    description:
      "Evaluation tokens (BOS + greedy continuation; at most 16, the default row budget per adapter module)",
    defaultValue: "8",
  })
  .addOption({ name: "json", description: "Also write the report as JSON to this file", defaultValue: "" })
  .addFlag({
    name: "skipDelivery",
    description:
      "Run a plain deal: settle without delivering the weights (default: delivered with the payment)",
  })
  .setAction(() => import("./actions/demo.js"))
  .build();
