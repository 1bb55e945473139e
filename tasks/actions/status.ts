/** Action of `zklora:status`. */
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { dealIdOf, dealStatus } from "../../src/app/steps.js";
import { decimalStrings, formatAmount, formatStatus } from "../../src/app/format.js";
import { clientOf, connect, dealOption, deploymentOf, optionalWorkspaceOf, runTask } from "./lib.js";

interface Args {
  workspace: string | undefined;
  deployment: string | undefined;
  deal: bigint;
  all: boolean;
  json: boolean;
}

export default async function statusAction(args: Args, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask("zklora:status", async () => {
    const connection = await connect(hre);
    const client = await clientOf(connection, args.deployment);
    if (args.all) {
      const ids = await client.dealIds();
      const deals = await Promise.all(ids.map((id) => client.getDeal(id)));
      if (args.json) {
        console.log(JSON.stringify(decimalStrings(deals), null, 2));
        return;
      }
      if (deals.length === 0) console.log(`no deals on escrow ${client.addresses.escrow}`);
      for (const d of deals) {
        const token = await client.tokenInfo(d.token);
        console.log(
          `deal ${d.dealId}: ${d.status}  ${formatAmount(d.price, token)}  contributor ${d.contributor}  buyer ${d.buyer ?? "open"}  modules ${d.proven}/${d.modules} proven`,
        );
      }
      return;
    }
    const ws = optionalWorkspaceOf(args.workspace);
    const report = await dealStatus(client, await dealIdOf(ws, dealOption(args.deal)));
    if (args.json) console.log(JSON.stringify(decimalStrings(report), null, 2));
    else {
      const record = await deploymentOf(connection, args.deployment);
      const names = new Map(record.shapes.map((s) => [s.shapeId.toLowerCase(), s.name] as const));
      for (const line of formatStatus(report, names)) console.log(line);
    }
  });
}
