/**
 * Data types of multi-party inference: the public commit manifest, the contributor's private
 * commit secrets, the deal context, and their JSON file forms with strict parsers.
 *
 * Every big integer travels as a decimal string in JSON (field elements, quantized weights,
 * activations, outputs); addresses are checksummed hex; hY and signatures are 0x hex.
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import { getAddress, isHexString } from "ethers";
import { chunkCounts, chunkedShapeId, validateChunkedShape } from "../zk/index.js";
import type { ChunkSalts, ChunkedShape } from "../zk/index.js";
import { FileFormatError } from "./errors.js";

/** Fixed-point scales in bits (ARCHITECTURE.md "Quantization"). */
export interface Scales {
  fx: number;
  fa: number;
  fb: number;
}

/** A circuit shape (one line of circuits/shapes.json). */
export interface ShapeRef {
  name: string;
  T: number;
  DIN: number;
  R: number;
  DOUT: number;
}

/**
 * A module committed to the chunked variant (ARCHITECTURE.md "Chunked variant"): the chunk widths
 * of its chunked shape (circuits/chunk-shapes.json). Absent for a v1 (monolithic) module.
 */
export interface ManifestChunking {
  /** Rows of A per A chunk (divides DIN). */
  WA: number;
  /** Columns of B per B chunk (divides DOUT). */
  WB: number;
}

/** One module of the public manifest. */
export interface ManifestModule {
  /** Module index m (0-based position in `modules`). */
  index: number;
  /** Target linear layer, e.g. `model.layers.0.self_attn.q_proj`. */
  target: string;
  /** Decoder layer number of the target. */
  layer: number;
  /** Short module name, e.g. `q_proj`. */
  module: string;
  DIN: number;
  R: number;
  DOUT: number;
  /**
   * Circuit shape the module is proven with; T = rows per call. For a chunked module: the chunked
   * shape's name and dims (its widths in `chunked`).
   */
  shape: ShapeRef;
  /** keccak256 shape id (bytes32 hex) of `shape`: `shapeId` (v1) or `chunkedShapeId` (chunked). */
  shapeId: string;
  /**
   * Present iff the module is committed to the chunked variant: then `C_m = chunkedCommitment`,
   * the buyer's hX is `chunkedActivationHash(X).hX` and an entry is proven by a chain of chunk proofs.
   */
  chunked?: ManifestChunking;
  scales: Scales;
  /** s = lora_alpha / r; the buyer adds s * Y / 2^(fx+fa+fb). */
  scaling: number;
  /** Weight commitment C_m (decimal field element). */
  C_m: string;
}

/** The public commit manifest: published before any inference. */
export interface CommitManifest {
  version: 1;
  baseModel: {
    /** sha256 (hex) of the base model's `model.safetensors`. */
    sha256: string;
    /** sha256 (hex) of the base model's `config.json`. */
    configSha256: string;
  };
  adapter: {
    r: number;
    lora_alpha: number;
    target_modules: string[];
  };
  modules: ManifestModule[];
}

/** The private per-module data behind one C_m. */
export interface ModuleSecret {
  index: number;
  target: string;
  /** A (DIN x R), fixed point. */
  A: bigint[][];
  /** B (R x DOUT), fixed point. */
  B: bigint[][];
  /** The salt of `C_m = Sponge_1(A ‖ B ‖ salt)` (v1); 0 (unused) for a chunked module. */
  salt: bigint;
  /** A chunked module's salts, one per weight chunk (`randomChunkSalts`); absent for v1. */
  chunkSalts?: ChunkSalts;
}

/** The contributor's private commit file: quantized weights and salts. Never leaves the server. */
export interface CommitSecrets {
  version: 1;
  modules: ModuleSecret[];
}

/** Everything both parties need to know about a deal to run inference for it. */
export interface DealContext {
  chainId: bigint;
  /** Escrow contract address (EIP-712 verifyingContract, part of rho). */
  escrow: string;
  dealId: bigint;
  /** The address whose InferenceRequest signatures the server accepts. */
  buyer: string;
  /** The address that signs InferenceResponses. */
  contributor: string;
  manifest: CommitManifest;
}

/** JSON form of {@link DealContext} (a "deal manifest file"). */
export interface DealContextJson {
  chainId: string;
  escrow: string;
  dealId: string;
  buyer: string;
  contributor: string;
  manifest: CommitManifest;
}

// ---------------------------------------------------------------- parsing helpers

const DEC = /^(0|-?[1-9][0-9]*)$/;

