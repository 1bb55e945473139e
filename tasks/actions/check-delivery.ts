/** Action of `zklora:check-delivery`. */
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { checkDeliveryStep } from "../../src/app/delivery.js";
import { UsageError } from "../../src/app/errors.js";
import { DeliveryError } from "../../src/mpi/index.js";
import { clientOf, connect, runTask, workspaceOf } from "./lib.js";

interface Args {
  workspace: string;
  deployment: string;
  url: string;
}

export default async function checkDeliveryAction(args: Args, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask("zklora:check-delivery", async () => {
    const ws = workspaceOf(args.workspace);
    const connection = await connect(hre);
    const client = await clientOf(connection, args.deployment);
    try {
      const r = await checkDeliveryStep({ workspace: ws, client, url: args.url });
      console.log(
        `deal ${r.dealId}: the ${r.modules} published ciphertexts match the proven deliveries; safe to fund`,
      );
    } catch (err) {
      if (err instanceof DeliveryError) throw new UsageError(`${err.code}: ${err.message}`);
      throw err;
    }
  });
}
