/**
 * The weight commitment W_m and its proof of knowledge (PROTOCOL.md, "Commitments").
 *
 *   W_m = Σ_i w_i·IC[w_i] + salt·IC[salt]
 *
 * over the shape key's bases, with w = A (DIN x R, row-major) || B (R x DOUT, row-major) as field
 * elements and salt uniform in F_p (so W_m is perfectly hiding).
 *
 * Proof of knowledge of the opening (Fiat–Shamir Okamoto): nonces r_0..r_N uniform in F_p, fresh
 * per proof; T = Σ r_i·G_i over G = (IC[w_0..w_N-1], IC[salt]); c = H(context, shape key, W_m, T);
 * z_i = r_i + c·v_i with v = (w, salt). The verifier checks Σ z_i·G_i == T + c·W_m (one MSM of
 * N + 1 points). The challenge hashes T and W_m (without T any W_m would pass) and the deal context
 * (chain, escrow, contributor, module index) and the shape key (keyHash covers the r1cs, the ptau
 * and every base), so a proof is valid for one W_m in one place only.
 *
 * Why it is mandatory: γ is the G2 generator, so any phase-1 G1 point added to W_m acts as a
 * constant column of the R1CS (e.g. W_m = −(IC_0 + ρ·IC[ρ] + fY·IC[fY] + D_X) with A = [α]₁,
 * B = [β]₂, C = O passes the bare pairing check). With the proof of knowledge, W_m opens to
 * weights over the IC bases, and Groth16's knowledge soundness applies to (rho, fY, x, w, salt).
 */
import { AbiCoder, getAddress, keccak256, encodeBytes32String } from "ethers";
import { ShapeError, ZkError } from "../errors.js";
import { P, toField } from "../field.js";
import { engine } from "../verifier.js";
import {
  baseIndex,
  g1Coords,
  g1Point,
  weightCount,
  type G1Point,
  type ShapeKey,
  type V2Shape,
} from "./key.js";
import { msmField, msmSigned } from "./msm.js";

/** The quantized weights of one module and the commitment's salt. */
export interface ModuleOpening {
  /** DIN x R signed integers. */
  A: readonly (readonly bigint[])[];
  /** R x DOUT signed integers. */
  B: readonly (readonly bigint[])[];
  /** Uniform in F_p. */
  salt: bigint;
}

/** Where a commitment is used: the proof of knowledge is bound to it. */
export interface PokContext {
  chainId: bigint;
  escrow: string;
  contributor: string;
  /** The module's index in the deal. */
  module: number;
}

/** A proof of knowledge of W_m's opening: T and N + 1 responses. */
export interface WeightPok {
  T: G1Point;
  /** z_0..z_{N-1} for the weights, z_N for the salt (field elements). */
  z: bigint[];
}

/** The proof of knowledge does not hold. */
export class PokError extends ZkError {
  constructor(message: string) {
    super("POK", message);
  }
}

/** A uniform field element from the platform's CSPRNG (48 bytes reduced: bias below 2^-128). */
export function randomFieldElement(): bigint {
  const b = globalThis.crypto.getRandomValues(new Uint8Array(48));
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v % P;
}

/** n uniform field elements (one CSPRNG call). */
function randomFieldElements(n: number): bigint[] {
  const out = new Array<bigint>(n);
  const chunk = 1024;
  for (let s = 0; s < n; s += chunk) {
    const m = Math.min(chunk, n - s);
    const b = globalThis.crypto.getRandomValues(new Uint8Array(48 * m));
    const hex = Buffer.from(b).toString("hex");
    for (let i = 0; i < m; i++) out[s + i] = BigInt("0x" + hex.slice(96 * i, 96 * (i + 1))) % P;
  }
  return out;
}

/** Checks a module opening's dimensions against a shape. */
export function checkOpening(shape: V2Shape, o: ModuleOpening): void {
  const half = (P - 1n) / 2n;
  const mat = (M: readonly (readonly bigint[])[], rows: number, cols: number, what: string) => {
    if (!Array.isArray(M) || M.length !== rows)
      throw new ShapeError(`${what} must have ${rows} rows, got ${M?.length}`);
    for (let r = 0; r < rows; r++) {
      if (!Array.isArray(M[r]) || M[r].length !== cols) {
        throw new ShapeError(`${what} row ${r} must have ${cols} entries, got ${M[r]?.length}`);
      }
      for (const v of M[r]) {
        if (typeof v !== "bigint" || v > half || -v > half)
          throw new ShapeError(`${what} row ${r} holds ${String(v)}: not a signed integer below p/2`);
      }
    }
  };
  mat(o.A, shape.DIN, shape.R, "A");
  mat(o.B, shape.R, shape.DOUT, "B");
  if (typeof o.salt !== "bigint" || o.salt < 0n || o.salt >= P)
    throw new ShapeError("salt must be a field element");
}

/** w = A (row-major) || B (row-major) as signed integers. */
export function weightVector(shape: V2Shape, o: ModuleOpening): bigint[] {
  checkOpening(shape, o);
  const w: bigint[] = [];
  for (const row of o.A) for (const v of row) w.push(v);
  for (const row of o.B) for (const v of row) w.push(v);
  return w;
}

