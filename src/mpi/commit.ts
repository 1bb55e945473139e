/**
 * Commit step (PROTOCOL.md flow step 1), protocol v2: quantize a PEFT adapter for a base model and,
 * per module, draw a uniform salt, compute W_m over its shape key's bases and a proof of knowledge
 * of the opening bound to (chain, escrow, contributor, module index). The shapes are derived from
 * the adapter (one per distinct DIN, R, DOUT) and their keys set up on demand (cached by content).
 * Produces the PUBLIC manifest and the PRIVATE secrets (quantized weights and salts).
 */
import path from "node:path";
import { getAddress } from "ethers";
import { sha256File } from "../common/cache.js";
import type { BaseModel, LoraTarget, PeftAdapter } from "../model/index.js";
import { DEFAULT_SCALES, quantizeLora } from "../zk/quantize.js";
import {
  commitWeights,
  randomFieldElement,
  v2ShapeName,
  type ShapeKey,
  type V2Shape,
} from "../zk/v2/index.js";
import { CommitError } from "./errors.js";
import type { CommitManifest, CommitSecrets, ManifestModule, ModuleSecret, Scales } from "./types.js";
import { secretsToJson, writeJsonAtomic } from "./types.js";

export interface CommitOptions {
  /** The loaded base model: canonical target order and dimensions, its folder and model sha256. */
  model: Pick<BaseModel, "targets" | "dir" | "sha256">;
  adapter: PeftAdapter;
  /** Where the commitment is used: the proofs of knowledge are bound to it. */
  context: { chainId: bigint; escrow: string; contributor: string };
  /** The key of a shape (e.g. `buildShapeKey(shape, { ptau })`). */
  shapeKey: (shape: V2Shape) => Promise<ShapeKey>;
  /** Fixed-point scales; default DEFAULT_SCALES (fx 10, fa 12, fb 12). */
  scales?: Scales;
  /** Salt source (tests may fix it); default a uniform field element. */
  salt?: () => bigint;
  /** Progress per module. */
  onModule?: (index: number, total: number, target: string) => void;
}

export interface CommitResult {
  manifest: CommitManifest;
  secrets: CommitSecrets;
}

/** The module's adapter entry: equal names, or one a dotted suffix of the other. */
function sameModule(a: string, b: string): boolean {
  return a === b || a.endsWith(`.${b}`) || b.endsWith(`.${a}`);
}

/** Quantizes and commits every module of `adapter`, in the base model's canonical target order. */
export async function commitAdapter(opts: CommitOptions): Promise<CommitResult> {
  const scales = opts.scales ?? { ...DEFAULT_SCALES };
  const drawSalt = opts.salt ?? randomFieldElement;
  const { adapter } = opts;
  const targets: LoraTarget[] = opts.model.targets(adapter.config.target_modules);
  if (targets.length === 0) {
    throw new CommitError(
      "no_targets",
      `the base model has no layer named ${adapter.config.target_modules.join("/")}`,
    );
  }
  const context = {
    chainId: opts.context.chainId,
    escrow: getAddress(opts.context.escrow),
    contributor: getAddress(opts.context.contributor),
  };
  const used = new Set<number>();
  const modules: ManifestModule[] = [];
  const secrets: ModuleSecret[] = [];
  for (const [index, target] of targets.entries()) {
    const k = adapter.modules.findIndex((m, i) => !used.has(i) && sameModule(m.name, target.name));
    if (k < 0) throw new CommitError("missing_module", `the adapter has no LoRA weights for ${target.name}`);
    used.add(k);
    const am = adapter.modules[k];
    if (am.DIN !== target.DIN || am.DOUT !== target.DOUT) {
      throw new CommitError(
        "dim_mismatch",
        `${target.name}: adapter is ${am.DIN} -> ${am.DOUT}, base layer is ${target.DIN} -> ${target.DOUT}`,
      );
    }
    opts.onModule?.(index, targets.length, target.name);
    const { A, B } = quantizeLora(am.loraA, am.loraB, am.R, am.DIN, am.DOUT, scales.fa, scales.fb);
    const shape: V2Shape = { DIN: am.DIN, R: am.R, DOUT: am.DOUT };
    const key = await opts.shapeKey(shape);
    const salt = drawSalt();
    const { W, pok } = await commitWeights(key, { A, B, salt }, { ...context, module: index });
    modules.push({
      index,
      target: target.name,
      layer: target.layer,
      module: target.module,
      DIN: am.DIN,
      R: am.R,
      DOUT: am.DOUT,
      shape: {
        name: v2ShapeName(shape),
        ...shape,
        shapeId: key.shapeId,
        ptau: key.ptau.source === "dev" ? "dev" : key.ptau.file,
      },
      scales: { ...scales },
      scaling: adapter.scaling,
      W: [W[0].toString(), W[1].toString()],
      pok: { T: [pok.T[0].toString(), pok.T[1].toString()], z: pok.z.map((v) => v.toString()) },
    });
    secrets.push({ index, target: target.name, A, B, salt });
  }
  if (used.size !== adapter.modules.length) {
    const extra = adapter.modules.filter((_, i) => !used.has(i)).map((m) => m.name);
    throw new CommitError("extra_module", `adapter modules not found in the base model: ${extra.join(", ")}`);
  }
  const manifest: CommitManifest = {
    version: 2,
    context: {
      chainId: context.chainId.toString(),
      escrow: context.escrow,
      contributor: context.contributor,
    },
    baseModel: {
      sha256: opts.model.sha256,
      configSha256: await sha256File(path.join(opts.model.dir, "config.json")),
    },
    adapter: {
      r: adapter.config.r,
      lora_alpha: adapter.config.lora_alpha,
      target_modules: [...adapter.config.target_modules],
    },
    modules,
  };
  return { manifest, secrets: { version: 2, modules: secrets } };
}

/** Writes the public manifest and the private secrets (file mode 0600). */
export async function saveCommit(
  files: { manifest: string; secrets: string },
  commit: CommitResult,
): Promise<void> {
  await writeJsonAtomic(files.manifest, commit.manifest);
  await writeJsonAtomic(files.secrets, secretsToJson(commit.secrets), 0o600);
}
