/** Action of `zklora:commit`. */
import path from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { UsageError } from "../../src/app/errors.js";
import { commitStep } from "../../src/app/steps.js";
import { parsePositive, runTask, workspaceOf } from "./lib.js";

interface Args {
  workspace: string;
  model: string;
  adapter: string;
  rows: string;
  chunked?: boolean;
  chunkedModules?: string;
}

export default async function commitAction(args: Args, _hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask("zklora:commit", async () => {
    const ws = workspaceOf(args.workspace);
    if (args.model === "")
      throw new UsageError("pass --model DIR (the base model: config.json + model.safetensors)");
    if (args.adapter === "")
      throw new UsageError(
        "pass --adapter DIR (the PEFT adapter: adapter_config.json + adapter_model.safetensors)",
      );
    const list = (args.chunkedModules ?? "")
      .split(",")
      .map((x) => x.trim())
      .filter((x) => x !== "");
    if (args.chunked === true && list.length > 0)
      throw new UsageError("pass either --chunked (every module) or --chunked-modules LIST, not both");
    const { manifest } = await commitStep({
      workspace: ws,
      modelDir: path.resolve(args.model),
      adapterDir: path.resolve(args.adapter),
      rows: args.rows === "" ? undefined : parsePositive(args.rows, "--rows"),
      chunked: args.chunked === true ? "all" : list.length > 0 ? list : undefined,
    });
    console.log(
      `committed ${manifest.modules.length} modules (base model sha256 ${manifest.baseModel.sha256}):`,
    );
    for (const m of manifest.modules) {
      console.log(
        `  #${m.index} ${m.target}  ${m.DIN}x${m.R}x${m.DOUT}  ${m.chunked === undefined ? "shape" : `chunked shape (WA ${m.chunked.WA}, WB ${m.chunked.WB})`} ${m.shape.name}  C_m ${m.C_m}`,
      );
    }
    console.log(`public manifest: ${ws.manifest}`);
    console.log(`PRIVATE weights and salts: ${ws.secrets} (never share it)`);
  });
}
