/**
 * LoraEscrowV2 + ShapeRegistryV2 with REAL protocol-v2 proofs of the tiny shape: a whole ETH deal and
 * an ERC-20 deal (propose → fund with the buyer's δ' → submit / submitBatch → settle), refunds, every
 * cheat of PROTOCOL.md rejected with a typed error (wrong W_m, D_X, fY or rho, another deal's or
 * another module's proof, the shape's δ instead of the deal's, a proof under the shape's key), a
 * batch that skips proofs copied ahead of it, and the gas of each step.
 */
import type { ClaimInput } from "../../src/chain/client.js";
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import type { Contract } from "ethers";
import { network } from "hardhat";
import { P, loraProduct } from "../../src/zk/index.js";
import {
  buildShapeKey,
  commitWeights,
  contributeDelta,
  deltaOf,
  foldEntry,
  proveV2,
  solidityShapeKey,
  toSolidityProofV2,
  v2ShapeId,
  type FoldedEntry,
  type G1Point,
  type G2Point,
  type ModuleOpening,
  type ShapeKey,
  type SolidityProofV2,
} from "../../src/zk/v2/index.js";
import { TINY_V2, randomOpening, randomRows } from "../zk/v2-fixture.js";

const { ethers, networkHelpers } = await network.create();
const PRICE = ethers.parseEther("1");
const WINDOW = 3600n;
const SHAPE = v2ShapeId(TINY_V2);

/** What a module proof is checked against (the client's type). */
type Claim = ClaimInput;

/** A proposed deal with its off-chain side: openings, commitments, rows, entries, deal key. */
interface TestDeal {
  id: bigint;
  openings: ModuleOpening[];
  W: G1Point[];
  entries: FoldedEntry[];
  dealZkey: string;
  delta: G2Point;
}

let key: ShapeKey;
let keyDir: string;

async function deploy() {
  const [deployer, contributor, buyer, other] = await ethers.getSigners();
  const registry = (await ethers.deployContract("ShapeRegistryV2", [
    await deployer.getAddress(),
  ])) as unknown as Contract;
  const verifier = (await ethers.deployContract("LoraModuleVerifierV2", [
    solidityShapeKey(key),
  ])) as unknown as Contract;
  await (await registry.register(await verifier.getAddress())).wait();
  const escrow = (await ethers.deployContract("LoraEscrowV2", [
    await registry.getAddress(),
  ])) as unknown as Contract;
  const token = (await ethers.deployContract("ERC20Mock", ["Mock", "MCK"])) as unknown as Contract;
  await (await token.mint(await buyer.getAddress(), PRICE * 10n)).wait();
  return { deployer, contributor, buyer, other, registry, verifier, escrow, token };
}
type Env = Awaited<ReturnType<typeof deploy>>;

/** Proposes a deal of `n` modules of the tiny shape (contributor), with its off-chain data. */
async function propose(env: Env, n: number, seed: number, token = ethers.ZeroAddress): Promise<TestDeal> {
  const esc = await env.escrow.getAddress();
  const ctx = { chainId: 31337n, escrow: esc, contributor: await env.contributor.getAddress() };
  const openings = Array.from({ length: n }, (_, m) => randomOpening(TINY_V2, seed * 100 + m));
  const W: G1Point[] = [];
  for (let m = 0; m < n; m++) W.push((await commitWeights(key, openings[m], { ...ctx, module: m })).W);
  const c = env.escrow.connect(env.contributor) as Contract;
  const tx = await c.propose(
    await env.buyer.getAddress(),
    token,
    PRICE,
    ethers.id("stories260k"),
    WINDOW,
    W.map((w) => ({ shapeId: SHAPE, wM: w })),
  );
  await tx.wait();
  const id = (await env.escrow.dealCount()) as bigint;
  const entries: FoldedEntry[] = [];
  for (let m = 0; m < n; m++) {
    const X = randomRows(TINY_V2.DIN, 1 + (m % 3), seed * 1000 + m);
    const Y = loraProduct(X, openings[m].A as bigint[][], openings[m].B as bigint[][]);
    entries.push(await foldEntry(key, X, Y, { chainId: 31337n, escrow: esc, dealId: id, module: BigInt(m) }));
  }
  const dealZkey = path.join(keyDir, `deal-${seed}-${id}.zkey`);
  await contributeDelta(key.zkey, dealZkey);
  return { id, openings, W, entries, dealZkey, delta: (await deltaOf(dealZkey)).delta2 };
}

