/**
 * Delivery deals of LoraEscrowV2 (PROTOCOL.md, "Weights delivered with the payment"), with REAL
 * proofs: module proofs of the tiny shape and key-wrap proofs (LoraKeyWrapVerifierV2) under the
 * buyer's own per-deal wrap key. proposeDelivery → fundDelivery (Baby Jubjub key checked in the
 * prime-order subgroup, wrap δ' distinct from the module keys) → submit → settleWithKeys, and every
 * cheat rejected with a typed error: plain fund/settle of a delivery deal, a wrong R_m, another
 * deal's wrap proof, another buyer key, other key hashes, a proof under another δ', keys after the
 * window; a refund when the keys never came; a third party cannot unwrap from the events.
 */
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import type { Contract } from "ethers";
import { network } from "hardhat";
import { addPoint } from "@zk-kit/baby-jubjub";
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
} from "../../src/zk/v2/index.js";
import {
  BABY_BASE8,
  babyMul,
  buildWrapKey,
  buyerWrapKeypair,
  deliveryKeyHash,
  proveKeyWrap,
  BABY_SUBORDER,
  randomBabyScalar,
  solidityWrapKey,
  subgroupCertificate,
  toSolidityWrapProof,
  unwrapDeliveryKeys,
  wrapPad,
  type WrapKey,
  type WrapProof,
} from "../../src/zk/wrap/index.js";
import { randomDeliveryKey } from "../../src/zk/delivery/index.js";
import { TINY_V2, randomOpening, randomRows } from "../zk/v2-fixture.js";

const { ethers, networkHelpers } = await network.create();
const PRICE = ethers.parseEther("1");
const WINDOW = 3600n;
const SHAPE = v2ShapeId(TINY_V2);

let key: ShapeKey;
let wrapKey: WrapKey;
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
  return { deployer, contributor, buyer, other, registry, escrow };
}
type Env = Awaited<ReturnType<typeof deploy>>;

async function registerWrap(env: Env): Promise<Contract> {
  const v = (await ethers.deployContract("LoraKeyWrapVerifierV2", [
    solidityWrapKey(wrapKey),
  ])) as unknown as Contract;
  await (await env.registry.registerWrapVerifier(await v.getAddress())).wait();
  return v;
}

interface DeliveryDeal {
  id: bigint;
  openings: ModuleOpening[];
  W: G1Point[];
  entries: FoldedEntry[];
  delta: G2Point;
  k: bigint[];
  hK: bigint[];
}

async function proposeDelivery(env: Env, n: number, seed: number): Promise<DeliveryDeal> {
  const esc = await env.escrow.getAddress();
  const ctx = { chainId: 31337n, escrow: esc, contributor: await env.contributor.getAddress() };
  const openings = Array.from({ length: n }, (_, m) => randomOpening(TINY_V2, seed * 100 + m));
  const W: G1Point[] = [];
  for (let m = 0; m < n; m++) W.push((await commitWeights(key, openings[m], { ...ctx, module: m })).W);
  const k = Array.from({ length: n }, () => randomDeliveryKey());
  const hK = k.map(deliveryKeyHash);
  const c = env.escrow.connect(env.contributor) as Contract;
  const mods = W.map((w) => ({ shapeId: SHAPE, wM: w }));
  await expect(
    c.proposeDelivery(env.buyer, ethers.ZeroAddress, PRICE, ethers.ZeroHash, WINDOW, mods, hK),
  ).to.emit(env.escrow, "DeliveryCommitted");
  const id = (await env.escrow.dealCount()) as bigint;
  const entries: FoldedEntry[] = [];
  for (let m = 0; m < n; m++) {
    const X = randomRows(TINY_V2.DIN, 2, seed * 1000 + m);
    const Y = loraProduct(X, openings[m].A as bigint[][], openings[m].B as bigint[][]);
    entries.push(await foldEntry(key, X, Y, { chainId: 31337n, escrow: esc, dealId: id, module: BigInt(m) }));
  }
  const dealZkey = path.join(keyDir, `deal-${seed}-${id}.zkey`);
  await contributeDelta(key.zkey, dealZkey);
  return { id, openings, W, entries, delta: (await deltaOf(dealZkey)).delta2, k, hK };
}

