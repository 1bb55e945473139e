/**
 * A whole deal with one chunked module (issue #5) through the steps the zklora:* tasks run
 * (src/app/steps.ts), on an in-process chain: a tiny generated Llama (hidden 8, one layer) with a
 * rank-2 adapter on q_proj (committed to the tiny chunked shape t2_i8_r2_o8_a4_b4: 2 A + 2 B chunk
 * proofs) and v_proj (the v1 shape t2_i8_r2_o8). commit → propose (--deliver refused) → serve → infer
 * → background proofs (a chain for q_proj, fetched and checked by the buyer) → fund → prove (background
 * chain reused; --fresh re-proves it in the proving pool) → submit (v1 submit + submitChunked; a
 * tampered chain is refused with the decoded chunk error) → settle.
 */
import { expect } from "chai";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import hre, { network } from "hardhat";
import { ChunkedDeliveryError } from "../../src/app/errors.js";
import {
  commitStep,
  fundStep,
  inferStep,
  proposeStep,
  proveStep,
  startServe,
  submitStep,
  waitForBackgroundProofs,
  type EntryProofFile,
} from "../../src/app/steps.js";
import { Workspace } from "../../src/app/workspace.js";
import { ContractRevertError, ZkloraClient, addressesOf } from "../../src/chain/index.js";
import { collectZkloraArtifacts, deployZklora } from "../../src/chain/deploy.js";
import { loadBaseModel, writeRandomAdapter, writeTinyLlama } from "../../src/model/index.js";
import {
  ProofCheckError,
  RemoteLoraClient,
  loadBuyerTranscript,
  loadManifest,
  loadSecrets,
} from "../../src/mpi/index.js";
import {
  buildChunkedCircuits,
  buildCircuit,
  chunkedShapeId,
  linkStart,
  loadChunkedShapes,
  loadShapes,
  shapeId,
} from "../../src/zk/index.js";
import { tamperingProxy } from "../mpi/fixtures.js";

const V1 = "t2_i8_r2_o8";
const CHUNKED = "t2_i8_r2_o8_a4_b4";

