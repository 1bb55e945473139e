/**
 * Action of `zklora:deploy`: parses arguments, derives the shape keys, deploys (through Hardhat
 * Ignition on a JSON-RPC network, resumable; with the plain ethers path of src/chain on the embedded
 * network), asks before sending transactions to a public chain, writes deployments/<network>.json,
 * and with --verify verifies every contract on the block explorer.
 */
import path from "node:path";
import { createInterface } from "node:readline/promises";
import { formatEther, formatUnits, getAddress, type Signer } from "ethers";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { UsageError } from "../../src/app/errors.js";
import { forgeableShapes, isLocalChain, refuseForgeableKeys } from "../../src/app/forgeable.js";
import { shapeSpec, wrapSpec } from "../../src/app/steps.js";
import {
  DeployError,
  deployZklora,
  readZkloraArtifacts,
  registerShapes,
  registerWrapVerifier,
  type ShapeSpec,
  type WrapSpec,
  type ZkloraArtifacts,
} from "../../src/chain/deploy.js";
import {
  readDeployment,
  writeDeployment,
  type DeployedShape,
  type DeployedWrap,
  type DeploymentRecord,
} from "../../src/chain/deployments.js";
import { buildWrapKey } from "../../src/zk/wrap/index.js";
import { loadBaseModel, loadPeftAdapter } from "../../src/model/index.js";
import { buildShapeKey, solidityShapeKey, type V2Shape } from "../../src/zk/v2/index.js";
import {
  checkJournalAgainstChain,
  defaultDeploymentId,
  deploymentDirOf,
  estimatePlan,
  planIgnitionDeploy,
  readJournal,
  recordFromJournal,
  runIgnitionDeploy,
  sendsTransactions,
  verifyTargets,
  type IgnitionPlan,
  type PlanEstimate,
} from "../../ignition/deploy.js";
import { REGISTRY_FUTURE_ID } from "../../ignition/modules/Zklora.js";
import { fileOf, given, networkDeployment, oneLine, runTask, type Connection } from "./lib.js";

interface Args {
  shapes: string | undefined;
  adapter: string | undefined;
  model: string | undefined;
  ptau: string | undefined;
  register: boolean;
  noWrite: boolean;
  forgeableKeys: boolean;
  deploymentId: string | undefined;
  yes: boolean;
  verify: boolean;
}

async function shapesOf(args: Args): Promise<V2Shape[]> {
  const out: V2Shape[] = [];
  const add = (s: V2Shape) => {
    if (!out.some((x) => x.DIN === s.DIN && x.R === s.R && x.DOUT === s.DOUT)) out.push(s);
  };
  for (const part of (args.shapes ?? "")
    .split(",")
    .map((x) => x.trim())
    .filter((x) => x !== "")) {
    const m = /^([1-9][0-9]*)x([1-9][0-9]*)x([1-9][0-9]*)$/.exec(part);
    if (m === null) throw new UsageError(`--shapes takes DINxRxDOUT entries (e.g. 64x8x64), got ${part}`);
    add({ DIN: Number(m[1]), R: Number(m[2]), DOUT: Number(m[3]) });
  }
  if (given(args.adapter)) {
    if (!given(args.model))
      throw new UsageError("--adapter needs --model (the base model the adapter is for)");
    const model = await loadBaseModel(path.resolve(args.model));
    try {
      const adapter = await loadPeftAdapter(path.resolve(args.adapter));
      for (const t of model.targets(adapter.config.target_modules)) {
        const am = adapter.modules.find(
          (m) => m.name === t.name || m.name.endsWith(`.${t.name}`) || t.name.endsWith(`.${m.name}`),
        );
        if (am !== undefined) add({ DIN: am.DIN, R: am.R, DOUT: am.DOUT });
      }
    } finally {
      await model.close();
    }
  }
  return out;
}

// ---------------------------------------------------------------- confirmation

