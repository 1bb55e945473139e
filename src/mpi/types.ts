/**
 * Data types of multi-party inference (protocol v2): the public commit manifest, the contributor's
 * private commit secrets, the deal context, and their JSON file forms with strict parsers.
 *
 * Every big integer travels as a decimal string in JSON (field elements, quantized weights,
 * activations, outputs, curve coordinates); addresses are checksummed hex; digests 0x hex.
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import { getAddress, isHexString } from "ethers";
import { v2ShapeId, v2ShapeName, type G1Point, type V2Shape, type WeightPok } from "../zk/v2/index.js";
import { FileFormatError } from "./errors.js";

/** Fixed-point scales in bits (ARCHITECTURE.md "Quantization"). */
export interface Scales {
  fx: number;
  fa: number;
  fb: number;
}

/** A module's v2 shape: its dims, name, id and the phase-1 file its key comes from. */
export interface ShapeRef {
  name: string;
  DIN: number;
  R: number;
  DOUT: number;
  /** keccak256 shape id (bytes32 hex), `v2ShapeId`. */
  shapeId: string;
  /** "dev" (the FORGEABLE development ptau) or the public ceremony file's name. */
  ptau: string;
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
  shape: ShapeRef;
  scales: Scales;
  /** s = lora_alpha / r; the buyer adds s * Y / 2^(fx+fa+fb). */
  scaling: number;
  /** W_m (decimal affine coordinates). */
  W: [string, string];
  /** The proof of knowledge of W_m's opening, bound to `context` and the module index. */
  pok: { T: [string, string]; z: string[] };
}

/** Where the commitment's proofs of knowledge are valid: one escrow of one chain, one contributor. */
export interface CommitContext {
  chainId: string;
  escrow: string;
  contributor: string;
}

/** The public commit manifest: published before any inference. */
export interface CommitManifest {
  version: 2;
  context: CommitContext;
  baseModel: {
    /** sha256 (hex) of the base model's weights (`BaseModel.sha256`). */
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

/** The private per-module opening of one W_m. */
export interface ModuleSecret {
  index: number;
  target: string;
  /** A (DIN x R), fixed point. */
  A: bigint[][];
  /** B (R x DOUT), fixed point. */
  B: bigint[][];
  /** Uniform in F_p. */
  salt: bigint;
}

/** The contributor's private commit file: quantized weights and salts. Never leaves the contributor. */
export interface CommitSecrets {
  version: 2;
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

/** The V2Shape of a manifest module. */
export function v2ShapeOf(m: Pick<ManifestModule, "DIN" | "R" | "DOUT">): V2Shape {
  return { DIN: m.DIN, R: m.R, DOUT: m.DOUT };
}

/** W_m of a manifest module as a point. */
export function moduleW(m: Pick<ManifestModule, "W">): G1Point {
  return [BigInt(m.W[0]), BigInt(m.W[1])];
}

/** The proof of knowledge of a manifest module. */
export function modulePok(m: Pick<ManifestModule, "pok">): WeightPok {
  return { T: [BigInt(m.pok.T[0]), BigInt(m.pok.T[1])], z: m.pok.z.map((v) => BigInt(v)) };
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

function pair(v: unknown, what: string): [string, string] {
  if (!Array.isArray(v) || v.length !== 2) throw new FileFormatError(`${what} must be [x, y]`);
  return [parseBigInt(v[0], `${what}[0]`, true).toString(), parseBigInt(v[1], `${what}[1]`, true).toString()];
}

/** Checks a parsed manifest's layout (types, indices, shapes); returns it typed. */
export function parseManifest(raw: unknown): CommitManifest {
  const version = req<number>(raw, "version", "manifest");
  if (version !== 2) {
    throw new FileFormatError(
      `manifest: version must be 2 (protocol v2), got ${JSON.stringify(version)}; commit the adapter again with zklora:commit`,
    );
  }
  const ctx = req<unknown>(raw, "context", "manifest");
  parseBigInt(req(ctx, "chainId", "manifest.context"), "manifest.context.chainId", true);
  address(req(ctx, "escrow", "manifest.context"), "manifest.context.escrow");
  address(req(ctx, "contributor", "manifest.context"), "manifest.context.contributor");
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
    for (const k of ["DIN", "R", "DOUT"] as const) {
      int(req(shape, k, `${what}.shape`), `${what}.shape.${k}`);
      if (req<number>(m, k, what) !== shape[k])
        throw new FileFormatError(`${what}.${k} differs from its shape`);
    }
    const dims = v2ShapeOf(shape);
    if (req(shape, "shapeId", `${what}.shape`) !== v2ShapeId(dims))
      throw new FileFormatError(`${what}.shape.shapeId is not the id of ${v2ShapeName(dims)}`);
    if (typeof req(shape, "ptau", `${what}.shape`) !== "string")
      throw new FileFormatError(`${what}.shape.ptau must be "dev" or a public ptau file name`);
    pair(req(m, "W", what), `${what}.W`);
    const pok = req<unknown>(m, "pok", what);
    pair(req(pok, "T", `${what}.pok`), `${what}.pok.T`);
    const z = req<unknown[]>(pok, "z", `${what}.pok`);
    const n = dims.R * (dims.DIN + dims.DOUT) + 1;
    if (!Array.isArray(z) || z.length !== n)
      throw new FileFormatError(`${what}.pok.z must hold N + 1 = ${n} responses`);
    const scales = req<Scales>(m, "scales", what);
    for (const k of ["fx", "fa", "fb"] as const) int(req(scales, k, `${what}.scales`), `${what}.scales.${k}`);
    if (typeof req(m, "scaling", what) !== "number")
      throw new FileFormatError(`${what}.scaling must be a number`);
    req<string>(m, "target", what);
  });
  return raw as CommitManifest;
}

/** JSON form of the secrets (bigints as decimal strings). */
export function secretsToJson(s: CommitSecrets): unknown {
  return {
    version: 2,
    modules: s.modules.map((m) => ({
      index: m.index,
      target: m.target,
      salt: m.salt.toString(),
      A: m.A.map((r) => r.map(String)),
      B: m.B.map((r) => r.map(String)),
    })),
  };
}

/** Parses the secrets file against its manifest (every module present, shapes as declared). */
export function parseSecrets(raw: unknown, manifest: CommitManifest): CommitSecrets {
  if (req<number>(raw, "version", "secrets") !== 2)
    throw new FileFormatError("secrets: version must be 2 (protocol v2); commit the adapter again");
  const mods = req<unknown[]>(raw, "modules", "secrets");
  if (!Array.isArray(mods) || mods.length !== manifest.modules.length) {
    throw new FileFormatError(
      `secrets.modules must have ${manifest.modules.length} entries, one per manifest module`,
    );
  }
  return {
    version: 2,
    modules: manifest.modules.map((mm, i) => {
      const m = mods[i];
      const what = `secrets.modules[${i}]`;
      if (req(m, "index", what) !== i || req(m, "target", what) !== mm.target) {
        throw new FileFormatError(`${what} must be module ${i} (${mm.target})`);
      }
      return {
        index: i,
        target: mm.target,
        salt: parseBigInt(req(m, "salt", what), `${what}.salt`, true),
        A: matrix(req(m, "A", what), mm.DIN, mm.R, `${what}.A`),
        B: matrix(req(m, "B", what), mm.R, mm.DOUT, `${what}.B`),
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
