/**
 * The multi-party forward, protocol v2: a tiny Llama (hidden 8, two layers) with a rank-2 LoRA on
 * q_proj (two modules of shape v2_i8_r2_o8), committed from its PEFT files, served by the
 * contributor's server from the saved manifest and secrets, run by the buyer through
 * RemoteLoraClient's hook. The remote forward equals the local forward with the quantized adapter
 * applied (bit for bit) and the float adapter within fixed-point tolerance; the adapter moves the
 * logits far more than that; the row budget stops a forward beyond it.
 */
import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  crossEntropy,
  floatLoraHook,
  loadBaseModel,
  mergeAdapter,
  writeRandomAdapter,
  writeTinyLlama,
} from "../../src/model/index.js";
import type { BaseModel, LoraHook, PeftAdapter } from "../../src/model/index.js";
import {
  ContributorServer,
  RemoteError,
  RemoteLoraClient,
  commitAdapter,
  evaluate,
  loadManifest,
  loadSecrets,
  readCallLog,
  readServerCalls,
  rowsOf,
  saveCommit,
} from "../../src/mpi/index.js";
import type { CommitManifest, CommitSecrets, DealContext } from "../../src/mpi/index.js";
import { loraProduct, quantize } from "../../src/zk/index.js";
import { buildShapeKey } from "../../src/zk/v2/index.js";
import { maxAbsDiff } from "../model/helpers.js";
import { CONTEXT, buyer, contributor, rejection } from "./fixtures.js";

/**
 * Tolerance of the remote (fixed-point) forward against the float LoRA forward, on logits:
 * quantizing x (2^-10), A and B (2^-12) perturbs each delta by about 1e-3 relative; on this model
 * the difference measured 4e-4. The adapter itself moves the logits by more than 20 times
 * the tolerance.
 */
const LOGIT_TOLERANCE = 0.02;

/** The buyer's forward done locally with the contributor's quantized weights: what the server computes. */
function quantizedLoraHook(manifest: CommitManifest, secrets: CommitSecrets): LoraHook {
  return (target, x, T) => {
    const mod = manifest.modules.find((m) => m.target === target.name)!;
    const { DIN, DOUT } = mod;
    const X = Array.from({ length: T }, (_, t) =>
      Array.from({ length: DIN }, (_, i) => quantize(x[t * DIN + i], mod.scales.fx)),
    );
    const s = secrets.modules[mod.index];
    const Y = loraProduct(X, s.A, s.B);
    const scale = mod.scaling / 2 ** (mod.scales.fx + mod.scales.fa + mod.scales.fb);
    const delta = new Float32Array(T * DOUT);
    for (let t = 0; t < T; t++) for (let j = 0; j < DOUT; j++) delta[t * DOUT + j] = Number(Y[t][j]) * scale;
    return Promise.resolve(delta);
  };
}

