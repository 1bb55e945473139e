/**
 * The typed chain client (src/chain/client.ts) on the embedded network: reads, propose, ERC-20
 * funding with approve, refund after the window, cancel, events, and custom-error reverts decoded
 * into readable ContractRevertErrors. (Real proofs through the client: test/e2e and the demo.)
 * Also checks that the committed ABIs / TypeChain types match the compiled contracts.
 */
import { expect } from "chai";
import hre, { network } from "hardhat";
import { ZeroHash, type Signer } from "ethers";
import {
  ContractRevertError,
  ZkloraClient,
  addressesOf,
  decodeRevertData,
  sortEntries,
  type EntryInput,
  type EscrowEvent,
} from "../../src/chain/index.js";
import { collectZkloraArtifacts, deployZklora } from "../../src/chain/deploy.js";
import { loadShapes } from "../../src/zk/index.js";
import { abiDrift } from "../../scripts/gen-abi.js";
import { build } from "esbuild";
import path from "node:path";
import { PROJECT_ROOT } from "../../src/common/cache.js";

const { ethers, networkHelpers } = await network.create();

async function rejectsWith(p: Promise<unknown>, re: RegExp): Promise<void> {
  try {
    await p;
  } catch (err) {
    expect((err as Error).message).to.match(re);
    return;
  }
  throw new Error(`expected a rejection matching ${re}`);
}

async function rejection(p: Promise<unknown>): Promise<ContractRevertError> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(ContractRevertError);
    return err as ContractRevertError;
  }
  throw new Error("expected a revert");
}

