/**
 * `zklora:deploy` through Hardhat Ignition against a real `hardhat node` (tasks as child processes,
 * Ignition's journals and the deployment records in a temp folder): a second run sends nothing
 * (resumed from the journal), `--register` adds one verifier, a run killed after the registry
 * resumes without deploying it again, the constructor arguments `--verify` would send are the ones
 * the contracts were deployed with, the confirmation before transactions to a chain that is not
 * local (the prompt as a function; the refusal without a terminal on a node with chain id 4242),
 * and `--verify` refused on a local chain.
 */
import { expect } from "chai";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Interface, JsonRpcProvider, getAddress, type InterfaceAbi } from "ethers";
import { listTransactions } from "@nomicfoundation/ignition-core";
import { UsageError } from "../../src/app/errors.js";
import { wrapSpec } from "../../src/app/steps.js";
import { parseDeployment, type DeploymentRecord } from "../../src/chain/deployments.js";
import { buildWrapKey } from "../../src/zk/wrap/index.js";
import { PROJECT_ROOT } from "../../src/common/cache.js";
import { verifyTargets } from "../../ignition/deploy.js";
import {
  CONFIRM_QUESTION,
  confirmTransactions,
  shapeVerifierArgs,
  wrapVerifierArgs,
} from "../../tasks/actions/deploy.js";
import {
  Background,
  HARDHAT_CLI,
  freePort,
  hardhat,
  hardhatOk,
  startHardhatNode,
  type Run,
} from "../e2e/helpers.js";

interface Artifact {
  contractName: string;
  sourceName: string;
  abi: InterfaceAbi;
  bytecode: string;
}

async function artifact(name: string): Promise<Artifact> {
  const file = path.join(PROJECT_ROOT, "artifacts", "contracts", "v2", `${name}.sol`, `${name}.json`);
  return JSON.parse(await readFile(file, "utf8")) as Artifact;
}

/** hardhat-verify's own encoder of constructor arguments (internal: the exact bytes it sends). */
async function hardhatVerifyEncoder(): Promise<
  (abi: unknown, args: unknown[], contract: string) => Promise<string>
> {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve("@nomicfoundation/hardhat-verify/package.json");
  const file = path.join(path.dirname(pkg), "dist", "src", "internal", "constructor-args.js");
  if (!existsSync(file)) throw new Error(`hardhat-verify moved its encoder (${file}): update this test`);
  const mod = (await import(pathToFileURL(file).href)) as {
    encodeConstructorArgs: (abi: unknown, args: unknown[], contract: string) => Promise<string>;
  };
  return mod.encodeConstructorArgs;
}

/** `hardhat node --chain-id <chainId>` on a free port, once its JSON-RPC answers. */
async function startNodeWithChainId(chainId: number): Promise<{ node: Background; url: string }> {
  const port = await freePort();
  const node = new Background(
    process.execPath,
    [HARDHAT_CLI, "node", "--hostname", "127.0.0.1", "--port", String(port), "--chain-id", String(chainId)],
    process.env,
  );
  await node.waitFor(/Started HTTP and WebSocket JSON-RPC server at/);
  return { node, url: `http://127.0.0.1:${port}` };
}

/** Output of a run, both streams. */
const both = (r: Run) => `${r.stdout}\n${r.stderr}`;

