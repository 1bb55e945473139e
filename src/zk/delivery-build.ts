/**
 * Delivery circuits (circuits/delivery/, one per weight shape DIN x R x DOUT of
 * circuits/delivery-shapes.json): shapes, shape ids, and the build through the same ceremony
 * pipeline as the module circuits (`buildCircuitTarget`, a generic entry point: any main source,
 * any verifier name), plus `runDeliveryPipeline`, which writes
 * `contracts/verifiers/Groth16Delivery_<name>.sol` and `circuits/delivery-manifest.json`.
 *
 * The ceremony steps (and the development / production modes) are exactly those of build.ts: see
 * its module comment. Development keys are reproducible, so the committed delivery verifiers
 * regenerate byte for byte.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { AbiCoder, encodeBytes32String, keccak256 } from "ethers";
import { PROJECT_ROOT, sha256, sha256File, type KeyPart } from "../common/cache.js";
import {
  TOOL_VERSIONS,
  ceremonyPlan,
  compileMain,
  runSetup,
  verifiedInManifest,
  type BuildOptions,
  type CeremonyRecord,
  refuseCheckWithProduction,
  selectShapes,
} from "./build.js";
import { CeremonyError, ShapeError, ZkError } from "./errors.js";
import { type ProgressFn } from "./progress.js";
import { checkPublicPtau, requiredPower, selectPtau, type PtauChoice } from "./ptau.js";
import { readR1csInfo } from "./r1cs.js";
import { CIRCUITS_DIR } from "./shape.js";

/** A weight shape: the LoRA matrices A (DIN x R) and B (R x DOUT) of one module. */
export interface DeliveryShape {
  name: string;
  DIN: number;
  R: number;
  DOUT: number;
}

/** The delivery shape id's variant: bytes32("zklora.lora-delivery.v1"). */
export const DELIVERY_VARIANT = encodeBytes32String("zklora.lora-delivery.v1");
/** The delivery templates' folder. */
export const DELIVERY_DIR = path.join(CIRCUITS_DIR, "delivery");
/** The delivery shapes config. */
export const DELIVERY_SHAPES_FILE = path.join(CIRCUITS_DIR, "delivery-shapes.json");
/** The committed delivery manifest. */
export const DELIVERY_MANIFEST_FILE = path.join(CIRCUITS_DIR, "delivery-manifest.json");
/** The prefix of the delivery verifiers' contract names. */
export const DELIVERY_VERIFIER_PREFIX = "Groth16Delivery_";

/** `keccak256(abi.encode(bytes32 variant, uint256 DIN, uint256 R, uint256 DOUT))` (= the registry's `deliveryShapeIdOf`). */
export function deliveryShapeId(s: Pick<DeliveryShape, "DIN" | "R" | "DOUT">): string {
  validateDeliveryDims(s);
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(
      ["bytes32", "uint256", "uint256", "uint256"],
      [DELIVERY_VARIANT, s.DIN, s.R, s.DOUT],
    ),
  );
}

function validateDeliveryDims(s: Pick<DeliveryShape, "DIN" | "R" | "DOUT">): void {
  for (const k of ["DIN", "R", "DOUT"] as const) {
    const v = s[k];
    if (!Number.isInteger(v) || v < 1)
      throw new ShapeError(`delivery shape ${k} must be a positive integer, got ${v}`);
  }
}

/** Checks a delivery shape's name and dimensions; returns it. */
export function validateDeliveryShape(s: DeliveryShape): DeliveryShape {
  if (typeof s.name !== "string" || !/^[A-Za-z0-9_]+$/.test(s.name)) {
    throw new ShapeError(`delivery shape name ${JSON.stringify(s.name)} must match [A-Za-z0-9_]+`);
  }
  validateDeliveryDims(s);
  return { name: s.name, DIN: s.DIN, R: s.R, DOUT: s.DOUT };
}

