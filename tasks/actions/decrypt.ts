/** Action of `zklora:decrypt`. */
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { decryptStep } from "../../src/app/delivery.js";
import { clientOf, connect, fileOf, runTask, workspaceOf } from "./lib.js";

interface Args {
  workspace: string | undefined;
  deployment: string | undefined;
  out: string | undefined;
}

export default async function decryptAction(args: Args, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask("zklora:decrypt", async () => {
    const ws = workspaceOf(args.workspace);
    const connection = await connect(hre);
    const client = await clientOf(connection, args.deployment);
    const r = await decryptStep({
      workspace: ws,
      client,
      out: fileOf(args.out),
      log: (l) => console.log(l),
    });
    console.log(`wrote the PEFT adapter (${r.modules} modules) to ${r.dir}`);
  });
}
