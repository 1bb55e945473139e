/**
 * The prepared Groth16 verifier (src/zk/verifier.ts) on real proofs: it accepts exactly what
 * `snarkjs.groth16.verify` accepts on valid and tampered proofs, rejects what snarkjs wrongly
 * accepts (coordinates >= q) or does not check (pi_b outside G2), and its batch check rejects
 * every batch with one bad proof, in every position, including defects that cancel in an
 * unweighted sum. Five proofs: three of t2_i8_r2_o8, one of t3_i5_r3_o4, one delivery i8_r2_o8.
 */
import { expect } from "chai";
import { buildBn128, type Bn128 } from "ffjavascript";
import {
  BatchInputError,
  P,
  PreparedVerifier,
  VerificationKeyError,
  buildCircuit,
  buildDeliveryCircuit,
  findShape,
  loadDeliveryShapes,
  prepareVerifier,
  preparedVerifierFor,
  proveDelivery,
  proveModule,
  randomDeliveryKey,
  randomSalt,
  verifyDelivery,
  verifyGroth16,
  verifyGroth16Snarkjs,
  verifyModule,
  type CircuitArtifacts,
  type Groth16Proof,
} from "../../src/zk/index.js";
import { randomWitness, rng } from "./helpers.js";

type Sigs = bigint[];
interface Proven {
  proof: Groth16Proof;
  sigs: Sigs;
}

