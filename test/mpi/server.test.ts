/**
 * The contributor's server and the buyer's client, protocol v2 (src/mpi/server.ts, client.ts): real
 * shape key (tiny shape), real EIP-712 signatures from ethers Wallets, a real server on
 * 127.0.0.1:0. Every check of the infer route with its cheat refused (415, 413, 400, 401, 403,
 * 409 and the exact replay, 429), the row budget counted per adapter module across two deals of one commit and restored
 * with the nonces after a restart, the durable log of every answered call, the buyer's record and
 * fold against the server's log, the client's checks of the answer, and the deal key upload.
 */
import { expect } from "chai";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import os from "node:os";
import path from "node:path";
import { keccak256 } from "ethers";
import {
  ContributorServer,
  FileFormatError,
  MalformedResponseError,
  MpiError,
  OutputDigestMismatchError,
  RemoteError,
  RemoteLoraClient,
  ResponseSignatureError,
  eip712Domain,
  exportCallLog,
  readCallLog,
  readServerCalls,
  recoverInferenceRequest,
  recoverInferenceResponse,
  rowsOf,
  signDealKeyUpload,
  signInferenceResponse,
} from "../../src/mpi/index.js";
import type {
  CallRecord,
  CommitResult,
  DealContext,
  InferRequestBody,
  InferResponseBody,
} from "../../src/mpi/index.js";
import { loraProduct } from "../../src/zk/index.js";
import {
  FoldMismatchError,
  activationDigest,
  checkFoldedEntry,
  contributeDelta,
  foldEntry,
  outputDigestV2,
  v2ShapeId,
  type ShapeKey,
} from "../../src/zk/v2/index.js";
import {
  buyer,
  contributor,
  dealOf,
  inferUrl,
  post,
  rejection,
  signedBody,
  stranger,
  tamperingProxy,
  tinyCommit,
  tinyKey,
  xRows,
} from "./fixtures.js";

