/** VerifierRegistry: shape ids as src/zk computes them, append-only registration, owner only. */
import { expect } from "chai";
import type { Contract } from "ethers";
import { SHAPE_VARIANT, loadShapes, shapeId } from "../../src/zk/index.js";
import { deployFixture, ethers, networkHelpers, TINY_SHAPE } from "./fixture.js";

describe("# VerifierRegistry", function () {
  it("Should register every deployed verifier under the shape id src/zk computes", async function () {
    const f = await networkHelpers.loadFixture(deployFixture);
    const shapes = await loadShapes();
    const names = Object.keys(f.deployment.verifiers);
    expect(names).to.include(TINY_SHAPE);
    expect(await f.registry.shapeCount()).to.equal(BigInt(names.length));
    for (const name of names) {
      const shape = shapes.find((s) => s.name === name);
      if (shape === undefined) throw new Error(`circuits/shapes.json lost ${name}`);
      const id = shapeId(shape);
      expect(await f.registry.shapeIdOf(SHAPE_VARIANT, shape.T, shape.DIN, shape.R, shape.DOUT)).to.equal(id);
      const stored = await f.registry.getShape(id);
      expect([stored.t, stored.din, stored.r, stored.dout]).to.deep.equal(
        [shape.T, shape.DIN, shape.R, shape.DOUT].map(BigInt),
      );
      expect(stored.variant).to.equal(SHAPE_VARIANT);
      expect(stored.verifier).to.equal(await f.deployment.verifiers[name].getAddress());
      expect(await f.registry.isRegistered(id)).to.equal(true);
      const recorded = f.deployment.record.shapes.find((s) => s.name === name);
      expect(recorded?.shapeId).to.equal(id);
      expect(recorded?.verifier.address).to.equal(stored.verifier);
    }
    expect(await f.registry.VARIANT_V1()).to.equal(SHAPE_VARIANT);
  });

  it("Should never replace a registered shape's verifier", async function () {
    const f = await networkHelpers.loadFixture(deployFixture);
    const shape = (await loadShapes()).find((s) => s.name === TINY_SHAPE);
    if (shape === undefined) throw new Error(`circuits/shapes.json lost ${TINY_SHAPE}`);
    const id = shapeId(shape);
    const current = await f.registry.verifierOf(id);
    const other = await f.escrow.getAddress(); // any contract with code
    await expect(f.registry.register(SHAPE_VARIANT, shape.T, shape.DIN, shape.R, shape.DOUT, other))
      .to.be.revertedWithCustomError(f.registry, "ShapeAlreadyRegistered")
      .withArgs(id, current);
    expect(await f.registry.verifierOf(id)).to.equal(current);
  });

  it("Should reject a zero verifier, one without code, a zero dimension and a non-owner", async function () {
    const f = await networkHelpers.loadFixture(deployFixture);
    const registry = f.registry;
    const code = await f.deployment.verifiers[TINY_SHAPE].getAddress();
    await expect(
      registry.register(SHAPE_VARIANT, 9, 9, 9, 9, ethers.ZeroAddress),
    ).to.be.revertedWithCustomError(registry, "ZeroVerifier");
    const eoa = await f.stranger.getAddress();
    await expect(registry.register(SHAPE_VARIANT, 9, 9, 9, 9, eoa))
      .to.be.revertedWithCustomError(registry, "VerifierHasNoCode")
      .withArgs(eoa);
    await expect(registry.register(SHAPE_VARIANT, 9, 0, 9, 9, code))
      .to.be.revertedWithCustomError(registry, "InvalidShape")
      .withArgs(SHAPE_VARIANT, 9n, 0n, 9n, 9n);
    await expect((registry.connect(f.stranger) as Contract).register(SHAPE_VARIANT, 9, 9, 9, 9, code))
      .to.be.revertedWithCustomError(registry, "OwnableUnauthorizedAccount")
      .withArgs(eoa);
    const unknown = ethers.id("unknown shape");
    await expect(registry.getShape(unknown))
      .to.be.revertedWithCustomError(registry, "UnknownShape")
      .withArgs(unknown);
    expect(await registry.verifierOf(unknown)).to.equal(ethers.ZeroAddress);
  });

  it("Should not change a live deal's verifier when shapes are added later", async function () {
    const f = await networkHelpers.loadFixture(deployFixture);
    const shape = (await loadShapes()).find((s) => s.name === TINY_SHAPE);
    if (shape === undefined) throw new Error(`circuits/shapes.json lost ${TINY_SHAPE}`);
    const id = shapeId(shape);
    const dealId = (await f.escrow.nextDealId()) as bigint;
    await (f.escrow.connect(f.contributor) as Contract).propose(
      1n,
      ethers.ZeroAddress,
      ethers.ZeroAddress,
      ethers.ZeroHash,
      [{ target: "m", shapeId: id, commitment: 5n }],
      60n,
    );
    const code = await f.deployment.verifiers[TINY_SHAPE].getAddress();
    await expect(f.registry.register(SHAPE_VARIANT, 1, 1, 1, 1, code))
      .to.emit(f.registry, "ShapeRegistered")
      .withArgs(await f.registry.shapeIdOf(SHAPE_VARIANT, 1, 1, 1, 1), code, SHAPE_VARIANT, 1n, 1n, 1n, 1n);
    expect((await f.escrow.getModules(dealId))[0].verifier).to.equal(await f.registry.verifierOf(id));
  });
});
