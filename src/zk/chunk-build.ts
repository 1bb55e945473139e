/**
 * The chunked variant's circuits (circuits/chunk/, circuits/README.md "Chunked module proofs"):
 * one module proven as a chain of small Groth16 proofs, `LoraChunkA` per WA rows of A and
 * `LoraChunkB` per WB columns of B. This file holds the shapes (circuits/chunk-shapes.json), shape
 * ids, build targets (through the generic `buildCircuitTarget`, same ceremony as every circuit) and
 * the pipeline that writes `contracts/verifiers/Groth16Chunk{A,B}_<name>.sol` and
 * circuits/chunk-manifest.json (`npm run circuits:chunk`, `--check` for drift).
 *
 * Benchmark shapes (real model shapes) build through {@link buildChunkedCircuits} with
 * `{ bench: true }`: their main files go to the gitignored `cache/zklora-chunk-main/`, never to
 * circuits/chunk/main/, the manifest or contracts/verifiers/.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { AbiCoder, encodeBytes32String, keccak256 } from "ethers";
import { PROJECT_ROOT } from "../common/cache.js";
import {
  TOOL_VERSIONS,
  refuseCheckWithProduction,
  selectShapes,
  type BuildOptions,
  type CeremonyRecord,
} from "./build.js";
import { buildCircuitTarget, type CircuitTarget, type TargetArtifacts } from "./delivery-build.js";
import { ShapeError, ZkError } from "./errors.js";
import type { ProgressFn } from "./progress.js";
import { CIRCUITS_DIR } from "./shape.js";

/** A chunked module shape: the module dims (T, DIN, R, DOUT) and the chunk widths WA | DIN, WB | DOUT. */
export interface ChunkedShape {
  name: string;
  T: number;
  DIN: number;
  R: number;
  DOUT: number;
  /** Rows of A (= columns of X) per A chunk; divides DIN. */
  WA: number;
  /** Columns of B per B chunk; divides DOUT. */
  WB: number;
}

/** The chunk templates' folder. */
export const CHUNK_DIR = path.join(CIRCUITS_DIR, "chunk");
/** The committed chunked shapes. */
export const CHUNK_SHAPES_FILE = path.join(CIRCUITS_DIR, "chunk-shapes.json");
/** The committed chunk manifest. */
export const CHUNK_MANIFEST_FILE = path.join(CIRCUITS_DIR, "chunk-manifest.json");
/** Where benchmark (never committed) main files go: gitignored, inside the project (circom2 reads relative paths only). */
export const CHUNK_BENCH_MAIN_DIR = path.join(PROJECT_ROOT, "cache", "zklora-chunk-main");
/** Public signals of an A chunk, in circuit order. */
export const CHUNK_A_SIGNALS = ["hA", "hX", "rho", "Lin", "Lout"] as const;
/** Public signals of a B chunk, in circuit order. */
export const CHUNK_B_SIGNALS = ["hB", "rho", "Lin", "Lout", "fIn", "fOut"] as const;

/** `bytes32("zklora.chunked.v1.a<WA>.b<WB>")`, the shape-id variant of a chunked shape. */
export function chunkedVariant(WA: number, WB: number): string {
  for (const [k, v] of [
    ["WA", WA],
    ["WB", WB],
  ] as const) {
    if (!Number.isInteger(v) || v < 1)
      throw new ShapeError(`chunk width ${k} must be a positive integer, got ${v}`);
  }
  return encodeBytes32String(`zklora.chunked.v1.a${WA}.b${WB}`);
}

/**
 * `keccak256(abi.encode(bytes32 chunkedVariant(WA, WB), uint256 T, uint256 DIN, uint256 R, uint256 DOUT))`,
 * what the registry's `register(variant, t, din, r, dout, verifier)` computes.
 */
export function chunkedShapeId(s: Omit<ChunkedShape, "name">): string {
  checkChunkedDims(s);
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(
      ["bytes32", "uint256", "uint256", "uint256", "uint256"],
      [chunkedVariant(s.WA, s.WB), s.T, s.DIN, s.R, s.DOUT],
    ),
  );
}

function checkChunkedDims(s: Omit<ChunkedShape, "name">): void {
  for (const k of ["T", "DIN", "R", "DOUT", "WA", "WB"] as const) {
    const v = s[k];
    if (!Number.isInteger(v) || v < 1)
      throw new ShapeError(`chunked shape ${k} must be a positive integer, got ${v}`);
  }
  if (s.DIN % s.WA !== 0)
    throw new ShapeError(`chunked shape: WA = ${s.WA} must divide DIN = ${s.DIN} (pick a divisor of DIN)`);
  if (s.DOUT % s.WB !== 0)
    throw new ShapeError(`chunked shape: WB = ${s.WB} must divide DOUT = ${s.DOUT} (pick a divisor of DOUT)`);
}

