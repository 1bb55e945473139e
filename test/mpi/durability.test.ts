/**
 * Durability of the contributor's server (PROTOCOL.md flow step 3: "every answered call durably
 * recorded before the reply"; issue #17's acceptance): a server in a child process
 * (test/mpi/server-child.ts) answers 1,000 signed calls sent 16 at a time on loopback and is killed
 * with SIGKILL at random points, three times, each time restarted on the same database while the
 * buyer retries what was cut off. The killed servers commit with `sync: "normal"` (the weaker
 * setting; "full" also syncs each commit). Afterwards:
 * - every call that got a 200 is in the database, as answered, and each nonce is there once;
 * - the rows used of each adapter module equal the sum of the accepted rows;
 * - a replayed signed request gets 409 (with the recorded answer attached, nothing charged);
 * - every acknowledged call can be proven: the buyer's fold of its answers passes the contributor's
 *   check over the database's rows, and a real proof over all of them verifies.
 */
import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { PROJECT_ROOT } from "../../src/common/cache.js";
import {
  ContributorServer,
  readServerCalls,
  rowsOf,
  saveCommit,
  saveDealContext,
  CallStore,
} from "../../src/mpi/index.js";
import type { CommitResult, DealContext, InferRequestBody, InferResponseBody } from "../../src/mpi/index.js";
import { checkFoldedEntry, foldEntry, proveV2 } from "../../src/zk/v2/index.js";
import {
  contributor,
  dealOf,
  inferUrl,
  post,
  prng,
  signedBody,
  tinyCommit,
  tinyKey,
  xRows,
} from "./fixtures.js";

const CALLS = 1000;
const CONCURRENCY = 16;
const KILLS = 3;

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

interface Call {
  module: number;
  rows: number;
  body: InferRequestBody;
  answer?: InferResponseBody;
  /** How the answer came: a 200, or a 409 replay carrying the recorded answer after a cut-off call. */
  via?: 200 | 409;
}

