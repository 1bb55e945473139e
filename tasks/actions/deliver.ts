/** Action of `zklora:deliver`. */
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { deliverStep, parseCeremonyKeys } from "../../src/app/delivery.js";
import { ProvingPool } from "../../src/zk/pool.js";
import { defaultJobs } from "./prove.js";
import { fileOf, intOption, runTask, workspaceOf } from "./lib.js";

interface Args {
  workspace: string | undefined;
  ptau: string | undefined;
  deliveryKeys: string | undefined;
  jobs: number;
  verbose?: boolean;
}

export default async function deliverAction(args: Args, _hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask({ name: "zklora:deliver", verbose: args.verbose }, async (progress) => {
    const ws = workspaceOf(args.workspace);
    const jobs =
      intOption(args.jobs, "--jobs", 0, Number.MAX_SAFE_INTEGER, "0: the default") || defaultJobs();
    const ceremonyKeys = parseCeremonyKeys(args.deliveryKeys ?? "");
    // A module of many chunks (distilgpt2 c_attn: 9) has its chunk proofs in prover processes.
    const pool = new ProvingPool({ maxWorkers: jobs });
    let r: Awaited<ReturnType<typeof deliverStep>>;
    try {
      r = await deliverStep({
        workspace: ws,
        ptau: fileOf(args.ptau),
        ceremonyKeys,
        pool,
        progress,
      });
    } finally {
      await pool.close();
    }
    const chunks = r.modules.reduce((a, m) => a + m.chunks, 0);
    console.log(
      `delivered ${r.modules.length} modules in ${chunks} chunk proof(s) + links in ${(r.ms / 1000).toFixed(1)} s`,
    );
    console.log(
      `wrote ${ws.delivery} (public: send it with manifest.json) and ${ws.deliverySecrets} (private)`,
    );
  });
}
