/** Action of `zklora:decrypt`. */
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { decryptStep } from "../../src/app/delivery.js";
import { UsageError } from "../../src/app/errors.js";
import { DeliveryError } from "../../src/mpi/index.js";
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
    try {
      const r = await decryptStep({ workspace: ws, client, out: args.out });
      console.log(
        `deal ${r.dealId}: ${r.modules} modules decrypted with the keys of tx ${r.keysTx}, each checked against its C_m`,
      );
      console.log(`PEFT adapter written to ${r.dir}`);
    } catch (err) {
      if (err instanceof DeliveryError) throw new UsageError(`${err.code}: ${err.message}`);
      throw err;
    }
  });
}
