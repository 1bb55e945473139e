/**
 * Weight delivery (zero-knowledge contingent payment) paid in an ERC-20, with REAL Groth16
 * proofs on the tiny shapes (module t2_i8_r2_o8, weight shape i8_r2_o8). What differs from the
 * ETH path of delivery.test.ts: the price moves as tokens (approve, then fund pulls exactly the
 * price), no ETH moves at all, `settleWithKeys` pays the contributor in tokens in the transaction
 * that reveals the keys, and a contributor who never reveals them leaves the buyer a refund in
 * tokens after the window, although every entry is proven.
 */
import { expect } from "chai";
import type { Contract, Signer } from "ethers";
import { ZkloraClient, addressesOf } from "../../src/chain/index.js";
import {
  getDeliveries,
  proposeWithDelivery,
  revealedKeys,
  settleWithKeys,
} from "../../src/chain/delivery.js";
import { ChainError } from "../../src/chain/errors.js";
import {
  DeliveryError,
  checkDelivery,
  decryptDeliveries,
  deliveryCallArgs,
  deliveryToJson,
  parseDelivery,
  type ModuleDelivery,
} from "../../src/mpi/index.js";
import {
  P,
  weightCommitment,
  type CircuitArtifacts,
  type DeliveryArtifacts,
  type Shape,
} from "../../src/zk/index.js";
import {
  deployFixture,
  entryArgs,
  ethers,
  makeDelivery,
  makeEntry,
  makeWeights,
  matrix,
  networkHelpers,
  proveEntry,
  tinyCircuit,
  tinyDeliveryCircuit,
  tinyShape,
  type DealEntry,
  type Fixture,
  type Weights,
} from "./fixture.js";

/** 1,500 MOCK (18 decimals): not an ETH amount, so an ETH transfer of it would show. */
const PRICE = ethers.parseUnits("1500", 18);
/** What the buyer holds beyond the price: fund must pull exactly the price, no more. */
const SPARE = ethers.parseUnits("7", 18);
const WINDOW = 3600n;
const BASE_MODEL = ethers.id("tiny llama base weights (erc-20 delivery)");
const K0 = 0x0badc0ffee0ddf00d0badc0ffee0ddf00d0badc0ffee0ddf00dn % P;
const K1 = 0x5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed5eedn % P;

