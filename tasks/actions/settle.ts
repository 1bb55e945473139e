/** Action of `zklora:settle`. */
import { existsSync } from "node:fs";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { settleStep } from "../../src/app/delivery.js";
import { UsageError } from "../../src/app/errors.js";
import { dealIdOf } from "../../src/app/steps.js";
import { formatAmount } from "../../src/app/format.js";
import { clientOf, connect, dealOption, fileOf, optionalWorkspaceOf, pickSigner, runTask } from "./lib.js";

interface Args {
  workspace: string | undefined;
  deployment: string | undefined;
  from: string | undefined;
  deal: bigint;
  wrapKey: string | undefined;
  ptau: string | undefined;
  verbose?: boolean;
}

export default async function settleAction(args: Args, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask({ name: "zklora:settle", verbose: args.verbose }, async (progress) => {
    const ws = optionalWorkspaceOf(args.workspace);
    const dealId = await dealIdOf(ws, dealOption(args.deal));
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
        wrapKeyFile: fileOf(args.wrapKey),
        ptau: fileOf(args.ptau),
        progress,
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