/** The question `confirmTransactions` asks. */
export const CONFIRM_QUESTION = "proceed? [y/N] ";

/**
 * Asks before transactions go to a chain that is not local: prints `plan` and asks
 * {@link CONFIRM_QUESTION}; `yes` (--yes) answers in advance. Returns whether to proceed (only "y" or
 * "yes" proceeds). Without --yes and with stdin not a terminal, throws a one-line UsageError: a
 * script must say --yes. A local chain (31337, 1337) is never asked about.
 */
export async function confirmTransactions(o: {
  network: string;
  chainId: bigint;
  local: boolean;
  plan: readonly string[];
  yes: boolean;
  isTTY: boolean;
  ask: (question: string) => Promise<string>;
  print: (line: string) => void;
}): Promise<boolean> {
  if (o.local) return true;
  for (const line of o.plan) o.print(line);
  if (o.yes) {
    o.print("--yes: proceeding without asking");
    return true;
  }
  if (!o.isTTY) {
    throw new UsageError(
      `refusing to send transactions to ${o.network} (chain ${o.chainId}) without a confirmation: stdin is not a terminal; pass --yes to confirm in advance`,
    );
  }
  const answer = await o.ask(CONFIRM_QUESTION);
  return /^\s*y(es)?\s*$/i.test(answer);
}

async function askStdin(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return await rl.question(question);
  } finally {
    rl.close();
  }
}

/** The lines the confirmation shows: where, from whom, what is deployed and registered, the estimate. */
export function planLines(o: {
  network: string;
  chainId: bigint;
  from: string;
  plan: Pick<IgnitionPlan, "deployments" | "registrations" | "deploymentId" | "journal">;
  estimate: PlanEstimate | undefined;
}): string[] {
  const gas = (g: bigint | undefined) =>
    g === undefined ? "not estimated" : `~${g.toLocaleString("en-US")} gas`;
  const e = o.estimate;
  const done = o.plan.journal.successful.size;
  const lines = [
    `zklora:deploy will send transactions to ${o.network} (chain ${o.chainId}) from ${o.from}` +
      (e === undefined ? "" : ` (balance ${formatEther(e.balance)} ETH)`) +
      `; Ignition deployment ${o.plan.deploymentId}` +
      (o.plan.journal.exists ? ` (resuming: ${done} step(s) done)` : " (new)") +
      ":",
    ...o.plan.deployments.map((d, i) => `  deploy ${d.label}: ${gas(e?.gas[i])}`),
    ...o.plan.registrations.map((r) => `  ${r}`),
  ];
  if (e !== undefined) {
    const fee = e.maxFeePerGas;
    lines.push(
      `  estimated ${e.total.toLocaleString("en-US")} gas for the deployments` +
        (o.plan.registrations.length > 0
          ? ` (+ ${o.plan.registrations.length} registration call(s), not estimated)`
          : "") +
        (fee === undefined
          ? ""
          : `, at most ${formatEther(e.total * fee)} ETH at a max fee of ${formatUnits(fee, "gwei")} gwei`),
    );
  }
  return lines;
}

// ---------------------------------------------------------------- deploy

interface DeployContext {
  hre: HardhatRuntimeEnvironment;
  connection: Connection;
  signer: Signer;
  me: string;
  chainId: bigint;
  local: boolean;
  specs: ShapeSpec[];
  wrap: WrapSpec;
  artifacts: ZkloraArtifacts;
  log: (line: string) => void;
  confirm: (plan: string[]) => Promise<boolean>;
}

/** The network's record when it exists and parses; undefined otherwise (a new deployment overwrites it). */
async function optionalRecord(network: string): Promise<DeploymentRecord | undefined> {
  try {
    return await readDeployment(network);
  } catch {
    return undefined;
  }
}

