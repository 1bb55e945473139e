/** Action of `zklora:submit`. */
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { submitStep } from "../../src/app/steps.js";
import { loadDealContext } from "../../src/mpi/index.js";
import { clientOf, connect, intOption, pickSigner, runTask, workspaceOf } from "./lib.js";

interface Args {
  workspace: string | undefined;
  deployment: string | undefined;
  from: string | undefined;
  batch: number;
}

export default async function submitAction(args: Args, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask("zklora:submit", async () => {
    const ws = workspaceOf(args.workspace);
    const batch = intOption(args.batch, "--batch", 1);
    const deal = await loadDealContext(ws.need(ws.deal, "zklora:propose"));
    const connection = await connect(hre);
    const signer = await pickSigner(connection, args.from, deal.contributor);
    const client = await clientOf(connection, args.deployment, signer);
    const r = await submitStep({ workspace: ws, client, batch });
    for (const t of r.txs) {
      console.log(
        `modules ${t.modules.join(", ")}: ${t.method} tx ${t.tx.hash} (gas ${t.tx.gasUsed}, ${t.tx.gasUsed / BigInt(t.modules.length)} per module)`,
      );
    }
    if (r.missing.length > 0)
      console.log(`no proof files yet for modules ${r.missing.join(", ")} (zklora:prove)`);
    const d = await client.getDeal(deal.dealId);
    console.log(`deal ${deal.dealId}: ${d.proven} of ${d.modules} modules proven`);
    if (d.proven === d.modules) console.log("every module is proven: run zklora:settle");
  });
}
