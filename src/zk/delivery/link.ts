/**
 * The link proof of a module's delivery (PROTOCOL.md: "One Okamoto proof with a shared response
 * vector for w and independent salt responses links W'_m to W_m; bind chunk indices").
 *
 * Statement: one vector w (N weights) and salts salt, salt'_0..salt'_{n−1} with
 *
 *   W_m  = Σ_i w_i·IC[w_i] + salt·IC[salt]                       (module shape key's bases)
 *   W'_c = Σ_{i in chunk c} w_i·IC'[w_(i−c·CAP)] + salt'_c·IC'[salt]   (delivery key's bases)
 *
 * Fiat–Shamir Okamoto: nonces r_i per weight, r_s, r'_c per chunk (uniform, fresh per proof);
 * T = Σ r_i·IC[w_i] + r_s·IC[salt], T'_c = Σ_{i in chunk c} r_i·IC'[w_(i−c·CAP)] + r'_c·IC'[salt];
 * c = keccak256(abi.encode(bytes32 "zklora/v2/delivery-link", chainId, escrow, contributor, m,
 * bytes32 moduleKeyHash, bytes32 deliveryKeyHash, CAP, BITS, W_m, T, W'[], T'[], hK)) mod p;
 * z_i = r_i + c·w_i, z_s = r_s + c·salt, z'_c = r'_c + c·salt'_c. The verifier checks one MSM per
 * equation: Σ z_i·IC[w_i] + z_s·IC[salt] == T + c·W_m and, per chunk, Σ_{i in c} z_i·IC'[..] +
 * z'_c·IC'[salt] == T'_c + c·W'_c. The shared z_i make the extracted openings of W_m and of the
 * W'_c the same weights (padding positions of the last chunk have no response: they open to 0);
 * the arrays W'[], T'[] in the challenge bind each W'_c to its index c, and hK binds the key. The
 * proof is also W'_c's proof of knowledge (without which W'_c could absorb IC points of its own).
 */
import { AbiCoder, encodeBytes32String, getAddress, keccak256 } from "ethers";
import { P, toField } from "../field.js";
import { engine, type VerifyOutcome } from "../verifier.js";
import { randomFieldElement, type PokContext } from "../v2/commit.js";
import { baseIndex, g1Coords, g1Point, weightCount, type G1Point, type ShapeKey } from "../v2/key.js";
import { msmField } from "../v2/msm.js";
import { DeliveryCheckError, DeliveryRangeError } from "./errors.js";
import type { DeliveryKey } from "./key.js";
import { chunkBases } from "./prove.js";
import { chunkRange, validateDeliveryPlan, type DeliveryPlan } from "./shape.js";

/** The link proof: T, T'_c and the responses. */
export interface DeliveryLink {
  T: G1Point;
  /** T'_0..T'_{n−1}. */
  Tc: G1Point[];
  /** z_0..z_{N−1}: the shared weight responses. */
  z: bigint[];
  /** z_s: the module salt's response. */
  zs: bigint;
  /** z'_0..z'_{n−1}: the chunk salts' responses. */
  zc: bigint[];
}

/** What the link proof is about. */
export interface DeliveryLinkStatement {
  /** The module's commitment W_m. */
  W: G1Point;
  /** W'_0..W'_{n−1}, in chunk order. */
  Wc: readonly G1Point[];
  hK: bigint;
}

const LINK_TAG = encodeBytes32String("zklora/v2/delivery-link");

/** The module key's bases of w and salt (IC[w_0..w_N-1], IC[salt], contiguous). */
function moduleBases(key: ShapeKey): Uint8Array {
  const s = baseIndex(key.shape, "w");
  return key.bases.subarray(s * 64, (s + weightCount(key.shape) + 1) * 64);
}