/** 8⁻¹·pk modulo the subgroup order: the certificate a buyer would send for pk (8·root = pk iff pk is in the subgroup). */
const INV8 = (() => {
  let r = 1n;
  let b = 8n;
  for (let e = BABY_SUBORDER - 2n; e > 0n; e >>= 1n, b = (b * b) % BABY_SUBORDER)
    if (e & 1n) r = (r * b) % BABY_SUBORDER;
  return r;
})();
const root = (pk: [bigint, bigint]) => babyMul(pk, INV8);

const entryArgs = (d: DeliveryDeal) => d.entries.map((e) => ({ hX: e.hX, hY: e.hY, dX: e.D_X, fY: e.fY }));

async function proveAll(env: Env, d: DeliveryDeal, zkey: string): Promise<void> {
  for (let m = 0; m < d.openings.length; m++) {
    const e = d.entries[m];
    const p = await proveV2(key, zkey, e, d.openings[m], { D_X: e.D_X, W_m: d.W[m] });
    const claim = { module: m, shapeId: SHAPE, wM: d.W[m], rho: e.rho, fY: e.fY, dX: e.D_X };
    await (await env.escrow.submit(d.id, claim, toSolidityProofV2(p.proof), d.delta)).wait();
  }
}

describe("# LoraEscrowV2 delivery deals (real module and key-wrap proofs)", function () {
  this.timeout(900_000);

  before(async function () {
    key = await buildShapeKey(TINY_V2);
    wrapKey = await buildWrapKey();
    keyDir = await mkdtemp(path.join(os.tmpdir(), "zklora-delivery-"));
  });

  it("Should need the registry's wrap verifier, refuse malformed key hashes, and keep the registration permanent", async function () {
    const env = await networkHelpers.loadFixture(deploy);
    const c = env.escrow.connect(env.contributor) as Contract;
    const mods = [
      {
        shapeId: SHAPE,
        wM: (
          await commitWeights(key, randomOpening(TINY_V2, 1), {
            chainId: 31337n,
            escrow: await env.escrow.getAddress(),
            contributor: await env.contributor.getAddress(),
            module: 0,
          })
        ).W,
      },
    ];
    await expect(
      c.proposeDelivery(env.buyer, ethers.ZeroAddress, PRICE, ethers.ZeroHash, WINDOW, mods, [5n]),
    ).to.be.revertedWithCustomError(env.escrow, "NoWrapVerifier");
    const v = await registerWrap(env);
    expect(await v.keyHash()).to.equal(wrapKey.keyHash);
    expect(await v.SLOTS()).to.equal(16n);
    await expect(env.registry.registerWrapVerifier(await v.getAddress())).to.be.revertedWithCustomError(
      env.registry,
      "WrapVerifierAlreadyRegistered",
    );
    await expect(
      (env.registry.connect(env.other) as Contract).registerWrapVerifier(await v.getAddress()),
    ).to.be.revertedWithCustomError(env.registry, "OwnableUnauthorizedAccount");
    await expect(
      c.proposeDelivery(env.buyer, ethers.ZeroAddress, PRICE, ethers.ZeroHash, WINDOW, mods, []),
    ).to.be.revertedWithCustomError(env.escrow, "WrongKeyHashCount");
    for (const bad of [0n, P]) {
      await expect(
        c.proposeDelivery(env.buyer, ethers.ZeroAddress, PRICE, ethers.ZeroHash, WINDOW, mods, [bad]),
      )
        .to.be.revertedWithCustomError(env.escrow, "InvalidKeyHash")
        .withArgs(0n);
    }
  });

  it("Should run a delivery deal: only the funded buyer's key unwraps, and every cheat is refused", async function () {
    const env = await networkHelpers.loadFixture(deploy);
    await registerWrap(env);
    const d = await proposeDelivery(env, 3, 1);
    const buyerEsc = env.escrow.connect(env.buyer) as Contract;
    const moduleKeys = [{ shapeId: SHAPE, delta: d.delta }];
    const buyerKey = buyerWrapKeypair();
    const wrapZkey = path.join(keyDir, `wrap-${d.id}.zkey`);
    await contributeDelta(wrapKey.zkey, wrapZkey);
    const wrapDelta = (await deltaOf(wrapZkey)).delta2;

    // Funding: a plain fund is refused; the buyer key must be in the prime-order subgroup (shown by a
    // point q with 8·q = pk; for a key outside it, 8⁻¹·pk gives only its subgroup part) and certified.
    await expect(
      buyerEsc.fund(d.id, moduleKeys, entryArgs(d), { value: PRICE }),
    ).to.be.revertedWithCustomError(env.escrow, "DeliveryDeal");
    const order2: [bigint, bigint] = [0n, P - 1n];
    const mixed = addPoint(buyerKey.pk, order2); // on the curve, outside the subgroup
    for (const pk of [[0n, 1n], order2, mixed, [1n, 2n]] as [bigint, bigint][]) {
      await expect(
        buyerEsc.fundDelivery(d.id, moduleKeys, entryArgs(d), { pk, delta: wrapDelta }, root(pk), {
          value: PRICE,
        }),
      ).to.be.revertedWithCustomError(env.escrow, "InvalidWrapKey");
    }
    await expect(
      buyerEsc.fundDelivery(
        d.id,
        moduleKeys,
        entryArgs(d),
        { pk: buyerKey.pk, delta: wrapDelta },
        root(buyerWrapKeypair().pk),
        { value: PRICE },
      ),
    ).to.be.revertedWithCustomError(env.escrow, "InvalidWrapKey");
    await expect(
      buyerEsc.fundDelivery(
        d.id,
        moduleKeys,
        entryArgs(d),
        { pk: buyerKey.pk, delta: d.delta },
        subgroupCertificate(buyerKey.pk),
        { value: PRICE },
      ),
    ).to.be.revertedWithCustomError(env.escrow, "WrapKeyReused");
    const fundTx = buyerEsc.fundDelivery(
      d.id,
      moduleKeys,
      entryArgs(d),
      { pk: buyerKey.pk, delta: wrapDelta },
      subgroupCertificate(buyerKey.pk),
      {
        value: PRICE,
      },
    );
    await expect(fundTx).to.emit(env.escrow, "WrapKeySet");
    const fundGas = (await (await fundTx).wait())!.gasUsed;

    const dealZkey = path.join(keyDir, `deal-1-${d.id}.zkey`);
    await proveAll(env, d, dealZkey);
    await expect(env.escrow.settle(d.id)).to.be.revertedWithCustomError(env.escrow, "DeliveryDeal");

    // The contributor wraps its delivery keys for the funded buyer.
    const e = randomBabyScalar();
    const E = babyMul(BABY_BASE8, e);
    const modules = d.k.map((k, m) => ({ m, k }));
    const proofs = await proveKeyWrap(wrapKey, wrapZkey, { pk: buyerKey.pk, e, E, dealId: d.id, modules });
    const R = proofs[0].statement.R;
    const sol = (ps: WrapProof[]) => ps.map((p) => toSolidityWrapProof(p.proof));
    const wrap = { pk: buyerKey.pk, delta: wrapDelta };
    const contributorEsc = env.escrow.connect(env.contributor) as Contract;

    await expect(contributorEsc.settleWithKeys(d.id, wrap, d.hK, E, [R[0] + 1n, R[1], R[2]], sol(proofs)))
      .to.be.revertedWithCustomError(env.escrow, "WrapProofRejected")
      .withArgs(0n);
    const other = buyerWrapKeypair();
    await expect(
      contributorEsc.settleWithKeys(d.id, { pk: other.pk, delta: wrapDelta }, d.hK, E, R, sol(proofs)),
    ).to.be.revertedWithCustomError(env.escrow, "WrapKeyMismatch");
    await expect(
      contributorEsc.settleWithKeys(d.id, wrap, [d.hK[1], d.hK[0], d.hK[2]], E, R, sol(proofs)),
    ).to.be.revertedWithCustomError(env.escrow, "KeyHashesMismatch");
    await expect(
      contributorEsc.settleWithKeys(d.id, wrap, d.hK, E, R.slice(0, 2), sol(proofs)),
    ).to.be.revertedWithCustomError(env.escrow, "WrongWrappedCount");
    await expect(contributorEsc.settleWithKeys(d.id, wrap, d.hK, E, R, [])).to.be.revertedWithCustomError(
      env.escrow,
      "WrongWrapProofCount",
    );
    // A wrap proof for another deal id (same keys, same buyer) does not verify here.
    const otherDeal = await proveKeyWrap(wrapKey, wrapZkey, {
      pk: buyerKey.pk,
      e,
      E,
      dealId: d.id + 1n,
      modules,
    });
    await expect(
      contributorEsc.settleWithKeys(d.id, wrap, d.hK, E, otherDeal[0].statement.R, sol(otherDeal)),
    ).to.be.revertedWithCustomError(env.escrow, "WrapProofRejected");
    // A wrap proof under another δ' (the initial key, δ = 1) does not verify under the buyer's.
    const shapeKeyProofs = await proveKeyWrap(wrapKey, wrapKey.zkey, {
      pk: buyerKey.pk,
      e,
      E,
      dealId: d.id,
      modules,
    });
    await expect(
      contributorEsc.settleWithKeys(d.id, wrap, d.hK, E, R, sol(shapeKeyProofs)),
    ).to.be.revertedWithCustomError(env.escrow, "WrapProofRejected");

    const before = await ethers.provider.getBalance(env.contributor);
    const settleTx = await env.escrow.connect(env.other).getFunction("settleWithKeys")(
      d.id,
      wrap,
      d.hK,
      E,
      R,
      sol(proofs),
    );
    await expect(settleTx).to.emit(env.escrow, "KeysDelivered").and.to.emit(env.escrow, "DealSettled");
    const settleGas = (await settleTx.wait())!.gasUsed;
    expect((await ethers.provider.getBalance(env.contributor)) - before).to.equal(PRICE);
    expect((await env.escrow.getDeal(d.id)).delivery).to.equal(true);

    // The buyer unwraps from the event; anyone else holding every public value cannot.
    const [ev] = await env.escrow.queryFilter(env.escrow.filters.KeysDelivered(d.id));
    const args = (ev as unknown as { args: { e: bigint[]; wrapped: bigint[] } }).args;
    const Ev: [bigint, bigint] = [args.e[0], args.e[1]];
    const mods = args.wrapped.map((R, m) => ({ m, R, hK: d.hK[m] }));
    expect(unwrapDeliveryKeys({ sk: buyerKey.sk, E: Ev, dealId: d.id, modules: mods })).to.deep.equal(d.k);
    for (const sk of [other.sk, randomBabyScalar()]) {
      expect(() => unwrapDeliveryKeys({ sk, E: Ev, dealId: d.id, modules: mods })).to.throw(/module 0/);
    }
    // Without sk, the public points give pads whose keys do not hash to hK.
    for (const S of [Ev, buyerKey.pk, babyMul(Ev, 8n)] as [bigint, bigint][]) {
      expect(deliveryKeyHash((args.wrapped[0] - wrapPad(S, d.id, 0) + P) % P)).to.not.equal(d.hK[0]);
    }
    console.log(`      gas: fundDelivery (3 modules) ${fundGas}, settleWithKeys (3 modules) ${settleGas}`);
  });

  it("Should refund a delivery deal whose keys never came, even with every module proven, and refuse keys after the window", async function () {
    const env = await networkHelpers.loadFixture(deploy);
    await registerWrap(env);
    const d = await proposeDelivery(env, 1, 2);
    const buyerKey = buyerWrapKeypair();
    const wrapZkey = path.join(keyDir, `wrap-r-${d.id}.zkey`);
    await contributeDelta(wrapKey.zkey, wrapZkey);
    const wrap = { pk: buyerKey.pk, delta: (await deltaOf(wrapZkey)).delta2 };
    await (
      await (env.escrow.connect(env.buyer) as Contract).fundDelivery(
        d.id,
        [{ shapeId: SHAPE, delta: d.delta }],
        entryArgs(d),
        wrap,
        subgroupCertificate(wrap.pk),
        { value: PRICE },
      )
    ).wait();
    await proveAll(env, d, path.join(keyDir, `deal-2-${d.id}.zkey`));
    const e = randomBabyScalar();
    const E = babyMul(BABY_BASE8, e);
    const proofs = await proveKeyWrap(wrapKey, wrapZkey, {
      pk: buyerKey.pk,
      e,
      E,
      dealId: d.id,
      modules: [{ m: 0, k: d.k[0] }],
    });
    await networkHelpers.time.increase(Number(WINDOW) + 1);
    await expect(
      env.escrow.settleWithKeys(
        d.id,
        wrap,
        d.hK,
        E,
        proofs[0].statement.R,
        proofs.map((p) => toSolidityWrapProof(p.proof)),
      ),
    ).to.be.revertedWithCustomError(env.escrow, "ProvingWindowOver");
    await expect((env.escrow.connect(env.other) as Contract).refund(d.id))
      .to.emit(env.escrow, "DealRefunded")
      .withArgs(d.id, await env.buyer.getAddress(), PRICE);
  });
});
