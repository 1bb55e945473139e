/**
 * Off-chain verification of v2 module proofs (PROTOCOL.md, "On-chain verification of one module"):
 *
 *   vk_x = IC_0 + rho·IC[rho] + fY·IC[fY] + D_X + W_m
 *   e(−A, B) · e(vk_x, γ) · e(C, δ') · e(α, β) = 1
 *
 * with the on-chain part of the shape key and the deal key's δ'. The same checks on untrusted
 * input as src/zk/verifier.ts (coordinates below q, B in G2, no point at infinity in the proof,
 * rho and fY below p). Batch: n proofs under one δ' with fresh random 128-bit coefficients r_i,
 *   Π e(−r_i·A_i, B_i) · e(Σ r_i·vk_x_i, γ) · e(Σ r_i·C_i, δ') · e(α, β)^(Σ r_i) = 1
 * (n + 2 Miller loops sharing their squarings, one final exponentiation). rho·IC[rho] and fY·IC[fY]
 * from fixed-base tables made once per verifier.
 */
import { type Bn128 } from "ffjavascript";
import {
  BatchInputError,
  engine,
  FixedBaseG1,
  inG2Subgroup,
  multiMillerLoop,
  parseProof,
  random128,
  type Groth16Proof,
  type ParsedProof,
  type VerifyOutcome,
  VerificationKeyError,
} from "../verifier.js";
import { P } from "../field.js";
import { g1Point, g2Point, type G1Point, type G2Point, type OnchainKey } from "./key.js";

/** The statement of one module proof as the contract sees it. */
export interface V2Statement {
  rho: bigint;
  fY: bigint;
  D_X: G1Point;
  W_m: G1Point;
}

/** The per-key work of a Groth16 verifier with a per-deal δ': γ and δ' prepared, e(α, β)⁻¹. */
export interface PreparedGroth16 {
  c: Bn128;
  gammaPre: Uint8Array;
  deltaPre: Uint8Array;
  /** e(α, β)^-1 */
  target: Uint8Array;
  /** A key point of G1 (not O, on the curve), or VerificationKeyError naming `what`. */
  g1(p: G1Point, what: string): Promise<Uint8Array>;
}

/**
 * Checks α (G1), β, γ and δ' (G2, in the subgroup, not O) and does a verifier's per-key work once;
 * throws VerificationKeyError naming the bad point. Shared by the module and key-wrap verifiers.
 */
export async function prepareGroth16(
  k: { alpha1: G1Point; beta2: G2Point; gamma2: G2Point },
  delta2: G2Point,
): Promise<PreparedGroth16> {
  const c = await engine();
  const g1 = async (p: G1Point, what: string) => {
    const pt = await g1Point(p);
    if (c.G1.isZero(pt) || !c.G1.isValid(pt)) throw new VerificationKeyError(`${what} is not a point of G1`);
    return pt;
  };
  const g2 = async (p: G2Point, what: string) => {
    const pt = await g2Point(p);
    if (c.G2.isZero(pt) || !c.G2.isValid(pt) || !inG2Subgroup(c, pt))
      throw new VerificationKeyError(`${what} is not a point of G2`);
    return pt;
  };
  const alpha = await g1(k.alpha1, "alpha1");
  const beta = await g2(k.beta2, "beta2");
  const gamma = await g2(k.gamma2, "gamma2");
  const delta = await g2(delta2, "delta2");
  const ab = c.finalExponentiation(
    c.millerLoop(c.prepareG1(c.G1.toJacobian(alpha)), c.prepareG2(c.G2.toJacobian(beta))),
  );
  return {
    c,
    gammaPre: c.prepareG2(c.G2.toJacobian(gamma)),
    deltaPre: c.prepareG2(c.G2.toJacobian(delta)),
    target: c.Gt.inv(ab),
    g1,
  };
}

/** A verifier for one shape key and one deal key's δ'. */
export class V2Verifier {
  private constructor(
    private readonly c: Bn128,
    private readonly ic0: Uint8Array,
    /** IC[rho] and IC[fY] as fixed-base tables */
    private readonly icRho: FixedBaseG1,
    private readonly icFY: FixedBaseG1,
    private readonly gammaPre: Uint8Array,
    private readonly deltaPre: Uint8Array,
    /** e(α, β)^-1 */
    private readonly target: Uint8Array,
  ) {}

  /** Prepares the key (e(α, β), γ and δ' for Miller loops); throws VerificationKeyError on a malformed key. */
  static async create(k: OnchainKey, delta2: G2Point): Promise<V2Verifier> {
    const pk = await prepareGroth16(k, delta2);
    return new V2Verifier(
      pk.c,
      await pk.g1(k.ic0, "IC_0"),
      FixedBaseG1.create(pk.c, await pk.g1(k.icRho, "IC[rho]")),
      FixedBaseG1.create(pk.c, await pk.g1(k.icFY, "IC[fY]")),
      pk.gammaPre,
      pk.deltaPre,
      pk.target,
    );
  }

