/**
 * A zklora:prove stand-in for the restart test of test/mpi/jobs.test.ts: opens the embedded proof
 * job queue in argv[2], enqueues the payloads of the JSON file argv[3], proves them with a proving
 * pool of argv[5] processes and the deal keys in argv[4], and prints `started <id>` / `done <id>`
 * lines until every job is settled (the test kills it before). Does nothing when mocha loads it.
 */
import { fileURLToPath } from "node:url";
import { SqliteProofJobs, proofJobProver, type ProofJobPayload } from "../../src/mpi/jobs.js";
import { readFile } from "node:fs/promises";
import { ProvingPool } from "../../src/zk/pool.js";

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [db, payloads, keys, workers] = process.argv.slice(2);
  const queue = SqliteProofJobs.open(db);
  const pool = new ProvingPool({ maxWorkers: Number(workers) });
  const prove = proofJobProver({ keys, pool });
  queue.start(
    async (p) => {
      console.log(`started ${p.id}`);
      const r = await prove(p);
      console.log(`proved ${p.id}`);
      return r;
    },
    { concurrency: Number(workers) },
  );
  const list = JSON.parse(await readFile(payloads, "utf8")) as ProofJobPayload[];
  for (const p of list) await queue.enqueue(p);
  await queue.wait(
    list.map((p) => p.id),
    (r) => console.log(`${r.state} ${r.id}`),
  );
  await queue.close();
  await pool.close();
  process.exit(0);
}
