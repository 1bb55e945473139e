/**
 * A protocol-v2 deal through the library steps of src/app/v2.ts on the in-process chain, with two
 * shapes and real proofs: deploy, commit (W_m + proof of knowledge), propose, the buyer's offer check
 * (refusing a proof of knowledge of another module and a registered verifier whose key differs from
 * the one it derives), the buyer's own deal keys, fund, the contributor's deal-key check (refusing a
 * tampered key) and entry check (refusing rows other than its record), proofs, batch submission per
 * shape, settlement.
 */
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import hre, { network } from "hardhat";
import {
  DealCheckError,
  acceptDealKey,
  buyerEntry,
  checkOfferV2,
  commitModules,
  deployV2,
  fundV2,
  makeDealKeys,
  proposeV2,
  proveModuleV2,
  verifyClaimOffchain,
} from "../../src/app/v2.js";
import { LoraEscrowV2__factory } from "../../src/chain/typechain/index.js";
import { loraProduct } from "../../src/zk/index.js";
import {
  DeltaUpdateError,
  FoldMismatchError,
  buildShapeKey,
  solidityShapeKey,
  type ShapeKey,
} from "../../src/zk/v2/index.js";
import { TINY_V2, TWIN_V2, randomOpening, randomRows } from "../zk/v2-fixture.js";

const { ethers } = await network.create();
const PRICE = ethers.parseEther("2");

async function expectReject(
  p: Promise<unknown>,
  type: new (...a: never[]) => Error,
  re: RegExp,
): Promise<void> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err, "expected a rejection").to.be.instanceOf(type);
  expect((err as Error).message).to.match(re);
}

