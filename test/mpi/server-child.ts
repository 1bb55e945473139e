/**
 * A contributor server in its own process, for the durability test (which kills it with SIGKILL).
 * Does nothing when mocha loads it as a test file: it runs only as the process's main script.
 *
 *   node --import tsx test/mpi/server-child.ts <deal.json> <secrets.json> <server.sqlite> <rowBudget> [full|normal]
 *
 * Signs as the fixtures' contributor; prints `LISTENING <url>` once it serves.
 */
import { fileURLToPath } from "node:url";
import { ContributorServer, loadDealContext, loadSecrets } from "../../src/mpi/index.js";
import { contributor } from "./fixtures.js";

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [dealFile, secretsFile, database, budget, sync] = process.argv.slice(2);
  const deal = await loadDealContext(dealFile);
  const secrets = await loadSecrets(secretsFile, deal.manifest);
  const server = new ContributorServer({
    signer: contributor,
    database,
    rowBudget: Number(budget),
    sync: sync === "normal" ? "normal" : "full",
  });
  await server.addDeal(deal, secrets);
  const { url } = await server.listen();
  process.stdout.write(`LISTENING ${url}\n`);
}
