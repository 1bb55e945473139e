/**
 * A dApp-style reader of a zklora deployment (protocol v2): plain ethers v6 + the typed client in
 * src/chain + deployments/<network>.json, no Hardhat runtime. It lists the escrow's deals with
 * their status, price, modules (shape, W_m, proven), the buyer's entries and deal keys, and the
 * deal's events; optionally it keeps listening for new events.
 *
 *   npx hardhat node                                   # terminal 1 (chain on 127.0.0.1:8545)
 *   npx hardhat zklora:deploy --network localhost      # writes deployments/localhost.json
 *   npx tsx scripts/dapp-example.ts                    # terminal 2
 *   npx tsx scripts/dapp-example.ts --deal 1 --watch 60 --rpc http://127.0.0.1:8545
 *
 * Options: --rpc URL (default http://127.0.0.1:8545), --deployment FILE (default
 * deployments/localhost.json), --deal ID (default: every deal), --watch SECONDS (listen for new
 * events that long; default 0), --json (one JSON document instead of text; bigints as decimal
 * strings).
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { JsonRpcProvider, formatUnits, type Result } from "ethers";
import {
  ChainError,
  ZkloraClient,
  addressesOf,
  type EscrowEvent,
  type EscrowEventName,
} from "../src/chain/index.js";
import { DeploymentRecordError, parseDeployment } from "../src/chain/deployments.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

/** Every event of the escrow (all carry the deal id first). */
const EVENTS: EscrowEventName[] = [
  "DealProposed",
  "ModuleCommitted",
  "DealCancelled",
  "DealKeySet",
  "EntryRegistered",
  "DealFunded",
  "ModuleProven",
  "DealSettled",
  "DealRefunded",
];

const json = (v: unknown) =>
  JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x), 2);

/** A decoded event's arguments by name (nested arrays such as W_m or δ' stay arrays). */
function argsOf(args: Result): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args.toObject())) {
    out[k] = Array.isArray(v) ? [...(v as unknown[])] : v;
  }
  return out;
}

const eventView = (e: EscrowEvent) => ({
  event: e.name,
  block: e.blockNumber,
  tx: e.transactionHash,
  args: argsOf(e.args),
});

/** Identifies an event across the listing and a subscription. */
const eventKey = (e: EscrowEvent) => `${e.transactionHash}/${e.name}/${json(argsOf(e.args))}`;

const short = (hex: string) => `${hex.slice(0, 10)}…`;

async function main(): Promise<void> {
  const rpc = option("rpc", "http://127.0.0.1:8545");
  const file = option("deployment", path.join(ROOT, "deployments", "localhost.json"));
  const dealOpt = option("deal", "");
  const watch = Number(option("watch", "0"));
  const asJson = process.argv.includes("--json");

  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new DeploymentRecordError(
      `no deployment record ${file}: run \`npx hardhat zklora:deploy --network localhost\` or pass --deployment`,
    );
  }
  const record = parseDeployment(JSON.parse(text));
  const shapeName = new Map(record.shapes.map((s) => [s.shapeId, s.name]));
  const provider = new JsonRpcProvider(rpc, undefined, { staticNetwork: true, pollingInterval: 250 });
  try {
    const client = await ZkloraClient.connect(provider, addressesOf(record));

    const ids = dealOpt === "" ? await client.dealIds() : [BigInt(dealOpt)];
    const all = await client.events({ fromBlock: record.blockNumber });
    const deals = [];
    for (const dealId of ids) {
      const deal = await client.getDeal(dealId);
      if (deal.status === "None")
        throw new ChainError(`no deal ${dealId} on escrow ${client.addresses.escrow}`);
      const token = await client.tokenInfo(deal.token);
      const [modules, entries, dealKeys] = await Promise.all([
        client.getModules(dealId),
        client.getEntries(dealId),
        client.getDealKeys(dealId),
      ]);
      deals.push({
        deal,
        token,
        priceText: `${formatUnits(deal.price, token.decimals)} ${token.symbol}`,
        modules: modules.map((m) => ({ ...m, shape: shapeName.get(m.shapeId) ?? null })),
        // The entry of a module is proven when its module is.
        entries: entries.map((e) => ({
          ...e,
          proven: modules.some((m) => m.index === e.module && m.proven),
        })),
        dealKeys,
        events: all.filter((e) => e.args[0] === dealId).map(eventView),
      });
    }

    if (asJson) {
      console.log(
        json({ network: record.network, chainId: record.chainId, escrow: client.addresses.escrow, deals }),
      );
    } else {
      console.log(
        `escrow ${client.addresses.escrow} on chain ${record.chainId} (${record.network}): ${deals.length} deal(s)`,
      );
      for (const d of deals) {
        const { deal } = d;
        console.log(
          `deal ${deal.dealId}: ${deal.status}, ${d.priceText}, contributor ${deal.contributor}, buyer ${deal.buyer ?? "open"}`,
        );
        const window =
          deal.deadline === null
            ? `proving window ${deal.window} s after funding`
            : `proving window ends ${new Date(Number(deal.deadline) * 1000).toISOString()}`;
        console.log(`  base model ${short(deal.baseModelHash)}, ${window}`);
        console.log(`  modules: ${deal.proven}/${deal.modules} proven`);
        for (const m of d.modules) {
          console.log(
            `    module ${m.index} ${m.shape ?? short(m.shapeId)} W_m (${short(`0x${m.wM[0].toString(16)}`)}, …) ${m.proven ? "proven" : "unproven"}`,
          );
        }
        if (d.entries.length === 0) console.log("  entries: none (not funded)");
        for (const e of d.entries) {
          console.log(
            `    entry of module ${e.module}: hX ${short(e.hX)} hY ${short(e.hY)}${e.proven ? " (proven)" : ""}`,
          );
        }
        for (const e of d.events) console.log(`  [block ${e.block}] ${e.event}`);
      }
    }

    if (watch > 0) {
      if (!asJson) console.log(`listening for ${watch} s ...`);
      const opts = dealOpt === "" ? {} : { dealId: BigInt(dealOpt) };
      // A new subscription may replay the latest block's events, which the listing above showed.
      const seen = new Set(all.map(eventKey));
      const stops = [];
      for (const name of EVENTS) {
        const stop = await client.onEvent(
          name,
          (e) => {
            if (seen.has(eventKey(e))) return;
            seen.add(eventKey(e));
            console.log(json(eventView(e)));
          },
          opts,
        );
        stops.push(stop);
      }
      await new Promise((r) => setTimeout(r, watch * 1000));
      for (const stop of stops) await stop();
      // Unsubscribing uninstalls the node's filters in the background: let those requests finish
      // before destroying the provider (a request cancelled by destroy() would reject unhandled).
      await provider.send("eth_blockNumber", []);
    }
  } finally {
    provider.destroy();
  }
}

try {
  await main();
} catch (err) {
  console.error(err instanceof ChainError || err instanceof DeploymentRecordError ? err.message : err);
  process.exitCode = 1;
}
