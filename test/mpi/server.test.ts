import { expect } from "chai";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import { request } from "node:http";
import path from "node:path";
import { Wallet } from "ethers";
import {
  ChallengeMismatchError,
  ContributorServer,
  eip712Domain,
  FingerprintMismatchError,
  loadBuyerTranscript,
  loadServerTranscript,
  MalformedResponseError,
  OutputDigestMismatchError,
  RemoteError,
  RemoteLoraClient,
  ResponseSignatureError,
  signInferenceRequest,
  signInferenceResponse,
} from "../../src/mpi/index.js";
import type { CommitResult, DealContext, InferResponseBody } from "../../src/mpi/index.js";
import { activationHash, computeRho, fingerprint, loraProduct, outputDigest } from "../../src/zk/index.js";
import { buyer, contributor, dealOf, prng, stranger, tamperingProxy, tinyCommit, TINY } from "./fixtures.js";

const { T, DIN } = TINY;

function xMatrix(seed: number, rows = T): bigint[][] {
  return Array.from({ length: T }, (_, t) =>
    Array.from({ length: DIN }, (_, i) =>
      t < rows ? BigInt(((seed * 31 + t * 7 + i * 13) % 2001) - 1000) : 0n,
    ),
  );
}

async function signedBody(
  deal: DealContext,
  module: number,
  X: bigint[][],
  rows: number,
  nonce: bigint,
  signer: Wallet = buyer,
): Promise<Record<string, unknown>> {
  const hX = await activationHash(X);
  const signature = await signInferenceRequest(signer, eip712Domain(deal.chainId, deal.escrow), {
    dealId: deal.dealId,
    module: BigInt(module),
    hX,
    nonce,
  });
  return { X: X.map((r) => r.map(String)), rows, hX: hX.toString(), nonce: nonce.toString(), signature };
}

async function post(
  url: string,
  body: unknown,
  raw = false,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: raw ? (body as string) : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("expected a rejection");
}

