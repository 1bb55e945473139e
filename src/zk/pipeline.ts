/**
 * The circuits pipeline behind `zklora:circuits`: for each shape of circuits/shapes.json, build
 * (compile + ceremony, see build.ts), then write contracts/verifiers/Groth16Verifier_<name>.sol
 * and circuits/manifest.json; or, with `check`, regenerate and report every file that drifts.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { PROJECT_ROOT } from "../common/cache.js";
import {
  TOOL_VERSIONS,
  buildCircuit,
  loadProductionArtifacts,
  mainFile,
  refuseCheckWithProduction,
  selectShapes,
  type BuildOptions,
  type CeremonyRecord,
  type CircuitArtifacts,
} from "./build.js";
import { ZkError } from "./errors.js";
import type { ProgressFn } from "./progress.js";
import { CIRCUITS_DIR, loadShapes, mainSource, type Shape } from "./shape.js";

/** The committed verifiers folder. */
export const VERIFIERS_DIR = path.join(PROJECT_ROOT, "contracts", "verifiers");
/** The committed manifest. */
export const MANIFEST_FILE = path.join(CIRCUITS_DIR, "manifest.json");

/** One shape's manifest entry. */
export interface ManifestEntry {
  name: string;
  T: number;
  DIN: number;
  R: number;
  DOUT: number;
  shapeId: string;
  constraints: number;
  verifier: { contract: string; path: string; sha256: string };
  sha256: { r1cs: string; wasm: string; zkey: string; vkey: string };
  ptau: { file: string; sha256: string; power: number; source: string };
  ceremony: CeremonyRecord;
  /** Production ceremonies only: where the (unreproducible) zkey lives in the cache. */
  setupCacheEntry?: string;
}

/** circuits/manifest.json. */
export interface Manifest {
  version: 1;
  tools: typeof TOOL_VERSIONS;
  publicSignals: ["C_m", "hX", "rho", "fY"];
  shapes: ManifestEntry[];
}

/** The pipeline found generated files that differ from a fresh regeneration. */
export class DriftError extends ZkError {
  constructor(readonly files: string[]) {
    super(
      "DRIFT",
      `generated files drift from a fresh regeneration: ${files.join(", ")}. ` +
        "Run `npm run circuits` and commit the result (or revert the change that caused it).",
    );
  }
}

/** Options of the pipeline. */
export interface PipelineOptions extends Omit<BuildOptions, "onProgress"> {
  /** Shape names (default: all in circuits/shapes.json). */
  shapes?: string[];
  /** Regenerate and compare instead of writing. */
  check?: boolean;
  onProgress?: ProgressFn;
}

/** The verifier path of a shape, relative to the project root. */
export function verifierRelPath(shape: Shape): string {
  return path.posix.join("contracts", "verifiers", `Groth16Verifier_${shape.name}.sol`);
}

function manifestEntry(art: CircuitArtifacts): ManifestEntry {
  const s = art.shape;
  return {
    name: s.name,
    T: s.T,
    DIN: s.DIN,
    R: s.R,
    DOUT: s.DOUT,
    shapeId: art.shapeId,
    constraints: art.constraints,
    verifier: { contract: art.verifierContract, path: verifierRelPath(s), sha256: art.sha256.verifier },
    sha256: { r1cs: art.sha256.r1cs, wasm: art.sha256.wasm, zkey: art.sha256.zkey, vkey: art.sha256.vkey },
    ptau: art.ptau,
    ceremony: art.ceremony,
    ...(art.ceremony.mode === "production" ? { setupCacheEntry: art.setupCacheEntry } : {}),
  };
}

/** Reads circuits/manifest.json (undefined when absent). */
export async function readManifest(file: string = MANIFEST_FILE): Promise<Manifest | undefined> {
  if (!existsSync(file)) return undefined;
  return JSON.parse(await readFile(file, "utf8")) as Manifest;
}

