/** Action of `zklora:fund`. */
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { UsageError } from "../../src/app/errors.js";
import { fundStep } from "../../src/app/steps.js";
import { formatAmount } from "../../src/app/format.js";
import { loadDealContext } from "../../src/mpi/index.js";
import { clientOf, connect, pickSigner, runTask, workspaceOf } from "./lib.js";

interface Args {
  workspace: string;
  deployment: string;
  from: string;
  entries: string;
}

export default async function fundAction(args: Args, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask("zklora:fund", async () => {
    const ws = workspaceOf(args.workspace);
    if (args.entries !== "all" && args.entries !== "first")
      throw new UsageError(`--entries must be all or first, got ${args.entries}`);
    const deal = await loadDealContext(ws.need(ws.deal, "zklora:propose (the contributor sends deal.json)"));
    const connection = await connect(hre);
    const signer = await pickSigner(connection, args.from, deal.buyer, 1);
    const client = await clientOf(connection, args.deployment, signer);
    const { tx, approveTx, entries } = await fundStep({ workspace: ws, client, select: args.entries });
    const d = await client.getDeal(deal.dealId);
    const token = await client.tokenInfo(d.token);
    if (approveTx !== undefined)
      console.log(`approved the escrow: tx ${approveTx.hash} (gas ${approveTx.gasUsed})`);
    console.log(
      `funded deal ${deal.dealId} with ${formatAmount(d.price, token)} and ${entries.length} entries to prove`,
    );
    console.log(`tx ${tx.hash} (block ${tx.blockNumber}, gas ${tx.gasUsed})`);
    console.log(
      `proving deadline ${d.deadline === null ? "?" : new Date(Number(d.deadline) * 1000).toISOString()}`,
    );
  });
}
