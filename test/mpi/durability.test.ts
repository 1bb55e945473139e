/**
 * Durability of the contributor's call log (PROTOCOL.md flow step 3: "every answered call durably
 * recorded before the reply"): a server in a child process (test/mpi/server-child.ts) answers ~50
 * concurrent signed calls and is killed with SIGKILL mid-way; a server restarted on the same log
 * has every call that got HTTP 200, counts exactly the logged rows against the budget, and refuses
 * an exact replay of any acknowledged request with its recorded answer (and of a call logged but cut
 * off before its answer, so the buyer's retry recovers it): both sides then hold the same rows.
 */
import { AssertionError, expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { PROJECT_ROOT } from "../../src/common/cache.js";
import { ContributorServer, readCallLog, saveCommit, saveDealContext } from "../../src/mpi/index.js";
import type { CommitResult, DealContext, InferRequestBody, InferResponseBody } from "../../src/mpi/index.js";
import { contributor, dealOf, inferUrl, post, signedBody, tinyCommit, xRows } from "./fixtures.js";

const CALLS = 50;
/** The parent sends SIGKILL when this many calls have been answered. */
const KILL_AFTER = 15;

/** Starts the child server; resolves with its URL once it prints `LISTENING <url>`. */
function startChild(args: string[]): { child: ChildProcess; url: Promise<string> } {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", path.join(PROJECT_ROOT, "test", "mpi", "server-child.ts"), ...args],
    { cwd: PROJECT_ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  const url = new Promise<string>((resolve, reject) => {
    let out = "";
    let err = "";
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /LISTENING (\S+)\n/.exec(out);
      if (m) resolve(m[1]);
    });
    child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
    child.on("exit", (code, signal) =>
      reject(new Error(`the server child exited (${code ?? signal}) before listening: ${err}`)),
    );
  });
  return { child, url };
}

describe("# mpi v2 durability: a server killed with SIGKILL mid-way keeps every answered call", function () {
  let dir: string;
  let commit: CommitResult;
  let deal: DealContext;
  let child: ChildProcess | undefined;

  before(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), "zklora-mpi-durable-"));
    commit = await tinyCommit(9);
    deal = dealOf(commit, 31n);
  });

  after(async function () {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  it("Should find every 200-answered call in the log after a restart, count the logged rows, and answer retries from the log", async function () {
    const files = {
      manifest: path.join(dir, "manifest.json"),
      secrets: path.join(dir, "secrets.json"),
      deal: path.join(dir, "deal.json"),
      log: path.join(dir, "calls.jsonl"),
    };
    await saveCommit(files, commit);
    await saveDealContext(files.deal, deal);
    const started = startChild([files.deal, files.secrets, files.log, "1000"]);
    child = started.child;
    const url = await started.url;
    const exited = new Promise<string | null>((r) => child!.on("exit", (_code, signal) => r(signal)));

    // 50 signed calls of 1..3 rows to both modules, sent staggered over ~250 ms, all in flight together
    const calls: { module: number; body: InferRequestBody }[] = [];
    for (let i = 0; i < CALLS; i++) {
      const module = i % 2;
      calls.push({
        module,
        body: await signedBody(deal, module, xRows(1 + (i % 3), 500 + i), BigInt(i + 1)),
      });
    }
    const acked: { module: number; body: InferRequestBody; answer: InferResponseBody }[] = [];
    const outcomes = await Promise.allSettled(
      calls.map(async ({ module, body }, i) => {
        await new Promise((r) => setTimeout(r, 5 * i));
        const r = await post(inferUrl(url, deal.dealId, module), body);
        expect(r.status, JSON.stringify(r.json)).to.equal(200);
        acked.push({ module, body, answer: r.json as unknown as InferResponseBody });
        if (acked.length === KILL_AFTER) child!.kill("SIGKILL");
      }),
    );
    expect(await exited).to.equal("SIGKILL");
    const rejected = outcomes.filter((o) => o.status === "rejected");
    // a call either got its 200 or lost its connection: no server ever answered with an error
    for (const o of rejected) expect(o.reason).to.not.be.instanceOf(AssertionError);
    const failed = rejected.length;
    expect(acked.length, "calls answered before the kill").to.be.at.least(KILL_AFTER);
    expect(failed, "calls cut off by the kill").to.be.greaterThan(0);
    expect(acked.length + failed).to.equal(CALLS);

    // the log as the killed server left it: every acknowledged call is there, as answered
    const recs = await readCallLog(files.log);
    expect(recs.length).to.be.at.least(acked.length);
    for (const a of acked) {
      const r = recs.find((x) => x.module === a.module && x.nonce === a.body.nonce);
      expect(r, `acknowledged call nonce ${a.body.nonce} is not in the log`).to.not.equal(undefined);
      expect(r).to.include({ seq: a.answer.seq, hY: a.answer.hY, responseSignature: a.answer.signature });
      expect(r!.Y).to.deep.equal(a.answer.Y);
    }

    // a server restarted on the same log
    const server = new ContributorServer({ signer: contributor, logFile: files.log, rowBudget: 1000 });
    await server.addDeal(deal, commit.secrets);
    const restarted = (await server.listen()).url;
    try {
      for (const m of commit.manifest.modules) {
        const logged = recs.filter((r) => r.adapterModule === m.W[0]).reduce((s, r) => s + r.rows, 0);
        expect(server.rowsUsed(m), `rows used by module ${m.index}`).to.equal(logged);
      }
      for (const a of acked) {
        const r = await post(inferUrl(restarted, deal.dealId, a.module), a.body);
        expect(r.status, `replay of nonce ${a.body.nonce}`).to.equal(200);
        expect(r.json).to.include({ seq: a.answer.seq, hY: a.answer.hY, signature: a.answer.signature });
      }
      // a call the server logged but whose answer the kill cut off: the buyer's retry gets the logged
      // answer, so the buyer's rows and the contributor's agree
      const lost = recs.filter((r) => !acked.some((a) => a.body.nonce === r.nonce));
      for (const r of lost) {
        const body = { X: r.X, hX: r.hX, nonce: r.nonce, signature: r.requestSignature };
        const res = await post(inferUrl(restarted, deal.dealId, r.module), body);
        expect(res.status, `retry of logged nonce ${r.nonce}`).to.equal(200);
        expect(res.json).to.include({ seq: r.seq, hY: r.hY, signature: r.responseSignature });
      }
      for (const m of commit.manifest.modules) {
        const logged = recs.filter((r) => r.adapterModule === m.W[0]).reduce((s, r) => s + r.rows, 0);
        expect(server.rowsUsed(m), `rows used by module ${m.index} after the retries`).to.equal(logged);
      }
      // a fresh call continues the module's sequence after every logged call
      const next = await post(
        inferUrl(restarted, deal.dealId, 0),
        await signedBody(deal, 0, xRows(1, 999), 10_000n),
      );
      expect(next.status).to.equal(200);
      const seqs = recs.filter((r) => r.module === 0).map((r) => r.seq);
      expect(next.json.seq).to.equal(Math.max(...seqs) + 1);
    } finally {
      await server.close();
    }
    expect(await readCallLog(files.log)).to.have.length(recs.length + 1);
  });
});