/** Checks that the plan fits both keys (N of the module, CAP of the delivery key). */
function checkPlan(key: ShapeKey, dkey: DeliveryKey, plan: DeliveryPlan): DeliveryPlan {
  const p = validateDeliveryPlan(plan, dkey.shape.BITS);
  if (p.N !== weightCount(key.shape))
    throw new DeliveryRangeError(
      `the plan is for ${p.N} weights, the module ${key.name} has ${weightCount(key.shape)}`,
    );
  if (p.cap !== dkey.shape.CAP)
    throw new DeliveryRangeError(
      `the plan's chunks hold ${p.cap} weights, the key ${dkey.name} ${dkey.shape.CAP}`,
    );
  return p;
}

/** The link challenge (see the module comment). */
export function deliveryLinkChallenge(
  key: ShapeKey,
  dkey: DeliveryKey,
  ctx: PokContext,
  st: DeliveryLinkStatement,
  T: G1Point,
  Tc: readonly G1Point[],
): bigint {
  const enc = AbiCoder.defaultAbiCoder().encode(
    [
      "bytes32",
      "uint256",
      "address",
      "address",
      "uint256",
      "bytes32",
      "bytes32",
      "uint256",
      "uint256",
      "uint256[2]",
      "uint256[2]",
      "uint256[2][]",
      "uint256[2][]",
      "uint256",
    ],
    [
      LINK_TAG,
      ctx.chainId,
      getAddress(ctx.escrow),
      getAddress(ctx.contributor),
      ctx.module,
      key.keyHash,
      dkey.keyHash,
      dkey.shape.CAP,
      dkey.shape.BITS,
      st.W,
      T,
      st.Wc,
      Tc,
      st.hK,
    ],
  );
  return BigInt(keccak256(enc)) % P;
}

/** The module's opening and the chunks' salts. */
export interface DeliveryLinkOpening {
  /** N signed weights (`weightVector` order). */
  w: readonly bigint[];
  /** W_m's salt. */
  salt: bigint;
  /** salt'_0..salt'_{n−1}. */
  saltPrimes: readonly bigint[];
}

/**
 * Proves the link (fresh nonces each call) and checks it before returning: throws
 * DeliveryCheckError when W_m or a W'_c is not the commitment of this opening.
 */
export async function proveDeliveryLink(
  key: ShapeKey,
  dkey: DeliveryKey,
  plan: DeliveryPlan,
  ctx: PokContext,
  o: DeliveryLinkOpening,
  st: DeliveryLinkStatement,
): Promise<DeliveryLink> {
  const p = checkPlan(key, dkey, plan);
  if (o.w.length !== p.N)
    throw new DeliveryRangeError(`the opening has ${o.w.length} weights, the plan ${p.N}`);
  if (o.saltPrimes.length !== p.chunks || st.Wc.length !== p.chunks)
    throw new DeliveryRangeError(`the plan has ${p.chunks} chunks: as many salts' and W'_c are needed`);
  const r = Array.from({ length: p.N }, () => randomFieldElement());
  const rs = randomFieldElement();
  const rc = Array.from({ length: p.chunks }, () => randomFieldElement());
  const T = await g1Coords(await msmField(moduleBases(key), [...r, rs]));
  const Tc: G1Point[] = [];
  for (let c = 0; c < p.chunks; c++) {
    const { start, end } = chunkRange(p, c);
    Tc.push(await g1Coords(await msmField(chunkBases(dkey, end - start), [...r.slice(start, end), rc[c]])));
  }
  const ch = deliveryLinkChallenge(key, dkey, ctx, st, T, Tc);
  const z = o.w.map((v, i) => (r[i] + ch * toField(v)) % P);
  const zs = (rs + ch * toField(o.salt)) % P;
  const zc = o.saltPrimes.map((s, c) => (rc[c] + ch * toField(s)) % P);
  r.fill(0n);
  rc.fill(0n);
  const link: DeliveryLink = { T, Tc, z, zs, zc };
  const ok = await checkDeliveryLink(key, dkey, p, ctx, st, link);
  if (!ok.ok) throw new DeliveryCheckError(`the link proof does not verify: ${ok.reason}`, ctx.module);
  return link;
}