/** Checks a chunked shape (name a Solidity identifier, positive dims, WA | DIN, WB | DOUT); returns a clean copy. */
export function validateChunkedShape(s: ChunkedShape): ChunkedShape {
  if (typeof s !== "object" || s === null) throw new ShapeError("a chunked shape must be an object");
  if (typeof s.name !== "string" || !/^[A-Za-z][A-Za-z0-9_]*$/.test(s.name)) {
    throw new ShapeError(
      `chunked shape name ${JSON.stringify(s.name)} must match [A-Za-z][A-Za-z0-9_]* (a Solidity identifier)`,
    );
  }
  checkChunkedDims(s);
  return { name: s.name, T: s.T, DIN: s.DIN, R: s.R, DOUT: s.DOUT, WA: s.WA, WB: s.WB };
}

/** The number of A chunks (DIN / WA) and B chunks (DOUT / WB). */
export function chunkCounts(s: ChunkedShape): { KA: number; KB: number } {
  const v = validateChunkedShape(s);
  return { KA: v.DIN / v.WA, KB: v.DOUT / v.WB };
}

/** Reads circuits/chunk-shapes.json. */
export async function loadChunkedShapes(file: string = CHUNK_SHAPES_FILE): Promise<ChunkedShape[]> {
  const raw = JSON.parse(await readFile(file, "utf8")) as unknown;
  if (!Array.isArray(raw)) throw new ShapeError(`${file} must hold a JSON array of chunked shapes`);
  const shapes = raw.map((s) => validateChunkedShape(s as ChunkedShape));
  const names = new Set<string>();
  for (const s of shapes) {
    if (names.has(s.name)) throw new ShapeError(`${file}: chunked shape ${s.name} appears twice`);
    names.add(s.name);
  }
  return shapes;
}

/** The Solidity contract names of a chunked shape's two verifiers. */
export function chunkVerifierNames(s: ChunkedShape): { a: string; b: string } {
  return { a: `Groth16ChunkA_${s.name}`, b: `Groth16ChunkB_${s.name}` };
}

/** The verifier paths of a chunked shape, relative to the project root. */
export function chunkVerifierRelPaths(s: ChunkedShape): { a: string; b: string } {
  const n = chunkVerifierNames(s);
  return {
    a: path.posix.join("contracts", "verifiers", `${n.a}.sol`),
    b: path.posix.join("contracts", "verifiers", `${n.b}.sol`),
  };
}

/** The main file's source of one chunk kind; `includeDir` is the chunk templates' folder relative to the main file. */
export function chunkMainSource(shape: ChunkedShape, kind: "A" | "B", includeDir = ".."): string {
  const s = validateChunkedShape(shape);
  const head = `// Generated from circuits/chunk-shapes.json by src/zk (chunk pipeline). Do not edit.\npragma circom 2.1.0;\n\n`;
  if (kind === "A") {
    return (
      head +
      `include "${includeDir}/chunk_a.circom";\n\n` +
      `component main {public [${CHUNK_A_SIGNALS.join(", ")}]} = LoraChunkA(${s.T}, ${s.WA}, ${s.R}, ${s.DOUT});\n`
    );
  }
  return (
    head +
    `include "${includeDir}/chunk_b.circom";\n\n` +
    `component main {public [${CHUNK_B_SIGNALS.join(", ")}]} = LoraChunkB(${s.R}, ${s.WB});\n`
  );
}

/** The committed main file of one chunk kind: circuits/chunk/main/{a,b}_<name>.circom. */
export function chunkMainFile(shape: ChunkedShape, kind: "A" | "B"): string {
  return path.join(CHUNK_DIR, "main", `${kind === "A" ? "a" : "b"}_${shape.name}.circom`);
}

async function circomFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith(".circom")).map((f) => path.join(dir, f));
}

/** Options of the chunk builds. */
export interface ChunkBuildOptions extends BuildOptions {
  /**
   * A benchmark target (a real model shape): main files under {@link CHUNK_BENCH_MAIN_DIR}, nothing
   * written to circuits/chunk/main/, the manifest or contracts/verifiers/.
   */
  bench?: boolean;
  /**
   * Benchmark targets only, development ceremony only: skip `zkey verify` (~14 min at 2^16). The
   * development ceremony is deterministic and public; its keys are never committed or deployed.
   */
  skipZkeyVerify?: boolean;
}