/** The plain ethers path (the embedded network): as src/chain/deploy.ts does it for the demo and tests. */
async function deployPlain(args: Args, c: DeployContext): Promise<DeploymentRecord> {
  const network = c.connection.networkName;
  if (args.register) {
    const withShapes = await registerShapes(
      c.signer,
      await networkDeployment(network),
      c.specs,
      c.artifacts,
      c.log,
    );
    return registerWrapVerifier(c.signer, withShapes, c.wrap, c.artifacts, c.log);
  }
  return deployZklora(c.signer, c.specs, c.artifacts, { network, log: c.log, wrap: c.wrap });
}

/**
 * Through Ignition: the network's deployment (`--deployment-id`, default `chain-<chain id>`)
 * resumes from its journal. `--register` adds to the record's registry: through the same journal
 * when the record's registry is its core, else with plain transactions. Returns undefined when the
 * confirmation was declined.
 */
async function deployIgnition(args: Args, c: DeployContext): Promise<DeploymentRecord | undefined> {
  const network = c.connection.networkName;
  const deploymentId = given(args.deploymentId) ? args.deploymentId : defaultDeploymentId(c.chainId);
  const dir = deploymentDirOf(c.hre.config.paths.ignition, deploymentId);
  const journal = await checkJournalAgainstChain(
    await readJournal(dir, c.hre.artifacts),
    { provider: c.connection.ethers.provider, chainId: c.chainId, network, artifacts: c.hre.artifacts },
    c.log,
  );
  const journalRegistry = journal.successful.has(REGISTRY_FUTURE_ID)
    ? journal.contracts.get(REGISTRY_FUTURE_ID)
    : undefined;
  const existing = args.register ? await networkDeployment(network) : await optionalRecord(network);
  const sameRegistry =
    existing !== undefined &&
    journalRegistry !== undefined &&
    getAddress(existing.contracts.ShapeRegistryV2.address) === journalRegistry;
  const mode = args.register && !sameRegistry ? "plain" : "ignition";
  if (mode === "plain") {
    c.log(
      `the registry ${existing!.contracts.ShapeRegistryV2.address} of deployments/${network}.json is not in the Ignition journal ${dir}: adding to it with plain transactions (not resumable)`,
    );
  } else if (journal.exists) {
    c.log(`Ignition deployment ${deploymentId} (${dir}): resuming, ${journal.successful.size} step(s) done`);
  } else {
    c.log(`Ignition deployment ${deploymentId} (${dir}): new`);
  }
  const plan = await planIgnitionDeploy({
    mode,
    signer: c.signer,
    deploymentId,
    journal,
    registry: mode === "plain" ? existing!.contracts.ShapeRegistryV2.address : journalRegistry,
    base: mode === "plain" || sameRegistry ? existing : undefined,
    shapes: c.specs,
    wrap: c.wrap,
  });
  if (!sendsTransactions(plan)) {
    c.log("nothing to send: every contract is deployed and registered");
  } else if (!c.local) {
    const estimate = await estimatePlan(plan, c.signer, c.artifacts);
    const lines = planLines({ network, chainId: c.chainId, from: c.me, plan, estimate });
    if (!(await c.confirm(lines))) return undefined;
  }
  if (mode === "plain") {
    const withShapes = await registerShapes(c.signer, existing!, plan.moduleShapes, c.artifacts, c.log);
    return plan.wrap === "module"
      ? registerWrapVerifier(c.signer, withShapes, c.wrap, c.artifacts, c.log)
      : withShapes;
  }
  // Ignition's progress display redraws a terminal; elsewhere (logs, tests) one line per step below.
  const displayUi = sendsTransactions(plan) && process.stdout.isTTY === true;
  await runIgnitionDeploy(c.connection, plan, { owner: c.me, wrap: c.wrap, displayUi });
  const after = await readJournal(dir, c.hre.artifacts);
  if (!displayUi) {
    for (const id of after.successful) {
      if (journal.successful.has(id)) continue;
      const address = after.contracts.get(id);
      c.log(`  ${id}${address === undefined ? ": done" : ` at ${address}`}`);
    }
  }
  const { record, unrecorded } = await recordFromJournal({
    journal: after,
    plan,
    provider: c.connection.ethers.provider,
    network,
    chainId: c.chainId,
    deployer: c.me,
    wrap: c.wrap,
    artifacts: c.artifacts,
  });
  if (unrecorded.length > 0) {
    c.log(
      `the Ignition journal also registered ${unrecorded.join(", ")}, missing from the record: pass them to --shapes to record them`,
    );
  }
  return record;
}

