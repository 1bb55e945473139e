/** Action of `zklora:deliver`. */
import path from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { deliverStep, parseCeremonyKeys } from "../../src/app/delivery.js";
import { runTask, workspaceOf } from "./lib.js";

interface Args {
  workspace: string;
  ptau: string;
  deliveryKeys: string;
}

export default async function deliverAction(args: Args, _hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask("zklora:deliver", async () => {
    const ws = workspaceOf(args.workspace);
    const r = await deliverStep({
      workspace: ws,
      ptau: args.ptau === "" ? undefined : path.resolve(args.ptau),
      ceremonyKeys: parseCeremonyKeys(args.deliveryKeys),
      log: (l) => console.log(l),
    });
    const chunks = r.modules.reduce((a, m) => a + m.chunks, 0);
    console.log(
      `delivered ${r.modules.length} modules in ${chunks} chunk proof(s) + links in ${(r.ms / 1000).toFixed(1)} s`,
    );
    console.log(
      `wrote ${ws.delivery} (public: send it with manifest.json) and ${ws.deliverySecrets} (private)`,
    );
  });
}
