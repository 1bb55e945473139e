/**
 * A deal workspace: one folder (e.g. `deals/<name>/`, gitignored) holding every file of one deal
 * on one side. The contributor and the buyer each keep their own; the contributor sends the buyer
 * `manifest.json` and `deal.json` (public), nothing else.
 *
 * | file | written by | content |
 * |---|---|---|
 * | `adapter/` | (input, optional) | the PEFT adapter (`adapter_config.json`, `adapter_model.safetensors`) |
 * | `manifest.json` | commit | PUBLIC commit manifest: base model hash, per module target, shape, scales, C_m |
 * | `secrets.json` | commit | PRIVATE (mode 0600): quantized A, B and the salt per module (chunk salts for a chunked module); never share |
 * | `deal.json` | propose | PUBLIC deal context: chainId, escrow, dealId, buyer, contributor, manifest |
 * | `server-transcript.json` | serve | contributor: every answered call in full (X, Y, hashes, signatures) |
 * | `server-proofs/` | serve | contributor: proofs made in the background, one per answered call |
 * | `buyer-transcript.json` | infer | buyer: per call (module, hX, hY, fY, rho, contributor signature) |
 * | `evaluation.json` | infer | buyer: loss/perplexity with and without the adapter, tokens used |
 * | `proofs/entry-<i>.json` | prove | contributor: the proof of the deal's registered entry i (a chunked module's: its chain of chunk proofs) |
 */
import { existsSync } from "node:fs";
import { mkdir, readdir } from "node:fs/promises";
import path from "node:path";
import { PROJECT_ROOT } from "../common/cache.js";
import { UsageError } from "./errors.js";

export class Workspace {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = path.resolve(PROJECT_ROOT, dir);
  }
  get adapterDir(): string {
    return path.join(this.dir, "adapter");
  }
  get manifest(): string {
    return path.join(this.dir, "manifest.json");
  }
  get secrets(): string {
    return path.join(this.dir, "secrets.json");
  }
  get deal(): string {
    return path.join(this.dir, "deal.json");
  }
  get serverTranscript(): string {
    return path.join(this.dir, "server-transcript.json");
  }
  get serverProofs(): string {
    return path.join(this.dir, "server-proofs");
  }
  get buyerTranscript(): string {
    return path.join(this.dir, "buyer-transcript.json");
  }
  get evaluation(): string {
    return path.join(this.dir, "evaluation.json");
  }
  get proofs(): string {
    return path.join(this.dir, "proofs");
  }
  proofFile(entryIndex: number): string {
    return path.join(this.proofs, `entry-${entryIndex}.json`);
  }

  /** Creates the folder. */
  async ensure(): Promise<this> {
    await mkdir(this.dir, { recursive: true });
    return this;
  }

  /** Throws a UsageError naming the step that writes `file` when it is absent. */
  need(file: string, writtenBy: string): string {
    if (!existsSync(file)) {
      throw new UsageError(
        `${path.relative(process.cwd(), file) || file} does not exist: run ${writtenBy} with --workspace ${path.relative(process.cwd(), this.dir) || "."} first`,
      );
    }
    return file;
  }

  /** Entry indices with a proof file. */
  async proofEntries(): Promise<number[]> {
    if (!existsSync(this.proofs)) return [];
    return (await readdir(this.proofs))
      .map((f) => /^entry-(\d+)\.json$/.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }
}