// ---------------------------------------------------------------- verify

/**
 * Verifies the record's contracts on the network's block explorer (hardhat-verify, Etherscan) with
 * their exact constructor arguments; a contract already verified is reported as such. A shape whose
 * key this run cannot derive (another ptau file) is skipped with a line.
 */
async function verifyAll(
  hre: HardhatRuntimeEnvironment,
  record: DeploymentRecord,
  c: Pick<DeployContext, "specs" | "wrap" | "log">,
  ptau: string | undefined,
): Promise<void> {
  const { verifyContract } = await import("@nomicfoundation/hardhat-verify/verify");
  const { targets, skipped } = await verifyTargets(record, {
    sourceOf: async (name) => (await hre.artifacts.readArtifact(name)).sourceName,
    shapeArgs: (shape) => shapeVerifierArgs(shape, c.specs, ptau),
    wrapArgs: async (w) => wrapVerifierArgs(w, c.wrap),
  });
  for (const s of skipped) c.log(`not verified: ${s}`);
  // Failures by message: a configuration error (no API key, an unsupported chain) is said once.
  const failed = new Map<string, string[]>();
  for (const t of targets) {
    c.log(`verifying ${t.label} at ${t.address}`);
    try {
      await verifyContract(
        { address: t.address, contract: t.contract, constructorArgs: t.constructorArgs },
        hre,
      );
    } catch (err) {
      const message = oneLine((err as Error).message);
      failed.set(message, [...(failed.get(message) ?? []), t.label]);
    }
  }
  if (failed.size > 0) {
    const list = [...failed].map(([message, labels]) => `${labels.join(", ")}: ${message}`).join("; ");
    throw new UsageError(
      `verification failed for ${list} (rerun zklora:deploy --verify with the same options: nothing is redeployed)`,
    );
  }
  c.log(`verified ${targets.length} contract(s) on ${record.network}`);
}

/** A record shape's verifier constructor argument: from this run's keys, else derived from its ptau. */
export async function shapeVerifierArgs(
  shape: DeployedShape,
  specs: readonly ShapeSpec[],
  ptau: string | undefined,
): Promise<{ args: unknown } | { skip: string }> {
  const spec = specs.find((s) => s.shapeId === shape.shapeId);
  let args: unknown;
  let keyHash: string;
  if (spec !== undefined) {
    ({ verifierArgs: args, keyHash } = spec);
  } else if (shape.ptau === "dev" || (ptau !== undefined && path.basename(ptau) === shape.ptau)) {
    const key = await buildShapeKey(
      { DIN: shape.DIN, R: shape.R, DOUT: shape.DOUT },
      { ptau: shape.ptau === "dev" ? undefined : ptau },
    );
    ({ keyHash } = key);
    args = solidityShapeKey(key);
  } else {
    return { skip: `its key comes from ${shape.ptau}: pass --ptau with that file` };
  }
  if (keyHash !== shape.keyHash) {
    return { skip: `the derived key hash ${keyHash} is not the registered ${shape.keyHash} (another ptau?)` };
  }
  return { args };
}

/** The key-wrap verifier's constructor argument, when this run's key is the registered one. */
export function wrapVerifierArgs(w: DeployedWrap, wrap: WrapSpec): { args: unknown } | { skip: string } {
  if (w.keyHash !== wrap.keyHash) {
    return {
      skip: `the derived key hash ${wrap.keyHash} is not the registered ${w.keyHash} (pass the --ptau it came from: ${w.ptau})`,
    };
  }
  return { args: wrap.verifierArgs };
}

