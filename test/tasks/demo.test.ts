/**
 * `zklora:demo` on the embedded network, with the real base model stories260k: a LoRA on q_proj and
 * v_proj of one layer (2 modules, 2 real proofs, both stories260k circuit shapes; `npm run demo`
 * runs all 5 layers). The report must show a settled deal whose contributor received exactly the
 * price from the escrow, a buyer that paid exactly the price, and an empty escrow.
 */
import { expect } from "chai";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import hre from "hardhat";
import type { DemoReport } from "../../src/app/demo.js";

describe("# zklora:demo (embedded network, stories260k)", function () {
  this.timeout(3_600_000); // the first run on an empty cache includes the circuits' setup
  let tmp = "";

  before(async function () {
    tmp = await mkdtemp(path.join(tmpdir(), "zklora-demo-"));
  });
  after(async function () {
    await rm(tmp, { recursive: true, force: true });
  });

  it("Should settle the deal and pay the contributor exactly the price", async function () {
    const json = path.join(tmp, "report.json");
    const report = (await hre.tasks.getTask("zklora:demo").run({
      workspace: path.join(tmp, "ws"),
      layers: "0",
      tokens: "8",
      json,
    })) as DemoReport;

    expect(report.status).to.equal("Settled");
    expect(report.modules.map((m) => m.target)).to.deep.equal([
      "model.layers.0.self_attn.q_proj",
      "model.layers.0.self_attn.v_proj",
    ]);
    expect(report.modules.map((m) => m.shape)).to.deep.equal(["stories260k_q_t8_r4", "stories260k_v_t8_r4"]);
    for (const m of report.modules) expect(m.constraints).to.be.greaterThan(1000);
    expect(report.proofs).to.have.length(2);
    for (const p of report.proofs) {
      expect(p.proveSeconds).to.be.greaterThan(0);
      expect(p.verifySeconds).to.be.greaterThan(0);
    }

    // Money: exactly the price moved from the buyer through the escrow to the contributor.
    const price = BigInt(report.price);
    expect(price).to.equal(10n ** 18n);
    expect(BigInt(report.balances.contributor.received)).to.equal(price);
    expect(BigInt(report.balances.buyer.paid)).to.equal(price);
    expect(BigInt(report.balances.contributor.after) - BigInt(report.balances.contributor.before)).to.equal(
      price - BigInt(report.balances.contributor.fees),
    );
    expect(report.balances.escrow).to.deep.equal({ before: "0", after: "0" });
    for (const k of ["propose", "fund", "submit", "settle"] as const) {
      expect(BigInt(report.gas[k])).to.be.greaterThan(0n);
    }

    // What the buyer came for: the loss on its 8 tokens, with and without the adapter.
    expect(report.tokens).to.have.length(8);
    expect(report.tokens[0]).to.equal(1);
    expect(report.evaluation.calls).to.equal(2);
    expect(Number.isFinite(report.evaluation.base.loss)).to.equal(true);
    expect(Number.isFinite(report.evaluation.adapted.loss)).to.equal(true);
    expect(report.evaluation.adapted.loss).to.not.equal(report.evaluation.base.loss);

    const written = JSON.parse(await readFile(json, "utf8")) as { status: string; dealId: string };
    expect(written).to.include({ status: "Settled", dealId: report.dealId });
  });
});