/** Parses a decimal integer string (no sign for unsigned); throws FileFormatError naming `what`. */
export function parseBigInt(v: unknown, what: string, unsigned = false): bigint {
  if (typeof v === "string" && DEC.test(v) && !(unsigned && v.startsWith("-"))) return BigInt(v);
  if (typeof v === "string" && unsigned && isHexString(v) && v.length > 2) return BigInt(v);
  throw new FileFormatError(`${what} must be a decimal integer string, got ${JSON.stringify(v)}`);
}

function req<T>(obj: unknown, key: string, what: string): T {
  if (typeof obj !== "object" || obj === null || !(key in obj)) {
    throw new FileFormatError(`${what}: missing field "${key}"`);
  }
  return (obj as Record<string, unknown>)[key] as T;
}

function int(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new FileFormatError(`${what} must be a non-negative integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

function address(v: unknown, what: string): string {
  try {
    return getAddress(String(v));
  } catch {
    throw new FileFormatError(`${what} must be an address, got ${JSON.stringify(v)}`);
  }
}

function matrix(v: unknown, rows: number, cols: number, what: string): bigint[][] {
  if (!Array.isArray(v) || v.length !== rows) throw new FileFormatError(`${what} must have ${rows} rows`);
  return v.map((row: unknown, r) => {
    if (!Array.isArray(row) || row.length !== cols) {
      throw new FileFormatError(`${what}[${r}] must have ${cols} entries`);
    }
    return row.map((x, c) => parseBigInt(x, `${what}[${r}][${c}]`));
  });
}

/** Checks a parsed manifest's layout (types, indices, shapes); returns it typed. */
export function parseManifest(raw: unknown): CommitManifest {
  if (req<number>(raw, "version", "manifest") !== 1) throw new FileFormatError("manifest: version must be 1");
  const base = req<unknown>(raw, "baseModel", "manifest");
  req<string>(base, "sha256", "manifest.baseModel");
  const modules = req<unknown[]>(raw, "modules", "manifest");
  if (!Array.isArray(modules) || modules.length === 0) {
    throw new FileFormatError("manifest.modules must be a non-empty array");
  }
  modules.forEach((m, i) => {
    const what = `manifest.modules[${i}]`;
    if (int(req(m, "index", what), `${what}.index`) !== i)
      throw new FileFormatError(`${what}.index must be ${i}`);
    const shape = req<ShapeRef>(m, "shape", what);
    for (const k of ["T", "DIN", "R", "DOUT"] as const)
      int(req(shape, k, `${what}.shape`), `${what}.shape.${k}`);
    for (const k of ["DIN", "R", "DOUT"] as const) {
      if (req<number>(m, k, what) !== shape[k])
        throw new FileFormatError(`${what}.${k} differs from its shape`);
    }
    parseBigInt(req(m, "C_m", what), `${what}.C_m`, true);
    const chunked = (m as { chunked?: unknown }).chunked;
    if (chunked !== undefined) {
      const c = chunked as ManifestChunking;
      const cs: ChunkedShape = {
        name: shape.name,
        T: shape.T,
        DIN: shape.DIN,
        R: shape.R,
        DOUT: shape.DOUT,
        WA: int(req(c, "WA", `${what}.chunked`), `${what}.chunked.WA`),
        WB: int(req(c, "WB", `${what}.chunked`), `${what}.chunked.WB`),
      };
      let id: string;
      try {
        id = chunkedShapeId(validateChunkedShape(cs));
      } catch (err) {
        throw new FileFormatError(`${what}.chunked: ${(err as Error).message}`);
      }
      if (String(req(m, "shapeId", what)).toLowerCase() !== id.toLowerCase()) {
        throw new FileFormatError(
          `${what}.shapeId must be the chunked shape id ${id} of ${shape.name} (WA ${cs.WA}, WB ${cs.WB})`,
        );
      }
    }
    const scales = req<Scales>(m, "scales", what);
    for (const k of ["fx", "fa", "fb"] as const) int(req(scales, k, `${what}.scales`), `${what}.scales.${k}`);
    if (typeof req(m, "scaling", what) !== "number")
      throw new FileFormatError(`${what}.scaling must be a number`);
    req<string>(m, "target", what);
  });
  return raw as CommitManifest;
}

/** The chunked shape of a module committed to the chunked variant; undefined for a v1 module. */
export function chunkedShapeOf(m: Pick<ManifestModule, "shape" | "chunked">): ChunkedShape | undefined {
  if (m.chunked === undefined) return undefined;
  const { name, T, DIN, R, DOUT } = m.shape;
  return { name, T, DIN, R, DOUT, WA: m.chunked.WA, WB: m.chunked.WB };
}

/** JSON form of the secrets (bigints as decimal strings). */
export function secretsToJson(s: CommitSecrets): unknown {
  return {
    version: 1,
    modules: s.modules.map((m) => ({
      index: m.index,
      target: m.target,
      ...(m.chunkSalts === undefined
        ? { salt: m.salt.toString() }
        : { chunkSalts: { a: m.chunkSalts.a.map(String), b: m.chunkSalts.b.map(String) } }),
      A: m.A.map((r) => r.map(String)),
      B: m.B.map((r) => r.map(String)),
    })),
  };
}

/** Parses the secrets file against its manifest (every module present, shapes as declared). */
export function parseSecrets(raw: unknown, manifest: CommitManifest): CommitSecrets {
  if (req<number>(raw, "version", "secrets") !== 1) throw new FileFormatError("secrets: version must be 1");
  const mods = req<unknown[]>(raw, "modules", "secrets");
  if (!Array.isArray(mods) || mods.length !== manifest.modules.length) {
    throw new FileFormatError(
      `secrets.modules must have ${manifest.modules.length} entries, one per manifest module`,
    );
  }
  return {
    version: 1,
    modules: manifest.modules.map((mm, i) => {
      const m = mods[i];
      const what = `secrets.modules[${i}]`;
      if (req(m, "index", what) !== i || req(m, "target", what) !== mm.target) {
        throw new FileFormatError(`${what} must be module ${i} (${mm.target})`);
      }
      const A = matrix(req(m, "A", what), mm.DIN, mm.R, `${what}.A`);
      const B = matrix(req(m, "B", what), mm.R, mm.DOUT, `${what}.B`);
      const cs = chunkedShapeOf(mm);
      if (cs === undefined) {
        return {
          index: i,
          target: mm.target,
          salt: parseBigInt(req(m, "salt", what), `${what}.salt`, true),
          A,
          B,
        };
      }
      const { KA, KB } = chunkCounts(cs);
      const raw = req<{ a?: unknown; b?: unknown }>(m, "chunkSalts", what);
      const list = (v: unknown, n: number, k: "a" | "b"): bigint[] => {
        if (!Array.isArray(v) || v.length !== n)
          throw new FileFormatError(
            `${what}.chunkSalts.${k} must hold ${n} salts (chunked shape ${cs.name})`,
          );
        return v.map((x, j) => parseBigInt(x, `${what}.chunkSalts.${k}[${j}]`, true));
      };
      return {
        index: i,
        target: mm.target,
        salt: 0n,
        chunkSalts: { a: list(raw.a, KA, "a"), b: list(raw.b, KB, "b") },
        A,
        B,
      };
    }),
  };
}

/** JSON form of a deal context. */
export function dealToJson(d: DealContext): DealContextJson {
  return {
    chainId: d.chainId.toString(),
    escrow: getAddress(d.escrow),
    dealId: d.dealId.toString(),
    buyer: getAddress(d.buyer),
    contributor: getAddress(d.contributor),
    manifest: d.manifest,
  };
}

/** Parses a deal context from its JSON form. */
export function dealFromJson(raw: unknown): DealContext {
  return {
    chainId: parseBigInt(req(raw, "chainId", "deal"), "deal.chainId", true),
    escrow: address(req(raw, "escrow", "deal"), "deal.escrow"),
    dealId: parseBigInt(req(raw, "dealId", "deal"), "deal.dealId", true),
    buyer: address(req(raw, "buyer", "deal"), "deal.buyer"),
    contributor: address(req(raw, "contributor", "deal"), "deal.contributor"),
    manifest: parseManifest(req(raw, "manifest", "deal")),
  };
}

/** Writes JSON atomically (temporary file + rename), so readers never see half a file. */
export async function writeJsonAtomic(file: string, value: unknown, mode = 0o644): Promise<void> {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(tmp, JSON.stringify(value, null, 2) + "\n", { mode });
  await rename(tmp, file);
}

/** Reads and parses a JSON file, naming the file in the error. */
export async function readJsonFile(file: string): Promise<unknown> {
  const text = await readFile(file, "utf8");
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new FileFormatError(`${file} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Reads a deal manifest file ({@link DealContextJson}). */
export async function loadDealContext(file: string): Promise<DealContext> {
  return dealFromJson(await readJsonFile(file));
}

/** Writes a deal manifest file. */
export async function saveDealContext(file: string, d: DealContext): Promise<void> {
  await writeJsonAtomic(file, dealToJson(d));
}

/** Reads a public manifest file. */
export async function loadManifest(file: string): Promise<CommitManifest> {
  return parseManifest(await readJsonFile(file));
}

/** Reads a private secrets file and checks it against the manifest. */
export async function loadSecrets(file: string, manifest: CommitManifest): Promise<CommitSecrets> {
  return parseSecrets(await readJsonFile(file), manifest);
}
