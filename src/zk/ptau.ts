/**
 * Powers-of-tau selection. Two sources, and only two:
 *
 * - **public**: a file of a public multi-party ceremony (the Perpetual Powers of Tau files of the
 *   Hermez ceremony, `powersOfTau28_hez_final_NN.ptau`), given with `--ptau FILE` and recognised by
 *   its blake2b-512 as published in snarkjs's README. Anything else is refused before any work.
 * - **dev**: the project's deterministic development ptau (devptau.ts), generated into the cache
 *   from a public string. FORGEABLE BY ANYONE: tests, the demo and benchmarks only.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { cacheDir, cacheKey, cached, hashFile, sha256File } from "../common/cache.js";
import { DEV_PTAU_MAX_POWER, devBeaconHash, writeDevPtau } from "./devptau.js";
import { PtauError } from "./errors.js";
import type { ProgressFn } from "./progress.js";

/**
 * The public ceremony files accepted for production: the Hermez / Perpetual Powers of Tau phase-1
 * files (54 contributions and a beacon), by the blake2b-512 snarkjs's README publishes for them.
 */
export const PUBLIC_PTAU: readonly PublicPtau[] = [
  [
    8,
    "d6a8fb3a04feb600096c3b791f936a578c4e664d262e4aa24beed1b7a9a96aa5eb72864d628db247e9293384b74b36ffb52ca8d148d6e1b8b51e279fdf57b583",
  ],
  [
    9,
    "94f108a80e81b5d932d8e8c9e8fd7f46cf32457e31462deeeef37af1b71c2c1b3c71fb0d9b59c654ec266b042735f50311f9fd1d4cadce47ab234ad163157cb5",
  ],
  [
    10,
    "6cfeb8cda92453099d20120bdd0e8a5c4e7706c2da9a8f09ccc157ed2464d921fd0437fb70db42104769efd7d6f3c1f964bcf448c455eab6f6c7d863e88a5849",
  ],
  [
    11,
    "47c282116b892e5ac92ca238578006e31a47e7c7e70f0baa8b687f0a5203e28ea07bbbec765a98dcd654bad618475d4661bfaec3bd9ad2ed12e7abc251d94d33",
  ],
  [
    12,
    "ded2694169b7b08e898f736d5de95af87c3f1a64594013351b1a796dbee393bd825f88f9468c84505ddd11eb0b1465ac9b43b9064aa8ec97f2b73e04758b8a4a",
  ],
  [
    13,
    "58efc8bf2834d04768a3d7ffcd8e1e23d461561729beaac4e3e7a47829a1c9066d5320241e124a1a8e8aa6c75be0ba66f65bc8239a0542ed38e11276f6fdb4d9",
  ],
  [
    14,
    "eeefbcf7c3803b523c94112023c7ff89558f9b8e0cf5d6cdcba3ade60f168af4a181c9c21774b94fbae6c90411995f7d854d02ebd93fb66043dbb06f17a831c1",
  ],
  [
    15,
    "982372c867d229c236091f767e703253249a9b432c1710b4f326306bfa2428a17b06240359606cfe4d580b10a5a1f63fbed499527069c18ae17060472969ae6e",
  ],
  [
    16,
    "6a6277a2f74e1073601b4f9fed6e1e55226917efb0f0db8a07d98ab01df1ccf43eb0e8c3159432acd4960e2f29fe84a4198501fa54c8dad9e43297453efec125",
  ],
  [
    17,
    "6247a3433948b35fbfae414fa5a9355bfb45f56efa7ab4929e669264a0258976741dfbe3288bfb49828e5df02c2e633df38d2245e30162ae7e3bcca5b8b49345",
  ],
  [
    18,
    "7e6a9c2e5f05179ddfc923f38f917c9e6831d16922a902b0b4758b8e79c2ab8a81bb5f29952e16ee6c5067ed044d7857b5de120a90704c1d3b637fd94b95b13e",
  ],
  [
    19,
    "bca9d8b04242f175189872c42ceaa21e2951e0f0f272a0cc54fc37193ff6648600eaf1c555c70cdedfaf9fb74927de7aa1d33dc1e2a7f1a50619484989da0887",
  ],
  [
    20,
    "89a66eb5590a1c94e3f1ee0e72acf49b1669e050bb5f93c73b066b564dca4e0c7556a52b323178269d64af325d8fdddb33da3a27c34409b821de82aa2bf1a27b",
  ],
  [
    21,
    "9aef0573cef4ded9c4a75f148709056bf989f80dad96876aadeb6f1c6d062391f07a394a9e756d16f7eb233198d5b69407cca44594c763ab4a5b67ae73254678",
  ],
  [
    22,
    "0d64f63dba1a6f11139df765cb690da69d9b2f469a1ddd0de5e4aa628abb28f787f04c6a5fb84a235ec5ea7f41d0548746653ecab0559add658a83502d1cb21b",
  ],
  [
    23,
    "3063a0bd81d68711197c8820a92466d51aeac93e915f5136d74f63c394ee6d88c5e8016231ea6580bec02e25d491f319d92e77f5c7f46a9caa8f3b53c0ea544f",
  ],
  [
    24,
    "fa404d140d5819d39984833ca5ec3632cd4995f81e82db402371a4de7c2eae8687c62bc632a95b0c6aadba3fb02680a94e09174b7233ccd26d78baca2647c733",
  ],
  [
    25,
    "0377d860cdb09a8a31ea1b0b8c04335614c8206357181573bf294c25d5ca7dff72387224fbd868897e6769f7805b3dab02854aec6d69d7492883b5e4e5f35eeb",
  ],
  [
    26,
    "418dee4a74b9592198bd8fd02ad1aea76f9cf3085f206dfd7d594c9e264ae919611b1459a1cc920c2f143417744ba9edd7b8d51e44be9452344a225ff7eead19",
  ],
  [
    27,
    "10ffd99837c512ef99752436a54b9810d1ac8878d368fb4b806267bdd664b4abf276c9cd3c4b9039a1fa4315a0c326c0e8e9e8fe0eb588ffd4f9021bf7eae1a1",
  ],
  [
    28,
    "55c77ce8562366c91e7cda394cf7b7c15a06c12d8c905e8b36ba9cf5e13eb37d1a429c589e8eaba4c591bc4b88a0e2828745a53e170eac300236f5c1a326f41a",
  ],
].map(([power, blake2b]) => ({
  power: power as number,
  blake2b: blake2b as string,
  file:
    power === 28
      ? "powersOfTau28_hez_final.ptau"
      : `powersOfTau28_hez_final_${String(power).padStart(2, "0")}.ptau`,
}));

