/**
 * LoraModuleVerifierV2 with REAL v2 proofs of the tiny shape: its constants and keyHash are exactly
 * the shape key's (src/zk/v2), it accepts a proof under the deal's δ' and rejects it under the
 * shape's own δ, for another statement or another deal's proof; the batch form accepts exactly when
 * every proof verifies; malformed input reverts with typed errors; and the forged W_m that passes the
 * bare pairing check (vk_x = O, A = α, B = β, C = O) is accepted here, which is why the buyer checks
 * W_m's proof of knowledge before funding (shown refusing it).
 */
import { expect } from "chai";
import type { Contract } from "ethers";
import { network } from "hardhat";
import { P } from "../../src/zk/index.js";
import { engine } from "../../src/zk/verifier.js";
import { devPtauSecrets } from "../../src/zk/index.js";
import {
  checkWeightPok,
  commitWeights,
  deltaOf,
  foldEntry,
  proveV2,
  solidityShapeKey,
  toSolidityProofV2,
  toSolidityStatement,
  v2ShapeId,
  type G1Point,
  type SolidityProofV2,
  type V2Statement,
} from "../../src/zk/v2/index.js";
import { loraProduct } from "../../src/zk/index.js";
import {
  CTX,
  RHO_CTX,
  TINY_V2,
  randomOpening,
  randomRows,
  v2Fixture,
  type V2Fixture,
} from "../zk/v2-fixture.js";

const { ethers } = await network.create();
const Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583n;