/** A raw POST whose body is streamed in chunks without a content-length (chunked encoding). */
function postChunked(
  url: string,
  chunks: Buffer[],
): Promise<{ status: number; json: Record<string, unknown> }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        headers: { "content-type": "application/json" },
      },
      (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }),
        );
      },
    );
    req.on("error", reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

async function getJson(url: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** What a 200 answer of the infer route says, kept to find it in the log later. */
interface Answered {
  dealId: string;
  module: number;
  seq: number;
  rows: number;
  hY: string;
  signature: string;
}

function answerOf(
  a: Pick<InferResponseBody, "dealId" | "module" | "seq" | "rows" | "hY" | "signature">,
): Answered {
  return { dealId: a.dealId, module: a.module, seq: a.seq, rows: a.rows, hY: a.hY, signature: a.signature };
}

describe("# mpi v2 contributor server and buyer client (tiny shape, loopback)", function () {
  let dir: string;
  let key: ShapeKey;
  let commit: CommitResult;
  let deal: DealContext;
  let deal2: DealContext;
  let server: ContributorServer;
  let url: string;
  let nonce = 1000n;
  const dbFile = () => path.join(dir, "server", "server.sqlite");
  const answered: Answered[] = [];

  /** POSTs a body to deal `d`'s module `m` and keeps every 200 answer. */
  async function call(d: DealContext, m: number, body: unknown, opts: { contentType?: string } = {}) {
    const r = await post(inferUrl(url, d.dealId, m), body, opts);
    if (r.status === 200) answered.push(answerOf(r.json as unknown as InferResponseBody));
    return r;
  }

  /** Keeps the answers of a client's records. */
  function keepRecords(records: readonly CallRecord[]): void {
    for (const r of records) answered.push(answerOf({ ...r, signature: r.responseSignature }));
  }

  before(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), "zklora-mpi-server-"));
    key = await tinyKey();
    commit = await tinyCommit(7);
    deal = dealOf(commit, 1n);
    deal2 = dealOf(commit, 2n);
    server = new ContributorServer({
      signer: contributor,
      database: dbFile(),
      rowBudget: 1000,
      // deals 3 and 4 are hosted without a buyer: the server reads it (e.g. from the chain)
      getDealBuyer: (id) =>
        id === 3n ? Promise.resolve(buyer.address) : Promise.reject(new Error("rpc down")),
    });
    await server.addDeal(deal, commit.secrets);
    await server.addDeal(deal2, commit.secrets);
    await server.addDeal({ ...dealOf(commit, 3n), buyer: undefined }, commit.secrets);
    await server.addDeal({ ...dealOf(commit, 4n), buyer: undefined }, commit.secrets);
    ({ url } = await server.listen());
  });

  after(async function () {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("Should bind to 127.0.0.1 on an ephemeral port and report health and deal status", async function () {
    expect(server.address().host).to.equal("127.0.0.1");
    expect(server.address().port).to.be.greaterThan(0);
    expect(await getJson(`${url}/v2/health`)).to.deep.equal({
      status: 200,
      json: { ok: true, deals: ["1", "2", "3", "4"] },
    });
    const s = await getJson(`${url}/v2/deals/1`);
    expect(s.status).to.equal(200);
    expect(s.json.contributor).to.equal(contributor.address);
    expect(s.json.modules).to.deep.equal(
      commit.manifest.modules.map((m) => ({
        index: m.index,
        target: m.target,
        shape: "v2_i8_r2_o8",
        calls: 0,
        rows: 0,
        rowsUsed: 0,
        rowBudget: 1000,
      })),
    );
    expect(s.json.keys).to.deep.equal([]);
  });

  it("Should refuse unknown routes, deals and modules with 404 and wrong methods with 405", async function () {
    const b = await signedBody(deal, 0, xRows(1, 1), nonce++);
    expect((await post(inferUrl(url, 999n, 0), b)).json.error).to.equal("unknown_deal");
    expect((await post(`${url}/v2/deals/abc/modules/0/infer`, b)).json.error).to.equal("unknown_deal");
    expect((await post(`${url}/v2/deals/%E0%A4%A/modules/0/infer`, b)).json.error).to.equal("unknown_deal");
    expect((await post(inferUrl(url, 1n, 2), b)).json.error).to.equal("unknown_module");
    expect((await post(`${url}/v2/deals/1/modules/-1/infer`, b)).json.error).to.equal("unknown_module");
    expect((await getJson(`${url}/v2/deals/999`)).status).to.equal(404);
    expect((await getJson(`${url}/v1/health`)).status).to.equal(404);
    expect((await fetch(inferUrl(url, 1n, 0))).status).to.equal(405);
    expect((await post(`${url}/v2/health`, {})).status).to.equal(405);
  });

  it("Should answer a checked call with Y = X·A·B, its digests and the contributor's signature over seq", async function () {
    const client = new RemoteLoraClient({ url, deal, signer: buyer });
    const X = xRows(3, 2);
    const { Y, record } = await client.infer(0, X);
    const s = commit.secrets.modules[0];
    expect(Y).to.deep.equal(loraProduct(X, s.A, s.B));
    expect(record).to.include({ dealId: "1", module: 0, seq: 0, rows: 3, buyer: buyer.address });
    expect(record.adapterModule).to.equal(commit.manifest.modules[0].W[0]);
    expect(record.hX).to.equal(await activationDigest(X, 8));
    expect(record.hY).to.equal(await outputDigestV2(Y, 8));
    const domain = eip712Domain(deal.chainId, deal.escrow);
    const n = BigInt(record.nonce);
    expect(
      recoverInferenceRequest(
        domain,
        { dealId: 1n, module: 0n, rows: 3n, hX: record.hX, nonce: n },
        record.requestSignature,
      ),
    ).to.equal(buyer.address);
    const res = { dealId: 1n, module: 0n, nonce: n, seq: 0n, hX: record.hX, hY: record.hY };
    expect(recoverInferenceResponse(domain, res, record.responseSignature)).to.equal(contributor.address);
    expect(recoverInferenceResponse(domain, { ...res, seq: 1n }, record.responseSignature)).to.not.equal(
      contributor.address,
    );
    // the next call of the module gets the next sequence number
    expect((await client.infer(0, xRows(1, 3))).record.seq).to.equal(1);
    keepRecords(client.records);
    const st = (await getJson(`${url}/v2/deals/1`)).json as {
      modules: { calls: number; rows: number; rowsUsed: number }[];
    };
    expect(st.modules[0]).to.include({ calls: 2, rows: 4, rowsUsed: 4 });
    expect(server.rowsUsed(commit.manifest.modules[0])).to.equal(4);
  });

  it("Should refuse another content type with 415 (and the same body, as JSON, is answered)", async function () {
    const b = await signedBody(deal, 0, xRows(1, 4), nonce++);
    for (const contentType of ["text/plain", "application/x-www-form-urlencoded", "application/jsonx"]) {
      const r = await post(inferUrl(url, 1n, 0), b, { contentType });
      expect([r.status, r.json.error], contentType).to.deep.equal([415, "unsupported_media_type"]);
    }
    // the refusals used nothing: the same body, as JSON (with a charset), is answered
    expect((await call(deal, 0, b, { contentType: "application/json; charset=utf-8" })).status).to.equal(200);
  });

  it("Should refuse a body over the limit with 413, declared or streamed without a length, and keep serving", async function () {
    // default limit: 64 KiB + 24 bytes per X entry of a full budget (1000 rows x DIN 8) = 257 KiB
    const big = JSON.stringify({ X: Array.from({ length: 40_000 }, () => Array(8).fill("-1000")) });
    expect(big.length).to.be.greaterThan(300 * 1024);
    const r = await post(inferUrl(url, 1n, 0), big, { raw: true });
    expect([r.status, r.json.error]).to.deep.equal([413, "body_too_large"]);
    const chunked = await postChunked(inferUrl(url, 1n, 0), [
      Buffer.from('{"X": [["'),
      ...Array.from({ length: 8 }, () => Buffer.alloc(64 * 1024, "1")),
      Buffer.from('"]]}'),
    ]);
    expect([chunked.status, chunked.json.error]).to.deep.equal([413, "body_too_large"]);
    expect((await getJson(`${url}/v2/health`)).status).to.equal(200);
  });

  it("Should refuse malformed bodies with 400 naming the field", async function () {
    const b = await signedBody(deal, 0, xRows(2, 5), nonce++);
    const u = inferUrl(url, 1n, 0);
    const expect400 = async (body: unknown, error: string, raw = false) => {
      const r = await post(u, body, { raw });
      expect([r.status, r.json.error], JSON.stringify(body).slice(0, 60)).to.deep.equal([400, error]);
    };
    await expect400("{not json", "bad_json", true);
    await expect400([1, 2], "bad_request");
    await expect400({ ...b, nonce: undefined }, "bad_request");
    await expect400({ ...b, X: [] }, "bad_shape");
    await expect400({ ...b, X: [b.X[0].slice(1), b.X[1]] }, "bad_shape");
    await expect400({ ...b, X: [b.X[0].map((v, i) => (i === 3 ? 1.5 : v)), b.X[1]] }, "bad_value");
    await expect400(
      { ...b, X: [b.X[0].map((v, i) => (i === 3 ? String(2n ** 40n) : v)), b.X[1]] },
      "bad_value",
    );
    await expect400({ ...b, X: [b.X[0].map((v, i) => (i === 0 ? "0x10" : v)), b.X[1]] }, "bad_value");
    await expect400({ ...b, hX: "0x1234" }, "bad_hx");
    await expect400({ ...b, nonce: "-1" }, "bad_nonce");
    // nothing above used the nonce: the body itself is answered
    expect((await call(deal, 0, b)).status).to.equal(200);
  });

  it("Should refuse an hX that is not activationDigest(X) with 400 hx_mismatch, without using rows or the nonce", async function () {
    const X = xRows(2, 6);
    const other = xRows(2, 7);
    const n = nonce++;
    // a genuine signature over the digest of other rows
    const cheat = { ...(await signedBody(deal, 0, X, n)), hX: await activationDigest(other, 8) };
    cheat.signature = (await signedBody(deal, 0, other, n)).signature;
    const used = server.rowsUsed(commit.manifest.modules[0]);
    const r = await post(inferUrl(url, 1n, 0), cheat);
    expect([r.status, r.json.error]).to.deep.equal([400, "hx_mismatch"]);
    expect(r.json.reason).to.contain(await activationDigest(X, 8));
    expect(server.rowsUsed(commit.manifest.modules[0])).to.equal(used);
    expect((await call(deal, 0, await signedBody(deal, 0, X, n))).status).to.equal(200);
  });

  it("Should refuse a malformed or unrecoverable signature with 401", async function () {
    const b = await signedBody(deal, 0, xRows(1, 8), nonce++);
    for (const signature of [
      "0x1234",
      "",
      "0x" + "00".repeat(65),
      b.signature.slice(0, -2) + "1f",
      b.signature + "00",
    ]) {
      const r = await post(inferUrl(url, 1n, 0), { ...b, signature });
      expect([r.status, r.json.error], signature).to.deep.equal([401, "bad_signature"]);
    }
    const r = await post(inferUrl(url, 1n, 0), { ...b, signature: 42 });
    expect(r.status).to.equal(401);
  });

  it("Should refuse with 403 a request signed by another key, or for other rows, deal, module or chain", async function () {
    const u = inferUrl(url, 1n, 0);
    const used = server.rowsUsed(commit.manifest.modules[0]);
    const expect403 = async (body: unknown, what: string) => {
      const r = await post(u, body);
      expect([r.status, r.json.error], what).to.deep.equal([403, "not_buyer"]);
    };
    await expect403(await signedBody(deal, 0, xRows(2, 9), nonce++, stranger), "stranger");
    // replay with extra rows: the buyer signed 2 rows; the attacker appends a third, keeping hX…
    const X = xRows(2, 10);
    const n = nonce++;
    const signed = await signedBody(deal, 0, X, n);
    const extra = xRows(1, 11)[0].map(String);
    await expect403({ ...signed, X: [...signed.X, extra] }, "extra row, signed hX");
    // …or recomputing hX over the longer X (the signature covers rows and hX)
    const longer = [...X, xRows(1, 11)[0]];
    await expect403(
      { ...signed, X: longer.map((r) => r.map(String)), hX: await activationDigest(longer, 8) },
      "extra row, new hX",
    );
    await expect403(
      { ...signed, X: signed.X.slice(0, 1), hX: await activationDigest(X.slice(0, 1), 8) },
      "dropped row",
    );
    // the rows count alone is covered: a signature over rows = 3 for the same 2 rows and hX
    await expect403(await signedBody(deal, 0, X, nonce++, buyer, { rows: 3n }), "rows 3 signed for 2");
    await expect403(await signedBody(deal2, 0, xRows(1, 12), nonce++), "signed for deal 2");
    await expect403(await signedBody(deal, 1, xRows(1, 13), nonce++), "signed for module 1");
    await expect403(
      await signedBody({ ...deal, chainId: 1n }, 0, xRows(1, 14), nonce++),
      "signed for chain 1",
    );
    expect(server.rowsUsed(commit.manifest.modules[0])).to.equal(used);
    // the genuine request is still answered (its nonce was never used)
    expect((await call(deal, 0, signed)).status).to.equal(200);
  });

  it("Should read a deal's buyer through getDealBuyer, and answer 503 while it cannot", async function () {
    const d3 = dealOf(commit, 3n);
    expect((await call(d3, 0, await signedBody(d3, 0, xRows(1, 15), nonce++))).status).to.equal(200);
    expect(
      (await post(inferUrl(url, 3n, 0), await signedBody(d3, 0, xRows(1, 16), nonce++, stranger))).status,
    ).to.equal(403);
    const d4 = dealOf(commit, 4n);
    const r = await post(inferUrl(url, 4n, 0), await signedBody(d4, 0, xRows(1, 17), nonce++));
    expect([r.status, r.json.error]).to.deep.equal([503, "buyer_unavailable"]);
    expect(r.json.reason).to.contain("rpc down");
  });

  it("Should refuse a replayed nonce with 409, an exact replay carrying the recorded answer (rows not charged)", async function () {
    const b = await signedBody(deal, 0, xRows(1, 18), nonce++);
    const first = await call(deal, 0, b);
    expect(first.status).to.equal(200);
    const used = server.rowsUsed(commit.manifest.modules[0]);
    // a replay of the same signed request (a lost answer) is refused, with the recorded answer
    // attached: rows not charged again, nothing computed
    const again = await post(inferUrl(url, 1n, 0), b);
    expect([again.status, again.json.error]).to.deep.equal([409, "nonce_replayed"]);
    expect(again.json.answer).to.deep.equal(first.json);
    expect(server.rowsUsed(commit.manifest.modules[0])).to.equal(used);
    const otherRows = await signedBody(deal, 0, xRows(2, 19), BigInt(b.nonce));
    const other = await post(inferUrl(url, 1n, 0), otherRows);
    expect([other.status, other.json.error]).to.deep.equal([409, "nonce_replayed"]);
    expect(other.json.answer).to.equal(undefined);
    // a nonce is per deal: deal 2 may use the same number
    expect((await call(deal2, 0, await signedBody(deal2, 0, xRows(1, 20), BigInt(b.nonce)))).status).to.equal(
      200,
    );
    // five copies at once: exactly one call is answered and charged; a copy is refused while it is in
    // flight (409 nonce_in_flight) or after it with the same answer attached (409 nonce_replayed)
    const fresh = await signedBody(deal, 0, xRows(1, 21), nonce++);
    const before = server.rowsUsed(commit.manifest.modules[0]);
    const rs = await Promise.all(Array.from({ length: 5 }, () => call(deal, 0, fresh)));
    const ok = rs.filter((r) => r.status === 200);
    expect(ok.length).to.equal(1);
    for (const r of rs.filter((x) => x.status !== 200)) {
      expect(r.status).to.equal(409);
      if (r.json.error === "nonce_replayed") expect(r.json.answer).to.deep.equal(ok[0].json);
      else expect(r.json.error).to.equal("nonce_in_flight");
    }
    expect(server.rowsUsed(commit.manifest.modules[0])).to.equal(before + 1);
  });

  it("Should make the client refuse a tampered answer (Y, hY, seq, signature, shape) and record nothing", async function () {
    let seed = 100;
    const tampered = async (
      tamper: (b: Record<string, unknown>) => Promise<Record<string, unknown>> | Record<string, unknown>,
    ) => {
      // the server answered (and logged) the call before the proxy changed the answer
      const proxy = await tamperingProxy(url, (b) => {
        answered.push(answerOf(b as unknown as InferResponseBody));
        return tamper(b);
      });
      try {
        const client = new RemoteLoraClient({ url: proxy.url, deal, signer: buyer });
        const err = await rejection(client.infer(0, xRows(2, seed++)));
        expect(client.records).to.have.length(0);
        return err;
      } finally {
        await proxy.close();
      }
    };
    const bumpY = (b: Record<string, unknown>) => {
      const Y = (b.Y as string[][]).map((r) => [...r]);
      Y[1][3] = String(BigInt(Y[1][3]) + 1n);
      return Y;
    };
    // Y changed, hY kept
    expect(await tampered((b) => ({ ...b, Y: bumpY(b) }))).to.be.instanceOf(OutputDigestMismatchError);
    // Y changed and hY recomputed: the contributor's signature covers hY
    const sigErr = await tampered(async (b) => {
      const Y = bumpY(b);
      return {
        ...b,
        Y,
        hY: await outputDigestV2(
          Y.map((r) => r.map((v) => BigInt(v))),
          8,
        ),
      };
    });
    expect(sigErr).to.be.instanceOf(ResponseSignatureError);
    // seq changed (reordering the buyer's rows): the signature covers seq
    expect(await tampered((b) => ({ ...b, seq: (b.seq as number) + 1 }))).to.be.instanceOf(
      ResponseSignatureError,
    );
    // a consistent answer signed by someone else
    expect(
      await tampered(async (b) => {
        const signature = await signInferenceResponse(stranger, eip712Domain(deal.chainId, deal.escrow), {
          dealId: 1n,
          module: 0n,
          nonce: 0n,
          seq: BigInt(b.seq as number),
          hX: b.hX as string,
          hY: b.hY as string,
        });
        return { ...b, signature };
      }),
    ).to.be.instanceOf(ResponseSignatureError);
    expect(await tampered((b) => ({ ...b, Y: (b.Y as string[][]).slice(1) }))).to.be.instanceOf(
      MalformedResponseError,
    );
    expect(await tampered((b) => ({ ...b, seq: -1 }))).to.be.instanceOf(MalformedResponseError);
    expect(await tampered((b) => ({ ...b, hX: "0x" + "00".repeat(32) }))).to.be.instanceOf(
      MalformedResponseError,
    );
    // an HTTP error reaches the caller typed, with the server's code
    const client = new RemoteLoraClient({ url, deal, signer: stranger });
    const err = await rejection(client.infer(0, xRows(1, 23)));
    expect(err).to.be.instanceOf(RemoteError);
    expect([(err as RemoteError).status, (err as RemoteError).code]).to.deep.equal([403, "not_buyer"]);
    expect(await rejection(client.infer(5, xRows(1, 23)))).to.be.instanceOf(MpiError);
  });

  it("Should give the buyer's record the server's rows in seq order, and the buyer's fold passes the contributor's check", async function () {
    const buyerLog = path.join(dir, "buyer", "calls.jsonl");
    const client = new RemoteLoraClient({ url, deal, signer: buyer, logFile: buyerLog });
    // four concurrent calls of 1..4 rows to module 1: answer order may differ from seq order
    await Promise.all([1, 2, 3, 4].map((rows) => client.infer(1, xRows(rows, 30 + rows))));
    keepRecords(client.records);
    await client.close();
    expect(client.records.map((r) => r.seq).sort()).to.deep.equal([0, 1, 2, 3]);
    // the buyer's durable record holds the same calls (lines in append order, records in answer order)
    const bySeq = (rs: CallRecord[]) => [...rs].sort((a, b) => a.seq - b.seq);
    expect(bySeq(await readCallLog(buyerLog))).to.deep.equal(bySeq(client.records));
    const mine = rowsOf(client.records, deal, 1);
    const theirs = rowsOf(await readServerCalls(dbFile()), deal, 1);
    expect(mine.X).to.have.length(10);
    expect(mine).to.deep.equal(theirs);
    // the buyer posts (hX, hY, fY, D_X) from its rows; the contributor recomputes them from its log
    const ctx = { chainId: deal.chainId, escrow: deal.escrow, dealId: deal.dealId, module: 1n };
    const posted = await foldEntry(key, mine.X, mine.Y, ctx);
    const checked = await checkFoldedEntry(key, theirs.X, theirs.Y, ctx, posted);
    expect(checked.rho).to.equal(posted.rho);
    expect(checked.x).to.deep.equal(posted.x);
    // cheats: a posted fY off by one, rows in answer order instead of seq order, a call left out, another module's rho
    await expectFold(
      checkFoldedEntry(key, theirs.X, theirs.Y, ctx, { ...posted, fY: posted.fY + 1n }),
      /fY posted/,
    );
    const reversed = await foldEntry(key, [...mine.X].reverse(), [...mine.Y].reverse(), ctx);
    await expectFold(checkFoldedEntry(key, theirs.X, theirs.Y, ctx, reversed), /hX posted/);
    const short = await foldEntry(key, mine.X.slice(0, 6), mine.Y.slice(0, 6), ctx);
    await expectFold(checkFoldedEntry(key, theirs.X, theirs.Y, ctx, short), /hX posted/);
    const otherRho = await foldEntry(key, mine.X, mine.Y, { ...ctx, module: 0n });
    await expectFold(
      checkFoldedEntry(key, theirs.X, theirs.Y, ctx, { ...posted, D_X: otherRho.D_X, fY: otherRho.fY }),
      /fY posted/,
    );
  });

  it("Should store the buyer's deal key under the keccak the client computed, and refuse other signers and shapes", async function () {
    const keysDir = path.join(dir, "server", "deal-keys");
    const zkey = path.join(dir, "deal1.zkey");
    await contributeDelta(key.zkey, zkey);
    const bytes = await readFile(zkey);
    const client = new RemoteLoraClient({ url, deal, signer: buyer });
    const up = await client.uploadDealKey(key.shapeId, zkey);
    expect(up).to.deep.equal({
      dealId: "1",
      shapeId: key.shapeId,
      zkeyHash: keccak256(bytes),
      bytes: bytes.length,
    });
    const stored = server.dealKeyFile(1n, key.shapeId);
    expect(stored).to.be.a("string");
    expect(path.dirname(stored!)).to.equal(keysDir);
    expect(keccak256(await readFile(stored!))).to.equal(keccak256(bytes));
    expect((await getJson(`${url}/v2/deals/1`)).json.keys as string[]).to.deep.equal([
      key.shapeId.toLowerCase(),
    ]);
    const filesBefore = (await readdir(keysDir)).sort();
    expect(filesBefore).to.have.length(1);

    // a key upload signed by another key: 403, nothing stored for deal 2 (no part file left behind)
    const wrong = new RemoteLoraClient({ url, deal: deal2, signer: stranger });
    const err = await rejection(wrong.uploadDealKey(key.shapeId, zkey));
    expect(err).to.be.instanceOf(RemoteError);
    expect([(err as RemoteError).status, (err as RemoteError).code]).to.deep.equal([403, "not_buyer"]);
    expect(server.dealKeyFile(2n, key.shapeId)).to.equal(undefined);
    expect((await readdir(keysDir)).sort()).to.deep.equal(filesBefore);
    // the buyer's signature over another file's hash does not store this file (zkeyHash is covered)
    const domain = eip712Domain(deal2.chainId, deal2.escrow);
    const otherSig = await signDealKeyUpload(buyer, domain, {
      dealId: 2n,
      shapeId: key.shapeId,
      zkeyHash: keccak256("0x00"),
    });
    const put = (
      signature: string | undefined,
      shapeId = key.shapeId,
      contentType = "application/octet-stream",
    ) =>
      fetch(`${url}/v2/deals/2/keys/${shapeId}`, {
        method: "PUT",
        headers: {
          "content-type": contentType,
          ...(signature === undefined ? {} : { "x-zklora-signature": signature }),
        },
        body: bytes,
      });
    expect((await put(otherSig)).status).to.equal(403);
    expect((await put(undefined)).status).to.equal(401);
    expect((await put("0x1234")).status).to.equal(401);
    expect((await put(otherSig, key.shapeId, "application/json")).status).to.equal(415);
    expect(server.dealKeyFile(2n, key.shapeId)).to.equal(undefined);
    expect((await readdir(keysDir)).sort()).to.deep.equal(filesBefore);
    // a shape the deal does not use: 404
    const unknown = v2ShapeId({ DIN: 8, R: 2, DOUT: 6 });
    const e404 = await rejection(client.uploadDealKey(unknown, zkey));
    expect([(e404 as RemoteError).status, (e404 as RemoteError).code]).to.deep.equal([404, "unknown_shape"]);
    // the stored key is found again by a server restarted on the same database; not by one on another
    for (const [database, want] of [
      [dbFile(), stored],
      [path.join(dir, "other.sqlite"), undefined],
    ] as const) {
      const again = new ContributorServer({ signer: contributor, database, keysDir });
      await again.addDeal(deal, commit.secrets);
      await again.listen();
      expect(again.dealKeyFile(1n, key.shapeId), database).to.equal(want);
      await again.close();
    }
  });

  it("Should refuse to host a deal whose secrets do not open its W_m, or one of another contributor", async function () {
    const s = new ContributorServer({ signer: contributor, database: path.join(dir, "refuse.sqlite") });
    const A = commit.secrets.modules[1].A.map((r) => [...r]);
    A[0][0] += 1n;
    const bad = {
      ...commit.secrets,
      modules: [commit.secrets.modules[0], { ...commit.secrets.modules[1], A }],
    };
    const e1 = await rejection(s.addDeal(dealOf(commit, 9n), bad));
    expect((e1 as MpiError).code).to.equal("secrets_mismatch");
    expect(e1.message).to.contain("module 1");
    const e2 = await rejection(
      s.addDeal({ ...dealOf(commit, 9n), contributor: stranger.address }, commit.secrets),
    );
    expect((e2 as MpiError).code).to.equal("not_contributor");
  });

  it("Should have every answered call in the database after close, each once, and nothing refused", async function () {
    await server.close();
    const recs = await readServerCalls(dbFile());
    for (const a of answered) {
      const r = recs.filter((x) => x.dealId === a.dealId && x.module === a.module && x.seq === a.seq);
      expect(r, `call ${a.dealId}/${a.module} seq ${a.seq}`).to.have.length(1);
      expect(r[0]).to.include({ rows: a.rows, hY: a.hY, responseSignature: a.signature });
    }
    // an exact replay is answered from the database, not recorded again
    expect(recs).to.have.length(new Set(answered.map((a) => `${a.dealId}/${a.module}/${a.seq}`)).size);
    // seq numbers of each deal's module are distinct
    for (const d of ["1", "2", "3"])
      for (const m of [0, 1]) {
        const seqs = recs.filter((r) => r.dealId === d && r.module === m).map((r) => r.seq);
        expect(new Set(seqs).size).to.equal(seqs.length);
      }
    // the exported transcript is a valid call log with the same calls, and nothing else: a malformed
    // line would make it unreadable
    const copy = path.join(dir, "copy.jsonl");
    expect(await exportCallLog(dbFile(), copy)).to.equal(recs.length);
    expect(await readCallLog(copy)).to.deep.equal(recs);
    await writeFile(copy, (await readFile(copy, "utf8")).replace("\n", "\n{oops\n"));
    expect(await rejection(readCallLog(copy))).to.be.instanceOf(FileFormatError);
  });
});

