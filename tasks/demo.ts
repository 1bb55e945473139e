/** `zklora:demo`: a complete deal on the embedded Hardhat network, in one command. */
import { task } from "hardhat/config";
import { ArgumentType } from "hardhat/types/arguments";
import { VERBOSE } from "./deal.js";

export const demoTask = task(
  "zklora:demo",
  "Run a complete protocol-v2 demo deal on the embedded Hardhat network: a generated rank-8 LoRA on stories260k's q_proj and v_proj, deploy, commit (W_m + proof of knowledge per module; shape keys set up on demand), deliver (weights encrypted, delivery proofs), register the shapes, propose, serve (127.0.0.1), infer, fund (the buyer's offer and delivery check, its own deal key per shape and key-wrap key, one folded entry per module), prove (deal keys checked; one proof per module), submit, settle with the keys wrapped for the buyer, decrypt to a PEFT adapter. Out: a report (modules, constraints, gas per step, loss with/without adapter, payments, times); files in --workspace",
)
  .addOption({
    name: "workspace",
    description: "Folder for the demo's files (wiped first)",
    type: ArgumentType.FILE,
    defaultValue: "deals/demo",
  })
  .addOption({
    name: "layers",
    description:
      "Comma-separated decoder layers of stories260k that get a LoRA on q_proj and v_proj (default: all 5)",
    type: ArgumentType.STRING_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addOption({ name: "rank", description: "LoRA rank (at least 1)", type: ArgumentType.INT, defaultValue: 8 })
  .addOption({
    name: "tokens",
    description:
      "Evaluation tokens, 2..16 (BOS + greedy continuation; at most 16, the default row budget per adapter module)",
    type: ArgumentType.INT,
    defaultValue: 8,
  })
  .addOption({
    name: "json",
    description: "Also write the report as JSON to this file",
    type: ArgumentType.FILE_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addFlag({
    name: "skipDelivery",
    description:
      "Run a plain deal: settle without delivering the weights (default: delivered with the payment)",
  })
  .addFlag(VERBOSE)
  .setAction(() => import("./actions/demo.js"))
  .build();
