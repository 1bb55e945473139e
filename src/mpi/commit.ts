/**
 * Commit step (PROTOCOL.md flow step 1): quantize a PEFT adapter for a base model, draw a random
 * salt per module and compute its weight commitment C_m. Produces the PUBLIC manifest (what goes
 * into the deal) and the PRIVATE secrets (quantized weights and salts, which never leave the
 * contributor).
 */
import path from "node:path";
import { sha256File } from "../common/cache.js";
import type { BaseModel, LoraTarget, PeftAdapter } from "../model/index.js";
import {
  DEFAULT_SCALES,
  chunkedCommitment,
  chunkedShapeId,
  loadChunkedShapes,
  loadShapes,
  quantizeLora,
  randomChunkSalts,
  randomSalt,
  shapeId,
  weightCommitment,
  type ChunkSalts,
  type ChunkedShape,
} from "../zk/index.js";
import { CommitError } from "./errors.js";
import type {
  CommitManifest,
  CommitSecrets,
  ManifestModule,
  ModuleSecret,
  Scales,
  ShapeRef,
} from "./types.js";
import { secretsToJson, writeJsonAtomic } from "./types.js";

export interface CommitOptions {
  /** The loaded base model: canonical target order and dimensions, its folder and model sha256. */
  model: Pick<BaseModel, "targets" | "dir" | "sha256">;
  adapter: PeftAdapter;
  /** Fixed-point scales; default DEFAULT_SCALES (fx 10, fa 12, fb 12). */
  scales?: Scales;
  /** Shapes to choose from; default circuits/shapes.json. */
  shapes?: ShapeRef[];
  /** Prefer the shape with exactly this many rows per call when several match. */
  rows?: number;
  /** Salt source (tests may fix it); default randomSalt(). */
  salt?: () => bigint;
  /**
   * Modules to commit to the chunked variant (a chain of small proofs per entry): `"all"`, or a
   * list of targets / short module names (e.g. `["q_proj"]`). Every other module is committed to a
   * v1 shape, falling back to a chunked shape when no v1 shape fits its dims. Default: none.
   */
  chunked?: "all" | readonly string[];
  /** Chunked shapes to choose from; default circuits/chunk-shapes.json. */
  chunkedShapes?: ChunkedShape[];
  /** Chunk salt source (tests may fix it); default randomChunkSalts(shape). */
  chunkSalts?: (shape: ChunkedShape) => ChunkSalts;
}

export interface CommitResult {
  manifest: CommitManifest;
  secrets: CommitSecrets;
}

/** The module's adapter entry: equal names, or one a dotted suffix of the other. */
function sameModule(a: string, b: string): boolean {
  return a === b || a.endsWith(`.${b}`) || b.endsWith(`.${a}`);
}

/**
 * Picks the circuit shape for a module: the shapes with equal DIN, R and DOUT; with `rows`, the
 * one with T = rows; else the first such shape in shapes.json order.
 */
export function chooseShape(
  shapes: readonly ShapeRef[],
  DIN: number,
  R: number,
  DOUT: number,
  rows?: number,
): ShapeRef {
  const fits = shapes.filter((s) => s.DIN === DIN && s.R === R && s.DOUT === DOUT);
  const pick = rows === undefined ? fits[0] : fits.find((s) => s.T === rows);
  if (pick === undefined) {
    const have = shapes.map((s) => `${s.name}(T${s.T},DIN${s.DIN},R${s.R},DOUT${s.DOUT})`).join(", ");
    throw new CommitError(
      "no_shape",
      `no circuit shape with DIN=${DIN}, R=${R}, DOUT=${DOUT}${rows === undefined ? "" : `, T=${rows}`}; ` +
        `add one to circuits/shapes.json (have: ${have})`,
    );
  }
  return { name: pick.name, T: pick.T, DIN: pick.DIN, R: pick.R, DOUT: pick.DOUT };
}

/**
 * Picks the chunked shape for a module: the chunked shapes with equal DIN, R and DOUT; with `rows`,
 * the one with T = rows; else the first in chunk-shapes.json order.
 */
export function chooseChunkedShape(
  shapes: readonly ChunkedShape[],
  DIN: number,
  R: number,
  DOUT: number,
  rows?: number,
): ChunkedShape {
  const fits = shapes.filter((s) => s.DIN === DIN && s.R === R && s.DOUT === DOUT);
  const pick = rows === undefined ? fits[0] : fits.find((s) => s.T === rows);
  if (pick === undefined) {
    const have = shapes
      .map((s) => `${s.name}(T${s.T},DIN${s.DIN},R${s.R},DOUT${s.DOUT},WA${s.WA},WB${s.WB})`)
      .join(", ");
    throw new CommitError(
      "no_chunked_shape",
      `no chunked shape with DIN=${DIN}, R=${R}, DOUT=${DOUT}${rows === undefined ? "" : `, T=${rows}`}; ` +
        `add one to circuits/chunk-shapes.json (npm run circuits:chunk; have: ${have || "none"})`,
    );
  }
  return { name: pick.name, T: pick.T, DIN: pick.DIN, R: pick.R, DOUT: pick.DOUT, WA: pick.WA, WB: pick.WB };
}

