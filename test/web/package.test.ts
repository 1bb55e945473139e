/**
 * The chain client as an npm package: `npm run build:client` (tsc over src/chain, tsconfig.client.json)
 * writes dist/ with declarations; `npm pack` ships dist/ only, with one TypeChain output; the tarball
 * installs offline into a scratch project under the OS temp folder (with ethers, its peer, from the
 * npm cache), where plain Node imports `zklora-escrow` and `zklora-escrow/deployments` and talks to a
 * real `hardhat node` (deployed with `zklora:deploy`), and tsc type-checks a TypeScript consumer
 * against the shipped declarations.
 */
import { expect } from "chai";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { PROJECT_ROOT } from "../../src/common/cache.js";
import { hardhatOk, startHardhatNode, type Background, type Run } from "../e2e/helpers.js";

/**
 * The environment for npm in another folder: without the npm_* variables of an enclosing `npm test`
 * (npm_config_local_prefix would point the scratch install at this project), keeping the cache and
 * registry settings.
 */
function npmEnv(): NodeJS.ProcessEnv {
  const keep = new Set(["npm_config_cache", "npm_config_registry", "npm_config_userconfig"]);
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.toLowerCase().startsWith("npm_") || keep.has(k.toLowerCase())) env[k] = v;
  }
  return { ...env, npm_config_fund: "false", npm_config_audit: "false", npm_config_update_notifier: "false" };
}