async function expectFold(p: Promise<unknown>, re: RegExp): Promise<void> {
  const err = await rejection(p);
  expect(err).to.be.instanceOf(FoldMismatchError);
  expect(err.message).to.match(re);
}

describe("# mpi v2 row budget per adapter module across deals, and a server restart", function () {
  let dir: string;
  let commit: CommitResult;
  let d21: DealContext;
  let d22: DealContext;
  let server: ContributorServer;
  let url: string;
  let nonce = 5000n;
  const dbFile = () => path.join(dir, "server.sqlite");
  const acked: { deal: DealContext; module: number; body: InferRequestBody; answer: InferResponseBody }[] =
    [];

  async function start(): Promise<void> {
    server = new ContributorServer({ signer: contributor, database: dbFile(), rowBudget: 6 });
    await server.addDeal(d21, commit.secrets);
    await server.addDeal(d22, commit.secrets);
    ({ url } = await server.listen());
  }

  async function call(d: DealContext, m: number, rows: number, body?: InferRequestBody) {
    const b = body ?? (await signedBody(d, m, xRows(rows, Number(nonce)), nonce++));
    const r = await post(inferUrl(url, d.dealId, m), b);
    if (r.status === 200)
      acked.push({ deal: d, module: m, body: b, answer: r.json as unknown as InferResponseBody });
    return r;
  }

  before(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), "zklora-mpi-budget-"));
    commit = await tinyCommit(8); // another adapter: its own W_m and its own budget
    // two deals of the same commit: the same W_m, one budget
    d21 = dealOf(commit, 21n);
    d22 = dealOf(commit, 22n);
    await start();
  });

  after(async function () {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("Should count rows per adapter module across two deals of one commit and refuse beyond with 429", async function () {
    expect((await call(d21, 0, 4)).status).to.equal(200);
    expect((await call(d22, 0, 2)).status).to.equal(200);
    const r = await call(d22, 0, 1);
    expect([r.status, r.json.error]).to.deep.equal([429, "row_budget_exhausted"]);
    expect(r.json.reason).to.match(/1 rows requested but only 0 of the adapter module's 6 remain/);
    expect(r.json.reason).to.contain("every deal and buyer");
    expect((await call(d21, 0, 1)).status).to.equal(429);
    // the other module has its own budget; three concurrent 2-row calls on 3 left: one answered
    expect((await call(d22, 1, 3)).status).to.equal(200);
    const rs = await Promise.all([0, 1, 2].map(() => call(d21, 1, 2)));
    expect(rs.map((x) => x.status).sort()).to.deep.equal([200, 429, 429]);
    const st21 = (await getJson(`${url}/v2/deals/21`)).json.modules as {
      rows: number;
      rowsUsed: number;
      rowBudget: number;
    }[];
    const st22 = (await getJson(`${url}/v2/deals/22`)).json.modules as { rows: number; rowsUsed: number }[];
    expect(st21.map((m) => [m.rows, m.rowsUsed, m.rowBudget])).to.deep.equal([
      [4, 6, 6],
      [2, 5, 6],
    ]);
    expect(st22.map((m) => [m.rows, m.rowsUsed])).to.deep.equal([
      [2, 6],
      [3, 5],
    ]);
    expect(server.rowsUsed(commit.manifest.modules[0])).to.equal(6);
  });

  it("Should share the budget with a new commitment of the same weights (another salt, another W_m)", async function () {
    const again = await tinyCommit(8); // the same adapter committed again: new salts
    expect(again.manifest.modules[0].W).to.not.deep.equal(commit.manifest.modules[0].W);
    const d23 = dealOf(again, 23n);
    await server.addDeal(d23, again.secrets);
    expect(server.rowsUsed(again.manifest.modules[0])).to.equal(server.rowsUsed(commit.manifest.modules[0]));
    const r = await call(d23, 0, 1);
    expect([r.status, r.json.error]).to.deep.equal([429, "row_budget_exhausted"]);
  });

  it("Should restore used rows, nonces and sequence numbers after a restart on the same database", async function () {
    await server.close();
    await start();
    expect(server.rowsUsed(commit.manifest.modules[0])).to.equal(6);
    expect(server.rowsUsed(commit.manifest.modules[1])).to.equal(5);
    // every acknowledged request replayed after the restart is refused with its recorded answer, rows
    // not charged again
    for (const a of acked) {
      const r = await post(inferUrl(url, a.deal.dealId, a.module), a.body);
      expect([r.status, r.json.error], `deal ${a.deal.dealId} module ${a.module}`).to.deep.equal([
        409,
        "nonce_replayed",
      ]);
      expect(r.json.answer).to.deep.equal(a.answer);
    }
    expect(server.rowsUsed(commit.manifest.modules[0])).to.equal(6);
    // the budget still holds across both deals
    expect((await call(d22, 0, 1)).status).to.equal(429);
    expect((await call(d21, 0, 1)).status).to.equal(429);
    expect((await call(d22, 1, 2)).status).to.equal(429);
    // the module's next call in deal 22 continues its sequence
    const r = await call(d22, 1, 1);
    expect(r.status).to.equal(200);
    expect(r.json.seq).to.equal(1);
    const st = (await getJson(`${url}/v2/deals/22`)).json.modules as {
      calls: number;
      rows: number;
      rowsUsed: number;
    }[];
    expect(st[1]).to.include({ calls: 2, rows: 4, rowsUsed: 6 });
    expect((await call(d21, 1, 1)).status).to.equal(429);
  });

  it("Should have every acknowledged call in the database after close, and rows used equal the recorded rows", async function () {
    await server.close();
    const recs = await readServerCalls(dbFile());
    expect(recs).to.have.length(acked.length);
    for (const a of acked) {
      const r = recs.find(
        (x) => x.dealId === a.answer.dealId && x.module === a.module && x.nonce === a.body.nonce,
      );
      expect(r, `nonce ${a.body.nonce}`).to.not.equal(undefined);
      expect(r).to.include({ seq: a.answer.seq, hY: a.answer.hY, responseSignature: a.answer.signature });
      expect(r!.Y).to.deep.equal(a.answer.Y);
    }
    for (const m of commit.manifest.modules) {
      const logged = recs.filter((r) => r.adapterModule === m.W[0]).reduce((s, r) => s + r.rows, 0);
      expect(logged).to.equal(6);
    }
  });
});

describe("# mpi v2 server limits: CORS for configured origins, header timeout, concurrent-request cap", function () {
  let dir: string;
  let server: ContributorServer;
  let url: string;
  let port = 0;

  before(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), "zklora-mpi-limits-"));
    const commit = await tinyCommit(9);
    server = new ContributorServer({
      signer: contributor,
      database: path.join(dir, "server.sqlite"),
      corsOrigins: ["https://dapp.example"],
      headersTimeoutMs: 300,
      bodyTimeoutMs: 500,
      requestTimeoutMs: 1000,
      maxConnections: 4,
      maxConcurrentRequests: 1,
    });
    await server.addDeal(dealOf(commit, 1n), commit.secrets);
    ({ url, port } = await server.listen());
  });

  after(async function () {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("Should answer a preflight and calls from a configured origin with CORS headers, and give other origins none", async function () {
    const pre = await fetch(`${url}/v2/deals/1/modules/0/infer`, {
      method: "OPTIONS",
      headers: { origin: "https://dapp.example", "access-control-request-method": "POST" },
    });
    expect(pre.status).to.equal(204);
    expect(pre.headers.get("access-control-allow-origin")).to.equal("https://dapp.example");
    expect(pre.headers.get("access-control-allow-headers")).to.contain("x-zklora-signature");
    const ok = await fetch(`${url}/v2/deals/1`, { headers: { origin: "https://dapp.example" } });
    expect(ok.status).to.equal(200);
    expect(ok.headers.get("access-control-allow-origin")).to.equal("https://dapp.example");
    const other = await fetch(`${url}/v2/deals/1`, { headers: { origin: "https://evil.example" } });
    expect(other.headers.get("access-control-allow-origin")).to.equal(null);
    const noOrigin = await fetch(`${url}/v2/health`);
    expect(noOrigin.headers.get("access-control-allow-origin")).to.equal(null);
  });

  it("Should drop a client that sends its headers too slowly, and keep serving", async function () {
    const { connect } = await import("node:net");
    const closed = await new Promise<{ ms: number; data: string }>((resolve) => {
      const t0 = Date.now();
      let data = "";
      const s = connect(port, "127.0.0.1", () => s.write("GET /v2/health HTTP/1.1\r\nHost: x\r\n"));
      s.on("data", (d: Buffer) => (data += d.toString()));
      s.on("close", () => resolve({ ms: Date.now() - t0, data }));
      s.on("error", () => {});
    });
    expect(closed.ms).to.be.lessThan(5000);
    expect(closed.data === "" || /^HTTP\/1\.1 408/.test(closed.data), closed.data).to.equal(true);
    expect((await fetch(`${url}/v2/health`)).status).to.equal(200);
  });

  it("Should answer 408 to a body that drips in, 431 to oversized headers, and keep serving", async function () {
    const { connect } = await import("node:net");
    const exchange = (head: string, drip: boolean) =>
      new Promise<string>((resolve) => {
        let data = "";
        const s = connect(port, "127.0.0.1", () => {
          s.write(head);
          if (drip) {
            const t = setInterval(() => (s.writable ? s.write(" ") : clearInterval(t)), 100);
            s.on("close", () => clearInterval(t));
          }
        });
        s.on("data", (d: Buffer) => (data += d.toString()));
        s.on("close", () => resolve(data));
        s.on("error", () => {});
      });
    const slow = await exchange(
      "POST /v2/deals/1/modules/0/infer HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{",
      true,
    );
    expect(slow).to.match(/^HTTP\/1\.1 408/);
    expect(slow).to.contain('"error":"body_timeout"');
    const big = await exchange(
      `GET /v2/health HTTP/1.1\r\nHost: x\r\nx-big: ${"a".repeat(20_000)}\r\n\r\n`,
      false,
    );
    expect(big).to.match(/^HTTP\/1\.1 431/);
    expect((await fetch(`${url}/v2/health`)).status).to.equal(200);
  });

  it("Should answer 503 busy with Retry-After beyond the concurrent-request cap, and serve again after", async function () {
    const { connect } = await import("node:net");
    // a request whose body never completes holds the only slot
    const slow = connect(port, "127.0.0.1");
    slow.on("error", () => {});
    await new Promise<void>((resolve) => slow.once("connect", () => resolve()));
    slow.write(
      "POST /v2/deals/1/modules/0/infer HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{",
    );
    await new Promise((r) => setTimeout(r, 100));
    const busy = await fetch(`${url}/v2/health`);
    expect(busy.status).to.equal(503);
    expect(busy.headers.get("retry-after")).to.equal("1");
    expect(((await busy.json()) as { error: string }).error).to.equal("busy");
    slow.destroy();
    let ok = 0;
    for (let i = 0; i < 40 && ok === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      if ((await fetch(`${url}/v2/health`)).status === 200) ok++;
    }
    expect(ok).to.equal(1);
  });
});
