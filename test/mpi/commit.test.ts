import { expect } from "chai";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { floatLoraHook, loadBaseModel, writeRandomAdapter, writeTinyLlama } from "../../src/model/index.js";
import type { BaseModel, PeftAdapter } from "../../src/model/index.js";
import {
  chooseShape,
  commitAdapter,
  CommitError,
  ContributorServer,
  FileFormatError,
  loadDealContext,
  loadManifest,
  loadSecrets,
  RemoteLoraClient,
  saveCommit,
  saveDealContext,
} from "../../src/mpi/index.js";
import type { CommitResult } from "../../src/mpi/index.js";
import { loadShapes } from "../../src/zk/index.js";
import { buyer, contributor, dealOf } from "./fixtures.js";

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a rejection");
}

describe("# mpi commit step (tiny Llama fixture, LoRA r=2 on q_proj: shape t2_i8_r2_o8)", function () {
  let dir: string;
  let model: BaseModel;
  let adapter: PeftAdapter;
  let commit: CommitResult;

  before(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), "zklora-mpi-commit-"));
    await writeTinyLlama(path.join(dir, "base"), {
      hidden: 8,
      heads: 2,
      kvHeads: 1,
      intermediate: 12,
      vocab: 31,
      layers: 2,
    });
    adapter = await writeRandomAdapter(path.join(dir, "base"), path.join(dir, "adapter"), {
      r: 2,
      alpha: 4,
      targetModules: ["q_proj"],
      seed: 4,
    });
    model = await loadBaseModel(path.join(dir, "base"));
    commit = await commitAdapter({ model, adapter });
  });

  after(async function () {
    await model?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("Should pick circuit shapes by DIN, R, DOUT (and T when asked) and say what to add otherwise", async function () {
    const shapes = await loadShapes();
    expect(chooseShape(shapes, 8, 2, 8).name).to.equal("t2_i8_r2_o8");
    expect(chooseShape(shapes, 64, 4, 32).name).to.equal("stories260k_v_t8_r4");
    expect(chooseShape(shapes, 64, 4, 64, 8).T).to.equal(8);
    expect(() => chooseShape(shapes, 64, 4, 64, 16)).to.throw(CommitError, /T=16/);
    expect(() => chooseShape(shapes, 8, 3, 8)).to.throw(CommitError, /add one to circuits\/shapes.json/);
  });

  it("Should commit the modules in canonical order and write public and private files", async function () {
    expect(commit.manifest.modules.map((m) => m.target)).to.deep.equal([
      "model.layers.0.self_attn.q_proj",
      "model.layers.1.self_attn.q_proj",
    ]);
    expect(commit.manifest.modules.every((m) => m.shape.name === "t2_i8_r2_o8")).to.equal(true);
    const files = { manifest: path.join(dir, "manifest.json"), secrets: path.join(dir, "secrets.json") };
    await saveCommit(files, commit);
    expect((await stat(files.secrets)).mode & 0o777).to.equal(0o600);
    const manifestText = await readFile(files.manifest, "utf8");
    // the public manifest holds no weights and no salt
    expect(manifestText).to.not.match(/"salt"|"A"|"B"/);
    const manifest = await loadManifest(files.manifest);
    expect(manifest).to.deep.equal(commit.manifest);
    const secrets = await loadSecrets(files.secrets, manifest);
    expect(secrets).to.deep.equal(commit.secrets);
    // a secrets file that does not fit its manifest is refused with the place to fix
    const raw = JSON.parse(await readFile(files.secrets, "utf8")) as { modules: { A: string[][] }[] };
    raw.modules[1].A[3] = raw.modules[1].A[3].slice(1);
    await writeFile(path.join(dir, "bad.json"), JSON.stringify(raw));
    const err = await rejection(loadSecrets(path.join(dir, "bad.json"), manifest));
    expect(err).to.be.instanceOf(FileFormatError);
    expect(err.message).to.match(/modules\[1\]\.A\[3\]/);
  });

  it("Should round-trip a deal manifest file", async function () {
    const deal = dealOf(commit, 77n);
    await saveDealContext(path.join(dir, "deal.json"), deal);
    expect(await loadDealContext(path.join(dir, "deal.json"))).to.deep.equal(deal);
  });

  it("Should refuse adapters that do not fit the model or any shape", async function () {
    const missing = { ...adapter, modules: adapter.modules.slice(1) };
    expect(await rejection(commitAdapter({ model, adapter: missing }))).to.be.instanceOf(CommitError);
    const noShape = await rejection(commitAdapter({ model, adapter, shapes: [], chunkedShapes: [] }));
    expect((noShape as CommitError).code).to.equal("no_shape");
    // With no v1 shape but a chunked shape of the module's dims, the module falls back to the chunked variant.
    const fallback = await commitAdapter({ model, adapter, shapes: [] });
    expect(fallback.manifest.modules.every((m) => m.chunked?.WA === 4 && m.chunked.WB === 4)).to.equal(true);
  });

  it("Should run the multi-party forward on the tiny Llama (T=2 rows per call) and match the float LoRA", async function () {
    const deal = dealOf(commit, 78n);
    const server = new ContributorServer({ signer: contributor, rowBudget: 16, proving: { enabled: false } });
    await server.addDeal(deal, commit.secrets);
    const { url } = await server.listen();
    try {
      const client = new RemoteLoraClient({ url, deal, signer: buyer });
      const tokens = [1, 5, 9, 14, 20];
      const targets = model.targets(["q_proj"]);
      const remote = await model.forward(tokens, { targets, hook: client.hook });
      const float = await model.forward(tokens, { targets, hook: floatLoraHook(adapter) });
      const base = await model.forward(tokens);
      let dFloat = 0;
      let dBase = 0;
      for (let i = 0; i < remote.logits.length; i++) {
        dFloat = Math.max(dFloat, Math.abs(remote.logits[i] - float.logits[i]));
        dBase = Math.max(dBase, Math.abs(remote.logits[i] - base.logits[i]));
      }
      expect(dFloat).to.be.lessThan(0.02);
      expect(dBase).to.be.greaterThan(0.2);
      // 5 rows in chunks of T = 2: 3 calls per module, the last one padded
      expect(client.entries.map((e) => e.rows)).to.deep.equal([2, 2, 1, 2, 2, 1]);
    } finally {
      await server.close();
    }
  });
});