describe("# prepared Groth16 verifier", function () {
  let c: Bn128;
  let tiny: CircuitArtifacts;
  let other: CircuitArtifacts;
  let deliveryVkey: object;
  let pv: PreparedVerifier;
  let p: Proven[]; // three proofs of the tiny key
  let o: Proven; // a proof of the t3_i5_r3_o4 key (also 4 public signals)
  let d: Proven; // a delivery proof (3 public signals)

  before(async function () {
    c = await buildBn128(true);
    tiny = await buildCircuit(await findShape("t2_i8_r2_o8"));
    other = await buildCircuit(await findShape("t3_i5_r3_o4"));
    p = [];
    for (const seed of [11, 12, 13]) {
      const { proof, publicSignals } = await proveModule(tiny, randomWitness(tiny.shape, seed));
      p.push({ proof, sigs: [...publicSignals] });
    }
    const op = await proveModule(other, randomWitness(other.shape, 14));
    o = { proof: op.proof, sigs: [...op.publicSignals] };
    const shape = (await loadDeliveryShapes()).find((s) => s.DIN === 8 && s.R === 2 && s.DOUT === 8);
    if (shape === undefined) throw new Error("circuits/delivery-shapes.json lacks the tiny 8x2x8 shape");
    const dArt = await buildDeliveryCircuit(shape);
    deliveryVkey = dArt.vkey;
    const r = rng(15);
    const mat = (rows: number, cols: number) =>
      Array.from({ length: rows }, () => Array.from({ length: cols }, () => r(-(2 ** 15), 2 ** 15)));
    const dp = await proveDelivery(
      dArt,
      { A: mat(8, 2), B: mat(2, 8), salt: randomSalt() },
      randomDeliveryKey(),
    );
    d = { proof: dp.proof, sigs: [...dp.publicSignals] };
    pv = await prepareVerifier(tiny.vkey);
  });

  // --- point helpers (proof JSON <-> engine buffers) ---
  const big = (v: unknown): unknown => (Array.isArray(v) ? v.map(big) : BigInt(v as string));
  const str = (v: unknown): unknown => (Array.isArray(v) ? v.map(str) : (v as bigint).toString());
  const g1 = (obj: unknown) => c.G1.toAffine(c.G1.fromObject(big(obj)));
  const g2 = (obj: unknown) => c.G2.toAffine(c.G2.fromObject(big(obj)));
  const g1Obj = (pt: Uint8Array) => str(c.G1.toObject(c.G1.toAffine(pt))) as Groth16Proof["pi_a"];
  const g2Obj = (pt: Uint8Array) => str(c.G2.toObject(c.G2.toAffine(pt))) as Groth16Proof["pi_b"];
  const with_ = (pr: Groth16Proof, patch: Record<string, unknown>) => ({ ...pr, ...patch }) as Groth16Proof;

  /** Expects the prepared verifier and snarkjs to agree on `expected` (snarkjs throwing = rejecting). */
  async function parity(
    vkey: object,
    proof: Groth16Proof,
    sigs: readonly (bigint | string)[],
    expected: boolean,
    label: string,
  ): Promise<void> {
    const prepared = await prepareVerifier(vkey);
    const theirs = await verifyGroth16Snarkjs(vkey, proof, sigs).catch(() => false);
    expect(theirs, `snarkjs: ${label}`).to.equal(expected);
    expect(prepared.verify(proof, sigs), `prepared: ${label}`).to.equal(expected);
  }

  describe("# single proofs: parity with snarkjs.groth16.verify", function () {
    it("Should accept every valid proof (module proofs of two keys, a delivery proof)", async function () {
      for (let i = 0; i < p.length; i++) await parity(tiny.vkey, p[i].proof, p[i].sigs, true, `tiny ${i}`);
      await parity(other.vkey, o.proof, o.sigs, true, "t3 proof");
      await parity(deliveryVkey, d.proof, d.sigs, true, "delivery proof");
      // decimal-string signals, as they arrive over JSON
      expect(pv.verify(p[0].proof, p[0].sigs.map(String))).to.equal(true);
    });

    it("Should reject A, B or C replaced by another valid point", async function () {
      const { proof, sigs } = p[0];
      const A = g1(proof.pi_a);
      const B = g2(proof.pi_b);
      const C = g1(proof.pi_c);
      const cases: [string, Groth16Proof][] = [
        ["A -> 2A", with_(proof, { pi_a: g1Obj(c.G1.double(A)) })],
        ["A -> A + G1", with_(proof, { pi_a: g1Obj(c.G1.add(A, c.G1.oneAffine)) })],
        ["A -> C", with_(proof, { pi_a: proof.pi_c })],
        ["A -> -A", with_(proof, { pi_a: g1Obj(c.G1.neg(A)) })],
        ["B -> 2B", with_(proof, { pi_b: g2Obj(c.G2.double(B)) })],
        ["B -> B + G2", with_(proof, { pi_b: g2Obj(c.G2.add(B, c.G2.oneAffine)) })],
        ["C -> C + G1", with_(proof, { pi_c: g1Obj(c.G1.add(C, c.G1.oneAffine)) })],
        ["C -> A", with_(proof, { pi_c: proof.pi_a })],
        ["A of another proof", with_(proof, { pi_a: p[1].proof.pi_a })],
      ];
      for (const [label, bad] of cases) await parity(tiny.vkey, bad, sigs, false, label);
    });

    it("Should reject each public signal + 1, signals swapped between proofs, and signal = r", async function () {
      const { proof, sigs } = p[0];
      for (let i = 0; i < 4; i++) {
        const s = [...sigs];
        s[i] = (s[i] + 1n) % P;
        await parity(tiny.vkey, proof, s, false, `signal ${i} + 1`);
        const atR = [...sigs];
        atR[i] = P;
        await parity(tiny.vkey, proof, atR, false, `signal ${i} = r`);
        const plusR = [...sigs];
        plusR[i] = sigs[i] + P;
        await parity(tiny.vkey, proof, plusR, false, `signal ${i} + r (same vk_x)`);
      }
      await parity(tiny.vkey, p[0].proof, p[1].sigs, false, "proof 0 with proof 1's signals");
      await parity(tiny.vkey, p[1].proof, p[0].sigs, false, "proof 1 with proof 0's signals");
      await parity(tiny.vkey, proof, [sigs[1], sigs[0], sigs[2], sigs[3]], false, "C_m and hX swapped");
      await parity(
        deliveryVkey,
        d.proof,
        [d.sigs[0], d.sigs[2], d.sigs[1]],
        false,
        "delivery hK, hC swapped",
      );
      for (let i = 0; i < 3; i++) {
        const s = [...d.sigs];
        s[i] = (s[i] + 1n) % P;
        await parity(deliveryVkey, d.proof, s, false, `delivery signal ${i} + 1`);
      }
    });

    it("Should reject a proof under another key with the same number of public signals", async function () {
      await parity(tiny.vkey, o.proof, o.sigs, false, "t3 proof against the tiny key");
      await parity(other.vkey, p[0].proof, p[0].sigs, false, "tiny proof against the t3 key");
    });

    it("Should reject points off the curve, at infinity, or outside G2, and say which", async function () {
      const { proof, sigs } = p[0];
      const q = c.q;
      const bumpY = (obj: string[]) => [obj[0], ((BigInt(obj[1]) + 1n) % q).toString(), obj[2]];
      const offA = with_(proof, { pi_a: bumpY(proof.pi_a) });
      await parity(tiny.vkey, offA, sigs, false, "A off the curve");
      expect(pv.check(offA, sigs)).to.deep.equal({ ok: false, reason: "pi_a is not on the curve" });
      const offC = with_(proof, { pi_c: bumpY(proof.pi_c) });
      await parity(tiny.vkey, offC, sigs, false, "C off the curve");
      const b = proof.pi_b;
      const offB = with_(proof, {
        pi_b: [[b[0][0], b[0][1]], [((BigInt(b[1][0]) + 1n) % q).toString(), b[1][1]], b[2]],
      });
      await parity(tiny.vkey, offB, sigs, false, "B off the curve");
      expect(pv.check(offB, sigs)).to.deep.equal({ ok: false, reason: "pi_b is not on the curve" });
      const infA = with_(proof, { pi_a: ["0", "1", "0"] });
      await parity(tiny.vkey, infA, sigs, false, "A at infinity");
      expect(pv.check(infA, sigs)).to.deep.equal({ ok: false, reason: "pi_a is the point at infinity" });

      // A point of the twist E'(F_q^2) outside the order-r subgroup: snarkjs checks only the
      // curve equation; the pairing equation then fails there, here the subgroup check does.
      const F2 = c.F2;
      let x = F2.fromObject([5n, 7n]);
      let twist: Uint8Array | undefined;
      while (twist === undefined) {
        const rhs = F2.add(F2.mul(F2.square(x), x), c.G2.b);
        if (F2.isSquare(rhs)) {
          twist = new Uint8Array(128);
          twist.set(x);
          twist.set(F2.sqrt(rhs), 64);
        }
        x = F2.add(x, F2.one);
      }
      expect(c.G2.isValid(twist)).to.equal(true);
      expect(c.G2.isZero(c.G2.timesScalar(twist, c.r))).to.equal(false);
      const outside = with_(proof, { pi_b: g2Obj(twist) });
      await parity(tiny.vkey, outside, sigs, false, "B outside G2");
      expect(pv.check(outside, sigs)).to.deep.equal({
        ok: false,
        reason: "pi_b is on the twist but not in the subgroup G2",
      });
    });

    it("Should reject coordinates >= q that snarkjs reduces (x and x + q) and accepts", async function () {
      const { proof, sigs } = p[0];
      const xq = (BigInt(proof.pi_a[0]) + c.q).toString();
      const malleable = with_(proof, { pi_a: [xq, proof.pi_a[1], proof.pi_a[2]] });
      // snarkjs accepts this second encoding of the same proof; the EVM precompile does not.
      expect(await verifyGroth16Snarkjs(tiny.vkey, malleable, sigs)).to.equal(true);
      expect(pv.check(malleable, sigs)).to.deep.equal({
        ok: false,
        reason: "pi_a: coordinates must be integers in [0, q)",
      });
    });

    it("Should return false, never throw, on malformed proofs and signals", function () {
      const { proof, sigs } = p[0];
      const bad: [string, unknown, unknown][] = [
        ["null proof", null, sigs],
        ["string proof", "proof", sigs],
        ["no pi_a", { ...proof, pi_a: undefined }, sigs],
        ["pi_a of 1 coordinate", { ...proof, pi_a: [proof.pi_a[0]] }, sigs],
        ["non-numeric coordinate", { ...proof, pi_a: ["abc", proof.pi_a[1], "1"] }, sigs],
        ["negative coordinate", { ...proof, pi_a: ["-1", proof.pi_a[1], "1"] }, sigs],
        ["pi_b flat", { ...proof, pi_b: proof.pi_a }, sigs],
        ["protocol plonk", { ...proof, protocol: "plonk" }, sigs],
        ["signals not an array", proof, "1,2,3,4"],
        ["3 signals", proof, sigs.slice(0, 3)],
        ["5 signals", proof, [...sigs, 1n]],
        ["signal 1.5", proof, [sigs[0], "1.5", sigs[2], sigs[3]]],
        ["signal -1", proof, [sigs[0], -1n, sigs[2], sigs[3]]],
        ["signal object", proof, [sigs[0], {}, sigs[2], sigs[3]]],
      ];
      for (const [label, pr, s] of bad) {
        const out = pv.check(pr as Groth16Proof, s as bigint[]);
        expect(out.ok, label).to.equal(false);
        expect((out as { reason: string }).reason, label)
          .to.be.a("string")
          .and.not.equal("");
      }
    });

    it("Should refuse a malformed or inconsistent verification key with VerificationKeyError", async function () {
      const vk = tiny.vkey as Record<string, unknown>;
      const bad: [string, object][] = [
        ["protocol", { ...vk, protocol: "plonk" }],
        ["curve", { ...vk, curve: "bls12381" }],
        ["nPublic", { ...vk, nPublic: 3 }],
        ["IC missing", { ...vk, IC: undefined }],
        ["IC off the curve", { ...vk, IC: [["1", "1", "1"], ...(vk.IC as unknown[]).slice(1)] }],
        [
          "gamma off the curve",
          {
            ...vk,
            vk_gamma_2: [
              ["1", "0"],
              ["1", "0"],
              ["1", "0"],
            ],
          },
        ],
        ["alphabeta not e(alpha, beta)", { ...vk, vk_alpha_1: (vk.IC as unknown[])[0] }],
      ];
      for (const [label, key] of bad) {
        const err = await prepareVerifier(key).catch((e: unknown) => e);
        expect(err, label).to.be.instanceOf(VerificationKeyError);
      }
    });
  });

  describe("# batch verification", function () {
    it("Should accept batches of valid proofs (n = 1, 3, 6 with repeats)", function () {
      const proofs = p.map((x) => x.proof);
      const sigs = p.map((x) => x.sigs);
      expect(pv.verifyBatch(proofs.slice(0, 1), sigs.slice(0, 1))).to.equal(true);
      expect(pv.verifyBatch(proofs, sigs)).to.equal(true);
      expect(pv.verifyBatch([...proofs, ...proofs], [...sigs, ...sigs])).to.equal(true);
    });

    it("Should reject a batch with one bad proof, in every position", function () {
      const A = g1(p[0].proof.pi_a);
      const badItems: [string, Proven][] = [
        [
          "signal + 1",
          { proof: p[0].proof, sigs: [p[0].sigs[0], (p[0].sigs[1] + 1n) % P, ...p[0].sigs.slice(2)] },
        ],
        ["A -> 2A", { proof: with_(p[0].proof, { pi_a: g1Obj(c.G1.double(A)) }), sigs: p[0].sigs }],
        ["signals of another proof", { proof: p[0].proof, sigs: p[1].sigs }],
        ["proof of another key", o],
      ];
      for (const [label, bad] of badItems) {
        expect(pv.verify(bad.proof, bad.sigs), label).to.equal(false);
        for (let pos = 0; pos < 4; pos++) {
          const batch = [p[0], p[1], p[2], p[1]];
          batch[pos] = bad;
          expect(
            pv.verifyBatch(
              batch.map((x) => x.proof),
              batch.map((x) => x.sigs),
            ),
            `${label} at position ${pos}`,
          ).to.equal(false);
        }
      }
    });

    it("Should reject two bad proofs whose defects cancel in an unweighted product", function () {
      // (A + G, B, C) and (A - G, B, C): e(-(A+G), B)·e(-(A-G), B) = e(-A, B)^2, so with all
      // r_i = 1 the batch would pass; the random r_i make it fail.
      const { proof, sigs } = p[0];
      const A = g1(proof.pi_a);
      const plus = with_(proof, { pi_a: g1Obj(c.G1.add(A, c.G1.oneAffine)) });
      const minus = with_(proof, { pi_a: g1Obj(c.G1.add(A, c.G1.neg(c.G1.oneAffine))) });
      expect(pv.verify(plus, sigs)).to.equal(false);
      expect(pv.verify(minus, sigs)).to.equal(false);
      expect(pv.verifyBatch([plus, minus], [sigs, sigs])).to.equal(false);
      expect(pv.verifyBatch([p[1].proof, plus, minus], [p[1].sigs, sigs, sigs])).to.equal(false);
    });

    it("Should return false for a malformed item and throw BatchInputError for an empty or uneven batch", function () {
      const proofs = p.map((x) => x.proof);
      const sigs = p.map((x) => x.sigs);
      expect(pv.verifyBatch([proofs[0], { ...proofs[1], pi_a: ["x"] } as never], sigs.slice(0, 2))).to.equal(
        false,
      );
      expect(pv.verifyBatch(proofs.slice(0, 2), [sigs[0], [P, 0n, 0n, 0n]])).to.equal(false);
      expect(() => pv.verifyBatch([], [])).to.throw(BatchInputError, /empty batch/);
      expect(() => pv.verifyBatch(proofs, sigs.slice(0, 2))).to.throw(BatchInputError, /3 proofs but 2/);
    });
  });

  describe("# hot path", function () {
    it("Should back verifyModule and verifyDelivery with one cached prepared verifier per key", async function () {
      const a = await preparedVerifierFor(tiny.vkey);
      expect(await preparedVerifierFor(tiny.vkey)).to.equal(a);
      // an equal key parsed anew (as the client reads it) hits by content
      expect(await preparedVerifierFor(JSON.parse(JSON.stringify(tiny.vkey)) as object)).to.equal(a);
      expect(await preparedVerifierFor(other.vkey)).to.not.equal(a);
      expect(await verifyModule(tiny.vkey, p[2].proof, p[2].sigs)).to.equal(true);
      expect(await verifyModule(tiny.vkey, p[2].proof, p[1].sigs)).to.equal(false);
      expect(await verifyModule(tiny.vkey, p[2].proof, p[2].sigs.slice(0, 3))).to.equal(false);
      expect(await verifyGroth16(other.vkey, o.proof, o.sigs)).to.equal(true);
      expect(await verifyGroth16(other.vkey, p[0].proof, p[0].sigs)).to.equal(false);
      expect(await verifyDelivery(deliveryVkey, d.proof, d.sigs)).to.equal(true);
      expect(
        await verifyDelivery(deliveryVkey, d.proof, [d.sigs[0], d.sigs[1], (d.sigs[2] + 1n) % P]),
      ).to.equal(false);
      const bad = await preparedVerifierFor({ protocol: "groth16" }).catch((e: unknown) => e);
      expect(bad).to.be.instanceOf(VerificationKeyError);
    });
  });
});
