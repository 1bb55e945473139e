/** Action of `zklora:contribute`. */
import { existsSync } from "node:fs";
import path from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { UsageError } from "../../src/app/errors.js";
import { contributeDelta, deltaOf, verifyContributions } from "../../src/zk/v2/index.js";
import { given, runTask } from "./lib.js";

interface Args {
  key: string | undefined;
  out: string | undefined;
  name: string;
}

export default async function contributeAction(args: Args, _hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask("zklora:contribute", async () => {
    if (!given(args.key)) throw new UsageError("pass --key FILE (the .zkey to contribute to)");
    if (!given(args.out)) throw new UsageError("pass --out FILE (where to write the new .zkey)");
    const inFile = path.resolve(args.key);
    const outFile = path.resolve(args.out);
    if (!existsSync(inFile)) throw new UsageError(`--key ${inFile} does not exist`);
    if (existsSync(outFile)) throw new UsageError(`--out ${outFile} exists: pick a new file`);
    if (args.name.length > 64) throw new UsageError("--name is at most 64 characters");
    const before = await verifyContributions(inFile);
    const hash = await contributeDelta(inFile, outFile, {
      name: args.name,
      onProgress: (m) => console.log(m),
    });
    const { delta2 } = await deltaOf(outFile);
    console.log(`contribution #${before.length} "${args.name}" written to ${outFile}`);
    console.log(`contribution hash: ${hash}`);
    console.log(`new [δ]₂: ${JSON.stringify(delta2.map(String))}`);
  });
}
