/**
 * End-to-end (protocol v2): a real `hardhat node` JSON-RPC server on 127.0.0.1, the contracts
 * deployed with `zklora:deploy --adapter` (the adapter's shape registered), and a complete deal run
 * through the tasks as separate processes over JSON-RPC (commit, propose, serve, infer, fund with
 * the buyer's deal key uploaded to the server, prove, submit, settle, status), then the dApp example
 * reading the result; then an ERC-20 delivery deal through the tasks (deliver, propose --deliver,
 * fund with the buyer's key-wrap key, settle with the keys wrapped for the buyer, decrypt to a PEFT
 * adapter that reproduces the evaluated rows). Fixtures: a tiny generated Llama (hidden 8) with a
 * rank-2 PEFT adapter on q_proj/v_proj: 4 modules of the shape v2_i8_r2_o8, 4 real proofs.
 */
import { expect } from "chai";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { Contract, ContractFactory, JsonRpcProvider, getAddress, parseEther } from "ethers";
import { loadPeftAdapter } from "../../src/model/index.js";
import { ZkloraClient, addressesOf } from "../../src/chain/index.js";
import { parseDeployment } from "../../src/chain/deployments.js";
import { readCallLog, readServerCalls } from "../../src/mpi/index.js";
import {
  Background,
  commitTiny,
  inferTiny,
  startServe,
  proposeToBuyer,
  TSX_CLI,
  hardhat,
  hardhatOk,
  run,
  startE2e,
  stopE2e,
  type E2eEnv,
} from "./helpers.js";