describe("# LoraModuleVerifierV2 (real v2 proofs, v2_i8_r2_o6)", function () {
  let f: V2Fixture;
  let verifier: Contract;
  let p1: SolidityProofV2;
  let s1: ReturnType<typeof toSolidityStatement>;
  let p2: SolidityProofV2;
  let s2: ReturnType<typeof toSolidityStatement>;
  let initialDelta: [bigint, bigint, bigint, bigint];

  before(async function () {
    f = await v2Fixture();
    verifier = (await ethers.deployContract("LoraModuleVerifierV2", [
      solidityShapeKey(f.key),
    ])) as unknown as Contract;
    const st1: V2Statement = { rho: f.entry.rho, fY: f.entry.fY, D_X: f.entry.D_X, W_m: f.W };
    p1 = toSolidityProofV2((await proveV2(f.key, f.dealZkey, f.entry, f.opening, st1)).proof);
    s1 = toSolidityStatement(st1);
    // A second module of the same shape in the same deal (other weights, other rows).
    const o2 = randomOpening(TINY_V2, 8);
    const c2 = await commitWeights(f.key, o2, { ...CTX, module: 1 });
    const X2 = randomRows(TINY_V2.DIN, 4, 12);
    const e2 = await foldEntry(f.key, X2, loraProduct(X2, o2.A as bigint[][], o2.B as bigint[][]), {
      ...RHO_CTX,
      module: 1n,
    });
    const st2: V2Statement = { rho: e2.rho, fY: e2.fY, D_X: e2.D_X, W_m: c2.W };
    p2 = toSolidityProofV2((await proveV2(f.key, f.dealZkey, e2, o2, st2)).proof);
    s2 = toSolidityStatement(st2);
    initialDelta = (await deltaOf(f.key.zkey)).delta2;
  });

  it("Should hold exactly the shape key's constants, shape id and keyHash", async function () {
    expect(await verifier.keyHash()).to.equal(f.key.keyHash);
    expect(await verifier.shapeId()).to.equal(v2ShapeId(TINY_V2));
    expect(await verifier.DIN()).to.equal(BigInt(TINY_V2.DIN));
    const [alpha, beta, gamma, ic0, icRho, icFY] = (await verifier.constants()) as bigint[][];
    const k = f.key.onchain;
    expect([alpha, beta, gamma, ic0, icRho, icFY].map((a) => [...a])).to.deep.equal([
      k.alpha1,
      k.beta2,
      k.gamma2,
      k.ic0,
      k.icRho,
      k.icFY,
    ]);
  });

  it("Should accept a proof under the deal's δ' and reject it under the shape's initial δ", async function () {
    expect(await verifier.verify(p1, s1, f.delta2)).to.equal(true);
    expect(await verifier.verify(p2, s2, f.delta2)).to.equal(true);
    expect(await verifier.verify(p1, s1, initialDelta)).to.equal(false);
    const gas = await verifier.verify.estimateGas(p1, s1, f.delta2);
    console.log(`      verify: ${gas} gas (21k base included)`);
  });

  it("Should reject a proof for another rho, fY, D_X, W_m, or another module's proof", async function () {
    for (const s of [
      { ...s1, rho: (s1.rho + 1n) % P },
      { ...s1, fY: (s1.fY + 1n) % P },
      { ...s1, dX: s2.dX },
      { ...s1, wM: s2.wM },
    ]) {
      expect(await verifier.verify(p1, s, f.delta2)).to.equal(false);
    }
    expect(await verifier.verify(p2, s1, f.delta2)).to.equal(false);
  });

  it("Should accept a batch exactly when every proof verifies", async function () {
    expect(await verifier.verifyBatch([p1], [s1], f.delta2)).to.equal(true);
    expect(await verifier.verifyBatch([p1, p2], [s1, s2], f.delta2)).to.equal(true);
    expect(await verifier.verifyBatch([p1, p2, p1], [s1, s2, s1], f.delta2)).to.equal(true);
    expect(await verifier.verifyBatch([p1, p2], [s2, s1], f.delta2)).to.equal(false);
    expect(await verifier.verifyBatch([p1, p2], [s1, { ...s2, fY: (s2.fY + 1n) % P }], f.delta2)).to.equal(
      false,
    );
    expect(await verifier.verifyBatch([p1, p2], [s1, s2], initialDelta)).to.equal(false);
    const g1 = await verifier.verifyBatch.estimateGas([p1], [s1], f.delta2);
    const g2 = await verifier.verifyBatch.estimateGas([p1, p2], [s1, s2], f.delta2);
    const g3 = await verifier.verifyBatch.estimateGas([p1, p2, p1], [s1, s2, s1], f.delta2);
    console.log(
      `      verifyBatch: ${g1} (1), ${g2} (2), ${g3} (3) gas; ${(g3 - g1) / 2n} per further proof`,
    );
  });

  it("Should revert malformed input with typed errors", async function () {
    await expect(verifier.verifyBatch([], [], f.delta2)).to.be.revertedWithCustomError(
      verifier,
      "EmptyBatch",
    );
    await expect(verifier.verifyBatch([p1], [s1, s2], f.delta2))
      .to.be.revertedWithCustomError(verifier, "LengthMismatch")
      .withArgs(1n, 2n);
    await expect(verifier.verify(p1, { ...s1, rho: P }, f.delta2))
      .to.be.revertedWithCustomError(verifier, "ScalarNotInField")
      .withArgs(0n);
    await expect(verifier.verifyBatch([p1, p2], [s1, { ...s2, fY: P + s2.fY }], f.delta2))
      .to.be.revertedWithCustomError(verifier, "ScalarNotInField")
      .withArgs(1n);
    await expect(verifier.verify({ ...p1, a: [p1.a[0] + Q, p1.a[1]] }, s1, f.delta2))
      .to.be.revertedWithCustomError(verifier, "CoordinateNotInField")
      .withArgs(0n);
    await expect(verifier.verify(p1, { ...s1, dX: [1n, 1n] as G1Point }, f.delta2))
      .to.be.revertedWithCustomError(verifier, "PointNotOnCurve")
      .withArgs(0n);
    // A B off the twist or δ' off G2: the pairing precompile refuses it, the result is false.
    expect(await verifier.verify({ ...p1, b: [1n, 2n, 3n, 4n] }, s1, f.delta2)).to.equal(false);
    expect(await verifier.verify(p1, s1, [1n, 2n, 3n, 4n])).to.equal(false);
  });

  it("Should refuse an invalid key at construction", async function () {
    const k = solidityShapeKey(f.key);
    const factory = await ethers.getContractFactory("LoraModuleVerifierV2");
    await expect(factory.deploy({ ...k, icRho: [1n, 1n] }))
      .to.be.revertedWithCustomError(factory, "InvalidShapeKey")
      .withArgs(4n);
    await expect(factory.deploy({ ...k, gamma: [1n, 2n, 3n, 4n] }))
      .to.be.revertedWithCustomError(factory, "InvalidShapeKey")
      .withArgs(6n);
    await expect(factory.deploy({ ...k, alpha: [Q, 0n] }))
      .to.be.revertedWithCustomError(factory, "InvalidShapeKey")
      .withArgs(0n);
  });

  it("Should accept the forged W_m (bare pairing check) that its missing proof of knowledge gives away", async function () {
    const c = await engine();
    const pt = (p: G1Point) => c.G1.fromObject([p[0], p[1], 1n]);
    const k = f.key.onchain;
    let s = c.G1.add(pt(k.ic0), c.G1.timesScalar(pt(k.icRho), s1.rho));
    s = c.G1.add(s, c.G1.timesScalar(pt(k.icFY), s1.fY));
    s = c.G1.add(s, pt(s1.dX));
    const w = c.G1.toObject(c.G1.toAffine(c.G1.neg(s))) as bigint[];
    const forgedW: G1Point = [w[0], w[1]];
    const forged: SolidityProofV2 = { a: k.alpha1, b: k.beta2, c: [0n, 0n] };
    expect(await verifier.verify(forged, { ...s1, wM: forgedW }, f.delta2)).to.equal(true);
    // What stops it: no one can prove knowledge of an opening of forgedW over the bases.
    expect((await checkWeightPok(f.key, forgedW, f.pok, CTX)).ok).to.equal(false);
    const anyPok = await commitWeights(f.key, randomOpening(TINY_V2, 77), CTX);
    expect((await checkWeightPok(f.key, forgedW, anyPok.pok, CTX)).ok).to.equal(false);
  });
  it("Should accept, on the local chain, a proof of ANY statement forged from the development ptau's public secrets, under the deal's δ'", async function () {
    // Why development keys stay on local chains (src/app/forgeable.ts): τ, α, β are public.
    const c = await engine();
    expect(f.key.ptau.source).to.equal("dev");
    const { alpha, beta } = await devPtauSecrets(f.key.ptau.power);
    const pt = (p: G1Point) => c.G1.fromObject([p[0], p[1], 1n]);
    const k = f.key.onchain;
    const st = { ...s1, rho: 4242n, fY: 99n };
    let vkx = c.G1.add(pt(k.ic0), c.G1.timesScalar(pt(k.icRho), st.rho));
    vkx = c.G1.add(vkx, c.G1.timesScalar(pt(k.icFY), st.fY));
    vkx = c.G1.add(c.G1.add(vkx, pt(st.dX)), pt(st.wM));
    // e(A, γ) = e(α, β)·e(vk_x, γ) with A = [αβ]₁ + vk_x, B = γ = G2, C = O
    const a = c.G1.toObject(
      c.G1.toAffine(c.G1.add(c.G1.timesScalar(c.G1.g, (alpha * beta) % c.r), vkx)),
    ) as bigint[];
    const forged: SolidityProofV2 = { a: [a[0], a[1]], b: k.gamma2, c: [0n, 0n] };
    expect(await verifier.verify(forged, st, f.delta2)).to.equal(true);
    expect(await verifier.verify(forged, { ...st, fY: 100n }, f.delta2)).to.equal(false);
  });
});
