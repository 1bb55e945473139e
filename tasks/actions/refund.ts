/** Action of `zklora:refund`. */
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { dealIdOf } from "../../src/app/steps.js";
import { formatAmount } from "../../src/app/format.js";
import { clientOf, connect, dealOption, optionalWorkspaceOf, pickSigner, runTask } from "./lib.js";

interface Args {
  workspace: string | undefined;
  deployment: string | undefined;
  from: string | undefined;
  deal: bigint;
}

export default async function refundAction(args: Args, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask("zklora:refund", async () => {
    const ws = optionalWorkspaceOf(args.workspace);
    const dealId = await dealIdOf(ws, dealOption(args.deal));
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
