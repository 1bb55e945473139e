/**
 * The verifier's fast pairing-side arithmetic (src/zk/verifier.ts) against the slow definitions:
 * the G2 membership test through ψ against [r]B = O (random points of the twist, cofactor-cleared
 * points, points with a component of each prime order of the cofactor) and the number theory
 * that makes it exact; the multi-Miller loop against the engine's separate Miller loops; the
 * fixed-base G1 sums against double-and-add; and the v2 verifier refusing a proof whose B is on
 * the twist but outside G2.
 */
import { createHash } from "node:crypto";
import { expect } from "chai";
import type { Bn128 } from "ffjavascript";
import {
  BN_X,
  FixedBaseG1,
  engine,
  g2Psi,
  inG2Subgroup,
  multiMillerLoop,
  type Groth16Proof,
} from "../../src/zk/verifier.js";
import { V2Verifier, proveV2 } from "../../src/zk/v2/index.js";
import { v2Fixture, type V2Fixture } from "./v2-fixture.js";

/** A reproducible stream of integers below `m` (sha256 of a seed and a counter). */
function stream(seed: string, m: bigint): () => bigint {
  let i = 0;
  return () => {
    let v = 0n;
    for (let k = 0; k < 2; k++) {
      v = (v << 256n) | BigInt("0x" + createHash("sha256").update(`${seed}/${i++}`).digest("hex"));
    }
    return v % m;
  };
}

/** Random points of the twist E': y² = x³ + 3/(9+u) over F_q² (affine), NOT cofactor-cleared. */
function twistPoints(c: Bn128, seed: string, n: number): Uint8Array[] {
  const next = stream(seed, c.q);
  const out: Uint8Array[] = [];
  while (out.length < n) {
    const x = c.F2.fromObject([next(), next()]);
    const rhs = c.F2.add(c.F2.mul(c.F2.square(x), x), c.G2.b);
    if (!c.F2.isSquare(rhs)) continue;
    const p = new Uint8Array(128);
    p.set(x);
    p.set(c.F2.sqrt(rhs), 64);
    expect(c.G2.isValid(p)).to.equal(true);
    out.push(p);
  }
  return out;
}

/** The slow definition: [r]B = O. */
const byOrder = (c: Bn128, B: Uint8Array) => c.G2.isZero(c.G2.timesScalar(B, c.r));

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a < 0n ? -a : a;
}

