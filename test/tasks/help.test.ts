/**
 * Every zklora task declares its options with Hardhat 3 argument types: numbers are INT or BIGINT
 * (Hardhat refuses a malformed value before the action runs), paths are FILE, options without a
 * fixed default are *_WITHOUT_DEFAULT (never a STRING defaulting to ""), and the options a task
 * cannot run without say "(required)" (Hardhat 3 has no required options: the action asks for them
 * in one line). Malformed input — a value of the wrong type, a value out of range, a malformed
 * file — ends the command with one line that says what is wrong, and no stack trace.
 */
import { expect } from "chai";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import hre from "hardhat";
import { ArgumentType } from "hardhat/types/arguments";
import { zkloraTasks } from "../../tasks/index.js";
import { hardhat, type Run } from "../e2e/helpers.js";

const { STRING, FLAG, INT, BIGINT, FILE, STRING_WITHOUT_DEFAULT, FILE_WITHOUT_DEFAULT } = ArgumentType;

/** Shared options of the deal tasks. */
const WS = { workspace: FILE_WITHOUT_DEFAULT };
const DEPLOYMENT = { deployment: FILE_WITHOUT_DEFAULT };
const FROM = { from: STRING_WITHOUT_DEFAULT };
const PTAU = { ptau: FILE_WITHOUT_DEFAULT };
/** --verbose of the tasks that derive keys or prove: snarkjs's own log lines. */
const VERBOSE = { verbose: FLAG };

/** Every option of every zklora task, with its type. */
const TYPES: Record<string, Record<string, ArgumentType>> = {
  "zklora:deploy": {
    shapes: STRING_WITHOUT_DEFAULT,
    adapter: FILE_WITHOUT_DEFAULT,
    model: FILE_WITHOUT_DEFAULT,
    ...PTAU,
    register: FLAG,
    noWrite: FLAG,
    forgeableKeys: FLAG,
    deploymentId: STRING_WITHOUT_DEFAULT,
    yes: FLAG,
    verify: FLAG,
  },
  "zklora:commit": {
    ...WS,
    ...DEPLOYMENT,
    ...FROM,
    model: FILE_WITHOUT_DEFAULT,
    adapter: FILE_WITHOUT_DEFAULT,
    ...PTAU,
    ...VERBOSE,
  },
  "zklora:deliver": { ...WS, ...PTAU, deliveryKeys: STRING_WITHOUT_DEFAULT, jobs: INT, ...VERBOSE },
  "zklora:propose": {
    ...WS,
    ...DEPLOYMENT,
    ...FROM,
    price: STRING_WITHOUT_DEFAULT,
    token: STRING_WITHOUT_DEFAULT,
    buyer: STRING_WITHOUT_DEFAULT,
    window: INT,
    ...PTAU,
    deliver: FLAG,
    ...VERBOSE,
  },
  "zklora:serve": {
    ...WS,
    ...DEPLOYMENT,
    ...FROM,
    host: STRING,
    port: INT,
    buyer: STRING_WITHOUT_DEFAULT,
    rowBudget: INT,
    corsOrigins: STRING_WITHOUT_DEFAULT,
    sync: STRING,
    exportCalls: FILE_WITHOUT_DEFAULT,
    ...PTAU,
    ...VERBOSE,
  },
  "zklora:infer": {
    ...WS,
    ...FROM,
    url: STRING_WITHOUT_DEFAULT,
    model: FILE_WITHOUT_DEFAULT,
    tokens: FILE_WITHOUT_DEFAULT,
    text: STRING_WITHOUT_DEFAULT,
    greedy: INT,
  },
  "zklora:fund": {
    ...WS,
    ...DEPLOYMENT,
    ...FROM,
    url: STRING_WITHOUT_DEFAULT,
    prepare: FILE_WITHOUT_DEFAULT,
    upload: FLAG,
    ...PTAU,
    deliveryKeys: STRING_WITHOUT_DEFAULT,
    trust: STRING_WITHOUT_DEFAULT,
    forgeableKeys: FLAG,
    ...VERBOSE,
  },
  "zklora:prove": {
    ...WS,
    ...DEPLOYMENT,
    jobs: INT,
    keys: STRING_WITHOUT_DEFAULT,
    redis: STRING_WITHOUT_DEFAULT,
    attempts: INT,
    ...PTAU,
    ...VERBOSE,
  },
  "zklora:worker": {
    redis: STRING_WITHOUT_DEFAULT,
    keys: FILE_WITHOUT_DEFAULT,
    jobs: INT,
    lockMs: INT,
    ...PTAU,
    ...VERBOSE,
  },
  "zklora:submit": { ...WS, ...DEPLOYMENT, ...FROM, batch: INT },
  "zklora:settle": {
    ...WS,
    ...DEPLOYMENT,
    ...FROM,
    deal: BIGINT,
    wrapKey: FILE_WITHOUT_DEFAULT,
    ...PTAU,
    ...VERBOSE,
  },
  "zklora:decrypt": { ...WS, ...DEPLOYMENT, out: FILE_WITHOUT_DEFAULT },
  "zklora:refund": { ...WS, ...DEPLOYMENT, ...FROM, deal: BIGINT },
  "zklora:status": { ...WS, ...DEPLOYMENT, deal: BIGINT, all: FLAG, json: FLAG },
  "zklora:contribute": { key: FILE_WITHOUT_DEFAULT, out: FILE_WITHOUT_DEFAULT, name: STRING },
  "zklora:beacon": {
    key: FILE_WITHOUT_DEFAULT,
    out: FILE_WITHOUT_DEFAULT,
    hash: STRING_WITHOUT_DEFAULT,
    iterations: INT,
    name: STRING,
  },
  "zklora:verify-key": { key: FILE_WITHOUT_DEFAULT, initial: FILE_WITHOUT_DEFAULT },
  "zklora:demo": {
    workspace: FILE,
    layers: STRING_WITHOUT_DEFAULT,
    rank: INT,
    tokens: INT,
    json: FILE_WITHOUT_DEFAULT,
    skipDelivery: FLAG,
    ...VERBOSE,
  },
};

