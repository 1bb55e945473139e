/** Action of `zklora:beacon`. */
import { existsSync } from "node:fs";
import path from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { UsageError } from "../../src/app/errors.js";
import { applyBeacon, deltaOf, verifyContributions } from "../../src/zk/v2/index.js";
import { given, intOption, runTask } from "./lib.js";

interface Args {
  key: string | undefined;
  out: string | undefined;
  hash: string | undefined;
  iterations: number;
  name: string;
}

export default async function beaconAction(args: Args, _hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask("zklora:beacon", async () => {
    if (!given(args.key)) throw new UsageError("pass --key FILE (the .zkey the beacon closes)");
    if (!given(args.out)) throw new UsageError("pass --out FILE (where to write the new .zkey)");
    if (!given(args.hash) || !/^(0x)?([0-9a-fA-F]{2}){1,255}$/.test(args.hash))
      throw new UsageError(
        "pass --hash HEX: the public beacon value (e.g. a block hash announced in advance)",
      );
    const iterations = intOption(args.iterations, "--iterations", 10, 63, "an exponent: 2^N sha256 rounds");
    const inFile = path.resolve(args.key);
    const outFile = path.resolve(args.out);
    if (!existsSync(inFile)) throw new UsageError(`--key ${inFile} does not exist`);
    if (existsSync(outFile)) throw new UsageError(`--out ${outFile} exists: pick a new file`);
    const before = await verifyContributions(inFile);
    const hash = await applyBeacon(inFile, outFile, {
      beaconHash: args.hash,
      iterationsExp: iterations,
      name: args.name,
      onProgress: (m) => console.log(m),
    });
    const { delta2 } = await deltaOf(outFile);
    console.log(`beacon #${before.length} "${args.name}" (2^${iterations} iterations) written to ${outFile}`);
    console.log(`contribution hash: ${hash}`);
    console.log(`new [δ]₂: ${JSON.stringify(delta2.map(String))}`);
  });
}
