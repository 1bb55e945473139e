/** Action of `zklora:prove`. */
import os from "node:os";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { proveStep } from "../../src/app/steps.js";
import { clientOf, connect, parsePositive, runTask, workspaceOf } from "./lib.js";

interface Args {
  workspace: string;
  deployment: string;
  jobs: string;
  fresh: boolean;
}

/** One proof at a time per two cores (snarkjs uses worker threads), and about 1.5 GiB per proof. */
export function defaultJobs(): number {
  const byCores = Math.floor(os.availableParallelism() / 2);
  const byMemory = Math.floor(os.freemem() / (1.5 * 2 ** 30));
  return Math.max(1, Math.min(byCores, byMemory, 4));
}

export default async function proveAction(args: Args, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask("zklora:prove", async () => {
    const ws = workspaceOf(args.workspace);
    const jobs = args.jobs === "" ? defaultJobs() : parsePositive(args.jobs, "--jobs");
    const connection = await connect(hre);
    const client = await clientOf(connection, args.deployment);
    const r = await proveStep({ workspace: ws, client, jobs, fresh: args.fresh });
    for (const p of r.proofs) {
      console.log(
        `entry ${p.entryIndex} (module ${p.module}, ${p.shape}${p.chunks === undefined ? "" : `, chain of ${p.chunks.length} chunk proofs`}): ${p.source === "background" ? "background proof" : "proved"} in ${p.proveSeconds.toFixed(1)} s, verified off-chain in ${(p.verifySeconds * 1000).toFixed(0)} ms`,
      );
    }
    if (r.skipped.length > 0) console.log(`already proven on-chain: entries ${r.skipped.join(", ")}`);
    console.log(`wrote ${r.proofs.length} proofs into ${ws.proofs}`);
  });
}