describe("# end-to-end deal over JSON-RPC (hardhat node + tasks + dApp example)", function () {
  this.timeout(900_000);
  let e2e: E2eEnv | undefined;
  let serve: Background | undefined;
  let rpc = "";
  let tmp = "";
  let env: NodeJS.ProcessEnv = {};

  before(async function () {
    e2e = await startE2e("zklora-e2e-", { modelSeed: 5, adapterSeed: 9, tokens: [1, 5] });
    ({ tmp, rpc, env } = e2e);
  });

  after(async function () {
    await stopE2e(e2e, serve);
  });

  it("Should deploy, run a whole deal through the tasks, pay the contributor exactly the price, and show it to the dApp", async function () {
    const net = ["--network", "localhost"];
    const ws = ["--workspace", path.join(tmp, "deal")];
    const out = await hardhatOk(
      [...net, "zklora:deploy", "--adapter", path.join(tmp, "adapter"), "--model", path.join(tmp, "model")],
      env,
    );
    expect(out).to.match(/wrote .*localhost\.json/);
    const record = parseDeployment(
      JSON.parse(await readFile(path.join(tmp, "deployments", "localhost.json"), "utf8")),
    );
    expect(record.shapes.map((s) => s.name)).to.deep.equal(["v2_i8_r2_o8"]);

    const provider = new JsonRpcProvider(rpc, undefined, { staticNetwork: true });
    const accounts = ((await provider.send("eth_accounts", [])) as string[]).map((a) => getAddress(a));
    const [, contributor, buyer, relayer] = accounts;
    const client = await ZkloraClient.connect(provider, addressesOf(record));
    const balance = (a: string) => provider.getBalance(a);

    const commit = await commitTiny(net, env, tmp, ws);
    expect(commit).to.match(/committed 4 modules/);

    const before = { contributor: await balance(contributor), buyer: await balance(buyer) };
    const proposed = await proposeToBuyer(net, env, ws, "0.25");
    const dealId = BigInt(/proposed deal (\d+)/.exec(proposed)?.[1] ?? "0");
    expect(dealId).to.equal(1n);

    const { server, url } = await startServe(net, env, ws);
    serve = server; // stopped by after() if the test fails

    const infer = await inferTiny(net, env, tmp, ws, url);
    expect(infer).to.match(/without adapter: loss [0-9.]+/);
    expect(infer).to.match(/with adapter: +loss [0-9.]+/);
    expect(infer).to.match(/remote calls 4/);

    const funded = await hardhatOk([...net, "zklora:fund", ...ws, "--url", url], env);
    expect(funded).to.match(/uploaded to the contributor's server/);
    expect((await client.getDeal(dealId)).status).to.equal("Funded");
    const proved = await hardhatOk([...net, "zklora:prove", ...ws, "--jobs", "1"], env);
    expect(proved).to.match(/proved modules 0, 1, 2, 3/);
    // the contributor's transcript, exported from its database, holds the buyer's calls row for row
    const transcript = path.join(tmp, "transcript.jsonl");
    const exported = await hardhatOk([...net, "zklora:serve", ...ws, "--export-calls", transcript], env);
    expect(exported).to.match(/4 answered calls of deal 1 written to/);
    const theirs = await readCallLog(transcript);
    const mine = await readCallLog(path.join(tmp, "deal", "buyer-calls.jsonl"));
    expect(theirs.map((r) => [r.module, r.seq, r.hX, r.hY, r.responseSignature]).sort()).to.deep.equal(
      mine.map((r) => [r.module, r.seq, r.hX, r.hY, r.responseSignature]).sort(),
    );
    // Anyone may submit and settle: a third account does, so the contributor pays only for propose.
    const submitted = await hardhatOk([...net, "zklora:submit", ...ws, "--from", "3"], env);
    expect(submitted).to.match(/4 of 4 modules proven/);
    const settled = await hardhatOk([...net, "zklora:settle", ...ws, "--from", String(3)], env);
    expect(settled).to.match(/settled deal 1: paid 0\.25 ETH/);
    expect(relayer).to.be.a("string");

    // Balances: the contributor got exactly the price (minus its own propose fee), the buyer paid it.
    const price = parseEther("0.25");
    const feeOf = async (hash: string) => {
      const r = await provider.getTransactionReceipt(hash);
      if (r === null) throw new Error(`no receipt ${hash}`);
      return r.gasUsed * r.gasPrice;
    };
    const events = await client.events({ dealId });
    const one = (name: string) => {
      const e = events.filter((x) => x.name === name);
      expect(e, name).to.have.length(1);
      return e[0];
    };
    const proposedLog = one("DealProposed");
    const fundedLog = one("DealFunded");
    const settledLog = one("DealSettled");
    expect((await balance(contributor)) - before.contributor).to.equal(
      price - (await feeOf(proposedLog.transactionHash)),
    );
    expect(before.buyer - (await balance(buyer))).to.equal(price + (await feeOf(fundedLog.transactionHash)));
    expect(await balance(record.contracts.LoraEscrowV2.address)).to.equal(0n);

    // Events.
    expect(fundedLog.args.price).to.equal(price);
    expect(settledLog.args.contributor).to.equal(contributor);
    expect(settledLog.args.price).to.equal(price);
    expect(events.filter((e) => e.name === "ModuleProven")).to.have.length(4);
    expect(events.filter((e) => e.name === "ModuleCommitted")).to.have.length(4);
    expect(events.filter((e) => e.name === "EntryRegistered")).to.have.length(4);
    expect(events.filter((e) => e.name === "DealKeySet")).to.have.length(1);

    const status = await hardhatOk([...net, "zklora:status", ...ws], env);
    expect(status).to.match(/deal 1: Settled/);
    expect(status).to.match(/modules \(4, 4 proven\)/);

    // The server stops cleanly on SIGINT; its database holds the 4 answered calls.
    expect(await server.stop("SIGINT")).to.equal(0);
    expect(await readServerCalls(path.join(tmp, "deal", "server.sqlite"))).to.have.length(4);

    // The dApp example (ethers + src/chain + the deployments file, no Hardhat runtime).
    const dapp = await run(
      process.execPath,
      [
        TSX_CLI,
        "scripts/dapp-example.ts",
        "--rpc",
        rpc,
        "--deployment",
        path.join(tmp, "deployments", "localhost.json"),
        "--json",
      ],
      env,
    );
    expect(dapp.code, dapp.stderr).to.equal(0);
    const seen = JSON.parse(dapp.stdout) as {
      deals: {
        deal: { dealId: string; status: string; price: string; contributor: string };
        modules: { proven: boolean }[];
        entries: unknown[];
        events: { event: string }[];
      }[];
    };
    expect(seen.deals).to.have.length(1);
    const d = seen.deals[0];
    expect(d.deal).to.include({ dealId: "1", status: "Settled", price: price.toString(), contributor });
    expect(d.modules).to.have.length(4);
    expect(d.modules.every((m) => m.proven)).to.equal(true);
    expect(d.entries).to.have.length(4);
    expect(d.events.map((e) => e.event)).to.include.members([
      "DealProposed",
      "DealFunded",
      "ModuleProven",
      "DealSettled",
    ]);
    provider.destroy();
  });

  it("Should refund the buyer through zklora:refund when the proving window ends unproven", async function () {
    const net = ["--network", "localhost"];
    const ws = ["--workspace", path.join(tmp, "deal2")];
    const provider = new JsonRpcProvider(rpc, undefined, { staticNetwork: true });
    const record = parseDeployment(
      JSON.parse(await readFile(path.join(tmp, "deployments", "localhost.json"), "utf8")),
    );
    const client = await ZkloraClient.connect(provider, addressesOf(record));
    await commitTiny(net, env, tmp, ws);
    const proposed = await proposeToBuyer(net, env, ws, "0.1");
    const dealId = BigInt(/proposed deal (\d+)/.exec(proposed)?.[1] ?? "0");
    const { server, url } = await startServe(net, env, ws);
    try {
      await inferTiny(net, env, tmp, ws, url);
    } finally {
      await server.stop("SIGINT");
    }
    // Funded without handing the keys over (no --url): the contributor cannot prove.
    await hardhatOk([...net, "zklora:fund", ...ws], env);
    const noKey = await hardhat([...net, "zklora:prove", ...ws, "--jobs", "1"], env);
    expect(noKey.code).to.not.equal(0);
    expect(noKey.stdout + noKey.stderr).to.match(/no deal key for shape v2_i8_r2_o8/);
    const buyer = (await client.getDeal(dealId)).buyer as string;
    const before = await provider.getBalance(buyer);

    const early = await hardhat([...net, "zklora:refund", ...ws, "--from", "3"], env);
    expect(early.code).to.not.equal(0);
    expect(early.stdout + early.stderr).to.match(/ProvingWindowOpen: the proving window is open until/);

    await provider.send("evm_increaseTime", [3700]);
    await provider.send("evm_mine", []);
    const refunded = await hardhatOk([...net, "zklora:refund", ...ws, "--from", "3"], env);
    expect(refunded).to.match(/refunded deal \d+: returned 0\.1 ETH/);
    expect((await provider.getBalance(buyer)) - before).to.equal(parseEther("0.1"));
    expect((await client.getDeal(dealId)).status).to.equal("Refunded");
    const late = await hardhat([...net, "zklora:settle", ...ws, "--from", "1"], env);
    expect(late.code).to.not.equal(0);
    expect(late.stdout + late.stderr).to.match(/WrongStatus: deal \d+ is Refunded/);
    provider.destroy();
  });

  it("Should run an ERC-20 delivery deal through the tasks: keys wrapped for the buyer, adapter decrypted", async function () {
    const net = ["--network", "localhost"];
    const wsDir = path.join(tmp, "deal3");
    const ws = ["--workspace", wsDir];
    const provider = new JsonRpcProvider(rpc, undefined, { staticNetwork: true });
    const record = parseDeployment(
      JSON.parse(await readFile(path.join(tmp, "deployments", "localhost.json"), "utf8")),
    );
    expect(record.wrap?.slots).to.equal(16);
    const client = await ZkloraClient.connect(provider, addressesOf(record));
    const art = JSON.parse(
      await readFile(path.join("artifacts", "contracts", "test", "ERC20Mock.sol", "ERC20Mock.json"), "utf8"),
    ) as { abi: []; bytecode: string };
    const deployer = await provider.getSigner(0);
    const token = (await (
      await new ContractFactory(art.abi, art.bytecode, deployer).deploy("Mock", "MCK")
    ).waitForDeployment()) as unknown as Contract;
    const accounts = ((await provider.send("eth_accounts", [])) as string[]).map((a) => getAddress(a));
    const [, contributor, buyer] = accounts;
    await (await token.getFunction("mint")(buyer, parseEther("5"))).wait();
    const tokenAddr = await token.getAddress();

    await commitTiny(net, env, tmp, ws);
    const delivered = await hardhatOk([...net, "zklora:deliver", ...ws], env);
    expect(delivered).to.match(/delivered 4 modules in 4 chunk proof\(s\)/);
    const proposed = await proposeToBuyer(net, env, ws, "2", ["--token", tokenAddr, "--deliver"]);
    expect(proposed).to.match(/and delivery\.json to the buyer/);
    const dealId = BigInt(/proposed deal (\d+)/.exec(proposed)?.[1] ?? "0");
    expect((await client.getDeal(dealId)).delivery).to.equal(true);
    const { server, url } = await startServe(net, env, ws);
    try {
      await inferTiny(net, env, tmp, ws, url);
      const funded = await hardhatOk([...net, "zklora:fund", ...ws, "--url", url], env);
      expect(funded).to.match(/checked the delivery of 4 modules/);
      expect(funded).to.match(/approved the escrow/);
      expect(funded).to.match(/deal key wrap_v2_s16: .* \(uploaded to the contributor's server\)/);
    } finally {
      await server.stop("SIGINT");
    }
    const early = await hardhat([...net, "zklora:decrypt", ...ws], env);
    expect(early.code).to.not.equal(0);
    expect(early.stdout + early.stderr).to.match(/no delivered keys yet/);
    await hardhatOk([...net, "zklora:prove", ...ws, "--jobs", "1"], env);
    await hardhatOk([...net, "zklora:submit", ...ws, "--from", "1"], env);
    const plain = await hardhat([...net, "zklora:settle", "--deal", String(dealId), "--from", "1"], env);
    expect(plain.code).to.not.equal(0);
    expect(plain.stdout + plain.stderr).to.match(/settles with its keys: pass --workspace/);
    const before = (await token.getFunction("balanceOf")(contributor)) as bigint;
    const settled = await hardhatOk([...net, "zklora:settle", ...ws, "--from", "1"], env);
    expect(settled).to.match(
      /delivered the keys of 4 modules, wrapped for the buyer \(1 key-wrap proof\(s\)\)/,
    );
    expect(settled).to.match(/paid 2\.0 MCK/);
    expect(((await token.getFunction("balanceOf")(contributor)) as bigint) - before).to.equal(
      parseEther("2"),
    );
    expect(await token.getFunction("balanceOf")(record.contracts.LoraEscrowV2.address)).to.equal(0n);

    const decrypted = await hardhatOk([...net, "zklora:decrypt", ...ws], env);
    expect(decrypted).to.match(/decrypted 4 modules; \d+ evaluated rows reproduced exactly/);
    const adapter = await loadPeftAdapter(path.join(wsDir, "delivered-adapter"));
    const original = await loadPeftAdapter(path.join(tmp, "adapter"));
    expect(adapter.modules.map((m) => m.name)).to.deep.equal(original.modules.map((m) => m.name));
    // Delivered weights are the committed quantized ones: within half a quantization step of the original.
    for (const [i, m] of adapter.modules.entries()) {
      const o = original.modules[i];
      m.loraA.forEach((v, j) => expect(Math.abs(v - o.loraA[j])).to.be.at.most(2 ** -12 / 2 + 1e-9));
      m.loraB.forEach((v, j) => expect(Math.abs(v - o.loraB[j])).to.be.at.most(2 ** -12 / 2 + 1e-9));
    }
    provider.destroy();
  });
});