describe("# mpi v2 multi-party forward (tiny Llama, LoRA r=2 on q_proj, shape v2_i8_r2_o8)", function () {
  let dir: string;
  let model: BaseModel;
  let merged: BaseModel;
  let adapter: PeftAdapter;
  let manifest: CommitManifest;
  let secrets: CommitSecrets;
  let deal: DealContext;
  let server: ContributorServer;
  let url: string;
  const tokens = [1, 5, 9, 14, 20];

  before(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), "zklora-mpi-fwd-"));
    const base = path.join(dir, "base");
    await writeTinyLlama(base, { hidden: 8, heads: 2, kvHeads: 1, intermediate: 12, vocab: 31, layers: 2 });
    adapter = await writeRandomAdapter(base, path.join(dir, "adapter"), {
      r: 2,
      alpha: 4,
      targetModules: ["q_proj"],
      seed: 4,
    });
    model = await loadBaseModel(base);
    await mergeAdapter(base, adapter, path.join(dir, "merged"));
    merged = await loadBaseModel(path.join(dir, "merged"));
    const commit = await commitAdapter({
      model,
      adapter,
      context: CONTEXT,
      shapeKey: (s) => buildShapeKey(s),
    });
    const files = { manifest: path.join(dir, "manifest.json"), secrets: path.join(dir, "secrets.json") };
    await saveCommit(files, commit);
    // the contributor serves from its files, the buyer reads the public manifest
    manifest = await loadManifest(files.manifest);
    secrets = await loadSecrets(files.secrets, manifest);
    deal = { ...CONTEXT, dealId: 5n, buyer: buyer.address, contributor: contributor.address, manifest };
    server = new ContributorServer({
      signer: contributor,
      database: path.join(dir, "server.sqlite"),
      rowBudget: 12,
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

  it("Should commit both q_proj modules of the model in canonical order with its hashes", function () {
    expect(manifest.modules.map((m) => m.target)).to.deep.equal(model.targets(["q_proj"]).map((t) => t.name));
    expect(manifest.modules.map((m) => m.shape.name)).to.deep.equal(["v2_i8_r2_o8", "v2_i8_r2_o8"]);
    expect(manifest.baseModel.sha256).to.equal(model.sha256);
    expect(manifest.modules.every((m) => m.scaling === 2)).to.equal(true);
  });

  it("Should equal the local quantized forward exactly, the float and merged adapters within tolerance", async function () {
    const client = new RemoteLoraClient({ url, deal, signer: buyer, logFile: path.join(dir, "buyer.jsonl") });
    const targets = model.targets(["q_proj"]);
    const remote = await model.forward(tokens, { targets, hook: client.hook });
    const local = await model.forward(tokens, { targets, hook: quantizedLoraHook(manifest, secrets) });
    const float = await model.forward(tokens, { targets, hook: floatLoraHook(adapter) });
    const mergedOut = await merged.forward(tokens);
    const base = await model.forward(tokens);
    expect(maxAbsDiff(remote.logits, local.logits), "remote vs local quantized LoRA").to.equal(0);
    expect(maxAbsDiff(remote.logits, float.logits), "remote vs float LoRA").to.be.lessThan(LOGIT_TOLERANCE);
    expect(maxAbsDiff(remote.logits, mergedOut.logits), "remote vs merged weights").to.be.lessThan(
      LOGIT_TOLERANCE,
    );
    expect(maxAbsDiff(remote.logits, base.logits), "the adapter must change the logits").to.be.greaterThan(
      20 * LOGIT_TOLERANCE,
    );
    // one call per module with all T = 5 rows, checked and recorded on both sides
    expect(client.records.map((r) => [r.module, r.rows, r.seq])).to.deep.equal([
      [0, 5, 0],
      [1, 5, 0],
    ]);
    await client.close();
    const serverLog = await readServerCalls(path.join(dir, "server.sqlite"));
    for (const m of [0, 1]) expect(rowsOf(client.records, deal, m)).to.deep.equal(rowsOf(serverLog, deal, m));
    expect(await readCallLog(path.join(dir, "buyer.jsonl"))).to.deep.equal(client.records);
    expect(client.stats.calls).to.equal(2);
  });

  it("Should report loss and perplexity with and without the adapter, then stop at the row budget", async function () {
    const client = new RemoteLoraClient({ url, deal, signer: buyer });
    const report = await evaluate(model, tokens, client);
    const base = await model.forward(tokens);
    const b = crossEntropy(base.logits, base.T, model.vocabSize, tokens);
    expect(report.base.loss).to.equal(b.loss);
    const targets = model.targets(["q_proj"]);
    const local = await model.forward(tokens, { targets, hook: quantizedLoraHook(manifest, secrets) });
    const a = crossEntropy(local.logits, local.T, model.vocabSize, tokens);
    expect(report.adapted.loss).to.equal(a.loss);
    // (hardhat's chai matchers read closeTo's arguments as integers: compare by hand)
    expect(Math.abs(report.adapted.perplexity - Math.exp(report.adapted.loss)) < 1e-9).to.equal(true);
    expect(report.lossDelta).to.not.equal(0);
    expect(report.calls).to.equal(2);
    // 10 of the 12 rows per module are used: a third forward of 5 tokens is refused
    expect(server.rowsUsed(manifest.modules[0])).to.equal(10);
    const err = await rejection(model.forward(tokens, { targets, hook: client.hook }));
    expect(err).to.be.instanceOf(RemoteError);
    expect([(err as RemoteError).status, (err as RemoteError).code]).to.deep.equal([
      429,
      "row_budget_exhausted",
    ]);
    // two rows still fit
    expect((await model.forward(tokens.slice(0, 2), { targets, hook: client.hook })).T).to.equal(2);
  });
});