/** Reads circuits/delivery-shapes.json. */
export async function loadDeliveryShapes(file: string = DELIVERY_SHAPES_FILE): Promise<DeliveryShape[]> {
  const raw = JSON.parse(await readFile(file, "utf8")) as unknown;
  if (!Array.isArray(raw)) throw new ShapeError(`${file} must hold a JSON array of delivery shapes`);
  const shapes = raw.map((s) => validateDeliveryShape(s as DeliveryShape));
  const seen = new Set<string>();
  for (const s of shapes) {
    const dims = `${s.DIN}x${s.R}x${s.DOUT}`;
    if (seen.has(s.name) || seen.has(dims))
      throw new ShapeError(`${file}: ${s.name} (${dims}) appears twice`);
    seen.add(s.name);
    seen.add(dims);
  }
  return shapes;
}

/** The delivery shape of a module's weights (DIN, R, DOUT); throws ShapeError naming the file to edit. */
export async function findDeliveryShape(
  dims: Pick<DeliveryShape, "DIN" | "R" | "DOUT">,
): Promise<DeliveryShape> {
  const shapes = await loadDeliveryShapes();
  const found = shapes.find((s) => s.DIN === dims.DIN && s.R === dims.R && s.DOUT === dims.DOUT);
  if (found === undefined) {
    throw new ShapeError(
      `no delivery shape DIN=${dims.DIN}, R=${dims.R}, DOUT=${dims.DOUT} in circuits/delivery-shapes.json ` +
        `(have: ${shapes.map((s) => s.name).join(", ")}); add it there and run the delivery pipeline`,
    );
  }
  return found;
}

/** The Solidity contract name of a delivery verifier. */
export function deliveryVerifierName(s: DeliveryShape): string {
  return `${DELIVERY_VERIFIER_PREFIX}${s.name}`;
}

/** The generated main source of a delivery shape. */
export function deliveryMainSource(shape: DeliveryShape): string {
  const s = validateDeliveryShape(shape);
  return (
    `// Generated from circuits/delivery-shapes.json by src/zk (delivery pipeline). Do not edit.\n` +
    `pragma circom 2.1.0;\n\ninclude "../lora_delivery.circom";\n\n` +
    `component main {public [C_m, hK, hC]} = LoraDelivery(${s.DIN}, ${s.R}, ${s.DOUT});\n`
  );
}

/** The main file of a delivery shape. */
export function deliveryMainFile(shape: DeliveryShape): string {
  return path.join(DELIVERY_DIR, "main", `${shape.name}.circom`);
}

// ------------------------------------------------------------------ generic build

/** A circuit to build: any main source, any verifier contract name. */
export interface CircuitTarget {
  /** File-name stem of the compiled outputs (circom names them after the main file). */
  name: string;
  /** Where the main file is written. */
  mainFile: string;
  mainSource: string;
  /** Template files the main file depends on (their content is part of the cache key). */
  sources: string[];
  /** Solidity contract name of the verifier (replaces snarkjs's `Groth16Verifier`). */
  verifierContract: string;
  /** Header lines put under the SPDX line of the verifier (without `//`). */
  header: string[];
  /** Number of public signals the verifier takes. */
  publicSignals: number;
  /** The committed manifest and its entry name that record this target's development key (skips a repeated `zkey verify`). */
  manifest?: { file: string; name: string };
  /** The command the verifier header says regenerates it (default `npm run circuits:delivery`). */
  regenerateWith?: string;
  /**
   * DEVELOPMENT targets that are never committed (benchmarks) only: skip `zkey verify` (minutes at
   * 2^16) and say why in the progress log. The setup's cache entry is keyed apart, so a normal
   * build never reuses an unverified key. Refused in a production ceremony.
   */
  skipZkeyVerify?: string;
}

