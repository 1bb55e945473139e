/**
 * Circuit build and trusted-setup pipeline for one shape: compile (circom2, --O2), ptau,
 * groth16 setup, phase-2 contributions, a beacon, `zkey verify` against r1cs + ptau, export of the
 * verification key and of a Solidity verifier renamed `Groth16Verifier_<shape name>`.
 * Every expensive output lives in the content-hash cache (src/common/cache.ts).
 *
 * Ceremony modes:
 * - "development" (default): reproducible. snarkjs's `groth16 setup` is deterministic given
 *   r1cs + ptau; the phase-2 contributions are made with snarkjs's beacon procedure from PUBLIC
 *   strings (DEV_CONTRIBUTIONS), then the public DEV_BEACON closes the ceremony. Anyone can
 *   recompute the toxic waste: development verifiers must never guard anything of value. This is
 *   what makes the committed verifiers in contracts/verifiers/ regenerate byte-identically.
 * - "production": each contribution uses snarkjs's `zkey contribute` (its entropy string mixed
 *   with 64 fresh random bytes from the OS), and a beacon whose hash the caller supplies (e.g. a
 *   future block hash announced in advance). Every run gives a different zkey and verifier.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import * as snarkjs from "snarkjs";
import { PROJECT_ROOT, cacheDir, cached, sha256, sha256File, type KeyPart } from "../common/cache.js";
import { CeremonyError, CompileError, ZkError } from "./errors.js";
import { checkPublicPtau, requiredPower, selectPtau, type PtauChoice } from "./ptau.js";
import { progressLogger, timed, type ProgressFn } from "./progress.js";
import { readR1csInfo } from "./r1cs.js";
import { CIRCUITS_DIR, mainSource, shapeId, validateShape, type Shape } from "./shape.js";

/** The installed folder of an npm package (package exports hide package.json from require). */
function packageDir(name: string): string {
  return path.join(PROJECT_ROOT, "node_modules", name);
}
function packageVersion(name: string): string {
  return (
    JSON.parse(readFileSync(path.join(packageDir(name), "package.json"), "utf8")) as { version: string }
  ).version;
}

/** Tool versions that determine the artifacts (part of every cache key). */
export const TOOL_VERSIONS = {
  circom2: packageVersion("circom2"),
  circomlib: packageVersion("circomlib"),
  snarkjs: packageVersion("snarkjs"),
};

/** One phase-2 contribution. */
export interface Contribution {
  name: string;
  entropy: string;
}

/**
 * The development ceremony's contributions: PUBLIC entropy strings, applied deterministically.
 * DEVELOPMENT ONLY: their secrets are derivable by anyone.
 */
export const DEV_CONTRIBUTIONS: readonly Contribution[] = [
  {
    name: "zklora-escrow dev contributor",
    entropy: "zklora-escrow development contribution 1 (public, insecure)",
  },
  { name: "zklora-escrow dev buyer", entropy: "zklora-escrow development contribution 2 (public, insecure)" },
];
/** The development ceremony's closing beacon: sha256 of a public string. */
export const DEV_BEACON = sha256("zklora-escrow development beacon v1 (public, insecure)");
/** Beacon iterations exponent (2^10 hash iterations; snarkjs's minimum). */
export const BEACON_ITERATIONS_EXP = 10;

/** How a zkey was made. */
export interface CeremonyRecord {
  mode: "development" | "production";
  contributions: { name: string; kind: "public-entropy" | "random"; hash: string }[];
  beacon: { hash: string; iterationsExp: number };
}

/** Everything a shape's circuit needs for proving and verifying. */
export interface CircuitArtifacts {
  shape: Shape;
  shapeId: string;
  /** Absolute path of the witness-generator wasm (in the cache). */
  wasm: string;
  /** Absolute path of the r1cs (in the cache). */
  r1cs: string;
  /** Absolute path of the final zkey (in the cache). */
  zkey: string;
  /** The verification key (snarkjs JSON). */
  vkey: object;
  vkeyPath: string;
  constraints: number;
  /** Absolute path of the generated Solidity verifier (in the cache; the pipeline copies it to contracts/verifiers/). */
  verifierSol: string;
  /** The Solidity contract name, `Groth16Verifier_<shape name>`. */
  verifierContract: string;
  ptau: { file: string; sha256: string; power: number; source: PtauChoice["source"] };
  /** Absolute path of the ptau used (for `zkey verify`; not recorded in the manifest). */
  ptauPath: string;
  ceremony: CeremonyRecord;
  /** The setup's cache entry (`<namespace>/<key>`, relative to the cache dir). */
  setupCacheEntry: string;
  sha256: { r1cs: string; wasm: string; zkey: string; vkey: string; verifier: string };
}

