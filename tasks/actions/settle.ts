/** Action of `zklora:settle`. */
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

export default async function settleAction(args: Args, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask("zklora:settle", async () => {
    const ws = args.workspace === "" ? new Workspace(".") : workspaceOf(args.workspace);
    const dealId = await dealIdOf(ws, args.deal);
    const connection = await connect(hre);
    const reader = await clientOf(connection, args.deployment);
    const d = await reader.getDeal(dealId);
    const signer = await pickSigner(connection, args.from, d.contributor);
    const tx = await reader.withRunner(signer).settle(dealId);
    console.log(
      `settled deal ${dealId}: paid ${formatAmount(d.price, await reader.tokenInfo(d.token))} to ${d.contributor}`,
    );
    console.log(`tx ${tx.hash} (block ${tx.blockNumber}, gas ${tx.gasUsed})`);
  });
}
