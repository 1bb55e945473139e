/** Action of `zklora:refund`. */
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { dealIdOf } from "../../src/app/steps.js";
import { formatAmount } from "../../src/app/format.js";
import { clientOf, connect, pickSigner, runTask, workspaceOf } from "./lib.js";
import { Workspace } from "../../src/app/workspace.js";

interface Args {
  workspace: string;
  deployment: string;
  from: string;
  deal: string;
}

export default async function refundAction(args: Args, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask("zklora:refund", async () => {
    const ws = args.workspace === "" ? new Workspace(".") : workspaceOf(args.workspace);
    const dealId = await dealIdOf(ws, args.deal);
    const connection = await connect(hre);
    const reader = await clientOf(connection, args.deployment);
    const d = await reader.getDeal(dealId);
    const signer = await pickSigner(connection, args.from, d.buyer ?? undefined, 1);
    const tx = await reader.withRunner(signer).refund(dealId);
    console.log(
      `refunded deal ${dealId}: returned ${formatAmount(d.price, await reader.tokenInfo(d.token))} to ${d.buyer}`,
    );
    console.log(`tx ${tx.hash} (block ${tx.blockNumber}, gas ${tx.gasUsed})`);
  });
}