// ---------------------------------------------------------------- the task

export default async function deployAction(args: Args, hre: HardhatRuntimeEnvironment): Promise<void> {
  await runTask("zklora:deploy", async () => {
    await hre.tasks.getTask("build").run({ quiet: true, noTests: true });
    const connection = await hre.network.getOrCreate();
    const [signer] = await connection.ethers.getSigners();
    if (signer === undefined)
      throw new UsageError(`network ${connection.networkName} has no account to deploy from`);
    const { chainId } = await connection.ethers.provider.getNetwork();
    // The embedded network is simulated in this process: nothing reaches a real chain.
    const embedded = connection.networkConfig.type === "edr-simulated";
    const local = isLocalChain(chainId) || embedded;
    if (args.verify && local) {
      throw new UsageError(
        `--verify publishes the sources on a block explorer: ${connection.networkName} (chain ${chainId}) is a local chain; deploy to a public network to verify`,
      );
    }
    const shapes = await shapesOf(args);
    const ptau = fileOf(args.ptau);
    refuseForgeableKeys({
      chainId,
      network: connection.networkName,
      // The key-wrap verifier is deployed with every instance: from the dev ptau it is forgeable too.
      forgeable:
        ptau === undefined
          ? [
              ...forgeableShapes(shapes.map((s) => ({ name: `${s.DIN}x${s.R}x${s.DOUT}`, ptau: "dev" }))),
              "the key-wrap circuit",
            ]
          : [],
      allow: args.forgeableKeys,
      action: "deploy",
    });
    const specs = [];
    for (const s of shapes) {
      console.log(
        `shape ${s.DIN}x${s.R}x${s.DOUT}: deriving its key (cached by content after the first time)`,
      );
      specs.push(shapeSpec(await buildShapeKey(s, { ptau })));
    }
    console.log(
      "key-wrap circuit (delivery deals): deriving its key (cached by content after the first time)",
    );
    const wrap = wrapSpec(await buildWrapKey({ ptau }));
    const artifacts = await readZkloraArtifacts(hre.artifacts);
    const log = (m: string) => console.log(m);
    const ctx: DeployContext = {
      hre,
      connection,
      signer,
      me: getAddress(await signer.getAddress()),
      chainId,
      local,
      specs,
      wrap,
      artifacts,
      log,
      confirm: (plan) =>
        confirmTransactions({
          network: connection.networkName,
          chainId,
          local,
          plan,
          yes: args.yes,
          isTTY: process.stdin.isTTY === true,
          ask: askStdin,
          print: log,
        }),
    };
    let record: DeploymentRecord | undefined;
    try {
      record = embedded ? await deployPlain(args, ctx) : await deployIgnition(args, ctx);
    } catch (err) {
      // A deploy step's error says what to do: one line, no stack trace.
      if (err instanceof DeployError) throw new UsageError(err.message);
      throw err;
    }
    if (record === undefined) {
      console.log("cancelled: nothing sent");
      return;
    }
    if (!args.noWrite) {
      const abis = Object.fromEntries(
        [artifacts.registry, artifacts.escrow, artifacts.verifier, artifacts.wrapVerifier].map((a) => [
          a.contractName,
          a.abi,
        ]),
      );
      console.log(`wrote ${await writeDeployment(connection.networkName, record, { abis })}`);
    }
    console.log(
      `${args.register ? "updated" : "deployed"} on ${record.network} (chain ${record.chainId}): registry ${record.contracts.ShapeRegistryV2.address}, ` +
        `escrow ${record.contracts.LoraEscrowV2.address}, ${record.shapes.length} shape verifier(s), key-wrap verifier ${record.wrap?.verifier.address ?? "none"}` +
        (args.noWrite ? " (record not written: --no-write)" : ""),
    );
    if (args.verify) await verifyAll(hre, record, ctx, ptau);
  });
}
