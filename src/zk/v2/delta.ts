/**
 * The per-deal δ update of protocol v2 (PROTOCOL.md, "Module keys, per deal and per circuit").
 *
 * The buyer recomputes the shape's initial key itself (`newZKey`, δ = 1), makes the only phase-2
 * contribution with a fresh secret s (δ' = s·δ, L and H divided by s; snarkjs's `zkey contribute`
 * with entropy from the OS, the secret never stored), and hands the key to the contributor.
 *
 * The contributor accepts it only if, against ITS OWN initial key (never a file made by the
 * other party, whose H section could hide a backdoor along τ^(n−1)·t(τ)):
 * - every section except δ (in the header), L, H and the contribution list is byte-identical;
 * - [δ']₁ ≠ O, [δ']₂ ≠ O, [δ']₂ ∈ G2, e([δ']₁, [δ]₂) = e([δ]₁, [δ']₂)  (with [δ']₁ = O, A would be
 *   deterministic and the buyer could test a guess of the weights against W_m);
 * - e(Σ ρ_i·L'_i, [δ']₂) = e(Σ ρ_i·L_i, [δ]₂) and the same over ALL H points, for fresh local
 *   random 128-bit ρ_i (two MSMs per section, two pairings per check; far cheaper than
 *   `zkey verify`, which also misses the H backdoor);
 * - [δ']₂ equals the value the deal records on-chain (when given).
 */
import { createHash } from "node:crypto";
import { ChaCha, type Bn128 } from "ffjavascript";
import { ZkError } from "../errors.js";
import { progressLogger, timed, type ProgressFn } from "../progress.js";
import { engine, inG2Subgroup, random128 } from "../verifier.js";
import * as snarkjs from "snarkjs";
import { g1FromLem, g2FromLem, groth16Header, readZkeySections, type G1Point, type G2Point } from "./key.js";
import { scalarsLE } from "./msm.js";
import { beaconRng } from "../devptau.js";

/** A deal key is not a valid δ update of the initial key. */
export class DeltaUpdateError extends ZkError {
  constructor(message: string) {
    super("DELTA_UPDATE", message);
  }
}

/** The δ of a zkey ([δ]₁, [δ]₂ in EIP-197 order). */
export async function deltaOf(zkey: string): Promise<{ delta1: G1Point; delta2: G2Point }> {
  const { sections } = await readZkeySections(zkey, [2]);
  const sec = sections.get(2)!;
  const h = groth16Header(sec);
  return {
    delta1: await g1FromLem(sec.slice(h.at.delta1, h.at.delta1 + 64)),
    delta2: await g2FromLem(sec.slice(h.at.delta2, h.at.delta2 + 128)),
  };
}

/**
 * Makes one phase-2 contribution: δ' = s·δ with a fresh secret s from the OS's entropy (mixed by
 * snarkjs with its own randomness, never written anywhere). Returns the contribution hash (hex).
 */
export async function contributeDelta(
  inZkey: string,
  outZkey: string,
  opts: { name?: string; onProgress?: ProgressFn } = {},
): Promise<string> {
  const entropy = Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(64))).toString("hex");
  const hash = await timed(opts.onProgress, "phase-2 contribution (fresh δ')", () =>
    snarkjs.zKey.contribute(
      inZkey,
      outZkey,
      opts.name ?? "zklora deal key",
      entropy,
      progressLogger(opts.onProgress, "contribute"),
    ),
  );
  if (hash === false) throw new DeltaUpdateError(`snarkjs could not contribute to ${inZkey}`);
  return Buffer.from(hash).toString("hex");
}

/** An affine G1 point as a zkey stores it (two Montgomery-form coordinates) → the engine's form. */
function g1FromFileBytes(c: Bn128, s: Uint8Array): Uint8Array {
  return c.G1.toAffine(c.G1.fromObject([c.F1.toObject(s.slice(0, 32)), c.F1.toObject(s.slice(32, 64)), 1n]));
}

/** An affine G2 point as a zkey stores it → the engine's form. */
function g2FromFileBytes(c: Bn128, s: Uint8Array): Uint8Array {
  return c.G2.toAffine(
    c.G2.fromObject([
      [c.F1.toObject(s.slice(0, 32)), c.F1.toObject(s.slice(32, 64))],
      [c.F1.toObject(s.slice(64, 96)), c.F1.toObject(s.slice(96, 128))],
      [1n, 0n],
    ]),
  );
}

const SECTION_NAMES: Record<number, string> = {
  1: "protocol header",
  3: "IC",
  4: "coefficients",
  5: "A points",
  6: "B1 points",
  7: "B2 points",
  8: "L points",
  9: "H points",
};

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return (
    a.byteLength === b.byteLength &&
    Buffer.compare(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
      Buffer.from(b.buffer, b.byteOffset, b.byteLength),
    ) === 0
  );
}