function fundArgs(d: TestDeal) {
  return [
    d.id,
    [{ shapeId: SHAPE, delta: d.delta }],
    d.entries.map((e) => ({ hX: e.hX, hY: e.hY, dX: e.D_X, fY: e.fY })),
  ] as const;
}

function claim(d: TestDeal, m: number): Claim {
  const e = d.entries[m];
  return { module: m, shapeId: SHAPE, wM: d.W[m], rho: e.rho, fY: e.fY, dX: e.D_X };
}

async function prove(d: TestDeal, m: number, zkey = d.dealZkey): Promise<SolidityProofV2> {
  const e = d.entries[m];
  return toSolidityProofV2((await proveV2(key, zkey, e, d.openings[m], { D_X: e.D_X, W_m: d.W[m] })).proof);
}

async function gasOf(tx: Promise<{ wait(): Promise<{ gasUsed: bigint } | null> }>): Promise<bigint> {
  return (await (await tx).wait())!.gasUsed;
}

describe("# LoraEscrowV2 (protocol v2, real proofs of v2_i8_r2_o6)", function () {
  before(async function () {
    key = await buildShapeKey(TINY_V2);
    keyDir = await mkdtemp(path.join(os.tmpdir(), "zklora-v2-escrow-"));
  });

  it("Should run an ETH deal: propose, fund, submit, batch (skipping what is proven), settle; with gas", async function () {
    const env = await deploy();
    const d = await propose(env, 3, 1);
    const buyer = env.escrow.connect(env.buyer) as Contract;
    const fundGas = await gasOf(buyer.fund(...fundArgs(d), { value: PRICE }));
    const proofs = [await prove(d, 0), await prove(d, 1), await prove(d, 2)];
    const anyone = env.escrow.connect(env.other) as Contract;
    const submitGas = await gasOf(anyone.submit(d.id, claim(d, 0), proofs[0], d.delta));
    expect(await env.escrow.isProven(d.id, 0)).to.equal(true);
    await expect(anyone.submit(d.id, claim(d, 0), proofs[0], d.delta)).to.be.revertedWithCustomError(
      env.escrow,
      "AlreadyProven",
    );
    await expect(env.escrow.settle(d.id))
      .to.be.revertedWithCustomError(env.escrow, "NotAllProven")
      .withArgs(1n, 3n);
    // The batch holds module 0 again (already proven): it is skipped, the other two are proven.
    const batch = anyone.submitBatch(
      d.id,
      SHAPE,
      d.delta,
      [0, 1, 2].map((m) => claim(d, m)),
      proofs,
    );
    await expect(batch).to.emit(env.escrow, "ModuleProven").withArgs(d.id, 1n);
    expect(await env.escrow.isProven(d.id, 2)).to.equal(true);
    const before = await ethers.provider.getBalance(await env.contributor.getAddress());
    await expect(anyone.settle(d.id)).to.emit(env.escrow, "DealSettled");
    expect((await ethers.provider.getBalance(await env.contributor.getAddress())) - before).to.equal(PRICE);
    expect((await env.escrow.getDeal(d.id)).status).to.equal(3n);
    console.log(`      fund (3 entries, 1 key): ${fundGas} gas; submit: ${submitGas} gas`);
  });

  it("Should reject every cheat with a typed error", async function () {
    const env = await deploy();
    const d = await propose(env, 2, 2);
    await (await (env.escrow.connect(env.buyer) as Contract).fund(...fundArgs(d), { value: PRICE })).wait();
    const p0 = await prove(d, 0);
    const p1 = await prove(d, 1);
    const esc = env.escrow.connect(env.other) as Contract;
    const c0 = claim(d, 0);
    // Preimages that differ from what the escrow stored.
    await expect(esc.submit(d.id, { ...c0, wM: d.W[1] }, p0, d.delta))
      .to.be.revertedWithCustomError(env.escrow, "ClaimMismatch")
      .withArgs(0n);
    await expect(
      esc.submit(d.id, { ...c0, dX: d.entries[1].D_X }, p0, d.delta),
    ).to.be.revertedWithCustomError(env.escrow, "ClaimMismatch");
    await expect(
      esc.submit(d.id, { ...c0, fY: (c0.fY + 1n) % P }, p0, d.delta),
    ).to.be.revertedWithCustomError(env.escrow, "ClaimMismatch");
    await expect(
      esc.submit(d.id, { ...c0, rho: (c0.rho + 1n) % P }, p0, d.delta),
    ).to.be.revertedWithCustomError(env.escrow, "ClaimMismatch");
    // The shape's own δ (the initial key's) instead of the deal's.
    const shapeDelta = (await deltaOf(key.zkey)).delta2;
    await expect(esc.submit(d.id, c0, p0, shapeDelta)).to.be.revertedWithCustomError(
      env.escrow,
      "DealKeyMismatch",
    );
    // A proof made with the shape's initial key, or with another deal's key, under this deal's δ'.
    const underShapeKey = await prove(d, 0, key.zkey);
    await expect(esc.submit(d.id, c0, underShapeKey, d.delta))
      .to.be.revertedWithCustomError(env.escrow, "ProofRejected")
      .withArgs(0n);
    const otherKey = path.join(keyDir, "other-deal.zkey");
    await contributeDelta(key.zkey, otherKey);
    await expect(esc.submit(d.id, c0, await prove(d, 0, otherKey), d.delta)).to.be.revertedWithCustomError(
      env.escrow,
      "ProofRejected",
    );
    // Another module's proof.
    await expect(esc.submit(d.id, c0, p1, d.delta)).to.be.revertedWithCustomError(
      env.escrow,
      "ProofRejected",
    );
    // A proof of another deal (same weights and rows, other deal id: other rho and entries).
    const d2 = { ...(await propose(env, 2, 2)) };
    await expect(esc.submit(d.id, claim(d2, 0), p0, d.delta)).to.be.revertedWithCustomError(
      env.escrow,
      "ClaimMismatch",
    );
    // A batch holding one bad proof is refused whole; the good proofs then go through.
    await expect(
      esc.submitBatch(d.id, SHAPE, d.delta, [c0, claim(d, 1)], [p1, p0]),
    ).to.be.revertedWithCustomError(env.escrow, "BatchRejected");
    await expect(esc.submitBatch(d.id, SHAPE, d.delta, [c0], [p0, p1])).to.be.revertedWithCustomError(
      env.escrow,
      "LengthMismatch",
    );
    await (await esc.submitBatch(d.id, SHAPE, d.delta, [c0, claim(d, 1)], [p0, p1])).wait();
    expect(await env.escrow.isProven(d.id, 1)).to.equal(true);
    // Everything proven: a repeated batch is a no-op, not a revert.
    await (await esc.submitBatch(d.id, SHAPE, d.delta, [c0, claim(d, 1)], [p0, p1])).wait();
  });

  it("Should refuse malformed proposals and fundings", async function () {
    const env = await deploy();
    const c = env.escrow.connect(env.contributor) as Contract;
    const buyer = await env.buyer.getAddress();
    const W: G1Point = key.onchain.ic0;
    const mod = (shapeId: string, wM: G1Point) => [{ shapeId, wM }];
    await expect(
      c.propose(buyer, ethers.ZeroAddress, PRICE, ethers.ZeroHash, WINDOW, mod(ethers.id("x"), W)),
    ).to.be.revertedWithCustomError(env.escrow, "UnknownShape");
    // shape id zero has no verifier either (a deal on it could never be proven)
    await expect(
      c.propose(buyer, ethers.ZeroAddress, PRICE, ethers.ZeroHash, WINDOW, mod(ethers.ZeroHash, W)),
    )
      .to.be.revertedWithCustomError(env.escrow, "UnknownShape")
      .withArgs(ethers.ZeroHash);
    await expect(c.propose(buyer, ethers.ZeroAddress, PRICE, ethers.ZeroHash, WINDOW, mod(SHAPE, [1n, 1n])))
      .to.be.revertedWithCustomError(env.escrow, "InvalidCommitment")
      .withArgs(0n);
    await expect(
      c.propose(buyer, ethers.ZeroAddress, PRICE, ethers.ZeroHash, WINDOW, mod(SHAPE, [0n, 0n])),
    ).to.be.revertedWithCustomError(env.escrow, "InvalidCommitment");
    await expect(
      c.propose(buyer, ethers.ZeroAddress, 0n, ethers.ZeroHash, WINDOW, mod(SHAPE, W)),
    ).to.be.revertedWithCustomError(env.escrow, "ZeroPrice");
    await expect(
      c.propose(buyer, ethers.ZeroAddress, PRICE, ethers.ZeroHash, 60n, mod(SHAPE, W)),
    ).to.be.revertedWithCustomError(env.escrow, "WindowOutOfRange");
    await expect(
      c.propose(buyer, ethers.ZeroAddress, PRICE, ethers.ZeroHash, WINDOW, []),
    ).to.be.revertedWithCustomError(env.escrow, "ModuleCountOutOfRange");
    await expect(
      c.propose(buyer, buyer, PRICE, ethers.ZeroHash, WINDOW, mod(SHAPE, W)),
    ).to.be.revertedWithCustomError(env.escrow, "NotAToken");

    const d = await propose(env, 2, 3);
    const b = env.escrow.connect(env.buyer) as Contract;
    const [id, keys, entries] = fundArgs(d);
    await expect(
      (env.escrow.connect(env.other) as Contract).fund(id, keys, entries, { value: PRICE }),
    ).to.be.revertedWithCustomError(env.escrow, "NotBuyer");
    await expect(b.fund(id, keys, entries.slice(1), { value: PRICE }))
      .to.be.revertedWithCustomError(env.escrow, "WrongEntryCount")
      .withArgs(2n, 1n);
    await expect(b.fund(id, [], entries, { value: PRICE })).to.be.revertedWithCustomError(
      env.escrow,
      "WrongDealKeys",
    );
    await expect(
      b.fund(id, [{ shapeId: ethers.id("x"), delta: d.delta }], entries, { value: PRICE }),
    ).to.be.revertedWithCustomError(env.escrow, "DealKeyShapeMismatch");
    for (const bad of [
      [1n, 2n, 3n, 4n],
      [0n, 0n, 0n, 0n],
    ]) {
      await expect(b.fund(id, [{ shapeId: SHAPE, delta: bad }], entries, { value: PRICE }))
        .to.be.revertedWithCustomError(env.escrow, "InvalidDealKey")
        .withArgs(SHAPE);
    }
    await expect(b.fund(id, keys, [entries[0], { ...entries[1], dX: [1n, 1n] }], { value: PRICE }))
      .to.be.revertedWithCustomError(env.escrow, "InvalidEntry")
      .withArgs(1n);
    await expect(b.fund(id, keys, [{ ...entries[0], fY: P }, entries[1]], { value: PRICE }))
      .to.be.revertedWithCustomError(env.escrow, "InvalidEntry")
      .withArgs(0n);
    await expect(b.fund(id, keys, entries, { value: PRICE - 1n })).to.be.revertedWithCustomError(
      env.escrow,
      "WrongDeposit",
    );
    await (await b.fund(id, keys, entries, { value: PRICE })).wait();
    await expect(b.fund(id, keys, entries, { value: PRICE })).to.be.revertedWithCustomError(
      env.escrow,
      "WrongStatus",
    );
    await expect(c.cancel(id)).to.be.revertedWithCustomError(env.escrow, "WrongStatus");
    // rho is the contract's: the entry event carries exactly the buyer's rho.
    const ev = (await env.escrow.queryFilter(env.escrow.filters.EntryRegistered(id, 1n)))[0] as unknown as {
      args: { rho: bigint };
    };
    expect(ev.args.rho).to.equal(d.entries[1].rho);
  });

  it("Should refund after the window, refuse proofs after it, and let the contributor cancel an unfunded deal", async function () {
    const env = await deploy();
    const d = await propose(env, 1, 4);
    await (await (env.escrow.connect(env.buyer) as Contract).fund(...fundArgs(d), { value: PRICE })).wait();
    await expect(env.escrow.refund(d.id)).to.be.revertedWithCustomError(env.escrow, "ProvingWindowOpen");
    const p0 = await prove(d, 0);
    await networkHelpers.time.increase(WINDOW + 1n);
    await expect(env.escrow.submit(d.id, claim(d, 0), p0, d.delta)).to.be.revertedWithCustomError(
      env.escrow,
      "ProvingWindowOver",
    );
    const before = await ethers.provider.getBalance(await env.buyer.getAddress());
    await expect((env.escrow.connect(env.other) as Contract).refund(d.id)).to.emit(
      env.escrow,
      "DealRefunded",
    );
    expect((await ethers.provider.getBalance(await env.buyer.getAddress())) - before).to.equal(PRICE);
    const d2 = await propose(env, 1, 5);
    await expect((env.escrow.connect(env.other) as Contract).cancel(d2.id)).to.be.revertedWithCustomError(
      env.escrow,
      "NotContributor",
    );
    await expect((env.escrow.connect(env.contributor) as Contract).cancel(d2.id)).to.emit(
      env.escrow,
      "DealCancelled",
    );
    await expect(
      (env.escrow.connect(env.buyer) as Contract).fund(...fundArgs(d2), { value: PRICE }),
    ).to.be.revertedWithCustomError(env.escrow, "WrongStatus");
  });

  it("Should run an ERC-20 deal and refuse a fee-on-transfer token", async function () {
    const env = await deploy();
    const tokenAddr = await env.token.getAddress();
    const d = await propose(env, 1, 6, tokenAddr);
    await (
      await (env.token.connect(env.buyer) as Contract).approve(await env.escrow.getAddress(), PRICE)
    ).wait();
    const b = env.escrow.connect(env.buyer) as Contract;
    await expect(b.fund(...fundArgs(d), { value: 1n })).to.be.revertedWithCustomError(
      env.escrow,
      "WrongDeposit",
    );
    await (await b.fund(...fundArgs(d))).wait();
    await (await env.escrow.submit(d.id, claim(d, 0), await prove(d, 0), d.delta)).wait();
    await (await env.escrow.settle(d.id)).wait();
    expect(await env.token.balanceOf(await env.contributor.getAddress())).to.equal(PRICE);

    const fee = (await ethers.deployContract("FeeOnTransferToken", [100n])) as unknown as Contract;
    await (await fee.mint(await env.buyer.getAddress(), PRICE)).wait();
    const d2 = await propose(env, 1, 7, await fee.getAddress());
    await (await (fee.connect(env.buyer) as Contract).approve(await env.escrow.getAddress(), PRICE)).wait();
    await expect(b.fund(...fundArgs(d2))).to.be.revertedWithCustomError(env.escrow, "WrongDeposit");
  });

  it("Should keep the registry append-only and owner-run", async function () {
    const env = await deploy();
    await expect(env.registry.register(await env.verifier.getAddress()))
      .to.be.revertedWithCustomError(env.registry, "ShapeAlreadyRegistered")
      .withArgs(SHAPE);
    await expect(
      (env.registry.connect(env.other) as Contract).register(await env.verifier.getAddress()),
    ).to.be.revertedWithCustomError(env.registry, "OwnableUnauthorizedAccount");
    await expect(env.registry.register(await env.other.getAddress())).to.be.revertedWithCustomError(
      env.registry,
      "NotAContract",
    );
    expect(await env.registry.keyHashOf(SHAPE)).to.equal(key.keyHash);
  });

  it("Should measure propose per module and batch submission per proof (16 modules)", async function () {
    this.timeout(600_000);
    const env = await deploy();
    const esc = await env.escrow.getAddress();
    const contributor = env.escrow.connect(env.contributor) as Contract;
    const mods = (n: number) => Array.from({ length: n }, () => ({ shapeId: SHAPE, wM: key.onchain.ic0 }));
    const g1 = await gasOf(
      contributor.propose(
        await env.buyer.getAddress(),
        ethers.ZeroAddress,
        PRICE,
        ethers.ZeroHash,
        WINDOW,
        mods(1),
      ),
    );
    const g16 = await gasOf(
      contributor.propose(
        await env.buyer.getAddress(),
        ethers.ZeroAddress,
        PRICE,
        ethers.ZeroHash,
        WINDOW,
        mods(16),
      ),
    );
    const d = await propose(env, 16, 8);
    const fundGas = await gasOf(
      (env.escrow.connect(env.buyer) as Contract).fund(...fundArgs(d), { value: PRICE }),
    );
    const proofs: SolidityProofV2[] = [];
    for (let m = 0; m < 16; m++) proofs.push(await prove(d, m));
    const all = Array.from({ length: 16 }, (_, m) => claim(d, m));
    const batchGas = await gasOf(
      (env.escrow.connect(env.other) as Contract).submitBatch(d.id, SHAPE, d.delta, all, proofs),
    );
    expect(await env.escrow.isProven(d.id, 15)).to.equal(true);
    console.log(
      `      propose: ${g1} gas for 1 module, ${(g16 - g1) / 15n} per further module; ` +
        `fund (16 entries): ${fundGas} (${fundGas / 16n} per entry incl. the δ' check); ` +
        `submitBatch of 16: ${batchGas} (${batchGas / 16n} per module) [escrow ${esc.slice(0, 8)}…]`,
    );
  });
});
