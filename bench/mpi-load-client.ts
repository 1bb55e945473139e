/**
 * The buyer's side of bench/mpi-stress.ts in its own process (a buyer is another machine: its
 * signing and checking must not share the server's event loop). Sends `calls` one-row calls from
 * `concurrency` RemoteLoraClients, each with one call in flight, and prints one JSON line with the
 * latencies.
 *
 *   tsx bench/mpi-load-client.ts <url> <deal.json> <buyer private key> <concurrency> <calls> <seed>
 */
import { fileURLToPath } from "node:url";
import { Wallet } from "ethers";
import { RemoteLoraClient, loadDealContext } from "../src/mpi/index.js";
import { matrix } from "./common.js";

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [url, dealFile, key, c, n, s] = process.argv.slice(2);
  const deal = await loadDealContext(dealFile);
  const buyer = new Wallet(key);
  const concurrency = Number(c);
  const calls = Number(n);
  const seed = Number(s);
  const { DIN } = deal.manifest.modules[0];
  const clients = Array.from(
    { length: concurrency },
    () => new RemoteLoraClient({ url, deal, signer: buyer }),
  );
  // warm-up: connections, JIT
  await Promise.all(clients.map((cl, k) => cl.infer(0, matrix(1, DIN, seed + k, 4096))));
  const per = Math.ceil(calls / concurrency);
  const lat: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    clients.map(async (cl, k) => {
      for (let i = 0; i < per; i++) {
        const X = matrix(1, DIN, seed + 1000 + k * per + i, 4096);
        const t = performance.now();
        await cl.infer(0, X);
        lat.push(performance.now() - t);
        cl.records.length = 0;
      }
    }),
  );
  const wallS = (performance.now() - t0) / 1000;
  await Promise.all(clients.map((cl) => cl.close()));
  process.stdout.write(JSON.stringify({ lat, wallS }) + "\n");
}
