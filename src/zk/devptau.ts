/**
 * DEVELOPMENT ONLY: the project's deterministic powers of tau, FORGEABLE BY ANYONE.
 *
 * τ, α and β come from a fixed public string (a snarkjs beacon whose hash is
 * sha256("zklora-escrow development ptau v1 power N"), 2^10 iterations), so every machine
 * produces the same bytes and anyone can recompute the toxic waste ({@link devPtauSecrets}). The
 * file is what snarkjs's `powersoftau new` + `beacon` + `prepare phase2` would write, but the
 * Lagrange sections (12–15) are computed directly from the known secrets, one fixed-base
 * multiplication per point, instead of by `prepare phase2`'s inverse FFT in the exponent (which
 * needs n·log n multiplications and took over an hour at 2^17 on two cores).
 *
 * Keys made from it only serve tests, the demo and benchmarks: never a deployment that guards
 * value (production takes a public ceremony file, see ptau.ts).
 */
import { createHash } from "node:crypto";
import { rm } from "node:fs/promises";
import * as snarkjs from "snarkjs";
import * as binFileUtils from "@iden3/binfileutils";
import { ChaCha } from "ffjavascript";
import { PtauError } from "./errors.js";
import { P, invMod, powMod } from "./field.js";
import { progressLogger, timed, type ProgressFn } from "./progress.js";

/** The public string the development beacon hash of power N is the sha256 of (plus " N"). */
export const DEV_PTAU_LABEL = "zklora-escrow development ptau v1 power";
/** The snarkjs beacon's iteration exponent. */
export const DEV_PTAU_ITERATIONS_EXP = 10;
/** The contribution's name recorded in the file. */
export const DEV_PTAU_CONTRIBUTION_NAME = "zklora-escrow development ptau (public entropy)";
/** The largest power generated locally. */
export const DEV_PTAU_MAX_POWER = 20;

/** The beacon hash (hex) of the development ptau of 2^power: public. */
export function devBeaconHash(power: number): string {
  return createHash("sha256").update(`${DEV_PTAU_LABEL} ${power}`).digest("hex");
}

/** The toxic waste of the development ptau of 2^power, recomputed from the public string. */
export interface DevPtauSecrets {
  tau: bigint;
  alpha: bigint;
  beta: bigint;
}

interface Fr {
  fromRng(rng: unknown): Uint8Array;
  toObject(a: Uint8Array): bigint;
  w: Uint8Array[];
}

interface Group {
  F: { n8: number };
  oneAffine: Uint8Array;
  timesScalar(a: Uint8Array, s: bigint | Uint8Array): Uint8Array;
  toAffine(a: Uint8Array): Uint8Array;
  eq(a: Uint8Array, b: Uint8Array): boolean;
}

interface Curve {
  Fr: Fr;
  G1: Group;
  G2: Group;
  tm: {
    concurrency: number;
    queueAction(task: unknown[]): Promise<Uint8Array[]>;
  };
}