/** Options of buildCircuit. */
export interface BuildOptions {
  /** A public ceremony ptau (production; see ptau.ts). */
  ptau?: string;
  /** Production contributions (random entropy is mixed in). Selects production mode. */
  contributions?: Contribution[];
  /** Production beacon hash (hex). Required in production mode. */
  beacon?: string;
  onProgress?: ProgressFn;
}

/** The main file of a shape. */
export function mainFile(shape: Shape): string {
  return path.join(CIRCUITS_DIR, "main", `${shape.name}.circom`);
}

/** The Solidity contract name of a shape's verifier. */
export function verifierContractName(shape: Shape): string {
  return `Groth16Verifier_${shape.name}`;
}

/** Writes circuits/main/<name>.circom when its content differs; returns its path. */
export async function writeMainFile(shape: Shape): Promise<string> {
  const file = mainFile(shape);
  const src = mainSource(shape);
  const old = existsSync(file) ? await readFile(file, "utf8") : undefined;
  if (old !== src) {
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, src);
  }
  return file;
}

/** The circuit sources every main file depends on (circuits/*.circom), sorted. */
async function templateFiles(): Promise<string[]> {
  const names = (await readdir(CIRCUITS_DIR)).filter((f) => f.endsWith(".circom")).sort();
  return names.map((n) => path.join(CIRCUITS_DIR, n));
}

/** Runs a child process and collects its stdout + stderr. */
export function runProcess(
  cmd: string,
  args: string[],
  cwd: string,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, output }));
  });
}

/** A compiled circuit in the cache. */
export interface CompiledCircuit {
  r1cs: string;
  wasm: string;
  dir: string;
  hit: boolean;
}

/**
 * Compiles a main file with circom2 (`--O2 --r1cs --wasm`) into the "zk-compile" cache. The key is
 * the tool versions and flags followed by `keyParts` (the caller names the circuit and lists every
 * source file it depends on). Outputs are named after the main file's stem.
 */
export async function compileMain(
  label: string,
  main: string,
  keyParts: KeyPart[],
  onProgress?: ProgressFn,
  includeDirs: readonly string[] = [],
): Promise<CompiledCircuit> {
  const stem = path.basename(main, ".circom");
  const parts: KeyPart[] = [
    `circom2@${TOOL_VERSIONS.circom2}`,
    `circomlib@${TOOL_VERSIONS.circomlib}`,
    "--O2 --r1cs --wasm",
    ...keyParts,
    ...includeDirs.map((d) => `-l ${path.relative(PROJECT_ROOT, d)}`),
  ];
  const res = await cached("zk-compile", parts, async (out) => {
    const cli = path.join(packageDir("circom2"), "cli.js");
    const { code, output } = await timed(onProgress, `compile ${label}`, () =>
      runProcess(
        process.execPath,
        [
          cli,
          main,
          "--O2",
          "--r1cs",
          "--wasm",
          ...includeDirs.flatMap((d) => ["-l", d]),
          "-l",
          path.join(PROJECT_ROOT, "node_modules"),
          "-o",
          out,
        ],
        PROJECT_ROOT,
      ),
    );
    if (code !== 0 || !existsSync(path.join(out, `${stem}.r1cs`))) {
      throw new CompileError(`circom2 failed on ${main} (exit ${code}):\n${output.slice(-4000)}`);
    }
  });
  return {
    dir: res.dir,
    hit: res.hit,
    r1cs: path.join(res.dir, `${stem}.r1cs`),
    wasm: path.join(res.dir, `${stem}_js`, `${stem}.wasm`),
  };
}