/**
 * Checks that `dealZkey` is a δ update of `baseZkey` (the checker's own initial key); see the
 * module comment. Throws DeltaUpdateError naming the first failed check; returns the new δ.
 */
export async function checkDeltaUpdate(
  baseZkey: string,
  dealZkey: string,
  opts: { expectedDelta2?: G2Point; onProgress?: ProgressFn } = {},
): Promise<{ delta1: G1Point; delta2: G2Point }> {
  const c = await engine();
  const base = (await readZkeySections(baseZkey)).sections;
  const deal = (await readZkeySections(dealZkey)).sections;
  const ids = new Set([...base.keys(), ...deal.keys()]);
  for (const id of [...ids].sort((a, b) => a - b)) {
    if (id === 2 || id === 8 || id === 9 || id === 10) continue;
    const a = base.get(id);
    const b = deal.get(id);
    if (a === undefined || b === undefined || !sameBytes(a, b)) {
      throw new DeltaUpdateError(
        `section ${id} (${SECTION_NAMES[id] ?? "unknown"}) differs from the initial key: only δ, L and H may change`,
      );
    }
  }
  const h0 = groth16Header(base.get(2)!);
  const s0 = base.get(2)!;
  const s1 = deal.get(2)!;
  if (
    s1.byteLength !== s0.byteLength ||
    !sameBytes(s0.subarray(0, h0.at.delta1), s1.subarray(0, h0.at.delta1))
  ) {
    throw new DeltaUpdateError("the header differs from the initial key beyond δ");
  }
  for (const id of [8, 9]) {
    if (deal.get(id)!.byteLength !== base.get(id)!.byteLength) {
      throw new DeltaUpdateError(
        `section ${id} (${SECTION_NAMES[id]}) has another size than the initial key's`,
      );
    }
  }
  const lem1 = (s: Uint8Array) => g1FromFileBytes(c, s);
  const lem2 = (s: Uint8Array) => g2FromFileBytes(c, s);
  const isZero1 = (s: Uint8Array) => s.every((b) => b === 0);
  const d1Bytes = s1.subarray(h0.at.delta1, h0.at.delta1 + 64);
  const d2Bytes = s1.subarray(h0.at.delta2, h0.at.delta2 + 128);
  if (isZero1(d1Bytes)) throw new DeltaUpdateError("[δ']₁ is the point at infinity");
  if (isZero1(d2Bytes)) throw new DeltaUpdateError("[δ']₂ is the point at infinity");
  const d1 = lem1(d1Bytes);
  const d2 = lem2(d2Bytes);
  const b1 = lem1(s0.subarray(h0.at.delta1, h0.at.delta1 + 64));
  const b2 = lem2(s0.subarray(h0.at.delta2, h0.at.delta2 + 128));
  if (!c.G1.isValid(d1)) throw new DeltaUpdateError("[δ']₁ is not on the curve");
  if (!c.G2.isValid(d2) || !inG2Subgroup(c, d2)) throw new DeltaUpdateError("[δ']₂ is not in G2");
  /** e(P1, Q1) == e(P2, Q2) */
  const pairEq = (P1: Uint8Array, Q1: Uint8Array, P2: Uint8Array, Q2: Uint8Array): boolean => {
    const ml = (p: Uint8Array, q: Uint8Array) =>
      c.millerLoop(c.prepareG1(c.G1.toJacobian(p)), c.prepareG2(c.G2.toJacobian(q)));
    if (c.G1.isZero(P1) || c.G1.isZero(P2)) return c.G1.isZero(P1) && c.G1.isZero(P2);
    const f = c.Gt.mul(ml(c.G1.neg(P1), Q1), ml(P2, Q2));
    return c.Gt.eq(c.finalExponentiation(f), c.Gt.one);
  };
  if (!pairEq(d1, b2, b1, d2)) throw new DeltaUpdateError("[δ']₁ and [δ']₂ are not the same multiple of δ");
  for (const id of [8, 9]) {
    const n = base.get(id)!.byteLength / 64;
    const rho = new Array<bigint>(n);
    for (let i = 0; i < n; i++) rho[i] = random128();
    const sc = scalarsLE(rho, 16);
    const ok = await timed(opts.onProgress, `δ update: ${SECTION_NAMES[id]} (${n} points)`, async () => {
      const old = await c.G1.multiExpAffine(base.get(id)!, sc);
      const neu = await c.G1.multiExpAffine(deal.get(id)!, sc);
      return pairEq(neu, d2, old, b2);
    });
    if (!ok)
      throw new DeltaUpdateError(
        `section ${id} (${SECTION_NAMES[id]}) is not the initial key's divided by the δ ratio`,
      );
  }
  const delta1 = await g1FromLem(d1Bytes.slice());
  const delta2 = await g2FromLem(d2Bytes.slice());
  if (opts.expectedDelta2 !== undefined && opts.expectedDelta2.some((v, i) => v !== delta2[i])) {
    throw new DeltaUpdateError("[δ']₂ of the key is not the one recorded for the deal");
  }
  return { delta1, delta2 };
}

