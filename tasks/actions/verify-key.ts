/** Action of `zklora:verify-key`. */
import { existsSync } from "node:fs";
import path from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { UsageError } from "../../src/app/errors.js";
import { checkDeltaUpdate, verifyContributions } from "../../src/zk/v2/index.js";
import { given, runTask } from "./lib.js";

interface Args {
  key: string | undefined;
  initial: string | undefined;
}

export default async function verifyKeyAction(args: Args, _hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask("zklora:verify-key", async () => {
    if (!given(args.key)) throw new UsageError("pass --key FILE (the .zkey to verify)");
    const key = path.resolve(args.key);
    if (!existsSync(key)) throw new UsageError(`--key ${key} does not exist`);
    const list = await verifyContributions(key);
    for (const c of list) {
      console.log(`#${c.index} ${c.beacon ? "beacon" : "contribution"} "${c.name}": ${c.hash}`);
    }
    if (given(args.initial)) {
      const initial = path.resolve(args.initial);
      if (!existsSync(initial)) throw new UsageError(`--initial ${initial} does not exist`);
      await checkDeltaUpdate(initial, key, { onProgress: (m) => console.log(m) });
      console.log(`${key}: the initial key with only δ, L and H changed`);
    }
    console.log(`${list.length} contribution(s), every one verified`);
  });
}
