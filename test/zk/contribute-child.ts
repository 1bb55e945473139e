/**
 * A separate process that makes one phase-2 contribution (the test gives it its own cache dir).
 * Does nothing when mocha loads it as a test file: it runs only as the process's main script.
 */
import { fileURLToPath } from "node:url";
import { contributeDelta } from "../../src/zk/v2/index.js";

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [inFile, outFile, name] = process.argv.slice(2);
  const hash = await contributeDelta(inFile, outFile, { name });
  process.stdout.write(`${hash}\n`);
  process.exit(0);
}
