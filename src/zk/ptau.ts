/**
 * Powers-of-tau selection: the shared development files (checked by sha256), a public ceremony
 * file given by the caller (checked against a hash the caller states), or, when neither is
 * available, a DEVELOPMENT-ONLY file generated locally into the cache.
 */
import { rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import path from "node:path";
import * as snarkjs from "snarkjs";
import { PROJECT_ROOT, cacheDir, cacheKey, cached, sha256, sha256File } from "../common/cache.js";
import { PtauError } from "./errors.js";
import { progressLogger, timed, type ProgressFn } from "./progress.js";

/** The shared development ptau folder (`../shared/ptau` beside the project). */
export const SHARED_PTAU_DIR = path.join(PROJECT_ROOT, "..", "shared", "ptau");

/**
 * The known development ptau files in ../shared/ptau (see its README): single-party, for
 * development and CI only.
 */
export const KNOWN_DEV_PTAU: readonly { file: string; power: number; sha256: string }[] = [
  {
    file: "dev_pot12_final.ptau",
    power: 12,
    sha256: "82faed7c6508411346610989519fc6854b5b5daba8e90d8731597df6622e58ea",
  },
  {
    file: "dev_pot14_final.ptau",
    power: 14,
    sha256: "ea1bb612c19e39737e9b9188aa25cd2506ac60781a4c66f1ef92579eb087d11e",
  },
  {
    file: "dev_pot16_final.ptau",
    power: 16,
    sha256: "75402944a4b38972dd0749752caa0474a5e5ae69717e127d1483201b3345155c",
  },
];

/** Where a ptau came from. */
export type PtauSource = "shared-dev" | "generated-dev" | "external";

/** A ptau chosen for a circuit. */
export interface PtauChoice {
  path: string;
  /** File name recorded in the manifest (no folders). */
  file: string;
  sha256: string;
  power: number;
  source: PtauSource;
}

/** The ptau power a circuit needs, as snarkjs's groth16 setup computes it. */
export function requiredPower(nConstraints: number, nPubIn: number, nPubOut: number): number {
  const n = nConstraints + nPubIn + nPubOut;
  let p = 0;
  while (2 ** p < n + 1) p++;
  return Math.max(p, 1);
}

/** Options of ptau selection. */
export interface PtauOptions {
  /** A public ceremony file (production). */
  ptau?: string;
  /** Its expected sha256 (hex). Required with `ptau` unless the file is a known dev file. */
  ptauSha256?: string;
  onProgress?: ProgressFn;
}

/** Picks (or generates) a ptau of at least `power`. */
export async function selectPtau(power: number, opts: PtauOptions = {}): Promise<PtauChoice> {
  if (opts.ptau !== undefined) {
    const file = path.resolve(opts.ptau);
    if (!existsSync(file)) throw new PtauError(`ptau file ${file} does not exist`);
    const digest = await sha256File(file);
    const known = KNOWN_DEV_PTAU.find((k) => k.sha256 === digest);
    const expected = opts.ptauSha256?.toLowerCase().replace(/^0x/, "");
    if (expected === undefined && known === undefined) {
      throw new PtauError(
        `${file} (sha256 ${digest}) is not a known file: pass --ptau-hash (ptauSha256) with the hash the ceremony published`,
      );
    }
    if (expected !== undefined && expected !== digest) {
      throw new PtauError(
        `${file} has sha256 ${digest}, but ${expected} was expected: wrong or corrupt file`,
      );
    }
    const filePower = known?.power ?? powerFromName(file);
    if (filePower !== undefined && filePower < power) {
      throw new PtauError(`${file} holds 2^${filePower} powers but the circuit needs 2^${power}`);
    }
    return {
      path: file,
      file: path.basename(file),
      sha256: digest,
      power: filePower ?? power,
      source: known ? "shared-dev" : "external",
    };
  }
  for (const k of KNOWN_DEV_PTAU) {
    if (k.power < power) continue;
    const file = path.join(SHARED_PTAU_DIR, k.file);
    if (!existsSync(file)) continue;
    const digest = await sha256File(file);
    if (digest !== k.sha256) {
      throw new PtauError(
        `${file} has sha256 ${digest}, expected ${k.sha256} (see ../shared/ptau/README.md)`,
      );
    }
    return { path: file, file: k.file, sha256: digest, power: k.power, source: "shared-dev" };
  }
  return generateDevPtau(power, opts.onProgress);
}

function powerFromName(file: string): number | undefined {
  const m = /_(\d{1,2})\.ptau$/.exec(path.basename(file)) ?? /pot(\d{1,2})/.exec(path.basename(file));
  return m ? Number(m[1]) : undefined;
}

/** The cache key parts of a generated development ptau of 2^power. */
function devPtauKeyParts(power: number): string[] {
  return [
    "snarkjs@0.7.6",
    "bn128",
    String(power),
    sha256(`zklora-escrow development ptau v1 power ${power}`),
  ];
}

/**
 * Whether `selectPtau(power)` (no --ptau) finds a development ptau without generating one: a shared
 * file of at least that power, or a generated file of exactly that power already in the cache.
 */
export async function devPtauAvailable(power: number): Promise<boolean> {
  if (KNOWN_DEV_PTAU.some((k) => k.power >= power && existsSync(path.join(SHARED_PTAU_DIR, k.file))))
    return true;
  const key = await cacheKey(devPtauKeyParts(power));
  return existsSync(path.join(cacheDir(), "zk-ptau-dev", key, ".complete"));
}

/**
 * DEVELOPMENT ONLY. Generates a ptau of 2^power locally and deterministically: `powersoftau new`,
 * one beacon contribution with the PUBLIC hash sha256("zklora-escrow development ptau v1 power N"),
 * `prepare phase2`. Anyone can recompute its toxic waste: never deploy a verifier made from it
 * for anything of value.
 */
export async function generateDevPtau(power: number, onProgress?: ProgressFn): Promise<PtauChoice> {
  if (power > 20) throw new PtauError(`refusing to generate a 2^${power} dev ptau locally; pass --ptau`);
  const beaconHash = sha256(`zklora-escrow development ptau v1 power ${power}`);
  const { dir } = await cached("zk-ptau-dev", devPtauKeyParts(power), async (out) => {
    const log = progressLogger(onProgress, `dev ptau 2^${power}`);
    const curve = await snarkjs.curves.getCurveFromName("bn128");
    const p0 = path.join(out, "pot_0000.ptau");
    const p1 = path.join(out, "pot_0001.ptau");
    await timed(onProgress, `dev ptau 2^${power}: new`, () =>
      snarkjs.powersOfTau.newAccumulator(curve, power, p0, log),
    );
    const ok = await timed(onProgress, `dev ptau 2^${power}: public beacon (DEVELOPMENT ONLY)`, () =>
      snarkjs.powersOfTau.beacon(
        p0,
        p1,
        "zklora-escrow development ptau (public entropy)",
        beaconHash,
        10,
        log,
      ),
    );
    if (ok === false) throw new PtauError("powersoftau beacon failed");
    await timed(onProgress, `dev ptau 2^${power}: prepare phase2`, () =>
      snarkjs.powersOfTau.preparePhase2(p1, path.join(out, "final.ptau"), log),
    );
    await rm(p0);
    await rm(p1);
  });
  const file = path.join(dir, "final.ptau");
  return {
    path: file,
    file: `zklora_devgen_pot${power}_final.ptau`,
    sha256: await sha256File(file),
    power,
    source: "generated-dev",
  };
}