/**
 * Applies a public beacon as the last phase-2 contribution (snarkjs `zkey beacon`): its secret comes
 * from `beaconHash` (hex, e.g. a future block hash announced in advance) iterated 2^iterationsExp
 * times, so nobody who contributed before can have chosen it. Returns the contribution hash (hex).
 */
export async function applyBeacon(
  inZkey: string,
  outZkey: string,
  opts: { beaconHash: string; iterationsExp: number; name?: string; onProgress?: ProgressFn },
): Promise<string> {
  if (!/^(0x)?([0-9a-fA-F]{2}){1,255}$/.test(opts.beaconHash)) {
    throw new DeltaUpdateError("the beacon hash must be hex bytes (e.g. a block hash)");
  }
  if (!Number.isInteger(opts.iterationsExp) || opts.iterationsExp < 10 || opts.iterationsExp > 63) {
    throw new DeltaUpdateError(
      `the beacon's iterations exponent must be 10..63 (snarkjs), got ${opts.iterationsExp}`,
    );
  }
  const hash = await timed(opts.onProgress, "phase-2 beacon", () =>
    snarkjs.zKey.beacon(
      inZkey,
      outZkey,
      opts.name ?? "zklora beacon",
      opts.beaconHash.replace(/^0x/, ""),
      opts.iterationsExp,
      progressLogger(opts.onProgress, "beacon"),
    ),
  );
  if (hash === false) throw new DeltaUpdateError(`snarkjs could not apply the beacon to ${inZkey}`);
  return Buffer.from(hash).toString("hex");
}

/** One phase-2 contribution recorded in a zkey (its section 10), as `zkey verify` lists them. */
export interface ContributionRecord {
  index: number;
  name: string;
  /** blake2b-512 of the contribution's public key (what `zkey contribute` prints), hex. */
  hash: string;
  beacon: boolean;
}

interface CurveExtras {
  fromRng(rng: unknown): Uint8Array;
  toUncompressed(p: Uint8Array): Uint8Array;
}

/**
 * Verifies the chain of phase-2 contributions recorded in `zkey`, in order, as `zkey verify` does:
 * each contribution's transcript is the hash of everything before it and its own [s]₁, [s·x]₁; its
 * proof of knowledge e([s]₁, [s·x·p]₂) = e([s·x]₁, [p]₂) holds for p hashed from that transcript;
 * its δ after is the δ before times x; and the key's δ is the last one. Returns every contribution
 * with its hash, so each party can find its own; a beacon's key must be the one its hash and
 * iterations derive. Throws DeltaUpdateError naming the index of the first bad contribution.
 */
