/**
 * Weight delivery (zero-knowledge contingent payment) with REAL Groth16 proofs on the tiny shapes:
 * a full ETH deal (propose with delivery → submitDelivery per module → the buyer checks the
 * ciphertexts → fund → submit → settleWithKeys → the buyer decrypts and gets exactly the committed
 * weights, through a PEFT adapter round trip), and every cheat rejected.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import type { Contract, Signer } from "ethers";
import { loadPeftAdapter, savePeftAdapter } from "../../src/model/index.js";
import {
  DeliveryError,
  checkDelivery,
  decryptDeliveries,
  deliveredAdapter,
  deliveryCallArgs,
  parseDelivery,
  deliveryToJson,
  type CommitManifest,
  type ModuleDelivery,
} from "../../src/mpi/index.js";
import {
  P,
  deliveryKeyHash,
  quantizeLora,
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

const PRICE = ethers.parseEther("2");
const WINDOW = 3600n;
const BASE_MODEL = ethers.id("stories260K base weights");
const K0 = 0x1234567890abcdef1234567890abcdef1234567890abcdefn % P;
const K1 = 0xfedcba0987654321fedcba0987654321fedcba0987654321n % P;

describe("# LoraEscrow weight delivery with real proofs", function () {
  let art: CircuitArtifacts;
  let dart: DeliveryArtifacts;
  let shape: Shape;
  let W0: Weights;
  let W1: Weights;
  let D0: ModuleDelivery;
  let D1: ModuleDelivery;
  /** A delivery of W1's weights under K0 (for the cheats). */
  let D1underK0: ModuleDelivery;
  let X1: bigint[][];
  let X2: bigint[][];

  const as = (c: Contract, s: Signer) => c.connect(s) as Contract;

  const delivery = (w: Weights, k: bigint, module: number) => makeDelivery(dart, w, k, module);

  before(async function () {
    shape = await tinyShape();
    art = await tinyCircuit();
    dart = await tinyDeliveryCircuit(shape);
    W0 = await makeWeights(shape, 21);
    W1 = await makeWeights(shape, 22);
    X1 = matrix(shape.T, shape.DIN, 31, 500);
    X2 = matrix(shape.T, shape.DIN, 32, 500);
    // One after the other: concurrent first proofs would each build a snarkjs curve (worker threads),
    // and only the one in globalThis is terminated by the root hook, so the process would not exit.
    D0 = await delivery(W0, K0, 0);
    D1 = await delivery(W1, K1, 1);
    D1underK0 = await delivery(W1, K0, 0);
  });

  async function propose(f: Fixture, delivered = true, weights: Weights[] = [W0, W1]): Promise<bigint> {
    const modules = weights.map((w, i) => ({
      target: `model.layers.0.self_attn.${i === 0 ? "q" : "v"}_proj`,
      shapeId: art.shapeId,
      commitment: w.commitment,
    }));
    const dealId = (await f.escrow.nextDealId()) as bigint;
    const fn = delivered ? "proposeWithDelivery" : "propose";
    await as(f.escrow, f.contributor).getFunction(fn)(
      PRICE,
      ethers.ZeroAddress,
      await f.buyer.getAddress(),
      BASE_MODEL,
      modules,
      WINDOW,
    );
    return dealId;
  }

  async function submitDelivery(
    f: Fixture,
    dealId: bigint,
    d: ModuleDelivery,
    module = d.module,
    from?: Signer,
  ) {
    const c = deliveryCallArgs(d);
    return as(f.escrow, from ?? f.contributor).submitDelivery(dealId, module, c.hK, c.hC, c.a, c.b, c.c);
  }

  async function entries(f: Fixture, dealId: bigint): Promise<{ entry: DealEntry; weights: Weights }[]> {
    return [
      { entry: await makeEntry(f, dealId, 0, W0, X1), weights: W0 },
      { entry: await makeEntry(f, dealId, 1, W1, X2), weights: W1 },
    ];
  }

  /** Proposed with delivery, both deliveries proven, funded, both entries proven. */
  async function provenDeal(f: Fixture): Promise<bigint> {
    const dealId = await propose(f);
    await submitDelivery(f, dealId, D0);
    await submitDelivery(f, dealId, D1);
    const list = await entries(f, dealId);
    await as(f.escrow, f.buyer).fund(dealId, entryArgs(list.map((l) => l.entry)), { value: PRICE });
    const proofs = await Promise.all(list.map((l) => proveEntry(art, l.weights, l.entry)));
    await as(f.escrow, f.contributor).submitMany(
      dealId,
      proofs.map((p, i) => ({ entryIndex: i, a: p.a, b: p.b, c: p.c })),
    );
    return dealId;
  }

  /** What the buyer checks before funding: each published ciphertext against the escrow's hashes. */
  async function buyerChecks(f: Fixture, dealId: bigint, published: ModuleDelivery[]): Promise<void> {
    const onchain = (await f.escrow.getDeliveries(dealId)) as { proven: boolean; hK: bigint; hC: bigint }[];
    const modules = (await f.escrow.getModules(dealId)) as { commitment: bigint }[];
    for (const [m, d] of published.entries()) {
      expect(onchain[m].proven).to.equal(true);
      await checkDelivery(d, {
        module: m,
        C_m: modules[m].commitment,
        hK: onchain[m].hK,
        hC: onchain[m].hC,
        DIN: shape.DIN,
        R: shape.R,
        DOUT: shape.DOUT,
      });
    }
  }

  const manifest = (): CommitManifest => ({
    version: 1,
    baseModel: { sha256: "00", configSha256: "00" },
    adapter: { r: shape.R, lora_alpha: 2 * shape.R, target_modules: ["q_proj", "v_proj"] },
    modules: [D0, D1].map((d, i) => ({
      index: i,
      target: d.target,
      layer: 0,
      module: i === 0 ? "q_proj" : "v_proj",
      DIN: shape.DIN,
      R: shape.R,
      DOUT: shape.DOUT,
      shape: { name: art.shape.name, T: shape.T, DIN: shape.DIN, R: shape.R, DOUT: shape.DOUT },
      shapeId: art.shapeId,
      scales: { fx: 10, fa: 12, fb: 12 },
      scaling: 2,
      C_m: (i === 0 ? W0 : W1).commitment.toString(),
    })),
  });

  describe("# full deal", function () {
    it("Should deliver exactly the committed weights in the transaction that pays (ETH)", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const dealId = await propose(f);
      expect(await f.escrow.deliveryRequired(dealId)).to.equal(true);
      await expect(submitDelivery(f, dealId, D0))
        .to.emit(f.escrow, "DeliveryProven")
        .withArgs(dealId, 0n, D0.hK, D0.hC);
      await submitDelivery(f, dealId, D1);

      // The buyer gets the ciphertexts (here as the JSON files the contributor publishes) and checks them.
      const published = [D0, D1].map((d) => parseDelivery(JSON.parse(JSON.stringify(deliveryToJson(d)))));
      await buyerChecks(f, dealId, published);

      const list = await entries(f, dealId);
      await as(f.escrow, f.buyer).fund(dealId, entryArgs(list.map((l) => l.entry)), { value: PRICE });
      for (const [i, l] of list.entries()) {
        const p = await proveEntry(art, l.weights, l.entry);
        await as(f.escrow, f.contributor).submit(dealId, i, p.a, p.b, p.c);
      }
      await expect(as(f.escrow, f.contributor).settle(dealId))
        .to.be.revertedWithCustomError(f.escrow, "KeysRequired")
        .withArgs(dealId);

      const contributor = await f.contributor.getAddress();
      const before = await ethers.provider.getBalance(contributor);
      const tx = as(f.escrow, f.stranger).settleWithKeys(dealId, [K0, K1]);
      await expect(tx).to.emit(f.escrow, "KeysRevealed").withArgs(dealId, [K0, K1]);
      await expect(tx)
        .to.emit(f.escrow, "DealSettled")
        .withArgs(dealId, contributor, ethers.ZeroAddress, PRICE);
      expect((await ethers.provider.getBalance(contributor)) - before).to.equal(PRICE);
      expect(await ethers.provider.getBalance(await f.escrow.getAddress())).to.equal(0n);

      // The buyer reads the keys from the event, decrypts and checks against C_m.
      const logs = await f.escrow.queryFilter(f.escrow.filters.KeysRevealed(dealId));
      expect(logs).to.have.length(1);
      const keys = [...(f.escrow.interface.parseLog(logs[0])?.args[1] as bigint[])].map(BigInt);
      const commitments = ((await f.escrow.getModules(dealId)) as { commitment: bigint }[]).map(
        (m) => m.commitment,
      );
      const weights = await decryptDeliveries(published, keys, commitments);
      expect(weights[0]).to.deep.equal({ A: W0.A, B: W0.B, salt: W0.salt });
      expect(weights[1]).to.deep.equal({ A: W1.A, B: W1.B, salt: W1.salt });

      // PEFT round trip: the adapter the buyer writes loads and re-quantizes to the committed weights.
      const dir = await mkdtemp(path.join(tmpdir(), "zklora-delivered-"));
      try {
        await savePeftAdapter(dir, deliveredAdapter(manifest(), weights));
        const loaded = await loadPeftAdapter(dir);
        expect(loaded.modules.map((m) => m.name)).to.deep.equal([D0.target, D1.target]);
        for (const [i, m] of loaded.modules.entries()) {
          const q = quantizeLora(m.loraA, m.loraB, m.R, m.DIN, m.DOUT, 12, 12);
          expect(await weightCommitment(q.A, q.B, weights[i].salt)).to.equal(commitments[i]);
        }
        expect(loaded.scaling).to.equal(2);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it("Should check hK = Poseidon([k]) on-chain with circomlib's Poseidon(1) contract (= deliveryKeyHash)", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const hasher = f.deployment.keyHasher;
      expect(await f.escrow.keyHasher()).to.equal(await hasher.getAddress());
      for (const k of [0n, 1n, K0, P - 1n]) {
        expect(await hasher.getFunction("poseidon(uint256[1])")([k])).to.equal(await deliveryKeyHash(k));
      }
    });
  });

  describe("# cheats", function () {
    it("Should reject a delivery proof of other weights, or with a changed hK or hC", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const dealId = await propose(f);
      // A valid proof, but for W1's commitment: module 0 commits to W0.
      await expect(submitDelivery(f, dealId, D1underK0, 0))
        .to.be.revertedWithCustomError(f.escrow, "InvalidDeliveryProof")
        .withArgs(dealId, 0n);
      const c = deliveryCallArgs(D0);
      await expect(as(f.escrow, f.contributor).submitDelivery(dealId, 0, D1.hK, c.hC, c.a, c.b, c.c))
        .to.be.revertedWithCustomError(f.escrow, "InvalidDeliveryProof")
        .withArgs(dealId, 0n);
      await expect(as(f.escrow, f.contributor).submitDelivery(dealId, 0, c.hK, D1underK0.hC, c.a, c.b, c.c))
        .to.be.revertedWithCustomError(f.escrow, "InvalidDeliveryProof")
        .withArgs(dealId, 0n);
      await expect(as(f.escrow, f.contributor).submitDelivery(dealId, 0, P, c.hC, c.a, c.b, c.c))
        .to.be.revertedWithCustomError(f.escrow, "NotAFieldElement")
        .withArgs(P);
    });

    it("Should bind a delivery to its module's C_m and its ciphertext (no replay across deals or modules)", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const first = await propose(f);
      await submitDelivery(f, first, D0);
      await expect(submitDelivery(f, first, D0))
        .to.be.revertedWithCustomError(f.escrow, "DeliveryAlreadyProven")
        .withArgs(first, 0n);
      // Module 1 commits to W1: D0 (for W0's C_m) does not verify there.
      await expect(submitDelivery(f, first, D0, 1))
        .to.be.revertedWithCustomError(f.escrow, "InvalidDeliveryProof")
        .withArgs(first, 1n);
      // Another deal whose module 0 commits to W1.
      const second = await propose(f, true, [W1, W0]);
      await expect(submitDelivery(f, second, D0, 0))
        .to.be.revertedWithCustomError(f.escrow, "InvalidDeliveryProof")
        .withArgs(second, 0n);
      await expect(submitDelivery(f, second, D0, 2))
        .to.be.revertedWithCustomError(f.escrow, "UnknownModule")
        .withArgs(second, 2n);
    });

    it("Should let the buyer detect a published ciphertext that is not the proven one", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const dealId = await propose(f);
      await submitDelivery(f, dealId, D0);
      await submitDelivery(f, dealId, D1);
      // The contributor serves module 1's ciphertext of W1 under another key (not the proven hC).
      const swapped = { ...D1, ciphertext: D1underK0.ciphertext };
      const err = await buyerChecks(f, dealId, [D0, swapped]).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(DeliveryError);
      expect((err as DeliveryError).code).to.equal("hc_mismatch");
      // One changed element is enough.
      const tampered = { ...D0, ciphertext: D0.ciphertext.map((c, i) => (i === 3 ? (c + 1n) % P : c)) };
      const err2 = await buyerChecks(f, dealId, [tampered, D1]).catch((e: unknown) => e);
      expect((err2 as DeliveryError).code).to.equal("hc_mismatch");
      // A wrong key does not decrypt to the committed weights.
      const err3 = await decryptDeliveries([D0, D1], [K1, K1], [W0.commitment, W1.commitment]).catch(
        (e: unknown) => e,
      );
      expect((err3 as DeliveryError).code).to.equal("key_mismatch");
    });

    it("Should refuse funding until every module's delivery is proven, and deliveries after funding", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const dealId = await propose(f);
      const list = await entries(f, dealId);
      const fund = () =>
        as(f.escrow, f.buyer).fund(dealId, entryArgs(list.map((l) => l.entry)), { value: PRICE });
      await expect(fund()).to.be.revertedWithCustomError(f.escrow, "DeliveriesMissing").withArgs(dealId, 2n);
      await submitDelivery(f, dealId, D0);
      await expect(fund()).to.be.revertedWithCustomError(f.escrow, "DeliveriesMissing").withArgs(dealId, 1n);
      await expect(submitDelivery(f, dealId, D1, 1, f.buyer))
        .to.be.revertedWithCustomError(f.escrow, "NotContributor")
        .withArgs(dealId, await f.buyer.getAddress());
      await submitDelivery(f, dealId, D1);
      await fund();
      await expect(submitDelivery(f, dealId, D1)).to.be.revertedWithCustomError(f.escrow, "WrongStatus");
    });

    it("Should never pay without the right keys: none, too few, a wrong one, or after the window", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const dealId = await provenDeal(f);
      await expect(as(f.escrow, f.contributor).settle(dealId))
        .to.be.revertedWithCustomError(f.escrow, "KeysRequired")
        .withArgs(dealId);
      await expect(as(f.escrow, f.contributor).settleWithKeys(dealId, [K0]))
        .to.be.revertedWithCustomError(f.escrow, "KeyCountMismatch")
        .withArgs(dealId, 2n, 1n);
      await expect(as(f.escrow, f.contributor).settleWithKeys(dealId, [K0, K0]))
        .to.be.revertedWithCustomError(f.escrow, "WrongKey")
        .withArgs(dealId, 1n);
      await expect(as(f.escrow, f.contributor).settleWithKeys(dealId, [K1, K0]))
        .to.be.revertedWithCustomError(f.escrow, "WrongKey")
        .withArgs(dealId, 0n);
      await expect(as(f.escrow, f.contributor).settleWithKeys(dealId, [K0 + P, K1]))
        .to.be.revertedWithCustomError(f.escrow, "NotAFieldElement")
        .withArgs(K0 + P);
      expect(await ethers.provider.getBalance(await f.escrow.getAddress())).to.equal(PRICE);

      // Keys never revealed within the window: the buyer refunds although every entry is proven.
      const deadline = (await f.escrow.getDeal(dealId)).deadline as bigint;
      await networkHelpers.time.increaseTo(deadline + 1n);
      await expect(as(f.escrow, f.contributor).settleWithKeys(dealId, [K0, K1]))
        .to.be.revertedWithCustomError(f.escrow, "ProvingWindowClosed")
        .withArgs(dealId, deadline);
      const buyer = await f.buyer.getAddress();
      await expect(as(f.escrow, f.stranger).refund(dealId))
        .to.emit(f.escrow, "DealRefunded")
        .withArgs(dealId, buyer, ethers.ZeroAddress, PRICE);
      expect(await f.escrow.queryFilter(f.escrow.filters.KeysRevealed(dealId))).to.have.length(0);
    });

    it("Should keep deals without delivery on the old flow", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const dealId = await propose(f, false);
      expect(await f.escrow.deliveryRequired(dealId)).to.equal(false);
      expect(await f.escrow.getDeliveries(dealId)).to.have.length(0);
      await expect(submitDelivery(f, dealId, D0))
        .to.be.revertedWithCustomError(f.escrow, "DeliveryNotRequired")
        .withArgs(dealId);
      const list = await entries(f, dealId);
      await as(f.escrow, f.buyer).fund(dealId, entryArgs(list.map((l) => l.entry)), { value: PRICE });
      await expect(as(f.escrow, f.contributor).settleWithKeys(dealId, [K0, K1]))
        .to.be.revertedWithCustomError(f.escrow, "DeliveryNotRequired")
        .withArgs(dealId);
    });

    it("Should refuse a delivery deal for a weight shape without a registered delivery verifier", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const other = f.deployment.record.shapes.find(
        (s) =>
          !(f.deployment.record.deliveryShapes ?? []).some(
            (d) => d.DIN === s.DIN && d.R === s.R && d.DOUT === s.DOUT,
          ),
      );
      if (other === undefined) this.skip();
      const dsid = await f.registry.deliveryShapeIdOf(other.DIN, other.R, other.DOUT);
      await expect(
        as(f.escrow, f.contributor).proposeWithDelivery(
          PRICE,
          ethers.ZeroAddress,
          ethers.ZeroAddress,
          BASE_MODEL,
          [{ target: "x", shapeId: other.shapeId, commitment: 1n }],
          WINDOW,
        ),
      )
        .to.be.revertedWithCustomError(f.escrow, "UnregisteredDeliveryShape")
        .withArgs(0n, dsid);
    });

    it("Should keep delivery verifiers append-only in the registry", async function () {
      const f = await networkHelpers.loadFixture(deployFixture);
      const d = f.deployment.record.deliveryShapes?.[0];
      expect(d, "the tiny delivery verifier is deployed").to.not.equal(undefined);
      if (d === undefined) return;
      expect(await f.registry.deliveryVerifierOf(d.deliveryShapeId)).to.equal(d.verifier.address);
      const [verifier, id] = await f.registry.deliveryVerifierForShape(art.shapeId);
      expect([verifier, id]).to.deep.equal([d.verifier.address, d.deliveryShapeId]);
      await expect(as(f.registry, f.deployer).registerDelivery(d.DIN, d.R, d.DOUT, d.verifier.address))
        .to.be.revertedWithCustomError(f.registry, "DeliveryShapeAlreadyRegistered")
        .withArgs(d.deliveryShapeId, d.verifier.address);
      await expect(
        as(f.registry, f.stranger).registerDelivery(1, 1, 1, d.verifier.address),
      ).to.be.revertedWithCustomError(f.registry, "OwnableUnauthorizedAccount");
    });
  });
});