/** The manifest's text, formatted as the repository's prettier formats it (so `lint` and `--check` agree). */
async function manifestText(m: Manifest): Promise<string> {
  const text = JSON.stringify(m, null, 2) + "\n";
  const prettier = await import("prettier");
  const config = (await prettier.resolveConfig(MANIFEST_FILE)) ?? {};
  return prettier.format(text, { ...config, plugins: [], filepath: MANIFEST_FILE });
}

/**
 * The artifacts a shape proves with, as circuits/manifest.json records them: a development entry
 * (or none) is rebuilt from the cache (buildCircuit, deterministic); a production entry loads the
 * ceremony's zkey from the cache entry the manifest names.
 */
export async function loadCircuitArtifacts(
  shape: Shape,
  opts: { onProgress?: ProgressFn } = {},
): Promise<CircuitArtifacts> {
  const entry = (await readManifest())?.shapes.find((e) => e.name === shape.name);
  if (entry?.ceremony.mode === "production" && entry.setupCacheEntry !== undefined) {
    return loadProductionArtifacts(shape, entry.setupCacheEntry, entry.sha256.zkey);
  }
  return buildCircuit(shape, { onProgress: opts.onProgress });
}

/** Runs the pipeline; returns the artifacts per shape (and throws DriftError in check mode). */
export async function runCircuitsPipeline(opts: PipelineOptions = {}): Promise<CircuitArtifacts[]> {
  const all = await loadShapes();
  const shapes = selectShapes(all, opts.shapes, "circuits/shapes.json");
  refuseCheckWithProduction(opts);
  const drift: string[] = [];
  // In check mode, compare the main files before buildCircuit rewrites them.
  if (opts.check) {
    for (const s of shapes) {
      const f = mainFile(s);
      if (!existsSync(f) || (await readFile(f, "utf8")) !== mainSource(s))
        drift.push(path.relative(PROJECT_ROOT, f));
    }
  }
  const arts: CircuitArtifacts[] = [];
  for (const s of shapes) {
    const art = await buildCircuit(s, {
      ptau: opts.ptau,
      contributions: opts.contributions,
      beacon: opts.beacon,
      onProgress: opts.onProgress,
    });
    arts.push(art);
    const rel = verifierRelPath(s);
    const target = path.join(PROJECT_ROOT, rel);
    const sol = await readFile(art.verifierSol, "utf8");
    if (opts.check) {
      if (!existsSync(target) || (await readFile(target, "utf8")) !== sol) drift.push(rel);
    } else {
      await mkdir(VERIFIERS_DIR, { recursive: true });
      await writeFile(target, sol);
      opts.onProgress?.(`wrote ${rel} (${art.constraints} constraints, ${art.ceremony.mode} ceremony)`);
    }
  }

  const old = await readManifest();
  const entries = new Map<string, ManifestEntry>();
  for (const e of old?.shapes ?? []) if (all.some((s) => s.name === e.name)) entries.set(e.name, e);
  for (const a of arts) entries.set(a.shape.name, manifestEntry(a));
  const manifest: Manifest = {
    version: 1,
    tools: TOOL_VERSIONS,
    publicSignals: ["C_m", "hX", "rho", "fY"],
    shapes: all.filter((s) => entries.has(s.name)).map((s) => entries.get(s.name) as ManifestEntry),
  };
  const text = await manifestText(manifest);
  const rel = path.relative(PROJECT_ROOT, MANIFEST_FILE);
  if (opts.check) {
    const oldText = existsSync(MANIFEST_FILE) ? await readFile(MANIFEST_FILE, "utf8") : "";
    if (oldText !== text) drift.push(rel);
    if (drift.length > 0) throw new DriftError(drift);
    opts.onProgress?.(`no drift: ${shapes.map((s) => s.name).join(", ")} regenerate identically`);
  } else {
    await writeFile(MANIFEST_FILE, text);
    opts.onProgress?.(`wrote ${rel}`);
  }
  return arts;
}