/** Compiles a shape's circuit (cached); returns the r1cs and wasm paths. */
export async function compileCircuit(shape: Shape, onProgress?: ProgressFn): Promise<CompiledCircuit> {
  const main = await writeMainFile(shape);
  const parts: KeyPart[] = [shape.name];
  for (const f of await templateFiles()) parts.push(path.basename(f), { file: f });
  parts.push({ file: main });
  return compileMain(shape.name, main, parts, onProgress);
}

function hexOf(bytes: Uint8Array | unknown): string {
  return bytes instanceof Uint8Array ? Buffer.from(bytes).toString("hex") : "";
}

/** Lower-case hex without 0x; throws CeremonyError on anything else. */
export function normalizeHex(h: string, what: string): string {
  const s = h.toLowerCase().replace(/^0x/, "");
  if (!/^[0-9a-f]+$/.test(s) || s.length % 2 !== 0 || s.length === 0 || s.length > 510) {
    throw new CeremonyError(`${what} must be a non-empty even-length hex string, got ${JSON.stringify(h)}`);
  }
  return s;
}

/**
 * The sha256s that a committed manifest (circuits/manifest.json or delivery-manifest.json) records
 * for an entry's development key, or undefined when the manifest or the entry is absent or not a
 * development ceremony.
 */
async function committedDevKey(
  manifestFile: string,
  name: string,
): Promise<{ zkey: string; r1cs: string; ptau: string } | undefined> {
  let manifest: unknown;
  try {
    manifest = JSON.parse(await readFile(manifestFile, "utf8"));
  } catch {
    return undefined;
  }
  type Entry = {
    name?: string;
    sha256?: { zkey?: string; r1cs?: string };
    ptau?: { sha256?: string };
    ceremony?: { mode?: string };
  };
  const shapes = (manifest as { shapes?: Entry[] }).shapes ?? [];
  const e = shapes.find((x) => x.name === name);
  if (e?.ceremony?.mode !== "development") return undefined;
  const zkey = e.sha256?.zkey;
  const r1cs = e.sha256?.r1cs;
  const ptau = e.ptau?.sha256;
  if (zkey === undefined || r1cs === undefined || ptau === undefined) return undefined;
  return { zkey, r1cs, ptau };
}

/**
 * `zkey verify` costs minutes at 2^16. A development key that is byte-identical to the one a
 * committed manifest records for the same r1cs and ptau was verified when that entry was written,
 * so identical bytes need no second check; anything else (and every production key) is verified.
 * Returns the `alreadyVerified` check of `runSetup`.
 */
export function verifiedInManifest(
  manifestFile: string,
  name: string,
  plan: CeremonyPlan,
  r1cs: string,
  ptauSha256: string,
): (finalSha256: string) => Promise<boolean> {
  return async (finalSha256) => {
    const committed = plan.production ? undefined : await committedDevKey(manifestFile, name);
    return (
      committed !== undefined &&
      committed.zkey === finalSha256 &&
      committed.r1cs === (await sha256File(r1cs)) &&
      committed.ptau === ptauSha256
    );
  };
}

/** The ceremony a BuildOptions selects (development unless contributions or a beacon are given). */
export interface CeremonyPlan {
  production: boolean;
  beaconHash: string;
  contributions: readonly Contribution[];
  /** Part of the setup's cache key. */
  descriptor: string;
}

/** Validates the ceremony options; throws CeremonyError saying what is missing. */
export function ceremonyPlan(opts: BuildOptions): CeremonyPlan {
  const production = opts.contributions !== undefined || opts.beacon !== undefined;
  if (production && opts.beacon === undefined) {
    throw new CeremonyError(
      "a production ceremony needs --beacon HEX (e.g. a future block hash announced in advance)",
    );
  }
  if (production && (opts.contributions ?? []).length === 0) {
    throw new CeremonyError("a production ceremony needs at least one --contribute NAME");
  }
  if (production && opts.ptau === undefined) {
    throw new CeremonyError(
      "a production ceremony needs --ptau FILE, a public ceremony file (powersOfTau28_hez_final_NN.ptau): " +
        "the development ptau is forgeable by anyone",
    );
  }
  const beaconHash = normalizeHex(opts.beacon ?? DEV_BEACON, "beacon");
  const contributions = production ? (opts.contributions ?? []) : DEV_CONTRIBUTIONS;
  const descriptor = JSON.stringify({
    mode: production ? "production" : "development",
    contributions: production ? contributions.map((c) => c.name) : contributions,
    beacon: beaconHash,
    iterationsExp: BEACON_ITERATIONS_EXP,
  });
  return { production, beaconHash, contributions, descriptor };
}