describe("# zklora:deploy through Hardhat Ignition (hardhat node)", function () {
  this.timeout(900_000);
  let node: Background | undefined;
  let other: Background | undefined;
  let tmp = "";
  let env: NodeJS.ProcessEnv = {};
  let provider: JsonRpcProvider;
  const net = ["--network", "localhost"];
  const recordFile = () => path.join(tmp, "deployments", "localhost.json");
  const readRecord = async (): Promise<DeploymentRecord> =>
    parseDeployment(JSON.parse(await readFile(recordFile(), "utf8")));
  const journalDir = (id: string) => path.join(tmp, "deployments", "ignition", "deployments", id);

  before(async function () {
    tmp = await mkdtemp(path.join(tmpdir(), "zklora-deploy-"));
    const started = await startHardhatNode();
    node = started.node;
    env = {
      ...process.env,
      ZKLORA_LOCALHOST_URL: started.url,
      ZKLORA_DEPLOYMENTS_DIR: path.join(tmp, "deployments"),
      FORCE_COLOR: "0",
    };
    delete env.ZKLORA_IGNITION_DIR;
    // Hardhat prints stack traces on purpose under CI (CI=true): test what a user sees.
    delete env.CI;
    provider = new JsonRpcProvider(started.url, undefined, { staticNetwork: true });
  });

  after(async function () {
    provider?.destroy();
    await other?.stop("SIGTERM");
    await node?.stop("SIGTERM");
    if (tmp !== "") await rm(tmp, { recursive: true, force: true });
  });

  let first: DeploymentRecord;

  it("Should deploy through Ignition (journal in <deployments>/ignition/deployments/chain-31337) and send nothing on a second run", async function () {
    const out1 = await hardhatOk([...net, "zklora:deploy", "--shapes", "8x2x8"], env);
    expect(out1).to.match(/Ignition deployment chain-31337 .*: new/);
    expect(out1).to.match(/ZkloraCore#ShapeRegistryV2 at 0x[0-9a-fA-F]{40}/);
    expect(out1).to.match(/wrote .*localhost\.json/);
    expect(existsSync(path.join(journalDir("chain-31337"), "journal.jsonl"))).to.equal(true);
    first = await readRecord();
    expect(first.format).to.equal("zklora-deployment/2");
    expect(first.chainId).to.equal(31337);
    expect(first.shapes.map((s) => s.name)).to.deep.equal(["v2_i8_r2_o8"]);
    expect(first.wrap?.slots).to.be.a("number");
    expect(first.registryOwner).to.equal(first.deployer);
    const abi = JSON.parse(
      await readFile(path.join(tmp, "deployments", "abi", "LoraEscrowV2.json"), "utf8"),
    ) as unknown[];
    expect(abi.length).to.be.greaterThan(0);
    // Every recorded transaction created the recorded contract in the recorded block.
    for (const c of [
      first.contracts.ShapeRegistryV2,
      first.contracts.LoraEscrowV2,
      first.shapes[0].verifier,
      first.wrap!.verifier,
    ]) {
      const receipt = await provider.getTransactionReceipt(c.transactionHash);
      expect(getAddress(receipt!.contractAddress!)).to.equal(c.address);
      expect(receipt!.blockNumber).to.equal(c.blockNumber);
    }

    const nonce = await provider.getTransactionCount(first.deployer);
    const out2 = await hardhatOk([...net, "zklora:deploy", "--shapes", "8x2x8"], env);
    expect(out2).to.match(/resuming, 6 step\(s\) done/);
    expect(out2).to.match(/nothing to send/);
    expect(out2).not.to.match(/ at 0x/);
    expect(await provider.getTransactionCount(first.deployer)).to.equal(nonce);
    const second = await readRecord();
    expect(second.contracts).to.deep.equal(first.contracts);
    expect(second.shapes).to.deep.equal(first.shapes);
    expect(second.wrap).to.deep.equal(first.wrap);
  });

  it("Should add exactly one verifier with --register --shapes 8x2x6 (the core and 8x2x8 reconciled)", async function () {
    const nonce = await provider.getTransactionCount(first.deployer);
    const out = await hardhatOk([...net, "zklora:deploy", "--register", "--shapes", "8x2x6"], env);
    expect(out.match(/#LoraModuleVerifierV2 at /g)).to.have.length(1);
    expect(out).to.match(/ZkloraShape_v2_i8_r2_o6#register: done/);
    expect(out).to.match(/^updated on localhost/m);
    // The verifier and its registration: two transactions.
    expect(await provider.getTransactionCount(first.deployer)).to.equal(nonce + 2);
    const r = await readRecord();
    expect(r.contracts).to.deep.equal(first.contracts);
    expect(r.shapes.map((s) => s.name)).to.deep.equal(["v2_i8_r2_o8", "v2_i8_r2_o6"]);
    expect(r.shapes[0]).to.deep.equal(first.shapes[0]);
    expect(r.wrap).to.deep.equal(first.wrap);
  });

  it("Should give --verify the constructor arguments every contract was deployed with (the deployment transaction's data suffix)", async function () {
    const record = await readRecord();
    const wrap = wrapSpec(await buildWrapKey());
    const { targets, skipped } = await verifyTargets(record, {
      sourceOf: async (name) => (await artifact(name)).sourceName,
      // Derived here as the verify step derives them (dev ptau), not reused from the deploy run.
      shapeArgs: (shape) => shapeVerifierArgs(shape, [], undefined),
      wrapArgs: async (w) => wrapVerifierArgs(w, wrap),
    });
    expect(skipped).to.deep.equal([]);
    expect(targets.map((t) => t.label)).to.deep.equal([
      "ShapeRegistryV2",
      "LoraEscrowV2",
      "LoraModuleVerifierV2 of shape v2_i8_r2_o8",
      "LoraModuleVerifierV2 of shape v2_i8_r2_o6",
      "LoraKeyWrapVerifierV2",
    ]);
    const encode = await hardhatVerifyEncoder();
    const suffixes: string[] = [];
    for (const t of targets) {
      const [source, name] = t.contract.split(":");
      const a = await artifact(name);
      expect(source).to.equal(a.sourceName);
      const tx = await provider.getTransaction(t.transactionHash);
      expect(tx!.data.startsWith(a.bytecode), `${t.label}: init code`).to.equal(true);
      const suffix = tx!.data.slice(a.bytecode.length);
      suffixes.push(suffix);
      expect(suffix.length, t.label).to.be.greaterThan(0);
      expect(await encode(a.abi, t.constructorArgs, t.contract), t.label).to.equal(suffix);
      expect(new Interface(a.abi).encodeDeploy(t.constructorArgs).slice(2), t.label).to.equal(suffix);
    }
    // The two shapes' keys differ: the comparison tells them apart.
    expect(suffixes[2]).not.to.equal(suffixes[3]);
    const a = await artifact("LoraModuleVerifierV2");
    expect(await encode(a.abi, targets[3].constructorArgs, targets[2].contract)).not.to.equal(suffixes[2]);
  });

  it("Should resume a run killed after the registry was deployed, without deploying it again", async function () {
    const id = "resume-test";
    await provider.send("evm_setAutomine", [false]);
    let killed: Background | undefined;
    let registry: string;
    try {
      killed = new Background(
        process.execPath,
        [HARDHAT_CLI, ...net, "zklora:deploy", "--shapes", "8x2x8", "--deployment-id", id, "--no-write"],
        env,
      );
      // Mine blocks (Ignition waits for 5 confirmations without automine) until the registry is in
      // the journal's deployed addresses, then kill the run.
      const addresses = path.join(journalDir(id), "deployed_addresses.json");
      const t0 = Date.now();
      for (;;) {
        if (existsSync(addresses)) {
          const deployed = JSON.parse(await readFile(addresses, "utf8")) as Record<string, string>;
          if (deployed["ZkloraCore#ShapeRegistryV2"] !== undefined) {
            registry = getAddress(deployed["ZkloraCore#ShapeRegistryV2"]);
            break;
          }
        }
        if (killed.child.exitCode !== null) throw new Error(`the deploy ended early:\n${killed.output}`);
        if (Date.now() - t0 > 300_000) throw new Error(`no registry in the journal:\n${killed.output}`);
        await provider.send("evm_mine", []);
        await new Promise((r) => setTimeout(r, 300));
      }
      await killed.stop("SIGKILL");
    } finally {
      await killed?.stop("SIGKILL");
      await provider.send("evm_setAutomine", [true]);
      await provider.send("evm_mine", []);
    }
    expect(await provider.getCode(registry)).not.to.equal("0x");

    const out = await hardhatOk(
      [...net, "zklora:deploy", "--shapes", "8x2x8", "--deployment-id", id, "--no-write"],
      env,
    );
    expect(out).to.match(/Ignition deployment resume-test .*: resuming/);
    expect(out).not.to.match(/ZkloraCore#ShapeRegistryV2 at/);
    // What the killed run left unconfirmed completes now.
    expect(out).to.match(/ZkloraCore#LoraEscrowV2 at 0x/);
    expect(out).to.match(/ZkloraShape_v2_i8_r2_o8#register: done/);
    expect(out).to.match(new RegExp(`registry ${registry}`));
    const txs = await listTransactions(journalDir(id), {
      loadArtifact: () => Promise.reject(new Error("not needed")),
    });
    const registries = txs.filter((t) => t.name === "ShapeRegistryV2");
    expect(registries).to.have.length(1);
    expect(txs.filter((t) => t.name === "LoraEscrowV2")).to.have.length(1);
    expect(txs.every((t) => t.status === "SUCCESS")).to.equal(true);
  });

  it("Should refuse --verify on a local chain with one line, before deriving or sending anything", async function () {
    const r = await hardhat([...net, "zklora:deploy", "--shapes", "8x2x8", "--verify"], env);
    expect(r.code).not.to.equal(0);
    const line = both(r)
      .split("\n")
      .find((l) => /--verify/.test(l));
    expect(line).to.match(
      /--verify publishes the sources on a block explorer: localhost \(chain 31337\) is a local chain/,
    );
    expect(r.stdout).not.to.match(/deriving its key/);
  });

  it("Should refuse --register in one line when the record's registry has no code (a record of a restarted node)", async function () {
    const record = await readRecord();
    const dir = path.join(tmp, "deployments-stale");
    await mkdir(dir, { recursive: true });
    const stale = {
      ...record,
      contracts: {
        ...record.contracts,
        ShapeRegistryV2: { ...record.contracts.ShapeRegistryV2, address: getAddress("0x" + "12".repeat(20)) },
      },
    };
    await writeFile(path.join(dir, "localhost.json"), JSON.stringify(stale));
    const r = await hardhat([...net, "zklora:deploy", "--register", "--shapes", "8x2x8"], {
      ...env,
      ZKLORA_DEPLOYMENTS_DIR: dir,
    });
    expect(r.code).not.to.equal(0);
    const lines = r.stderr.split("\n").filter((l) => /zklora:deploy:/.test(l));
    expect(lines, both(r)).to.have.length(1);
    expect(lines[0]).to.match(
      /the registry 0x1212\w+ has no code on this chain .*: deploy anew without --register/,
    );
    expect(both(r)).not.to.match(/\n\s+at /);
  });

  it("Should show the plan and refuse without --yes when stdin is not a terminal on a chain that is not local (4242); --yes deploys", async function () {
    const started = await startNodeWithChainId(4242);
    other = started.node;
    const env2 = {
      ...env,
      ZKLORA_LOCALHOST_URL: started.url,
      ZKLORA_DEPLOYMENTS_DIR: path.join(tmp, "deployments-4242"),
    };
    const args = [...net, "zklora:deploy", "--shapes", "8x2x8", "--forgeable-keys"];
    const refused = await hardhat(args, env2);
    expect(refused.code).not.to.equal(0);
    expect(refused.stdout).to.match(/will send transactions to localhost \(chain 4242\)/);
    expect(refused.stdout).to.match(/deploy ShapeRegistryV2 .*: ~[0-9,]+ gas/);
    expect(refused.stdout).to.match(/register shape v2_i8_r2_o8/);
    expect(refused.stdout).to.match(/estimated [0-9,]+ gas for the deployments/);
    expect(both(refused)).to.match(
      /refusing to send transactions to localhost \(chain 4242\) without a confirmation: stdin is not a terminal; pass --yes/,
    );
    const p2 = new JsonRpcProvider(started.url, undefined, { staticNetwork: true });
    try {
      const [deployer] = (await p2.send("eth_accounts", [])) as string[];
      expect(await p2.getTransactionCount(deployer)).to.equal(0);
      const out = await hardhatOk([...args, "--yes"], env2);
      expect(out).to.match(/--yes: proceeding without asking/);
      expect(out).to.match(/deployed on localhost \(chain 4242\)/);
      expect(await p2.getTransactionCount(deployer)).to.equal(6);
    } finally {
      p2.destroy();
    }
  });
});

describe("# zklora:deploy confirmation (the prompt as a function)", function () {
  const base = {
    network: "sepolia",
    chainId: 11155111n,
    local: false,
    plan: ["zklora:deploy will send transactions to sepolia", "  deploy ShapeRegistryV2"],
    yes: false,
    isTTY: true,
  };
  const run = async (o: Partial<typeof base> & { answer?: string }) => {
    const printed: string[] = [];
    const asked: string[] = [];
    const ok = await confirmTransactions({
      ...base,
      ...o,
      ask: async (q) => {
        asked.push(q);
        return o.answer ?? "";
      },
      print: (l) => printed.push(l),
    });
    return { ok, printed, asked };
  };

  it("Should proceed only on y or yes, after printing the plan and asking once", async function () {
    for (const [answer, ok] of [
      ["y", true],
      ["yes", true],
      ["YES", true],
      [" y ", true],
      ["", false],
      ["n", false],
      ["no", false],
      ["yess", false],
    ] as const) {
      const r = await run({ answer });
      expect(r.ok, JSON.stringify(answer)).to.equal(ok);
      expect(r.asked).to.deep.equal([CONFIRM_QUESTION]);
      expect(r.printed).to.deep.equal(base.plan);
    }
    expect(CONFIRM_QUESTION).to.equal("proceed? [y/N] ");
  });

  it("Should not ask with --yes (the plan is still printed) nor on a local chain (nothing printed)", async function () {
    const yes = await run({ yes: true, isTTY: false, answer: "n" });
    expect(yes.ok).to.equal(true);
    expect(yes.asked).to.deep.equal([]);
    expect(yes.printed.slice(0, 2)).to.deep.equal(base.plan);
    const local = await run({ local: true, chainId: 31337n, answer: "n", isTTY: false });
    expect(local).to.deep.equal({ ok: true, printed: [], asked: [] });
  });

  it("Should refuse with one line, without asking, when stdin is not a terminal and --yes is absent", async function () {
    let err: unknown;
    const asked: string[] = [];
    try {
      await confirmTransactions({
        ...base,
        isTTY: false,
        ask: async (q) => {
          asked.push(q);
          return "y";
        },
        print: () => {},
      });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(UsageError);
    expect((err as Error).message).to.equal(
      "refusing to send transactions to sepolia (chain 11155111) without a confirmation: stdin is not a terminal; pass --yes to confirm in advance",
    );
    expect(asked).to.deep.equal([]);
  });
});
