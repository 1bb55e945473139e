/** Action of `zklora:fund`. */
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { parseCeremonyKeys } from "../../src/app/delivery.js";
import { fundStep } from "../../src/app/steps.js";
import { formatAmount } from "../../src/app/format.js";
import { loadDealContext } from "../../src/mpi/index.js";
import { WRAP_CIRCUIT_ID } from "../../src/zk/wrap/index.js";
import { clientOf, connect, fileOf, given, pickSigner, runTask, workspaceOf } from "./lib.js";

interface Args {
  workspace: string | undefined;
  deployment: string | undefined;
  from: string | undefined;
  url: string | undefined;
  ptau: string | undefined;
  forgeableKeys: boolean;
  deliveryKeys: string | undefined;
  trust: string | undefined;
  verbose?: boolean;
}

export default async function fundAction(args: Args, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask({ name: "zklora:fund", verbose: args.verbose }, async (progress) => {
    const ws = workspaceOf(args.workspace);
    const deal = await loadDealContext(ws.need(ws.deal, "zklora:propose (the contributor sends deal.json)"));
    const connection = await connect(hre);
    const signer = await pickSigner(connection, args.from, deal.buyer, 1);
    const client = await clientOf(connection, args.deployment, signer);
    const r = await fundStep({
      workspace: ws,
      client,
      url: args.url,
      ptau: fileOf(args.ptau),
      allowForgeableKeys: args.forgeableKeys,
      ceremonyKeys: parseCeremonyKeys(args.deliveryKeys ?? ""),
      trusted: given(args.trust) ? args.trust.split(",").map((h) => h.trim()) : undefined,
      progress,
    });
    const { checked } = r;
    console.log(
      `checked ${checked.proofsOfKnowledge} proofs of knowledge and ${checked.verifiers} registered verifier(s)`,
    );
    if (checked.deliveredModules > 0)
      console.log(
        `checked the delivery of ${checked.deliveredModules} modules (chunk proofs, links to W_m, hK)`,
      );
    const d = await client.getDeal(deal.dealId);
    const token = await client.tokenInfo(d.token);
    if (r.approveTx !== undefined)
      console.log(`approved the escrow: tx ${r.approveTx.hash} (gas ${r.approveTx.gasUsed})`);
    console.log(
      `funded deal ${deal.dealId} with ${formatAmount(d.price, token)}: ${r.rows.length} module entries (${r.rows.reduce((a, b) => a + b, 0)} rows folded), ${r.keys.length} deal key(s)`,
    );
    console.log(`tx ${r.tx.hash} (block ${r.tx.blockNumber}, gas ${r.tx.gasUsed})`);
    for (const k of r.keys) {
      const how = k.uploaded
        ? "uploaded to the contributor's server"
        : `${k.uploadError === undefined ? "" : `upload failed: ${k.uploadError}; `}hand it to the contributor: ${k.shapeId === WRAP_CIRCUIT_ID ? "zklora:settle --wrap-key FILE" : `zklora:prove --keys ${k.shapeId}=FILE`}`;
      console.log(`deal key ${k.shape}: ${k.zkey} (${how})`);
    }
    console.log(
      `proving deadline ${d.deadline === null ? "?" : new Date(Number(d.deadline) * 1000).toISOString()}`,
    );
  });
}
