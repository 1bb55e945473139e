/**
 * DEVELOPMENT ONLY: the project's deterministic powers of tau, FORGEABLE BY ANYONE.
 *
 * τ, α and β come from a fixed public string (a snarkjs beacon whose hash is
 * sha256("zklora-escrow development ptau v1 power N"), 2^10 iterations), so every machine
 * produces the same bytes and anyone can recompute the toxic waste ({@link devPtauSecrets}). The
 * file is byte for byte what snarkjs's `powersoftau new` + `beacon` + `prepare phase2` would write,
 * but every section is computed directly from the known secrets instead:
 *
 * - sections 2–6 (τ^i·G1, τ^i·G2, α·τ^i·G1, β·τ^i·G1, β·G2): one fixed-base multiplication per
 *   point, where `new` + `beacon` would write generators and then multiply each by its own scalar
 *   (a full double-and-add per point);
 * - section 7: the beacon's contribution record (its public key, drawn from the same ChaCha stream
 *   after τ, α, β; the response hash, its partial blake2b state and the next challenge hash);
 * - sections 12–15 (Lagrange bases at every level): one fixed-base multiplication per point, instead
 *   of `prepare phase2`'s inverse FFT in the exponent (n·log n multiplications, over an hour at
 *   2^17 on two cores).
 *
 * The group work runs on worker threads (plain JavaScript, evaluated), each with its own instance of
 * ffjavascript's BN254 WebAssembly and its own copy of signed-window tables of the two generators
 * (w-bit windows of 2^(w−1) affine multiples each, w ≤ 16): about 255/w additions per point, done
 * in affine coordinates a window at a time for a few thousand points together, so that they share
 * one field inversion (Montgomery's trick). Only the response hash, whose partial blake2b state
 * the file records, is hashed in JavaScript; the points come out as snarkjs writes them (affine,
 * Montgomery form), so the bytes do not depend on the method.
 *
 * Keys made from it only serve tests, the demo and benchmarks: never a deployment that guards
 * value (production takes a public ceremony file, see ptau.ts).
 */
import { createHash } from "node:crypto";
import os from "node:os";
import { Worker } from "node:worker_threads";
import * as binFileUtils from "@iden3/binfileutils";
import { ChaCha } from "ffjavascript";
import { PtauError } from "./errors.js";
import { P, invMod, powMod } from "./field.js";
import { timed, type ProgressFn } from "./progress.js";
import { engine } from "./verifier.js";

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

/** A point group of ffjavascript's engine, as used here (points: Montgomery LE buffers). */
interface Group {
  F: { n8: number };
  g: Uint8Array;
  fromRng(rng: ChaCha): Uint8Array;
  timesFr(a: Uint8Array, s: Uint8Array): Uint8Array;
  timesScalar(a: Uint8Array, s: bigint | Uint8Array): Uint8Array;
  toAffine(a: Uint8Array): Uint8Array;
  toUncompressed(a: Uint8Array): Uint8Array;
}

/** ffjavascript's single-threaded BN254 engine (src/zk/verifier.ts), as used here. */
interface Curve {
  q: bigint;
  Fr: {
    fromRng(rng: ChaCha): Uint8Array;
    toObject(a: Uint8Array): unknown;
    w: Uint8Array[];
  };
  G1: Group;
  G2: Group;
  /** The engine's WebAssembly (present on a single-threaded engine). */
  tm: { code?: Uint8Array };
}

interface BinFd {
  pos: number;
  write(buf: Uint8Array, pos?: number): Promise<void>;
  read(n: number, pos?: number): Promise<Uint8Array>;
  writeULE32(v: number, pos?: number): Promise<void>;
  writeULE64(v: number, pos?: number): Promise<void>;
  close(): Promise<void>;
}

interface BinFileUtils {
  createBinFile(file: string, type: string, version: number, nSections: number): Promise<BinFd>;
  startWriteSection(fd: BinFd, id: number): Promise<void>;
  endWriteSection(fd: BinFd): Promise<void>;
}

const bfu = binFileUtils as unknown as BinFileUtils;

async function bn128(): Promise<Curve> {
  return (await engine()) as unknown as Curve;
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
  const tau = BigInt(curve.Fr.toObject(curve.Fr.fromRng(rng)) as bigint);
  const alpha = BigInt(curve.Fr.toObject(curve.Fr.fromRng(rng)) as bigint);
  const beta = BigInt(curve.Fr.toObject(curve.Fr.fromRng(rng)) as bigint);
  return { tau, alpha, beta };
}

/** The primitive 2^p-th root of unity snarkjs's FFTs use, as a bigint. */
function rootOfUnity(curve: Curve, p: number): bigint {
  return BigInt(curve.Fr.toObject(curve.Fr.w[p]) as bigint);
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
  return lagrangeScalarRange(tau, m, p, omega, dropLast, 0, 2 ** p);
}