describe("# chain client (typed ethers v6)", function () {
  this.timeout(300_000);
  let contributor: Signer;
  let buyer: Signer;
  let stranger: Signer;
  let client: ZkloraClient;
  let shapeId = "";

  before(async function () {
    const [deployer, c, b, s] = await ethers.getSigners();
    [contributor, buyer, stranger] = [c, b, s];
    const { artifacts } = await collectZkloraArtifacts(hre.artifacts, await loadShapes(), {
      only: ["t2_i8_r2_o8"],
    });
    const d = await deployZklora(deployer, artifacts, { network: "test" });
    shapeId = d.record.shapes[0].shapeId;
    client = await ZkloraClient.connect(contributor, addressesOf(d.record));
  });

  const modules = () => [
    { target: "model.layers.0.self_attn.q_proj", shapeId, commitment: 11n },
    { target: "model.layers.0.self_attn.v_proj", shapeId, commitment: 12n },
  ];
  const entries: EntryInput[] = [
    { module: 1, hX: 7n, hY: ZeroHash, fY: 3n },
    { module: 0, hX: 9n, hY: ZeroHash, fY: 4n },
    { module: 0, hX: 5n, hY: ZeroHash, fY: 5n },
    { module: 0, hX: 9n, hY: ZeroHash, fY: 4n },
  ];

  it("Should sort entries by (module, hX) and drop duplicates, as fund requires", function () {
    expect(sortEntries(entries).map((e) => [e.module, e.hX])).to.deep.equal([
      [0, 5n],
      [0, 9n],
      [1, 7n],
    ]);
  });

  it("Should refuse a deployment on another chain or without code", async function () {
    const addrs = client.addresses;
    await rejectsWith(
      ZkloraClient.connect(contributor, { ...addrs, chainId: 1 }),
      /chain 1 but the provider is on chain/,
    );
    await rejectsWith(
      ZkloraClient.connect(contributor, { ...addrs, escrow: await stranger.getAddress() }),
      /no contract at the escrow address/,
    );
  });

  it("Should propose, fund in an ERC-20 with approve, refund after the window, with events", async function () {
    const token = await ethers.deployContract("ERC20Mock", ["Test USD", "TUSD"]);
    const tokenAddr = await token.getAddress();
    const buyerAddr = await buyer.getAddress();
    await (await token.getFunction("mint")(buyerAddr, 1000n)).wait();
    const { dealId, tx } = await client.propose({
      price: 400n,
      token: tokenAddr,
      buyer: buyerAddr,
      baseModelHash: ZeroHash,
      modules: modules(),
      provingWindow: 60,
    });
    expect(tx.gasUsed > 0n).to.equal(true);
    const deal = await client.getDeal(dealId);
    expect(deal).to.include({
      status: "Proposed",
      token: tokenAddr,
      buyer: buyerAddr,
      price: 400n,
      moduleCount: 2,
    });
    expect(deal.deadline).to.equal(null);
    expect(await client.tokenInfo(tokenAddr)).to.deep.equal({
      address: tokenAddr,
      symbol: "TUSD",
      decimals: 18,
    });
    expect((await client.getModules(dealId)).map((m) => m.commitment)).to.deep.equal([11n, 12n]);

    // A stranger may not fund a deal with a fixed buyer: decoded NotBuyer.
    const notBuyer = await rejection(client.withRunner(stranger).fund(dealId, entries));
    expect(notBuyer.revertName).to.equal("NotBuyer");
    expect(notBuyer.message).to.match(/can only be funded by its buyer/);

    const funded = await client.withRunner(buyer).fund(dealId, entries);
    expect(funded.approveTx).to.not.equal(undefined);
    expect(funded.entries).to.have.length(3);
    expect(await token.getFunction("balanceOf")(buyerAddr)).to.equal(600n);
    const view = await client.getEntries(dealId);
    expect(view.map((e) => [e.module, e.hX, e.proven])).to.deep.equal([
      [0, 5n, false],
      [0, 9n, false],
      [1, 7n, false],
    ]);
    expect(await client.queryEvents("EntryRegistered", { dealId })).to.have.length(3);

    const early = await rejection(client.refund(dealId));
    expect(early.revertName).to.equal("ProvingWindowOpen");
    const unproven = await rejection(client.settle(dealId));
    expect(unproven.message).to.match(/EntriesUnproven: deal \d+ still has 3 unproven entries/);

    await networkHelpers.time.increase(61);
    await client.withRunner(stranger).refund(dealId);
    expect(await token.getFunction("balanceOf")(buyerAddr)).to.equal(1000n);
    expect((await client.getDeal(dealId)).status).to.equal("Refunded");
    const [refunded] = await client.queryEvents("DealRefunded", { dealId });
    expect(refunded.args.amount).to.equal(400n);
  });

  it("Should cancel an unfunded deal and decode every refusal into a readable message", async function () {
    let stop: (() => Promise<void>) | undefined;
    const heard = new Promise<EscrowEvent>((resolve) => {
      void client.onEvent("DealCancelled", (e) => resolve(e)).then((s) => (stop = s));
    });
    const { dealId } = await client.propose({
      price: 10n,
      baseModelHash: ZeroHash,
      modules: modules(),
      provingWindow: 60,
    });
    const notContributor = await rejection(client.withRunner(stranger).cancel(dealId));
    expect(notContributor.message).to.match(/only deal \d+'s contributor may do this/);
    await client.cancel(dealId);
    const heard1 = await heard;
    expect(heard1.name).to.equal("DealCancelled");
    expect(heard1.args.dealId).to.equal(dealId);
    await stop?.();
    const wrong = await rejection(client.withRunner(buyer).fund(dealId, entries));
    expect(wrong.message).to.match(/WrongStatus: deal \d+ is Cancelled, this needs it Proposed/);

    const unregistered = await rejection(
      client.propose({
        price: 1n,
        baseModelHash: ZeroHash,
        modules: [{ target: "x", shapeId: ZeroHash, commitment: 1n }],
        provingWindow: 60,
      }),
    );
    expect(unregistered.revertName).to.equal("UnregisteredShape");
    expect(unregistered.message).to.match(/has no verifier in the registry/);
    const unknown = await rejection(client.getDeal(999n));
    expect(unknown.message).to.match(/UnknownDeal: no deal 999/);
    expect(decodeRevertData("0x12345678")).to.equal(undefined);
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
