/**
 * Off-chain verification of key-wrap proofs: the statement's public inputs in circuit order, and
 * Groth16 with the on-chain part of the wrap key and the per-deal wrap key's δ':
 *
 *   vk_x = IC_0 + Σ x_i·IC_{i+1}
 *   e(−A, B) · e(vk_x, γ) · e(C, δ') · e(α, β) = 1
 *
 * with the same checks on untrusted input as src/zk/v2/verify.ts (coordinates below q, B in G2,
 * no point at infinity in the proof, every public input below p).
 */
import { type Bn128 } from "ffjavascript";
import { ShapeError } from "../errors.js";
import { P, assertField } from "../field.js";
import {
  parseProof,
  VerificationKeyError,
  type Groth16Proof,
  type ParsedProof,
  type VerifyOutcome,
} from "../verifier.js";
import type { G2Point } from "../v2/key.js";
import { prepareGroth16, toSolidityProofV2, type SolidityProofV2 } from "../v2/verify.js";
import type { BabyPoint } from "./babyjub.js";
import { WRAP_PUBLIC_INPUTS, WRAP_SLOTS, type WrapKey, type WrapOnchainKey } from "./key.js";
import { assertModuleIndex } from "./pad.js";

/** The public statement of one wrap proof: slots i < count are modules base + i. */
export interface WrapStatement {
  pk: BabyPoint;
  E: BabyPoint;
  dealId: bigint;
  base: number;
  count: number;
  /** hK of modules base..base+count−1 (count entries). */
  hK: readonly bigint[];
  /** R of modules base..base+count−1 (count entries). */
  R: readonly bigint[];
}

/**
 * The public inputs in circuit order: pk.x, pk.y, E.x, E.y, dealId, base, count, hK[0..SLOTS),
 * R[0..SLOTS), unused slots (i ≥ count) zero. Throws ShapeError / FieldError on a malformed statement.
 */
export function wrapPublicInputs(st: WrapStatement): bigint[] {
  if (!Number.isInteger(st.count) || st.count < 0 || st.count > WRAP_SLOTS)
    throw new ShapeError(`count must be an integer in [0, ${WRAP_SLOTS}], got ${st.count}`);
  if (st.hK.length !== st.count || st.R.length !== st.count)
    throw new ShapeError(`count ${st.count} but ${st.hK.length} hK and ${st.R.length} R`);
  const pad = (v: readonly bigint[]) => [...v, ...new Array<bigint>(WRAP_SLOTS - v.length).fill(0n)];
  const out = [
    st.pk[0],
    st.pk[1],
    st.E[0],
    st.E[1],
    st.dealId,
    BigInt(assertModuleIndex(st.base)),
    BigInt(st.count),
    ...pad(st.hK),
    ...pad(st.R),
  ];
  out.forEach((v, i) => assertField(v, `public input ${i}`));
  return out;
}

/** A verifier for the wrap key and one per-deal wrap key's δ'. */
export class WrapVerifier {
  private constructor(
    private readonly c: Bn128,
    private readonly ic: Uint8Array[],
    private readonly gammaPre: Uint8Array,
    private readonly deltaPre: Uint8Array,
    /** e(α, β)^-1 */
    private readonly target: Uint8Array,
  ) {}

  /** Prepares the key; throws VerificationKeyError on a malformed key. */
  static async create(k: WrapOnchainKey, delta2: G2Point): Promise<WrapVerifier> {
    if (k.ic.length !== WRAP_PUBLIC_INPUTS + 1)
      throw new VerificationKeyError(
        `the wrap key has ${k.ic.length} IC points, expected ${WRAP_PUBLIC_INPUTS + 1}`,
      );
    const pk = await prepareGroth16(k, delta2);
    const ic: Uint8Array[] = [];
    for (let i = 0; i < k.ic.length; i++) ic.push(await pk.g1(k.ic[i], `IC_${i}`));
    return new WrapVerifier(pk.c, ic, pk.gammaPre, pk.deltaPre, pk.target);
  }

  /** Verifies one proof against the full public inputs (circuit order); says why it was rejected. Never throws. */
  async check(proof: Groth16Proof, publicInputs: readonly bigint[]): Promise<VerifyOutcome> {
    const { c } = this;
    if (!Array.isArray(publicInputs) || publicInputs.length !== this.ic.length - 1)
      return { ok: false, reason: `expected ${this.ic.length - 1} public inputs` };
    for (const v of publicInputs) {
      if (typeof v !== "bigint" || v < 0n || v >= P)
        return { ok: false, reason: "a public input is not a field element" };
    }
    let parsed: ParsedProof | string;
    try {
      parsed = parseProof(c, proof);
    } catch (err) {
      return { ok: false, reason: `malformed proof: ${(err as Error).message}` };
    }
    if (typeof parsed === "string") return { ok: false, reason: parsed };
    let vkx = this.ic[0];
    for (let i = 0; i < publicInputs.length; i++) {
      if (publicInputs[i] !== 0n) vkx = c.G1.add(vkx, c.G1.timesScalar(this.ic[i + 1], publicInputs[i]));
    }
    let f = c.millerLoop(
      c.prepareG1(c.G1.toJacobian(c.G1.neg(parsed.A))),
      c.prepareG2(c.G2.toJacobian(parsed.B)),
    );
    if (!c.G1.isZero(vkx)) f = c.Gt.mul(f, c.millerLoop(c.prepareG1(c.G1.toJacobian(vkx)), this.gammaPre));
    f = c.Gt.mul(f, c.millerLoop(c.prepareG1(c.G1.toJacobian(parsed.C)), this.deltaPre));
    if (!c.Gt.eq(c.finalExponentiation(f), this.target))
      return { ok: false, reason: "the pairing equation does not hold" };
    return { ok: true };
  }

  /** True iff the proof verifies. */
  async verify(proof: Groth16Proof, publicInputs: readonly bigint[]): Promise<boolean> {
    return (await this.check(proof, publicInputs)).ok;
  }
}

/**
 * Verifies one wrap proof under the wrap key and a per-deal wrap key's [δ']₂ (EIP-197 order)
 * against the full public inputs (wrapPublicInputs). False on any malformed input.
 */
export async function verifyKeyWrap(
  wrapKey: WrapKey,
  delta2: G2Point,
  proof: Groth16Proof,
  publicInputs: readonly bigint[],
): Promise<boolean> {
  const v = await WrapVerifier.create(wrapKey.onchain, delta2);
  return v.verify(proof, publicInputs);
}

/** A wrap proof as the escrow takes it (a, b, c with b in EIP-197 order): toSolidityProofV2. */
export function toSolidityWrapProof(proof: Groth16Proof): SolidityProofV2 {
  return toSolidityProofV2(proof);
}