/** What `buildCircuitTarget` returns (the same fields as CircuitArtifacts, minus the module shape). */
export interface TargetArtifacts {
  name: string;
  wasm: string;
  r1cs: string;
  zkey: string;
  vkey: object;
  vkeyPath: string;
  constraints: number;
  verifierSol: string;
  verifierContract: string;
  ptau: { file: string; sha256: string; power: number; source: PtauChoice["source"] };
  ptauPath: string;
  ceremony: CeremonyRecord;
  sha256: { r1cs: string; wasm: string; zkey: string; vkey: string; verifier: string };
}

/**
 * Compiles a target (circom2 --O2, cached by the content of its sources) and runs the ceremony of
 * build.ts (development: deterministic; production: random contributions + a beacon).
 */
export async function buildCircuitTarget(
  target: CircuitTarget,
  opts: BuildOptions = {},
): Promise<TargetArtifacts> {
  const onProgress: ProgressFn | undefined = opts.onProgress;
  const plan = ceremonyPlan(opts);
  if (opts.ptau !== undefined) await checkPublicPtau(opts.ptau);
  const old = existsSync(target.mainFile) ? await readFile(target.mainFile, "utf8") : undefined;
  if (old !== target.mainSource) {
    await mkdir(path.dirname(target.mainFile), { recursive: true });
    await writeFile(target.mainFile, target.mainSource);
  }
  const parts: KeyPart[] = [`target:${target.name}`];
  for (const f of [...target.sources].sort()) parts.push(path.relative(CIRCUITS_DIR, f), { file: f });
  parts.push({ file: target.mainFile });
  const { r1cs, wasm } = await compileMain(target.name, target.mainFile, parts, onProgress);
  const info = await readR1csInfo(r1cs);
  const power = requiredPower(info.nConstraints, info.nPubIn, info.nPubOut);
  onProgress?.(`${target.name}: ${info.nConstraints} constraints, needs ptau 2^${power}`);
  const ptau = await selectPtau(power, { ptau: opts.ptau, onProgress });
  if (target.skipZkeyVerify !== undefined && plan.production) {
    throw new CeremonyError(
      `${target.name}: skipping zkey verify is for development ceremonies only; drop skipZkeyVerify`,
    );
  }
  const setup = await runSetup({
    label: target.name,
    r1cs,
    ptau,
    plan,
    keyParts: [
      `target:${target.name}`,
      target.verifierContract,
      target.header.join("\n"),
      ...(target.skipZkeyVerify !== undefined ? ["zkey-verify-skipped"] : []),
      ...(target.regenerateWith !== undefined ? [`regenerate:${target.regenerateWith}`] : []),
    ],
    skipVerify: target.skipZkeyVerify,
    publicSignals: target.publicSignals,
    alreadyVerified:
      target.manifest === undefined
        ? undefined
        : verifiedInManifest(target.manifest.file, target.manifest.name, plan, r1cs, ptau.sha256),
    renameVerifier: (sol, record) => renameTargetVerifier(sol, target, record),
    onProgress,
  });

  const vkeyPath = path.join(setup.dir, "vkey.json");
  const vkeyText = await readFile(vkeyPath, "utf8");
  const ceremony = JSON.parse(
    await readFile(path.join(setup.dir, "ceremony.json"), "utf8"),
  ) as CeremonyRecord;
  const verifierSol = path.join(setup.dir, "verifier.sol");
  const zkey = path.join(setup.dir, "final.zkey");
  return {
    name: target.name,
    wasm,
    r1cs,
    zkey,
    vkey: JSON.parse(vkeyText) as object,
    vkeyPath,
    constraints: info.nConstraints,
    verifierSol,
    verifierContract: target.verifierContract,
    ptau: { file: ptau.file, sha256: ptau.sha256, power: ptau.power, source: ptau.source },
    ptauPath: ptau.path,
    ceremony,
    sha256: {
      r1cs: await sha256File(r1cs),
      wasm: await sha256File(wasm),
      zkey: await sha256File(zkey),
      vkey: sha256(vkeyText),
      verifier: await sha256File(verifierSol),
    },
  };
}

