/** Action of `zklora:prove`. */
import os from "node:os";
import path from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { UsageError } from "../../src/app/errors.js";
import { proveStep } from "../../src/app/steps.js";
import { ProvingPool } from "../../src/zk/pool.js";
import { clientOf, connect, fileOf, given, intOption, runTask, workspaceOf } from "./lib.js";

interface Args {
  workspace: string | undefined;
  deployment: string | undefined;
  jobs: number;
  keys: string | undefined;
  redis: string | undefined;
  attempts: number;
  ptau: string | undefined;
  verbose?: boolean;
}

/** One proof at a time per two cores (snarkjs uses worker threads). */
export function defaultJobs(): number {
  return Math.max(1, Math.min(Math.floor(os.availableParallelism() / 2), 4));
}

export default async function proveAction(args: Args, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask({ name: "zklora:prove", verbose: args.verbose }, async (progress) => {
    const ws = workspaceOf(args.workspace);
    const jobs =
      intOption(args.jobs, "--jobs", 0, Number.MAX_SAFE_INTEGER, "0: the default") || defaultJobs();
    const attempts = intOption(args.attempts, "--attempts", 1, 100);
    const redis = given(args.redis) ? args.redis : undefined;
    const dealKeys: Record<string, string> = {};
    for (const part of (args.keys ?? "").split(",").filter((x) => x.trim() !== "")) {
      const [shapeId, file] = part.split("=");
      if (!/^0x[0-9a-fA-F]{64}$/.test(shapeId ?? "") || file === undefined)
        throw new UsageError(`--keys takes SHAPE_ID=FILE pairs separated by commas, got ${part}`);
      dealKeys[shapeId.toLowerCase()] = path.resolve(file);
    }
    const connection = await connect(hre);
    const client = await clientOf(connection, args.deployment);
    // with --redis the zklora:worker processes prove; this process only queues and checks. Otherwise
    // the proofs run in prover processes (the native prover when it is built), `jobs` at a time.
    const pool = redis === undefined ? new ProvingPool({ maxWorkers: jobs }) : undefined;
    try {
      const r = await proveStep({
        workspace: ws,
        client,
        dealKeys: Object.keys(dealKeys).length === 0 ? undefined : dealKeys,
        ptau: fileOf(args.ptau),
        pool,
        progress,
        jobs: { redis, maxAttempts: attempts },
      });
      if (r.skipped.length > 0) console.log(`already proven on-chain: modules ${r.skipped.join(", ")}`);
      if (r.reused.length > 0)
        console.log(`proof files already verify (not proved again): modules ${r.reused.join(", ")}`);
      console.log(
        `proved modules ${r.proven.join(", ") || "none"} in ${(r.ms / 1000).toFixed(1)} s, each verified locally under the deal's δ'; wrote ${ws.proofs}`,
      );
    } finally {
      await pool?.close();
    }
  });
}