/** Checks a link proof; says why it fails. Never throws on untrusted input. */
export async function checkDeliveryLink(
  key: ShapeKey,
  dkey: DeliveryKey,
  plan: DeliveryPlan,
  ctx: PokContext,
  st: DeliveryLinkStatement,
  link: DeliveryLink,
): Promise<VerifyOutcome> {
  const c = await engine();
  try {
    const p = checkPlan(key, dkey, plan);
    if (!Array.isArray(st?.Wc) || st.Wc.length !== p.chunks)
      return { ok: false, reason: `the plan has ${p.chunks} chunks, the statement ${st?.Wc?.length} W'_c` };
    if (typeof st.hK !== "bigint" || st.hK < 0n || st.hK >= P)
      return { ok: false, reason: "hK is not a field element" };
    if (!Array.isArray(link?.z) || link.z.length !== p.N)
      return { ok: false, reason: `the proof needs ${p.N} weight responses` };
    if (
      !Array.isArray(link.zc) ||
      link.zc.length !== p.chunks ||
      !Array.isArray(link.Tc) ||
      link.Tc.length !== p.chunks
    )
      return { ok: false, reason: `the proof needs ${p.chunks} chunk commitments and responses` };
    for (const v of [...link.z, link.zs, ...link.zc])
      if (typeof v !== "bigint" || v < 0n || v >= P)
        return { ok: false, reason: "a response is not a field element" };
    const point = async (what: string, q: G1Point): Promise<Uint8Array | string> => {
      if (!Array.isArray(q) || q.length !== 2 || q.some((x) => typeof x !== "bigint" || x < 0n || x >= c.q))
        return `${what} is not a pair of base-field coordinates`;
      const pt = await g1Point(q);
      if (!c.G1.isZero(pt) && !c.G1.isValid(pt)) return `${what} is not on the curve`;
      return pt;
    };
    const pts: Uint8Array[] = [];
    for (const [what, q] of [
      ["W_m", st.W],
      ["T", link.T],
      ...st.Wc.map((w, i) => [`W'_${i}`, w] as const),
      ...link.Tc.map((t, i) => [`T'_${i}`, t] as const),
    ] as const) {
      const pt = await point(what, q);
      if (typeof pt === "string") return { ok: false, reason: pt };
      pts.push(pt);
    }
    const ch = deliveryLinkChallenge(key, dkey, ctx, st, link.T, link.Tc);
    const lhs = await msmField(moduleBases(key), [...link.z, link.zs]);
    if (!c.G1.eq(lhs, c.G1.add(pts[1], c.G1.timesScalar(pts[0], ch))))
      return { ok: false, reason: "the module equation (W_m) does not hold" };
    for (let i = 0; i < p.chunks; i++) {
      const { start, end } = chunkRange(p, i);
      const l = await msmField(chunkBases(dkey, end - start), [...link.z.slice(start, end), link.zc[i]]);
      const Wc = pts[2 + i];
      const Tc = pts[2 + p.chunks + i];
      if (!c.G1.eq(l, c.G1.add(Tc, c.G1.timesScalar(Wc, ch))))
        return { ok: false, reason: `the equation of chunk ${i} (W'_${i}) does not hold` };
    }
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: `malformed link proof: ${(err as Error).message}` };
  }
}

/** Throws DeliveryCheckError (naming the module) unless the link proof holds. */
export async function verifyDeliveryLink(
  key: ShapeKey,
  dkey: DeliveryKey,
  plan: DeliveryPlan,
  ctx: PokContext,
  st: DeliveryLinkStatement,
  link: DeliveryLink,
): Promise<void> {
  const r = await checkDeliveryLink(key, dkey, plan, ctx, st, link);
  if (!r.ok)
    throw new DeliveryCheckError(
      `module ${ctx.module} (${key.name}): the delivery link: ${r.reason}`,
      ctx.module,
    );
}
