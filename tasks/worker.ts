/**
 * The proof worker task: proves the proof jobs `zklora:prove --redis URL` queued in Redis, on this
 * machine, until interrupted. Run one per machine (or several); each proves `--jobs` at a time.
 */
import { task } from "hardhat/config";
import { ArgumentType } from "hardhat/types/arguments";

export const workerTask = task(
  "zklora:worker",
  "Contributor, on any machine: prove the proof jobs zklora:prove --redis queued in Redis (BullMQ) until Ctrl-C (the first finishes the proofs in progress, a second leaves them to other workers). Each job carries its module's statement and secret opening; the deal key comes from --keys DIR by file name and keccak-256 (a missing or other file fails the job with the reason). A worker that dies mid-proof loses its hold on the job after about --lock-ms, and another worker proves it",
)
  .addOption({
    name: "redis",
    description: "The Redis of the proof jobs, redis://[user:password@]host:port[/db] (required)",
    type: ArgumentType.STRING_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addOption({
    name: "keys",
    description:
      "Folder holding the buyer's deal keys (the zkey files of <workspace>/server-keys/, or the files given to zklora:prove --keys) (required)",
    type: ArgumentType.FILE_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addOption({
    name: "jobs",
    description: "Proofs at a time, each in its own prover process (0: one per two cores, at most 4)",
    type: ArgumentType.INT,
    defaultValue: 0,
  })
  .addOption({
    name: "lockMs",
    description:
      "Milliseconds a worker's hold on a job lasts unrenewed (renewed every half while it proves); a dead worker's job is proved elsewhere after about twice this",
    type: ArgumentType.INT,
    defaultValue: 30000,
  })
  .addOption({
    name: "ptau",
    description:
      "The public powers-of-tau file of shapes whose keys come from one (default: only FORGEABLE development-ptau shapes can be proved)",
    type: ArgumentType.FILE_WITHOUT_DEFAULT,
    defaultValue: undefined,
  })
  .addFlag({
    name: "verbose",
    description: "Print snarkjs's own log lines of key setups (default: one progress line per step)",
  })
  .setAction(() => import("./actions/worker.js"))
  .build();
