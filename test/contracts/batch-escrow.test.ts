/**
 * LoraEscrow.submitBatch and the registry's batch verifiers, with REAL proofs (tiny shape, plus one
 * module of a second shape for a mixed deal): batches prove entries and settle, a batch with one bad
 * proof proves nothing, submit / submitMany keep working, deals keep the batch verifier of their proposal.
 */
import { expect } from "chai";
import type { Contract, Signer } from "ethers";
import { addressesOf, ContractRevertError, ZkloraClient } from "../../src/chain/index.js";
import {
  buildCircuit,
  findShape,
  SHAPE_VARIANT,
  type CircuitArtifacts,
  type SolidityProof,
} from "../../src/zk/index.js";
import {
  deployFixture,
  entryArgs,
  ethers,
  makeEntry,
  makeWeights,
  matrix,
  networkHelpers,
  otherShape,
  proveEntry,
  sortEntries,
  tinyCircuit,
  TINY_SHAPE,
  type DealEntry,
  type Fixture,
  type Weights,
} from "./fixture.js";

const PRICE = ethers.parseEther("2");
/** The BN254 base field modulus q. */
const Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583n;
const WINDOW = 3600n;
const BASE_MODEL = ethers.id("stories260K base weights");

describe("# LoraEscrow.submitBatch with real proofs", function () {
  let art: CircuitArtifacts;
  let W0: Weights;
  let W1: Weights;
  let Xs: bigint[][][];

  before(async function () {
    art = await tinyCircuit();
    W0 = await makeWeights(art.shape, 31);
    W1 = await makeWeights(art.shape, 32);
    Xs = [0, 1, 2, 3].map((k) => matrix(art.shape.T, art.shape.DIN, 40 + k, 500));
  });

  const as = (c: Contract, s: Signer) => c.connect(s) as Contract;
  const args = (list: { index: number; proof: SolidityProof }[]) =>
    list.map(({ index, proof }) => ({ entryIndex: index, a: proof.a, b: proof.b, c: proof.c }));

  async function propose(f: Fixture, modules: { shapeId: string; commitment: bigint }[]): Promise<bigint> {
    const dealId = (await f.escrow.nextDealId()) as bigint;
    await as(f.escrow, f.contributor).propose(
      PRICE,
      ethers.ZeroAddress,
      await f.buyer.getAddress(),
      BASE_MODEL,
      modules.map((m, i) => ({ target: `transformer.h.${i}.attn.c_attn`, ...m })),
      WINDOW,
    );
    return dealId;
  }

  /** A funded two-module tiny deal: module 0 (W0) on X0..X2, module 1 (W1) on X3; proofs made one by one. */
  async function fundedDeal(f: Fixture) {
    const dealId = await propose(f, [
      { shapeId: art.shapeId, commitment: W0.commitment },
      { shapeId: art.shapeId, commitment: W1.commitment },
    ]);
    const made: { entry: DealEntry; weights: Weights }[] = [];
    for (const k of [0, 1, 2]) made.push({ entry: await makeEntry(f, dealId, 0, W0, Xs[k]), weights: W0 });
    made.push({ entry: await makeEntry(f, dealId, 1, W1, Xs[3]), weights: W1 });
    const list = sortEntries(made.map((m) => ({ ...m, module: m.entry.module, hX: m.entry.hX })));
    await as(f.escrow, f.buyer).fund(dealId, entryArgs(list.map((l) => l.entry)), { value: PRICE });
    const proofs: { index: number; proof: SolidityProof }[] = [];
    for (let i = 0; i < list.length; i++) {
      proofs.push({ index: i, proof: await proveEntry(art, list[i].weights, list[i].entry) });
    }
    return { dealId, list, proofs };
  }

  const pending = async (f: Fixture, dealId: bigint) =>
    (await f.escrow.getEntries(dealId)).map((e: { state: bigint }) => e.state === 2n);

  describe("# registry", function () {
    it("Should register one batch verifier per deployed shape, with the shape's key", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const names = Object.keys(f.deployment.verifiers);
      expect(Object.keys(f.deployment.batchVerifiers).sort()).to.deep.equal([...names].sort());
      expect(await f.registry.batchShapeCount()).to.equal(BigInt(names.length));
      for (const s of f.deployment.record.shapes) {
        const batch = f.deployment.batchVerifiers[s.name];
        expect(await f.registry.batchVerifierOf(s.shapeId)).to.equal(await batch.getAddress());
        expect(s.batchVerifier?.address).to.equal(await batch.getAddress());
        const [verifier, batchVerifier] = await f.registry.verifiersOf(s.shapeId);
        expect([verifier, batchVerifier]).to.deep.equal([s.verifier.address, s.batchVerifier?.address]);
      }
      expect(await f.registry.batchVerifierOf(ethers.id("unknown"))).to.equal(ethers.ZeroAddress);
    });

    it("Should register batch verifiers append-only, owner only, for registered shapes only", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const current = await f.deployment.batchVerifiers[TINY_SHAPE].getAddress();
      const other = await f.escrow.getAddress();
      await expect(f.registry.registerBatchVerifier(art.shapeId, other))
        .to.be.revertedWithCustomError(f.registry, "BatchVerifierAlreadyRegistered")
        .withArgs(art.shapeId, current);
      await expect(f.registry.registerBatchVerifier(ethers.id("nope"), other))
        .to.be.revertedWithCustomError(f.registry, "UnknownShape")
        .withArgs(ethers.id("nope"));
      await f.registry.register(
        SHAPE_VARIANT,
        9,
        9,
        9,
        9,
        await f.deployment.verifiers[TINY_SHAPE].getAddress(),
      );
      const fresh = await f.registry.shapeIdOf(SHAPE_VARIANT, 9, 9, 9, 9);
      await expect(f.registry.registerBatchVerifier(fresh, ethers.ZeroAddress)).to.be.revertedWithCustomError(
        f.registry,
        "ZeroVerifier",
      );
      await expect(f.registry.registerBatchVerifier(fresh, await f.buyer.getAddress()))
        .to.be.revertedWithCustomError(f.registry, "VerifierHasNoCode")
        .withArgs(await f.buyer.getAddress());
      await expect(as(f.registry, f.stranger).registerBatchVerifier(fresh, current))
        .to.be.revertedWithCustomError(f.registry, "OwnableUnauthorizedAccount")
        .withArgs(await f.stranger.getAddress());
      await expect(f.registry.registerBatchVerifier(fresh, current))
        .to.emit(f.registry, "BatchVerifierRegistered")
        .withArgs(fresh, current);
      expect(await f.registry.batchShapeIdAt((await f.registry.batchShapeCount()) - 1n)).to.equal(fresh);
    });
  });

  describe("# submitBatch", function () {
    it("Should prove every entry in one batch and settle", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const { dealId, list, proofs } = await fundedDeal(f);
      const batchAddress = await f.deployment.batchVerifiers[TINY_SHAPE].getAddress();
      expect(await f.escrow.batchVerifierOf(dealId, 0)).to.equal(batchAddress);
      expect(await f.escrow.batchVerifierOf(dealId, 1)).to.equal(batchAddress);
      const tx = as(f.escrow, f.stranger).submitBatch(dealId, args([...proofs].reverse()));
      for (let i = 0; i < list.length; i++) {
        await expect(tx)
          .to.emit(f.escrow, "EntryProven")
          .withArgs(dealId, BigInt(i), BigInt(list[i].entry.module), list[i].entry.rho);
      }
      expect(await pending(f, dealId)).to.deep.equal([true, true, true, true]);
      const contributor = await f.contributor.getAddress();
      const before = await ethers.provider.getBalance(contributor);
      await as(f.escrow, f.stranger).settle(dealId);
      expect((await ethers.provider.getBalance(contributor)) - before).to.equal(PRICE);
    });

    it("Should revert whole and prove nothing when one proof of the batch is bad", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const { dealId, proofs } = await fundedDeal(f);
      const batchAddress = await f.deployment.batchVerifiers[TINY_SHAPE].getAddress();
      // Proof 1 submitted for entry 2 and vice versa: two valid proofs, each for another entry.
      const swapped = args(proofs).map((p, i) => ({ ...p, entryIndex: [0, 2, 1, 3][i] }));
      await expect(as(f.escrow, f.contributor).submitBatch(dealId, swapped))
        .to.be.revertedWithCustomError(f.escrow, "InvalidBatchProof")
        .withArgs(dealId, batchAddress, 4n);
      const oneBad = args(proofs);
      oneBad[3] = { ...oneBad[3], c: oneBad[0].c };
      await expect(as(f.escrow, f.contributor).submitBatch(dealId, oneBad))
        .to.be.revertedWithCustomError(f.escrow, "InvalidBatchProof")
        .withArgs(dealId, batchAddress, 4n);
      expect(await pending(f, dealId)).to.deep.equal([false, false, false, false]);
      // The batch verifier's own input errors come through.
      const offCurve = args(proofs.slice(0, 2));
      offCurve[1] = { ...offCurve[1], a: [offCurve[1].a[0], offCurve[1].a[1] + 1n] };
      const batch = f.deployment.batchVerifiers[TINY_SHAPE];
      await expect(as(f.escrow, f.contributor).submitBatch(dealId, offCurve))
        .to.be.revertedWithCustomError(batch, "PointNotOnCurve")
        .withArgs(1n, false);
      await expect(as(f.escrow, f.contributor).submitBatch(dealId, [])).to.be.revertedWithCustomError(
        f.escrow,
        "NoProofs",
      );
      await as(f.escrow, f.contributor).submitBatch(dealId, args(proofs));
      expect(await pending(f, dealId)).to.deep.equal([true, true, true, true]);
    });

    it("Should work beside submit and submitMany and refuse entries proven or unknown", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const { dealId, proofs } = await fundedDeal(f);
      const [p0, p1, p2, p3] = args(proofs);
      await as(f.escrow, f.contributor).submit(dealId, 0, p0.a, p0.b, p0.c);
      await expect(as(f.escrow, f.contributor).submitBatch(dealId, [p1, p0]))
        .to.be.revertedWithCustomError(f.escrow, "EntryAlreadyProven")
        .withArgs(dealId, 0n);
      await expect(as(f.escrow, f.contributor).submitBatch(dealId, [p1, p1]))
        .to.be.revertedWithCustomError(f.escrow, "EntryAlreadyProven")
        .withArgs(dealId, 1n);
      await expect(as(f.escrow, f.contributor).submitBatch(dealId, [p1, { ...p2, entryIndex: 4 }]))
        .to.be.revertedWithCustomError(f.escrow, "UnknownEntry")
        .withArgs(dealId, 4n);
      await as(f.escrow, f.contributor).submitBatch(dealId, [p2, p1]);
      await expect(as(f.escrow, f.contributor).submitMany(dealId, [p2]))
        .to.be.revertedWithCustomError(f.escrow, "EntryAlreadyProven")
        .withArgs(dealId, 2n);
      await as(f.escrow, f.contributor).submitMany(dealId, [p3]);
      expect(await pending(f, dealId)).to.deep.equal([true, true, true, true]);
      await expect(as(f.escrow, f.contributor).submitBatch(dealId, [p3]))
        .to.be.revertedWithCustomError(f.escrow, "EntryAlreadyProven")
        .withArgs(dealId, 3n);
    });

    it("Should refuse batches after the proving window", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const { dealId, proofs } = await fundedDeal(f);
      const deadline = (await f.escrow.getDeal(dealId)).deadline as bigint;
      await networkHelpers.time.increaseTo(deadline + 1n);
      await expect(as(f.escrow, f.contributor).submitBatch(dealId, args(proofs)))
        .to.be.revertedWithCustomError(f.escrow, "ProvingWindowClosed")
        .withArgs(dealId, deadline);
    });

    it("Should group a deal's proofs by shape, one batch per shape", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const other = otherShape(f);
      const otherArt = await buildCircuit(await findShape(other.name));
      const W2 = await makeWeights(otherArt.shape, 77);
      const dealId = await propose(f, [
        { shapeId: art.shapeId, commitment: W0.commitment },
        { shapeId: other.shapeId, commitment: W2.commitment },
      ]);
      const e0 = await makeEntry(f, dealId, 0, W0, Xs[0]);
      const e1 = await makeEntry(f, dealId, 0, W0, Xs[1]);
      const e2 = await makeEntry(f, dealId, 1, W2, matrix(otherArt.shape.T, otherArt.shape.DIN, 5, 500));
      const entries = sortEntries([e0, e1, e2]);
      await as(f.escrow, f.buyer).fund(dealId, entryArgs(entries), { value: PRICE });
      const proofs: { index: number; proof: SolidityProof }[] = [];
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i];
        proofs.push({
          index: i,
          proof: await proveEntry(e.module === 0 ? art : otherArt, e.module === 0 ? W0 : W2, e),
        });
      }
      expect(await f.escrow.batchVerifierOf(dealId, 1)).to.equal(
        await f.deployment.batchVerifiers[other.name].getAddress(),
      );
      // Interleaved shapes; a bad proof of the second shape fails its group and names its verifier.
      const order = [proofs[0], proofs[2], proofs[1]];
      const bad = args(order);
      bad[1] = { ...bad[1], c: bad[0].c };
      await expect(as(f.escrow, f.contributor).submitBatch(dealId, bad))
        .to.be.revertedWithCustomError(f.escrow, "InvalidBatchProof")
        .withArgs(dealId, await f.deployment.batchVerifiers[other.name].getAddress(), 1n);
      await as(f.escrow, f.contributor).submitBatch(dealId, args(order));
      expect(await pending(f, dealId)).to.deep.equal([true, true, true]);
      await as(f.escrow, f.stranger).settle(dealId);
    });

    it("Should keep the batch verifiers of the proposal: none when the shape had none then", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      // A shape registered without a batch verifier (same circuit and key as the tiny one).
      const tinyVerifier = await f.deployment.verifiers[TINY_SHAPE].getAddress();
      await f.registry.register(ethers.encodeBytes32String("zklora.test.v1"), 2, 8, 2, 8, tinyVerifier);
      const bare = await f.registry.shapeIdOf(ethers.encodeBytes32String("zklora.test.v1"), 2, 8, 2, 8);
      const dealId = await propose(f, [{ shapeId: bare, commitment: W0.commitment }]);
      const entry = await makeEntry(f, dealId, 0, W0, Xs[0]);
      await as(f.escrow, f.buyer).fund(dealId, entryArgs([entry]), { value: PRICE });
      const proof = args([{ index: 0, proof: await proveEntry(art, W0, entry) }]);
      await expect(as(f.escrow, f.contributor).submitBatch(dealId, proof))
        .to.be.revertedWithCustomError(f.escrow, "NoBatchVerifier")
        .withArgs(dealId, 0n);
      // Registering one later does not change the proposed deal.
      await f.registry.registerBatchVerifier(
        bare,
        await f.deployment.batchVerifiers[TINY_SHAPE].getAddress(),
      );
      expect(await f.escrow.batchVerifierOf(dealId, 0)).to.equal(ethers.ZeroAddress);
      await expect(as(f.escrow, f.contributor).submitBatch(dealId, proof)).to.be.revertedWithCustomError(
        f.escrow,
        "NoBatchVerifier",
      );
      await as(f.escrow, f.contributor).submitMany(dealId, proof);
      expect(await f.escrow.entryProven(dealId, 0)).to.equal(true);
      await expect(f.escrow.batchVerifierOf(dealId, 1))
        .to.be.revertedWithCustomError(f.escrow, "UnknownModule")
        .withArgs(dealId, 1n);
    });
  });

  describe("# submit's single check", function () {
    /** A one-entry deal on `shapeId` (W0 on X0), funded; its entry and a real proof. */
    async function oneEntryDeal(f: Fixture, shapeId: string) {
      const dealId = await propose(f, [{ shapeId, commitment: W0.commitment }]);
      const entry = await makeEntry(f, dealId, 0, W0, Xs[0]);
      await as(f.escrow, f.buyer).fund(dealId, entryArgs([entry]), { value: PRICE });
      return { dealId, entry, proof: await proveEntry(art, W0, entry) };
    }

    it("Should check with the batch verifier's base path when the shape has one, the generated verifier otherwise", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const tinyVerifier = await f.deployment.verifiers[TINY_SHAPE].getAddress();
      await f.registry.register(ethers.encodeBytes32String("zklora.test.v1"), 2, 8, 2, 8, tinyVerifier);
      const bare = await f.registry.shapeIdOf(ethers.encodeBytes32String("zklora.test.v1"), 2, 8, 2, 8);
      const prepared = await oneEntryDeal(f, art.shapeId);
      const plain = await oneEntryDeal(f, bare);
      expect(await f.escrow.batchVerifierOf(prepared.dealId, 0)).to.not.equal(ethers.ZeroAddress);
      expect(await f.escrow.batchVerifierOf(plain.dealId, 0)).to.equal(ethers.ZeroAddress);
      const other = await proveEntry(art, W0, await makeEntry(f, prepared.dealId, 0, W0, Xs[1]));
      for (const deal of [prepared, plain]) {
        const p = deal.proof;
        // Every rejection is InvalidProof, whichever checker (the batch verifier's input errors included).
        const bad: SolidityProof[] = [
          { ...p, c: other.c },
          { ...p, a: other.a },
          { ...p, a: [p.a[0], p.a[1] + Q] },
          { ...p, a: [p.a[0], (p.a[1] + 1n) % Q] },
          { ...p, b: [p.b[1], p.b[0]] },
          other,
        ];
        for (const t of bad) {
          await expect(as(f.escrow, f.contributor).submit(deal.dealId, 0, t.a, t.b, t.c))
            .to.be.revertedWithCustomError(f.escrow, "InvalidProof")
            .withArgs(deal.dealId, 0n);
        }
      }
      const gas: bigint[] = [];
      for (const deal of [prepared, plain]) {
        const tx = as(f.escrow, f.stranger).submit(deal.dealId, 0, deal.proof.a, deal.proof.b, deal.proof.c);
        await expect(tx).to.emit(f.escrow, "EntryProven").withArgs(deal.dealId, 0n, 0n, deal.entry.rho);
        gas.push((await (await tx).wait())!.gasUsed);
        expect(await f.escrow.entryProven(deal.dealId, 0)).to.equal(true);
      }
      // The base path skips one ecMul (6000 gas) and one ecAdd, less its fuller input checks: the batch
      // verifier, not the generated one, checked the first proof.
      expect(gas[1] - gas[0]).to.be.greaterThan(3000n);
    });

    it("Should store a deal's entries as the code of a contract at the escrow's next CREATE address", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const escrowAddress = await f.escrow.getAddress();
      const nonce = await ethers.provider.getTransactionCount(escrowAddress);
      const { dealId, list } = await fundedDeal(f);
      expect(await ethers.provider.getTransactionCount(escrowAddress)).to.equal(nonce + 1);
      const code = await ethers.provider.getCode(ethers.getCreateAddress({ from: escrowAddress, nonce }));
      const word = (v: bigint | string) => ethers.toBeHex(v, 32).slice(2);
      const batch = await f.deployment.batchVerifiers[TINY_SHAPE].getAddress();
      const modules = await f.escrow.getModules(dealId);
      let expected = "0x00";
      for (const { entry } of list) {
        expected +=
          ethers.toBeHex(entry.module, 1).slice(2) + word(entry.hX) + word(entry.hY) + word(entry.fY);
      }
      for (const m of modules) {
        const base = (await f.deployment.batchVerifiers[TINY_SHAPE].signalBase(m.commitment)) as bigint[];
        expected += word((1n << 160n) | BigInt(batch)) + word(m.commitment) + word(base[0]) + word(base[1]);
      }
      expect(code).to.equal(expected);
      // STOP first: calling the store does nothing.
      await (
        await f.stranger.sendTransaction({ to: ethers.getCreateAddress({ from: escrowAddress, nonce }) })
      ).wait();
      expect((await f.escrow.getEntries(dealId)).map((e: { hX: bigint }) => e.hX)).to.deep.equal(
        list.map((l) => l.entry.hX),
      );
    });
  });

  describe("# client", function () {
    it("Should submit a batch through ZkloraClient and explain a failing one", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const { dealId, proofs } = await fundedDeal(f);
      const client = await ZkloraClient.connect(f.contributor, addressesOf(f.deployment.record));
      const batchAddress = await f.deployment.batchVerifiers[TINY_SHAPE].getAddress();
      expect(await client.batchVerifiersOf(dealId)).to.deep.equal([batchAddress, batchAddress]);
      const entryProofs = proofs.map((p) => ({ entryIndex: p.index, ...p.proof }));
      const bad = entryProofs.map((p, i) => (i === 1 ? { ...p, c: entryProofs[0].c } : p));
      const err = await client.submitBatch(dealId, bad).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(ContractRevertError);
      expect((err as ContractRevertError).revertName).to.equal("InvalidBatchProof");
      expect((err as Error).message).to.match(/does not verify/);
      const offCurve = bad.map((p, i) =>
        i === 2 ? { ...p, c: [p.c[0], p.c[1] + 1n] as [bigint, bigint] } : p,
      );
      const err2 = await client.submitBatch(dealId, offCurve).catch((e: unknown) => e);
      expect((err2 as ContractRevertError).revertName).to.equal("PointNotOnCurve");
      const tx = await client.submitBatch(dealId, entryProofs);
      expect(tx.receipt.status).to.equal(1);
      expect((await client.getEntries(dealId)).every((e) => e.proven)).to.equal(true);
    });
  });
});