describe("# LoraEscrow weight delivery paid in an ERC-20, with real proofs", function () {
  let art: CircuitArtifacts;
  let dart: DeliveryArtifacts;
  let shape: Shape;
  let W0: Weights;
  let W1: Weights;
  /** Weights the deal does not commit to. */
  let W2: Weights;
  let D0: ModuleDelivery;
  let D1: ModuleDelivery;
  /** W2 encrypted under K0 with a valid proof for W2's commitment (not the deal's). */
  let D2: ModuleDelivery;
  let X0: bigint[][];
  let X1: bigint[][];

  const as = (c: Contract, s: Signer) => c.connect(s) as Contract;

  const delivery = (w: Weights, k: bigint, module: number) => makeDelivery(dart, w, k, module, 1);

  before(async function () {
    shape = await tinyShape();
    art = await tinyCircuit();
    dart = await tinyDeliveryCircuit(shape);
    W0 = await makeWeights(shape, 61);
    W1 = await makeWeights(shape, 62);
    W2 = await makeWeights(shape, 63);
    X0 = matrix(shape.T, shape.DIN, 71, 450);
    X1 = matrix(shape.T, shape.DIN, 72, 450);
    // Sequential: concurrent first proofs would each start a snarkjs curve (see delivery.test.ts).
    D0 = await delivery(W0, K0, 0);
    D1 = await delivery(W1, K1, 1);
    D2 = await delivery(W2, K0, 0);
  });

  /** Token and ETH balances of the parties (ETH of the escrow only: the others pay gas). */
  async function balances(f: Fixture) {
    const escrow = await f.escrow.getAddress();
    return {
      buyer: (await f.token.balanceOf(await f.buyer.getAddress())) as bigint,
      contributor: (await f.token.balanceOf(await f.contributor.getAddress())) as bigint,
      escrow: (await f.token.balanceOf(escrow)) as bigint,
      stranger: (await f.token.balanceOf(await f.stranger.getAddress())) as bigint,
      escrowEth: await ethers.provider.getBalance(escrow),
    };
  }

  /** A token delivery deal proposed through the chain library (as zklora:propose --deliver --token). */
  async function propose(f: Fixture): Promise<{ dealId: bigint; client: ZkloraClient; token: string }> {
    const client = await ZkloraClient.connect(f.contributor, addressesOf(f.deployment.record));
    const token = await f.token.getAddress();
    const { dealId } = await proposeWithDelivery(client, {
      price: PRICE,
      token,
      buyer: await f.buyer.getAddress(),
      baseModelHash: BASE_MODEL,
      modules: [W0, W1].map((w, i) => ({
        target: `model.layers.1.self_attn.${i === 0 ? "q" : "v"}_proj`,
        shapeId: art.shapeId,
        commitment: w.commitment,
      })),
      provingWindow: WINDOW,
    });
    const deal = await client.getDeal(dealId);
    expect(deal.token).to.equal(token);
    expect(await f.escrow.deliveryRequired(dealId)).to.equal(true);
    await f.token.mint(await f.buyer.getAddress(), PRICE + SPARE);
    return { dealId, client, token };
  }

  async function submitDelivery(f: Fixture, dealId: bigint, d: ModuleDelivery, module = d.module) {
    const c = deliveryCallArgs(d);
    return as(f.escrow, f.contributor).submitDelivery(dealId, module, c.hK, c.hC, c.a, c.b, c.c);
  }

  async function entries(f: Fixture, dealId: bigint): Promise<{ entry: DealEntry; weights: Weights }[]> {
    return [
      { entry: await makeEntry(f, dealId, 0, W0, X0), weights: W0 },
      { entry: await makeEntry(f, dealId, 1, W1, X1), weights: W1 },
    ];
  }

  async function proveAll(list: { entry: DealEntry; weights: Weights }[]) {
    const out = [];
    for (const l of list) out.push(await proveEntry(art, l.weights, l.entry));
    return out;
  }

  it("Should pay exactly the price in tokens in the transaction that reveals the keys, move no ETH, and hand the buyer the committed weights", async function () {
    const f = await networkHelpers.loadFixture(deployFixture);
    const { dealId, token } = await propose(f);
    const escrow = await f.escrow.getAddress();
    const buyer = await f.buyer.getAddress();
    const contributor = await f.contributor.getAddress();
    await submitDelivery(f, dealId, D0);
    await submitDelivery(f, dealId, D1);

    // The buyer checks the published ciphertexts (JSON files) against the escrow before funding.
    const published = [D0, D1].map((d) => parseDelivery(JSON.parse(JSON.stringify(deliveryToJson(d)))));
    const onchain = await getDeliveries(
      await ZkloraClient.connect(f.buyer, addressesOf(f.deployment.record)),
      dealId,
    );
    for (const [m, d] of published.entries()) {
      await checkDelivery(d, {
        module: m,
        C_m: [W0, W1][m].commitment,
        hK: onchain[m].hK,
        hC: onchain[m].hC,
        DIN: shape.DIN,
        R: shape.R,
        DOUT: shape.DOUT,
      });
    }

    const list = await entries(f, dealId);
    const fund = (value = 0n) =>
      as(f.escrow, f.buyer).fund(dealId, entryArgs(list.map((l) => l.entry)), { value });
    // A token deal takes no ETH, and nothing without an allowance.
    await expect(fund(PRICE)).to.be.revertedWithCustomError(f.escrow, "WrongPayment").withArgs(0n, PRICE);
    await expect(fund())
      .to.be.revertedWithCustomError(f.token, "ERC20InsufficientAllowance")
      .withArgs(escrow, 0n, PRICE);
    // An allowance larger than the price: fund pulls exactly the price.
    await as(f.token, f.buyer).approve(escrow, PRICE + SPARE);
    await expect(fund())
      .to.emit(f.escrow, "DealFunded")
      .and.to.emit(f.token, "Transfer")
      .withArgs(buyer, escrow, PRICE);
    expect(await balances(f)).to.deep.equal({
      buyer: SPARE,
      contributor: 0n,
      escrow: PRICE,
      stranger: 0n,
      escrowEth: 0n,
    });
    expect(await f.token.allowance(buyer, escrow)).to.equal(SPARE);

    // Keys offered while an entry is unproven: refused, nothing paid.
    const [p0, p1] = await proveAll(list);
    await as(f.escrow, f.stranger).submit(dealId, 0, p0.a, p0.b, p0.c);
    await expect(as(f.escrow, f.contributor).settleWithKeys(dealId, [K0, K1]))
      .to.be.revertedWithCustomError(f.escrow, "EntriesUnproven")
      .withArgs(dealId, 1n);
    await as(f.escrow, f.stranger).submit(dealId, 1, p1.a, p1.b, p1.c);

    // Fully proven: still no payment without the keys, nor with a wrong one, nor a refund.
    await expect(as(f.escrow, f.contributor).settle(dealId))
      .to.be.revertedWithCustomError(f.escrow, "KeysRequired")
      .withArgs(dealId);
    await expect(as(f.escrow, f.contributor).settleWithKeys(dealId, [K0, K0]))
      .to.be.revertedWithCustomError(f.escrow, "WrongKey")
      .withArgs(dealId, 1n);
    const deadline = (await f.escrow.getDeal(dealId)).deadline as bigint;
    await expect(as(f.escrow, f.buyer).refund(dealId))
      .to.be.revertedWithCustomError(f.escrow, "ProvingWindowOpen")
      .withArgs(dealId, deadline);
    expect((await balances(f)).escrow).to.equal(PRICE);

    // A stranger holding the keys settles (as a relayer would): the contributor gets the tokens,
    // and not one wei of ETH moves into or out of the escrow or to the contributor.
    const contributorEth = await ethers.provider.getBalance(contributor);
    const strangerClient = await ZkloraClient.connect(f.stranger, addressesOf(f.deployment.record));
    const strangerEth = await ethers.provider.getBalance(await f.stranger.getAddress());
    const tx = await settleWithKeys(strangerClient, dealId, [K0, K1]);
    const events = tx.receipt.logs
      .filter((l) => l.address === escrow)
      .map((l) => f.escrow.interface.parseLog(l))
      .map((l) => [l?.name, ...(l?.args.toArray(true) ?? [])]);
    expect(events).to.deep.equal([
      ["KeysRevealed", dealId, [K0, K1]],
      ["DealSettled", dealId, contributor, token, PRICE],
    ]);
    const transfers = tx.receipt.logs
      .filter((l) => l.address === token)
      .map((l) => f.token.interface.parseLog(l))
      .map((l) => [l?.name, ...(l?.args.toArray() ?? [])]);
    expect(transfers).to.deep.equal([["Transfer", escrow, contributor, PRICE]]);
    expect(await balances(f)).to.deep.equal({
      buyer: SPARE,
      contributor: PRICE,
      escrow: 0n,
      stranger: 0n,
      escrowEth: 0n,
    });
    expect(await ethers.provider.getBalance(contributor)).to.equal(contributorEth);
    expect(strangerEth - (await ethers.provider.getBalance(await f.stranger.getAddress()))).to.equal(tx.fee);
    expect((await f.escrow.getDeal(dealId)).status).to.equal(3n); // Settled
    await expect(as(f.escrow, f.buyer).refund(dealId)).to.be.revertedWithCustomError(f.escrow, "WrongStatus");

    // The buyer reads the keys from KeysRevealed, decrypts and re-checks every module against C_m.
    const buyerClient = await ZkloraClient.connect(f.buyer, addressesOf(f.deployment.record));
    const revealed = await revealedKeys(buyerClient, dealId);
    expect(revealed?.keys).to.deep.equal([K0, K1]);
    expect(revealed?.transactionHash).to.equal(tx.hash);
    const commitments = (await buyerClient.getModules(dealId)).map((m) => m.commitment);
    expect(commitments).to.deep.equal([W0.commitment, W1.commitment]);
    const weights = await decryptDeliveries(published, revealed?.keys ?? [], commitments);
    expect(weights).to.deep.equal([
      { A: W0.A, B: W0.B, salt: W0.salt },
      { A: W1.A, B: W1.B, salt: W1.salt },
    ]);
    for (const [m, w] of weights.entries()) {
      expect(await weightCommitment(w.A, w.B, w.salt)).to.equal(commitments[m]);
    }
  });

  it("Should refund the buyer in tokens after the window when the keys are never revealed (every entry proven)", async function () {
    const f = await networkHelpers.loadFixture(deployFixture);
    const { dealId, token } = await propose(f);
    const escrow = await f.escrow.getAddress();
    const buyer = await f.buyer.getAddress();
    await submitDelivery(f, dealId, D0);
    await submitDelivery(f, dealId, D1);
    const list = await entries(f, dealId);

    // Funded through the library, which approves the escrow for exactly the price first.
    const buyerClient = await ZkloraClient.connect(f.buyer, addressesOf(f.deployment.record));
    const funded = await buyerClient.fund(dealId, entryArgs(list.map((l) => l.entry)));
    expect(funded.approveTx).to.not.equal(undefined);
    expect(await f.token.allowance(buyer, escrow)).to.equal(0n);
    const proofs = await proveAll(list);
    await as(f.escrow, f.contributor).submitMany(
      dealId,
      proofs.map((p, i) => ({ entryIndex: i, a: p.a, b: p.b, c: p.c })),
    );
    expect((await f.escrow.getDeal(dealId)).unproven).to.equal(0n);
    expect((await balances(f)).escrow).to.equal(PRICE);

    // The contributor withholds the keys; the window passes; the keys come too late.
    const deadline = (await f.escrow.getDeal(dealId)).deadline as bigint;
    await networkHelpers.time.increaseTo(deadline + 1n);
    const seller = await ZkloraClient.connect(f.contributor, addressesOf(f.deployment.record));
    const late = await settleWithKeys(seller, dealId, [K0, K1]).catch((e: unknown) => e);
    expect(late).to.be.instanceOf(ChainError);
    expect(String((late as Error).message)).to.match(/ProvingWindowClosed/);
    await expect(as(f.escrow, f.contributor).settle(dealId))
      .to.be.revertedWithCustomError(f.escrow, "KeysRequired")
      .withArgs(dealId);

    await expect(as(f.escrow, f.stranger).refund(dealId))
      .to.emit(f.escrow, "DealRefunded")
      .withArgs(dealId, buyer, token, PRICE)
      .and.to.emit(f.token, "Transfer")
      .withArgs(escrow, buyer, PRICE);
    expect(await balances(f)).to.deep.equal({
      buyer: PRICE + SPARE,
      contributor: 0n,
      escrow: 0n,
      stranger: 0n,
      escrowEth: 0n,
    });
    expect((await f.escrow.getDeal(dealId)).status).to.equal(4n); // Refunded
    expect(await revealedKeys(buyerClient, dealId)).to.equal(undefined);
    await expect(as(f.escrow, f.stranger).refund(dealId)).to.be.revertedWithCustomError(
      f.escrow,
      "WrongStatus",
    );
  });

  it("Should pull no tokens while a module's delivery is missing, and reject a ciphertext of other weights by proof and by check", async function () {
    const f = await networkHelpers.loadFixture(deployFixture);
    const { dealId } = await propose(f);
    const escrow = await f.escrow.getAddress();
    const buyer = await f.buyer.getAddress();
    await as(f.token, f.buyer).approve(escrow, PRICE);
    const list = await entries(f, dealId);
    const fund = () => as(f.escrow, f.buyer).fund(dealId, entryArgs(list.map((l) => l.entry)));

    // A valid delivery proof of other weights (W2) does not verify against module 0's C_m.
    expect(D2.C_m).to.equal(W2.commitment);
    await expect(submitDelivery(f, dealId, D2, 0))
      .to.be.revertedWithCustomError(f.escrow, "InvalidDeliveryProof")
      .withArgs(dealId, 0n);
    // Nor with module 0's real hC and hK (the proof binds the ciphertext of W2).
    const c2 = deliveryCallArgs(D2);
    await expect(as(f.escrow, f.contributor).submitDelivery(dealId, 0, D0.hK, D0.hC, c2.a, c2.b, c2.c))
      .to.be.revertedWithCustomError(f.escrow, "InvalidDeliveryProof")
      .withArgs(dealId, 0n);
    await submitDelivery(f, dealId, D1);
    await expect(fund()).to.be.revertedWithCustomError(f.escrow, "DeliveriesMissing").withArgs(dealId, 1n);
    // The failed fund moved no tokens and left the allowance intact.
    expect(await balances(f)).to.deep.equal({
      buyer: PRICE + SPARE,
      contributor: 0n,
      escrow: 0n,
      stranger: 0n,
      escrowEth: 0n,
    });
    expect(await f.token.allowance(buyer, escrow)).to.equal(PRICE);

    await submitDelivery(f, dealId, D0);
    // The contributor publishes W2's ciphertext (same key K0) as module 0's: the buyer's check catches it.
    const onchain = await getDeliveries(
      await ZkloraClient.connect(f.buyer, addressesOf(f.deployment.record)),
      dealId,
    );
    const swapped = { ...D0, ciphertext: D2.ciphertext };
    const err = await checkDelivery(swapped, {
      module: 0,
      C_m: W0.commitment,
      hK: onchain[0].hK,
      hC: onchain[0].hC,
      DIN: shape.DIN,
      R: shape.R,
      DOUT: shape.DOUT,
    }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(DeliveryError);
    expect((err as DeliveryError).code).to.equal("hc_mismatch");
    // Even with the right key K0, that ciphertext decrypts to weights that do not open module 0's C_m.
    const err2 = await decryptDeliveries([swapped, D1], [K0, K1], [W0.commitment, W1.commitment]).catch(
      (e: unknown) => e,
    );
    expect(err2).to.be.instanceOf(DeliveryError);
    expect((err2 as DeliveryError).code).to.equal("key_mismatch");

    // With both deliveries proven, funding pulls exactly the price.
    await fund();
    expect((await balances(f)).escrow).to.equal(PRICE);
    expect(await f.token.balanceOf(buyer)).to.equal(SPARE);
  });
});
