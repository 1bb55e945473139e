/** Action of `zklora:submit`. */
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { submitStep } from "../../src/app/steps.js";
import { loadDealContext } from "../../src/mpi/index.js";
import { clientOf, connect, parsePositive, pickSigner, runTask, workspaceOf } from "./lib.js";

interface Args {
  workspace: string;
  deployment: string;
  from: string;
  batch: string;
}

export default async function submitAction(args: Args, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask("zklora:submit", async () => {
    const ws = workspaceOf(args.workspace);
    const batch = parsePositive(args.batch, "--batch");
    const deal = await loadDealContext(ws.need(ws.deal, "zklora:propose"));
    const connection = await connect(hre);
    const signer = await pickSigner(connection, args.from, deal.contributor);
    const client = await clientOf(connection, args.deployment, signer);
    const r = await submitStep({ workspace: ws, client, batch });
    for (const tx of r.txs) {
      console.log(
        `entries ${tx.entries.join(", ")}: ${tx.method} tx ${tx.hash} (gas ${tx.gasUsed}, ${tx.gasUsed / BigInt(tx.entries.length)} per proof)`,
      );
    }
    const d = await client.getDeal(r.dealId);
    console.log(
      `submitted ${r.submitted} proofs (${r.alreadyProven} were proven already); deal ${r.dealId}: ${d.unproven} unproven`,
    );
    if (d.unproven === 0) console.log("every entry is proven: run zklora:settle");
  });
}