/** One Groth16 setup + phase-2 ceremony (see the module comment), for any compiled circuit. */
export interface SetupSpec {
  /** Name used in progress lines and errors. */
  label: string;
  r1cs: string;
  ptau: PtauChoice;
  plan: CeremonyPlan;
  /** Appended to the key `[snarkjs version, r1cs content, ptau sha256, ceremony descriptor]`. */
  keyParts: KeyPart[];
  /** The number of public signals the circuit must have. */
  publicSignals: number;
  /** True when a final zkey with this sha256 is known to verify (skips `zkey verify`). */
  alreadyVerified?: (finalSha256: string) => Promise<boolean>;
  /** Development keys that are never committed (benchmarks): skip `zkey verify`, for this reason. */
  skipVerify?: string;
  /** Turns snarkjs's `Groth16Verifier` source into the project's named, annotated verifier. */
  renameVerifier: (sol: string, record: CeremonyRecord) => string;
  onProgress?: ProgressFn;
}

/**
 * Runs (or finds in the cache) a ceremony: groth16 setup, the plan's contributions, the closing
 * beacon, `zkey verify`, then writes `final.zkey`, `vkey.json`, `verifier.sol`, `ceremony.json` and
 * `ptau.json` into the cache entry, whose folder it returns. A production ceremony is random, so
 * it is never reused.
 */
export async function runSetup(spec: SetupSpec): Promise<{ dir: string; hit: boolean }> {
  const { label, r1cs, ptau, plan, onProgress } = spec;
  const keyParts: KeyPart[] = [
    `snarkjs@${TOOL_VERSIONS.snarkjs}`,
    { file: r1cs },
    ptau.sha256,
    plan.descriptor,
    ...spec.keyParts,
  ];
  if (plan.production)
    keyParts.push(`nonce:${sha256(globalThis.crypto.getRandomValues(new Uint8Array(32)))}`);
  return cached(plan.production ? "zk-setup-production" : "zk-setup", keyParts, async (out) => {
    const record: CeremonyRecord = {
      mode: plan.production ? "production" : "development",
      contributions: [],
      beacon: { hash: plan.beaconHash, iterationsExp: BEACON_ITERATIONS_EXP },
    };
    let cur = path.join(out, "step_0000.zkey");
    const log = (step: string) => progressLogger(onProgress, `${label} ${step}`);
    await timed(onProgress, `${label}: groth16 setup`, () =>
      snarkjs.zKey.newZKey(r1cs, ptau.path, cur, log("setup")),
    );
    for (let i = 0; i < plan.contributions.length; i++) {
      const c = plan.contributions[i];
      const next = path.join(out, `step_${String(i + 1).padStart(4, "0")}.zkey`);
      let hash: Uint8Array | false;
      if (plan.production) {
        if (c.entropy.length === 0) throw new CeremonyError(`contribution ${c.name}: empty entropy`);
        hash = await timed(onProgress, `${label}: contribution ${i + 1} (${c.name})`, () =>
          snarkjs.zKey.contribute(cur, next, c.name, c.entropy, log("contribute")),
        );
      } else {
        hash = await timed(onProgress, `${label}: development contribution ${i + 1} (${c.name})`, () =>
          snarkjs.zKey.beacon(cur, next, c.name, sha256(c.entropy), BEACON_ITERATIONS_EXP, log("contribute")),
        );
      }
      if (hash === false) throw new CeremonyError(`contribution ${c.name} failed`);
      record.contributions.push({
        name: c.name,
        kind: plan.production ? "random" : "public-entropy",
        hash: hexOf(hash),
      });
      await rm(cur);
      cur = next;
    }
    const final = path.join(out, "final.zkey");
    const b = await timed(onProgress, `${label}: beacon`, () =>
      snarkjs.zKey.beacon(
        cur,
        final,
        "zklora-escrow final beacon",
        plan.beaconHash,
        BEACON_ITERATIONS_EXP,
        log("beacon"),
      ),
    );
    if (b === false) throw new CeremonyError("the beacon failed (see the log)");
    await rm(cur);
    if (spec.skipVerify !== undefined && !plan.production) {
      onProgress?.(`${label}: zkey verify SKIPPED (${spec.skipVerify})`);
    } else if (await spec.alreadyVerified?.(await sha256File(final))) {
      onProgress?.(`${label}: zkey identical to the committed manifest's (verified when recorded)`);
    } else {
      const ok = await timed(onProgress, `${label}: zkey verify`, () =>
        snarkjs.zKey.verifyFromR1cs(r1cs, ptau.path, final, log("verify")),
      );
      if (!ok) throw new CeremonyError(`${label}: the zkey does not verify against the r1cs and ptau`);
    }
    const vkey = await snarkjs.zKey.exportVerificationKey(final);
    if (vkey.nPublic !== spec.publicSignals) {
      throw new CeremonyError(
        `${label}: ${String(vkey.nPublic)} public signals, expected ${spec.publicSignals}`,
      );
    }
    await writeFile(path.join(out, "vkey.json"), JSON.stringify(vkey, null, 1) + "\n");
    const template = await readFile(
      path.join(packageDir("snarkjs"), "templates", "verifier_groth16.sol.ejs"),
      "utf8",
    );
    const sol = await snarkjs.zKey.exportSolidityVerifier(final, { groth16: template });
    await writeFile(path.join(out, "verifier.sol"), spec.renameVerifier(sol, record));
    await writeFile(path.join(out, "ceremony.json"), JSON.stringify(record, null, 1) + "\n");
    await writeFile(path.join(out, "ptau.json"), JSON.stringify(ptau, null, 1) + "\n");
  });
}

