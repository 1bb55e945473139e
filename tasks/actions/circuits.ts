/** Action of `zklora:circuits`: parses arguments, runs src/zk's pipeline, prints a summary. */
import { randomBytes } from "node:crypto";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { runCircuitsPipeline, type Contribution } from "../../src/zk/index.js";

interface CircuitsTaskArguments {
  shape: string;
  ptau: string;
  contribute: string;
  beacon: string;
  check: boolean;
}

const list = (s: string) =>
  s
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "");

export default async function circuitsAction(
  args: CircuitsTaskArguments,
  _hre: HardhatRuntimeEnvironment,
): Promise<void> {
  const t0 = performance.now();
  const stamp = () => `[${((performance.now() - t0) / 1000).toFixed(0).padStart(5)} s]`;
  const names = list(args.contribute);
  // Each production contributor's entropy: 64 fresh random bytes (snarkjs mixes in 64 more).
  const contributions: Contribution[] | undefined =
    names.length > 0 ? names.map((name) => ({ name, entropy: randomBytes(64).toString("hex") })) : undefined;
  if (contributions === undefined && args.beacon === "" && !args.check) {
    console.log(
      "DEVELOPMENT ceremony: the phase-2 contributions and beacon come from public strings. " +
        "Its verifiers are reproducible but insecure: never deploy them for value " +
        "(use --contribute NAME --beacon HEX [--ptau FILE]).",
    );
  }
  try {
    const arts = await runCircuitsPipeline({
      shapes: args.shape === "" ? undefined : list(args.shape),
      ptau: args.ptau === "" ? undefined : args.ptau,
      contributions,
      beacon: args.beacon === "" ? undefined : args.beacon,
      check: args.check,
      onProgress: (m) => console.log(`${stamp()} ${m}`),
    });
    for (const a of arts) {
      console.log(
        `${a.shape.name}: ${a.constraints} constraints, shapeId ${a.shapeId}, ${a.verifierContract}, ` +
          `ptau ${a.ptau.file}, ${a.ceremony.mode} ceremony`,
      );
    }
  } finally {
    await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
  }
}
