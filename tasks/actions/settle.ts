/** Action of `zklora:settle`. */
import path from "node:path";
import { existsSync } from "node:fs";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { settleStep } from "../../src/app/delivery.js";
import { UsageError } from "../../src/app/errors.js";
import { dealIdOf } from "../../src/app/steps.js";
import { formatAmount } from "../../src/app/format.js";
import { clientOf, connect, pickSigner, runTask, workspaceOf } from "./lib.js";
import { Workspace } from "../../src/app/workspace.js";

interface Args {
  workspace: string;
  deployment: string;
  from: string;
  deal: string;
  wrapKey: string;
  ptau: string;
}

export default async function settleAction(args: Args, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask("zklora:settle", async () => {
    const ws = args.workspace === "" ? new Workspace(".") : workspaceOf(args.workspace);
    const dealId = await dealIdOf(ws, args.deal);
    const connection = await connect(hre);
    const reader = await clientOf(connection, args.deployment);
    const d = await reader.getDeal(dealId);
    const signer = await pickSigner(connection, args.from, d.contributor);
    const client = reader.withRunner(signer);
    let tx;
    if (d.delivery) {
      if (!existsSync(ws.deal))
        throw new UsageError(
          "a delivery deal settles with its keys: pass --workspace (deal.json, delivery-secrets.json)",
        );
      const r = await settleStep({
        workspace: ws,
        client,
        wrapKeyFile: args.wrapKey === "" ? undefined : path.resolve(args.wrapKey),
        ptau: args.ptau === "" ? undefined : path.resolve(args.ptau),
        log: (l) => console.log(l),
      });
      tx = r.tx;
      console.log(
        `delivered the keys of ${d.modules} modules, wrapped for the buyer (${r.proofs} key-wrap proof(s))`,
      );
    } else {
      tx = await client.settle(dealId);
    }
    console.log(
      `settled deal ${dealId}: paid ${formatAmount(d.price, await reader.tokenInfo(d.token))} to ${d.contributor}`,
    );
    console.log(`tx ${tx.hash} (block ${tx.blockNumber}, gas ${tx.gasUsed})`);
  });
}
