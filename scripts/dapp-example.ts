/**
 * A dApp-style client of a zklora deployment: plain ethers v6 + the typed client in src/chain +
 * deployments/<network>.json, no Hardhat runtime. It lists the escrow's deals with their modules,
 * entries and status, prints the deal events, and optionally keeps listening for new ones.
 *
 *   npx hardhat node                                   # terminal 1 (chain on 127.0.0.1:8545)
 *   npx hardhat zklora:deploy --network localhost      # writes deployments/localhost.json
 *   npx tsx scripts/dapp-example.ts                    # terminal 2
 *   npx tsx scripts/dapp-example.ts --deal 1 --watch 60 --rpc http://127.0.0.1:8545
 *
 * Options: --rpc URL (default http://127.0.0.1:8545), --deployment FILE (default
 * deployments/localhost.json), --deal ID (default: every deal), --watch SECONDS (listen for new
 * events that long; default 0), --json (one JSON document instead of text).
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { JsonRpcProvider, formatUnits } from "ethers";
import { ZkloraClient, addressesOf, type EscrowEventName } from "../src/chain/index.js";
import { parseDeployment } from "../src/chain/deployments.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const EVENTS: EscrowEventName[] = [
  "DealProposed",
  "ModuleCommitted",
  "DealFunded",
  "EntryRegistered",
  "EntryProven",
  "DealSettled",
  "DealRefunded",
  "DealCancelled",
];

const json = (v: unknown) =>
  JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x), 2);

async function main(): Promise<void> {
  const rpc = option("rpc", "http://127.0.0.1:8545");
  const file = option("deployment", path.join(ROOT, "deployments", "localhost.json"));
  const dealOpt = option("deal", "");
  const watch = Number(option("watch", "0"));
  const asJson = process.argv.includes("--json");

  const record = parseDeployment(JSON.parse(await readFile(file, "utf8")));
  const provider = new JsonRpcProvider(rpc, undefined, { staticNetwork: true, pollingInterval: 250 });
  const client = await ZkloraClient.connect(provider, addressesOf(record));

  const ids = dealOpt === "" ? await client.dealIds() : [BigInt(dealOpt)];
  const deals = [];
  for (const id of ids) {
    const deal = await client.getDeal(id);
    const token = await client.tokenInfo(deal.token);
    const [modules, entries] = await Promise.all([client.getModules(id), client.getEntries(id)]);
    const events = [];
    for (const name of EVENTS) {
      for (const log of await client.queryEvents(name, { dealId: id, fromBlock: record.blockNumber })) {
        events.push({
          event: name,
          block: log.blockNumber,
          tx: log.transactionHash,
          args: log.args.toObject(),
        });
      }
    }
    events.sort((a, b) => a.block - b.block);
    deals.push({
      deal,
      price: `${formatUnits(deal.price, token.decimals)} ${token.symbol}`,
      modules,
      entries,
      events,
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
      console.log(
        `deal ${d.deal.dealId}: ${d.deal.status}, ${d.price}, contributor ${d.deal.contributor}, buyer ${d.deal.buyer ?? "open"}`,
      );
      for (const m of d.modules) console.log(`  module ${m.index} ${m.target} verifier ${m.verifier}`);
      const proven = d.entries.filter((e) => e.proven).length;
      console.log(`  entries: ${proven}/${d.entries.length} proven`);
      for (const e of d.events) console.log(`  [block ${e.block}] ${e.event}`);
    }
  }

  if (watch > 0) {
    if (!asJson) console.log(`listening for ${watch} s ...`);
    const stops = [];
    for (const name of EVENTS) {
      stops.push(
        await client.onEvent(name, (e) => {
          console.log(
            json({ event: e.name, block: e.blockNumber, tx: e.transactionHash, args: e.args.toObject() }),
          );
        }),
      );
    }
    await new Promise((r) => setTimeout(r, watch * 1000));
    for (const stop of stops) await stop();
  }
  provider.destroy();
}

await main();