function renameTargetVerifier(sol: string, target: CircuitTarget, record: CeremonyRecord): string {
  if (!/contract Groth16Verifier \{/.test(sol)) {
    throw new CeremonyError("unexpected snarkjs verifier template: no `contract Groth16Verifier {`");
  }
  const header = [
    ...target.header,
    `Ceremony: ${record.mode}.` +
      (record.mode === "development"
        ? " DEVELOPMENT ONLY: its setup secrets are derivable from public strings; never deploy it for value."
        : ""),
    `Do not edit: regenerate with \`${target.regenerateWith ?? "npm run circuits:delivery"}\`.`,
  ].map((l) => `// ${l}`);
  const lines = sol.split("\n");
  const spdx = lines.findIndex((l) => l.startsWith("// SPDX-License-Identifier"));
  lines.splice(spdx + 1, 0, ...header);
  return lines.join("\n").replace(/contract Groth16Verifier \{/, `contract ${target.verifierContract} {`);
}

// ------------------------------------------------------------------ delivery circuits

/** Artifacts of one delivery circuit. */
export interface DeliveryArtifacts extends TargetArtifacts {
  shape: DeliveryShape;
  deliveryShapeId: string;
}

async function circomFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith(".circom")).map((f) => path.join(dir, f));
}

/** The build target of a delivery shape. */
export async function deliveryTarget(shape: DeliveryShape): Promise<CircuitTarget> {
  const s = validateDeliveryShape(shape);
  return {
    name: `delivery_${s.name}`,
    mainFile: deliveryMainFile(s),
    mainSource: deliveryMainSource(s),
    sources: [...(await circomFiles(CIRCUITS_DIR)), ...(await circomFiles(DELIVERY_DIR))],
    verifierContract: deliveryVerifierName(s),
    header: [
      `Generated by the zklora delivery pipeline (snarkjs ${TOOL_VERSIONS.snarkjs}) for the weight shape ${s.name} ` +
        `(DIN=${s.DIN}, R=${s.R}, DOUT=${s.DOUT}), deliveryShapeId ${deliveryShapeId(s)}.`,
      "Public signals: [C_m, hK, hC].",
    ],
    publicSignals: 3,
    manifest: { file: DELIVERY_MANIFEST_FILE, name: s.name },
  };
}

/** Builds a delivery shape's circuit, key and verifier (cached by content). */
export async function buildDeliveryCircuit(
  shape: DeliveryShape,
  opts: BuildOptions = {},
): Promise<DeliveryArtifacts> {
  const s = validateDeliveryShape(shape);
  const art = await buildCircuitTarget(await deliveryTarget(s), opts);
  return { ...art, shape: s, deliveryShapeId: deliveryShapeId(s) };
}

/** The verifier path of a delivery shape, relative to the project root. */
export function deliveryVerifierRelPath(s: DeliveryShape): string {
  return path.posix.join("contracts", "verifiers", `${deliveryVerifierName(s)}.sol`);
}

/** One entry of circuits/delivery-manifest.json. */
export interface DeliveryManifestEntry {
  name: string;
  DIN: number;
  R: number;
  DOUT: number;
  deliveryShapeId: string;
  constraints: number;
  verifier: { contract: string; path: string; sha256: string };
  sha256: { r1cs: string; wasm: string; zkey: string; vkey: string };
  ptau: { file: string; sha256: string; power: number; source: string };
  ceremony: CeremonyRecord;
}

/** circuits/delivery-manifest.json. */
export interface DeliveryManifest {
  version: 1;
  tools: typeof TOOL_VERSIONS;
  publicSignals: ["C_m", "hK", "hC"];
  shapes: DeliveryManifestEntry[];
}