/** {@link lagrangeScalars} for the indices start … start + count − 1 only. */
function lagrangeScalarRange(
  tau: bigint,
  m: bigint,
  p: number,
  omega: bigint,
  dropLast: boolean,
  start: number,
  count: number,
): bigint[] {
  const n = 2 ** p;
  const nInv = invMod(BigInt(n));
  const omegaInv = invMod(omega);
  // denominators τ·ω^−i − 1, inverted together (Montgomery's trick)
  const den: bigint[] = new Array<bigint>(count);
  let cur = (tau * powMod(omegaInv, BigInt(start))) % P;
  for (let i = 0; i < count; i++) {
    den[i] = (cur - 1n + P) % P;
    cur = (cur * omegaInv) % P;
  }
  const prefix: bigint[] = new Array<bigint>(count);
  let acc = 1n;
  for (let i = 0; i < count; i++) {
    if (den[i] === 0n) throw new PtauError("τ is a root of unity of the domain: pick another label");
    prefix[i] = acc;
    acc = (acc * den[i]) % P;
  }
  let accInv = invMod(acc);
  const c = (((((powMod(tau, BigInt(n)) - 1n + P) % P) * nInv) % P) * m) % P;
  const out: bigint[] = new Array<bigint>(count);
  for (let i = count - 1; i >= 0; i--) {
    const dInv = (accInv * prefix[i]) % P;
    accInv = (accInv * den[i]) % P;
    out[i] = (c * dInv) % P;
  }
  if (dropLast) {
    // subtract (1/n)·τ^(n−1)·ω^i·m
    let t = (((((powMod(tau, BigInt(n - 1)) * nInv) % P) * m) % P) * powMod(omega, BigInt(start))) % P;
    for (let i = 0; i < count; i++) {
      out[i] = (out[i] - t + P) % P;
      t = (t * omega) % P;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// blake2b-512 with snarkjs's partial-hash export
// ---------------------------------------------------------------------------------------------

const B2B_IV = [
  0xf3bcc908, 0x6a09e667, 0x84caa73b, 0xbb67ae85, 0xfe94f82b, 0x3c6ef372, 0x5f1d36f1, 0xa54ff53a, 0xade682d1,
  0x510e527f, 0x2b3e6c1f, 0x9b05688c, 0xfb41bd6b, 0x1f83d9ab, 0x137e2179, 0x5be0cd19,
];

const B2B_SIGMA = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
  [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
  [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
  [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
  [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
].map((row) => row.map((i) => 2 * i));

/**
 * Streaming blake2b-512 (RFC 7693) that buffers exactly as @noble/hashes' BLAKE2 (which snarkjs's
 * beacon uses): the last block of the input seen so far is held back, full blocks are compressed
 * straight from an update's data only when it is 4-byte aligned, and the hold-back buffer keeps
 * stale bytes past its fill. {@link partial} is snarkjs's `toPartialHash` of that state, which the
 * contribution record stores; it depends on how the input was split, so feed the same updates.
 */
class Blake2bStream {
  private readonly h = new Int32Array(16);
  private readonly buffer = new Uint8Array(128);
  private readonly v = new Int32Array(32);
  private readonly m = new Int32Array(32);
  private pos = 0;
  private length = 0;

  constructor() {
    this.h.set(B2B_IV);
    this.h[0] ^= 0x01010040; // digest length 64, no key, fanout 1, depth 1
  }

  update(data: Uint8Array): this {
    const len = data.length;
    for (let pos = 0; pos < len;) {
      if (this.pos === 128) {
        this.compress(this.buffer, 0, false);
        this.pos = 0;
      }
      const take = Math.min(128 - this.pos, len - pos);
      if (take === 128 && (data.byteOffset + pos) % 4 === 0 && pos + take < len) {
        for (; pos + 128 < len; pos += 128) {
          this.length += 128;
          this.compress(data, pos, false);
        }
        continue;
      }
      this.buffer.set(data.subarray(pos, pos + take), this.pos);
      this.pos += take;
      this.length += take;
      pos += take;
    }
    return this;
  }

  /** snarkjs's `toPartialHash`: hold-back buffer, chaining value, bytes compressed, fill. */
  partial(): Uint8Array {
    const res = new Uint8Array(216);
    res.set(this.buffer);
    const view = new DataView(res.buffer);
    for (let i = 0; i < 16; i++) view.setUint32(128 + 4 * i, this.h[i], true);
    view.setUint32(128 + 64, this.length - this.pos, true);
    view.setUint32(128 + 72, this.pos, true);
    return res;
  }

  digest(): Uint8Array {
    this.buffer.fill(0, this.pos);
    this.compress(this.buffer, 0, true);
    const out = new Uint8Array(64);
    const view = new DataView(out.buffer);
    for (let i = 0; i < 16; i++) view.setUint32(4 * i, this.h[i], true);
    return out;
  }

  private compress(data: Uint8Array, offset: number, last: boolean): void {
    const { h, v, m } = this;
    for (let i = 0; i < 32; i++) {
      const o = offset + 4 * i;
      m[i] = data[o] | (data[o + 1] << 8) | (data[o + 2] << 16) | (data[o + 3] << 24);
    }
    v.set(h);
    v.set(B2B_IV, 16);
    v[24] ^= this.length >>> 0;
    v[25] ^= Math.floor(this.length / 2 ** 32);
    if (last) {
      v[28] = ~v[28];
      v[29] = ~v[29];
    }
    for (let r = 0; r < 12; r++) {
      const s = B2B_SIGMA[r % 10];
      mix(v, m, 0, 8, 16, 24, s[0], s[1]);
      mix(v, m, 2, 10, 18, 26, s[2], s[3]);
      mix(v, m, 4, 12, 20, 28, s[4], s[5]);
      mix(v, m, 6, 14, 22, 30, s[6], s[7]);
      mix(v, m, 0, 10, 20, 30, s[8], s[9]);
      mix(v, m, 2, 12, 22, 24, s[10], s[11]);
      mix(v, m, 4, 14, 16, 26, s[12], s[13]);
      mix(v, m, 6, 8, 18, 28, s[14], s[15]);
    }
    for (let i = 0; i < 16; i++) h[i] ^= v[i] ^ v[i + 16];
  }
}

/**
 * blake2b's G function on the 64-bit words a, b, c, d of v (lo, hi pairs at 2i, 2i + 1) with the
 * message words at m[x], m[y]; one call per G, int32 halves in locals.
 */
function mix(
  v: Int32Array,
  m: Int32Array,
  a: number,
  b: number,
  c: number,
  d: number,
  x: number,
  y: number,
): void {
  let al = v[a] | 0,
    ah = v[a + 1] | 0,
    bl = v[b] | 0,
    bh = v[b + 1] | 0,
    cl = v[c] | 0,
    ch = v[c + 1] | 0,
    dl = v[d] | 0,
    dh = v[d + 1] | 0;
  let lo: number, t: number;
  // a = a + b + m[x]
  lo = (al >>> 0) + (bl >>> 0) + (m[x] >>> 0);
  ah = (ah + bh + m[x + 1] + ((lo / 0x100000000) | 0)) | 0;
  al = lo | 0;
  // d = rotr64(d ^ a, 32)
  t = dl ^ al;
  dl = dh ^ ah;
  dh = t;
  // c = c + d
  lo = (cl >>> 0) + (dl >>> 0);
  ch = (ch + dh + ((lo / 0x100000000) | 0)) | 0;
  cl = lo | 0;
  // b = rotr64(b ^ c, 24)
  bl ^= cl;
  bh ^= ch;
  t = (bl >>> 24) | (bh << 8);
  bh = (bh >>> 24) | (bl << 8);
  bl = t;
  // a = a + b + m[y]
  lo = (al >>> 0) + (bl >>> 0) + (m[y] >>> 0);
  ah = (ah + bh + m[y + 1] + ((lo / 0x100000000) | 0)) | 0;
  al = lo | 0;
  // d = rotr64(d ^ a, 16)
  dl ^= al;
  dh ^= ah;
  t = (dl >>> 16) | (dh << 16);
  dh = (dh >>> 16) | (dl << 16);
  dl = t;
  // c = c + d
  lo = (cl >>> 0) + (dl >>> 0);
  ch = (ch + dh + ((lo / 0x100000000) | 0)) | 0;
  cl = lo | 0;
  // b = rotr64(b ^ c, 63) = rotl64(b ^ c, 1)
  bl ^= cl;
  bh ^= ch;
  t = (bl << 1) | (bh >>> 31);
  bh = (bh << 1) | (bl >>> 31);
  bl = t;
  v[a] = al;
  v[a + 1] = ah;
  v[b] = bl;
  v[b + 1] = bh;
  v[c] = cl;
  v[c + 1] = ch;
  v[d] = dl;
  v[d + 1] = dh;
}

/** Node's blake2b-512 (same function, no partial state): for the hashes snarkjs never exports. */
function blake2b512() {
  return createHash("blake2b512");
}

// ---------------------------------------------------------------------------------------------
// Fixed-base multiplications on worker threads
// ---------------------------------------------------------------------------------------------

/**
 * The worker threads' code (plain JavaScript, evaluated: no loader, no ffjavascript import). Each
 * worker instantiates the engine's WebAssembly in its own memory and answers:
 * - `rows`: for each given affine base B, the affine multiples 1·B … count·B;
 * - `table`: keeps a group's signed-window table (rows of 2^(w−1) multiples of 2^(w·j)·G);
 * - `mul`: s_i·G for 32-byte little-endian scalars (affine Montgomery points, plus their
 *   compressed form when asked);
 * - `lemToU`: affine Montgomery points to uncompressed big-endian form.
 */
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
let memory, ex, top;
const tables = {};
function ensure(end) {
  const have = memory.buffer.byteLength;
  if (end > have) memory.grow(Math.ceil((end - have) / 65536));
}
// The WebAssembly's own batch functions take scratch space at the free pointer (word 0): keep it
// at the top of this worker's allocations, with as much room again above it.
function setTop(p) {
  top = p;
  new Uint32Array(memory.buffer)[0] = top;
}
function alloc(bytes) {
  const p = top;
  ensure(p + 2 * bytes + 65536);
  setTop(p + Math.ceil(bytes / 64) * 64);
  return p;
}
function u8() {
  return new Uint8Array(memory.buffer);
}
// The field and group functions of a group ("g1m" over f1m, "g2m" over f2m).
function ops(g) {
  const f = g === "g1m" ? "f1m" : "f2m";
  return {
    n8: g === "g1m" ? 32 : 64,
    sub: ex[f + "_sub"],
    add: ex[f + "_add"],
    mul: ex[f + "_mul"],
    square: ex[f + "_square"],
    neg: ex[f + "_neg"],
    copy: ex[f + "_copy"],
    isZero: ex[f + "_isZero"],
    eq: ex[f + "_eq"],
    batchInverse: ex[f + "_batchInverse"],
    copyAffine: ex[g + "_copyAffine"],
    zeroAffine: ex[g + "_zeroAffine"],
    doubleAffine: ex[g + "_doubleAffine"],
    toAffine: ex[g + "_toAffine"],
  };
}
// Scratch for batchAdd of up to n additions.
function scratch(o, n) {
  return {
    dx: alloc(n * o.n8),
    inv: alloc(n * o.n8),
    l: alloc(o.n8),
    x3: alloc(o.n8),
    tt: alloc(o.n8),
    j: alloc(3 * o.n8),
    act: new Int32Array(n),
  };
}
// Affine additions sharing one inversion: A[k] += (neg[k] ? -T[k] : T[k]) in place, for k < cnt
// (acc, pt: pointers to affine points, none of them zero). zero[k] is set when A[k] becomes zero.
function batchAdd(o, cnt, acc, pt, neg, zero, s) {
  const { n8, sub, add, mul, square, copy, isZero } = o;
  const act = s.act;
  let k = 0;
  for (let m = 0; m < cnt; m++) {
    const a = acc[m], t = pt[m], dx = s.dx + k * n8;
    sub(t, a, dx);
    if (isZero(dx)) {
      // same x: A = ±T (double it) or A = -(±T) (zero)
      let same;
      if (neg[m]) {
        add(t + n8, a + n8, s.l);
        same = isZero(s.l);
      } else same = o.eq(t + n8, a + n8);
      if (same) {
        o.doubleAffine(a, s.j);
        o.toAffine(s.j, a);
      } else zero[m] = 1;
      continue;
    }
    act[k++] = m;
  }
  if (k === 0) return;
  o.batchInverse(s.dx, n8, k, s.inv, n8);
  const l = s.l, x3 = s.x3, tt = s.tt;
  for (let q = 0; q < k; q++) {
    const m = act[q], a = acc[m], t = pt[m], ya = a + n8;
    // λ = (yT - yA)/(xT - xA); for -T, λ' = (yT + yA)/(xT - xA) = -λ
    if (neg[m]) add(t + n8, ya, l);
    else sub(t + n8, ya, l);
    mul(l, s.inv + q * n8, l);
    square(l, x3);
    sub(x3, a, x3);
    sub(x3, t, x3);
    if (neg[m]) sub(x3, a, tt);
    else sub(a, x3, tt);
    mul(l, tt, tt);
    sub(tt, ya, ya);
    copy(x3, a);
  }
}
function handle(m) {
  switch (m.op) {
    case "init": {
      memory = new WebAssembly.Memory({ initial: 32 });
      ex = new WebAssembly.Instance(new WebAssembly.Module(m.code), { env: { memory } }).exports;
      setTop(Math.ceil(new Uint32Array(memory.buffer)[0] / 64) * 64 + 64);
      return [];
    }
    case "rows": {
      // for each base B: 1·B … count·B, doubling the known prefix at each step
      const { g, sAff, bases, count } = m;
      const o = ops(g);
      const k = bases.length / sAff;
      const save = top;
      const pR = alloc(count * sAff);
      const s = scratch(o, count);
      const acc = new Int32Array(count), pt = new Int32Array(count);
      const neg = new Uint8Array(count), zero = new Uint8Array(count);
      const out = new Uint8Array(k * count * sAff);
      for (let r = 0; r < k; r++) {
        u8().set(bases.subarray(r * sAff, (r + 1) * sAff), pR);
        for (let h = 1; h < count; h *= 2) {
          const cnt = Math.min(h, count - h);
          for (let i = 0; i < cnt; i++) {
            o.copyAffine(pR + i * sAff, pR + (h + i) * sAff);
            acc[i] = pR + (h + i) * sAff;
            pt[i] = pR + (h - 1) * sAff;
          }
          batchAdd(o, cnt, acc, pt, neg, zero, s);
        }
        out.set(u8().subarray(pR, pR + count * sAff), r * count * sAff);
      }
      setTop(save);
      return [out];
    }
    case "table": {
      // the rows, in order, in one region
      const p = alloc(m.rows.reduce((n, r) => n + r.length, 0));
      let o = p;
      for (const r of m.rows) {
        u8().set(r, o);
        o += r.length;
      }
      tables[m.g] = { p, w: m.w, nw: m.nw, count: 2 ** (m.w - 1) };
      return [];
    }
    case "mul": {
      const { g, sAff, scalars, compressed } = m;
      const t = tables[g];
      const o = ops(g);
      const n = scalars.length / 32;
      const save = top;
      const pA = alloc(n * sAff), pC = compressed ? alloc(n * (sAff / 2)) : 0;
      const s = scratch(o, n);
      ensure(top + 4 * n * sAff + 65536);
      const words = new Uint32Array(scalars.buffer, scalars.byteOffset, n * 8);
      const w = t.w, nw = t.nw, half = t.count, full = 2 ** w, mask = full - 1;
      const rowBytes = t.count * sAff;
      // signed digits in (-2^(w-1), 2^(w-1)]
      const dig = new Int32Array(n * nw);
      for (let i = 0; i < n; i++) {
        let carry = 0;
        for (let j = 0; j < nw; j++) {
          const bit = j * w, wi = 8 * i + (bit >>> 5), sh = bit & 31;
          let v = words[wi] >>> sh;
          if (sh + w > 32 && bit >>> 5 < 7) v |= words[wi + 1] << (32 - sh);
          let d = (v & mask) + carry;
          if (d > half) {
            d -= full;
            carry = 1;
          } else carry = 0;
          dig[i * nw + j] = d;
        }
        if (carry !== 0) throw new Error("scalar out of range");
      }
      const isSet = new Uint8Array(n);
      const acc = new Int32Array(n), pt = new Int32Array(n), idx = new Int32Array(n);
      const neg = new Uint8Array(n), zero = new Uint8Array(n);
      for (let j = 0; j < nw; j++) {
        let cnt = 0;
        const row = t.p + j * rowBytes;
        for (let i = 0; i < n; i++) {
          const d = dig[i * nw + j];
          if (d === 0) continue;
          const T = row + ((d > 0 ? d : -d) - 1) * sAff, a = pA + i * sAff;
          if (!isSet[i]) {
            o.copyAffine(T, a);
            if (d < 0) o.neg(a + sAff / 2, a + sAff / 2);
            isSet[i] = 1;
            continue;
          }
          acc[cnt] = a;
          pt[cnt] = T;
          neg[cnt] = d < 0 ? 1 : 0;
          zero[cnt] = 0;
          idx[cnt++] = i;
        }
        batchAdd(o, cnt, acc, pt, neg, zero, s);
        for (let q = 0; q < cnt; q++) if (zero[q]) isSet[idx[q]] = 0;
      }
      for (let i = 0; i < n; i++) if (!isSet[i]) o.zeroAffine(pA + i * sAff);
      const res = [u8().slice(pA, pA + n * sAff)];
      if (compressed) {
        ex[g + "_batchLEMtoC"](pA, n, pC);
        res.push(u8().slice(pC, pC + n * (sAff / 2)));
      }
      setTop(save);
      return res;
    }
    case "lemToU": {
      const { g, data } = m;
      const save = top;
      const pIn = alloc(data.length), pOut = alloc(data.length);
      u8().set(data, pIn);
      ex[g + "_batchLEMtoU"](pIn, data.length / m.sAff, pOut);
      const res = [u8().slice(pOut, pOut + data.length)];
      setTop(save);
      return res;
    }
    default:
      throw new Error("unknown op " + m.op);
  }
}
parentPort.on("message", (m) => {
  try {
    const out = handle(m);
    parentPort.postMessage({ out }, out.map((b) => b.buffer));
  } catch (e) {
    parentPort.postMessage({ error: String((e && e.stack) || e) });
  }
});
`;

type Op = Record<string, unknown> & { op: string };

/** Worker threads running {@link WORKER_SOURCE}, one op at a time each, FIFO. */
class WasmPool {
  private readonly idle: Worker[] = [];
  private readonly queue: {
    op: Op;
    transfer: ArrayBuffer[];
    resolve: (r: Uint8Array[]) => void;
    reject: (e: Error) => void;
  }[] = [];

  private constructor(private readonly workers: Worker[]) {}

  static async create(code: Uint8Array, size: number): Promise<WasmPool> {
    const workers = Array.from({ length: size }, () => new Worker(WORKER_SOURCE, { eval: true }));
    const pool = new WasmPool(workers);
    try {
      await Promise.all(workers.map((w) => pool.send(w, { op: "init", code }, [])));
    } catch (err) {
      await pool.terminate();
      throw err;
    }
    pool.idle.push(...workers);
    return pool;
  }

  get size(): number {
    return this.workers.length;
  }

  /** Runs `op` on the next idle worker. */
  run(op: Op, transfer: ArrayBuffer[] = []): Promise<Uint8Array[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ op, transfer, resolve, reject });
      this.pump();
    });
  }

  /**
   * Runs `op` on every worker (none may be busy), the transfer list on the last one only: the
   * others get copies.
   */
  async broadcast(op: Op, transfer: ArrayBuffer[] = []): Promise<void> {
    const all = this.idle.splice(0);
    if (all.length !== this.workers.length) throw new PtauError("dev ptau pool: broadcast while busy");
    try {
      await Promise.all(all.map((w, i) => this.send(w, op, i === all.length - 1 ? transfer : [])));
    } finally {
      this.idle.push(...all);
      this.pump();
    }
  }

  async terminate(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const w = this.idle.shift()!;
      const job = this.queue.shift()!;
      this.send(w, job.op, job.transfer).then(
        (r) => {
          this.idle.push(w);
          job.resolve(r);
          this.pump();
        },
        (e: Error) => {
          this.idle.push(w);
          job.reject(e);
          this.pump();
        },
      );
    }
  }

  private send(w: Worker, op: Op, transfer: ArrayBuffer[]): Promise<Uint8Array[]> {
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        w.off("message", onMessage);
        w.off("error", onError);
        w.off("exit", onExit);
      };
      const onMessage = (msg: { out?: Uint8Array[]; error?: string }) => {
        cleanup();
        if (msg.error !== undefined) reject(new PtauError(`dev ptau worker: ${msg.error}`));
        else resolve(msg.out!);
      };
      const onError = (e: Error) => {
        cleanup();
        reject(e);
      };
      const onExit = (code: number) => {
        cleanup();
        reject(new PtauError(`dev ptau worker exited (code ${code}) during ${op.op}`));
      };
      w.on("message", onMessage);
      w.on("error", onError);
      w.on("exit", onExit);
      w.postMessage(op, transfer);
    });
  }
}

/** A group's name in the WebAssembly and its affine point size. */
interface GroupSpec {
  name: "G1" | "G2";
  g: "g1m" | "g2m";
  sAff: number;
}

const G1_SPEC: GroupSpec = { name: "G1", g: "g1m", sAff: 64 };
const G2_SPEC: GroupSpec = { name: "G2", g: "g2m", sAff: 128 };

/** Scalars are below r < 2^254: windows of w bits cover them with signed digits when w·nw ≥ 255. */
function windowsFor(w: number): number {
  return Math.ceil(255 / w);
}

/** The window width minimising additions (the points', plus the table's) for `points` points. */
function bestWindow(points: number): number {
  let best = 2;
  let bestCost = Infinity;
  for (let w = 2; w <= 16; w++) {
    const nw = windowsFor(w);
    const cost = (points + 2 ** (w - 1)) * nw;
    if (cost < bestCost) {
      best = w;
      bestCost = cost;
    }
  }
  return best;
}

/**
 * Builds the signed-window table of a group's generator for `points` multiplications on the
 * workers and loads it into every worker: row j holds d·2^(w·j)·G for d = 1 … 2^(w−1).
 */
async function loadTable(pool: WasmPool, curve: Curve, spec: GroupSpec, points: number): Promise<void> {
  const G = curve[spec.name];
  const w = bestWindow(points);
  const nw = windowsFor(w);
  const count = 2 ** (w - 1);
  const bases: Uint8Array[] = [];
  for (let j = 0; j < nw; j++) bases.push(G.toAffine(G.timesScalar(G.g, 1n << BigInt(w * j))));
  // rows split evenly over the workers
  const parts: Promise<Uint8Array[]>[] = [];
  const per = Math.ceil(nw / pool.size);
  for (let j = 0; j < nw; j += per) {
    const chunk = bases.slice(j, Math.min(nw, j + per));
    const data = new Uint8Array(chunk.length * spec.sAff);
    chunk.forEach((b, i) => data.set(b, i * spec.sAff));
    parts.push(pool.run({ op: "rows", g: spec.g, sAff: spec.sAff, bases: data, count }, [data.buffer]));
  }
  const rows = (await Promise.all(parts)).map((r) => r[0]);
  await pool.broadcast(
    { op: "table", g: spec.g, rows, w, nw },
    rows.map((r) => r.buffer as ArrayBuffer),
  );
}

/** 32-byte little-endian encodings of scalars (each in [0, r)). */
function scalarBytes(scalars: readonly bigint[]): Uint8Array {
  const out = new Uint8Array(scalars.length * 32);
  const view = new DataView(out.buffer);
  for (let i = 0; i < scalars.length; i++) {
    let s = scalars[i];
    for (let k = 0; k < 4; k++) {
      view.setBigUint64(i * 32 + 8 * k, BigInt.asUintN(64, s), true);
      s >>= 64n;
    }
  }
  return out;
}

/** At most this many worker threads (each holds both tables: up to ~100 MB, at 2^18 and above). */
const MAX_WORKERS = 8;

/** Points per worker job (divides snarkjs's beacon chunks of 16384 G1 / 8192 G2 points). */
const JOB_POINTS = 4096;

/**
 * s·G for every scalar that `next(n)` hands out (n at a time, in order, `total` in all), on the
 * pool; `consume` receives the affine Montgomery points (and compressed forms when asked) in order.
 * Keeps a few jobs per worker in flight, so the workers never wait for this thread.
 */
async function mulStream(
  pool: WasmPool,
  spec: GroupSpec,
  total: number,
  next: (n: number) => bigint[],
  compressed: boolean,
  consume: (lem: Uint8Array, c: Uint8Array | undefined) => Promise<void>,
): Promise<void> {
  const inFlight: Promise<Uint8Array[]>[] = [];
  let submitted = 0;
  const submit = () => {
    const n = Math.min(JOB_POINTS, total - submitted);
    submitted += n;
    const scalars = scalarBytes(next(n));
    const job = pool.run({ op: "mul", g: spec.g, sAff: spec.sAff, scalars, compressed }, [
      scalars.buffer as ArrayBuffer,
    ]);
    job.catch(() => undefined); // awaited in order below; a later job's failure must not go unhandled
    inFlight.push(job);
  };
  const depth = 3 * pool.size;
  while (submitted < total && inFlight.length < depth) submit();
  while (inFlight.length > 0) {
    const [lem, c] = await inFlight.shift()!;
    if (submitted < total) submit();
    await consume(lem, c);
  }
}

/** Successive scalars first·inc^i, handed out n at a time. */
function powers(first: bigint, inc: bigint): (n: number) => bigint[] {
  let cur = first % P;
  return (n) => {
    const out = new Array<bigint>(n);
    for (let i = 0; i < n; i++) {
      out[i] = cur;
      cur = (cur * inc) % P;
    }
    return out;
  };
}

// ---------------------------------------------------------------------------------------------
// The file
// ---------------------------------------------------------------------------------------------

/** The beacon's key: secrets (Montgomery Fr) and the public key snarkjs's `createPTauKey` draws. */
interface BeaconKey {
  prv: { tau: Uint8Array; alpha: Uint8Array; beta: Uint8Array };
  /** tau, alpha, beta: g1_s, g1_sx (affine G1), g2_spx (affine G2). */
  pub: { g1s: Uint8Array; g1sx: Uint8Array; g2spx: Uint8Array }[];
}

/**
 * snarkjs's `keyFromBeacon` → `createPTauKey`: τ, α, β, then for each (personalisation 0, 1, 2)
 * g1_s from the same ChaCha stream, g1_sx = prv·g1_s, g2_sp from the blake2b of (personalisation,
 * challenge, g1_s, g1_sx) seeding a second ChaCha, g2_spx = prv·g2_sp.
 */
function beaconKey(curve: Curve, challenge: Uint8Array, rng: ChaCha): BeaconKey {
  const prv = { tau: curve.Fr.fromRng(rng), alpha: curve.Fr.fromRng(rng), beta: curve.Fr.fromRng(rng) };
  const pub = [prv.tau, prv.alpha, prv.beta].map((k, personalisation) => {
    const { G1, G2 } = curve;
    const g1s = G1.toAffine(G1.fromRng(rng));
    const g1sx = G1.toAffine(G1.timesFr(g1s, k));
    const h = blake2b512()
      .update(new Uint8Array([personalisation]))
      .update(challenge)
      .update(G1.toUncompressed(g1s))
      .update(G1.toUncompressed(g1sx))
      .digest();
    const seed = Array.from({ length: 8 }, (_, i) => h.readUInt32BE(4 * i));
    const g2sp = G2.toAffine(G2.fromRng(new ChaCha(seed)));
    const g2spx = G2.toAffine(G2.timesFr(g2sp, k));
    return { g1s, g1sx, g2spx };
  });
  return { prv, pub };
}

/** The public key as snarkjs's `toPtauPubKeyRpr` lays it out (uncompressed or Montgomery). */
function pubKeyBytes(curve: Curve, key: BeaconKey, montgomery: boolean): Uint8Array {
  const g1 = (p: Uint8Array) => (montgomery ? p : curve.G1.toUncompressed(p));
  const g2 = (p: Uint8Array) => (montgomery ? p : curve.G2.toUncompressed(p));
  const parts = [...key.pub.flatMap((k) => [g1(k.g1s), g1(k.g1sx)]), ...key.pub.map((k) => g2(k.g2spx))];
  return Buffer.concat(parts);
}

/**
 * snarkjs's `calculateFirstChallengeHash`: blake2b of the empty blake2b, then the uncompressed
 * generators of a fresh accumulator (2^(p+1)−1 G1, 2^p G2, 2^p G1, 2^p G1, one G2).
 */
function firstChallengeHash(curve: Curve, power: number): Uint8Array {
  const n = 2 ** power;
  const g1 = curve.G1.toUncompressed(curve.G1.g);
  const g2 = curve.G2.toUncompressed(curve.G2.g);
  const h = blake2b512().update(blake2b512().digest());
  const repeat = (p: Uint8Array, count: number) => {
    const block = Math.min(count, 4096);
    const buf = Buffer.concat(Array.from({ length: block }, () => p));
    for (let left = count; left > 0; left -= block)
      h.update(left >= block ? buf : buf.subarray(0, left * p.length));
  };
  repeat(g1, 2 * n - 1);
  repeat(g2, n);
  repeat(g1, n);
  repeat(g1, n);
  h.update(g2);
  return h.digest();
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
  if (curve.tm.code === undefined) throw new PtauError("the BN254 engine exposes no WebAssembly code");
  const n = 2 ** power;
  const pool = await WasmPool.create(
    curve.tm.code,
    Math.max(1, Math.min(MAX_WORKERS, os.availableParallelism())),
  );
  try {
    await timed(onProgress, `dev ptau 2^${power}: tables`, async () => {
      await loadTable(pool, curve, G1_SPEC, 12 * n);
      await loadTable(pool, curve, G2_SPEC, 3 * n);
    });
    const fd = await bfu.createBinFile(file, "ptau", 1, 11);
    try {
      const secrets = await timed(
        onProgress,
        `dev ptau 2^${power}: powers of τ, public beacon (FORGEABLE, development only)`,
        () => writePhase1(pool, curve, power, fd),
      );
      await timed(onProgress, `dev ptau 2^${power}: Lagrange sections from the public secrets`, () =>
        writeLagrange(pool, curve, power, secrets, fd),
      );
    } finally {
      await fd.close();
    }
  } finally {
    await pool.terminate();
  }
}

/** Sections 1–7: what `powersoftau new` + `beacon` write. Returns the beacon's τ, α, β. */
async function writePhase1(pool: WasmPool, curve: Curve, power: number, fd: BinFd): Promise<DevPtauSecrets> {
  const n = 2 ** power;
  const beaconHash = Buffer.from(devBeaconHash(power), "hex");
  const challenge = firstChallengeHash(curve, power);
  const key = beaconKey(curve, challenge, beaconRng(beaconHash, DEV_PTAU_ITERATIONS_EXP));
  const fr = (a: Uint8Array) => BigInt(curve.Fr.toObject(a) as bigint);
  const [tau, alpha, beta] = [fr(key.prv.tau), fr(key.prv.alpha), fr(key.prv.beta)];

  // header
  await bfu.startWriteSection(fd, 1);
  await fd.writeULE32(32);
  const q = new Uint8Array(32);
  let qq = curve.q;
  for (let i = 0; i < 32; i++, qq >>= 8n) q[i] = Number(qq & 0xffn);
  await fd.write(q);
  await fd.writeULE32(power);
  await fd.writeULE32(power);
  await bfu.endWriteSection(fd);

  // sections 2–6; the response hash takes each beacon chunk's compressed points in one update
  const response = new Blake2bStream().update(challenge);
  const starts = new Map<number, { pos: number; spec: GroupSpec; count: number }>();
  const firsts = new Map<number, Uint8Array[]>();
  const sections: [number, GroupSpec, number, bigint][] = [
    [2, G1_SPEC, 2 * n - 1, 1n],
    [3, G2_SPEC, n, 1n],
    [4, G1_SPEC, n, alpha],
    [5, G1_SPEC, n, beta],
    [6, G2_SPEC, 1, beta],
  ];
  for (const [id, spec, count, first] of sections) {
    await bfu.startWriteSection(fd, id);
    starts.set(id, { pos: fd.pos, spec, count });
    const chunkBytes = Math.floor(2 ** 20 / spec.sAff) * (spec.sAff / 2);
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    const flush = () => {
      response.update(
        pendingBytes === pending[0]?.length ? pending[0] : new Uint8Array(Buffer.concat(pending)),
      );
      pending = [];
      pendingBytes = 0;
    };
    await mulStream(pool, spec, count, powers(first, id === 6 ? 1n : tau), true, async (lem, c) => {
      if (!firsts.has(id)) firsts.set(id, [lem.slice(0, spec.sAff), lem.slice(spec.sAff, 2 * spec.sAff)]);
      await fd.write(lem);
      pending.push(c!);
      pendingBytes += c!.length;
      if (pendingBytes > chunkBytes) throw new PtauError("dev ptau: jobs straddle a beacon chunk");
      if (pendingBytes === chunkBytes) flush();
    });
    if (pendingBytes > 0) flush();
    await bfu.endWriteSection(fd);
  }
  const partialHash = response.partial();
  response.update(pubKeyBytes(curve, key, false));
  const responseHash = response.digest();

  // the next challenge: blake2b of the response hash and every point, uncompressed
  const nextChallenge = blake2b512().update(responseHash);
  const end = fd.pos;
  for (const id of [2, 3, 4, 5, 6]) {
    const { pos, spec, count } = starts.get(id)!;
    const jobs: Promise<Uint8Array[]>[] = [];
    const per = 16 * JOB_POINTS;
    for (let i = 0; i < count; i += per) {
      const data = await fd.read(Math.min(per, count - i) * spec.sAff, pos + i * spec.sAff);
      const job = pool.run({ op: "lemToU", g: spec.g, sAff: spec.sAff, data }, [data.buffer as ArrayBuffer]);
      job.catch(() => undefined); // awaited in order
      jobs.push(job);
      if (jobs.length >= pool.size) nextChallenge.update((await jobs.shift()!)[0]);
    }
    for (const j of jobs) nextChallenge.update((await j)[0]);
  }
  fd.pos = end;

  // the contribution record (snarkjs's writeContributions, one beacon contribution)
  const name = new TextEncoder().encode(DEV_PTAU_CONTRIBUTION_NAME.substring(0, 64));
  const params = new Uint8Array([
    1,
    name.length,
    ...name,
    2,
    DEV_PTAU_ITERATIONS_EXP,
    3,
    beaconHash.length,
    ...beaconHash,
  ]);
  await bfu.startWriteSection(fd, 7);
  await fd.writeULE32(1);
  await fd.write(firsts.get(2)![1]); // τ·G1
  await fd.write(firsts.get(3)![1]); // τ·G2
  await fd.write(firsts.get(4)![0]); // α·G1
  await fd.write(firsts.get(5)![0]); // β·G1
  await fd.write(firsts.get(6)![0]); // β·G2
  await fd.write(pubKeyBytes(curve, key, true));
  await fd.write(partialHash);
  await fd.write(new Uint8Array(nextChallenge.digest()));
  await fd.writeULE32(1); // type: beacon
  await fd.writeULE32(params.length);
  await fd.write(params);
  await bfu.endWriteSection(fd);
  return { tau, alpha, beta };
}

/**
 * Sections 12–15: what `prepare phase2` writes, from the secrets. Every level p of the four
 * sections takes the same Lagrange scalars l_i (times 1, 1, α, β; tauG1 has one more level), so
 * each chunk of them is computed once and its multiplications are written where they belong.
 */
async function writeLagrange(
  pool: WasmPool,
  curve: Curve,
  power: number,
  { tau, alpha, beta }: DevPtauSecrets,
  fd: BinFd,
): Promise<void> {
  const n = 2 ** power;
  const layout: [number, GroupSpec, number][] = [
    [12, G1_SPEC, 4 * n - 1],
    [13, G2_SPEC, 2 * n - 1],
    [14, G1_SPEC, 2 * n - 1],
    [15, G1_SPEC, 2 * n - 1],
  ];
  const start = new Map<number, number>();
  let end = fd.pos;
  for (const [id, spec, count] of layout) {
    const size = count * spec.sAff;
    await fd.writeULE32(id, end);
    await fd.writeULE64(size, end + 4);
    start.set(id, end + 12);
    end += 12 + size;
  }
  const pending: Promise<void>[] = [];
  let failed: { error: unknown } | undefined;
  const submit = async (id: number, spec: GroupSpec, scalars: Uint8Array, index: number) => {
    while (pending.length >= 3 * pool.size) await pending.shift();
    if (failed !== undefined) throw failed.error;
    const at = start.get(id)! + index * spec.sAff;
    const job = pool
      .run({ op: "mul", g: spec.g, sAff: spec.sAff, scalars, compressed: false }, [
        scalars.buffer as ArrayBuffer,
      ])
      .then(([lem]) => fd.write(lem, at))
      .catch((error: unknown) => {
        failed ??= { error };
      });
    pending.push(job);
  };
  for (let p = 0; p <= power + 1; p++) {
    const extra = p > power; // tauG1's level 2^(power+1), from (1, τ, …, τ^(2n−2), 0)
    const omega = rootOfUnity(curve, p);
    const size = 2 ** p;
    for (let i = 0; i < size; i += JOB_POINTS) {
      const l = lagrangeScalarRange(tau, 1n, p, omega, extra, i, Math.min(JOB_POINTS, size - i));
      const index = size - 1 + i; // the lower levels come first
      const bytes = scalarBytes(l);
      if (extra) {
        await submit(12, G1_SPEC, bytes, index);
        continue;
      }
      await submit(12, G1_SPEC, bytes.slice(), index);
      await submit(13, G2_SPEC, bytes, index);
      await submit(14, G1_SPEC, scalarBytes(l.map((x) => (x * alpha) % P)), index);
      await submit(15, G1_SPEC, scalarBytes(l.map((x) => (x * beta) % P)), index);
    }
  }
  await Promise.all(pending);
  if (failed !== undefined) throw failed.error;
  fd.pos = end;
}