/**
 * Builds a shape's circuit, key and verifier (all cached by content). Development mode (no
 * contributions, no beacon) is deterministic; see the module comment.
 */
export async function buildCircuit(shapeIn: Shape, opts: BuildOptions = {}): Promise<CircuitArtifacts> {
  const shape = validateShape(shapeIn);
  const onProgress = opts.onProgress;
  const plan = ceremonyPlan(opts);
  if (opts.ptau !== undefined) await checkPublicPtau(opts.ptau);
  const compiled = await compileCircuit(shape, onProgress);
  const info = await readR1csInfo(compiled.r1cs);
  const power = requiredPower(info.nConstraints, info.nPubIn, info.nPubOut);
  onProgress?.(`${shape.name}: ${info.nConstraints} constraints, needs ptau 2^${power}`);
  const ptau = await selectPtau(power, { ptau: opts.ptau, onProgress });
  const setup = await runSetup({
    label: shape.name,
    r1cs: compiled.r1cs,
    ptau,
    plan,
    keyParts: [shape.name],
    publicSignals: 4,
    alreadyVerified: verifiedInManifest(
      path.join(CIRCUITS_DIR, "manifest.json"),
      shape.name,
      plan,
      compiled.r1cs,
      ptau.sha256,
    ),
    renameVerifier: (sol, record) => renameVerifier(sol, shape, record),
    onProgress,
  });
  return assembleArtifacts(shape, compiled, info.nConstraints, ptau, setup.dir);
}

async function assembleArtifacts(
  shape: Shape,
  compiled: { r1cs: string; wasm: string },
  constraints: number,
  ptau: PtauChoice,
  setupDir: string,
): Promise<CircuitArtifacts> {
  const vkeyPath = path.join(setupDir, "vkey.json");
  const vkeyText = await readFile(vkeyPath, "utf8");
  const ceremony = JSON.parse(await readFile(path.join(setupDir, "ceremony.json"), "utf8")) as CeremonyRecord;
  const verifierSol = path.join(setupDir, "verifier.sol");
  const zkey = path.join(setupDir, "final.zkey");
  return {
    shape,
    shapeId: shapeId(shape),
    wasm: compiled.wasm,
    r1cs: compiled.r1cs,
    zkey,
    vkey: JSON.parse(vkeyText) as object,
    vkeyPath,
    constraints,
    verifierSol,
    verifierContract: verifierContractName(shape),
    ptau: { file: ptau.file, sha256: ptau.sha256, power: ptau.power, source: ptau.source },
    ptauPath: ptau.path,
    ceremony,
    setupCacheEntry: path.relative(cacheDir(), setupDir).split(path.sep).join("/"),
    sha256: {
      r1cs: await sha256File(compiled.r1cs),
      wasm: await sha256File(compiled.wasm),
      zkey: await sha256File(zkey),
      vkey: sha256(vkeyText),
      verifier: await sha256File(verifierSol),
    },
  };
}

