/**
 * Proving and verifying one delivery chunk (`DeliveryChunkV2(CAP, BITS)`).
 *
 * Statement of chunk c: for a private k, hK = Poseidon([k]), every w_i is a signed BITS-bit
 * integer, and ct is the Poseidon-cipher encryption of the packed w under [k, 0] with nonce c.
 * w and salt' are public inputs that the verifier only sees through
 *
 *   W'_c = Σ_i w_i·IC'[w_i] + salt'·IC'[salt]      (salt' fresh and uniform per chunk: hiding)
 *
 * so that vk_x = IC'_0 + hK·IC'[hK] + nonce·IC'[nonce] + Σ_j ct_j·IC'[ct_j] + W'_c, checked with
 * e(−A, B)·e(vk_x, γ)·e(C, δ)·e(α, β) = 1 under the ceremony key's δ. The pairing check is
 * V2Verifier's (same untrusted-input checks), with IC'[hK], IC'[nonce] in the places of IC[rho],
 * IC[fY] and Σ ct_j·IC'[ct_j] in the place of D_X. W'_c alone does not say what it opens to: the
 * link proof (link.ts) shows it opens to the same weights as the module's W_m.
 */
import * as snarkjs from "snarkjs";
import { WitnessError } from "../errors.js";
import { P, toField } from "../field.js";
import type { ProvingPool } from "../pool.js";
import { timed, type ProgressFn } from "../progress.js";
import { engine, type Groth16Proof, type VerifyOutcome } from "../verifier.js";
import { calculateWitness } from "../witness.js";
import { deltaOf } from "../v2/delta.js";
import { g1Coords, g1Point, type G1Point, type G2Point } from "../v2/key.js";
import { msmField, msmSigned } from "../v2/msm.js";
import { V2Verifier } from "../v2/verify.js";
import { deliveryKeyHash, encryptChunk } from "./cipher.js";
import { DeliveryDecryptError, DeliveryRangeError } from "./errors.js";
import type { DeliveryKey } from "./key.js";
import { deliveryLayout } from "./shape.js";

/** What the prover of one chunk holds. */
export interface DeliveryChunkWitness {
  /** The module's delivery key. */
  k: bigint;
  /** The chunk's weights (signed, at most CAP; padded with zeros to CAP). */
  w: readonly bigint[];
  /** The chunk's commitment salt', uniform in F_p. */
  saltPrime: bigint;
  /** The chunk index. */
  nonce: number;
  /** The chunk's ciphertext (NCT field elements). */
  ct: readonly bigint[];
}

/** The public statement of one chunk. */
export interface DeliveryStatement {
  hK: bigint;
  nonce: number;
  ct: readonly bigint[];
  /** W'_c. */
  Wc: G1Point;
}

/** The bases of W'_c for a chunk of `len` weights: IC'[w_0..w_len-1], IC'[salt] (contiguous copy unless len = CAP). */
export function chunkBases(dkey: DeliveryKey, len: number): Uint8Array {
  const { CAP } = dkey.shape;
  if (!Number.isInteger(len) || len < 0 || len > CAP)
    throw new DeliveryRangeError(`a chunk holds 0..${CAP} weights, got ${len}`);
  if (len === CAP) return dkey.bases;
  const out = new Uint8Array((len + 1) * 64);
  out.set(dkey.bases.subarray(0, len * 64), 0);
  out.set(dkey.bases.subarray(CAP * 64, (CAP + 1) * 64), len * 64);
  return out;
}

/** W'_c = Σ w_i·IC'[w_i] + salt'·IC'[salt] for a chunk's signed weights (at most CAP; the rest are 0). */
export async function deliveryCommitment(
  dkey: DeliveryKey,
  w: readonly bigint[],
  saltPrime: bigint,
): Promise<G1Point> {
  const c = await engine();
  if (typeof saltPrime !== "bigint" || saltPrime < 0n || saltPrime >= P)
    throw new DeliveryRangeError("salt' must be a field element");
  const bases = chunkBases(dkey, w.length);
  const n = w.length;
  const pw = await msmSigned(bases.subarray(0, n * 64), w);
  const ps = c.G1.timesScalar(bases.subarray(n * 64, (n + 1) * 64), saltPrime);
  return g1Coords(c.G1.add(pw, ps));
}

/**
 * The circuit input of a chunk (decimal strings): hK = Poseidon([k]), nonce, ct, w padded with
 * zeros to CAP (as field elements), salt, k. No range or ciphertext check here: the circuit's
 * constraints are the check (a witness of an input that breaks them fails).
 */
