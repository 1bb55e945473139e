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
import { ZkError } from "../errors.js";
import { progressLogger, timed, type ProgressFn } from "../progress.js";
import { engine, inG2Subgroup, random128 } from "../verifier.js";
import * as snarkjs from "snarkjs";
import { g1FromLem, g2FromLem, groth16Header, readZkeySections, type G1Point, type G2Point } from "./key.js";
import { scalarsLE } from "./msm.js";

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
  const lem1 = (s: Uint8Array) =>
    c.G1.toAffine(c.G1.fromObject([c.F1.toObject(s.slice(0, 32)), c.F1.toObject(s.slice(32, 64)), 1n]));
  const lem2 = (s: Uint8Array) =>
    c.G2.toAffine(
      c.G2.fromObject([
        [c.F1.toObject(s.slice(0, 32)), c.F1.toObject(s.slice(32, 64))],
        [c.F1.toObject(s.slice(64, 96)), c.F1.toObject(s.slice(96, 128))],
        [1n, 0n],
      ]),
    );
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
