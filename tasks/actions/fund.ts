/** Action of `zklora:fund` (and its two halves, --prepare FILE and --upload). */
import path from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { parseCeremonyKeys } from "../../src/app/delivery.js";
import { UsageError } from "../../src/app/errors.js";
import {
  fundStep,
  prepareFundStep,
  uploadFundKeysStep,
  type FundChecks,
  type UploadedDealKey,
} from "../../src/app/steps.js";
import { formatAmount } from "../../src/app/format.js";
import { fundRequestToJson } from "../../src/chain/index.js";
import { loadDealContext, writeJsonAtomic } from "../../src/mpi/index.js";
import { WRAP_CIRCUIT_ID } from "../../src/zk/wrap/index.js";
import { clientOf, connect, fileOf, given, pickSigner, runTask, workspaceOf } from "./lib.js";

interface Args {
  workspace: string | undefined;
  deployment: string | undefined;
  from: string | undefined;
  url: string | undefined;
  prepare?: string | undefined;
  upload?: boolean;
  ptau: string | undefined;
  forgeableKeys: boolean;
  deliveryKeys: string | undefined;
  trust: string | undefined;
  verbose?: boolean;
}

function printChecked(checked: FundChecks): void {
  console.log(
    `checked ${checked.proofsOfKnowledge} proofs of knowledge and ${checked.verifiers} registered verifier(s)`,
  );
  if (checked.deliveredModules > 0)
    console.log(
      `checked the delivery of ${checked.deliveredModules} modules (chunk proofs, links to W_m, hK)`,
    );
}

function printKeys(keys: readonly UploadedDealKey[]): void {
  for (const k of keys) {
    const how = k.uploaded
      ? "uploaded to the contributor's server"
      : `${k.uploadError === undefined ? "" : `upload failed: ${k.uploadError}; `}hand it to the contributor: ${k.shapeId === WRAP_CIRCUIT_ID ? "zklora:settle --wrap-key FILE" : `zklora:prove --keys ${k.shapeId}=FILE`}`;
    console.log(`deal key ${k.shape}: ${k.zkey} (${how})`);
  }
}

export default async function fundAction(args: Args, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask({ name: "zklora:fund", verbose: args.verbose }, async (progress) => {
    const ws = workspaceOf(args.workspace);
    const prepare = fileOf(args.prepare);
    const upload = args.upload === true;
    if (prepare !== undefined && upload)
      throw new UsageError(
        "pass either --prepare FILE (before funding) or --upload (after the deal was funded), not both",
      );
    if (prepare !== undefined && given(args.url))
      throw new UsageError(
        "--prepare sends nothing, so there is no deal key to upload yet: drop --url, fund from the web page, then run zklora:fund --upload --url URL",
      );
    if (upload && !given(args.url))
      throw new UsageError(
        "pass --url URL (the contributor's server, printed by zklora:serve) with --upload",
      );
    const deal = await loadDealContext(ws.need(ws.deal, "zklora:propose (the contributor sends deal.json)"));
    const connection = await connect(hre);
    const net = connection.networkName;

    if (prepare !== undefined) {
      // Read-only: the web page's wallet signs the funding; this side only checks and makes keys.
      const client = await clientOf(connection, args.deployment);
      const before = await client.getDeal(deal.dealId);
      if (before.status !== "Proposed")
        throw new UsageError(`deal ${deal.dealId} is ${before.status}, not Proposed: it cannot be funded`);
      const p = await prepareFundStep({
        workspace: ws,
        client,
        ptau: fileOf(args.ptau),
        allowForgeableKeys: args.forgeableKeys,
        ceremonyKeys: parseCeremonyKeys(args.deliveryKeys ?? ""),
        trusted: given(args.trust) ? args.trust.split(",").map((h) => h.trim()) : undefined,
        progress,
      });
      await writeJsonAtomic(prepare, fundRequestToJson(p.request));
      printChecked(p.checked);
      const token = await client.tokenInfo(p.info.token);
      console.log(
        `prepared the funding of deal ${deal.dealId} with ${formatAmount(p.info.price, token)}: ${p.rows.length} module entries (${p.rows.reduce((a, b) => a + b, 0)} rows folded), ${p.keys.length} deal key(s); nothing sent`,
      );
      for (const k of p.keys) console.log(`deal key ${k.shape}: ${k.zkey} (kept until the upload)`);
      console.log(`wrote the fund request ${prepare}`);
      console.log(
        `next: on the deal's page, "Fund from a prepared file" with it (the buyer's wallet${token.address === null ? "" : " approves, then"} funds), then hand the deal keys over: npx hardhat zklora:fund --network ${net} --workspace ${path.relative(process.cwd(), ws.dir) || "."} --upload --url <contributor's server URL>`,
      );
      return;
    }

    if (upload) {
      const reader = await clientOf(connection, args.deployment);
      const onchain = await reader.getDeal(deal.dealId);
      const signer = await pickSigner(connection, args.from, onchain.buyer ?? deal.buyer, 1);
      const r = await uploadFundKeysStep({
        workspace: ws,
        client: reader.withRunner(signer),
        url: args.url as string,
      });
      console.log(`deal ${deal.dealId} is funded with the prepared deal keys (δ' checked on-chain)`);
      printKeys(r.keys);
      const failed = r.keys.filter((k) => !k.uploaded);
      if (failed.length > 0)
        throw new UsageError(
          `${failed.length} of ${r.keys.length} deal key(s) were not uploaded (${failed.map((k) => `${k.shape}: ${k.uploadError}`).join("; ")}): run zklora:fund --upload again, or hand the files over`,
        );
      return;
    }

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
    printChecked(r.checked);
    const d = await client.getDeal(deal.dealId);
    const token = await client.tokenInfo(d.token);
    if (r.approveTx !== undefined)
      console.log(`approved the escrow: tx ${r.approveTx.hash} (gas ${r.approveTx.gasUsed})`);
    console.log(
      `funded deal ${deal.dealId} with ${formatAmount(d.price, token)}: ${r.rows.length} module entries (${r.rows.reduce((a, b) => a + b, 0)} rows folded), ${r.keys.length} deal key(s)`,
    );
    console.log(`tx ${r.tx.hash} (block ${r.tx.blockNumber}, gas ${r.tx.gasUsed})`);
    printKeys(r.keys);
    console.log(
      `proving deadline ${d.deadline === null ? "?" : new Date(Number(d.deadline) * 1000).toISOString()}`,
    );
  });
}
