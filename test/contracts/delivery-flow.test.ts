/**
 * The weight-delivery steps behind the tasks (src/app/delivery.ts), end to end on the tiny shape
 * with real proofs: propose --deliver → zklora:deliver → the buyer fetches the ciphertexts from
 * the contributor's server (GET /v1/deals/:id/ciphertexts/:m) and checks them → fund → prove and
 * submit → zklora:reveal → zklora:decrypt writes a PEFT adapter that loads and re-quantizes to the
 * committed weights. Plus: a swapped published ciphertext is caught before funding.
 */
import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { ZkloraClient, addressesOf } from "../../src/chain/index.js";
import { checkDeliveryStep, decryptStep, deliverStep, revealStep } from "../../src/app/delivery.js";
import { UsageError } from "../../src/app/errors.js";
import { proposeStep, startServe } from "../../src/app/steps.js";
import { Workspace } from "../../src/app/workspace.js";
import { loadPeftAdapter } from "../../src/model/index.js";
import {
  DeliveryError,
  deliveryFiles,
  deliveryToJson,
  loadDelivery,
  secretsToJson,
  writeJsonAtomic,
  type CommitManifest,
} from "../../src/mpi/index.js";
import { quantizeLora, weightCommitment, type CircuitArtifacts, type Shape } from "../../src/zk/index.js";
import {
  deployFixture,
  entryArgs,
  ethers,
  makeEntry,
  makeWeights,
  matrix,
  networkHelpers,
  proveEntry,
  tinyCircuit,
  tinyShape,
  type Weights,
} from "./fixture.js";