/** The build target of one chunk kind of a shape. */
export async function chunkTarget(
  shape: ChunkedShape,
  kind: "A" | "B",
  opts: Pick<ChunkBuildOptions, "bench" | "skipZkeyVerify"> = {},
): Promise<CircuitTarget> {
  const s = validateChunkedShape(shape);
  if (opts.skipZkeyVerify && !opts.bench) {
    throw new ZkError(
      "CEREMONY",
      "skipZkeyVerify is only for benchmark targets (bench: true); committed chunk keys are always verified",
    );
  }
  const stem = `${kind === "A" ? "a" : "b"}_${s.name}`;
  const mainFile = opts.bench ? path.join(CHUNK_BENCH_MAIN_DIR, `${stem}.circom`) : chunkMainFile(s, kind);
  const includeDir = path.relative(path.dirname(mainFile), CHUNK_DIR).split(path.sep).join("/");
  const names = chunkVerifierNames(s);
  const signals = kind === "A" ? CHUNK_A_SIGNALS : CHUNK_B_SIGNALS;
  return {
    name: `chunk_${stem}`,
    mainFile,
    mainSource: chunkMainSource(s, kind, includeDir),
    sources: [...(await circomFiles(CIRCUITS_DIR)), ...(await circomFiles(CHUNK_DIR))],
    verifierContract: kind === "A" ? names.a : names.b,
    header: [
      `Generated by the zklora chunk pipeline (snarkjs ${TOOL_VERSIONS.snarkjs}): chunk kind ${kind} of the chunked shape ` +
        `${s.name} (T=${s.T}, DIN=${s.DIN}, R=${s.R}, DOUT=${s.DOUT}, WA=${s.WA}, WB=${s.WB}), shapeId ${chunkedShapeId(s)}.`,
      `Public signals: [${signals.join(", ")}].`,
    ],
    publicSignals: signals.length,
    manifest: opts.bench ? undefined : { file: CHUNK_MANIFEST_FILE, name: `${kind.toLowerCase()}_${s.name}` },
    regenerateWith: "npm run circuits:chunk",
    skipZkeyVerify: opts.skipZkeyVerify
      ? "benchmark target, deterministic public development ceremony, never committed or deployed"
      : undefined,
  };
}

/** Both chunk circuits of a shape, built (compile + ceremony, cached by content). */
export interface ChunkedArtifacts {
  shape: ChunkedShape;
  shapeId: string;
  a: TargetArtifacts;
  b: TargetArtifacts;
}

/** Builds (or finds in the cache) a chunked shape's two circuits and keys. */
export async function buildChunkedCircuits(
  shape: ChunkedShape,
  opts: ChunkBuildOptions = {},
): Promise<ChunkedArtifacts> {
  const s = validateChunkedShape(shape);
  const { bench, skipZkeyVerify, ...build } = opts;
  if (bench) await mkdir(CHUNK_BENCH_MAIN_DIR, { recursive: true });
  const a = await buildCircuitTarget(await chunkTarget(s, "A", { bench, skipZkeyVerify }), build);
  const b = await buildCircuitTarget(await chunkTarget(s, "B", { bench, skipZkeyVerify }), build);
  return { shape: s, shapeId: chunkedShapeId(s), a, b };
}

/** One circuit entry of circuits/chunk-manifest.json (`name` is `a_<shape>` or `b_<shape>`). */
export interface ChunkManifestEntry {
  name: string;
  shape: string;
  kind: "A" | "B";
  T: number;
  DIN: number;
  R: number;
  DOUT: number;
  WA: number;
  WB: number;
  chunkedShapeId: string;
  constraints: number;
  publicSignals: string[];
  verifier: { contract: string; path: string; sha256: string };
  sha256: { r1cs: string; wasm: string; zkey: string; vkey: string };
  ptau: { file: string; sha256: string; power: number; source: string };
  ceremony: CeremonyRecord;
}

/** circuits/chunk-manifest.json. */
export interface ChunkManifest {
  version: 1;
  tools: typeof TOOL_VERSIONS;
  shapes: ChunkManifestEntry[];
}

/** Options of the chunk pipeline. */
export interface ChunkPipelineOptions extends Omit<BuildOptions, "onProgress"> {
  /** Shape names (default: all of circuits/chunk-shapes.json). */
  shapes?: string[];
  /** Regenerate and compare instead of writing. */
  check?: boolean;
  onProgress?: ProgressFn;
}