/** A known public ceremony file. */
export interface PublicPtau {
  file: string;
  power: number;
  blake2b: string;
}

const extraPublic: PublicPtau[] = [];

/**
 * Adds a file to the known public files until the returned function is called. For tests only
 * (a small file made by the test stands in for a real ceremony file, which is not downloaded).
 */
export function registerPublicPtauForTest(entry: PublicPtau): () => void {
  extraPublic.push(entry);
  return () => {
    const i = extraPublic.indexOf(entry);
    if (i >= 0) extraPublic.splice(i, 1);
  };
}

/**
 * Checks that `file` is a known public ceremony file (by blake2b-512), before any other work;
 * throws a {@link PtauError} saying what to pass otherwise.
 */
export async function checkPublicPtau(file: string): Promise<PublicPtau & { path: string }> {
  const abs = path.resolve(file);
  if (!existsSync(abs)) throw new PtauError(`ptau file ${abs} does not exist`);
  const digest = await blake2bFile(abs);
  const known = [...PUBLIC_PTAU, ...extraPublic].find((k) => k.blake2b === digest);
  if (known === undefined) {
    throw new PtauError(
      `${abs} is not a known public ceremony file (blake2b-512 ${digest.slice(0, 16)}…): pass one of the ` +
        `Perpetual Powers of Tau files powersOfTau28_hez_final_NN.ptau, or omit --ptau for FORGEABLE development keys`,
    );
  }
  return { ...known, path: abs };
}

/** Where a ptau came from: a public ceremony file, or the forgeable development generator. */
export type PtauSource = "public" | "dev";

/** A ptau chosen for a circuit. */
export interface PtauChoice {
  path: string;
  /** File name (no folders), as recorded with a key. */
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
  /** A public ceremony file (production); omitted: the development ptau. */
  ptau?: string;
  onProgress?: ProgressFn;
}

/** blake2b-512 (hex) of a file, streamed (the hash snarkjs's README publishes for ptau files). */
export function blake2bFile(file: string): Promise<string> {
  return hashFile(file, "blake2b512");
}

/**
 * The ptau for a circuit of 2^power: `opts.ptau` when given (it must be a known public ceremony
 * file of at least that power, else a {@link PtauError} before any work), otherwise the
 * development ptau of exactly that power (generated once into the cache).
 */
export async function selectPtau(power: number, opts: PtauOptions = {}): Promise<PtauChoice> {
  if (opts.ptau === undefined) return generateDevPtau(power, opts.onProgress);
  const known = await checkPublicPtau(opts.ptau);
  const file = known.path;
  if (known.power < power) {
    throw new PtauError(
      `${known.file} holds 2^${known.power} powers but the circuit needs 2^${power}: pass a larger one`,
    );
  }
  return {
    path: file,
    file: known.file,
    sha256: await sha256File(file),
    power: known.power,
    source: "public",
  };
}

/** The cache key parts of the development ptau of 2^power. */
function devPtauKeyParts(power: number): string[] {
  return [
    "zklora dev ptau v2 (direct Lagrange)",
    "snarkjs@0.7.6",
    "bn128",
    String(power),
    devBeaconHash(power),
  ];
}

/** Whether the development ptau of exactly 2^power is already in the cache. */
export async function devPtauAvailable(power: number): Promise<boolean> {
  const key = await cacheKey(devPtauKeyParts(power));
  return existsSync(path.join(cacheDir(), "zk-ptau-dev", key, ".complete"));
}

/**
 * DEVELOPMENT ONLY, FORGEABLE: the deterministic development ptau of 2^power (devptau.ts),
 * generated once into the cache; byte-identical on every machine.
 */
export async function generateDevPtau(power: number, onProgress?: ProgressFn): Promise<PtauChoice> {
  if (power > DEV_PTAU_MAX_POWER) {
    throw new PtauError(
      `a development ptau is generated up to 2^${DEV_PTAU_MAX_POWER}; 2^${power} needs --ptau with a public ceremony file`,
    );
  }
  const { dir } = await cached("zk-ptau-dev", devPtauKeyParts(power), async (out) => {
    await writeDevPtau(power, path.join(out, "final.ptau"), onProgress);
  });
  const file = path.join(dir, "final.ptau");
  return {
    path: file,
    file: `zklora_dev_FORGEABLE_pot${power}.ptau`,
    sha256: await sha256File(file),
    power,
    source: "dev",
  };
}