describe("# chunked module through the deal steps (tiny Llama, in-process chain)", function () {
  this.timeout(900_000);
  let tmp = "";

  before(async function () {
    tmp = await mkdtemp(path.join(tmpdir(), "zklora-chunked-deal-"));
    await writeTinyLlama(path.join(tmp, "model"), {
      seed: 5,
      hidden: 8,
      heads: 2,
      kvHeads: 2,
      layers: 1,
      intermediate: 16,
      vocab: 64,
      ctx: 32,
    });
    await writeRandomAdapter(path.join(tmp, "model"), path.join(tmp, "adapter"), {
      r: 2,
      alpha: 4,
      targetModules: ["q_proj", "v_proj"],
      seed: 9,
    });
  });
  after(async function () {
    await rm(tmp, { recursive: true, force: true });
  });

  it("Should settle a deal whose q_proj is chunked: background chain, pool re-prove, submitChunked, tampered chain refused", async function () {
    const connection = await network.create();
    const { ethers } = connection;
    const [deployer, contributor, buyer] = await ethers.getSigners();
    const chunkedShape = (await loadChunkedShapes()).find((s) => s.name === CHUNKED);
    if (chunkedShape === undefined) throw new Error(`no ${CHUNKED} in circuits/chunk-shapes.json`);
    await buildCircuit((await loadShapes()).find((s) => s.name === V1)!); // cached
    await buildChunkedCircuits(chunkedShape); // cached
    const { artifacts } = await collectZkloraArtifacts(hre.artifacts, await loadShapes(), {
      only: [V1, CHUNKED],
      chunkedShapes: [{ ...chunkedShape, linkStart: await linkStart(chunkedShape.R) }],
    });
    const deployment = await deployZklora(deployer, artifacts, { network: "hardhat-test" });
    const asContributor = await ZkloraClient.connect(contributor, addressesOf(deployment.record));
    const asBuyer = asContributor.withRunner(buyer);
    const ws = new Workspace(path.join(tmp, "ws"));

    // commit: q_proj chunked on request, v_proj v1 (the default).
    const { manifest } = await commitStep({
      workspace: ws,
      modelDir: path.join(tmp, "model"),
      adapterDir: path.join(tmp, "adapter"),
      rows: 2,
      chunked: ["q_proj"],
    });
    expect(manifest.modules.map((m) => [m.module, m.shape.name, m.chunked])).to.deep.equal([
      ["q_proj", CHUNKED, { WA: 4, WB: 4 }],
      ["v_proj", V1, undefined],
    ]);
    expect(manifest.modules.map((m) => m.shapeId)).to.deep.equal([
      chunkedShapeId(chunkedShape),
      shapeId({ T: 2, DIN: 8, R: 2, DOUT: 8 }),
    ]);
    const secrets = await loadSecrets(ws.secrets, await loadManifest(ws.manifest));
    expect(secrets.modules[0].chunkSalts?.a).to.have.length(2);

    // propose with delivery is refused before any transaction, naming the chunked module.
    const next = (await deployment.escrow.nextDealId()) as bigint;
    const refused = await proposeStep({
      workspace: ws,
      client: asContributor,
      price: 10n ** 17n,
      buyer: buyer.address,
      provingWindow: 3600,
      delivery: true,
    }).catch((e: unknown) => e);
    expect(refused).to.be.instanceOf(ChunkedDeliveryError);
    expect((refused as ChunkedDeliveryError).module).to.equal(0);
    expect((refused as Error).message).to.match(
      /module 0 \(model\.layers\.0\.self_attn\.q_proj\).*chunked shape/,
    );
    expect(await deployment.escrow.nextDealId()).to.equal(next);

    const price = 10n ** 17n;
    const { dealId } = await proposeStep({
      workspace: ws,
      client: asContributor,
      price,
      buyer: buyer.address,
      provingWindow: 3600,
    });
    const onChain = await asContributor.getModules(dealId);
    expect(onChain.map((m) => m.shapeId.toLowerCase())).to.deep.equal(
      manifest.modules.map((m) => m.shapeId.toLowerCase()),
    );

    // serve + infer (2 tokens: one call of T = 2 rows per module), background proofs.
    const served = await startServe({
      workspace: ws,
      signer: contributor,
      client: asContributor,
      provingConcurrency: 1,
      log: () => undefined,
    });
    const model = await loadBaseModel(path.join(tmp, "model"));
    try {
      const { calls } = await inferStep({
        workspace: ws,
        signer: buyer,
        url: served.url,
        model,
        tokens: [1, 5],
      });
      expect(calls).to.equal(2);
      const done = await waitForBackgroundProofs(served.url, { pollMs: 200, progress: false });
      expect(done).to.deep.equal({ done: 2, failed: 0 });
      // The buyer fetches the chunked module's chain and checks it against its own transcript entry.
      const { entries } = await loadBuyerTranscript(ws.buyerTranscript);
      const client = new RemoteLoraClient({ url: served.url, deal: served.deal, signer: buyer });
      client.entries.push(...entries);
      const q = entries.find((e) => e.module === 0)!;
      const chain = await client.fetchProof(0, q.hX);
      expect(chain.proof).to.equal(null);
      expect(chain.chunks?.map((c) => `${c.kind}${c.index}`)).to.deep.equal(["A0", "A1", "B0", "B1"]);
      expect(chain.publicSignals).to.deep.equal([manifest.modules[0].C_m, q.hX, q.rho, q.fY]);
      // A chain with a broken link (A1's Lout rewritten by a man in the middle) is refused by the buyer.
      const proxy = await tamperingProxy(
        served.url,
        (b) => {
          const chunks = structuredClone(b.chunks) as { publicSignals: string[] }[];
          chunks[1].publicSignals[4] = (BigInt(chunks[1].publicSignals[4]) + 1n).toString();
          return { ...b, chunks };
        },
        /\/proofs\/0\//,
      );
      try {
        const viaProxy = new RemoteLoraClient({ url: proxy.url, deal: served.deal, signer: buyer });
        viaProxy.entries.push(...entries);
        const bad = await viaProxy.fetchProof(0, q.hX).catch((e: unknown) => e);
        expect(bad).to.be.instanceOf(ProofCheckError);
        expect((bad as ProofCheckError).code).to.equal("bad_proof");
        expect((bad as Error).message).to.match(/broken link: chunk A1's Lout is not chunk B0's Lin/);
      } finally {
        await proxy.close();
      }
      const v = await client.fetchProof(1, entries.find((e) => e.module === 1)!.hX);
      expect(v.solidity).to.have.keys(["a", "b", "c"]);
    } finally {
      await served.server.close();
      await model.close();
    }

    // A buyer whose manifest says q_proj is v1 (not the deal's on chain) is stopped before paying.
    const transcript = await readFile(ws.buyerTranscript, "utf8");
    const lied = JSON.parse(transcript) as { deal: { manifest: { modules: Record<string, unknown>[] } } };
    delete lied.deal.manifest.modules[0].chunked;
    lied.deal.manifest.modules[0].shapeId = shapeId({ T: 2, DIN: 8, R: 2, DOUT: 8 });
    await writeFile(ws.buyerTranscript, JSON.stringify(lied));
    const notFunded = await fundStep({ workspace: ws, client: asBuyer }).catch((e: unknown) => e);
    expect((notFunded as Error).message).to.match(
      /module 0 .*v1 t2_i8_r2_o8_a4_b4\) in the manifest, 0x[0-9a-f]{64} on chain/,
    );
    expect((await asBuyer.getDeal(dealId)).status).to.equal("Proposed");
    await writeFile(ws.buyerTranscript, transcript);

    await fundStep({ workspace: ws, client: asBuyer });
    const entries = await asContributor.getEntries(dealId);
    expect(entries.map((e) => e.module)).to.deep.equal([0, 1]);

    // prove: the background chain and proof are reused; --fresh proves the chain again in the pool.
    const proved = await proveStep({ workspace: ws, client: asContributor, jobs: 1, progress: false });
    expect(proved.proofs.map((p) => [p.module, p.variant, p.source])).to.deep.equal([
      [0, "chunked", "background"],
      [1, undefined, "background"],
    ]);
    const fresh = await proveStep({
      workspace: ws,
      client: asContributor,
      jobs: 1,
      fresh: true,
      progress: false,
    });
    expect(fresh.proofs.map((p) => p.source)).to.deep.equal(["prove", "prove"]);
    const chained = fresh.proofs[0];
    expect(chained.proof).to.equal(null);
    expect(chained.chunks).to.have.length(4);
    expect(chained.proveSeconds).to.be.greaterThan(0);
    // A fresh chain has fresh link blinds: its A0.Lout differs from the background chain's.
    expect(chained.chunks![0].publicSignals[4]).to.not.equal(proved.proofs[0].chunks![0].publicSignals[4]);

    // submit with a tampered chain: the v1 entry goes through, the chunked one is refused with the decoded error.
    const file = ws.proofFile(0);
    const honest = await readFile(file, "utf8");
    const bad = JSON.parse(honest) as EntryProofFile;
    const c = bad.chunks![2].solidity.c;
    c[1] = (BigInt(c[1]) + 1n).toString();
    await writeFile(file, JSON.stringify(bad));
    const err = await submitStep({ workspace: ws, client: asContributor }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ContractRevertError);
    expect((err as ContractRevertError).revertName).to.equal("InvalidChunkProof");
    expect((err as Error).message).to.match(/proof of B chunk 0 does not verify/);
    expect((await asContributor.getEntries(dealId)).map((e) => e.proven)).to.deep.equal([false, true]);

    // The honest chain: one submitChunked for the remaining entry, then settle pays the contributor.
    await writeFile(file, honest);
    const submitted = await submitStep({ workspace: ws, client: asContributor });
    expect(submitted.txs.map((t) => [t.method, t.entries])).to.deep.equal([["submitChunked", [0]]]);
    expect(submitted.alreadyProven).to.equal(1);
    const before = await ethers.provider.getBalance(contributor.address);
    const settled = await asBuyer.settle(dealId);
    expect((await ethers.provider.getBalance(contributor.address)) - before).to.equal(price);
    expect(settled.gasUsed).to.be.greaterThan(0n);
    expect((await asContributor.getDeal(dealId)).status).to.equal("Settled");
  });

  it("Should commit through zklora:commit with --chunked (every module) and refuse --chunked with --chunked-modules", async function () {
    const args = {
      workspace: path.join(tmp, "ws-task"),
      model: path.join(tmp, "model"),
      adapter: path.join(tmp, "adapter"),
      rows: "",
    };
    await hre.tasks.getTask("zklora:commit").run({ ...args, chunked: true, chunkedModules: "" });
    const manifest = await loadManifest(path.join(tmp, "ws-task", "manifest.json"));
    expect(manifest.modules.map((m) => m.shape.name)).to.deep.equal([CHUNKED, CHUNKED]);
    const err = await hre.tasks
      .getTask("zklora:commit")
      .run({ ...args, chunked: true, chunkedModules: "q_proj" })
      .catch((e: unknown) => e);
    expect((err as { pluginId?: string }).pluginId).to.equal("zklora");
    expect((err as Error).message).to.match(/either --chunked \(every module\) or --chunked-modules LIST/);
    const unknown = await hre.tasks
      .getTask("zklora:commit")
      .run({ ...args, chunkedModules: "k_proj" })
      .catch((e: unknown) => e);
    expect((unknown as Error).message).to.match(/--chunked names k_proj, which match no module/);
  });
});
