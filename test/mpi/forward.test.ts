import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  crossEntropy,
  floatLoraHook,
  loadBaseModel,
  mergeAdapter,
  STORIES260K_DIR,
  writeRandomAdapter,
} from "../../src/model/index.js";
import type { BaseModel, PeftAdapter } from "../../src/model/index.js";
import {
  commitAdapter,
  ContributorServer,
  evaluate,
  loadBuyerTranscript,
  loadManifest,
  loadSecrets,
  RemoteError,
  RemoteLoraClient,
  saveCommit,
} from "../../src/mpi/index.js";
import type { CommitResult, DealContext } from "../../src/mpi/index.js";
import { shapeId, weightCommitment } from "../../src/zk/index.js";
import { buyer, CHAIN_ID, contributor, ESCROW } from "./fixtures.js";

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).to.equal(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/**
 * Tolerance of the multi-party forward against the float forward, on logits: quantization of x
 * (2^-10), A and B (2^-12) perturbs each delta by a few 1e-3 relative; through five layers this
 * adapter's logits (max |logit| about 13) moved by 0.039 at most when measured. The tolerance is
 * 0.1 absolute (under 1% of the largest logit); the adapter itself moves the logits by > 2.
 */
const LOGIT_TOLERANCE = 0.1;

describe("# mpi multi-party forward on stories260k (LoRA r=4 on q_proj/v_proj, T=8 rows per call)", function () {
  let dir: string;
  let model: BaseModel;
  let merged: BaseModel;
  let adapter: PeftAdapter;
  let commit: CommitResult;
  let deal: DealContext;
  let server: ContributorServer;
  let url: string;
  // 12 tokens: two calls per module (8 + 4 rows), 12 of the default 16-row budget (DIN 64 / 4)
  const tokens = [1, 403, 261, 378, 285, 263, 332, 267, 406, 262, 290, 284];

  before(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), "zklora-mpi-fwd-"));
    adapter = await writeRandomAdapter(STORIES260K_DIR, path.join(dir, "adapter"), {
      r: 4,
      alpha: 8,
      targetModules: ["q_proj", "v_proj"],
      seed: 11,
      scale: 0.5,
    });
    model = await loadBaseModel(STORIES260K_DIR);
    await mergeAdapter(STORIES260K_DIR, adapter, path.join(dir, "merged"));
    merged = await loadBaseModel(path.join(dir, "merged"));
    commit = await commitAdapter({ model, adapter });
    await saveCommit(
      { manifest: path.join(dir, "manifest.json"), secrets: path.join(dir, "secrets.json") },
      commit,
    );
    // the server runs from the files, as a contributor would
    const manifest = await loadManifest(path.join(dir, "manifest.json"));
    const secrets = await loadSecrets(path.join(dir, "secrets.json"), manifest);
    deal = {
      chainId: CHAIN_ID,
      escrow: ESCROW,
      dealId: 7n,
      buyer: buyer.address,
      contributor: contributor.address,
      manifest,
    };
    server = new ContributorServer({
      signer: contributor,
      proving: { enabled: false },
      transcriptFile: path.join(dir, "server.json"),
    });
    await server.addDeal(deal, secrets);
    ({ url } = await server.listen());
  });

  after(async function () {
    await server?.close();
    await model?.close();
    await merged?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("Should commit every module in canonical order with the stories260k shapes", async function () {
    const m = commit.manifest;
    expect(m.baseModel.sha256).to.equal(model.sha256);
    expect(m.modules.map((x) => x.target)).to.deep.equal(
      model.targets(["q_proj", "v_proj"]).map((t) => t.name),
    );
    for (const mod of m.modules) {
      expect(mod.shape.name).to.equal(
        mod.module === "q_proj" ? "stories260k_q_t8_r4" : "stories260k_v_t8_r4",
      );
      expect(mod.shapeId).to.equal(shapeId(mod.shape));
      expect(mod.scales).to.deep.equal({ fx: 10, fa: 12, fb: 12 });
      expect(mod.scaling).to.equal(2);
      const s = commit.secrets.modules[mod.index];
      expect((await weightCommitment(s.A, s.B, s.salt)).toString()).to.equal(mod.C_m);
    }
    // salts are random: two commits of the same adapter differ
    const again = await commitAdapter({ model, adapter });
    expect(again.manifest.modules[0].C_m).to.not.equal(m.modules[0].C_m);
  });

  it("Should match the float LoRA forward and the merged model, and the adapter changes the logits", async function () {
    const file = path.join(dir, "buyer.json");
    const client = new RemoteLoraClient({ url, deal, signer: buyer, transcriptFile: file });
    const targets = model.targets(["q_proj", "v_proj"]);
    const remote = await model.forward(tokens, { targets, hook: client.hook });
    const float = await model.forward(tokens, { targets, hook: floatLoraHook(adapter) });
    const mergedOut = await merged.forward(tokens);
    const base = await model.forward(tokens);
    const dFloat = maxAbsDiff(remote.logits, float.logits);
    const dMerged = maxAbsDiff(remote.logits, mergedOut.logits);
    const dBase = maxAbsDiff(remote.logits, base.logits);
    expect(dFloat, "remote vs float hook").to.be.lessThan(LOGIT_TOLERANCE);
    expect(dMerged, "remote vs merged weights").to.be.lessThan(LOGIT_TOLERANCE);
    expect(dBase, "the adapter must change the logits").to.be.greaterThan(20 * LOGIT_TOLERANCE);
    // two calls per module (8 + 4 rows), every one checked and recorded
    expect(client.entries).to.have.length(20);
    expect(client.entries.map((e) => e.rows)).to.deep.equal(Array.from({ length: 10 }, () => [8, 4]).flat());
    await client.flush();
    const t = await loadBuyerTranscript(file);
    expect(t.entries).to.deep.equal(client.entries);
    expect(server.entries()).to.have.length(20);
    expect(server.rowsUsed(deal.dealId, 0)).to.equal(12);
    // a second forward of 12 tokens would exceed the 16-row budget: the server refuses it
    let refused: unknown;
    try {
      await model.forward(tokens, { targets, hook: client.hook });
    } catch (err) {
      refused = err;
    }
    expect(refused).to.be.instanceOf(RemoteError);
    expect((refused as RemoteError).status).to.equal(429);
  });

  it("Should report loss and perplexity with and without the adapter", async function () {
    const s2 = new ContributorServer({ signer: contributor, proving: { enabled: false } });
    const d2 = { ...deal, dealId: 8n };
    await s2.addDeal(d2, commit.secrets);
    const u2 = (await s2.listen()).url;
    try {
      const client = new RemoteLoraClient({ url: u2, deal: d2, signer: buyer });
      const report = await evaluate(model, tokens, client);
      const base = await model.forward(tokens);
      const b = crossEntropy(base.logits, base.T, model.vocabSize, tokens);
      expect(Math.abs(report.base.loss - b.loss)).to.be.at.most(1e-9);
      const m = await merged.forward(tokens);
      const a = crossEntropy(m.logits, m.T, model.vocabSize, tokens);
      expect(Math.abs(report.adapted.loss - a.loss)).to.be.at.most(1e-2);
      expect(Math.abs(report.adapted.perplexity - Math.exp(report.adapted.loss))).to.be.at.most(1e-9);
      expect(report.lossDelta).to.not.equal(0);
      expect(report.calls).to.equal(20);
    } finally {
      await s2.close();
    }
  });
});
