/**
 * The typed chain client of protocol v2 (src/chain/client.ts) on the in-process network: deploy
 * with deployZklora and the tiny v2 shape; connect checks; propose and the reads (getDeal,
 * getModules, getEntries, getDealKeys, dealIds, verifierOf, keyHashOf, tokenInfo); custom-error
 * reverts decoded into readable ContractRevertErrors; an ERC-20 deal funded with approve and
 * refunded after the window; a whole ETH deal with REAL proofs (src/app/v2.ts) through client.fund,
 * client.submitBatch and client.settle, its events and an onEvent listener. Also checks that
 * src/chain bundles for a browser and that the committed ABIs / TypeChain types match the contracts.
 */
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { build } from "esbuild";
import hre, { network } from "hardhat";
import { ZeroHash, getAddress, id, parseEther, type Signer } from "ethers";
import {
  ChainError,
  ContractRevertError,
  ZkloraClient,
  addressesOf,
  decodeRevertData,
  type DealKeyInput,
  type EntryInput,
  type EscrowEvent,
  type ModuleInput,
} from "../../src/chain/index.js";
import { deployZklora, readZkloraArtifacts } from "../../src/chain/deploy.js";
import type { DeploymentRecord } from "../../src/chain/deployments.js";
import { shapeSpec } from "../../src/app/steps.js";
import {
  acceptDealKey,
  buyerEntry,
  commitModules,
  makeDealKeys,
  proveModuleV2,
  type CommittedModule,
  type DealKey,
} from "../../src/app/v2.js";
import { loraProduct } from "../../src/zk/index.js";
import { buildShapeKey, type FoldedEntry, type ShapeKey } from "../../src/zk/v2/index.js";
import { abiDrift } from "../../scripts/gen-abi.js";
import { PROJECT_ROOT } from "../../src/common/cache.js";
import { TINY_V2, randomOpening, randomRows } from "../zk/v2-fixture.js";
// snarkjs's curve workers keep the process alive: the root hook that terminates them, also when this
// file runs alone (`npx hardhat test mocha test/tasks/chain-client.test.ts`).
import "../00-root-hooks.test.js";

const { ethers, networkHelpers } = await network.create();
const WINDOW = 3600n;

/** Awaits a rejection and checks it is a ChainError (not a revert) whose message matches. */
async function chainError(p: Promise<unknown>, re: RegExp): Promise<ChainError> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(ChainError);
    expect(err).to.not.be.instanceOf(ContractRevertError);
    expect((err as Error).message).to.match(re);
    return err as ChainError;
  }
  throw new Error(`expected a ChainError matching ${re}`);
}

/** Awaits a decoded custom-error revert of the given name whose message matches. */
async function revert(p: Promise<unknown>, name: string, re: RegExp): Promise<ContractRevertError> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(ContractRevertError);
    const e = err as ContractRevertError;
    expect(e.revertName).to.equal(name);
    expect(e.message).to.match(re);
    return e;
  }
  throw new Error(`expected a ${name} revert`);
}

const keysOf = (dk: readonly DealKey[]): DealKeyInput[] =>
  dk.map((k) => ({ shapeId: k.key.shapeId, delta: k.delta2 }));
const entriesOf = (es: readonly FoldedEntry[]): EntryInput[] =>
  es.map((e) => ({ hX: e.hX, hY: e.hY, dX: e.D_X, fY: e.fY }));

