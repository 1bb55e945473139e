/** Action of `zklora:decrypt`. */
import path from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { decryptStep } from "../../src/app/delivery.js";
import { clientOf, connect, runTask, workspaceOf } from "./lib.js";

interface Args {
  workspace: string;
  deployment: string;
  out: string;
}

export default async function decryptAction(args: Args, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask("zklora:decrypt", async () => {
    const ws = workspaceOf(args.workspace);
    const connection = await connect(hre);
    const client = await clientOf(connection, args.deployment);
    const r = await decryptStep({
      workspace: ws,
      client,
      out: args.out === "" ? undefined : path.resolve(args.out),
      log: (l) => console.log(l),
    });
    console.log(`wrote the PEFT adapter (${r.modules} modules) to ${r.dir}`);
  });
}