export function deliveryCircuitInput(
  dkey: DeliveryKey,
  wit: DeliveryChunkWitness,
): Record<string, string | string[]> {
  const { CAP } = dkey.shape;
  const { NCT } = deliveryLayout(dkey.shape);
  if (wit.w.length > CAP)
    throw new DeliveryRangeError(`a chunk holds at most ${CAP} weights, got ${wit.w.length}`);
  if (wit.ct.length !== NCT)
    throw new DeliveryRangeError(`a chunk's ciphertext has ${NCT} elements, got ${wit.ct.length}`);
  const w = [...wit.w.map(toField), ...new Array<bigint>(CAP - wit.w.length).fill(0n)];
  return {
    hK: deliveryKeyHash(wit.k).toString(),
    nonce: String(wit.nonce),
    ct: wit.ct.map((v) => toField(v).toString()),
    w: w.map((v) => v.toString()),
    salt: toField(wit.saltPrime).toString(),
    k: wit.k.toString(),
  };
}

/** The public signals in circuit order (hK, nonce, ct, w, salt): what snarkjs's verifier would take. Never publish them. */
export function deliveryPublicInputs(dkey: DeliveryKey, wit: DeliveryChunkWitness): bigint[] {
  const inp = deliveryCircuitInput(dkey, wit);
  return [
    inp.hK as string,
    inp.nonce as string,
    ...(inp.ct as string[]),
    ...(inp.w as string[]),
    inp.salt as string,
  ].map((v) => BigInt(v));
}

/**
 * A verifier of delivery chunks for one delivery key and one ceremony key's δ (V2Verifier's
 * pairing check with the delivery key's IC points; see the module comment).
 */
export class DeliveryVerifier {
  private constructor(
    private readonly dkey: DeliveryKey,
    private readonly v: V2Verifier,
  ) {}

  /** Prepares the key; throws VerificationKeyError on a malformed key. */
  static async create(dkey: DeliveryKey, delta2: G2Point): Promise<DeliveryVerifier> {
    const { vk } = dkey;
    const v = await V2Verifier.create(
      {
        alpha1: vk.alpha1,
        beta2: vk.beta2,
        gamma2: vk.gamma2,
        ic0: vk.ic0,
        icRho: vk.icHK,
        icFY: vk.icNonce,
      },
      delta2,
    );
    return new DeliveryVerifier(dkey, v);
  }

  /** The module verifier's statement for a chunk's, or why it is malformed. */
  private async statement(
    st: DeliveryStatement,
  ): Promise<{ rho: bigint; fY: bigint; D_X: G1Point; W_m: G1Point } | string> {
    const c = await engine();
    const { NCT } = deliveryLayout(this.dkey.shape);
    if (typeof st?.hK !== "bigint" || st.hK < 0n || st.hK >= P) return "hK is not a field element";
    if (!Number.isSafeInteger(st.nonce) || st.nonce < 0) return "the nonce is not a chunk index";
    if (!Array.isArray(st.ct) || st.ct.length !== NCT) return `the ciphertext must have ${NCT} elements`;
    if (st.ct.some((v) => typeof v !== "bigint" || v < 0n || v >= P))
      return "a ciphertext element is not a field element";
    const W = st.Wc;
    if (!Array.isArray(W) || W.length !== 2 || W.some((x) => typeof x !== "bigint" || x < 0n || x >= c.q))
      return "W'_c is not a pair of base-field coordinates";
    const pt = await g1Point(W);
    if (!c.G1.isZero(pt) && !c.G1.isValid(pt)) return "W'_c is not on the curve";
    const dct = await g1Coords(await msmField(this.dkey.ctBases, st.ct));
    return { rho: st.hK, fY: BigInt(st.nonce), D_X: dct, W_m: W };
  }

  /** Verifies one chunk proof; says why it was rejected. Never throws on untrusted input. */
  async check(proof: Groth16Proof, st: DeliveryStatement): Promise<VerifyOutcome> {
    let s: Awaited<ReturnType<DeliveryVerifier["statement"]>>;
    try {
      s = await this.statement(st);
    } catch (err) {
      return { ok: false, reason: `malformed statement: ${(err as Error).message}` };
    }
    if (typeof s === "string") return { ok: false, reason: s };
    return this.v.check(proof, s);
  }

  /** True iff the proof verifies. */
  async verify(proof: Groth16Proof, st: DeliveryStatement): Promise<boolean> {
    return (await this.check(proof, st)).ok;
  }

