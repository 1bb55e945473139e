/**
 * The command line shared by the circuit pipelines' scripts (`npm run circuits:delivery`,
 * `npm run circuits:chunk`): parses `[--shape a,b] [--check] [--ptau FILE]
 * [--contribute NAME[,NAME…] --beacon HEX] [--quiet]`, runs the pipeline with a timed progress log,
 * prints what it built, and on failure prints the reason and sets a non-zero exit code.
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import type { Contribution } from "../src/zk/index.js";

/** What the scripts pass to a pipeline (the options `runDeliveryPipeline` and `runChunkPipeline` share). */
export interface PipelineCliOptions {
  shapes?: string[];
  check: boolean;
  ptau?: string;
  contributions?: Contribution[];
  beacon?: string;
  onProgress?: (message: string) => void;
}

/** Runs `pipeline` with the command line's options and prints each artifact with `report`. */
export async function runPipelineCli<T>(
  pipeline: (opts: PipelineCliOptions) => Promise<T[]>,
  report: (artifact: T) => void,
): Promise<void> {
  const { values } = parseArgs({
    options: {
      shape: { type: "string" },
      check: { type: "boolean", default: false },
      ptau: { type: "string" },
      contribute: { type: "string" },
      beacon: { type: "string" },
      quiet: { type: "boolean", default: false },
    },
  });
  const started = Date.now();
  try {
    const arts = await pipeline({
      shapes: values.shape?.split(",").map((s) => s.trim()),
      check: values.check,
      ptau: values.ptau,
      contributions: values.contribute
        ?.split(",")
        .map((name) => ({ name: name.trim(), entropy: randomBytes(64).toString("hex") })),
      beacon: values.beacon,
      onProgress: values.quiet
        ? undefined
        : (m) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${m}`),
    });
    for (const a of arts) report(a);
  } catch (err) {
    console.error((err as Error).message);
    process.exitCode = 1;
  } finally {
    await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
  }
}