describe("# mpi contributor server and buyer client (tiny shape, loopback)", function () {
  let commit: CommitResult;
  let deal: DealContext;
  let server: ContributorServer;
  let url: string;
  let dir: string;
  let nonce = 1000n;

  const infer = (m: number, dealId = deal.dealId) => `${url}/v1/deals/${dealId}/modules/${m}/infer`;

  async function startMain(): Promise<void> {
    server = new ContributorServer({
      signer: contributor,
      rowBudget: 1000,
      transcriptFile: path.join(dir, "server-transcript.json"),
      proving: { enabled: false },
    });
    await server.addDeal(deal, commit.secrets);
    ({ url } = await server.listen());
  }

  before(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), "zklora-mpi-"));
    commit = await tinyCommit();
    deal = dealOf(commit);
    await startMain();
  });

  after(async function () {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("Should bind to 127.0.0.1 on an ephemeral port and answer health", async function () {
    expect(server.address().host).to.equal("127.0.0.1");
    expect(server.address().port).to.be.greaterThan(0);
    const h = (await (await fetch(`${url}/v1/health`)).json()) as { ok: boolean; deals: string[] };
    expect(h.ok).to.equal(true);
    expect(h.deals).to.deep.equal(["1"]);
  });

  it("Should answer a valid call with Y = X·A·B, hY, rho, fY and the contributor's signature", async function () {
    const X = xMatrix(1);
    const r = await post(infer(0), await signedBody(deal, 0, X, T, nonce++));
    expect(r.status).to.equal(200);
    const body = r.json as unknown as InferResponseBody;
    const Y = loraProduct(X, commit.secrets.modules[0].A, commit.secrets.modules[0].B);
    expect(body.Y).to.deep.equal(Y.map((row) => row.map(String)));
    const hY = outputDigest(Y);
    expect(body.hY).to.equal(hY);
    const hX = await activationHash(X);
    const rho = computeRho({
      chainId: deal.chainId,
      escrow: deal.escrow,
      dealId: deal.dealId,
      module: 0n,
      hX,
      hY,
    });
    expect(body.rho).to.equal(rho.toString());
    expect(body.fY).to.equal(fingerprint(Y, rho).toString());
  });

  it("Should run the checking client end to end and write both transcripts", async function () {
    const file = path.join(dir, "buyer-transcript.json");
    const client = new RemoteLoraClient({ url, deal, signer: buyer, transcriptFile: file });
    const X = xMatrix(2, 1);
    const { Y, entry } = await client.infer(1, X, 1);
    expect(Y).to.deep.equal(loraProduct(X, commit.secrets.modules[1].A, commit.secrets.modules[1].B));
    expect(entry.rows).to.equal(1);
    await client.flush();
    const bt = await loadBuyerTranscript(file);
    expect(bt.deal.dealId).to.equal(deal.dealId);
    expect(bt.entries).to.have.length(1);
    expect(bt.entries[0]).to.deep.include({
      module: 1,
      hX: (await activationHash(X)).toString(),
      hY: outputDigest(Y),
    });
    await server.close(); // flushes the transcript; a new server restores its state from it
    await startMain();
    const st = await loadServerTranscript(path.join(dir, "server-transcript.json"));
    expect(st.entries.map((e) => e.hX)).to.include(entry.hX);
    const e = st.entries.find((x) => x.hX === entry.hX)!;
    expect(e.Y).to.deep.equal(Y.map((row) => row.map(String)));
    expect(e.fY).to.equal(entry.fY);
    // the restarted server restored the used rows and nonces from its transcript
    expect(server.rowsUsed(deal.dealId, 1)).to.equal(1);
    const replay = await post(infer(1), {
      X: X.map((r) => r.map(String)),
      rows: 1,
      hX: entry.hX,
      nonce: entry.nonce,
      signature: await signInferenceRequest(buyer, eip712Domain(deal.chainId, deal.escrow), {
        dealId: deal.dealId,
        module: 1n,
        hX: BigInt(entry.hX),
        nonce: BigInt(entry.nonce),
      }),
    });
    expect(replay.status).to.equal(409);
  });

  describe("## refusals (each a 4xx with a reason; the server keeps serving)", function () {
    afterEach(async function () {
      const ok = await post(infer(0), await signedBody(deal, 0, xMatrix(99), T, nonce++));
      expect(ok.status, "the server must keep serving").to.equal(200);
    });

    it("Should refuse malformed JSON with 400 bad_json", async function () {
      const r = await post(infer(0), '{"X": [[1,2', true);
      expect(r.status).to.equal(400);
      expect(r.json.error).to.equal("bad_json");
      expect(r.json.reason).to.be.a("string").and.not.equal("");
    });

    it("Should refuse a non-object body and missing fields with 400", async function () {
      expect((await post(infer(0), [1, 2, 3])).json.error).to.equal("bad_request");
      const b = await signedBody(deal, 0, xMatrix(3), T, nonce++);
      delete b.hX;
      const r = await post(infer(0), b);
      expect(r.status).to.equal(400);
      expect(r.json.reason).to.match(/hX/);
    });

    it("Should refuse wrong shapes with 400 bad_shape", async function () {
      const b = await signedBody(deal, 0, xMatrix(3), T, nonce++);
      const short = { ...b, X: (b.X as string[][]).slice(0, 1) };
      const r1 = await post(infer(0), short);
      expect([r1.status, r1.json.error]).to.deep.equal([400, "bad_shape"]);
      const narrow = { ...b, X: (b.X as string[][]).map((row) => row.slice(1)) };
      const r2 = await post(infer(0), narrow);
      expect([r2.status, r2.json.error]).to.deep.equal([400, "bad_shape"]);
      expect(r2.json.reason).to.match(/DIN = 8/);
    });

    it("Should refuse NaN, Infinity, fractions, numbers and out-of-range values with 400 bad_value", async function () {
      for (const v of [
        "NaN",
        "Infinity",
        "-Infinity",
        "1.5",
        "1e3",
        "0x10",
        " 1",
        "",
        String(2n ** 40n),
        String(-(2n ** 40n)),
      ]) {
        const b = await signedBody(deal, 0, xMatrix(4), T, nonce++);
        (b.X as unknown[][])[0][3] = v;
        const r = await post(infer(0), b);
        expect([r.status, r.json.error], v).to.deep.equal([400, "bad_value"]);
        expect(r.json.reason).to.match(/X\[0\]\[3\]/);
      }
      const b = await signedBody(deal, 0, xMatrix(4), T, nonce++);
      (b.X as unknown[][])[1][0] = 12; // a JSON number, not a decimal string
      expect((await post(infer(0), b)).json.error).to.equal("bad_value");
      (b.X as unknown[][])[1][0] = null; // what JSON.stringify makes of NaN
      expect((await post(infer(0), b)).json.error).to.equal("bad_value");
      // the largest allowed magnitude is accepted by the checks (then the hX check applies)
      const edge = xMatrix(4);
      edge[0][0] = 2n ** 40n - 1n;
      edge[0][1] = -(2n ** 40n - 1n);
      expect((await post(infer(0), await signedBody(deal, 0, edge, T, nonce++))).status).to.equal(200);
    });

    it("Should refuse bad rows (out of 1..T, or non-zero padding) with 400 bad_rows", async function () {
      for (const rows of [0, T + 1, 1.5, "2"]) {
        const b = await signedBody(deal, 0, xMatrix(5), T, nonce++);
        b.rows = rows;
        expect((await post(infer(0), b)).json.error, String(rows)).to.equal("bad_rows");
      }
      const r = await post(infer(0), await signedBody(deal, 0, xMatrix(5), 1, nonce++));
      expect([r.status, r.json.error]).to.deep.equal([400, "bad_rows"]);
    });

    it("Should refuse an hX that is not activationHash(X) with 400 hx_mismatch", async function () {
      const X = xMatrix(6);
      const other = await signedBody(deal, 0, xMatrix(7), T, nonce++);
      const sig = await signInferenceRequest(buyer, eip712Domain(deal.chainId, deal.escrow), {
        dealId: deal.dealId,
        module: 0n,
        hX: BigInt(other.hX as string),
        nonce,
      });
      const r = await post(infer(0), {
        ...other,
        X: X.map((r) => r.map(String)),
        nonce: (nonce++).toString(),
        signature: sig,
      });
      expect([r.status, r.json.error]).to.deep.equal([400, "hx_mismatch"]);
      const r2 = await post(infer(0), {
        ...other,
        hX: "21888242871839275222246405745257275088548364400416034343698204186575808495617",
      });
      expect([r2.status, r2.json.error]).to.deep.equal([400, "bad_hx"]);
    });

    it("Should refuse an oversized body with 413", async function () {
      const big = JSON.stringify({ X: [["1".repeat(2_000_000)]] });
      const r = await post(infer(0), big, true);
      expect([r.status, r.json.error]).to.deep.equal([413, "body_too_large"]);
    });

    it("Should refuse an oversized body sent without a length (chunked) with 413", async function () {
      const target = new URL(infer(0));
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
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
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
          },
        );
        req.on("error", reject);
        const chunk = Buffer.alloc(64 * 1024, "1");
        req.write('{"X": [["');
        for (let i = 0; i < 8; i++) req.write(chunk);
        req.end('"]]}');
      });
      expect(status).to.equal(413);
      expect((JSON.parse(body) as { error: string }).error).to.equal("body_too_large");
    });

    it("Should refuse unknown deals, modules and routes with 404", async function () {
      const b = await signedBody(deal, 0, xMatrix(8), T, nonce++);
      expect((await post(infer(0, 999n), b)).json.error).to.equal("unknown_deal");
      expect((await post(`${url}/v1/deals/abc/modules/0/infer`, b)).status).to.equal(404);
      expect((await post(infer(2), b)).json.error).to.equal("unknown_module");
      expect((await post(`${url}/v1/deals/1/modules/-1/infer`, b)).json.error).to.equal("unknown_module");
      expect((await fetch(`${url}/v2/nothing`)).status).to.equal(404);
      expect((await post(`${url}/v1/deals/%E0%A4%A/modules/0/infer`, b)).json.error).to.equal("unknown_deal");
      expect((await fetch(`${url}/v1/deals/1/proofs/0/%E0%A4%A`)).status).to.equal(400);
      expect((await fetch(`${url}/v1/deals/1/proofs/0/123`)).status).to.equal(404);
      expect((await fetch(infer(0))).status).to.equal(405);
    });

    it("Should refuse a malformed signature with 401 and another signer's with 403", async function () {
      const b = await signedBody(deal, 0, xMatrix(9), T, nonce++);
      const r1 = await post(infer(0), { ...b, signature: "0x1234" });
      expect([r1.status, r1.json.error]).to.deep.equal([401, "bad_signature"]);
      const r2 = await post(infer(0), await signedBody(deal, 0, xMatrix(9), T, nonce++, stranger));
      expect([r2.status, r2.json.error]).to.deep.equal([403, "not_buyer"]);
      // the buyer's signature over another module does not authorise this one
      const r3 = await post(infer(1), await signedBody(deal, 0, xMatrix(9), T, nonce++));
      expect([r3.status, r3.json.error]).to.deep.equal([403, "not_buyer"]);
      // nor over another chain's domain
      const wrongDomain = await signedBody({ ...deal, chainId: 1n }, 0, xMatrix(9), T, nonce++);
      expect((await post(infer(0), wrongDomain)).status).to.equal(403);
    });

    it("Should answer garbage of every kind with a 4xx JSON error", async function () {
      const rnd = prng(99);
      const garbage: string[] = [
        "",
        "null",
        "true",
        '"X"',
        "[".repeat(30_000) + "]".repeat(30_000),
        '{"__proto__": {"X": 1}, "constructor": {"prototype": {}}}',
        '{"X": "0", "rows": 1, "hX": "0", "nonce": "0", "signature": "0x"}',
        '{"X": [[]], "rows": 1e309, "hX": -1, "nonce": {}, "signature": []}',
        JSON.stringify({
          X: Array.from({ length: T }, () => Array.from({ length: DIN }, () => "9".repeat(30))),
        }),
        "\u0000\uffff",
      ];
      for (let k = 0; k < 20; k++) {
        garbage.push(
          Buffer.from(Array.from({ length: 64 }, () => Math.floor((rnd() + 1) * 128))).toString("latin1"),
        );
      }
      for (const g of garbage) {
        const res = await fetch(infer(0), {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: g,
        });
        expect(res.status, g.slice(0, 40)).to.be.within(400, 499);
        const j = (await res.json()) as { error: string; reason: string };
        expect(j.error).to.be.a("string");
        expect(j.reason).to.be.a("string").and.not.equal("");
      }
    });

    it("Should refuse a replayed nonce with 409", async function () {
      const b = await signedBody(deal, 0, xMatrix(10), T, nonce++);
      expect((await post(infer(0), b)).status).to.equal(200);
      const r = await post(infer(0), b);
      expect([r.status, r.json.error]).to.deep.equal([409, "nonce_replayed"]);
    });
  });

  it("Should refuse calls beyond the row budget with 429 and a reason (default floor(DIN/4) rows)", async function () {
    const s = new ContributorServer({ signer: contributor, proving: { enabled: false } });
    const d2 = { ...deal, dealId: 2n };
    await s.addDeal(d2, commit.secrets);
    const u = (await s.listen()).url;
    try {
      const status = (await (await fetch(`${u}/v1/deals/2`)).json()) as { modules: { rowBudget: number }[] };
      expect(status.modules[0].rowBudget).to.equal(Math.floor(DIN / 4));
      const call = async (rows: number, m = 0) =>
        post(
          `${u}/v1/deals/2/modules/${m}/infer`,
          await signedBody(d2, m, xMatrix(11 + rows, rows), rows, nonce++),
        );
      expect((await call(1)).status).to.equal(200);
      const r = await call(2);
      expect([r.status, r.json.error]).to.deep.equal([429, "row_budget_exhausted"]);
      expect(r.json.reason).to.match(/1 of 2 remain/);
      expect((await call(1)).status).to.equal(200);
      expect((await call(1)).status).to.equal(429);
      expect((await call(1, 1)).status, "budgets are per module").to.equal(200);
      expect((await fetch(`${u}/v1/health`)).status).to.equal(200);
    } finally {
      await s.close();
    }
  });

  it("Should serve concurrent clients without overdrawing the budget or reusing nonces", async function () {
    const s = new ContributorServer({ signer: contributor, rowBudget: 12, proving: { enabled: false } });
    const d3 = { ...deal, dealId: 3n };
    await s.addDeal(d3, commit.secrets);
    const u = (await s.listen()).url;
    try {
      const clients = [0, 1, 2, 3].map(() => new RemoteLoraClient({ url: u, deal: d3, signer: buyer }));
      const calls = clients.flatMap((c, k) =>
        [0, 1, 2, 3, 4].map((i) => c.infer(0, xMatrix(100 + 10 * k + i), T)),
      );
      const results = await Promise.allSettled(calls);
      const ok = results.filter((r) => r.status === "fulfilled");
      const refused = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
      expect(ok).to.have.length(6); // 12 rows / 2 rows per call
      expect(refused).to.have.length(14);
      for (const r of refused) {
        expect(r.reason).to.be.instanceOf(RemoteError);
        expect((r.reason as RemoteError).status).to.equal(429);
      }
      expect(s.rowsUsed(3n, 0)).to.equal(12);
      // the same signed body sent twice at once: exactly one answer
      const b = await signedBody(d3, 1, xMatrix(5), T, nonce++);
      const twice = await Promise.all([
        post(`${u}/v1/deals/3/modules/1/infer`, b),
        post(`${u}/v1/deals/3/modules/1/infer`, b),
      ]);
      expect(twice.map((r) => r.status).sort()).to.deep.equal([200, 409]);
    } finally {
      await s.close();
    }
  });

  describe("## the client rejects tampered answers", function () {
    const Xt = () => xMatrix(42);
    async function through(
      tamper: (b: Record<string, unknown>) => Promise<Record<string, unknown>> | Record<string, unknown>,
    ) {
      const proxy = await tamperingProxy(url, tamper);
      try {
        const client = new RemoteLoraClient({ url: proxy.url, deal, signer: buyer });
        await client.infer(0, Xt(), T);
        expect(client.entries).to.have.length(1);
        return null;
      } catch (err) {
        return err;
      } finally {
        await proxy.close();
      }
    }
    const bump = (b: Record<string, unknown>) => {
      const Y = (b.Y as string[][]).map((r) => r.map((v) => BigInt(v)));
      Y[0][0] += 1n;
      return Y;
    };

    it("Should accept the untampered answer through the proxy", async function () {
      expect(await through((b) => b)).to.equal(null);
    });

    it("Should reject a tampered Y (hY mismatch)", async function () {
      const err = await through((b) => ({ ...b, Y: bump(b).map((r) => r.map(String)) }));
      expect(err).to.be.instanceOf(OutputDigestMismatchError);
    });

    it("Should reject a tampered Y with a matching hY (rho no longer matches)", async function () {
      const err = await through((b) => {
        const Y = bump(b);
        return { ...b, Y: Y.map((r) => r.map(String)), hY: outputDigest(Y) };
      });
      expect(err).to.be.instanceOf(ChallengeMismatchError);
    });

    it("Should reject a tampered Y with matching hY and rho but the old fY", async function () {
      const err = await through(async (b) => {
        const Y = bump(b);
        const hY = outputDigest(Y);
        const rho = computeRho({
          chainId: deal.chainId,
          escrow: deal.escrow,
          dealId: deal.dealId,
          module: 0n,
          hX: await activationHash(Xt()),
          hY,
        });
        return { ...b, Y: Y.map((r) => r.map(String)), hY, rho: rho.toString() };
      });
      expect(err).to.be.instanceOf(FingerprintMismatchError);
    });

    it("Should reject a tampered fY", async function () {
      const err = await through((b) => ({ ...b, fY: (BigInt(b.fY as string) + 1n).toString() }));
      expect(err).to.be.instanceOf(FingerprintMismatchError);
    });

    it("Should reject a consistent forgery signed by someone other than the contributor", async function () {
      const err = await through(async (b) => {
        const Y = bump(b);
        const hY = outputDigest(Y);
        const hX = await activationHash(Xt());
        const rho = computeRho({
          chainId: deal.chainId,
          escrow: deal.escrow,
          dealId: deal.dealId,
          module: 0n,
          hX,
          hY,
        });
        const fY = fingerprint(Y, rho);
        const signature = await signInferenceResponse(stranger, eip712Domain(deal.chainId, deal.escrow), {
          dealId: deal.dealId,
          module: 0n,
          hX,
          hY,
          fY,
        });
        return {
          ...b,
          Y: Y.map((r) => r.map(String)),
          hY,
          rho: rho.toString(),
          fY: fY.toString(),
          signature,
        };
      });
      expect(err).to.be.instanceOf(ResponseSignatureError);
    });

    it("Should reject a malformed answer (Y of the wrong shape, non-integer entries, missing fields)", async function () {
      for (const tamper of [
        (b: Record<string, unknown>) => ({ ...b, Y: (b.Y as string[][]).slice(1) }),
        (b: Record<string, unknown>) => ({ ...b, Y: (b.Y as string[][]).map((r) => r.map(() => "1.5")) }),
        (b: Record<string, unknown>) => ({ ...b, fY: undefined }),
        (b: Record<string, unknown>) => ({ ...b, hY: "0x1234" }),
      ]) {
        expect(await through(tamper)).to.be.instanceOf(MalformedResponseError);
      }
    });

    it("Should reject a garbled signature", async function () {
      const err = await through((b) => ({ ...b, signature: "0x" + "ab".repeat(65) }));
      expect(err).to.be.instanceOf(ResponseSignatureError);
    });
  });

  it("Should not host a deal whose secrets do not open its C_m, nor one for another contributor", async function () {
    const s = new ContributorServer({ signer: contributor, proving: { enabled: false } });
    const bad = structuredClone(commit.secrets);
    bad.modules[0].salt += 1n;
    expect(await rejection(s.addDeal(deal, bad))).to.match(/do not open C_m/);
    expect(await rejection(s.addDeal({ ...deal, contributor: stranger.address }, commit.secrets))).to.match(
      /contributor/,
    );
  });

  it("Should read the buyer through getDealBuyer when the deal has none", async function () {
    const asked: bigint[] = [];
    const s = new ContributorServer({
      signer: contributor,
      rowBudget: 100,
      proving: { enabled: false },
      getDealBuyer: async (id) => {
        asked.push(id);
        return buyer.address;
      },
    });
    const d4 = { ...deal, dealId: 4n };
    await s.addDeal({ ...d4, buyer: undefined }, commit.secrets);
    const u = (await s.listen()).url;
    try {
      const ok = await post(
        `${u}/v1/deals/4/modules/0/infer`,
        await signedBody(d4, 0, xMatrix(1), T, nonce++),
      );
      expect(ok.status).to.equal(200);
      const no = await post(
        `${u}/v1/deals/4/modules/0/infer`,
        await signedBody(d4, 0, xMatrix(1), T, nonce++, stranger),
      );
      expect(no.status).to.equal(403);
      expect(asked).to.deep.equal([4n]);
    } finally {
      await s.close();
    }
  });

  it("Should keep the transcript file in step with the answered calls", async function () {
    await server.close();
    const st = JSON.parse(await readFile(path.join(dir, "server-transcript.json"), "utf8")) as {
      entries: unknown[];
    };
    expect(st.entries.length).to.equal(server.entries().length);
    await startMain();
  });
});
