/**
 * LoraEscrow with REAL Groth16 proofs from the project's prover (tiny test shape): full deals in ETH
 * and in an ERC-20, and every cheat rejected with its custom error.
 */
import { expect } from "chai";
import { ZeroHash, type Contract, type Signer } from "ethers";
import { P, type CircuitArtifacts, type Shape, type SolidityProof } from "../../src/zk/index.js";
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
  tinyCircuit,
  tinyShape,
  type DealEntry,
  type Fixture,
  type Weights,
} from "./fixture.js";

const PRICE = ethers.parseEther("1.5");
const WINDOW = 3600n;
const BASE_MODEL = ethers.id("stories260K base weights");

enum Status {
  None,
  Proposed,
  Funded,
  Settled,
  Refunded,
  Cancelled,
}

describe("# LoraEscrow with real proofs", function () {
  let art: CircuitArtifacts;
  let shape: Shape;
  let tinyId: string;
  let W0: Weights;
  let W1: Weights;
  let X1: bigint[][];
  let X2: bigint[][];
  let X3: bigint[][];

  before(async function () {
    shape = await tinyShape();
    art = await tinyCircuit();
    tinyId = art.shapeId;
    W0 = await makeWeights(shape, 1);
    W1 = await makeWeights(shape, 2);
    X1 = matrix(shape.T, shape.DIN, 11, 500);
    X2 = matrix(shape.T, shape.DIN, 12, 500);
    X3 = matrix(shape.T, shape.DIN, 13, 500);
  });

  const as = (c: Contract, s: Signer) => c.connect(s) as Contract;

  async function propose(
    f: Fixture,
    opts: {
      modules?: { shapeId?: string; commitment: bigint; target?: string }[];
      token?: string;
      buyer?: string;
      price?: bigint;
      from?: Signer;
    } = {},
  ): Promise<bigint> {
    const modules = (opts.modules ?? [{ commitment: W0.commitment }, { commitment: W1.commitment }]).map(
      (m, i) => ({
        target: m.target ?? `transformer.h.${i}.attn.c_attn`,
        shapeId: m.shapeId ?? tinyId,
        commitment: m.commitment,
      }),
    );
    const dealId = (await f.escrow.nextDealId()) as bigint;
    await as(f.escrow, opts.from ?? f.contributor).propose(
      opts.price ?? PRICE,
      opts.token ?? ethers.ZeroAddress,
      opts.buyer ?? (await f.buyer.getAddress()),
      BASE_MODEL,
      modules,
      WINDOW,
    );
    return dealId;
  }

  /** The standard deal's entries: module 0 (W0) on X1 and X2, module 1 (W1) on X3. */
  async function standardEntries(
    f: Fixture,
    dealId: bigint,
  ): Promise<{ entry: DealEntry; weights: Weights }[]> {
    const list = [
      { entry: await makeEntry(f, dealId, 0, W0, X1), weights: W0 },
      { entry: await makeEntry(f, dealId, 0, W0, X2), weights: W0 },
      { entry: await makeEntry(f, dealId, 1, W1, X3), weights: W1 },
    ];
    return list.sort((a, b) => a.entry.module - b.entry.module || (a.entry.hX < b.entry.hX ? -1 : 1));
  }

  async function fundEth(f: Fixture, dealId: bigint, entries: readonly DealEntry[], buyer = f.buyer) {
    return as(f.escrow, buyer).fund(dealId, entryArgs(entries), { value: PRICE });
  }

  async function submit(f: Fixture, dealId: bigint, index: number, proof: SolidityProof, from?: Signer) {
    return as(f.escrow, from ?? f.contributor).submit(dealId, index, proof.a, proof.b, proof.c);
  }

  async function fundedStandardDeal(f: Fixture) {
    const dealId = await propose(f);
    const list = await standardEntries(f, dealId);
    await fundEth(
      f,
      dealId,
      list.map((l) => l.entry),
    );
    const proofs = await Promise.all(list.map((l) => proveEntry(art, l.weights, l.entry)));
    return { dealId, list, proofs };
  }

  describe("# full deal", function () {
    it("Should pay the contributor exactly the price in ETH once every entry is proven", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const dealId = await propose(f);
      const list = await standardEntries(f, dealId);
      const entries = list.map((l) => l.entry);
      await expect(fundEth(f, dealId, entries))
        .to.emit(f.escrow, "DealFunded")
        .withArgs(dealId, await f.buyer.getAddress(), PRICE, 3n, (d: bigint) => d > 0n);
      expect(await ethers.provider.getBalance(await f.escrow.getAddress())).to.equal(PRICE);

      const stored = await f.escrow.getEntries(dealId);
      expect(stored.map((e: { hX: bigint }) => e.hX)).to.deep.equal(entries.map((e) => e.hX));
      for (let i = 0; i < entries.length; i++) {
        expect(await f.escrow.rhoOf(dealId, i)).to.equal(entries[i].rho, "on-chain rho = computeRho");
      }
      for (let i = 0; i < list.length; i++) {
        const proof = await proveEntry(art, list[i].weights, list[i].entry);
        await expect(submit(f, dealId, i, proof))
          .to.emit(f.escrow, "EntryProven")
          .withArgs(dealId, BigInt(i), BigInt(list[i].entry.module), list[i].entry.rho);
        expect(await f.escrow.entryProven(dealId, i)).to.equal(true);
      }

      const contributor = await f.contributor.getAddress();
      const before = await ethers.provider.getBalance(contributor);
      await expect(as(f.escrow, f.stranger).settle(dealId))
        .to.emit(f.escrow, "DealSettled")
        .withArgs(dealId, contributor, ethers.ZeroAddress, PRICE);
      expect((await ethers.provider.getBalance(contributor)) - before).to.equal(PRICE);
      expect(await ethers.provider.getBalance(await f.escrow.getAddress())).to.equal(0n);
      expect((await f.escrow.getDeal(dealId)).status).to.equal(BigInt(Status.Settled));
      await expect(as(f.escrow, f.stranger).settle(dealId))
        .to.be.revertedWithCustomError(f.escrow, "WrongStatus")
        .withArgs(dealId, Status.Settled, Status.Funded);
    });

    it("Should pay the contributor exactly the price in an ERC-20, with proofs batched by submitMany", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const tokenAddress = await f.token.getAddress();
      const dealId = await propose(f, { token: tokenAddress });
      const list = await standardEntries(f, dealId);
      await f.token.mint(await f.buyer.getAddress(), PRICE);
      await as(f.token, f.buyer).approve(await f.escrow.getAddress(), PRICE);
      await as(f.escrow, f.buyer).fund(dealId, entryArgs(list.map((l) => l.entry)));
      expect(await f.token.balanceOf(await f.escrow.getAddress())).to.equal(PRICE);

      const proofs = await Promise.all(list.map((l) => proveEntry(art, l.weights, l.entry)));
      await as(f.escrow, f.stranger).submitMany(
        dealId,
        proofs.map((p, i) => ({ entryIndex: i, a: p.a, b: p.b, c: p.c })),
      );
      await as(f.escrow, f.buyer).settle(dealId);
      expect(await f.token.balanceOf(await f.contributor.getAddress())).to.equal(PRICE);
      expect(await f.token.balanceOf(await f.escrow.getAddress())).to.equal(0n);
    });

    it("Should let an open deal be funded by anyone, who becomes the buyer", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const dealId = await propose(f, { buyer: ethers.ZeroAddress });
      const list = await standardEntries(f, dealId);
      await fundEth(
        f,
        dealId,
        list.map((l) => l.entry),
        f.stranger,
      );
      expect((await f.escrow.getDeal(dealId)).buyer).to.equal(await f.stranger.getAddress());
    });
  });

  describe("# cheats", function () {
    it("Should reject a proof replayed for another deal with the same weights and activations", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const first = await fundedStandardDeal(f);
      const second = await propose(f);
      const list = await standardEntries(f, second);
      await fundEth(
        f,
        second,
        list.map((l) => l.entry),
      );
      await expect(submit(f, second, 0, first.proofs[0]))
        .to.be.revertedWithCustomError(f.escrow, "InvalidProof")
        .withArgs(second, 0n);
    });

    it("Should reject a proof replayed for another module with the same commitment and activations", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const dealId = await propose(f, {
        modules: [{ commitment: W0.commitment }, { commitment: W0.commitment }],
      });
      const e0 = await makeEntry(f, dealId, 0, W0, X1);
      const e1 = await makeEntry(f, dealId, 1, W0, X1);
      expect(e0.hY).to.equal(e1.hY);
      await fundEth(f, dealId, [e0, e1]);
      const proof0 = await proveEntry(art, W0, e0);
      await expect(submit(f, dealId, 1, proof0))
        .to.be.revertedWithCustomError(f.escrow, "InvalidProof")
        .withArgs(dealId, 1n);
      await submit(f, dealId, 0, proof0);
    });

    it("Should reject a proof replayed for another entry of the same module", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const { dealId, proofs } = await fundedStandardDeal(f);
      await expect(submit(f, dealId, 1, proofs[0]))
        .to.be.revertedWithCustomError(f.escrow, "InvalidProof")
        .withArgs(dealId, 1n);
    });

    it("Should reject proofs for outputs other than the registered hY / fY", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const dealId = await propose(f, { modules: [{ commitment: W0.commitment }] });
      const honest = await makeEntry(f, dealId, 0, W0, X1);
      // The contributor delivered Y' != X·A·B: the buyer registered digest and fingerprint of Y'.
      const { loraProduct, outputDigest, computeRho, fingerprint } = await import("../../src/zk/index.js");
      const Yfake = loraProduct(X1, W0.A, W0.B);
      Yfake[0][0] += 1n;
      const hY = outputDigest(Yfake);
      const rho = computeRho({
        chainId: f.chainId,
        escrow: await f.escrow.getAddress(),
        dealId,
        module: 0n,
        hX: honest.hX,
        hY,
      });
      const fake: DealEntry = { module: 0, hX: honest.hX, hY, fY: fingerprint(Yfake, rho), X: X1, rho };
      await fundEth(f, dealId, [fake]);
      // The best the contributor can do: prove the true product at the registered rho.
      const attempt = await proveEntry(art, W0, fake);
      await expect(submit(f, dealId, 0, attempt))
        .to.be.revertedWithCustomError(f.escrow, "InvalidProof")
        .withArgs(dealId, 0n);
      // And the honest proof for the true outputs is bound to the true hY through rho.
      const honestProof = await proveEntry(art, W0, honest);
      await expect(submit(f, dealId, 0, honestProof)).to.be.revertedWithCustomError(f.escrow, "InvalidProof");
    });

    it("Should reject a proof made under other weights than the committed C_m", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      // Committed to W1, but answered (and proves) with W0.
      const dealId = await propose(f, { modules: [{ commitment: W1.commitment }] });
      const entry = await makeEntry(f, dealId, 0, W0, X1);
      await fundEth(f, dealId, [entry]);
      await expect(submit(f, dealId, 0, await proveEntry(art, W0, entry)))
        .to.be.revertedWithCustomError(f.escrow, "InvalidProof")
        .withArgs(dealId, 0n);
    });

    it("Should reject a tampered proof and a tampered public signal", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const { dealId, proofs } = await fundedStandardDeal(f);
      const good = proofs[0];
      const tampered: SolidityProof[] = [
        { ...good, a: [good.a[0], (good.a[1] + 1n) % P] },
        { ...good, c: [good.a[0], good.a[1]] },
        {
          ...good,
          b: [
            [good.b[0][1], good.b[0][0]],
            [good.b[1][1], good.b[1][0]],
          ],
        },
      ];
      for (const proof of tampered) {
        await expect(submit(f, dealId, 0, proof))
          .to.be.revertedWithCustomError(f.escrow, "InvalidProof")
          .withArgs(dealId, 0n);
      }
      // The same verifier, called directly: every public signal matters.
      const verifier = f.deployment.verifiers[shape.name];
      const signals = (await f.escrow.publicSignalsOf(dealId, 0)) as bigint[];
      expect(await verifier.verifyProof(good.a, good.b, good.c, [...signals])).to.equal(true);
      for (let k = 0; k < 4; k++) {
        const bad = [...signals];
        bad[k] = (bad[k] + 1n) % P;
        expect(await verifier.verifyProof(good.a, good.b, good.c, bad)).to.equal(
          false,
          `signal ${k} tampered`,
        );
      }
      // Tampered signal through the escrow: the buyer registered fY + 1.
      const other = await propose(f, { modules: [{ commitment: W0.commitment }] });
      const entry = await makeEntry(f, other, 0, W0, X1);
      await fundEth(f, other, [{ ...entry, fY: (entry.fY + 1n) % P }]);
      await expect(submit(f, other, 0, await proveEntry(art, W0, entry)))
        .to.be.revertedWithCustomError(f.escrow, "InvalidProof")
        .withArgs(other, 0n);
    });

    it("Should reject non-field public signals (C_m, hX, fY >= p) and the verifier refuses v + p", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      await expect(propose(f, { modules: [{ commitment: W0.commitment + P }] }))
        .to.be.revertedWithCustomError(f.escrow, "NotAFieldElement")
        .withArgs(W0.commitment + P);
      const { dealId, proofs } = await fundedStandardDeal(f);
      const other = await propose(f);
      const list = (await standardEntries(f, other)).map((l) => l.entry);
      const badHX = list.map((e, i) => (i === 0 ? { ...e, hX: e.hX + P } : e));
      await expect(fundEth(f, other, badHX))
        .to.be.revertedWithCustomError(f.escrow, "NotAFieldElement")
        .withArgs(list[0].hX + P);
      const badFY = list.map((e, i) => (i === 2 ? { ...e, fY: P } : e));
      await expect(fundEth(f, other, badFY))
        .to.be.revertedWithCustomError(f.escrow, "NotAFieldElement")
        .withArgs(P);
      const verifier = f.deployment.verifiers[shape.name];
      const signals = (await f.escrow.publicSignalsOf(dealId, 0)) as bigint[];
      for (let k = 0; k < 4; k++) {
        const aliased = [...signals];
        aliased[k] += P;
        const { a, b, c } = proofs[0];
        expect(await verifier.verifyProof(a, b, c, aliased)).to.equal(false, `signal ${k} + p`);
      }
    });

    it("Should reject a proof checked by another shape's verifier", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const other = otherShape(f);
      const dealId = await propose(f, { modules: [{ commitment: W0.commitment, shapeId: other.shapeId }] });
      const modules = await f.escrow.getModules(dealId);
      expect(modules[0].verifier).to.equal(await f.registry.verifierOf(other.shapeId));
      const entry = await makeEntry(f, dealId, 0, W0, X1);
      await fundEth(f, dealId, [entry]);
      await expect(submit(f, dealId, 0, await proveEntry(art, W0, entry)))
        .to.be.revertedWithCustomError(f.escrow, "InvalidProof")
        .withArgs(dealId, 0n);
    });

    it("Should reject an unregistered shape at proposal", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const unknown = ethers.id("no such shape");
      await expect(propose(f, { modules: [{ commitment: 1n }, { commitment: 2n, shapeId: unknown }] }))
        .to.be.revertedWithCustomError(f.escrow, "UnregisteredShape")
        .withArgs(1n, unknown);
    });

    it("Should count each entry once: double submission reverts", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const { dealId, proofs } = await fundedStandardDeal(f);
      await submit(f, dealId, 0, proofs[0]);
      await expect(submit(f, dealId, 0, proofs[0]))
        .to.be.revertedWithCustomError(f.escrow, "EntryAlreadyProven")
        .withArgs(dealId, 0n);
      await expect(
        as(f.escrow, f.contributor).submitMany(dealId, [
          { entryIndex: 1, ...proofs[1] },
          { entryIndex: 1, ...proofs[1] },
        ]),
      )
        .to.be.revertedWithCustomError(f.escrow, "EntryAlreadyProven")
        .withArgs(dealId, 1n);
      await expect(submit(f, dealId, 3, proofs[0]))
        .to.be.revertedWithCustomError(f.escrow, "UnknownEntry")
        .withArgs(dealId, 3n);
    });

    it("Should refuse to settle before every entry is proven, and to take proofs after the window", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const { dealId, proofs } = await fundedStandardDeal(f);
      await submit(f, dealId, 0, proofs[0]);
      await submit(f, dealId, 1, proofs[1]);
      await expect(f.escrow.settle(dealId))
        .to.be.revertedWithCustomError(f.escrow, "EntriesUnproven")
        .withArgs(dealId, 1n);
      const deadline = (await f.escrow.getDeal(dealId)).deadline as bigint;
      await networkHelpers.time.increaseTo(deadline + 1n);
      await expect(submit(f, dealId, 2, proofs[2]))
        .to.be.revertedWithCustomError(f.escrow, "ProvingWindowClosed")
        .withArgs(dealId, deadline);
    });

    it("Should refund only after the window, never after settlement, and never a fully proven deal", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const { dealId, proofs } = await fundedStandardDeal(f);
      const deadline = (await f.escrow.getDeal(dealId)).deadline as bigint;
      await expect(f.escrow.refund(dealId))
        .to.be.revertedWithCustomError(f.escrow, "ProvingWindowOpen")
        .withArgs(dealId, deadline);
      // Unproven at the deadline: the buyer gets exactly its deposit back.
      const snapshot = await networkHelpers.takeSnapshot();
      await networkHelpers.time.increaseTo(deadline + 1n);
      const buyer = await f.buyer.getAddress();
      const before = await ethers.provider.getBalance(buyer);
      await expect(as(f.escrow, f.stranger).refund(dealId))
        .to.emit(f.escrow, "DealRefunded")
        .withArgs(dealId, buyer, ethers.ZeroAddress, PRICE);
      expect((await ethers.provider.getBalance(buyer)) - before).to.equal(PRICE);
      await expect(f.escrow.settle(dealId))
        .to.be.revertedWithCustomError(f.escrow, "WrongStatus")
        .withArgs(dealId, Status.Refunded, Status.Funded);
      await snapshot.restore();
      // Settled: no refund after the window.
      for (let i = 0; i < 3; i++) await submit(f, dealId, i, proofs[i]);
      await f.escrow.settle(dealId);
      await networkHelpers.time.increaseTo(deadline + 1n);
      await expect(f.escrow.refund(dealId))
        .to.be.revertedWithCustomError(f.escrow, "WrongStatus")
        .withArgs(dealId, Status.Settled, Status.Funded);
    });

    it("Should refuse a second funding, a stranger on a fixed-buyer deal, a wrong amount, and a missing module", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const dealId = await propose(f);
      const entries = (await standardEntries(f, dealId)).map((l) => l.entry);
      await expect(fundEth(f, dealId, entries, f.stranger))
        .to.be.revertedWithCustomError(f.escrow, "NotBuyer")
        .withArgs(dealId, await f.stranger.getAddress(), await f.buyer.getAddress());
      for (const value of [PRICE - 1n, PRICE + 1n, 0n]) {
        await expect(as(f.escrow, f.buyer).fund(dealId, entryArgs(entries), { value }))
          .to.be.revertedWithCustomError(f.escrow, "WrongPayment")
          .withArgs(PRICE, value);
      }
      await expect(fundEth(f, dealId, entries.slice(0, 2)))
        .to.be.revertedWithCustomError(f.escrow, "MissingEntryForModule")
        .withArgs(1n);
      await expect(fundEth(f, dealId, entries.slice(2)))
        .to.be.revertedWithCustomError(f.escrow, "MissingEntryForModule")
        .withArgs(0n);
      await expect(fundEth(f, dealId, []))
        .to.be.revertedWithCustomError(f.escrow, "MissingEntryForModule")
        .withArgs(0n);
      await expect(fundEth(f, dealId, [entries[1], entries[0], entries[2]]))
        .to.be.revertedWithCustomError(f.escrow, "EntriesNotSorted")
        .withArgs(1n);
      await expect(fundEth(f, dealId, [entries[0], entries[0], entries[2]]))
        .to.be.revertedWithCustomError(f.escrow, "EntriesNotSorted")
        .withArgs(1n);
      await expect(fundEth(f, dealId, [...entries, { ...entries[2], module: 2, hX: entries[2].hX + 1n }]))
        .to.be.revertedWithCustomError(f.escrow, "ModuleOutOfRange")
        .withArgs(3n, 2n, 2n);
      await fundEth(f, dealId, entries);
      await expect(fundEth(f, dealId, entries))
        .to.be.revertedWithCustomError(f.escrow, "WrongStatus")
        .withArgs(dealId, Status.Funded, Status.Proposed);
    });

    it("Should let only the contributor cancel, and only before funding", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const open = await propose(f);
      await expect(as(f.escrow, f.buyer).cancel(open))
        .to.be.revertedWithCustomError(f.escrow, "NotContributor")
        .withArgs(open, await f.buyer.getAddress());
      await expect(as(f.escrow, f.contributor).cancel(open))
        .to.emit(f.escrow, "DealCancelled")
        .withArgs(open);
      const entries = (await standardEntries(f, open)).map((l) => l.entry);
      await expect(fundEth(f, open, entries))
        .to.be.revertedWithCustomError(f.escrow, "WrongStatus")
        .withArgs(open, Status.Cancelled, Status.Proposed);
      const { dealId } = await fundedStandardDeal(f);
      await expect(as(f.escrow, f.contributor).cancel(dealId))
        .to.be.revertedWithCustomError(f.escrow, "WrongStatus")
        .withArgs(dealId, Status.Funded, Status.Proposed);
      await expect(f.escrow.getDeal(99n))
        .to.be.revertedWithCustomError(f.escrow, "UnknownDeal")
        .withArgs(99n);
    });

    it("Should reject a fee-on-transfer token", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const fee = await f.feeToken.getAddress();
      const dealId = await propose(f, { token: fee, price: 10_000n });
      const entries = (await standardEntries(f, dealId)).map((l) => l.entry);
      await f.feeToken.mint(await f.buyer.getAddress(), 10_000n);
      await as(f.feeToken, f.buyer).approve(await f.escrow.getAddress(), 10_000n);
      await expect(as(f.escrow, f.buyer).fund(dealId, entryArgs(entries)))
        .to.be.revertedWithCustomError(f.escrow, "TransferAmountMismatch")
        .withArgs(fee, 10_000n, 9_900n);
      await expect(as(f.escrow, f.buyer).fund(dealId, entryArgs(entries), { value: 1n }))
        .to.be.revertedWithCustomError(f.escrow, "WrongPayment")
        .withArgs(0n, 1n);
    });

    it("Should block a reentrant ETH receiver in settle and refund and pay exactly once", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const receiver = (await ethers.deployContract("ReentrantReceiver", [
        await f.escrow.getAddress(),
      ])) as unknown as Contract;
      const receiverAddress = await receiver.getAddress();
      const modules = [W0, W1].map((w, i) => ({
        target: `m${i}`,
        shapeId: tinyId,
        commitment: w.commitment,
      }));

      // The receiver is the contributor and re-enters settle when paid.
      const dealId = (await f.escrow.nextDealId()) as bigint;
      await receiver.propose(
        PRICE,
        ethers.ZeroAddress,
        await f.buyer.getAddress(),
        BASE_MODEL,
        modules,
        WINDOW,
      );
      const list = await standardEntries(f, dealId);
      await fundEth(
        f,
        dealId,
        list.map((l) => l.entry),
      );
      for (let i = 0; i < list.length; i++)
        await submit(f, dealId, i, await proveEntry(art, list[i].weights, list[i].entry));
      await receiver.arm(dealId, 1); // ReenterSettle
      await f.escrow.settle(dealId);
      expect(await receiver.attempts()).to.equal(1n);
      expect(await receiver.reentrySucceeded()).to.equal(false);
      expect(await receiver.lastErrorSelector()).to.equal(
        f.escrow.interface.getError("ReentrancyGuardReentrantCall")?.selector,
      );
      expect(await receiver.received()).to.equal(PRICE);
      expect(await ethers.provider.getBalance(await f.escrow.getAddress())).to.equal(0n);

      // The receiver is the buyer and re-enters refund when refunded.
      const second = (await f.escrow.nextDealId()) as bigint;
      await as(f.escrow, f.contributor).propose(
        PRICE,
        ethers.ZeroAddress,
        receiverAddress,
        BASE_MODEL,
        modules,
        WINDOW,
      );
      const entries = (await standardEntries(f, second)).map((l) => l.entry);
      await receiver.fund(second, entryArgs(entries), { value: PRICE });
      await networkHelpers.time.increase(WINDOW + 1n);
      await receiver.arm(second, 2); // ReenterRefund
      await f.escrow.refund(second);
      expect(await receiver.attempts()).to.equal(2n);
      expect(await receiver.reentrySucceeded()).to.equal(false);
      expect(await receiver.received()).to.equal(2n * PRICE);
      expect(await ethers.provider.getBalance(await f.escrow.getAddress())).to.equal(0n);
    });

    it("Should revert with EthTransferFailed when the payee refuses ETH, keeping the deposit", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const receiver = (await ethers.deployContract("ReentrantReceiver", [
        await f.escrow.getAddress(),
      ])) as unknown as Contract;
      const modules = [{ target: "m0", shapeId: tinyId, commitment: W0.commitment }];
      const second = (await f.escrow.nextDealId()) as bigint;
      await as(f.escrow, f.contributor).propose(
        PRICE,
        ethers.ZeroAddress,
        await receiver.getAddress(),
        BASE_MODEL,
        modules,
        WINDOW,
      );
      await receiver.fund(second, entryArgs([await makeEntry(f, second, 0, W0, X1)]), { value: PRICE });
      await networkHelpers.time.increase(WINDOW + 1n);
      await receiver.arm(second, 3); // Reject
      await expect(f.escrow.refund(second))
        .to.be.revertedWithCustomError(f.escrow, "EthTransferFailed")
        .withArgs(await receiver.getAddress(), PRICE);
      expect(await ethers.provider.getBalance(await f.escrow.getAddress())).to.equal(PRICE);
    });

    it("Should block a reentrant token in settle and refund and pay exactly once", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const tokenAddress = await f.reentrantToken.getAddress();
      const escrowAddress = await f.escrow.getAddress();
      const selector = f.escrow.interface.getError("ReentrancyGuardReentrantCall")?.selector;

      const dealId = await propose(f, { token: tokenAddress });
      const list = await standardEntries(f, dealId);
      await f.reentrantToken.mint(await f.buyer.getAddress(), 2n * PRICE);
      await as(f.reentrantToken, f.buyer).approve(escrowAddress, 2n * PRICE);
      await as(f.escrow, f.buyer).fund(dealId, entryArgs(list.map((l) => l.entry)));
      for (let i = 0; i < list.length; i++)
        await submit(f, dealId, i, await proveEntry(art, list[i].weights, list[i].entry));

      const second = await propose(f, { token: tokenAddress });
      await as(f.escrow, f.buyer).fund(
        second,
        entryArgs((await standardEntries(f, second)).map((l) => l.entry)),
      );
      expect(await f.reentrantToken.balanceOf(escrowAddress)).to.equal(2n * PRICE);

      await f.reentrantToken.arm(escrowAddress, dealId, 1); // re-enter settle
      await f.escrow.settle(dealId);
      expect(await f.reentrantToken.attempts()).to.equal(1n);
      expect(await f.reentrantToken.reentrySucceeded()).to.equal(false);
      expect(await f.reentrantToken.lastErrorSelector()).to.equal(selector);
      expect(await f.reentrantToken.balanceOf(await f.contributor.getAddress())).to.equal(PRICE);

      await networkHelpers.time.increase(WINDOW + 1n);
      await f.reentrantToken.arm(escrowAddress, second, 2); // re-enter refund
      await f.escrow.refund(second);
      expect(await f.reentrantToken.attempts()).to.equal(2n);
      expect(await f.reentrantToken.reentrySucceeded()).to.equal(false);
      expect(await f.reentrantToken.lastErrorSelector()).to.equal(selector);
      expect(await f.reentrantToken.balanceOf(await f.buyer.getAddress())).to.equal(PRICE);
      expect(await f.reentrantToken.balanceOf(escrowAddress)).to.equal(0n);
    });
  });

  it("Should validate a proposal: price, module count, proving window, token code", async function () {
    const f = await networkHelpers.loadFixture(deployFixture);
    const escrow = as(f.escrow, f.contributor);
    const one = [{ target: "m", shapeId: tinyId, commitment: W0.commitment }];
    const buyer = await f.buyer.getAddress();
    await expect(
      escrow.propose(0n, ethers.ZeroAddress, buyer, ZeroHash, one, WINDOW),
    ).to.be.revertedWithCustomError(f.escrow, "ZeroPrice");
    await expect(escrow.propose(1n, ethers.ZeroAddress, buyer, ZeroHash, [], WINDOW))
      .to.be.revertedWithCustomError(f.escrow, "InvalidModuleCount")
      .withArgs(0n, 64n);
    await expect(escrow.propose(1n, ethers.ZeroAddress, buyer, ZeroHash, Array(65).fill(one[0]), WINDOW))
      .to.be.revertedWithCustomError(f.escrow, "InvalidModuleCount")
      .withArgs(65n, 64n);
    for (const window of [0n, 365n * 86400n + 1n]) {
      await expect(escrow.propose(1n, ethers.ZeroAddress, buyer, ZeroHash, one, window))
        .to.be.revertedWithCustomError(f.escrow, "InvalidProvingWindow")
        .withArgs(window, 365n * 86400n);
    }
    await expect(escrow.propose(1n, buyer, buyer, ZeroHash, one, WINDOW))
      .to.be.revertedWithCustomError(f.escrow, "TokenHasNoCode")
      .withArgs(buyer);
    const dealId = (await f.escrow.nextDealId()) as bigint;
    await expect(escrow.propose(1n, ethers.ZeroAddress, ethers.ZeroAddress, BASE_MODEL, one, WINDOW))
      .to.emit(f.escrow, "DealProposed")
      .withArgs(
        dealId,
        await f.contributor.getAddress(),
        ethers.ZeroAddress,
        ethers.ZeroAddress,
        1n,
        BASE_MODEL,
        1n,
        WINDOW,
      )
      .and.to.emit(f.escrow, "ModuleCommitted")
      .withArgs(dealId, 0n, tinyId, W0.commitment, await f.registry.verifierOf(tinyId), "m");
    const modules = await f.escrow.getModules(dealId);
    expect(modules[0].commitment).to.equal(W0.commitment);
    expect((await f.escrow.getEntries(dealId)).length).to.equal(0);
  });
});