  /** vk_x of a statement, or a reason it is malformed. */
  private async vkx(st: V2Statement): Promise<Uint8Array | string> {
    const { c } = this;
    for (const [what, v] of [
      ["rho", st.rho],
      ["fY", st.fY],
    ] as const) {
      if (typeof v !== "bigint" || v < 0n || v >= P) return `${what} is not a field element`;
    }
    const pts: Uint8Array[] = [];
    for (const [what, p] of [
      ["D_X", st.D_X],
      ["W_m", st.W_m],
    ] as const) {
      if (!Array.isArray(p) || p.length !== 2 || p.some((x) => typeof x !== "bigint" || x < 0n || x >= c.q)) {
        return `${what} is not a pair of base-field coordinates`;
      }
      const pt = await g1Point(p);
      if (!c.G1.isZero(pt) && !c.G1.isValid(pt)) return `${what} is not on the curve`;
      pts.push(pt);
    }
    const acc = FixedBaseG1.sum(c, this.ic0, [
      [this.icRho, st.rho],
      [this.icFY, st.fY],
    ]);
    return c.G1.add(c.G1.add(acc, pts[0]), pts[1]);
  }

  /**
   * Π e(P_i, B_i) · e(vk_x, γ) · e(C, δ') before the final exponentiation, in one multi-Miller
   * loop; a G1 point O contributes 1 (EIP-197's convention; the engine's Miller loop does not
   * handle it).
   */
  private miller(
    PB: readonly (readonly [Uint8Array, Uint8Array])[],
    vkx: Uint8Array,
    C: Uint8Array,
  ): Uint8Array {
    const { c } = this;
    const pairs: [Uint8Array, Uint8Array][] = [];
    for (const [p, preQ] of [
      ...PB.map(([P, B]) => [P, () => c.prepareG2(c.G2.toJacobian(B))] as const),
      [vkx, () => this.gammaPre] as const,
      [C, () => this.deltaPre] as const,
    ]) {
      if (!c.G1.isZero(p)) pairs.push([c.prepareG1(c.G1.toJacobian(p)), preQ()]);
    }
    return pairs.length === 0 ? c.Gt.one : multiMillerLoop(c, pairs);
  }

  /** Verifies one proof; says why it was rejected. Never throws on untrusted input. */
  async check(proof: Groth16Proof, st: V2Statement): Promise<VerifyOutcome> {
    const { c } = this;
    let parsed: ParsedProof | string;
    let vkx: Uint8Array | string;
    try {
      parsed = parseProof(c, proof);
      vkx = await this.vkx(st);
    } catch (err) {
      return { ok: false, reason: `malformed proof: ${(err as Error).message}` };
    }
    if (typeof parsed === "string") return { ok: false, reason: parsed };
    if (typeof vkx === "string") return { ok: false, reason: vkx };
    const f = this.miller([[c.G1.neg(parsed.A), parsed.B]], vkx, parsed.C);
    if (!c.Gt.eq(c.finalExponentiation(f), this.target))
      return { ok: false, reason: "the pairing equation does not hold" };
    return { ok: true };
  }

  /** True iff the proof verifies. */
  async verify(proof: Groth16Proof, st: V2Statement): Promise<boolean> {
    return (await this.check(proof, st)).ok;
  }

  /**
   * n proofs under this δ' at once (random linear combination, fresh coefficients never leaving
   * this call; a batch holding an invalid proof passes with probability ≤ 2^-128). False when any
   * proof or statement is malformed. Throws BatchInputError for an empty batch or mismatched lengths.
   */
  async verifyBatch(proofs: readonly Groth16Proof[], sts: readonly V2Statement[]): Promise<boolean> {
    const { c } = this;
    if (proofs.length !== sts.length)
      throw new BatchInputError(`${proofs.length} proofs but ${sts.length} statements`);
    if (proofs.length === 0) throw new BatchInputError("an empty batch proves nothing");
    const PB: [Uint8Array, Uint8Array][] = [];
    let sumVkx: Uint8Array = c.G1.zero;
    let sumC: Uint8Array = c.G1.zero;
    let sumR = 0n;
    for (let i = 0; i < proofs.length; i++) {
      let parsed: ParsedProof | string;
      let vkx: Uint8Array | string;
      try {
        parsed = parseProof(c, proofs[i]);
        vkx = await this.vkx(sts[i]);
      } catch {
        return false;
      }
      if (typeof parsed === "string" || typeof vkx === "string") return false;
      const r = i === 0 ? 1n : random128();
      sumR += r;
      PB.push([c.G1.timesScalar(c.G1.neg(parsed.A), r), parsed.B]);
      sumVkx = c.G1.add(sumVkx, c.G1.timesScalar(vkx, r));
      sumC = c.G1.add(sumC, c.G1.timesScalar(parsed.C, r));
    }
    const f = this.miller(PB, sumVkx, sumC);
    return c.Gt.eq(c.finalExponentiation(f), c.Gt.exp(this.target, sumR % c.r));
  }
}

/** A proof as the verifier contract takes it: `b` in EIP-197 order. */
export interface SolidityProofV2 {
  a: G1Point;
  b: G2Point;
  c: G1Point;
}

/** Converts a snarkjs proof (projective coordinates with z = 1) into the contract's Proof. */
export function toSolidityProofV2(proof: Groth16Proof): SolidityProofV2 {
  const n = (s: string) => BigInt(s);
  return {
    a: [n(proof.pi_a[0]), n(proof.pi_a[1])],
    b: [n(proof.pi_b[0][1]), n(proof.pi_b[0][0]), n(proof.pi_b[1][1]), n(proof.pi_b[1][0])],
    c: [n(proof.pi_c[0]), n(proof.pi_c[1])],
  };
}

/** The contract's Statement struct. */
export function toSolidityStatement(st: V2Statement): { rho: bigint; fY: bigint; dX: G1Point; wM: G1Point } {
  return { rho: st.rho, fY: st.fY, dX: st.D_X, wM: st.W_m };
}
