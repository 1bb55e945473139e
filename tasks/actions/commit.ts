/** Action of `zklora:commit`. */
import { existsSync } from "node:fs";
import path from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { UsageError } from "../../src/app/errors.js";
import { commitStep } from "../../src/app/steps.js";
import { clientOf, connect, fileOf, given, pickSigner, runTask, workspaceOf } from "./lib.js";

interface Args {
  workspace: string | undefined;
  deployment: string | undefined;
  from: string | undefined;
  model: string | undefined;
  adapter: string | undefined;
  ptau: string | undefined;
  verbose?: boolean;
}

export default async function commitAction(args: Args, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask({ name: "zklora:commit", verbose: args.verbose }, async (progress) => {
    const ws = workspaceOf(args.workspace);
    if (!given(args.model)) throw new UsageError("pass --model DIR (the base model: config.json + weights)");
    if (!given(args.adapter))
      throw new UsageError(
        "pass --adapter DIR (the PEFT adapter: adapter_config.json + adapter_model.safetensors)",
      );
    for (const [dir, what, file] of [
      [args.model, "--model", "config.json"],
      [args.adapter, "--adapter", "adapter_config.json"],
    ] as const) {
      if (!existsSync(path.join(dir, file))) throw new UsageError(`${what} ${dir} has no ${file}`);
    }
    const connection = await connect(hre);
    const signer = await pickSigner(connection, args.from);
    const client = await clientOf(connection, args.deployment, signer);
    const { manifest, keys } = await commitStep({
      workspace: ws,
      modelDir: path.resolve(args.model),
      adapterDir: path.resolve(args.adapter),
      client,
      contributor: await signer.getAddress(),
      ptau: fileOf(args.ptau),
      progress,
    });
    console.log(
      `committed ${manifest.modules.length} modules (base model sha256 ${manifest.baseModel.sha256}):`,
    );
    for (const m of manifest.modules) {
      console.log(
        `  #${m.index} ${m.target}  ${m.shape.name}  W_m (${m.W[0].slice(0, 14)}…, ${m.W[1].slice(0, 14)}…)`,
      );
    }
    console.log(
      `shapes: ${keys.map((k) => `${k.name} (${k.constraints} constraints, ${k.ptau.source === "dev" ? "FORGEABLE dev ptau" : k.ptau.file})`).join(", ")}`,
    );
    console.log(
      `public manifest (W_m and proofs of knowledge, bound to escrow ${manifest.context.escrow}): ${ws.manifest}`,
    );
    console.log(`PRIVATE weights and salts: ${ws.secrets} (never share it)`);
  });
}
