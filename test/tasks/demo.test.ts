/**
 * `zklora:demo` on the embedded network, with the real base model stories260k: a LoRA on q_proj and
 * v_proj of one layer (2 modules, 2 real module proofs, both stories260k circuit shapes; `npm run
 * demo` runs all 5 layers), with weight delivery (the default: 2 real delivery proofs, keys
 * revealed by settleWithKeys). The report must show a settled deal whose contributor received
 * exactly the price from the escrow, a buyer that paid exactly the price, an empty escrow, the
 * contributor's delivery keys revealed, and a decrypted PEFT adapter that src/model loads and whose
 * quantized weights are the contributor's committed ones. (`--skip-delivery`, the plain flow, is not
 * rerun here: it would rerun the whole demo; its steps are the ones tested in test/e2e.)
 */
import { expect } from "chai";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import hre from "hardhat";
import type { DemoReport } from "../../src/app/demo.js";
import { Workspace } from "../../src/app/workspace.js";
import { loadPeftAdapter } from "../../src/model/index.js";
import { loadDeliveryKeys, loadManifest, loadSecrets } from "../../src/mpi/index.js";
import { quantizeLora } from "../../src/zk/index.js";

describe("# zklora:demo (embedded network, stories260k)", function () {
  this.timeout(3_600_000); // the first run on an empty cache includes the circuits' setup
  let tmp = "";

  before(async function () {
    tmp = await mkdtemp(path.join(tmpdir(), "zklora-demo-"));
  });
  after(async function () {
    await rm(tmp, { recursive: true, force: true });
  });

  it("Should settle the deal, pay the contributor exactly the price and deliver the adapter", async function () {
    const json = path.join(tmp, "report.json");
    const ws = new Workspace(path.join(tmp, "ws"));
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
    for (const k of ["propose", "deliver", "fund", "submit", "settle"] as const) {
      expect(BigInt(report.gas[k])).to.be.greaterThan(0n);
    }

    // What the buyer came for: the loss on its 8 tokens, with and without the adapter.
    expect(report.tokens).to.have.length(8);
    expect(report.tokens[0]).to.equal(1);
    expect(report.evaluation.calls).to.equal(2);
    expect(Number.isFinite(report.evaluation.base.loss)).to.equal(true);
    expect(Number.isFinite(report.evaluation.adapted.loss)).to.equal(true);
    expect(report.evaluation.adapted.loss).to.not.equal(report.evaluation.base.loss);

    // The weights, delivered with the payment: 2 delivery proofs, both ciphertexts checked by the
    // buyer before funding, and the keys in the paying transaction are the contributor's own.
    const d = report.delivery;
    if (d === null) throw new Error("the demo ran without delivery");
    expect(d.modules.map((m) => m.shape)).to.deep.equal(["stories260k_q_r4", "stories260k_v_r4"]);
    for (const m of d.modules) {
      expect(m.constraints).to.be.greaterThan(1000);
      expect(m.proveSeconds).to.be.greaterThan(0);
    }
    expect(d.checkedBeforeFunding).to.equal(2);
    const keys = await loadDeliveryKeys(ws.dir);
    expect(keys).to.have.length(2);
    expect(d.keysRevealed).to.deep.equal(keys.map(String));
    expect(d.keysTx).to.match(/^0x[0-9a-f]{64}$/);

    // The buyer's decrypted adapter (in its own folder) loads with src/model's PEFT loader and its
    // quantized weights are exactly the contributor's committed ones.
    expect(d.adapterMatches).to.equal(true);
    expect(d.adapterDir).to.equal(path.join(ws.dir, "buyer", "delivered-adapter"));
    const adapter = await loadPeftAdapter(d.adapterDir);
    const manifest = await loadManifest(ws.manifest);
    const secrets = await loadSecrets(ws.secrets, manifest);
    expect(adapter.modules.map((m) => m.name).sort()).to.deep.equal(
      manifest.modules.map((m) => m.target).sort(),
    );
    expect(adapter.scaling).to.equal(2); // alpha 8 / r 4
    for (const m of manifest.modules) {
      const a = adapter.modules.find((x) => x.name === m.target);
      if (a === undefined) throw new Error(`no module ${m.target} in the delivered adapter`);
      const q = quantizeLora(a.loraA, a.loraB, m.R, m.DIN, m.DOUT, m.scales.fa, m.scales.fb);
      expect(q.A).to.deep.equal(secrets.modules[m.index].A);
      expect(q.B).to.deep.equal(secrets.modules[m.index].B);
    }
    // Run locally by the buyer, the delivered adapter gives the loss the remote evaluation measured
    // (up to the activations' quantization).
    expect(Math.abs(d.localEvaluation.loss - report.evaluation.adapted.loss)).to.be.lessThan(0.01);
    expect(Math.abs(d.localEvaluation.loss - report.evaluation.base.loss)).to.be.greaterThan(0);

    const written = JSON.parse(await readFile(json, "utf8")) as DemoReport;
    expect(written).to.include({ status: "Settled", dealId: report.dealId });
    expect(written.delivery?.adapterMatches).to.equal(true);
  });
});