/** Options of the delivery pipeline. */
export interface DeliveryPipelineOptions extends Omit<BuildOptions, "onProgress"> {
  /** Delivery shape names (default: all of circuits/delivery-shapes.json). */
  shapes?: string[];
  /** Regenerate and compare instead of writing. */
  check?: boolean;
  onProgress?: ProgressFn;
}

/**
 * Builds the delivery circuits and writes their verifiers into contracts/verifiers/ and the
 * manifest; with `check`, throws a ZkError listing the files that differ from a regeneration.
 */
export async function runDeliveryPipeline(opts: DeliveryPipelineOptions = {}): Promise<DeliveryArtifacts[]> {
  const all = await loadDeliveryShapes();
  const shapes = selectShapes(all, opts.shapes, "circuits/delivery-shapes.json");
  refuseCheckWithProduction(opts);
  const drift: string[] = [];
  const arts: DeliveryArtifacts[] = [];
  for (const s of shapes) {
    const art = await buildDeliveryCircuit(s, opts);
    arts.push(art);
    const rel = deliveryVerifierRelPath(s);
    const file = path.join(PROJECT_ROOT, rel);
    const sol = await readFile(art.verifierSol, "utf8");
    if (opts.check) {
      if (!existsSync(file) || (await readFile(file, "utf8")) !== sol) drift.push(rel);
    } else {
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, sol);
      opts.onProgress?.(`wrote ${rel} (${art.constraints} constraints, ${art.ceremony.mode} ceremony)`);
    }
  }
  const old = existsSync(DELIVERY_MANIFEST_FILE)
    ? (JSON.parse(await readFile(DELIVERY_MANIFEST_FILE, "utf8")) as DeliveryManifest)
    : undefined;
  const entries = new Map<string, DeliveryManifestEntry>();
  for (const e of old?.shapes ?? []) if (all.some((s) => s.name === e.name)) entries.set(e.name, e);
  for (const a of arts) {
    entries.set(a.shape.name, {
      name: a.shape.name,
      DIN: a.shape.DIN,
      R: a.shape.R,
      DOUT: a.shape.DOUT,
      deliveryShapeId: a.deliveryShapeId,
      constraints: a.constraints,
      verifier: {
        contract: a.verifierContract,
        path: deliveryVerifierRelPath(a.shape),
        sha256: a.sha256.verifier,
      },
      sha256: { r1cs: a.sha256.r1cs, wasm: a.sha256.wasm, zkey: a.sha256.zkey, vkey: a.sha256.vkey },
      ptau: a.ptau,
      ceremony: a.ceremony,
    });
  }
  const manifest: DeliveryManifest = {
    version: 1,
    tools: TOOL_VERSIONS,
    publicSignals: ["C_m", "hK", "hC"],
    shapes: all.filter((s) => entries.has(s.name)).map((s) => entries.get(s.name) as DeliveryManifestEntry),
  };
  const prettier = await import("prettier");
  const config = (await prettier.resolveConfig(DELIVERY_MANIFEST_FILE)) ?? {};
  const text = await prettier.format(JSON.stringify(manifest, null, 2) + "\n", {
    ...config,
    plugins: [],
    filepath: DELIVERY_MANIFEST_FILE,
  });
  const rel = path.relative(PROJECT_ROOT, DELIVERY_MANIFEST_FILE);
  if (opts.check) {
    const oldText = existsSync(DELIVERY_MANIFEST_FILE) ? await readFile(DELIVERY_MANIFEST_FILE, "utf8") : "";
    if (oldText !== text) drift.push(rel);
    if (drift.length > 0) {
      throw new ZkError(
        "DRIFT",
        `generated delivery files drift from a fresh regeneration: ${drift.join(", ")}. Run \`npm run circuits:delivery\` and commit the result.`,
      );
    }
  } else {
    await writeFile(DELIVERY_MANIFEST_FILE, text);
    opts.onProgress?.(`wrote ${rel}`);
  }
  return arts;
}
