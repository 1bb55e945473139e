/**
 * The chunked variant in src/mpi (issue #5), without a chain: committing a module to a chunked shape
 * (on request or as the fallback when no v1 shape fits), the manifest and secrets formats (v1 modules
 * unchanged), and the server's and the buyer's hX of the module's variant, with the server refusing a
 * buyer that hashed X for the other variant. Tiny shapes only; no proofs (proving is disabled).
 */
import { expect } from "chai";
import {
  CommitError,
  ContributorServer,
  FileFormatError,
  MpiError,
  RemoteError,
  RemoteLoraClient,
  parseManifest,
  parseSecrets,
  secretsToJson,
  type CommitOptions,
  type CommitResult,
} from "../../src/mpi/index.js";
import {
  activationHash,
  chunkedActivationHash,
  chunkedCommitment,
  chunkedShapeId,
  loadChunkedShapes,
  shapeId,
  weightCommitment,
  type ChunkedShape,
} from "../../src/zk/index.js";
import { buyer, contributor, dealOf, TINY, tinyCommit } from "./fixtures.js";

const TINY_CHUNKED: ChunkedShape = { name: "t2_i8_r2_o8_a4_b4", T: 2, DIN: 8, R: 2, DOUT: 8, WA: 4, WB: 4 };

/** `tinyCommit` with the tiny chunked shape available; `opts` go to commitAdapter. */
function commitTiny(opts: Partial<CommitOptions> = {}, seed = 3): Promise<CommitResult> {
  return tinyCommit(seed, { chunkedShapes: [TINY_CHUNKED], ...opts });
}

