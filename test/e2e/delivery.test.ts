/**
 * End-to-end weight delivery (zero-knowledge contingent payment) over a real `hardhat node`, every
 * step a task run as its own process over JSON-RPC, contributor and buyer in separate workspaces:
 * deploy → commit → propose --deliver → serve / infer → (fund refused: no deliveries) → deliver
 * (ciphertexts as files) → the buyer's check-delivery on its copies → fund → prove → submit →
 * (settle refused: keys required; decrypt refused: no keys yet) → reveal (keys + payment in one
 * transaction) → decrypt writes a PEFT adapter, which the project's PEFT loader reads back to the
 * contributor's committed quantized weights. Fixtures as test/e2e/deal.test.ts: a tiny generated
 * Llama (hidden 8, 2 layers) with a rank-2 adapter on q_proj/v_proj, so every module uses the
 * committed shapes t2_i8_r2_o8 (module proofs) and i8_r2_o8 (delivery proofs).
 */
import { expect } from "chai";
import { copyFile, mkdir, readFile, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { JsonRpcProvider, getAddress, parseEther } from "ethers";
import { ZkloraClient, addressesOf } from "../../src/chain/index.js";
import { getDeliveries, revealedKeys } from "../../src/chain/delivery.js";
import { parseDeployment } from "../../src/chain/deployments.js";
import { loadPeftAdapter } from "../../src/model/index.js";
import { loadDealContext, loadDelivery, loadManifest, loadSecrets } from "../../src/mpi/index.js";
import { quantizeLora, weightCommitment } from "../../src/zk/index.js";
import { Background, HARDHAT_CLI, hardhat, hardhatOk, startE2e, stopE2e, type E2eEnv } from "./helpers.js";

describe("# end-to-end weight delivery over JSON-RPC (hardhat node + tasks)", function () {
  this.timeout(900_000);
  let e2e: E2eEnv | undefined;
  let serve: Background | undefined;
  let rpc = "";
  let tmp = "";
  let env: NodeJS.ProcessEnv = {};

  before(async function () {
    e2e = await startE2e("zklora-e2e-delivery-", { modelSeed: 7, adapterSeed: 11, tokens: [1, 9] });
    ({ tmp, rpc, env } = e2e);
  });

  after(async function () {
    await stopE2e(e2e, serve);
  });

  it("Should sell the weights through the tasks: keys and exactly the price in one transaction, and a decrypted adapter equal to the committed one", async function () {
    const net = ["--network", "localhost"];
    const sellerDir = path.join(tmp, "seller");
    const buyerDir = path.join(tmp, "buyer");
    const seller = ["--workspace", sellerDir];
    const buyerWs = ["--workspace", buyerDir];
    const fails = async (args: string[], re: RegExp) => {
      const r = await hardhat([...net, ...args], env);
      expect(r.code, `${args.join(" ")} should fail:\n${r.stdout}`).to.not.equal(0);
      expect(r.stdout + r.stderr).to.match(re);
    };

    await hardhatOk([...net, "zklora:deploy"], env);
    const record = parseDeployment(
      JSON.parse(await readFile(path.join(tmp, "deployments", "localhost.json"), "utf8")),
    );
    expect((record.deliveryShapes ?? []).map((d) => d.name)).to.include("i8_r2_o8");
    const provider = new JsonRpcProvider(rpc, undefined, { staticNetwork: true });
    const accounts = ((await provider.send("eth_accounts", [])) as string[]).map((a) => getAddress(a));
    const [, contributor, buyer] = accounts;
    const client = await ZkloraClient.connect(provider, addressesOf(record));
    const escrow = record.contracts.LoraEscrow.address;
    const start = {
      contributor: await provider.getBalance(contributor),
      buyer: await provider.getBalance(buyer),
    };

    // Contributor: commit and propose a delivery deal.
    const commit = await hardhatOk(
      [
        ...net,
        "zklora:commit",
        ...seller,
        "--model",
        path.join(tmp, "model"),
        "--adapter",
        path.join(tmp, "adapter"),
        "--rows",
        "2",
      ],
      env,
    );
    expect(commit).to.match(/committed 4 modules/);
    const proposed = await hardhatOk(
      [
        ...net,
        "zklora:propose",
        ...seller,
        "--from",
        "1",
        "--price",
        "0.3",
        "--buyer",
        "2",
        "--window",
        "3600",
        "--deliver",
      ],
      env,
    );
    expect(proposed).to.match(/the deal delivers its weights: run zklora:deliver/);
    const dealId = BigInt(/proposed deal (\d+)/.exec(proposed)?.[1] ?? "0");
    expect(dealId).to.equal(1n);
    expect(await client.escrow.deliveryRequired(dealId)).to.equal(true);

    // The buyer receives the public deal.json (it embeds the manifest) and evaluates the adapter.
    await mkdir(buyerDir, { recursive: true });
    await copyFile(path.join(sellerDir, "deal.json"), path.join(buyerDir, "deal.json"));
    serve = new Background(process.execPath, [HARDHAT_CLI, ...net, "zklora:serve", ...seller], env);
    const url = (await serve.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/))[1];
    const infer = await hardhatOk(
      [
        ...net,
        "zklora:infer",
        ...buyerWs,
        "--url",
        url,
        "--model",
        path.join(tmp, "model"),
        "--tokens",
        path.join(tmp, "tokens.json"),
      ],
      env,
    );
    expect(infer).to.match(/remote calls 4/);
    // No ciphertext published yet, and the escrow refuses the buyer's deposit without deliveries.
    expect((await fetch(`${url}/v1/deals/${dealId}/ciphertexts/0`)).status).to.equal(404);
    await fails(["zklora:fund", ...buyerWs], /DeliveriesMissing: deal 1 still lacks 4 proven deliveries/);

    // Contributor: encrypt, prove and submit the deliveries; ciphertexts as public files, keys private.
    const delivered = await hardhatOk([...net, "zklora:deliver", ...seller], env);
    expect(delivered).to.match(/deal 1: 4 deliveries proven on-chain \(4 submitted now/);
    const files = (await readdir(path.join(sellerDir, "deliveries"))).sort();
    expect(files).to.deep.equal([0, 1, 2, 3].map((m) => `module-${m}.json`));
    expect((await stat(path.join(sellerDir, "delivery-keys.json"))).mode & 0o777).to.equal(0o600);
    const onchain = await getDeliveries(client, dealId);
    expect(onchain.map((d) => d.proven)).to.deep.equal([true, true, true, true]);
    // The server publishes the same file the contributor wrote.
    const served = (await (await fetch(`${url}/v1/deals/${dealId}/ciphertexts/2`)).json()) as unknown;
    expect(served).to.deep.equal(
      JSON.parse(await readFile(path.join(sellerDir, "deliveries", "module-2.json"), "utf8")),
    );

    // Buyer: gets the ciphertext files and checks them against the escrow before funding.
    await mkdir(path.join(buyerDir, "deliveries"), { recursive: true });
    for (const f of files) {
      await copyFile(path.join(sellerDir, "deliveries", f), path.join(buyerDir, "deliveries", f));
    }
    const checked = await hardhatOk([...net, "zklora:check-delivery", ...buyerWs], env);
    expect(checked).to.match(/deal 1: the 4 published ciphertexts match the proven deliveries; safe to fund/);
    for (const m of [0, 1, 2, 3]) {
      const d = await loadDelivery(buyerDir, m);
      expect([d.hK, d.hC]).to.deep.equal([onchain[m].hK, onchain[m].hC]);
    }

    const funded = await hardhatOk([...net, "zklora:fund", ...buyerWs], env);
    expect(funded).to.match(/funded deal 1 with 0\.3 ETH and 4 entries to prove/);
    expect(await provider.getBalance(escrow)).to.equal(parseEther("0.3"));

    // Contributor proves; a third account submits. Proven, but not payable without the keys.
    expect(await hardhatOk([...net, "zklora:prove", ...seller, "--jobs", "1"], env)).to.match(
      /wrote 4 proofs/,
    );
    expect(await hardhatOk([...net, "zklora:submit", ...seller, "--from", "3"], env)).to.match(/0 unproven/);
    await fails(
      ["zklora:settle", ...seller, "--from", "3"],
      /KeysRequired: deal 1 delivers weights: settle it with the delivery keys \(the contributor runs zklora:reveal/,
    );
    await fails(["zklora:decrypt", ...buyerWs], /deal 1 has revealed no keys yet/);
    expect(await serve.stop("SIGINT")).to.equal(0);

    // Contributor: reveal the keys and get paid in one transaction.
    const revealed = await hardhatOk([...net, "zklora:reveal", ...seller], env);
    expect(revealed).to.match(new RegExp(`deal 1: keys revealed and 0\\.3 ETH paid to ${contributor}`));
    expect((await client.getDeal(dealId)).status).to.equal("Settled");
    expect(await provider.getBalance(escrow)).to.equal(0n);
    const keysFile = JSON.parse(await readFile(path.join(sellerDir, "delivery-keys.json"), "utf8")) as {
      keys: string[];
    };
    const keys = await revealedKeys(client, dealId);
    expect(keys?.keys.map(String)).to.deep.equal(keysFile.keys);

    // Exactly the price moved: the contributor got it minus its own fees (propose, 4 deliveries,
    // reveal), the buyer paid it plus the fund fee.
    const feeOf = async (hash: string) => {
      const r = await provider.getTransactionReceipt(hash);
      if (r === null) throw new Error(`no receipt ${hash}`);
      return r.gasUsed * r.gasPrice;
    };
    const [proposedLog] = await client.queryEvents("DealProposed", { dealId });
    const [fundedLog] = await client.queryEvents("DealFunded", { dealId });
    const deliveryLogs = await client.escrow.queryFilter(client.escrow.filters.DeliveryProven(dealId));
    expect(deliveryLogs).to.have.length(4);
    let contributorFees =
      (await feeOf(proposedLog.transactionHash)) + (await feeOf(keys?.transactionHash ?? ""));
    for (const l of deliveryLogs) contributorFees += await feeOf(l.transactionHash);
    const price = parseEther("0.3");
    expect((await provider.getBalance(contributor)) - start.contributor).to.equal(price - contributorFees);
    expect(start.buyer - (await provider.getBalance(buyer))).to.equal(
      price + (await feeOf(fundedLog.transactionHash)),
    );

    // Buyer: keys from the KeysRevealed event → decrypted, checked weights → a PEFT adapter folder.
    const decrypted = await hardhatOk([...net, "zklora:decrypt", ...buyerWs], env);
    expect(decrypted).to.match(
      new RegExp(`deal 1: 4 modules decrypted with the keys of tx ${keys?.transactionHash}`),
    );
    const adapterDir = path.join(buyerDir, "delivered-adapter");
    expect(decrypted).to.include(`PEFT adapter written to ${adapterDir}`);
    expect((await readdir(adapterDir)).sort()).to.deep.equal([
      "adapter_config.json",
      "adapter_model.safetensors",
    ]);

    // The project's PEFT loader reads it back to exactly the contributor's committed weights.
    const manifest = await loadManifest(path.join(sellerDir, "manifest.json"));
    const secrets = await loadSecrets(path.join(sellerDir, "secrets.json"), manifest);
    const dealManifest = (await loadDealContext(path.join(buyerDir, "deal.json"))).manifest;
    const original = await loadPeftAdapter(path.join(tmp, "adapter"));
    const adapter = await loadPeftAdapter(adapterDir);
    expect(adapter.modules.map((m) => m.name)).to.deep.equal(manifest.modules.map((m) => m.target));
    expect(adapter.config.r).to.equal(original.config.r);
    expect(adapter.scaling).to.equal(original.scaling);
    for (const m of dealManifest.modules) {
      const a = adapter.modules[m.index];
      expect([a.R, a.DIN, a.DOUT]).to.deep.equal([m.R, m.DIN, m.DOUT]);
      const q = quantizeLora(a.loraA, a.loraB, m.R, m.DIN, m.DOUT, m.scales.fa, m.scales.fb);
      const s = secrets.modules.find((x) => x.index === m.index);
      if (s === undefined) throw new Error(`no secret of module ${m.index}`);
      expect(q).to.deep.equal({ A: s.A, B: s.B });
      expect((await weightCommitment(q.A, q.B, s.salt)).toString()).to.equal(m.C_m);
      expect(BigInt(m.C_m)).to.equal((await client.getModules(dealId))[m.index].commitment);
      // The contributor's own adapter quantizes to the same weights: the buyer bought that adapter.
      const o = original.modules.find((x) => x.name === m.target);
      expect(o).to.not.equal(undefined);
      if (o !== undefined) {
        expect(quantizeLora(o.loraA, o.loraB, m.R, m.DIN, m.DOUT, m.scales.fa, m.scales.fb)).to.deep.equal(q);
      }
    }
    provider.destroy();
  });
});
