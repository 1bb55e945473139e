/** Action of `zklora:demo`: wires Hardhat's embedded network and artifacts into src/app's demo. */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { UsageError } from "../../src/app/errors.js";
import { runDemo, type DemoReport } from "../../src/app/demo.js";
import { decimalStrings } from "../../src/app/format.js";
import { readZkloraArtifacts } from "../../src/chain/deploy.js";
import { connect, given, intOption, runTask } from "./lib.js";

interface Args {
  workspace: string;
  layers: string | undefined;
  rank: number;
  tokens: number;
  json: string | undefined;
  skipDelivery?: boolean;
  verbose?: boolean;
}

export default async function demoAction(args: Args, hre: HardhatRuntimeEnvironment): Promise<DemoReport> {
  // The demo's step lines, its progress and its report all go to stdout.
  const task = { name: "zklora:demo", verbose: args.verbose, stream: process.stdout };
  return runTask(task, async (progress) => {
    const spec = args.layers;
    const layers = !given(spec)
      ? undefined
      : spec.split(",").map((s) => {
          if (!/^[0-9]+$/.test(s.trim()))
            throw new UsageError(`--layers must be comma-separated layer numbers, got ${spec}`);
          return Number(s.trim());
        });
    const tokens = intOption(
      args.tokens,
      "--tokens",
      2,
      16,
      "the server's default row budget is 16 rows per adapter module",
    );
    const rank = intOption(args.rank, "--rank", 1);
    await hre.tasks.getTask("build").run({ quiet: true, noTests: true });
    const connection = await connect(hre);
    if (connection.networkConfig.type !== "edr-simulated") {
      console.log(
        `note: running the demo on ${connection.networkName} (an external chain), not the embedded network`,
      );
    }
    const [deployer, contributor, buyer] = await connection.ethers.getSigners();
    if (buyer === undefined)
      throw new UsageError(`network ${connection.networkName} needs at least 3 accounts for the demo`);
    const t0 = performance.now();
    const report = await runDemo({
      deployer,
      contributor,
      buyer,
      network: connection.networkName,
      workspace: args.workspace,
      layers,
      rank,
      tokens,
      delivery: args.skipDelivery !== true,
      artifacts: await readZkloraArtifacts(hre.artifacts),
      progress,
    });
    console.log(
      `demo finished in ${((performance.now() - t0) / 1000).toFixed(1)} s; files in ${path.resolve(args.workspace)}`,
    );
    if (given(args.json)) await writeFile(args.json, JSON.stringify(decimalStrings(report), null, 2) + "\n");
    return report;
  });
}
