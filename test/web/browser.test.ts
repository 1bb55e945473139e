/**
 * The web dApp (web/) in a real browser: headless Chromium (Debian's `chromium`, driven by
 * puppeteer-core) on the Vite dev server, a real `hardhat node`, the tasks as child processes (as
 * in test/e2e/deal.test.ts) and an injected test wallet (test/web/wallet.ts) signing with the
 * node's unlocked accounts. A deal is proposed and evaluated by the tasks, prepared with
 * `zklora:fund --prepare`, funded from the buyer's page with that file, its deal keys uploaded with
 * `zklora:fund --upload`, proven by the tasks, then settled from the page by the contributor;
 * another is refunded from the page by the buyer after the window (and its early refund shows the
 * revert message the refund task prints); a third, in ERC-20, is approved by the buyer and
 * cancelled by the contributor from the page; a fourth, in ERC-20, is funded from the page (approve,
 * then fund) after the page refused another deal's file and a malformed one, and `--upload` refuses
 * keys made anew since. Screenshots of each state go to test-artifacts/web/
 * (web/screenshot-deal.png in the README is 05-proven.png).
 *
 * Without Chromium the suite is skipped with the reason printed: `apt-get install chromium`, or
 * CHROMIUM_PATH=/path/to/chrome.
 */
import { expect } from "chai";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { Contract, ContractFactory, JsonRpcProvider, getAddress, parseEther } from "ethers";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { createServer, type ViteDevServer } from "vite";
import { PROJECT_ROOT } from "../../src/common/cache.js";
import { ZkloraClient, addressesOf, parseFundRequestText } from "../../src/chain/index.js";
import { parseDeployment, type DeploymentRecord } from "../../src/chain/deployments.js";
import { webConfig } from "../../web/vite.config.js";
import {
  Background,
  commitTiny,
  inferTiny,
  startServe,
  proposeToBuyer,
  freePort,
  hardhat,
  hardhatOk,
  startE2e,
  stopE2e,
  type E2eEnv,
} from "../e2e/helpers.js";
import { TestWallet } from "./wallet.js";

export const SCREENSHOTS = path.join(PROJECT_ROOT, "test-artifacts", "web");

/** The Chromium to drive: $CHROMIUM_PATH, else Debian's (or another usual place); or why there is none. */
export function findChromium(): { path: string } | { reason: string } {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv !== undefined && fromEnv !== "") {
    return existsSync(fromEnv) ? { path: fromEnv } : { reason: `CHROMIUM_PATH=${fromEnv} does not exist` };
  }
  const usual = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];
  const found = usual.find((p) => existsSync(p));
  return found !== undefined
    ? { path: found }
    : { reason: `no Chromium at ${usual.join(", ")}: \`apt-get install chromium\` or set CHROMIUM_PATH` };
}