describe("# delivery steps (tasks' library): deliver, check, reveal, decrypt", function () {
  let art: CircuitArtifacts;
  let shape: Shape;
  let W: Weights[];
  let root: string;

  before(async function () {
    shape = await tinyShape();
    art = await tinyCircuit();
    W = [await makeWeights(shape, 41), await makeWeights(shape, 42)];
    root = await mkdtemp(path.join(tmpdir(), "zklora-delivery-flow-"));
  });
  after(async function () {
    await rm(root, { recursive: true, force: true });
  });

  function manifest(): CommitManifest {
    return {
      version: 1,
      baseModel: { sha256: "ab".repeat(32), configSha256: "cd".repeat(32) },
      adapter: { r: shape.R, lora_alpha: shape.R, target_modules: ["q_proj", "v_proj"] },
      modules: W.map((w, i) => ({
        index: i,
        target: `model.layers.0.self_attn.${i === 0 ? "q" : "v"}_proj`,
        layer: 0,
        module: i === 0 ? "q_proj" : "v_proj",
        DIN: shape.DIN,
        R: shape.R,
        DOUT: shape.DOUT,
        shape: { name: shape.name, T: shape.T, DIN: shape.DIN, R: shape.R, DOUT: shape.DOUT },
        shapeId: art.shapeId,
        scales: { fx: 10, fa: 12, fb: 12 },
        scaling: 1,
        C_m: w.commitment.toString(),
      })),
    };
  }

  async function contributorWorkspace(name: string): Promise<Workspace> {
    const ws = await new Workspace(path.join(root, name)).ensure();
    const m = manifest();
    await writeJsonAtomic(ws.manifest, m);
    await writeJsonAtomic(
      ws.secrets,
      secretsToJson({
        version: 1,
        modules: W.map((w, i) => ({ index: i, target: m.modules[i].target, A: w.A, B: w.B, salt: w.salt })),
      }),
      0o600,
    );
    return ws;
  }

  it("Should run a delivery deal through the steps and hand the buyer a loadable adapter", async function () {
    const f = await networkHelpers.loadFixture(deployFixture);
    const addresses = addressesOf(f.deployment.record);
    const seller = await ZkloraClient.connect(f.contributor, addresses);
    const buyerClient = await ZkloraClient.connect(f.buyer, addresses);
    const cws = await contributorWorkspace("contributor");
    const { dealId } = await proposeStep({
      workspace: cws,
      client: seller,
      price: ethers.parseEther("1"),
      buyer: await f.buyer.getAddress(),
      provingWindow: 3600,
      delivery: true,
    });
    const delivered = await deliverStep({ workspace: cws, client: seller });
    expect(delivered.txs).to.have.length(2);
    // A second run reuses the files and submits nothing.
    expect((await deliverStep({ workspace: cws, client: seller })).txs).to.have.length(0);

    // The buyer gets deal.json and fetches the ciphertexts from the contributor's server.
    const bws = await new Workspace(path.join(root, "buyer")).ensure();
    await copyFile(cws.deal, bws.deal);
    const { server, url } = await startServe({
      workspace: cws,
      signer: f.contributor,
      provingConcurrency: 0,
    });
    try {
      const res = await fetch(`${url}/v1/deals/${dealId}/ciphertexts/7`);
      expect(res.status).to.equal(404);
      await checkDeliveryStep({ workspace: bws, client: buyerClient, url });
    } finally {
      await server.close();
    }
    expect((await loadDelivery(bws.dir, 1)).hC).to.equal(delivered.deliveries[1].hC);

    // Fund, prove, submit (as in zklora:fund / prove / submit).
    const X = [matrix(shape.T, shape.DIN, 51, 400), matrix(shape.T, shape.DIN, 52, 400)];
    const entries = await Promise.all(W.map((w, m) => makeEntry(f, dealId, m, w, X[m])));
    await buyerClient.fund(dealId, entryArgs(entries));
    const proofs = await Promise.all(entries.map((e, m) => proveEntry(art, W[m], e)));
    await seller.submitMany(
      dealId,
      proofs.map((p, i) => ({ entryIndex: i, ...p })),
    );
    const err = await decryptStep({ workspace: bws, client: buyerClient }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(UsageError);

    const contributor = await f.contributor.getAddress();
    const before = await ethers.provider.getBalance(contributor);
    const { tx } = await revealStep({ workspace: cws, client: seller });
    expect((await ethers.provider.getBalance(contributor)) - before).to.equal(
      ethers.parseEther("1") - tx.fee,
    );

    const out = await decryptStep({ workspace: bws, client: buyerClient });
    expect(out.modules).to.equal(2);
    const adapter = await loadPeftAdapter(out.dir);
    for (const [i, m] of adapter.modules.entries()) {
      const q = quantizeLora(m.loraA, m.loraB, m.R, m.DIN, m.DOUT, 12, 12);
      expect(q).to.deep.equal({ A: W[i].A, B: W[i].B });
      expect(await weightCommitment(q.A, q.B, W[i].salt)).to.equal(W[i].commitment);
    }
  });

  it("Should stop the buyer before funding when a published ciphertext is not the proven one", async function () {
    const f = await networkHelpers.loadFixture(deployFixture);
    const addresses = addressesOf(f.deployment.record);
    const seller = await ZkloraClient.connect(f.contributor, addresses);
    const cws = await contributorWorkspace("contributor-2");
    await proposeStep({
      workspace: cws,
      client: seller,
      price: ethers.parseEther("1"),
      buyer: await f.buyer.getAddress(),
      provingWindow: 3600,
      delivery: true,
    });
    const bws = await new Workspace(path.join(root, "buyer-2")).ensure();
    await copyFile(cws.deal, bws.deal);
    const reader = await ZkloraClient.connect(f.buyer, addresses);
    // Nothing proven yet: refuse.
    expect(
      await checkDeliveryStep({ workspace: bws, client: reader }).catch((e: unknown) => e),
    ).to.be.instanceOf(UsageError);
    const { deliveries } = await deliverStep({ workspace: cws, client: seller });
    // The buyer receives module 0's file with module 1's ciphertext in it.
    const files = deliveryFiles(bws.dir);
    await mkdir(files.dir, { recursive: true });
    await writeJsonAtomic(
      files.module(0),
      deliveryToJson({ ...deliveries[0], ciphertext: deliveries[1].ciphertext }),
    );
    await writeJsonAtomic(files.module(1), deliveryToJson(deliveries[1]));
    const err = await checkDeliveryStep({ workspace: bws, client: reader }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(DeliveryError);
    expect((err as DeliveryError).code).to.equal("hc_mismatch");
  });
});
