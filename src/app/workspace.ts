/**
 * A deal workspace: one folder (e.g. `deals/<name>/`, gitignored) holding every file of one deal
 * on one side. The contributor and the buyer each keep their own; the contributor sends the buyer
 * `manifest.json` and `deal.json` (public), nothing else.
 *
 * | file | written by | content |
 * |---|---|---|
 * | `adapter/` | (input, optional) | the PEFT adapter (`adapter_config.json`, `adapter_model.safetensors`) |
 * | `manifest.json` | commit | PUBLIC commit manifest: base model hash, per module target, shape, scales, W_m and its proof of knowledge |
 * | `secrets.json` | commit | PRIVATE (mode 0600): quantized A, B and the salt per module; never share |
 * | `deal.json` | propose | PUBLIC deal context: chainId, escrow, dealId, buyer, contributor, manifest |
 * | `server.sqlite` | serve | contributor: the server's database (SQLite, WAL): every answered call in full (X, Y, digests, signatures), committed before the reply; row budgets; uploaded keys; and (prove) the proof jobs, tables `proof_jobs*` (state, attempts, results, history) |
 * | `server-keys/` | serve | contributor: the buyer's uploaded deal keys (one zkey per shape) |
 * | `buyer-calls.jsonl` | infer | buyer: every answered call in full, as the buyer checked it |
 * | `evaluation.json` | infer | buyer: loss/perplexity with and without the adapter, tokens used |
 * | `buyer-keys/` | fund | buyer: its deal keys (one zkey per shape; the secret of each contribution is never stored) |
 * | `buyer-fund.json` | fund | buyer: its last prepared funding (the fund request and its deal key files), for `zklora:fund --upload` |
 * | `proofs/module-<m>.json` | prove | contributor: the proof of module m, its claim and the deal's δ' |
 * | `delivery.json` | deliver | PUBLIC: per module the ciphertext of its weights, hK, the chunk proofs and the link to W_m (send it with the manifest) |
 * | `delivery-secrets.json` | deliver | PRIVATE (0600): the contributor's delivery keys k_m and salts' |
 * | `buyer-wrap.json` | fund | PRIVATE (0600): the buyer's Baby Jubjub key of a delivery deal |
 * | `delivered-adapter/` | decrypt | buyer: the PEFT adapter decrypted after settlement |
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
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
  get serverDb(): string {
    return path.join(this.dir, "server.sqlite");
  }
  get serverKeys(): string {
    return path.join(this.dir, "server-keys");
  }
  get buyerCalls(): string {
    return path.join(this.dir, "buyer-calls.jsonl");
  }
  get buyerKeys(): string {
    return path.join(this.dir, "buyer-keys");
  }
  get buyerFund(): string {
    return path.join(this.dir, "buyer-fund.json");
  }
  get evaluation(): string {
    return path.join(this.dir, "evaluation.json");
  }
  get proofs(): string {
    return path.join(this.dir, "proofs");
  }
  get delivery(): string {
    return path.join(this.dir, "delivery.json");
  }
  get deliverySecrets(): string {
    return path.join(this.dir, "delivery-secrets.json");
  }
  get buyerWrap(): string {
    return path.join(this.dir, "buyer-wrap.json");
  }
  get deliveredAdapter(): string {
    return path.join(this.dir, "delivered-adapter");
  }
  proofFile(module: number): string {
    return path.join(this.proofs, `module-${module}.json`);
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
}