  /** n chunk proofs at once (V2Verifier.verifyBatch); false when any is invalid or malformed. */
  async verifyBatch(proofs: readonly Groth16Proof[], sts: readonly DeliveryStatement[]): Promise<boolean> {
    const out: { rho: bigint; fY: bigint; D_X: G1Point; W_m: G1Point }[] = [];
    for (const st of sts) {
      let s: Awaited<ReturnType<DeliveryVerifier["statement"]>>;
      try {
        s = await this.statement(st);
      } catch {
        return false;
      }
      if (typeof s === "string") return false;
      out.push(s);
    }
    return this.v.verifyBatch(proofs, out);
  }
}

/** The δ of a ceremony key file, or a given [δ]₂ (EIP-197 order). */
async function delta2Of(ceremony: string | G2Point): Promise<G2Point> {
  return typeof ceremony === "string" ? (await deltaOf(ceremony)).delta2 : ceremony;
}

/**
 * Verifies one chunk proof under a ceremony key (its file, or its [δ]₂). The caller has checked the
 * ceremony key itself with checkDeliveryKey. Never throws on an untrusted proof or statement.
 */
export async function verifyDeliveryChunk(
  dkey: DeliveryKey,
  ceremony: string | G2Point,
  proof: Groth16Proof,
  st: DeliveryStatement,
): Promise<VerifyOutcome> {
  const v = await DeliveryVerifier.create(dkey, await delta2Of(ceremony));
  return v.check(proof, st);
}

/** A chunk proof, its commitment and timings. */
export interface DeliveryChunkProof {
  proof: Groth16Proof;
  /** W'_c. */
  Wc: G1Point;
  hK: bigint;
  witnessMs: number;
  proveMs: number;
  verifyMs: number;
}

/** Options of {@link proveDeliveryChunk}. */
export interface ProveDeliveryOptions {
  /** Prove in a prover process of this pool instead of this process. */
  pool?: ProvingPool;
  onProgress?: ProgressFn;
}

/**
 * Proves one chunk with the ceremony key `ceremonyZkey` and verifies the proof locally before
 * returning it. Throws DeliveryRangeError on a weight outside the BITS-bit range,
 * DeliveryDecryptError when ct is not the encryption of these weights under k and the nonce, and
 * WitnessError when the proof does not verify (never released).
 */
export async function proveDeliveryChunk(
  dkey: DeliveryKey,
  ceremonyZkey: string,
  wit: DeliveryChunkWitness,
  opts: ProveDeliveryOptions = {},
): Promise<DeliveryChunkProof> {
  const { CAP, BITS } = dkey.shape;
  const expected = encryptChunk(wit.w, BITS, CAP, wit.k, wit.nonce, wit.nonce * CAP).ct;
  if (expected.length !== wit.ct.length || expected.some((v, j) => v !== wit.ct[j]))
    throw new DeliveryDecryptError(`chunk ${wit.nonce}: ct is not the encryption of these weights under k`);
  const Wc = await deliveryCommitment(dkey, wit.w, wit.saltPrime);
  const input = deliveryCircuitInput(dkey, wit);
  const label = `${dkey.name} chunk ${wit.nonce}`;
  let proof: Groth16Proof;
  let witnessMs: number;
  let proveMs: number;
  if (opts.pool !== undefined) {
    const r = await opts.pool.proveInput(
      { name: dkey.name, wasm: dkey.wasm, zkey: ceremonyZkey },
      input,
      deliveryPublicInputs(dkey, wit),
    );
    proof = r.proof;
    witnessMs = r.witnessMs;
    proveMs = r.proveMs;
  } else {
    let t = performance.now();
    const wtns = await timed(opts.onProgress, `${label}: witness`, () => calculateWitness(dkey, input));
    witnessMs = performance.now() - t;
    t = performance.now();
    const out = await timed(opts.onProgress, `${label}: prove`, () =>
      snarkjs.groth16.prove(ceremonyZkey, { type: "mem", data: wtns }),
    );
    proveMs = performance.now() - t;
    proof = out.proof as Groth16Proof;
  }
  const t = performance.now();
  const hK = deliveryKeyHash(wit.k);
  const ok = await verifyDeliveryChunk(dkey, ceremonyZkey, proof, { hK, nonce: wit.nonce, ct: wit.ct, Wc });
  const verifyMs = performance.now() - t;
  if (!ok.ok) throw new WitnessError(`${label}: the proof does not verify (${ok.reason}); not released`);
  return { proof, Wc, hK, witnessMs, proveMs, verifyMs };
}