/**
 * Loads the artifacts of a shape whose setup was made by a PRODUCTION ceremony (random, so not
 * reproducible from the inputs): `setupCacheEntry` is the manifest's record of where that run left
 * its zkey in the cache. The zkey must still be there and match `zkeySha256`.
 */
export async function loadProductionArtifacts(
  shapeIn: Shape,
  setupCacheEntry: string,
  zkeySha256: string,
): Promise<CircuitArtifacts> {
  const shape = validateShape(shapeIn);
  const dir = path.join(cacheDir(), ...setupCacheEntry.split("/"));
  if (!existsSync(path.join(dir, "final.zkey")) || !existsSync(path.join(dir, "ptau.json"))) {
    throw new CeremonyError(
      `the production zkey of ${shape.name} is not in ${dir}: restore that cache folder (it cannot be regenerated) ` +
        "or run a new ceremony with --contribute/--beacon",
    );
  }
  const compiled = await compileCircuit(shape);
  const info = await readR1csInfo(compiled.r1cs);
  const ptau = JSON.parse(await readFile(path.join(dir, "ptau.json"), "utf8")) as PtauChoice;
  const art = await assembleArtifacts(shape, compiled, info.nConstraints, ptau, dir);
  if (art.sha256.zkey !== zkeySha256) {
    throw new CeremonyError(
      `the zkey in ${dir} has sha256 ${art.sha256.zkey}, the manifest says ${zkeySha256}`,
    );
  }
  return art;
}

/** Renames snarkjs's `Groth16Verifier` and adds a header saying what the verifier is for. */
function renameVerifier(sol: string, shape: Shape, record: CeremonyRecord): string {
  const name = verifierContractName(shape);
  if (!/contract Groth16Verifier \{/.test(sol)) {
    throw new CeremonyError("unexpected snarkjs verifier template: no `contract Groth16Verifier {`");
  }
  const header =
    `// Generated by zklora:circuits (snarkjs ${TOOL_VERSIONS.snarkjs}) for shape ${shape.name} ` +
    `(T=${shape.T}, DIN=${shape.DIN}, R=${shape.R}, DOUT=${shape.DOUT}), shapeId ${shapeId(shape)}.\n` +
    `// Public signals: [C_m, hX, rho, fY]. Ceremony: ${record.mode}.` +
    (record.mode === "development"
      ? " DEVELOPMENT ONLY: its setup secrets are derivable from public strings; never deploy it for value.\n"
      : "\n") +
    "// Do not edit: regenerate with `npm run circuits`.\n";
  const lines = sol.split("\n");
  const spdx = lines.findIndex((l) => l.startsWith("// SPDX-License-Identifier"));
  lines.splice(spdx + 1, 0, header.trimEnd());
  return lines.join("\n").replace(/contract Groth16Verifier \{/, `contract ${name} {`);
}

// ------------------------------------------------------------------ pipelines

/**
 * The shapes a pipeline run builds: those of `all` named in `names` (every one when undefined), in that
 * order; a name not in `file` is a ZkError("SHAPE") listing the file's names.
 */
export function selectShapes<T extends { name: string }>(
  all: readonly T[],
  names: readonly string[] | undefined,
  file: string,
): T[] {
  return (names ?? all.map((s) => s.name)).map((n) => {
    const s = all.find((x) => x.name === n);
    if (s === undefined) {
      throw new ZkError("SHAPE", `unknown shape ${n}; ${file} has ${all.map((x) => x.name).join(", ")}`);
    }
    return s;
  });
}

/** Check mode regenerates the development ceremony: refuses it together with production options. */
export function refuseCheckWithProduction(opts: {
  check?: boolean;
  contributions?: unknown;
  beacon?: unknown;
}): void {
  if (opts.check && (opts.contributions !== undefined || opts.beacon !== undefined)) {
    throw new ZkError(
      "CHECK",
      "--check regenerates the development ceremony; do not combine it with --contribute/--beacon",
    );
  }
}