export async function verifyContributions(zkey: string): Promise<ContributionRecord[]> {
  const c = await engine();
  const ext1 = c.G1 as unknown as CurveExtras;
  const ext2 = c.G2 as unknown as CurveExtras;
  const { sections } = await readZkeySections(zkey, [2, 10]);
  const sec = sections.get(10);
  const hdr = sections.get(2);
  if (sec === undefined || hdr === undefined)
    throw new DeltaUpdateError(`${zkey} has no contribution section`);
  const lem1 = (s: Uint8Array) => g1FromFileBytes(c, s);
  const lem2 = (s: Uint8Array) => g2FromFileBytes(c, s);
  const sameRatio = (a1: Uint8Array, b1: Uint8Array, a2: Uint8Array, b2: Uint8Array): boolean => {
    // e(a1, b2) == e(b1, a2)
    if (c.G1.isZero(a1) || c.G1.isZero(b1) || c.G2.isZero(a2) || c.G2.isZero(b2)) return false;
    const ml = (p: Uint8Array, q: Uint8Array) =>
      c.millerLoop(c.prepareG1(c.G1.toJacobian(p)), c.prepareG2(c.G2.toJacobian(q)));
    return c.Gt.eq(c.finalExponentiation(c.Gt.mul(ml(c.G1.neg(a1), b2), ml(b1, a2))), c.Gt.one);
  };
  const view = new DataView(sec.buffer, sec.byteOffset, sec.byteLength);
  const csHash = sec.subarray(0, 64);
  const n = view.getUint32(64, true);
  let pos = 68;
  const chain: Uint8Array[] = [csHash];
  let curDelta = c.G1.toAffine(c.G1.g);
  const out: ContributionRecord[] = [];
  for (let i = 0; i < n; i++) {
    if (pos + 64 * 3 + 128 + 64 + 4 > sec.byteLength)
      throw new DeltaUpdateError(`contribution ${i}: truncated`);
    const deltaAfter = lem1(sec.subarray(pos, pos + 64));
    const g1s = lem1(sec.subarray(pos + 64, pos + 128));
    const g1sx = lem1(sec.subarray(pos + 128, pos + 192));
    const g2spx = lem2(sec.subarray(pos + 192, pos + 320));
    const transcript = sec.subarray(pos + 320, pos + 384);
    const type = view.getUint32(pos + 384, true);
    pos += 388;
    let name = "";
    let iterationsExp: number | undefined;
    let beaconHash: Uint8Array | undefined;
    const paramsLen = view.getUint32(pos, true);
    const params = sec.subarray(pos + 4, pos + 4 + paramsLen);
    pos += 4 + paramsLen;
    for (let p = 0; p < params.length;) {
      const id = params[p];
      if (id === 1) {
        name = new TextDecoder().decode(params.subarray(p + 2, p + 2 + params[p + 1]));
        p += 2 + params[p + 1];
      } else if (id === 2) {
        iterationsExp = params[p + 1];
        p += 2;
      } else if (id === 3) {
        beaconHash = params.slice(p + 2, p + 2 + params[p + 1]);
        p += 2 + params[p + 1];
      } else throw new DeltaUpdateError(`contribution ${i}: unknown parameter ${id}`);
    }
    const label = `contribution ${i}${name === "" ? "" : ` (${name})`}`;
    if (type === 1) {
      // A beacon's secret is public: it must be the one its hash and iterations derive (snarkjs's
      // beacon: Fr then G1 drawn from the beacon's ChaCha), else it is an ordinary contribution
      // wearing a beacon's name.
      if (iterationsExp === undefined || beaconHash === undefined) {
        throw new DeltaUpdateError(`${label}: a beacon without its hash or iteration count`);
      }
      const rng = beaconRng(beaconHash, iterationsExp);
      const k = c.Fr.fromRng(rng);
      const s1 = c.G1.toAffine(c.G1.fromRng(rng));
      if (!c.G1.eq(s1, g1s) || !c.G1.eq(c.G1.toAffine(c.G1.timesFr(s1, k)), g1sx)) {
        throw new DeltaUpdateError(
          `${label}: its key is not the one its beacon (hash ${Buffer.from(beaconHash).toString("hex")}, 2^${iterationsExp} iterations) derives`,
        );
      }
    }
    const ourTranscript = createHash("blake2b512");
    for (const part of chain) ourTranscript.update(part);
    ourTranscript.update(ext1.toUncompressed(g1s)).update(ext1.toUncompressed(g1sx));
    if (!Buffer.from(ourTranscript.digest()).equals(Buffer.from(transcript))) {
      throw new DeltaUpdateError(`${label}: its transcript does not follow the contributions before it`);
    }
    const tv = new DataView(transcript.buffer, transcript.byteOffset, 32);
    const g2sp = c.G2.toAffine(
      ext2.fromRng(new ChaCha(Array.from({ length: 8 }, (_, k) => tv.getUint32(k * 4)))),
    );
    if (!sameRatio(g1s, g1sx, g2sp, g2spx)) {
      throw new DeltaUpdateError(`${label}: its proof of knowledge of the secret does not verify`);
    }
    if (!sameRatio(curDelta, deltaAfter, g2sp, g2spx)) {
      throw new DeltaUpdateError(`${label}: its δ is not the δ before it times its secret`);
    }
    const pub = [
      ext1.toUncompressed(deltaAfter),
      ext1.toUncompressed(g1s),
      ext1.toUncompressed(g1sx),
      ext2.toUncompressed(g2spx),
      transcript.slice(),
    ];
    chain.push(...pub);
    const h = createHash("blake2b512");
    for (const part of pub) h.update(part);
    out.push({ index: i, name, hash: h.digest("hex"), beacon: type === 1 });
    curDelta = deltaAfter;
  }
  const h0 = groth16Header(hdr);
  if (!c.G1.eq(lem1(hdr.subarray(h0.at.delta1, h0.at.delta1 + 64)), curDelta)) {
    throw new DeltaUpdateError("the key's δ is not the one its last contribution produced");
  }
  return out;
}
