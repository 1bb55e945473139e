/** Action of `zklora:reveal`. */
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { revealStep } from "../../src/app/delivery.js";
import { formatAmount } from "../../src/app/format.js";
import { loadDealContext } from "../../src/mpi/index.js";
import { clientOf, connect, pickSigner, runTask, workspaceOf } from "./lib.js";

interface Args {
  workspace: string;
  deployment: string;
  from: string;
}

export default async function revealAction(args: Args, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask("zklora:reveal", async () => {
    const ws = workspaceOf(args.workspace);
    const deal = await loadDealContext(ws.need(ws.deal, "zklora:propose"));
    const connection = await connect(hre);
    const signer = await pickSigner(connection, args.from, deal.contributor);
    const client = await clientOf(connection, args.deployment, signer);
    const d = await client.getDeal(deal.dealId);
    const { tx } = await revealStep({ workspace: ws, client });
    console.log(
      `deal ${deal.dealId}: keys revealed and ${formatAmount(d.price, await client.tokenInfo(d.token))} paid to ${d.contributor}`,
    );
    console.log(`tx ${tx.hash} (block ${tx.blockNumber}, gas ${tx.gasUsed})`);
  });
}