interface BinFd {
  pos: number;
  write(buf: Uint8Array): Promise<void>;
  read(n: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

interface BinFileUtils {
  createBinFile(file: string, type: string, version: number, nSections: number): Promise<BinFd>;
  readBinFile(
    file: string,
    type: string,
    maxVersion: number,
  ): Promise<{ fd: BinFd; sections: ({ p: number; size: number }[] | undefined)[] }>;
  copySection(
    fdFrom: BinFd,
    sections: ({ p: number; size: number }[] | undefined)[],
    fdTo: BinFd,
    sectionId: number,
  ): Promise<void>;
  startWriteSection(fd: BinFd, id: number): Promise<void>;
  endWriteSection(fd: BinFd): Promise<void>;
}

const bfu = binFileUtils as unknown as BinFileUtils;

async function bn128(): Promise<Curve> {
  return (await snarkjs.curves.getCurveFromName("bn128")) as unknown as Curve;
}

/**
 * snarkjs's beacon randomness (`rngFromBeaconParams`): sha256 iterated 2^iterationsExp times on the
 * beacon hash seeds ChaCha with its eight big-endian 32-bit words. Public: anyone with the hash
 * derives the same secrets.
 */
export function beaconRng(beaconHash: Uint8Array, iterationsExp: number): ChaCha {
  if (!Number.isInteger(iterationsExp) || iterationsExp < 0 || iterationsExp > 63) {
    throw new RangeError(`beacon iterations exponent ${iterationsExp} is outside 0..63`);
  }
  let h: Uint8Array = beaconHash;
  for (let i = 0; i < 2 ** iterationsExp; i++) h = createHash("sha256").update(h).digest();
  const view = new DataView(h.buffer, h.byteOffset, h.byteLength);
  return new ChaCha(Array.from({ length: 8 }, (_, i) => view.getUint32(i * 4, false)));
}

/**
 * The development ptau's τ, α, β: snarkjs's beacon key derivation (sha256 iterated 2^10 times on
 * the beacon hash seeds ChaCha; τ, α, β are the first three field elements drawn). Anyone can run
 * this: that is what makes the development keys forgeable.
 */
export async function devPtauSecrets(power: number): Promise<DevPtauSecrets> {
  const curve = await bn128();
  const rng = beaconRng(Buffer.from(devBeaconHash(power), "hex"), DEV_PTAU_ITERATIONS_EXP);
  const tau = BigInt(curve.Fr.toObject(curve.Fr.fromRng(rng)));
  const alpha = BigInt(curve.Fr.toObject(curve.Fr.fromRng(rng)));
  const beta = BigInt(curve.Fr.toObject(curve.Fr.fromRng(rng)));
  return { tau, alpha, beta };
}

/** The primitive 2^p-th root of unity snarkjs's FFTs use, as a bigint. */
function rootOfUnity(curve: Curve, p: number): bigint {
  return BigInt(curve.Fr.toObject(curve.Fr.w[p]));
}

/**
 * The Lagrange basis of the size-2^p domain evaluated at τ, times `m`, in the order snarkjs's
 * inverse FFT writes it: l_i = m·(τ^n − 1) / (n·(τ·ω^−i − 1)). With `dropLast`, the evaluations of
 * the inverse FFT of (1, τ, …, τ^(n−2), 0), which `prepare phase2` writes for tauG1's extra level.
 */
export function lagrangeScalars(
  tau: bigint,
  m: bigint,
  p: number,
  omega: bigint,
  dropLast = false,
): bigint[] {
  const n = 2 ** p;
  const nInv = invMod(BigInt(n));
  const omegaInv = invMod(omega);
  // denominators τ·ω^−i − 1, inverted together (Montgomery's trick)
  const den: bigint[] = new Array<bigint>(n);
  let cur = tau;
  for (let i = 0; i < n; i++) {
    den[i] = (cur - 1n + P) % P;
    cur = (cur * omegaInv) % P;
  }
  const prefix: bigint[] = new Array<bigint>(n);
  let acc = 1n;
  for (let i = 0; i < n; i++) {
    if (den[i] === 0n) throw new PtauError("τ is a root of unity of the domain: pick another label");
    prefix[i] = acc;
    acc = (acc * den[i]) % P;
  }
  let accInv = invMod(acc);
  const c = (((((powMod(tau, BigInt(n)) - 1n + P) % P) * nInv) % P) * m) % P;
  const out: bigint[] = new Array<bigint>(n);
  for (let i = n - 1; i >= 0; i--) {
    const dInv = (accInv * prefix[i]) % P;
    accInv = (accInv * den[i]) % P;
    out[i] = (c * dInv) % P;
  }
  if (dropLast) {
    // subtract (1/n)·τ^(n−1)·ω^i·m
    let t = (((powMod(tau, BigInt(n - 1)) * nInv) % P) * m) % P;
    for (let i = 0; i < n; i++) {
      out[i] = (out[i] - t + P) % P;
      t = (t * omega) % P;
    }
  }
  return out;
}

/** Window width (bits) of the fixed-base tables. */
const WINDOW = 8;
const DIGITS = 256 / WINDOW;
const DIGIT_VALUES = 2 ** WINDOW - 1;

interface GroupOps {
  add(a: Uint8Array, b: Uint8Array): Uint8Array;
  double(a: Uint8Array): Uint8Array;
  toAffine(a: Uint8Array): Uint8Array;
  g: Uint8Array;
}

/**
 * The fixed-base table of a group's generator: entry (j, d) = d·2^(WINDOW·j)·G, affine, for
 * d = 1 … 2^WINDOW − 1.
 */
function fixedBaseTable(curve: Curve, group: "G1" | "G2"): Uint8Array {
  const G = curve[group] as unknown as GroupOps & Group;
  const sAff = G.F.n8 * 2;
  const table = new Uint8Array(DIGITS * DIGIT_VALUES * sAff);
  let base = G.g;
  for (let j = 0; j < DIGITS; j++) {
    let acc = base;
    for (let d = 1; d <= DIGIT_VALUES; d++) {
      table.set(G.toAffine(acc), (j * DIGIT_VALUES + d - 1) * sAff);
      acc = G.add(acc, base);
    }
    for (let k = 0; k < WINDOW; k++) base = G.double(base);
  }
  return table;
}

const tables = new Map<string, Uint8Array>();

/**
 * [s_i]·G for every scalar (G the group's generator): WINDOW-bit fixed-base tables, one mixed
 * addition per nonzero digit, on the curve's worker threads; affine Montgomery points as snarkjs
 * writes them.
 */
async function fixedBaseMuls(curve: Curve, group: "G1" | "G2", scalars: bigint[]): Promise<Uint8Array[]> {
  const G = curve[group];
  const sAff = G.F.n8 * 2;
  const sJac = G.F.n8 * 3;
  const prefix = group === "G1" ? "g1m" : "g2m";
  let table = tables.get(group);
  if (table === undefined) {
    table = fixedBaseTable(curve, group);
    tables.set(group, table);
  }
  const chunk = 4096;
  const jobs: Promise<Uint8Array[]>[] = [];
  for (let start = 0; start < scalars.length; start += chunk) {
    const n = Math.min(chunk, scalars.length - start);
    const task: unknown[] = [
      { cmd: "ALLOCSET", var: 0, buff: table },
      { cmd: "ALLOC", var: 1, len: n * sJac },
    ];
    for (let i = 0; i < n; i++) {
      const out = { var: 1, offset: i * sJac };
      task.push({ cmd: "CALL", fnName: `${prefix}_zero`, params: [out] });
      const bytes = Buffer.from(scalars[start + i].toString(16).padStart(64, "0"), "hex");
      for (let j = 0; j < DIGITS; j++) {
        const d = bytes[31 - j];
        if (d === 0) continue;
        task.push({
          cmd: "CALL",
          fnName: `${prefix}_addMixed`,
          params: [out, { var: 0, offset: (j * DIGIT_VALUES + d - 1) * sAff }, out],
        });
      }
    }
    task.push({
      cmd: "CALL",
      fnName: `${prefix}_batchToAffine`,
      params: [{ var: 1 }, { val: n }, { var: 1 }],
    });
    task.push({ cmd: "GET", out: 0, var: 1, len: n * sAff });
    jobs.push(curve.tm.queueAction(task));
  }
  return (await Promise.all(jobs)).map((r) => r[0]);
}

/**
 * Writes the development ptau of 2^power to `file` (see the module comment). Byte-identical to
 * snarkjs's `new` + `beacon(devBeaconHash(power), 2^10)` + `prepare phase2`.
 */
export async function writeDevPtau(power: number, file: string, onProgress?: ProgressFn): Promise<void> {
  if (!Number.isInteger(power) || power < 1 || power > DEV_PTAU_MAX_POWER) {
    throw new PtauError(
      `a development ptau is generated up to 2^${DEV_PTAU_MAX_POWER}; 2^${power} needs a public ceremony file (--ptau)`,
    );
  }
  const curve = await bn128();
  const log = progressLogger(onProgress, `dev ptau 2^${power}`);
  const p0 = `${file}.new`;
  const p1 = `${file}.beacon`;
  try {
    await timed(onProgress, `dev ptau 2^${power}: new`, () =>
      snarkjs.powersOfTau.newAccumulator(curve, power, p0, log),
    );
    const ok = await timed(
      onProgress,
      `dev ptau 2^${power}: public beacon (FORGEABLE, development only)`,
      () =>
        snarkjs.powersOfTau.beacon(
          p0,
          p1,
          DEV_PTAU_CONTRIBUTION_NAME,
          devBeaconHash(power),
          DEV_PTAU_ITERATIONS_EXP,
          log,
        ),
    );
    if (ok === false) throw new PtauError("powersoftau beacon failed");
    await rm(p0, { force: true });
    await timed(onProgress, `dev ptau 2^${power}: Lagrange sections from the public secrets`, () =>
      writeLagrange(curve, power, p1, file),
    );
  } finally {
    await rm(p0, { force: true });
    await rm(p1, { force: true });
  }
}

async function writeLagrange(curve: Curve, power: number, beaconFile: string, file: string): Promise<void> {
  const { tau, alpha, beta } = await devPtauSecrets(power);
  const { fd: fdOld, sections } = await bfu.readBinFile(beaconFile, "ptau", 1);
  try {
    // The secrets must be the ones snarkjs's beacon applied: [τ]G1, [α]G1, [β]G1 as in the file.
    const firstPoint = async (id: number, index: number): Promise<Uint8Array> => {
      const sec = sections[id];
      if (sec === undefined) throw new PtauError(`beacon ptau has no section ${id}`);
      fdOld.pos = sec[0].p + index * 64;
      return fdOld.read(64);
    };
    const checks: [number, number, bigint][] = [
      [2, 1, tau],
      [4, 0, alpha],
      [5, 0, beta],
    ];
    for (const [id, index, s] of checks) {
      const expected = curve.G1.toAffine(curve.G1.timesScalar(curve.G1.oneAffine, s));
      if (!curve.G1.eq(await firstPoint(id, index), expected)) {
        throw new PtauError(
          `the development secrets do not match snarkjs's beacon (section ${id}): the beacon's key derivation changed`,
        );
      }
    }
    const fd = await bfu.createBinFile(file, "ptau", 1, 11);
    try {
      for (let id = 1; id <= 7; id++) await bfu.copySection(fdOld, sections, fd, id);
      const levels = (extra: boolean): [number, boolean][] => {
        const l: [number, boolean][] = [];
        for (let p = 0; p <= power; p++) l.push([p, false]);
        if (extra) l.push([power + 1, true]);
        return l;
      };
      const sectionsOut: [number, "G1" | "G2", bigint, boolean][] = [
        [12, "G1", 1n, true],
        [13, "G2", 1n, false],
        [14, "G1", alpha, false],
        [15, "G1", beta, false],
      ];
      for (const [id, group, m, extra] of sectionsOut) {
        await bfu.startWriteSection(fd, id);
        for (const [p, dropLast] of levels(extra)) {
          const scalars = lagrangeScalars(tau, m, p, rootOfUnity(curve, p), dropLast);
          for (const buf of await fixedBaseMuls(curve, group, scalars)) await fd.write(buf);
        }
        await bfu.endWriteSection(fd);
      }
    } finally {
      await fd.close();
    }
  } finally {
    await fdOld.close();
  }
}