describe("# verifier arithmetic: G2 membership through ψ, multi-Miller loop, fixed-base G1", function () {
  let c: Bn128;
  let t: bigint;
  /** #E'(F_q²) / r */
  let h: bigint;
  before(async function () {
    c = await engine();
    t = 6n * BN_X ** 2n + 1n;
    h = 2n * c.q - c.r;
  });

  it("Should have BN254's q, r and trace from x, and a twist of order r·(2q − r)", function () {
    const x = BN_X;
    expect(c.q).to.equal(36n * x ** 4n + 36n * x ** 3n + 24n * x ** 2n + 6n * x + 1n);
    expect(c.r).to.equal(36n * x ** 4n + 36n * x ** 3n + 18n * x ** 2n + 6n * x + 1n);
    expect(c.r).to.equal(c.q + 1n - t);
    // #E'(F_q²) = (q + 1 − t)(q − 1 + t) = r·(2q − r)
    for (const P of twistPoints(c, "order", 4)) {
      expect(c.G2.isZero(c.G2.timesScalar(P, c.r * h))).to.equal(true);
      expect(c.G2.isZero(c.G2.timesScalar(P, h))).to.equal(false);
      expect(c.G2.isZero(c.G2.timesScalar(P, c.r))).to.equal(false);
    }
  });

  it("Should make ψ a root of X² − tX + q on the whole twist, and the test exact (kernel ∩ E'(F_q²) = G2)", function () {
    for (const P of twistPoints(c, "psi", 4)) {
      const p1 = g2Psi(c, P);
      const p2 = g2Psi(c, p1);
      const sum = c.G2.add(c.G2.sub(p2, c.G2.timesScalar(p1, t)), c.G2.timesScalar(P, c.q));
      expect(c.G2.isZero(sum)).to.equal(true);
      expect(c.G2.eq(p1, P)).to.equal(false);
    }
    // on G2 ψ acts as [q]
    const G = c.G2.timesScalar(twistPoints(c, "psi-g2", 1)[0], h);
    expect(c.G2.eq(g2Psi(c, G), c.G2.timesScalar(G, c.q % c.r))).to.equal(true);
    // f = (x+1) + xψ + xψ² − 2xψ³ = a + bψ modulo ψ² − tψ + q
    const x = BN_X;
    const coef = [x + 1n, x, x, -2n * x];
    for (let i = coef.length - 1; i >= 2; i--) {
      coef[i - 1] += t * coef[i];
      coef[i - 2] -= c.q * coef[i];
      coef[i] = 0n;
    }
    const [a, b] = coef;
    const deg = a * a + a * b * t + b * b * c.q; // the norm of a + bψ
    expect(deg % c.r).to.equal(0n);
    const m = deg / c.r;
    expect(gcd(m, h)).to.equal(1n);
    expect(m % c.r).to.not.equal(0n);
    // f vanishes on G2, where ψ = [q]
    const q = c.q;
    expect((((x + 1n + x * q + x * q * q - 2n * x * q ** 3n) % c.r) + c.r) % c.r).to.equal(0n);
  });

  it("Should agree with [r]B = O: reject random twist points, accept them cofactor-cleared, accept O", function () {
    for (const P of twistPoints(c, "random", 12)) {
      expect(byOrder(c, P)).to.equal(false);
      expect(inG2Subgroup(c, P)).to.equal(false);
      expect(inG2Subgroup(c, c.G2.toJacobian(P))).to.equal(false);
      const G = c.G2.timesScalar(P, h); // Jacobian, Z ≠ 1
      expect(byOrder(c, G)).to.equal(true);
      expect(inG2Subgroup(c, G)).to.equal(true);
      expect(inG2Subgroup(c, c.G2.toAffine(G))).to.equal(true);
      expect(inG2Subgroup(c, c.G2.neg(c.G2.toAffine(G)))).to.equal(true);
    }
    expect(inG2Subgroup(c, c.G2.oneAffine)).to.equal(true);
    expect(inG2Subgroup(c, c.G2.zeroAffine)).to.equal(true);
    expect(inG2Subgroup(c, c.G2.zero)).to.equal(true);
  });

  it("Should reject G2 points plus a point of each prime order dividing the cofactor, and those points", function () {
    // 2q − r = 10069 · 5864401 · 1875725156269 · (a 177-bit prime)
    const small = [10069n, 5864401n, 1875725156269n];
    const big = h / small.reduce((u, v) => u * v);
    expect(small.reduce((u, v) => u * v) * big).to.equal(h);
    const [R1, R2] = twistPoints(c, "small-order", 2);
    const G = c.G2.timesScalar(R2, h);
    for (const l of [...small, big]) {
      const T = c.G2.timesScalar(R1, (c.r * h) / l); // order l (l prime)
      expect(c.G2.isZero(T)).to.equal(false);
      expect(c.G2.isZero(c.G2.timesScalar(T, l))).to.equal(true);
      for (const B of [T, c.G2.add(G, T), c.G2.sub(G, c.G2.double(T))]) {
        expect(byOrder(c, B)).to.equal(false);
        expect(inG2Subgroup(c, B)).to.equal(false);
        expect(inG2Subgroup(c, c.G2.toAffine(B))).to.equal(false);
      }
    }
  });

  it("Should compute the product of separate Miller loops in one multi-Miller loop", function () {
    const g1 = stream("miller", c.r);
    const pts = twistPoints(c, "miller", 5).map((P) => c.G2.timesScalar(P, h));
    for (const n of [0, 1, 2, 3, 5, 16, 17, 100]) {
      // (100 pairs: several groups; more than the engine's scratch memory holds at once)
      const pairs = Array.from({ length: n }, (_, i) => {
        const P = c.G1.timesScalar(c.G1.g, g1());
        return [c.prepareG1(P), c.prepareG2(pts[i % pts.length])] as const;
      });
      let want = c.Gt.one;
      for (const [P, Q] of pairs) want = c.Gt.mul(want, c.millerLoop(P, Q));
      const got = multiMillerLoop(c, pairs);
      expect(c.Gt.eq(got, want)).to.equal(true);
      expect(c.Gt.eq(c.finalExponentiation(got), c.finalExponentiation(want))).to.equal(true);
    }
    // bilinearity end to end: e(aP, Q)·e(−P, aQ) = 1
    const P = c.G1.timesScalar(c.G1.g, g1());
    const a = g1();
    const f = multiMillerLoop(c, [
      [c.prepareG1(c.G1.timesScalar(P, a)), c.prepareG2(pts[0])],
      [c.prepareG1(c.G1.neg(P)), c.prepareG2(c.G2.timesScalar(pts[0], a))],
    ]);
    expect(c.Gt.eq(c.finalExponentiation(f), c.Gt.one)).to.equal(true);
  });

  it("Should compute fixed-base sums equal to double-and-add, edge scalars included", function () {
    const next = stream("fixed", c.r);
    const P = c.G1.toAffine(c.G1.timesScalar(c.G1.g, next()));
    const Q = c.G1.toAffine(c.G1.timesScalar(c.G1.g, next()));
    const acc = c.G1.toAffine(c.G1.timesScalar(c.G1.g, next()));
    const fp = FixedBaseG1.create(c, P);
    const fq = FixedBaseG1.create(c, c.G1.toJacobian(Q));
    const edges = [0n, 1n, 2n, 15n, 16n, c.r - 1n, c.r, c.q - 1n, 1n << 252n, (1n << 256n) - 1n];
    const scalars = [...edges, ...Array.from({ length: 8 }, next)];
    for (const s of scalars) {
      for (const u of [0n, 1n, s, next()]) {
        const want = c.G1.add(c.G1.add(acc, c.G1.timesScalar(P, s)), c.G1.timesScalar(Q, u));
        const got = FixedBaseG1.sum(c, acc, [
          [fp, s],
          [fq, u],
        ]);
        expect(c.G1.eq(got, want), `s = ${s}, u = ${u}`).to.equal(true);
      }
    }
    // acc = −s·P: the sum is O; acc = s·P: a doubling inside the additions
    const s = next();
    expect(c.G1.isZero(FixedBaseG1.sum(c, c.G1.neg(c.G1.timesScalar(P, s)), [[fp, s]]))).to.equal(true);
    expect(c.G1.eq(FixedBaseG1.sum(c, P, [[fp, 1n]]), c.G1.double(P))).to.equal(true);
    expect(c.G1.eq(FixedBaseG1.sum(c, c.G1.zero, [[fp, s]]), c.G1.timesScalar(P, s))).to.equal(true);
    expect(() => FixedBaseG1.sum(c, acc, [[fp, -1n]])).to.throw(RangeError);
    expect(() => FixedBaseG1.sum(c, acc, [[fp, 1n << 256n]])).to.throw(RangeError);
  });

  describe("the v2 verifier", function () {
    let f: V2Fixture;
    let proof: Groth16Proof;
    let v: V2Verifier;
    before(async function () {
      f = await v2Fixture();
      proof = (await proveV2(f.key, f.dealZkey, f.entry, f.opening, { D_X: f.entry.D_X, W_m: f.W })).proof;
      v = await V2Verifier.create(f.key.onchain, f.delta2);
    });
    const st = () => ({ rho: f.entry.rho, fY: f.entry.fY, D_X: f.entry.D_X, W_m: f.W });
    const withB = (B: Uint8Array): Groth16Proof => ({
      ...proof,
      pi_b: (c.G2.toObject(c.G2.toAffine(B)) as bigint[][]).map((p) => p.map(String)) as Groth16Proof["pi_b"],
    });

    it("Should reject a B on the twist outside G2 with its reason, in a single and a batch check", async function () {
      expect(await v.check(proof, st())).to.deep.equal({ ok: true });
      const B = c.G2.fromObject(proof.pi_b.map((p) => p.map(BigInt)));
      const [R] = twistPoints(c, "verifier", 1);
      const T = c.G2.timesScalar(R, (c.r * h) / 10069n);
      for (const bad of [R, c.G2.add(B, T), T]) {
        expect(await v.check(withB(bad), st())).to.deep.equal({
          ok: false,
          reason: "pi_b is on the twist but not in the subgroup G2",
        });
        expect(await v.verifyBatch([proof, withB(bad)], [st(), st()])).to.equal(false);
      }
      // a point of G2 that is not B: the pairing equation decides
      expect(await v.check(withB(c.G2.double(B)), st())).to.deep.equal({
        ok: false,
        reason: "the pairing equation does not hold",
      });
      expect(await v.verifyBatch([proof, proof], [st(), st()])).to.equal(true);
    });
  });
});