describe("# chain client (typed ethers v6, protocol v2)", function () {
  this.timeout(300_000);
  let key: ShapeKey;
  let record: DeploymentRecord;
  let contributor: Signer;
  let buyer: Signer;
  let stranger: Signer;
  let contributorAddr = "";
  let buyerAddr = "";
  /** The client with the contributor's signer. */
  let client: ZkloraClient;
  let dir = "";

  before(async function () {
    const [deployer, c, b, s] = await ethers.getSigners();
    [contributor, buyer, stranger] = [c, b, s];
    [contributorAddr, buyerAddr] = [await c.getAddress(), await b.getAddress()];
    key = await buildShapeKey(TINY_V2);
    record = await deployZklora(deployer, [shapeSpec(key)], await readZkloraArtifacts(hre.artifacts), {
      network: "test",
    });
    client = await ZkloraClient.connect(contributor, addressesOf(record));
    dir = await mkdtemp(path.join(os.tmpdir(), "zklora-chain-client-"));
  });

  /** Commits `n` modules of the tiny shape (real W_m) for this escrow. */
  async function commit(n: number, seed: number): Promise<CommittedModule[]> {
    return commitModules(
      31337n,
      client.addresses.escrow,
      contributorAddr,
      Array.from({ length: n }, (_, m) => ({ key, opening: randomOpening(TINY_V2, seed + m) })),
    );
  }
  const moduleInputs = (mods: readonly CommittedModule[]): ModuleInput[] =>
    mods.map((m) => ({ shapeId: m.key.shapeId, wM: m.W }));

  /** The buyer's rows of each module (Y = X·A·B, as the contributor's server answers) and its entries. */
  async function evaluate(dealId: bigint, mods: readonly CommittedModule[], seed: number) {
    const rows = mods.map((m, i) => {
      const X = randomRows(TINY_V2.DIN, 1 + i, seed + i);
      return { X, Y: loraProduct(X, m.opening.A as bigint[][], m.opening.B as bigint[][]) };
    });
    const entries: FoldedEntry[] = [];
    for (let m = 0; m < mods.length; m++) {
      entries.push(await buyerEntry(client.escrow, dealId, m, key, rows[m].X, rows[m].Y));
    }
    return { rows, entries };
  }

  it("Should refuse a deployment on another chain or without code at the escrow", async function () {
    const addrs = client.addresses;
    await chainError(
      ZkloraClient.connect(contributor, { ...addrs, chainId: 1 }),
      /deployment is on chain 1 but the provider is on chain 31337/,
    );
    await chainError(
      ZkloraClient.connect(ethers.provider, { ...addrs, escrow: await stranger.getAddress() }),
      /no contract at the escrow address .* on chain 31337/,
    );
    // A read-only client (provider, no signer) connects and reads.
    const reader = await ZkloraClient.connect(ethers.provider, addrs);
    expect(reader.addresses.escrow).to.equal(record.contracts.LoraEscrowV2.address);
  });

  it("Should read the registry: the shape's verifier, its key hash, the payment token", async function () {
    const shape = record.shapes[0];
    expect(shape.shapeId).to.equal(key.shapeId);
    expect(await client.verifierOf(key.shapeId)).to.equal(shape.verifier.address);
    expect(await client.keyHashOf(shape.verifier.address)).to.equal(key.keyHash);
    expect(await client.verifierOf(ZeroHash)).to.equal(null);
    expect(await client.tokenInfo(null)).to.deep.equal({ address: null, symbol: "ETH", decimals: 18 });
  });

  it("Should propose and read the deal, its modules and the deal list; cancel it", async function () {
    const mods = await commit(2, 10);
    const before = await client.dealIds();
    const { dealId, tx } = await client.propose({
      price: parseEther("1"),
      buyer: buyerAddr,
      baseModelHash: id("base"),
      modules: moduleInputs(mods),
      provingWindow: WINDOW,
    });
    expect(tx.gasUsed > 0n && tx.fee > 0n).to.equal(true);
    expect(await client.dealIds()).to.deep.equal([...before, dealId]);
    expect(await client.getDeal(dealId)).to.deep.equal({
      dealId,
      contributor: contributorAddr,
      buyer: buyerAddr,
      token: null,
      price: parseEther("1"),
      baseModelHash: id("base"),
      status: "Proposed",
      modules: 2,
      proven: 0,
      window: WINDOW,
      deadline: null,
      delivery: false,
    });
    expect(await client.getModules(dealId)).to.deep.equal(
      mods.map((m, index) => ({ index, shapeId: key.shapeId, wM: m.W, proven: false })),
    );
    expect(await client.getEntries(dealId)).to.deep.equal([]);
    expect(await client.getDealKeys(dealId)).to.deep.equal([]);

    await revert(client.withRunner(stranger).cancel(dealId), "NotContributor", /only the deal's contributor/);
    await client.cancel(dealId);
    expect((await client.getDeal(dealId)).status).to.equal("Cancelled");
    const [cancelled] = (await client.events({ dealId })).filter((e) => e.name === "DealCancelled");
    expect(cancelled.args.dealId).to.equal(dealId);
  });

  it("Should decode custom-error reverts into readable ContractRevertErrors", async function () {
    const [mod] = await commit(1, 20);
    const base = { baseModelHash: ZeroHash, modules: moduleInputs([mod]), provingWindow: WINDOW };
    const zero = await revert(
      client.propose({ ...base, price: 0n }),
      "ZeroPrice",
      /^propose reverted: ZeroPrice: the price must be positive$/,
    );
    expect(zero.revertArgs).to.deep.equal([]);
    await revert(
      client.propose({ ...base, price: 1n, provingWindow: 60 }),
      "WindowOutOfRange",
      /the proving window must be 1 hour\.\.90 days, got 60 seconds/,
    );
    await revert(
      client.propose({ ...base, price: 1n, modules: [{ shapeId: id("no such shape"), wM: mod.W }] }),
      "UnknownShape",
      /has no verifier in the registry/,
    );
    await revert(
      client.propose({ ...base, price: 1n, modules: [{ shapeId: key.shapeId, wM: [1n, 3n] }] }),
      "InvalidCommitment",
      /module 0's W_m is not a point of the curve/,
    );
    const missing = await revert(
      client.cancel(999n),
      "DealNotFound",
      /cancel\(999\) reverted: DealNotFound: no deal 999/,
    );
    expect(missing.revertArgs).to.deep.equal([999n]);
    expect(decodeRevertData("0x12345678")).to.equal(undefined);
  });

  it("Should fund an ERC-20 deal with approve first, refuse a non-buyer and a second funding, refund after the window", async function () {
    const token = await ethers.deployContract("ERC20Mock", ["Test USD", "TUSD"]);
    const tokenAddr = getAddress(await token.getAddress());
    const balanceOf = (a: string) => token.getFunction("balanceOf")(a) as Promise<bigint>;
    await (await token.getFunction("mint")(buyerAddr, 1000n)).wait();
    expect(await client.tokenInfo(tokenAddr)).to.deep.equal({
      address: tokenAddr,
      symbol: "TUSD",
      decimals: 18,
    });

    const mods = await commit(1, 30);
    const { dealId } = await client.propose({
      price: 400n,
      token: tokenAddr,
      buyer: buyerAddr,
      baseModelHash: ZeroHash,
      modules: moduleInputs(mods),
      provingWindow: WINDOW,
    });
    expect(await client.getDeal(dealId)).to.include({ status: "Proposed", token: tokenAddr, price: 400n });
    const { entries } = await evaluate(dealId, mods, 300);
    const dealKeys = await makeDealKeys(client.escrow, dealId, [key], dir);

    const strangerAddr = await stranger.getAddress();
    await revert(
      client.withRunner(stranger).fund(dealId, keysOf(dealKeys), entriesOf(entries), { approve: false }),
      "NotBuyer",
      new RegExp(`only the deal's buyer may fund it, not ${strangerAddr}`),
    );

    const asBuyer = client.withRunner(buyer);
    const funded = await asBuyer.fund(dealId, keysOf(dealKeys), entriesOf(entries));
    expect(funded.approveTx, "fund approves the escrow first").to.not.equal(undefined);
    expect(funded.approveTx!.blockNumber < funded.tx.blockNumber).to.equal(true);
    expect(await balanceOf(buyerAddr)).to.equal(600n);
    expect(await balanceOf(client.addresses.escrow)).to.equal(400n);
    const deal = await client.getDeal(dealId);
    const block = await ethers.provider.getBlock(funded.tx.blockNumber);
    expect(deal).to.include({ status: "Funded", buyer: buyerAddr, proven: 0 });
    expect(deal.deadline).to.equal(BigInt(block!.timestamp) + WINDOW);
    expect(await client.getDealKeys(dealId)).to.deep.equal(keysOf(dealKeys));
    const [entry] = await client.getEntries(dealId);
    expect(entry).to.deep.equal({
      module: 0,
      hX: entries[0].hX,
      hY: entries[0].hY,
      rho: entries[0].rho,
      fY: entries[0].fY,
      dX: entries[0].D_X,
    });

    // A second funding is refused, before any token moves.
    await revert(
      asBuyer.fund(dealId, keysOf(dealKeys), entriesOf(entries)),
      "WrongStatus",
      /deal \d+ is Funded: this step needs another status/,
    );
    expect(await balanceOf(buyerAddr)).to.equal(600n);

    // No refund while the window is open; no settlement while a module is unproven.
    const early = await revert(
      client.withRunner(stranger).refund(dealId),
      "ProvingWindowOpen",
      /^refund\(\d+\) reverted: ProvingWindowOpen: the proving window is open until \d{4}-\d\d-\d\dT[0-9:.]+Z; a refund is possible only after it$/,
    );
    expect(early.revertArgs).to.deep.equal([deal.deadline]);
    await revert(
      client.settle(dealId),
      "NotAllProven",
      /0 of 1 modules are proven: prove and submit the rest first/,
    );

    await networkHelpers.time.increase(Number(WINDOW) + 1);
    await client.withRunner(stranger).refund(dealId);
    expect(await balanceOf(buyerAddr)).to.equal(1000n);
    expect((await client.getDeal(dealId)).status).to.equal("Refunded");
    const [refunded] = (await client.events({ dealId })).filter((e) => e.name === "DealRefunded");
    expect(refunded.args.buyer).to.equal(buyerAddr);
    expect(refunded.args.price).to.equal(400n);
  });

  it("Should run an ETH deal with real proofs: fund, submitBatch, settle, with its events and an onEvent listener", async function () {
    const price = parseEther("2");
    const mods = await commit(2, 40);
    const { dealId } = await client.propose({
      price,
      buyer: buyerAddr,
      baseModelHash: id("base"),
      modules: moduleInputs(mods),
      provingWindow: WINDOW,
    });
    let stop: (() => Promise<void>) | undefined;
    const heard = new Promise<EscrowEvent>((resolve) => {
      void client.onEvent("DealSettled", resolve, { dealId }).then((s) => (stop = s));
    });

    // The buyer: entries from its rows, its own deal key, funding with exactly the price.
    const { rows, entries } = await evaluate(dealId, mods, 400);
    const dealKeys = await makeDealKeys(client.escrow, dealId, [key], dir);
    const funded = await client.withRunner(buyer).fund(dealId, keysOf(dealKeys), entriesOf(entries));
    expect(funded.approveTx).to.equal(undefined);
    expect(await ethers.provider.getBalance(client.addresses.escrow)).to.equal(price);

    // The contributor: checks the deal key, proves each module from its own rows.
    const delta = await acceptDealKey(client.escrow, dealId, key, dealKeys[0].zkey);
    expect(delta).to.deep.equal(dealKeys[0].delta2);
    const claims = [];
    const proofs = [];
    for (let m = 0; m < mods.length; m++) {
      const { claim, proof } = await proveModuleV2(
        client.escrow,
        dealId,
        m,
        mods[m],
        rows[m],
        dealKeys[0].zkey,
      );
      claims.push(claim);
      proofs.push(proof);
    }
    // A corrupted proof is refused with a readable reason.
    const bad = { ...proofs[0], c: proofs[1].c };
    await revert(
      client.submit(dealId, claims[0], bad, delta),
      "ProofRejected",
      /the proof of module 0 does not verify/,
    );

    // Anyone may submit and settle: a third account does, so the contributor receives exactly the price.
    const relayer = client.withRunner(stranger);
    const submitted = await relayer.submitBatch(dealId, key.shapeId, delta, claims, proofs);
    expect(submitted.gasUsed > 0n).to.equal(true);
    expect((await client.getModules(dealId)).map((m) => m.proven)).to.deep.equal([true, true]);
    expect((await client.getDeal(dealId)).proven).to.equal(2);
    await revert(
      client.submit(dealId, claims[0], proofs[0], delta),
      "AlreadyProven",
      /module 0 is already proven/,
    );

    const before = await ethers.provider.getBalance(contributorAddr);
    await relayer.settle(dealId);
    expect((await ethers.provider.getBalance(contributorAddr)) - before).to.equal(price);
    expect(await ethers.provider.getBalance(client.addresses.escrow)).to.equal(0n);
    expect((await client.getDeal(dealId)).status).to.equal("Settled");

    // Every event of the deal, in chain order (the modules are committed before DealProposed is emitted).
    const events = await client.events({ dealId, fromBlock: record.blockNumber });
    expect(events.map((e) => e.name)).to.deep.equal([
      "ModuleCommitted",
      "ModuleCommitted",
      "DealProposed",
      "DealKeySet",
      "EntryRegistered",
      "EntryRegistered",
      "DealFunded",
      "ModuleProven",
      "ModuleProven",
      "DealSettled",
    ]);
    expect(events.every((e) => e.args.dealId === dealId)).to.equal(true);
    const settledLog = events[events.length - 1];
    expect(settledLog.args.contributor).to.equal(contributorAddr);
    expect(settledLog.args.price).to.equal(price);

    // The listener heard the settlement.
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error("no DealSettled event within 20 s")), 20_000).unref(),
    );
    const settled = await Promise.race([heard, timeout]);
    await stop?.();
    expect(settled.name).to.equal("DealSettled");
    expect(settled.args.dealId).to.equal(dealId);
    expect(settled.args.price).to.equal(price);
    expect(settled.transactionHash).to.equal(settledLog.transactionHash);
    expect(settled.args.contributor).to.equal(contributorAddr);
  });

  it("Should bundle for a browser: src/chain pulls in ethers and its own files only, no node built-ins", async function () {
    const out = await build({
      entryPoints: [path.join(PROJECT_ROOT, "src", "chain", "index.ts")],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      metafile: true,
      logLevel: "silent",
    });
    const inputs = Object.keys(out.metafile.inputs);
    expect(inputs.filter((f) => f.startsWith("node:") || /^(fs|path|url|os|crypto)$/.test(f))).to.deep.equal(
      [],
    );
    const own = inputs.filter((f) => !f.includes("node_modules"));
    expect(
      own.every((f) => f.startsWith("src/chain/")),
      own.join(", "),
    ).to.equal(true);
    expect(inputs.some((f) => f.includes("node_modules/ethers/"))).to.equal(true);
  });

  it("Should have committed ABIs and TypeChain types equal to the compiled contracts (npm run abi)", async function () {
    expect(await abiDrift()).to.deep.equal([]);
  });
});