/** The bases of the weights and the salt (IC[w_0..w_N-1], IC[salt]), contiguous. */
function weightBases(key: ShapeKey): Uint8Array {
  const s = baseIndex(key.shape, "w");
  return key.bases.subarray(s * 64, (s + weightCount(key.shape) + 1) * 64);
}

/** W_m = Σ w_i·IC[w_i] + salt·IC[salt]. */
export async function weightCommitment(key: ShapeKey, o: ModuleOpening): Promise<G1Point> {
  const c = await engine();
  const w = weightVector(key.shape, o);
  const bases = weightBases(key);
  const n = w.length;
  const pw = await msmSigned(bases.subarray(0, n * 64), w);
  const ps = c.G1.timesScalar(bases.subarray(n * 64, (n + 1) * 64), o.salt);
  return g1Coords(c.G1.add(pw, ps));
}

const POK_TAG = encodeBytes32String("zklora/v2/pok");

/**
 * c = keccak256(abi.encode(bytes32 "zklora/v2/pok", uint256 chainId, address escrow, address
 * contributor, uint256 m, uint256 DIN, uint256 R, uint256 DOUT, bytes32 ptauSha256, bytes32
 * r1csSha256, bytes32 keyHash, uint256[2] W_m, uint256[2] T)) mod p.
 */
export function pokChallenge(key: ShapeKey, ctx: PokContext, W: G1Point, T: G1Point): bigint {
  const enc = AbiCoder.defaultAbiCoder().encode(
    [
      "bytes32",
      "uint256",
      "address",
      "address",
      "uint256",
      "uint256",
      "uint256",
      "uint256",
      "bytes32",
      "bytes32",
      "bytes32",
      "uint256[2]",
      "uint256[2]",
    ],
    [
      POK_TAG,
      ctx.chainId,
      getAddress(ctx.escrow),
      getAddress(ctx.contributor),
      ctx.module,
      key.shape.DIN,
      key.shape.R,
      key.shape.DOUT,
      "0x" + key.ptau.sha256,
      "0x" + key.r1csSha256,
      key.keyHash,
      W,
      T,
    ],
  );
  return BigInt(keccak256(enc)) % P;
}

/** Commits to a module's weights and proves knowledge of the opening (fresh nonces each call). */
export async function commitWeights(
  key: ShapeKey,
  o: ModuleOpening,
  ctx: PokContext,
): Promise<{ W: G1Point; pok: WeightPok }> {
  const W = await weightCommitment(key, o);
  const v = [...weightVector(key.shape, o).map(toField), o.salt];
  const r = randomFieldElements(v.length);
  const T = await g1Coords(await msmField(weightBases(key), r));
  const ch = pokChallenge(key, ctx, W, T);
  const z = new Array<bigint>(v.length);
  for (let i = 0; i < v.length; i++) z[i] = (r[i] + ch * v[i]) % P;
  r.fill(0n);
  return { W, pok: { T, z } };
}

/** Checks a proof of knowledge of W_m's opening; says why it fails. Never throws on untrusted input. */
export async function checkWeightPok(
  key: ShapeKey,
  W: G1Point,
  pok: WeightPok,
  ctx: PokContext,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  const c = await engine();
  const n = weightCount(key.shape) + 1;
  try {
    if (!Array.isArray(pok?.z) || pok.z.length !== n)
      return { ok: false, reason: `the proof needs ${n} responses` };
    for (const zi of pok.z)
      if (typeof zi !== "bigint" || zi < 0n || zi >= P)
        return { ok: false, reason: "a response is not a field element" };
    const pts: Uint8Array[] = [];
    for (const [what, p] of [
      ["W_m", W],
      ["T", pok.T],
    ] as const) {
      if (!Array.isArray(p) || p.length !== 2 || p.some((x) => typeof x !== "bigint" || x < 0n || x >= c.q)) {
        return { ok: false, reason: `${what} is not a pair of base-field coordinates` };
      }
      const pt = await g1Point(p);
      if (!c.G1.isZero(pt) && !c.G1.isValid(pt)) return { ok: false, reason: `${what} is not on the curve` };
      pts.push(pt);
    }
    const ch = pokChallenge(key, ctx, W, pok.T);
    const lhs = await msmField(weightBases(key), pok.z);
    const rhs = c.G1.add(pts[1], c.G1.timesScalar(pts[0], ch));
    if (!c.G1.eq(lhs, rhs))
      return { ok: false, reason: "the proof of knowledge of W_m's opening does not verify" };
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: `malformed proof of knowledge: ${(err as Error).message}` };
  }
}

/** Throws PokError unless the proof of knowledge holds. */
export async function verifyWeightPok(
  key: ShapeKey,
  W: G1Point,
  pok: WeightPok,
  ctx: PokContext,
): Promise<void> {
  const r = await checkWeightPok(key, W, pok, ctx);
  if (!r.ok) throw new PokError(`module ${ctx.module} (${key.name}): ${r.reason}`);
}