describe("# web dApp in headless Chromium (Vite + hardhat node + tasks + injected wallet)", function () {
  this.timeout(900_000);
  const chromium = findChromium();
  let e2e: E2eEnv | undefined;
  let serve: Background | undefined;
  let vite: ViteDevServer | undefined;
  let browser: Browser | undefined;
  let appUrl = "";
  let tmp = "";
  let env: NodeJS.ProcessEnv = {};
  let provider: JsonRpcProvider;
  let record: DeploymentRecord;
  let client: ZkloraClient;
  let contributor = "";
  let buyer = "";
  const pageErrors: string[] = [];
  const net = ["--network", "localhost"];

  before(async function () {
    if ("reason" in chromium) {
      console.log(`    SKIPPED, the browser tests need Chromium: ${chromium.reason}`);
      this.skip();
    }
    await mkdir(SCREENSHOTS, { recursive: true });
    e2e = await startE2e("zklora-web-", { modelSeed: 5, adapterSeed: 9, tokens: [1, 5] });
    ({ tmp, env } = e2e);
    await hardhatOk(
      [...net, "zklora:deploy", "--adapter", path.join(tmp, "adapter"), "--model", path.join(tmp, "model")],
      env,
    );
    record = parseDeployment(
      JSON.parse(await readFile(path.join(tmp, "deployments", "localhost.json"), "utf8")),
    );
    provider = new JsonRpcProvider(e2e.rpc, undefined, { staticNetwork: true });
    client = await ZkloraClient.connect(provider, addressesOf(record));
    const accounts = ((await provider.send("eth_accounts", [])) as string[]).map((a) => getAddress(a));
    [, contributor, buyer] = accounts;

    const port = await freePort();
    vite = await createServer({
      ...webConfig({ deploymentsDir: path.join(tmp, "deployments"), port }),
      configFile: false,
      logLevel: "warn",
    });
    await vite.listen();
    appUrl = `http://127.0.0.1:${port}/?network=localhost`;
    browser = await puppeteer.launch({
      executablePath: (chromium as { path: string }).path,
      headless: true,
      // Root in CI: no user-namespace sandbox there.
      args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
    });
  });

  after(async function () {
    await browser?.close();
    await vite?.close();
    provider?.destroy();
    await stopE2e(e2e, serve);
    serve = undefined;
  });

  afterEach(function () {
    expect(pageErrors, "errors in the page").to.deep.equal([]);
  });

  /** A new tab with the test wallet on `account`, at `hash`, after the page's first render. */
  async function openPage(account: string | null, hash: string): Promise<{ page: Page; wallet: TestWallet }> {
    const page = await (browser as Browser).newPage();
    await page.setViewport({ width: 1280, height: 900 });
    page.on("pageerror", (err) => pageErrors.push(String(err)));
    page.on("console", (msg) => {
      if (msg.type() === "error") pageErrors.push(`console: ${msg.text()}`);
    });
    const wallet = await TestWallet.inject(page, (e2e as E2eEnv).rpc, account);
    await page.goto(`${appUrl}${hash}`, { waitUntil: "load" });
    await page.waitForSelector("body[data-ready]", { timeout: 60_000 });
    return { page, wallet };
  }

  const text = (page: Page, selector: string) => page.$eval(selector, (el) => (el as HTMLElement).innerText);

  /** Waits until the deal page shows `status` (the page redraws on each new block). */
  async function waitStatus(page: Page, status: string): Promise<void> {
    await page.waitForSelector(`#deal[data-status="${status}"]`, { timeout: 60_000 });
  }

  async function shot(page: Page, name: string): Promise<void> {
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
  }

  const feeOf = async (hash: string) => {
    const r = await provider.getTransactionReceipt(hash);
    if (r === null) throw new Error(`no receipt ${hash}`);
    return r.gasUsed * r.gasPrice;
  };

  async function commitAndPropose(ws: string[], price: string, extra: string[] = []): Promise<bigint> {
    await commitTiny(net, env, tmp, ws);
    const proposed = await proposeToBuyer(net, env, ws, price, extra);
    return BigInt(/proposed deal (\d+)/.exec(proposed)?.[1] ?? "0");
  }

  async function infer(ws: string[]): Promise<string> {
    let url: string;
    ({ server: serve, url } = await startServe(net, env, ws));
    await inferTiny(net, env, tmp, ws, url);
    return url;
  }

  /** Chooses `file` in the page's "Fund from a prepared file" input (which funds at once). */
  async function chooseFundFile(page: Page, file: string): Promise<void> {
    const input = await page.waitForSelector("#fund-file:not([disabled])");
    if (input === null) throw new Error("no #fund-file");
    await (input as unknown as { uploadFile(f: string): Promise<void> }).uploadFile(file);
  }

  /** The one line a failed task printed (less Hardhat's "For more info" hint). */
  const errorLine = (r: { stdout: string; stderr: string }) =>
    (r.stderr + r.stdout)
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "" && !/^For more info/.test(l));

  it("Should show a deal proposed and evaluated by the tasks, fund it from the buyer's page with the file of zklora:fund --prepare, and settle it from the contributor's page after --upload, prove and submit", async function () {
    const ws = ["--workspace", path.join(tmp, "deal")];
    const dealId = await commitAndPropose(ws, "0.25");
    expect(dealId).to.equal(1n);

    // The deal list, from the escrow's events.
    const { page, wallet } = await openPage(contributor, "#/");
    await page.waitForSelector('tr[data-deal="1"]');
    expect(await text(page, 'tr[data-deal="1"]')).to.match(/deal 1\s+Proposed\s+0\.25 ETH\s+0 \/ 4/);
    await shot(page, "01-list");

    // The contributor's view of the proposed deal: cancel, and no fund button nor file.
    await page.click('tr[data-deal="1"] a');
    await waitStatus(page, "Proposed");
    expect(await text(page, "#price")).to.equal("0.25 ETH");
    expect(await text(page, "#delivery")).to.match(/^plain deal/);
    expect(await page.$$eval("#modules tbody tr", (rows) => rows.length)).to.equal(4);
    expect(await text(page, "#modules")).to.include("v2_i8_r2_o8");
    expect(await text(page, "#role")).to.equal("you are the contributor");
    expect(await page.$("#action-cancel")).to.not.equal(null);
    expect(await page.$("#fund-file")).to.equal(null);
    await shot(page, "02-proposed-contributor");

    // The buyer's: the exact fund command (the page cannot make the entries and deal keys).
    await wallet.setAccount(buyer);
    await page.waitForFunction(() => document.getElementById("role")?.innerText === "you are the buyer");
    expect(await page.$("#action-cancel")).to.equal(null);
    expect(await text(page, "#actions")).to.include(
      `npx hardhat zklora:fund --network localhost --workspace deals/b1 --url <contributor's server URL> --from ${buyer}`,
    );
    expect(await text(page, "#actions")).to.include(
      "npx hardhat zklora:fund --network localhost --workspace deals/b1 --prepare fund-request.json",
    );
    expect(await text(page, "label[for=fund-file]")).to.match(/^Fund from a prepared file /);
    await shot(page, "03-proposed-buyer");

    // The buyer's machine makes the entries and deal keys, and sends nothing.
    const url = await infer(ws);
    const requestFile = path.join(tmp, "fund-request-1.json");
    const prepared = await hardhatOk([...net, "zklora:fund", ...ws, "--prepare", requestFile], env);
    expect(prepared).to.match(
      /prepared the funding of deal 1 with 0\.25 ETH: 4 module entries \(\d+ rows folded\), \d+ deal key\(s\); nothing sent/,
    );
    expect(prepared).to.include(`wrote the fund request ${requestFile}`);
    const request = parseFundRequestText(await readFile(requestFile, "utf8"));
    expect(request.dealId).to.equal(1n);
    expect((await client.getDeal(dealId)).status).to.equal("Proposed");
    // Nothing to upload before the funding.
    const early = await hardhat([...net, "zklora:fund", ...ws, "--upload", "--url", url], env);
    expect(early.code).to.not.equal(0);
    expect(errorLine(early)).to.deep.equal([
      "Error in community plugin zklora: zklora:fund: deal 1 is Proposed on-chain, not Funded: fund it first (the web page's Fund from a prepared file, with the file of zklora:fund --prepare)",
    ]);

    // Funded from the page with the buyer's wallet.
    const buyerBefore = await provider.getBalance(buyer);
    await chooseFundFile(page, requestFile);
    await waitStatus(page, "Funded");
    await page.waitForSelector("#notice.ok");
    expect(await text(page, "#notice")).to.match(
      /^funded deal 1 with 0\.25 ETH: 4 module entries, \d+ deal key\(s\); tx 0x[0-9a-f]{64} \(block \d+, gas \d+\)\. Now hand the deal keys to the contributor's server/,
    );
    const upload = `npx hardhat zklora:fund --network localhost --workspace deals/b1 --upload --url <contributor's server URL> --from ${buyer}`;
    expect(await text(page, "#notice-command")).to.equal(upload);
    expect(await text(page, "#actions")).to.include(upload);
    // The entries and δ' on-chain are the request's.
    const onchain = await client.getEntries(dealId);
    expect(onchain.map((e) => [e.hX, e.hY, e.dX, e.fY])).to.deep.equal(
      request.entries.map((e) => [e.hX, e.hY, e.dX, e.fY]),
    );
    expect((await client.getDealKeys(dealId)).map((k) => k.delta)).to.deep.equal(
      request.keys.map((k) => k.delta),
    );
    const uploaded = await hardhatOk([...net, "zklora:fund", ...ws, "--upload", "--url", url], env);
    expect(uploaded).to.include("deal 1 is funded with the prepared deal keys (δ' checked on-chain)");
    expect(uploaded).to.match(/deal key \S+: .*\.zkey \(uploaded to the contributor's server\)/);
    await serve?.stop("SIGINT");
    serve = undefined;
    expect(await page.$$eval("#entries tbody tr", (rows) => rows.length)).to.equal(4);
    expect(await text(page, "#countdown")).to.match(/^(1 h 0 min|59 min \d+ s) left \(until /);
    expect(await text(page, "#proven")).to.equal("0 of 4 modules");
    await shot(page, "04-funded");

    await hardhatOk([...net, "zklora:prove", ...ws, "--jobs", "1"], env);
    await hardhatOk([...net, "zklora:submit", ...ws, "--from", "1"], env);
    await wallet.setAccount(contributor);
    await page.waitForFunction(
      () =>
        document.getElementById("proven")?.innerText === "4 of 4 modules" &&
        document.getElementById("action-settle") !== null,
    );
    expect(await text(page, "#modules")).to.not.include("awaiting proof");
    expect(await page.$$eval("#modules td.ok", (c) => c.length)).to.equal(4);
    expect(await page.$(".action .warning")).to.equal(null);
    await shot(page, "05-proven");

    // Settle from the page.
    const contributorBefore = await provider.getBalance(contributor);
    await page.click("#action-settle");
    await waitStatus(page, "Settled");
    await page.waitForSelector("#notice.ok");
    expect(await text(page, "#notice")).to.match(
      new RegExp(
        `^settled deal 1: paid 0\\.25 ETH to ${contributor}; tx 0x[0-9a-f]{64} \\(block \\d+, gas \\d+\\)`,
      ),
    );
    // The redraw after the transaction reads the chain anew (no answer cached from before it).
    expect(await text(page, "#events")).to.include("DealSettled");
    await shot(page, "06-settled");

    const price = parseEther("0.25");
    const events = await client.events({ dealId });
    const tx = (name: string) => events.filter((e) => e.name === name).map((e) => e.transactionHash);
    expect(tx("DealSettled")).to.have.length(1);
    const settleFee = await feeOf(tx("DealSettled")[0]);
    expect((await provider.getBalance(contributor)) - contributorBefore).to.equal(price - settleFee);
    expect(buyerBefore - (await provider.getBalance(buyer))).to.equal(
      price + (await feeOf(tx("DealFunded")[0])),
    );
    expect(await provider.getBalance(record.contracts.LoraEscrowV2.address)).to.equal(0n);
    expect((await client.getDeal(dealId)).status).to.equal("Settled");
    // The funding and the settle.
    expect(wallet.calls.get("eth_sendTransaction")).to.equal(2);
    await page.close();
  });

  it("Should refund the buyer from the page after the proving window, with the task's revert message before it", async function () {
    const ws = ["--workspace", path.join(tmp, "deal2")];
    const dealId = await commitAndPropose(ws, "0.1");
    await infer(ws);
    await serve?.stop("SIGINT");
    serve = undefined;
    // Funded without handing the deal keys over: the contributor cannot prove.
    await hardhatOk([...net, "zklora:fund", ...ws], env);

    const { page } = await openPage(buyer, `#/deal/${dealId}`);
    await waitStatus(page, "Funded");
    expect(await text(page, ".action .warning")).to.match(/^the proving window is open until /);

    // Too early: the page shows the revert as the refund task prints it.
    await page.click("#action-refund");
    await page.waitForSelector("#notice.error");
    const shown = await text(page, "#notice");
    expect(shown).to.match(
      new RegExp(
        `^refund\\(${dealId}\\) reverted: ProvingWindowOpen: the proving window is open until \\S+Z`,
      ),
    );
    const early = await hardhat([...net, "zklora:refund", "--deal", String(dealId), "--from", "2"], env);
    expect(early.code).to.not.equal(0);
    expect(early.stdout + early.stderr).to.include(shown.replace(/\s*×$/, ""));
    await shot(page, "07-refund-too-early");

    await provider.send("evm_increaseTime", [3700]);
    await provider.send("evm_mine", []);
    await page.waitForFunction(() => /^closed /.test(document.getElementById("countdown")?.innerText ?? ""));
    expect(await page.$(".action .warning")).to.equal(null);
    const before = await provider.getBalance(buyer);
    await page.click("#action-refund");
    await waitStatus(page, "Refunded");
    await page.waitForSelector("#notice.ok");
    expect(await text(page, "#notice")).to.match(
      new RegExp(`^refunded deal ${dealId}: returned 0\\.1 ETH to ${buyer}; tx `),
    );
    await shot(page, "08-refunded");
    const refundTx = (await client.events({ dealId })).find((e) => e.name === "DealRefunded");
    expect(refundTx).to.not.equal(undefined);
    expect((await provider.getBalance(buyer)) - before).to.equal(
      parseEther("0.1") - (await feeOf(refundTx!.transactionHash)),
    );
    expect((await client.getDeal(dealId)).status).to.equal("Refunded");
    await page.close();
  });

  it("Should let the buyer approve an ERC-20 deal's price and the contributor cancel it from the page, and mark a delivery deal", async function () {
    const art = JSON.parse(
      await readFile(
        path.join(PROJECT_ROOT, "artifacts", "contracts", "test", "ERC20Mock.sol", "ERC20Mock.json"),
        "utf8",
      ),
    ) as { abi: []; bytecode: string };
    const deployer = await provider.getSigner(0);
    const token = (await (
      await new ContractFactory(art.abi, art.bytecode, deployer).deploy("Mock", "MCK")
    ).waitForDeployment()) as unknown as Contract;
    const tokenAddr = await token.getAddress();
    // The modules of deal 1 (valid W_m of a registered shape), proposed again in MCK.
    const modules = await client.getModules(1n);
    const { dealId } = await client.withRunner(await provider.getSigner(contributor)).propose({
      price: parseEther("2"),
      token: tokenAddr,
      buyer,
      baseModelHash: (await client.getDeal(1n)).baseModelHash,
      modules: modules.map((m) => ({ shapeId: m.shapeId, wM: m.wM })),
      provingWindow: 3600,
    });

    const { page, wallet } = await openPage(buyer, `#/deal/${dealId}`);
    await waitStatus(page, "Proposed");
    expect(await text(page, "#price")).to.equal("2.0 MCK");
    expect(await text(page, "#action-approve")).to.equal("Approve 2.0 MCK for the escrow");
    await page.click("#action-approve");
    await page.waitForSelector("#notice.ok");
    expect(await text(page, "#notice")).to.match(/^approved the escrow for 2\.0 MCK; tx 0x/);
    expect(await token.getFunction("allowance")(buyer, record.contracts.LoraEscrowV2.address)).to.equal(
      parseEther("2"),
    );
    await page.waitForFunction(() =>
      /may already spend 2\.0 MCK/.test(document.getElementById("actions")?.innerText ?? ""),
    );
    await shot(page, "09-approved");

    await wallet.setAccount(contributor);
    await page.waitForSelector("#action-cancel");
    await page.click("#action-cancel");
    await waitStatus(page, "Cancelled");
    expect(await text(page, "#notice")).to.match(new RegExp(`^cancelled deal ${dealId}; tx 0x`));
    await shot(page, "10-cancelled");
    expect((await client.getDeal(dealId)).status).to.equal("Cancelled");

    // A delivery deal (proposed with delivery-key hashes): the page says it settles through the task.
    const { dealId: deliveryId } = await client.withRunner(await provider.getSigner(contributor)).propose({
      price: parseEther("0.5"),
      baseModelHash: (await client.getDeal(1n)).baseModelHash,
      modules: modules.map((m) => ({ shapeId: m.shapeId, wM: m.wM })),
      provingWindow: 3600,
      keyHashes: modules.map((_, i) => BigInt(i + 1)),
    });
    await page.goto(`${appUrl}#/deal/${deliveryId}`);
    await page.waitForSelector(`#deal[data-deal="${deliveryId}"]`);
    expect(await text(page, "#delivery")).to.match(/^delivery deal: .*settled with zklora:settle/);
    expect(await text(page, "#deal h2")).to.match(/Proposed\s+delivery/);
    await shot(page, "11-delivery-proposed");

    // The list shows every deal's state.
    await page.goto(`${appUrl}#/`);
    await page.waitForSelector(`tr[data-deal="${deliveryId}"]`);
    const rows = await page.$$eval("#deal-list tbody tr", (r) => r.map((x) => (x as HTMLElement).innerText));
    expect(rows).to.have.length(4);
    expect(rows[0]).to.match(/Proposed\s+0\.5 ETH\s+0 \/ 4\s+.*\s+open\s+delivery$/);
    expect(rows[1]).to.match(/Cancelled\s+2\.0 MCK/);
    expect(rows[2]).to.match(/Refunded\s+0\.1 ETH/);
    expect(rows[3]).to.match(/Settled\s+0\.25 ETH\s+4 \/ 4\s+.*plain$/);
    await shot(page, "12-list");
    await page.close();
  });

  it("Should fund an ERC-20 deal from the page with a prepared file (approve, then fund), after refusing another deal's file and a malformed one", async function () {
    const art = JSON.parse(
      await readFile(
        path.join(PROJECT_ROOT, "artifacts", "contracts", "test", "ERC20Mock.sol", "ERC20Mock.json"),
        "utf8",
      ),
    ) as { abi: []; bytecode: string };
    const deployer = await provider.getSigner(0);
    const token = (await (
      await new ContractFactory(art.abi, art.bytecode, deployer).deploy("Mock", "MCK")
    ).waitForDeployment()) as unknown as Contract;
    const tokenAddr = await token.getAddress();
    await (await token.getFunction("mint")(buyer, parseEther("5"))).wait();

    const ws = ["--workspace", path.join(tmp, "deal-erc20")];
    const dealId = await commitAndPropose(ws, "2", ["--token", tokenAddr]);
    await infer(ws);
    await serve?.stop("SIGINT");
    serve = undefined;
    const fileA = path.join(tmp, "fund-request-erc20-a.json");
    const fileB = path.join(tmp, "fund-request-erc20-b.json");
    await hardhatOk([...net, "zklora:fund", ...ws, "--prepare", fileA], env);
    // Prepared again: new deal keys replace the first ones in the workspace.
    await hardhatOk([...net, "zklora:fund", ...ws, "--prepare", fileB], env);

    const { page, wallet } = await openPage(buyer, `#/deal/${dealId}`);
    await waitStatus(page, "Proposed");
    expect(await text(page, "#price")).to.equal("2.0 MCK");
    expect(await text(page, "label[for=fund-file]")).to.include("approving the escrow first when needed");

    // Another deal's file, and a malformed one: refused before anything is sent.
    await chooseFundFile(page, path.join(tmp, "fund-request-1.json"));
    await page.waitForSelector("#notice.error");
    expect(await text(page, "#notice")).to.match(
      new RegExp(
        `^fund request: dealId is 1, but this deal's is ${dealId}: prepare it again with zklora:fund --prepare for this deal`,
      ),
    );
    await shot(page, "13-erc20-fund-wrong-file");
    const bad = path.join(tmp, "fund-request-bad.json");
    // (a number where the format has a decimal string)
    const json = JSON.parse(await readFile(fileA, "utf8")) as Record<string, unknown>;
    await writeFile(bad, JSON.stringify({ ...json, chainId: 31337 }));
    await chooseFundFile(page, bad);
    await page.waitForFunction(() =>
      /^fund request: chainId must be a decimal string/.test(
        document.getElementById("notice")?.innerText ?? "",
      ),
    );
    expect(wallet.calls.get("eth_sendTransaction") ?? 0).to.equal(0);

    // The first file: approve (the allowance is short), then fund.
    await chooseFundFile(page, fileA);
    await waitStatus(page, "Funded");
    await page.waitForSelector("#notice.ok");
    expect(await text(page, "#notice")).to.match(
      new RegExp(
        `^approved the escrow for 2\\.0 MCK \\(tx 0x[0-9a-f]{64}\\); funded deal ${dealId} with 2\\.0 MCK: 4 module entries, \\d+ deal key\\(s\\); tx 0x`,
      ),
    );
    await shot(page, "14-erc20-funded-from-file");
    expect(wallet.calls.get("eth_sendTransaction")).to.equal(2);
    const escrow = record.contracts.LoraEscrowV2.address;
    expect(await token.getFunction("balanceOf")(escrow)).to.equal(parseEther("2"));
    expect(await token.getFunction("balanceOf")(buyer)).to.equal(parseEther("3"));
    expect(await token.getFunction("allowance")(buyer, escrow)).to.equal(0n);
    const deal = await client.getDeal(dealId);
    expect(deal.status).to.equal("Funded");
    expect(deal.buyer).to.equal(buyer);
    const requestA = parseFundRequestText(await readFile(fileA, "utf8"));
    expect((await client.getDealKeys(dealId)).map((k) => k.delta)).to.deep.equal(
      requestA.keys.map((k) => k.delta),
    );

    // The workspace holds the second preparation's keys, not the funded ones: --upload refuses.
    const r = await hardhat([...net, "zklora:fund", ...ws, "--upload", "--url", "http://127.0.0.1:1"], env);
    expect(r.code).to.not.equal(0);
    const lines = errorLine(r);
    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(
      new RegExp(
        `^Error in community plugin zklora: zklora:fund: deal ${dealId} was funded with another δ' of shape \\S+ than the prepared one \\(funded from another fund request\\?\\)`,
      ),
    );
    await page.close();
  });
});
