/**
 * Task argument errors say what to fix: each task refuses a missing or malformed argument with a
 * HardhatPluginError (printed without a stack trace) naming the option and the remedy.
 */
import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import hre from "hardhat";
import { hardhat } from "../e2e/helpers.js";

async function failure(task: string, args: Record<string, unknown>): Promise<string> {
  try {
    await hre.tasks.getTask(task).run(args);
  } catch (err) {
    const e = err as Error & { pluginId?: string };
    expect(e.pluginId, `${task} should fail with a zklora HardhatPluginError, got ${e.stack}`).to.equal(
      "zklora",
    );
    return e.message;
  }
  throw new Error(`${task} ${JSON.stringify(args)} did not fail`);
}

describe("# task argument errors", function () {
  this.timeout(120_000);
  let tmp = "";
  let savedDir: string | undefined;

  before(async function () {
    tmp = await mkdtemp(path.join(tmpdir(), "zklora-task-errors-"));
    savedDir = process.env.ZKLORA_DEPLOYMENTS_DIR;
    process.env.ZKLORA_DEPLOYMENTS_DIR = path.join(tmp, "no-deployments");
  });

  after(async function () {
    if (savedDir === undefined) delete process.env.ZKLORA_DEPLOYMENTS_DIR;
    else process.env.ZKLORA_DEPLOYMENTS_DIR = savedDir;
    await rm(tmp, { recursive: true, force: true });
  });

  const ws = () => path.join(tmp, "ws");

  it("Should ask for the workspace, model and adapter of zklora:commit", async function () {
    const base = { deployment: "", from: "", ptau: "" };
    expect(await failure("zklora:commit", { ...base, workspace: "", model: "", adapter: "" })).to.match(
      /pass --workspace DIR/,
    );
    expect(await failure("zklora:commit", { ...base, workspace: ws(), model: "", adapter: "" })).to.match(
      /pass --model DIR/,
    );
    expect(await failure("zklora:commit", { ...base, workspace: ws(), model: tmp, adapter: tmp })).to.match(
      /--model .* has no config\.json/,
    );
  });

  it("Should refuse zklora:propose without a price, or without a deployment record, saying what to run", async function () {
    const base = {
      workspace: ws(),
      deployment: "",
      from: "",
      token: "",
      buyer: "",
      window: 86400,
      ptau: "",
    };
    expect(await failure("zklora:propose", { ...base, price: "" })).to.match(/pass --price AMOUNT/);
    expect(await failure("zklora:propose", { ...base, price: "1" })).to.match(
      /no deployment record .*run `npx hardhat zklora:deploy --network/,
    );
    expect(
      await failure("zklora:propose", { ...base, price: "1", deployment: path.join(tmp, "x.json") }),
    ).to.match(/--deployment .*x\.json does not exist/);
  });

  it("Should name the step that writes a missing workspace file", async function () {
    expect(
      await failure("zklora:fund", {
        workspace: ws(),
        deployment: "",
        from: "",
        url: "",
        ptau: "",
        forgeableKeys: false,
      }),
    ).to.match(/deal\.json does not exist: run zklora:propose/);
    expect(
      await failure("zklora:serve", {
        workspace: ws(),
        deployment: "",
        from: "",
        host: "127.0.0.1",
        port: 0,
        buyer: "",
        rowBudget: 0,
        corsOrigins: "",
        ptau: "",
      }),
    ).to.match(/deal\.json does not exist: run zklora:propose/);
  });

  it("Should refuse zklora:fund's --prepare and --upload together, --upload without --url and --prepare with --url", async function () {
    const base = { workspace: ws(), deployment: "", from: "", ptau: "", forgeableKeys: false };
    const file = path.join(tmp, "fund-request.json");
    expect(await failure("zklora:fund", { ...base, url: "", prepare: file, upload: true })).to.match(
      /^zklora:fund: pass either --prepare FILE \(before funding\) or --upload \(after the deal was funded\), not both$/,
    );
    expect(await failure("zklora:fund", { ...base, url: "", upload: true })).to.match(
      /^zklora:fund: pass --url URL \(the contributor's server, printed by zklora:serve\) with --upload$/,
    );
    expect(await failure("zklora:fund", { ...base, url: "http://127.0.0.1:1", prepare: file })).to.match(
      /^zklora:fund: --prepare sends nothing, .* then run zklora:fund --upload --url URL$/,
    );
    // Then the workspace's files, as without them.
    expect(await failure("zklora:fund", { ...base, url: "http://127.0.0.1:1", upload: true })).to.match(
      /deal\.json does not exist: run zklora:propose/,
    );
  });

  it("Should refuse zklora:contribute and zklora:verify-key without their files, saying what to pass", async function () {
    expect(await failure("zklora:contribute", { key: "", out: "", name: "x" })).to.match(/pass --key FILE/);
    expect(
      await failure("zklora:contribute", {
        key: path.join(tmp, "absent.zkey"),
        out: path.join(tmp, "o.zkey"),
        name: "x",
      }),
    ).to.match(/--key .*absent\.zkey does not exist/);
    expect(await failure("zklora:verify-key", { key: "", initial: "" })).to.match(/pass --key FILE/);
  });

  it("Should refuse malformed options with the accepted values", async function () {
    expect(await failure("zklora:deliver", { workspace: ws(), ptau: "", deliveryKeys: "x.zkey" })).to.match(
      /--delivery-keys takes NAME=FILE pairs, got x\.zkey/,
    );
    expect(await failure("zklora:deliver", { workspace: ws(), ptau: "", deliveryKeys: "" })).to.match(
      /manifest\.json does not exist: run zklora:commit/,
    );
    expect(await failure("zklora:submit", { workspace: ws(), deployment: "", from: "", batch: 0 })).to.match(
      /--batch must be a positive integer/,
    );
    expect(
      await failure("zklora:infer", {
        workspace: ws(),
        from: "",
        url: "http://127.0.0.1:1",
        model: "",
        tokens: "t.json",
        text: "hello",
        greedy: 0,
      }),
    ).to.match(/exactly one of --tokens FILE, --text TEXT .* or --greedy N/);
    expect(
      await failure("zklora:infer", {
        workspace: ws(),
        from: "",
        url: "",
        model: "",
        tokens: "",
        text: "",
        greedy: 4,
      }),
    ).to.match(/pass --url URL/);
    expect(await failure("zklora:settle", { workspace: "", deployment: "", from: "", deal: 0n })).to.match(
      /pass --deal ID, or --workspace/,
    );
    expect(await failure("zklora:settle", { workspace: "", deployment: "", from: "", deal: -1n })).to.match(
      /--deal must be a positive integer/,
    );
    expect(
      await failure("zklora:demo", { workspace: ws(), layers: "", rank: 8, tokens: 40, json: "" }),
    ).to.match(/--tokens must be 2\.\.16/);
    expect(
      await failure("zklora:demo", { workspace: ws(), layers: "a", rank: 8, tokens: 8, json: "" }),
    ).to.match(/--layers must be comma-separated layer numbers/);
  });

  it("Should print the reason on the command line without a stack trace and exit non-zero", async function () {
    // Hardhat prints stack traces on purpose when it runs under CI (CI=true): test what a user sees.
    const env: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: "0" };
    delete env.CI;
    delete env.CONTINUOUS_INTEGRATION;
    const r = await hardhat(["zklora:propose", "--workspace", ws()], env);
    expect(r.code).to.not.equal(0);
    expect(r.stderr + r.stdout).to.match(
      /Error in community plugin zklora: zklora:propose: pass --price AMOUNT/,
    );
    expect(r.stderr + r.stdout).to.not.match(/\n\s+at /);
  });
});