describe("# protocol v2 deal through the library steps (two shapes, real proofs)", function () {
  let tiny: ShapeKey;
  let twin: ShapeKey;
  let dir: string;

  before(async function () {
    tiny = await buildShapeKey(TINY_V2);
    twin = await buildShapeKey(TWIN_V2);
    dir = await mkdtemp(path.join(os.tmpdir(), "zklora-v2-deal-"));
  });

  it("Should run propose → checks → fund → checks → prove → submitBatch per shape → settle", async function () {
    const [deployer, contributor, buyer] = await ethers.getSigners();
    const dep = await deployV2(deployer, [tiny, twin], {
      registry: await hre.artifacts.readArtifact("ShapeRegistryV2"),
      verifier: await hre.artifacts.readArtifact("LoraModuleVerifierV2"),
      escrow: await hre.artifacts.readArtifact("LoraEscrowV2"),
    });
    const escrowAddr = await dep.escrow.getAddress();
    const shapes = [tiny, twin, tiny];
    const mods = await commitModules(
      31337n,
      escrowAddr,
      await contributor.getAddress(),
      shapes.map((key, m) => ({ key, opening: randomOpening(key.shape, 40 + m) })),
    );
    const dealId = await proposeV2(
      dep.escrow,
      contributor,
      {
        buyer: await buyer.getAddress(),
        token: ethers.ZeroAddress,
        price: PRICE,
        baseModelHash: ethers.id("base"),
        window: 3600n,
      },
      mods,
    );

    // The buyer checks the offer: W_m on-chain = manifest, every proof of knowledge in this deal's context,
    // and the registered verifiers' keys against its own derivation.
    const escrowAsBuyer = dep.escrow.connect(buyer);
    await checkOfferV2(escrowAsBuyer, dealId, mods);
    const swapped = mods.map((m, i) => (i === 2 ? { ...m, pok: mods[0].pok } : m));
    await expectReject(
      checkOfferV2(escrowAsBuyer, dealId, swapped),
      DealCheckError,
      /module 2: the proof of knowledge/,
    );

    // Evaluation (the contributor's server answers Y = X·A·B; both sides keep the rows).
    const rows = mods.map((m, i) => {
      const X = randomRows(m.key.shape.DIN, 2 + i, 70 + i);
      return { X, Y: loraProduct(X, m.opening.A as bigint[][], m.opening.B as bigint[][]) };
    });
    const entries = [];
    for (let m = 0; m < mods.length; m++)
      entries.push(await buyerEntry(escrowAsBuyer, dealId, m, mods[m].key, rows[m].X, rows[m].Y));
    const dealKeys = await makeDealKeys(escrowAsBuyer, dealId, [tiny, twin], dir);
    expect(dealKeys.map((k) => k.key.name)).to.deep.equal([tiny.name, twin.name]);
    // One δ' for both shapes is refused (PROTOCOL.md: forgeable).
    const reused = [dealKeys[0], { ...dealKeys[1], delta2: dealKeys[0].delta2 }];
    await expect(
      dep.escrow.connect(buyer).fund(
        dealId,
        reused.map((k) => ({ shapeId: k.key.shapeId, delta: k.delta2 })),
        entries.map((e) => ({ hX: e.hX, hY: e.hY, dX: e.D_X, fY: e.fY })),
        { value: PRICE },
      ),
    ).to.be.revertedWithCustomError(dep.escrow, "DealKeyReused");
    await fundV2(dep.escrow, buyer, dealId, dealKeys, entries, PRICE);

    // The contributor accepts each deal key against its own initial key and the δ' on-chain.
    const escrowAsContributor = dep.escrow.connect(contributor);
    for (const k of dealKeys) await acceptDealKey(escrowAsContributor, dealId, k.key, k.zkey);
    // A key of another shape handed over for this one is refused (its sections differ from the initial key's).
    await expectReject(
      acceptDealKey(escrowAsContributor, dealId, tiny, dealKeys[1].zkey),
      DeltaUpdateError,
      /section|δ/,
    );

    // Proofs from the contributor's own record of the rows; a record that differs is refused.
    const wrongRows = { X: rows[0].X, Y: rows[0].Y.map((r) => r.map((v) => v + 1n)) };
    await expectReject(
      proveModuleV2(escrowAsContributor, dealId, 0, mods[0], wrongRows, dealKeys[0].zkey),
      FoldMismatchError,
      /hY/,
    );
    const byShape = new Map<string, { claims: unknown[]; proofs: unknown[]; delta: bigint[] }>();
    for (let m = 0; m < mods.length; m++) {
      const dk = dealKeys.find((k) => k.key.shapeId === mods[m].key.shapeId)!;
      const { claim, proof } = await proveModuleV2(escrowAsContributor, dealId, m, mods[m], rows[m], dk.zkey);
      expect(await verifyClaimOffchain(mods[m].key, dk.delta2, claim, proof)).to.equal(true);
      const b = byShape.get(claim.shapeId) ?? { claims: [], proofs: [], delta: dk.delta2 };
      b.claims.push(claim);
      b.proofs.push(proof);
      byShape.set(claim.shapeId, b);
    }
    for (const [shapeId, b] of byShape) {
      await (
        await escrowAsContributor.submitBatch(
          dealId,
          shapeId,
          b.delta as never,
          b.claims as never,
          b.proofs as never,
        )
      ).wait();
    }
    const before = await ethers.provider.getBalance(await contributor.getAddress());
    await (await dep.escrow.connect(deployer).settle(dealId)).wait();
    expect((await ethers.provider.getBalance(await contributor.getAddress())) - before).to.equal(PRICE);
  });

  it("Should refuse to fund a deal whose registered verifier holds another key for the shape", async function () {
    const [deployer, contributor, buyer] = await ethers.getSigners();
    // A registry whose verifier for the tiny shape id carries other constants (IC[rho] and IC[fY] swapped).
    const registry = await ethers.deployContract("ShapeRegistryV2", [await deployer.getAddress()]);
    const bad = solidityShapeKey(tiny);
    const fake = await ethers.deployContract("LoraModuleVerifierV2", [
      { ...bad, icRho: bad.icFY, icFY: bad.icRho },
    ]);
    await (await registry.register(await fake.getAddress())).wait();
    const escrowContract = await ethers.deployContract("LoraEscrowV2", [await registry.getAddress()]);
    const escrow = LoraEscrowV2__factory.connect(await escrowContract.getAddress(), deployer);
    const mods = await commitModules(31337n, await escrow.getAddress(), await contributor.getAddress(), [
      { key: tiny, opening: randomOpening(TINY_V2, 90) },
    ]);
    const dealId = await proposeV2(
      escrow,
      contributor,
      {
        buyer: await buyer.getAddress(),
        token: ethers.ZeroAddress,
        price: PRICE,
        baseModelHash: ethers.ZeroHash,
        window: 3600n,
      },
      mods,
    );
    await expectReject(checkOfferV2(escrow.connect(buyer), dealId, mods), DealCheckError, /key hash/);
  });
  it("Should refuse, off a local chain, to fund a deal on keys from the FORGEABLE development ptau (chain 11155111)", async function () {
    const sepoliaLike = await network.create({ override: { chainId: 11155111 } });
    const [deployer, contributor, buyer] = await sepoliaLike.ethers.getSigners();
    expect((await sepoliaLike.ethers.provider.getNetwork()).chainId).to.equal(11155111n);
    const dep = await deployV2(deployer, [tiny], {
      registry: await hre.artifacts.readArtifact("ShapeRegistryV2"),
      verifier: await hre.artifacts.readArtifact("LoraModuleVerifierV2"),
      escrow: await hre.artifacts.readArtifact("LoraEscrowV2"),
    });
    const mods = await commitModules(
      11155111n,
      await dep.escrow.getAddress(),
      await contributor.getAddress(),
      [{ key: tiny, opening: randomOpening(tiny.shape, 90) }],
    );
    const dealId = await proposeV2(
      dep.escrow,
      contributor,
      {
        buyer: await buyer.getAddress(),
        token: sepoliaLike.ethers.ZeroAddress,
        price: PRICE,
        baseModelHash: sepoliaLike.ethers.id("base"),
        window: 3600n,
      },
      mods,
    );
    const escrowAsBuyer = dep.escrow.connect(buyer);
    expect(tiny.ptau.source).to.equal("dev");
    await expectReject(
      checkOfferV2(escrowAsBuyer, dealId, mods),
      DealCheckError,
      /refusing to fund a deal on chain 11155111 .*FORGEABLE development ptau.*--forgeable-keys/,
    );
    await checkOfferV2(escrowAsBuyer, dealId, mods, { allowForgeableKeys: true });
    await sepoliaLike.close();
  });
});