/** The options each task cannot run without, in the order its action asks for them. */
const REQUIRED: Record<string, string[]> = {
  "zklora:commit": ["workspace", "model", "adapter"],
  "zklora:deliver": ["workspace"],
  "zklora:propose": ["workspace", "price"],
  "zklora:serve": ["workspace"],
  "zklora:infer": ["workspace", "url"],
  "zklora:fund": ["workspace"],
  "zklora:prove": ["workspace"],
  "zklora:worker": ["redis", "keys"],
  "zklora:submit": ["workspace"],
  "zklora:decrypt": ["workspace"],
  "zklora:contribute": ["key", "out"],
  "zklora:beacon": ["key", "out", "hash"],
  "zklora:verify-key": ["key"],
};

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Runs a task in this process; returns the message of the zklora error it must fail with. */
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

/** The lines a failed CLI run printed, less the blank ones and Hardhat's "For more info" hint. */
function errorLines(r: Run): string[] {
  return (r.stderr + r.stdout)
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l !== "" && !/^For more info/.test(l));
}

describe("# task option types, help and one-line errors", function () {
  this.timeout(300_000);
  let tmp = "";
  let savedDir: string | undefined;
  // Hardhat prints stack traces on purpose when it runs under CI (CI=true): test what a user sees.
  const env: NodeJS.ProcessEnv = { ...process.env, FORCE_COLOR: "0" };
  delete env.CI;
  delete env.CONTINUOUS_INTEGRATION;

  // Malformed inputs: a workspace whose deal.json and manifest.json are cut short, a deployment
  // record that is not JSON, a model whose config.json is not JSON, a .zkey that is not a zkey.
  const ws = () => path.join(tmp, "ws");
  const badJson = () => path.join(tmp, "bad.json");
  const model = () => path.join(tmp, "model");
  const adapter = () => path.join(tmp, "adapter");
  const zkey = () => path.join(tmp, "bad.zkey");
  const deployments = () => path.join(tmp, "deployments");

  before(async function () {
    tmp = await mkdtemp(path.join(tmpdir(), "zklora-task-help-"));
    await mkdir(ws());
    await writeFile(path.join(ws(), "deal.json"), "{");
    await writeFile(path.join(ws(), "manifest.json"), "{");
    await writeFile(badJson(), "{");
    await mkdir(model());
    await writeFile(path.join(model(), "config.json"), '{"hidden_size": ');
    await mkdir(adapter());
    await writeFile(path.join(adapter(), "adapter_config.json"), "{");
    await writeFile(zkey(), "not a zkey\n");
    await mkdir(deployments());
    savedDir = process.env.ZKLORA_DEPLOYMENTS_DIR;
    process.env.ZKLORA_DEPLOYMENTS_DIR = deployments();
    env.ZKLORA_DEPLOYMENTS_DIR = deployments();
  });

  after(async function () {
    if (savedDir === undefined) delete process.env.ZKLORA_DEPLOYMENTS_DIR;
    else process.env.ZKLORA_DEPLOYMENTS_DIR = savedDir;
    await rm(tmp, { recursive: true, force: true });
  });

  it('Should declare every option of every zklora task with its type, none a STRING defaulting to ""', function () {
    const ids = zkloraTasks.map((t) => t.id.join(" ")).sort();
    expect(ids).to.deep.equal(Object.keys(TYPES).sort());
    for (const [id, types] of Object.entries(TYPES)) {
      const options = hre.tasks.getTask(id).options;
      expect([...options.keys()].sort(), `${id}'s options`).to.deep.equal(Object.keys(types).sort());
      for (const [name, o] of options) {
        expect(o.type, `${id} --${kebab(name)}`).to.equal(types[name]);
        // (booleans: chai's equal is overridden for bigint values by the ethers matchers)
        const withoutDefault = o.type === STRING_WITHOUT_DEFAULT || o.type === FILE_WITHOUT_DEFAULT;
        expect(o.defaultValue === undefined, `${id} --${kebab(name)}: default`).to.equal(withoutDefault);
        expect(o.defaultValue === "", `${id} --${kebab(name)}: an empty default`).to.equal(false);
      }
    }
  });

  it("Should mark the required options (*_WITHOUT_DEFAULT, described as required) and ask for each in one line", async function () {
    for (const [id, types] of Object.entries(TYPES)) {
      const required = REQUIRED[id] ?? [];
      for (const [name, o] of hre.tasks.getTask(id).options) {
        const isRequired = required.includes(name);
        expect(o.description.endsWith("(required)"), `${id} --${kebab(name)} required`).to.equal(isRequired);
        if (isRequired) expect([STRING_WITHOUT_DEFAULT, FILE_WITHOUT_DEFAULT]).to.include(types[name]);
      }
      // Absent: the action asks for the first required option not given, in one line.
      const given: Record<string, string> = {};
      for (const name of required) {
        const message = await failure(id, given);
        expect(message, id).to.match(new RegExp(`^${id}: pass --${kebab(name)} `));
        expect(message, id).to.not.include("\n");
        given[name] = name === "price" ? "1" : name === "hash" ? "ab" : path.join(tmp, `given-${name}`);
      }
    }
  });

  it("Should show the option types in the help text, and the required options", async function () {
    const r = await hardhat(["zklora:propose", "--help"], env);
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout).to.include("[--window <INT>]");
    expect(r.stdout).to.include("[--price <STRING_WITHOUT_DEFAULT>]");
    expect(r.stdout).to.include("[--workspace <FILE_WITHOUT_DEFAULT>]");
    expect(r.stdout).to.match(/--price\s+Price in whole units .*\(required\)\n/);
    expect(r.stdout).to.match(/--window\s+Proving window in seconds after funding \(default: 86400\)\n/);
    expect(r.stdout).to.not.include("(default: )");
    expect(r.stdout).to.match(/--verbose\s+Print snarkjs's own log lines/);
  });

  it("Should end the command with one line, without a stack trace, on malformed input", async function () {
    await writeFile(path.join(deployments(), "localhost.json"), '{"network": ');
    const cases: Array<{ args: string[]; line: RegExp }> = [
      // a malformed INT and BIGINT: Hardhat refuses them before the action runs
      {
        args: ["zklora:demo", "--rank", "abc"],
        line: /^Error HHE500: Invalid value "abc" for argument "rank" of type "INT"$/,
      },
      {
        args: ["zklora:status", "--deal", "x"],
        line: /^Error HHE500: Invalid value "x" for argument "deal" of type "BIGINT"$/,
      },
      // well-typed, out of range
      {
        args: ["zklora:submit", "--workspace", ws(), "--batch", "0"],
        line: /^Error in community plugin zklora: zklora:submit: --batch must be a positive integer, got 0$/,
      },
      {
        args: ["zklora:serve", "--workspace", ws(), "--port", "70000"],
        line: /zklora:serve: --port must be 0\.\.65535 \(0: an ephemeral port\), got 70000$/,
      },
      // malformed files
      {
        args: ["zklora:fund", "--workspace", ws()],
        line: /^Error in community plugin zklora: zklora:fund: .*deal\.json is not valid JSON: /,
      },
      {
        args: ["zklora:status", "--deployment", badJson(), "--deal", "1"],
        line: /zklora:status: .*bad\.json is not valid JSON \(.*\): pass the deployments\/<network>\.json/,
      },
      {
        args: ["--network", "localhost", "zklora:status", "--deal", "1"],
        line: /zklora:status: .*localhost\.json is not valid JSON \(.*\): restore it, or deploy anew/,
      },
      {
        args: ["zklora:verify-key", "--key", zkey()],
        line: /zklora:verify-key: .*bad\.zkey is not a zkey file$/,
      },
    ];
    const runs = await Promise.all(cases.map((c) => hardhat(c.args, env)));
    cases.forEach((c, i) => {
      const r = runs[i];
      const what = `hardhat ${c.args.join(" ")}:\n${r.stdout}${r.stderr}`;
      expect(r.code, what).to.not.equal(0);
      const lines = errorLines(r);
      expect(lines, what).to.have.length(1);
      expect(lines[0], what).to.match(c.line);
      expect(r.stdout + r.stderr, what).to.not.match(/\n\s+at |unexpected error/i);
    });
  });

  it("Should refuse a malformed file in one line in every task that reads one", async function () {
    const network = (await hre.network.getOrCreate()).networkName;
    await writeFile(path.join(deployments(), `${network}.json`), "[");
    const malformed: Array<[string, Record<string, unknown>, RegExp]> = [
      ["zklora:deploy", { adapter: adapter(), model: model() }, /config\.json is not a JSON object/],
      [
        "zklora:commit",
        { workspace: ws(), model: model(), adapter: adapter(), deployment: badJson() },
        /bad\.json is not valid JSON/,
      ],
      ["zklora:deliver", { workspace: ws() }, /manifest\.json is not valid JSON/],
      [
        "zklora:propose",
        { workspace: ws(), price: "1", deployment: badJson() },
        /bad\.json is not valid JSON/,
      ],
      ["zklora:serve", { workspace: ws() }, /deal\.json is not valid JSON/],
      [
        "zklora:infer",
        { workspace: ws(), url: "http://127.0.0.1:1", greedy: 4 },
        /deal\.json is not valid JSON/,
      ],
      ["zklora:fund", { workspace: ws() }, /deal\.json is not valid JSON/],
      ["zklora:prove", { workspace: ws() }, new RegExp(`${network}\\.json is not valid JSON`)],
      ["zklora:submit", { workspace: ws() }, /deal\.json is not valid JSON/],
      ["zklora:settle", { workspace: ws() }, /deal\.json is not valid JSON/],
      ["zklora:decrypt", { workspace: ws() }, new RegExp(`${network}\\.json is not valid JSON`)],
      ["zklora:refund", { workspace: ws() }, /deal\.json is not valid JSON/],
      ["zklora:status", { workspace: ws() }, new RegExp(`${network}\\.json is not valid JSON`)],
      ["zklora:contribute", { key: zkey(), out: path.join(tmp, "o.zkey") }, /bad\.zkey is not a zkey file/],
      [
        "zklora:beacon",
        { key: zkey(), out: path.join(tmp, "o.zkey"), hash: "ab" },
        /bad\.zkey is not a zkey file/,
      ],
      ["zklora:verify-key", { key: zkey() }, /bad\.zkey is not a zkey file/],
    ];
    for (const [id, args, re] of malformed) {
      const message = await failure(id, args);
      expect(message, id).to.match(new RegExp(`^${id}: `));
      expect(message, id).to.match(re);
      expect(message, id).to.not.include("\n");
    }
  });
});