function sh(
  cmd: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  timeoutMs = 300_000,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function ok(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  const r = await sh(cmd, args, cwd, env);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

interface LockEntry {
  version?: string;
  dev?: boolean;
  dependencies?: Record<string, string>;
  [k: string]: unknown;
}

/**
 * The scratch project's package-lock.json: the packed tarball, and ethers with its dependencies at
 * exactly the versions (and integrity) of this project's lockfile, so `npm ci --offline` takes them
 * from the npm cache that installing this project filled.
 */
async function consumerProject(
  tarballName: string,
  tarball: Buffer,
): Promise<{ pkg: unknown; lock: unknown }> {
  const projectLock = JSON.parse(await readFile(path.join(PROJECT_ROOT, "package-lock.json"), "utf8")) as {
    packages: Record<string, LockEntry>;
  };
  const own = JSON.parse(await readFile(path.join(PROJECT_ROOT, "package.json"), "utf8")) as {
    name: string;
    version: string;
    peerDependencies: Record<string, string>;
  };
  const packages: Record<string, LockEntry> = {};
  /** Node's lookup: <from>/node_modules/<dep>, then each enclosing node_modules up to the top. */
  const locate = (from: string, dep: string): string => {
    let dir = from;
    while (true) {
      const candidate = `${dir === "" ? "" : `${dir}/`}node_modules/${dep}`;
      if (projectLock.packages[candidate] !== undefined) return candidate;
      if (dir === "") throw new Error(`package-lock.json has no ${dep} for ${from}`);
      const i = dir.lastIndexOf("/node_modules/");
      dir = i < 0 ? "" : dir.slice(0, i);
    }
  };
  const add = (key: string): void => {
    if (packages[key] !== undefined) return;
    const { dev: _dev, ...entry } = projectLock.packages[key];
    packages[key] = entry;
    for (const dep of Object.keys(entry.dependencies ?? {})) add(locate(key, dep));
  };
  add("node_modules/ethers");
  const dependencies = {
    ethers: packages["node_modules/ethers"].version as string,
    [own.name]: `file:${tarballName}`,
  };
  const pkg = { name: "zklora-consumer", private: true, type: "module", dependencies };
  const lock = {
    name: "zklora-consumer",
    lockfileVersion: 3,
    requires: true,
    packages: {
      "": { name: "zklora-consumer", dependencies },
      [`node_modules/${own.name}`]: {
        version: own.version,
        resolved: `file:${tarballName}`,
        integrity: `sha512-${createHash("sha512").update(tarball).digest("base64")}`,
        peerDependencies: own.peerDependencies,
      },
      ...packages,
    },
  };
  return { pkg, lock };
}

/** The consumer: plain Node ESM importing the installed package. */
const CONSUMER_JS = `
import { readFile } from "node:fs/promises";
import { JsonRpcProvider } from "ethers";
import {
  ChainError, ContractRevertError, DEAL_STATUS, LoraEscrowV2__factory, ZkloraClient, addressesOf,
} from "zklora-escrow";
import { parseDeployment } from "zklora-escrow/deployments";

const [rpc, file] = process.argv.slice(2);
const record = parseDeployment(JSON.parse(await readFile(file, "utf8")));
const provider = new JsonRpcProvider(rpc, undefined, { staticNetwork: true });
const client = await ZkloraClient.connect(provider, addressesOf(record));
const errorOf = (e) => ({
  chainError: e instanceof ChainError,
  revert: e instanceof ContractRevertError,
  name: e.revertName ?? null,
  message: e.message,
});
const out = {
  resolved: import.meta.resolve("zklora-escrow"),
  escrow: client.addresses.escrow,
  deals: (await client.dealIds()).map(String),
  statuses: DEAL_STATUS,
  factory: typeof LoraEscrowV2__factory.connect,
  wrap: (await client.wrapVerifier())?.slots ?? null,
};
try {
  await client.getDeal(99n);
} catch (e) {
  out.missing = errorOf(e);
}
const contributor = client.withRunner(await provider.getSigner(1));
try {
  await contributor.cancel(99n);
} catch (e) {
  out.cancel = errorOf(e);
}
try {
  await contributor.propose({
    price: 1n,
    baseModelHash: "0x" + "11".repeat(32),
    modules: [{ shapeId: "0x" + "22".repeat(32), wM: [1n, 2n] }],
    provingWindow: 3600,
  });
} catch (e) {
  out.propose = errorOf(e);
}
console.log(JSON.stringify(out));
provider.destroy();
`;

/** A TypeScript consumer: must type-check against the shipped declarations (and its @ts-expect-error must hold). */
const CONSUMER_TS = `
import { JsonRpcProvider } from "ethers";
import {
  ContractRevertError, ZkloraClient, addressesOf, type DealView, type DeploymentRecord, type LoraEscrowV2,
} from "zklora-escrow";
import { parseDeployment } from "zklora-escrow/deployments";

export async function dealOf(rpc: string, json: unknown, id: bigint): Promise<DealView> {
  const record: DeploymentRecord = parseDeployment(json);
  const client = await ZkloraClient.connect(new JsonRpcProvider(rpc), addressesOf(record));
  const escrow: LoraEscrowV2 = client.escrow;
  const count: bigint = await escrow.dealCount();
  // @ts-expect-error getDeal takes the deal id
  await client.getDeal();
  try {
    return await client.getDeal(id + count);
  } catch (e) {
    if (e instanceof ContractRevertError) throw new Error(e.revertName);
    throw e;
  }
}
`;

describe("# the chain client as an npm package (build:client, npm pack, install, use from Node)", function () {
  this.timeout(600_000);
  let tmp = "";
  let tarball = "";
  let node: Background | undefined;

  before(async function () {
    tmp = await mkdtemp(path.join(tmpdir(), "zklora-pkg-"));
  });

  after(async function () {
    await node?.stop("SIGTERM");
    if (tmp !== "") await rm(tmp, { recursive: true, force: true });
  });

  it("Should build dist/ with declarations and pack it alone, with one TypeChain output", async function () {
    await ok("npm", ["run", "build:client"], PROJECT_ROOT, process.env);
    for (const f of [
      "index.js",
      "index.d.ts",
      "client.d.ts",
      "errors.d.ts",
      "deployments.js",
      "deployments.d.ts",
    ]) {
      expect(existsSync(path.join(PROJECT_ROOT, "dist", f)), f).to.equal(true);
    }
    // Only src/chain was compiled (the client pulls no other part of the project).
    const packed = JSON.parse(
      await ok(
        "npm",
        ["pack", "--ignore-scripts", "--json", "--pack-destination", tmp],
        PROJECT_ROOT,
        npmEnv(),
      ),
    ) as { filename: string; name: string; files: { path: string }[] }[];
    expect(packed).to.have.length(1);
    expect(packed[0].name).to.equal("zklora-escrow");
    tarball = path.join(tmp, packed[0].filename);
    const files = packed[0].files.map((f) => f.path).sort();
    const outside = files.filter(
      (f) => !f.startsWith("dist/") && !["package.json", "README.md", "LICENSE"].includes(f),
    );
    expect(outside, "files outside dist/").to.deep.equal([]);
    expect(files).to.include.members(["dist/index.js", "dist/index.d.ts", "dist/typechain/index.d.ts"]);
    // One TypeChain output: dist/typechain (from the committed src/chain/typechain), not Hardhat's types/.
    const factories = files.filter((f) => f.endsWith("LoraEscrowV2__factory.js"));
    expect(factories).to.deep.equal(["dist/typechain/factories/LoraEscrowV2__factory.js"]);
    expect(files.filter((f) => /(^|\/)common\.d\.ts$/.test(f))).to.deep.equal(["dist/typechain/common.d.ts"]);
    expect(files.some((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))).to.equal(false);
    // No node built-in in the client's entry point (the browser bundle test checks the whole graph).
    const index = await readFile(path.join(PROJECT_ROOT, "dist", "index.js"), "utf8");
    expect(index).to.not.match(/from "node:/);
  });

  it("Should install the tarball offline into a scratch project and use it from Node against a hardhat node", async function () {
    expect(tarball, "the previous test packs the tarball").to.not.equal("");
    const app = path.join(tmp, "consumer");
    await mkdir(app);
    await copyFile(tarball, path.join(app, path.basename(tarball)));
    const { pkg, lock } = await consumerProject(path.basename(tarball), await readFile(tarball));
    await writeFile(path.join(app, "package.json"), JSON.stringify(pkg, null, 2));
    await writeFile(path.join(app, "package-lock.json"), JSON.stringify(lock, null, 2));
    // npm ci from that lockfile: exact versions, tarballs from the npm cache by integrity (no registry).
    const install = ["ci", "--no-audit", "--no-fund", "--ignore-scripts"];
    let r = await sh("npm", ["--offline", ...install], app, npmEnv());
    if (r.code !== 0 && /ENOTCACHED/.test(r.stdout + r.stderr)) {
      // Some of ethers' files are not in this machine's npm cache: the registry fills in.
      console.log("    (npm cache incomplete: installing with --prefer-offline from the npm registry)");
      r = await sh("npm", ["--prefer-offline", ...install], app, npmEnv());
    }
    expect(r.code, `${r.stdout}\n${r.stderr}`).to.equal(0);
    expect(existsSync(path.join(app, "node_modules", "zklora-escrow", "dist", "index.js"))).to.equal(true);
    expect(existsSync(path.join(app, "node_modules", "zklora-escrow", "src"))).to.equal(false);

    // TypeScript: the declarations type-check a consumer (nodenext resolution through "exports").
    await writeFile(path.join(app, "consumer.ts"), CONSUMER_TS);
    await writeFile(
      path.join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2022",
          lib: ["ES2023", "DOM"],
          strict: true,
          noEmit: true,
          types: [],
        },
        files: ["consumer.ts"],
      }),
    );
    const tsc = path.join(PROJECT_ROOT, "node_modules", "typescript", "bin", "tsc");
    const checked = await sh(process.execPath, [tsc, "-p", "tsconfig.json"], app, process.env);
    expect(checked.code, checked.stdout + checked.stderr).to.equal(0);

    // Node: a real hardhat node with a fresh deployment.
    const started = await startHardhatNode();
    node = started.node;
    const deployments = path.join(tmp, "deployments");
    await hardhatOk(["--network", "localhost", "zklora:deploy"], {
      ...process.env,
      ZKLORA_LOCALHOST_URL: started.url,
      ZKLORA_DEPLOYMENTS_DIR: deployments,
      FORCE_COLOR: "0",
    });
    await writeFile(path.join(app, "consumer.mjs"), CONSUMER_JS);
    const out = await ok(
      process.execPath,
      ["consumer.mjs", started.url, path.join(deployments, "localhost.json")],
      app,
      npmEnv(),
    );
    const seen = JSON.parse(out) as Record<string, unknown> & {
      missing: { chainError: boolean; revert: boolean; message: string };
      cancel: { revert: boolean; name: string; message: string };
      propose: { revert: boolean; name: string; message: string };
    };
    const record = JSON.parse(await readFile(path.join(deployments, "localhost.json"), "utf8")) as {
      contracts: { LoraEscrowV2: { address: string } };
    };
    expect(seen.resolved).to.equal(
      `file://${path.join(app, "node_modules", "zklora-escrow", "dist", "index.js")}`,
    );
    expect(seen.escrow).to.equal(record.contracts.LoraEscrowV2.address);
    expect(seen.deals).to.deep.equal([]);
    expect(seen.statuses).to.deep.equal(["None", "Proposed", "Funded", "Settled", "Refunded", "Cancelled"]);
    expect(seen.factory).to.equal("function");
    expect(seen.missing).to.deep.include({ chainError: true, revert: false });
    expect(seen.missing.message).to.equal(
      `no deal 99 on escrow ${record.contracts.LoraEscrowV2.address}; check --deal and the network`,
    );
    expect(seen.cancel).to.deep.include({ revert: true, name: "DealNotFound" });
    expect(seen.cancel.message).to.equal(
      "cancel(99) reverted: DealNotFound: no deal 99 on this escrow; check --deal and the network",
    );
    expect(seen.propose).to.deep.include({ revert: true, name: "UnknownShape" });
    expect(seen.propose.message).to.match(/^propose reverted: UnknownShape: shape 0x2222\S+ has no verifier/);
  });
});
