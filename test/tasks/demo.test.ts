/**
 * `zklora:demo` on the embedded network, with the real base model stories260k: a rank-8 LoRA on
 * q_proj and v_proj of one layer (2 modules, both stories260k shapes, 2 real module proofs under
 * the buyer's own deal keys; `npm run demo` runs all 5 layers). The report must show a settled deal
 * whose contributor received exactly the price from the escrow, a buyer that paid exactly the
 * price, an empty escrow, one proof per module covering all its rows, and the call logs and proof
 * files the steps write, and the weights delivered with the payment: a decrypted PEFT adapter whose
 * weights reproduce every row the buyer evaluated.
 */
import { expect } from "chai";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import hre from "hardhat";
import type { DemoReport } from "../../src/app/demo.js";
import { Workspace } from "../../src/app/workspace.js";
import { loadPeftAdapter } from "../../src/model/index.js";
import { loadDealContext, readCallLog, readServerCalls, rowsOf } from "../../src/mpi/index.js";

describe("# zklora:demo (embedded network, stories260k)", function () {
  this.timeout(3_600_000); // the first run on an empty cache includes the shapes' key setup
  let tmp = "";

  before(async function () {
    tmp = await mkdtemp(path.join(tmpdir(), "zklora-demo-"));
  });
  after(async function () {
    await rm(tmp, { recursive: true, force: true });
  });

  it("Should settle the deal and pay the contributor exactly the price, one proof per module", async function () {
    const json = path.join(tmp, "report.json");
    const ws = new Workspace(path.join(tmp, "ws"));
    const report = (await hre.tasks.getTask("zklora:demo").run({
      workspace: ws.dir,
      layers: "0",
      rank: 8,
      tokens: 8,
      json,
    })) as DemoReport;

    expect(report.status).to.equal("Settled");
    expect(report.modules.map((m) => m.target)).to.deep.equal([
      "model.layers.0.self_attn.q_proj",
      "model.layers.0.self_attn.v_proj",
    ]);
    // q: 64 -> 64, v: 64 -> 32 (4 heads, 2 of them for keys and values)
    expect(report.modules.map((m) => m.shape)).to.deep.equal(["v2_i64_r8_o64", "v2_i64_r8_o32"]);
    for (const m of report.modules) expect(m.constraints).to.be.greaterThan(500);
    expect(report.rows).to.deep.equal([8, 8]);

    // Money: exactly the price moved from the buyer through the escrow to the contributor.
    const price = BigInt(report.price);
    expect(price).to.equal(10n ** 18n);
    expect(BigInt(report.balances.contributor.received)).to.equal(price);
    expect(BigInt(report.balances.buyer.paid)).to.equal(price);
    expect(BigInt(report.balances.contributor.after) - BigInt(report.balances.contributor.before)).to.equal(
      price - BigInt(report.balances.contributor.fees),
    );
    expect(report.balances.escrow).to.deep.equal({ before: "0", after: "0" });
    for (const k of ["deploy", "register", "propose", "fund", "submit", "settle"] as const) {
      expect(BigInt(report.gas[k])).to.be.greaterThan(0n);
    }

    // What the buyer came for: the loss on its 8 tokens, with and without the adapter.
    expect(report.tokens).to.have.length(8);
    expect(report.tokens[0]).to.equal(1);
    expect(report.evaluation.calls).to.equal(2);
    expect(Number.isFinite(report.evaluation.adapted.loss)).to.equal(true);
    expect(report.evaluation.adapted.loss).to.not.equal(report.evaluation.base.loss);

    // Both sides recorded the same rows, in the same order; the proofs cover them.
    const deal = await loadDealContext(ws.deal);
    const server = await readServerCalls(ws.serverDb);
    const buyer = await readCallLog(ws.buyerCalls);
    for (const m of [0, 1]) {
      expect(rowsOf(buyer, deal, m)).to.deep.equal(rowsOf(server, deal, m));
      const proof = JSON.parse(await readFile(ws.proofFile(m), "utf8")) as { claim: { module: number } };
      expect(proof.claim.module).to.equal(m);
    }

    // The weights came with the payment: decrypted, reproducing every evaluated row, as a PEFT adapter.
    expect(report.delivery?.wrapProofs).to.equal(1);
    expect(report.delivery?.rowsReproduced).to.equal(16);
    expect(report.delivery?.modules.map((m) => m.chunks)).to.deep.equal([2, 2]);
    const adapter = await loadPeftAdapter(path.join(ws.dir, "delivered-adapter"));
    expect(adapter.modules.map((m) => m.name)).to.deep.equal([
      "model.layers.0.self_attn.q_proj",
      "model.layers.0.self_attn.v_proj",
    ]);

    const written = JSON.parse(await readFile(json, "utf8")) as DemoReport;
    expect(written).to.include({ status: "Settled", dealId: report.dealId });
  });
});