describe("# mpi chunked modules: commit", function () {
  it("Should list the committed tiny chunked shape (the one these tests use)", async function () {
    expect(await loadChunkedShapes()).to.deep.include(TINY_CHUNKED);
  });

  it("Should commit the named module to the chunked shape and keep the other v1, byte for byte", async function () {
    const { manifest, secrets } = await commitTiny({ chunked: ["q_proj"] });
    const [q, v] = manifest.modules;
    expect(q.chunked).to.deep.equal({ WA: 4, WB: 4 });
    expect(q.shape).to.deep.equal({ name: TINY_CHUNKED.name, T: 2, DIN: 8, R: 2, DOUT: 8 });
    expect(q.shapeId).to.equal(chunkedShapeId(TINY_CHUNKED));
    const sq = secrets.modules[0];
    expect(sq.chunkSalts?.a).to.have.length(2);
    expect(sq.chunkSalts?.b).to.have.length(2);
    expect(q.C_m).to.equal(
      (await chunkedCommitment(sq.A, sq.B, sq.chunkSalts!, TINY_CHUNKED)).C_m.toString(),
    );
    // The v1 module: no new field, the v1 shape id and commitment, and the v1 key order.
    expect(Object.keys(v)).to.deep.equal([
      "index",
      "target",
      "layer",
      "module",
      "DIN",
      "R",
      "DOUT",
      "shape",
      "shapeId",
      "scales",
      "scaling",
      "C_m",
    ]);
    expect(v.shapeId).to.equal(shapeId(TINY));
    const sv = secrets.modules[1];
    expect(sv.chunkSalts).to.equal(undefined);
    expect(v.C_m).to.equal((await weightCommitment(sv.A, sv.B, sv.salt)).toString());
    // JSON round trips: the chunked module's secrets carry chunk salts instead of a salt.
    const json = secretsToJson(secrets) as { modules: Record<string, unknown>[] };
    expect(Object.keys(json.modules[0])).to.deep.equal(["index", "target", "chunkSalts", "A", "B"]);
    expect(Object.keys(json.modules[1])).to.deep.equal(["index", "target", "salt", "A", "B"]);
    const back = parseSecrets(
      JSON.parse(JSON.stringify(json)),
      parseManifest(JSON.parse(JSON.stringify(manifest))),
    );
    expect(back).to.deep.equal(secrets);
  });

  it("Should commit every module chunked with 'all', and fall back to a chunked shape when no v1 shape fits", async function () {
    const all = await commitTiny({ chunked: "all" });
    expect(all.manifest.modules.map((m) => m.chunked)).to.deep.equal([
      { WA: 4, WB: 4 },
      { WA: 4, WB: 4 },
    ]);
    const fallback = await commitTiny({ shapes: [{ ...TINY, name: "other", DIN: 16 }] });
    expect(fallback.manifest.modules.map((m) => m.shape.name)).to.deep.equal([
      TINY_CHUNKED.name,
      TINY_CHUNKED.name,
    ]);
    // By default (a v1 shape fits) nothing is chunked.
    const plain = await commitTiny();
    expect(plain.manifest.modules.every((m) => m.chunked === undefined)).to.equal(true);
  });

  it("Should refuse dims no shape of either variant fits, and --chunked names that match no module", async function () {
    const err = await commitTiny({ shapes: [], chunkedShapes: [] }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(CommitError);
    expect((err as CommitError).code).to.equal("no_shape");
    const asked = await commitTiny({ chunked: "all", chunkedShapes: [{ ...TINY_CHUNKED, DIN: 16 }] }).catch(
      (e: unknown) => e,
    );
    expect(asked).to.be.instanceOf(CommitError);
    expect((asked as CommitError).code).to.equal("no_chunked_shape");
    expect((asked as Error).message).to.match(/circuits\/chunk-shapes\.json/);
    const unknown = await commitTiny({ chunked: ["k_proj"] }).catch((e: unknown) => e);
    expect(unknown).to.be.instanceOf(CommitError);
    expect((unknown as Error).message).to.match(/k_proj, which match no module/);
  });

  it("Should reject a manifest whose chunked module has another shape id or widths that do not divide the dims", async function () {
    const { manifest } = await commitTiny({ chunked: ["q_proj"] });
    const copy = () => JSON.parse(JSON.stringify(manifest)) as typeof manifest;
    const v1Id = copy();
    v1Id.modules[0].shapeId = shapeId(TINY);
    expect(() => parseManifest(v1Id)).to.throw(FileFormatError, /must be the chunked shape id/);
    const badWidth = copy();
    badWidth.modules[0].chunked = { WA: 3, WB: 4 };
    expect(() => parseManifest(badWidth)).to.throw(FileFormatError, /WA = 3 must divide DIN = 8/);
    // A secrets file without the chunk salts of a chunked module is refused.
    const { secrets } = await commitTiny({ chunked: ["q_proj"] });
    const json = secretsToJson(secrets) as { modules: Record<string, unknown>[] };
    delete json.modules[0].chunkSalts;
    expect(() => parseSecrets(json, manifest)).to.throw(FileFormatError, /missing field "chunkSalts"/);
  });
});

describe("# mpi chunked modules: hX of the module's variant", function () {
  let commit: CommitResult;
  let server: ContributorServer;
  let url = "";
  const X = [
    [3n, -5n, 7n, 0n, 11n, -13n, 1024n, -2048n],
    [1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n],
  ];

  before(async function () {
    commit = await commitTiny({ chunked: ["q_proj"] }, 5);
    server = new ContributorServer({ signer: contributor, rowBudget: 10, proving: { enabled: false } });
    await server.addDeal(dealOf(commit, 9n), commit.secrets);
    ({ url } = await server.listen());
  });
  after(async function () {
    await server?.close();
  });

  it("Should answer the chunked module for the chunked hX and the v1 module for the v1 hX", async function () {
    const client = new RemoteLoraClient({ url, deal: dealOf(commit, 9n), signer: buyer });
    const q = await client.infer(0, X, 2);
    expect(q.entry.hX).to.equal((await chunkedActivationHash(X, TINY_CHUNKED)).hX.toString());
    const v = await client.infer(1, X, 2);
    expect(v.entry.hX).to.equal((await activationHash(X)).toString());
    expect(q.entry.hX).to.not.equal(v.entry.hX);
    expect(server.entries().map((e) => e.hX)).to.deep.equal([q.entry.hX, v.entry.hX]);
  });

  it("Should refuse a buyer that sends the v1 hX for a chunked module (400 hx_wrong_variant), without spending rows", async function () {
    // The buyer's manifest says the module is v1 (as if it had not read "chunked").
    const deal = dealOf(commit, 9n);
    const asV1 = {
      ...deal,
      manifest: {
        ...deal.manifest,
        modules: deal.manifest.modules.map((m) => {
          const { chunked: _c, ...rest } = m;
          return rest;
        }),
      },
    };
    const used = server.rowsUsed(9n, 0);
    const client = new RemoteLoraClient({ url, deal: asV1, signer: buyer });
    const err = await client.infer(0, X, 2).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(RemoteError);
    expect((err as RemoteError).status).to.equal(400);
    expect((err as RemoteError).code).to.equal("hx_wrong_variant");
    expect((err as Error).message).to.match(/committed to the chunked shape t2_i8_r2_o8_a4_b4/);
    expect(server.rowsUsed(9n, 0)).to.equal(used);
    // The chunked hX sent for the v1 module is a plain mismatch.
    const asChunked = {
      ...deal,
      manifest: {
        ...deal.manifest,
        modules: deal.manifest.modules.map((m) => ({ ...m, chunked: { WA: 4, WB: 4 } })),
      },
    };
    const wrong = new RemoteLoraClient({ url, deal: asChunked, signer: buyer });
    const err2 = await wrong.infer(1, X, 2).catch((e: unknown) => e);
    expect((err2 as RemoteError).status).to.equal(400);
    expect((err2 as RemoteError).code).to.equal("hx_mismatch");
  });

  it("Should refuse to host a chunked module whose secrets do not open its C_m", async function () {
    const other = new ContributorServer({ signer: contributor, proving: { enabled: false } });
    const secrets = structuredClone(commit.secrets);
    secrets.modules[0].chunkSalts!.b[1] += 1n;
    const err = await other.addDeal(dealOf(commit, 10n), secrets).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(MpiError);
    expect((err as MpiError).code).to.equal("secrets_mismatch");
    const noSalts = structuredClone(commit.secrets);
    delete noSalts.modules[0].chunkSalts;
    const err2 = await other.addDeal(dealOf(commit, 10n), noSalts).catch((e: unknown) => e);
    expect((err2 as Error).message).to.match(/no chunk salts/);
  });
});