/**
 * Builds the chunk circuits of circuits/chunk-shapes.json and writes their verifiers into
 * contracts/verifiers/ and circuits/chunk-manifest.json; with `check`, throws a ZkError ("DRIFT")
 * listing the files that differ from a regeneration.
 */
export async function runChunkPipeline(opts: ChunkPipelineOptions = {}): Promise<ChunkedArtifacts[]> {
  const all = await loadChunkedShapes();
  const shapes = selectShapes(all, opts.shapes, "circuits/chunk-shapes.json");
  refuseCheckWithProduction(opts);
  const drift: string[] = [];
  if (opts.check) {
    for (const s of shapes) {
      for (const kind of ["A", "B"] as const) {
        const f = chunkMainFile(s, kind);
        if (!existsSync(f) || (await readFile(f, "utf8")) !== chunkMainSource(s, kind))
          drift.push(path.relative(PROJECT_ROOT, f));
      }
    }
  }
  const { shapes: _names, check: _check, ...build } = opts;
  const arts: ChunkedArtifacts[] = [];
  const entries = new Map<string, ChunkManifestEntry>();
  const old = existsSync(CHUNK_MANIFEST_FILE)
    ? (JSON.parse(await readFile(CHUNK_MANIFEST_FILE, "utf8")) as ChunkManifest)
    : undefined;
  for (const e of old?.shapes ?? []) if (all.some((s) => s.name === e.shape)) entries.set(e.name, e);
  for (const s of shapes) {
    const art = await buildChunkedCircuits(s, build);
    arts.push(art);
    const rels = chunkVerifierRelPaths(s);
    for (const [kind, t, rel] of [
      ["A", art.a, rels.a],
      ["B", art.b, rels.b],
    ] as const) {
      const file = path.join(PROJECT_ROOT, rel);
      const sol = await readFile(t.verifierSol, "utf8");
      if (opts.check) {
        if (!existsSync(file) || (await readFile(file, "utf8")) !== sol) drift.push(rel);
      } else {
        await mkdir(path.dirname(file), { recursive: true });
        await writeFile(file, sol);
        opts.onProgress?.(`wrote ${rel} (${t.constraints} constraints, ${t.ceremony.mode} ceremony)`);
      }
      const name = `${kind.toLowerCase()}_${s.name}`;
      entries.set(name, {
        name,
        shape: s.name,
        kind,
        T: s.T,
        DIN: s.DIN,
        R: s.R,
        DOUT: s.DOUT,
        WA: s.WA,
        WB: s.WB,
        chunkedShapeId: art.shapeId,
        constraints: t.constraints,
        publicSignals: [...(kind === "A" ? CHUNK_A_SIGNALS : CHUNK_B_SIGNALS)],
        verifier: { contract: t.verifierContract, path: rel, sha256: t.sha256.verifier },
        sha256: { r1cs: t.sha256.r1cs, wasm: t.sha256.wasm, zkey: t.sha256.zkey, vkey: t.sha256.vkey },
        ptau: t.ptau,
        ceremony: t.ceremony,
      });
    }
  }
  const manifest: ChunkManifest = {
    version: 1,
    tools: TOOL_VERSIONS,
    shapes: all.flatMap((s) =>
      [`a_${s.name}`, `b_${s.name}`].filter((n) => entries.has(n)).map((n) => entries.get(n)!),
    ),
  };
  const prettier = await import("prettier");
  const config = (await prettier.resolveConfig(CHUNK_MANIFEST_FILE)) ?? {};
  const text = await prettier.format(JSON.stringify(manifest, null, 2) + "\n", {
    ...config,
    plugins: [],
    filepath: CHUNK_MANIFEST_FILE,
  });
  const rel = path.relative(PROJECT_ROOT, CHUNK_MANIFEST_FILE);
  if (opts.check) {
    const oldText = existsSync(CHUNK_MANIFEST_FILE) ? await readFile(CHUNK_MANIFEST_FILE, "utf8") : "";
    if (oldText !== text) drift.push(rel);
    if (drift.length > 0) {
      throw new ZkError(
        "DRIFT",
        `generated chunk files drift from a fresh regeneration: ${drift.join(", ")}. Run \`npm run circuits:chunk\` and commit the result.`,
      );
    }
    opts.onProgress?.(`no drift: ${shapes.map((s) => s.name).join(", ")} regenerate identically`);
  } else {
    await writeFile(CHUNK_MANIFEST_FILE, text);
    opts.onProgress?.(`wrote ${rel}`);
  }
  return arts;
}