describe("# mpi v2 durability: 1,000 calls, the server killed with SIGKILL at random points", function () {
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

  it("Should keep every 200-answered call, charge exactly the accepted rows, refuse replays with 409, and prove every call", async function () {
    const files = {
      manifest: path.join(dir, "manifest.json"),
      secrets: path.join(dir, "secrets.json"),
      deal: path.join(dir, "deal.json"),
      db: path.join(dir, "server.sqlite"),
    };
    await saveCommit(files, commit);
    await saveDealContext(files.deal, deal);
    const rnd = prng(17);
    const calls: Call[] = [];
    for (let i = 0; i < CALLS; i++) {
      const module = i % 2;
      const rows = 1 + (i % 3);
      calls.push({ module, rows, body: await signedBody(deal, module, xRows(rows, 500 + i), BigInt(i + 1)) });
    }

    // kill points: after a random number of answers in each third of the run
    const killAt = Array.from({ length: KILLS }, (_, k) =>
      Math.floor(((k + 0.2 + 0.6 * rnd()) * CALLS) / (KILLS + 1)),
    );
    let url = "";
    let answered = 0;
    let kills = 0;
    let cutOff = 0;
    let restarting: Promise<void> | null = null;
    const start = async () => {
      // the killed servers commit with sync "normal" (the WAL synced at checkpoints only): the
      // weaker setting must keep every answered call across a killed process too
      const s = startChild([files.deal, files.secrets, files.db, "1000000", "normal"]);
      child = s.child;
      url = await s.url;
    };
    const restart = () =>
      (restarting ??= (async () => {
        const c = child!;
        if (c.exitCode === null && c.signalCode === null) {
          const gone = new Promise((r) => c.once("exit", r));
          c.kill("SIGKILL");
          await gone;
        }
        kills++;
        await start();
        restarting = null;
      })());
    await start();

    // 16 senders; a call cut off by a kill is sent again (the same signed request) after the restart
    const queue = [...calls];
    const sender = async () => {
      for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
        for (;;) {
          if (restarting !== null) await restarting;
          const target = url;
          let r: Awaited<ReturnType<typeof post>>;
          try {
            r = await post(inferUrl(target, deal.dealId, c.module), c.body);
          } catch {
            cutOff++;
            if (url === target) await restart();
            continue;
          }
          if (r.status === 200) {
            c.answer = r.json as unknown as InferResponseBody;
            c.via = 200;
          } else if (r.status === 409 && r.json.error === "nonce_replayed" && r.json.answer !== undefined) {
            // answered and recorded before the kill, but the answer never arrived
            c.answer = r.json.answer as InferResponseBody;
            c.via = 409;
          } else if (r.status === 409 && r.json.error === "nonce_in_flight") {
            await new Promise((res) => setTimeout(res, 20));
            continue;
          } else {
            expect.fail(`call ${c.body.nonce}: ${r.status} ${JSON.stringify(r.json)}`);
          }
          answered++;
          if (kills < KILLS && answered >= killAt[kills] && restarting === null) void restart();
          break;
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, sender));
    expect(kills).to.equal(KILLS);
    expect(cutOff, "calls cut off by the kills").to.be.greaterThan(0);
    const lateAnswers = calls.filter((c) => c.via === 409).length;
    console.log(
      `      ${CALLS} calls, ${kills} kills, ${cutOff} sends cut off, ${lateAnswers} answers recovered by replay`,
    );
    child!.kill("SIGKILL");
    await new Promise((r) => child!.once("exit", r));

    // the database as the last killed server left it
    const recs = await readServerCalls(files.db);
    expect(recs).to.have.length(CALLS);
    expect(new Set(recs.map((r) => r.nonce)).size).to.equal(CALLS);
    for (const c of calls) {
      const r = recs.find((x) => x.nonce === c.body.nonce);
      expect(r, `acknowledged call nonce ${c.body.nonce} is not in the database`).to.not.equal(undefined);
      expect(r).to.include({
        module: c.module,
        seq: c.answer!.seq,
        hY: c.answer!.hY,
        responseSignature: c.answer!.signature,
      });
      expect(r!.Y).to.deep.equal(c.answer!.Y);
    }
    const store = CallStore.open(files.db);
    const budgets = store.budgets();
    expect(store.totals()).to.deep.equal({ calls: CALLS, rows: calls.reduce((s, c) => s + c.rows, 0) });
    expect(store.hostedDeals().map((d) => d.dealId)).to.deep.equal([deal.dealId]);
    await store.close();

    // a server restarted on the same database
    const server = new ContributorServer({ signer: contributor, database: files.db, rowBudget: 1_000_000 });
    await server.addDeal(deal, commit.secrets);
    const restarted = (await server.listen()).url;
    try {
      for (const m of commit.manifest.modules) {
        const accepted = calls.filter((c) => c.module === m.index).reduce((s, c) => s + c.rows, 0);
        expect(server.rowsUsed(m), `rows used by module ${m.index}`).to.equal(accepted);
        expect([...budgets.values()].includes(accepted)).to.equal(true);
      }
      // replays of signed requests: 409, with the recorded answer, nothing charged
      for (const c of calls.filter((_, i) => i % 97 === 0)) {
        const r = await post(inferUrl(restarted, deal.dealId, c.module), c.body);
        expect([r.status, r.json.error], `replay of nonce ${c.body.nonce}`).to.deep.equal([
          409,
          "nonce_replayed",
        ]);
        expect(r.json.answer).to.deep.equal(c.answer);
      }
      for (const m of commit.manifest.modules) {
        const accepted = calls.filter((c) => c.module === m.index).reduce((s, c) => s + c.rows, 0);
        expect(server.rowsUsed(m)).to.equal(accepted);
      }
    } finally {
      await server.close();
    }

    // every acknowledged call can be proven: the buyer folds its answers in seq order, the contributor
    // checks the fold against the database's rows and proves over all of them
    const key = await tinyKey();
    for (const m of commit.manifest.modules) {
      const mine = calls.filter((c) => c.module === m.index).sort((a, b) => a.answer!.seq - b.answer!.seq);
      expect(mine.map((c) => c.answer!.seq)).to.deep.equal(mine.map((_, i) => i));
      const X = mine.flatMap((c) => c.body.X.map((row) => row.map((v) => BigInt(v))));
      const Y = mine.flatMap((c) => c.answer!.Y.map((row) => row.map((v) => BigInt(v))));
      const theirs = rowsOf(recs, deal, m.index);
      expect(theirs.X).to.deep.equal(X);
      const ctx = {
        chainId: deal.chainId,
        escrow: deal.escrow,
        dealId: deal.dealId,
        module: BigInt(m.index),
      };
      const posted = await foldEntry(key, X, Y, ctx);
      const fold = await checkFoldedEntry(key, theirs.X, theirs.Y, ctx, posted);
      const W: [bigint, bigint] = [BigInt(m.W[0]), BigInt(m.W[1])];
      const { proof } = await proveV2(key, key.zkey, fold, commit.secrets.modules[m.index], {
        D_X: fold.D_X,
        W_m: W,
      });
      expect(proof.pi_a).to.have.length(3);
    }
  });
});
