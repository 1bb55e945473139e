/**
 * Commit step, protocol v2 (PROTOCOL.md "Commitments", flow step 1): the manifest layout, W_m
 * opened by the secrets, every proof of knowledge valid in its context only, the CommitError
 * codes, and the manifest / secrets / deal files. Real shape key of the tiny shape.
 */
import { expect } from "chai";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { sha256File } from "../../src/common/cache.js";
import type { PeftAdapter } from "../../src/model/index.js";
import {
  CommitError,
  FileFormatError,
  commitAdapter,
  loadDealContext,
  loadManifest,
  loadSecrets,
  moduleW,
  modulePok,
  parseManifest,
  saveCommit,
  saveDealContext,
  v2ShapeOf,
} from "../../src/mpi/index.js";
import type { CommitResult } from "../../src/mpi/index.js";
import { P } from "../../src/zk/index.js";
import {
  buildShapeKey,
  checkWeightPok,
  v2ShapeId,
  weightCommitmentV2,
  weightCount,
  type ShapeKey,
} from "../../src/zk/v2/index.js";
import {
  CONTEXT,
  OTHER_ESCROW,
  STAND_IN_TARGETS,
  TINY,
  dealOf,
  rejection,
  standInAdapter,
  standInModel,
  stranger,
  tinyCommit,
  tinyKey,
} from "./fixtures.js";

