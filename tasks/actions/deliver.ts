/** Action of `zklora:deliver`. */
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { deliverStep } from "../../src/app/delivery.js";
import { loadDealContext } from "../../src/mpi/index.js";
import { clientOf, connect, pickSigner, runTask, workspaceOf } from "./lib.js";

interface Args {
  workspace: string;
  deployment: string;
  from: string;
}

export default async function deliverAction(args: Args, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask("zklora:deliver", async () => {
    const ws = workspaceOf(args.workspace);
    const deal = await loadDealContext(ws.need(ws.deal, "zklora:propose"));
    const connection = await connect(hre);
    const signer = await pickSigner(connection, args.from, deal.contributor);
    const client = await clientOf(connection, args.deployment, signer);
    const r = await deliverStep({ workspace: ws, client, log: (m) => console.log(m) });
    const gas = r.txs.reduce((s, t) => s + t.gasUsed, 0n);
    console.log(
      `deal ${r.dealId}: ${r.deliveries.length} deliveries proven on-chain (${r.txs.length} submitted now, gas ${gas})`,
    );
    console.log(
      `public ciphertexts: ${ws.dir}/deliveries/ (send them to the buyer, or zklora:serve serves them)`,
    );
    console.log(
      `private keys: ${ws.dir}/delivery-keys.json (revealed only by zklora:reveal, which pays you)`,
    );
  });
}