/** Whether `chunked` (CommitOptions) names the target (full name or short module name). */
function wantsChunked(chunked: CommitOptions["chunked"], target: LoraTarget): boolean {
  if (chunked === undefined) return false;
  if (chunked === "all") return true;
  return chunked.some((n) => n === target.name || n === target.module || sameModule(target.name, n));
}

/** Quantizes and commits every module of `adapter`, in the base model's canonical target order. */
export async function commitAdapter(opts: CommitOptions): Promise<CommitResult> {
  const scales = opts.scales ?? { ...DEFAULT_SCALES };
  const shapes: ShapeRef[] = opts.shapes ?? (await loadShapes());
  const drawSalt = opts.salt ?? randomSalt;
  const drawChunkSalts = opts.chunkSalts ?? randomChunkSalts;
  let chunkedShapes: ChunkedShape[] | undefined = opts.chunkedShapes;
  const chunkedList = async () => (chunkedShapes ??= await loadChunkedShapes());
  const { adapter } = opts;
  const targets: LoraTarget[] = opts.model.targets(adapter.config.target_modules);
  if (targets.length === 0) {
    throw new CommitError(
      "no_targets",
      `the base model has no layer named ${adapter.config.target_modules.join("/")}`,
    );
  }
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
    const { A, B } = quantizeLora(am.loraA, am.loraB, am.R, am.DIN, am.DOUT, scales.fa, scales.fb);
    const common = {
      index,
      target: target.name,
      layer: target.layer,
      module: target.module,
      DIN: am.DIN,
      R: am.R,
      DOUT: am.DOUT,
    };
    let chunkedShape: ChunkedShape | undefined;
    if (wantsChunked(opts.chunked, target)) {
      chunkedShape = chooseChunkedShape(await chunkedList(), am.DIN, am.R, am.DOUT, opts.rows);
    } else if (!shapes.some((s) => s.DIN === am.DIN && s.R === am.R && s.DOUT === am.DOUT)) {
      // fallback: no v1 shape for these dims; a chunked shape if one fits, else the v1 error
      const fits = (await chunkedList()).some((s) => s.DIN === am.DIN && s.R === am.R && s.DOUT === am.DOUT);
      if (!fits) chooseShape(shapes, am.DIN, am.R, am.DOUT, opts.rows); // throws no_shape
      chunkedShape = chooseChunkedShape(await chunkedList(), am.DIN, am.R, am.DOUT, opts.rows);
    }
    if (chunkedShape === undefined) {
      const shape = chooseShape(shapes, am.DIN, am.R, am.DOUT, opts.rows);
      const salt = drawSalt();
      const C_m = await weightCommitment(A, B, salt);
      modules.push({
        ...common,
        shape,
        shapeId: shapeId(shape),
        scales: { ...scales },
        scaling: adapter.scaling,
        C_m: C_m.toString(),
      });
      secrets.push({ index, target: target.name, A, B, salt });
    } else {
      const { name, T, DIN, R, DOUT, WA, WB } = chunkedShape;
      const chunkSalts = drawChunkSalts(chunkedShape);
      const { C_m } = await chunkedCommitment(A, B, chunkSalts, chunkedShape);
      modules.push({
        ...common,
        shape: { name, T, DIN, R, DOUT },
        shapeId: chunkedShapeId(chunkedShape),
        chunked: { WA, WB },
        scales: { ...scales },
        scaling: adapter.scaling,
        C_m: C_m.toString(),
      });
      secrets.push({ index, target: target.name, A, B, salt: 0n, chunkSalts });
    }
  }
  if (opts.chunked !== undefined && opts.chunked !== "all") {
    const unknown = opts.chunked.filter((n) => !targets.some((t) => wantsChunked([n], t)));
    if (unknown.length > 0) {
      throw new CommitError(
        "unknown_module",
        `--chunked names ${unknown.join(", ")}, which match no module of the adapter (${targets.map((t) => t.name).join(", ")})`,
      );
    }
  }
  if (used.size !== adapter.modules.length) {
    const extra = adapter.modules.filter((_, i) => !used.has(i)).map((m) => m.name);
    throw new CommitError("extra_module", `adapter modules not found in the base model: ${extra.join(", ")}`);
  }
  const manifest: CommitManifest = {
    version: 1,
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
  return { manifest, secrets: { version: 1, modules: secrets } };
}

/** Writes the public manifest and the private secrets (file mode 0600). */
export async function saveCommit(
  files: { manifest: string; secrets: string },
  commit: CommitResult,
): Promise<void> {
  await writeJsonAtomic(files.manifest, commit.manifest);
  await writeJsonAtomic(files.secrets, secretsToJson(commit.secrets), 0o600);
}