describe("# mpi v2 commit step (stand-in model, two modules of shape v2_i8_r2_o8)", function () {
  let dir: string;
  let key: ShapeKey;
  let commit: CommitResult;

  before(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), "zklora-mpi-commit-"));
    key = await tinyKey();
    commit = await tinyCommit();
  });

  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it("Should write a version-2 manifest: context, base model hashes, per module shape, scales, W_m and PoK", async function () {
    const m = commit.manifest;
    expect(m.version).to.equal(2);
    expect(m.context).to.deep.equal({
      chainId: CONTEXT.chainId.toString(),
      escrow: CONTEXT.escrow,
      contributor: CONTEXT.contributor,
    });
    expect(m.baseModel).to.deep.equal({
      sha256: "stand-in",
      configSha256: await sha256File(path.join(standInModel.dir, "config.json")),
    });
    expect(m.adapter).to.deep.equal({ r: 2, lora_alpha: 4, target_modules: ["q_proj", "v_proj"] });
    expect(m.modules.map((x) => x.target)).to.deep.equal(STAND_IN_TARGETS);
    for (const [i, mod] of m.modules.entries()) {
      expect(mod.index).to.equal(i);
      expect(mod.module).to.equal(i === 0 ? "q_proj" : "v_proj");
      expect(v2ShapeOf(mod)).to.deep.equal(TINY);
      expect(mod.shape).to.deep.equal({
        name: "v2_i8_r2_o8",
        ...TINY,
        shapeId: v2ShapeId(TINY),
        ptau: "dev",
      });
      expect(mod.shape.shapeId).to.equal(key.shapeId);
      expect(mod.scales).to.deep.equal({ fx: 10, fa: 12, fb: 12 });
      expect(mod.scaling).to.equal(2);
      expect(mod.W.every((c) => /^[0-9]+$/.test(c))).to.equal(true);
      expect(mod.pok.z).to.have.length(weightCount(TINY) + 1);
    }
    // the layout check accepts it as it is
    expect(parseManifest(JSON.parse(JSON.stringify(m)))).to.deep.equal(m);
  });

  it("Should make every W_m open to the secrets (quantized A, B and a uniform salt) and to nothing else", async function () {
    for (const mod of commit.manifest.modules) {
      const s = commit.secrets.modules[mod.index];
      expect(s.target).to.equal(mod.target);
      expect(s.A).to.have.length(TINY.DIN);
      expect(s.B).to.have.length(TINY.R);
      expect(s.salt > 0n && s.salt < P).to.equal(true);
      expect(await weightCommitmentV2(key, s)).to.deep.equal(moduleW(mod));
      // cheat: another salt or one weight changed gives another W_m
      expect(await weightCommitmentV2(key, { ...s, salt: (s.salt + 1n) % P })).to.not.deep.equal(
        moduleW(mod),
      );
      const A = s.A.map((r) => [...r]);
      A[1][0] += 1n;
      expect(await weightCommitmentV2(key, { ...s, A })).to.not.deep.equal(moduleW(mod));
    }
    // salts are fresh: the same adapter committed again gives other W_m (hiding)
    const again = await tinyCommit();
    expect(again.manifest.modules[0].W).to.not.deep.equal(commit.manifest.modules[0].W);
    expect(again.secrets.modules[0].A).to.deep.equal(commit.secrets.modules[0].A);
  });

  it("Should give every module a PoK that verifies in its context and fails for another escrow, contributor or module index", async function () {
    for (const mod of commit.manifest.modules) {
      const W = moduleW(mod);
      const pok = modulePok(mod);
      const ctx = { ...CONTEXT, module: mod.index };
      expect(await checkWeightPok(key, W, pok, ctx)).to.deep.equal({ ok: true });
      for (const other of [
        { ...ctx, escrow: OTHER_ESCROW },
        { ...ctx, contributor: stranger.address },
        { ...ctx, module: 1 - mod.index },
        { ...ctx, chainId: 1n },
      ]) {
        const r = await checkWeightPok(key, W, pok, other);
        expect(
          r.ok,
          JSON.stringify(other, (_, v: unknown) => (typeof v === "bigint" ? String(v) : v)),
        ).to.equal(false);
      }
      // a proof moved to another module's W_m does not verify either
      const otherW = moduleW(commit.manifest.modules[1 - mod.index]);
      expect((await checkWeightPok(key, otherW, pok, ctx)).ok).to.equal(false);
    }
  });

  it("Should refuse adapters that do not fit the base model with CommitError codes", async function () {
    const adapter = standInAdapter();
    const code = async (a: PeftAdapter) => {
      const err = await rejection(tinyCommit(7, { adapter: a }));
      expect(err).to.be.instanceOf(CommitError);
      return { code: (err as CommitError).code, message: err.message };
    };
    // a module the base model has but the adapter has not
    const missing = await code({ ...adapter, modules: adapter.modules.slice(1) });
    expect(missing.code).to.equal("missing_module");
    expect(missing.message).to.contain("q_proj");
    // an adapter module of other dimensions than its base layer
    const narrow = {
      ...adapter.modules[1],
      DIN: 4,
      loraA: adapter.modules[1].loraA.subarray(0, 2 * 4),
    };
    const dims = await code({ ...adapter, modules: [adapter.modules[0], narrow] });
    expect(dims.code).to.equal("dim_mismatch");
    expect(dims.message).to.match(/v_proj: adapter is 4 -> 8, base layer is 8 -> 8/);
    // an adapter module the base model has no layer for
    const stray = { ...adapter.modules[0], name: "model.layers.9.self_attn.q_proj" };
    const extra = await code({ ...adapter, modules: [...adapter.modules, stray] });
    expect(extra.code).to.equal("extra_module");
    // no target at all
    const none = await rejection(
      commitAdapter({
        model: { ...standInModel, targets: () => [] },
        adapter,
        context: CONTEXT,
        shapeKey: (s) => buildShapeKey(s),
      }),
    );
    expect((none as CommitError).code).to.equal("no_targets");
  });

  it("Should refuse a version-1 (or otherwise malformed) manifest with a clear message", async function () {
    const v1 = { ...JSON.parse(JSON.stringify(commit.manifest)), version: 1 } as unknown;
    expect(() => parseManifest(v1)).to.throw(
      FileFormatError,
      /version must be 2 \(protocol v2\), got 1.*commit the adapter again/,
    );
    const raw = () =>
      JSON.parse(JSON.stringify(commit.manifest)) as Record<string, unknown> & {
        modules: Record<string, unknown>[];
      };
    const noPok = raw();
    delete noPok.modules[1].pok;
    expect(() => parseManifest(noPok)).to.throw(FileFormatError, /modules\[1\]: missing field "pok"/);
    const shortPok = raw();
    (shortPok.modules[0].pok as { z: string[] }).z.pop();
    expect(() => parseManifest(shortPok)).to.throw(FileFormatError, /pok\.z must hold N \+ 1 = 33/);
    const wrongId = raw();
    (wrongId.modules[0].shape as { shapeId: string }).shapeId = v2ShapeId({ DIN: 8, R: 2, DOUT: 6 });
    expect(() => parseManifest(wrongId)).to.throw(FileFormatError, /shapeId is not the id of v2_i8_r2_o8/);
    const dims = raw();
    dims.modules[0].DOUT = 6;
    expect(() => parseManifest(dims)).to.throw(FileFormatError, /DOUT differs from its shape/);
    const index = raw();
    index.modules[1].index = 0;
    expect(() => parseManifest(index)).to.throw(FileFormatError, /modules\[1\]\.index must be 1/);
  });

  it("Should save and load the public manifest, the private secrets (0600) and a deal file", async function () {
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
    const bad = JSON.parse(await readFile(files.secrets, "utf8")) as { modules: { A: string[][] }[] };
    bad.modules[1].A[3] = bad.modules[1].A[3].slice(1);
    await writeFile(path.join(dir, "bad.json"), JSON.stringify(bad));
    const err = await rejection(loadSecrets(path.join(dir, "bad.json"), manifest));
    expect(err).to.be.instanceOf(FileFormatError);
    expect(err.message).to.match(/modules\[1\]\.A\[3\] must have 2 entries/);
    // a deal file round-trips
    const deal = dealOf(commit, 77n);
    await saveDealContext(path.join(dir, "deal.json"), deal);
    expect(await loadDealContext(path.join(dir, "deal.json"))).to.deep.equal(deal);
  });
});
