/**
 * `zklora:deploy` through Hardhat Ignition (real networks and `localhost`): what the network's
 * Ignition deployment already holds (its journal, `ignition/deployments/<deployment id>/`), what a
 * run will send (`planIgnitionDeploy`, shown before a confirmation on a public chain), running the
 * modules of ./modules (`runIgnitionDeploy`), the deployment record `deployments/<network>.json`
 * rebuilt from the journal (`recordFromJournal`) and the constructor arguments `--verify` sends to
 * the block explorer (`verifyTargets`).
 *
 * The embedded network (edr-simulated: the demo, tests) keeps the plain ethers path of
 * src/chain/deploy.ts: it has no journal to resume from.
 */
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import {
  TransactionStatus,
  listTransactions,
  status,
  type ArtifactResolver,
  type TransactionInfo,
} from "@nomicfoundation/ignition-core";
import { ContractFactory, ZeroAddress, getAddress, type Provider, type Signer } from "ethers";
import type { NetworkConnection } from "hardhat/types/network";
import { DeployError, type ShapeSpec, type WrapSpec, type ZkloraArtifacts } from "../src/chain/deploy.js";
import type {
  DeployedContract,
  DeployedShape,
  DeployedWrap,
  DeploymentRecord,
} from "../src/chain/deployments.js";
import { ShapeRegistryV2__factory } from "../src/chain/typechain/index.js";
import { isLocalChain } from "../src/app/forgeable.js";
import { ESCROW_FUTURE_ID, REGISTRY_FUTURE_ID, zkloraModule, zkloraParameters } from "./modules/Zklora.js";
import { shapeRegisterFutureId, shapeVerifierFutureId } from "./modules/ZkloraShape.js";
import { WRAP_REGISTER_FUTURE_ID, WRAP_VERIFIER_FUTURE_ID } from "./modules/ZkloraWrap.js";

/** Ignition's default deployment id of a chain (what `ignition deploy` uses without --deployment-id). */
export function defaultDeploymentId(chainId: bigint | number): string {
  return `chain-${chainId}`;
}

/** Where Ignition keeps a deployment's journal: `<ignition dir>/deployments/<id>`. */
export function deploymentDirOf(ignitionDir: string, deploymentId: string): string {
  if (!/^[a-zA-Z0-9_-]+$/.test(deploymentId)) {
    throw new DeployError(
      `deployment id ${JSON.stringify(deploymentId)} must use letters, digits, - and _ only`,
    );
  }
  return path.join(ignitionDir, "deployments", deploymentId);
}

/** Reads artifacts for Ignition's read-only helpers (Hardhat's `hre.artifacts` fits). */
export interface ArtifactReader {
  readArtifact(name: string): Promise<unknown>;
}

function resolverOf(artifacts: ArtifactReader): Omit<ArtifactResolver, "getBuildInfo"> {
  return {
    loadArtifact: async (name) => (await artifacts.readArtifact(name)) as never,
  };
}

/** What an Ignition deployment's journal holds. */
export interface JournalState {
  dir: string;
  /** Whether a journal exists (an earlier run started this deployment). */
  exists: boolean;
  /** Future ids that completed. */
  successful: Set<string>;
  /** Deployed contracts by future id (checksummed addresses). */
  contracts: Map<string, string>;
  /** The transactions sent (Ignition's `listTransactions`). */
  transactions: TransactionInfo[];
}

/** Reads a deployment's journal; an absent one is an empty state. */
export async function readJournal(dir: string, artifacts: ArtifactReader): Promise<JournalState> {
  const empty: JournalState = {
    dir,
    exists: false,
    successful: new Set(),
    contracts: new Map(),
    transactions: [],
  };
  if (!existsSync(path.join(dir, "journal.jsonl"))) return empty;
  const st = await status(dir, resolverOf(artifacts));
  const contracts = new Map<string, string>();
  for (const [id, c] of Object.entries(st.contracts)) contracts.set(id, getAddress(c.address));
  return {
    dir,
    exists: true,
    successful: new Set(st.successful),
    contracts,
    transactions: await listTransactions(dir, resolverOf(artifacts)),
  };
}

/** The successful deployment transaction of `address` in the journal. */
function deploymentTx(journal: JournalState, address: string): TransactionInfo | undefined {
  return journal.transactions.find(
    (t) =>
      t.status === TransactionStatus.SUCCESS &&
      t.address !== undefined &&
      getAddress(t.address) === getAddress(address),
  );
}

/**
 * Checks that the chain holds what the journal says was deployed: each contract's deployment
 * transaction has a receipt that created it. A local chain that does not (a restarted `hardhat
 * node`) gets a new deployment: the journal is removed. On any other chain a mismatch is an error
 * (a wrong RPC URL, or another chain behind the same id): nothing is removed.
 */
export async function checkJournalAgainstChain(
  journal: JournalState,
  o: { provider: Provider; chainId: bigint; network: string; artifacts: ArtifactReader },
  log: (line: string) => void,
): Promise<JournalState> {
  if (!journal.exists) return journal;
  const missing: string[] = [];
  for (const [futureId, address] of journal.contracts) {
    const tx = deploymentTx(journal, address);
    const receipt = tx === undefined ? null : await o.provider.getTransactionReceipt(tx.txHash);
    const created = receipt?.contractAddress == null ? undefined : getAddress(receipt.contractAddress);
    if (created !== address) missing.push(`${futureId} at ${address}`);
  }
  if (missing.length === 0) return journal;
  const what = `${missing.length} contract(s) this chain does not have (${missing[0]}${missing.length > 1 ? ", …" : ""})`;
  if (isLocalChain(o.chainId)) {
    log(
      `the Ignition journal ${journal.dir} names ${what}: a restarted local node; starting a new deployment`,
    );
    await rm(journal.dir, { recursive: true, force: true });
    return readJournal(journal.dir, o.artifacts);
  }
  throw new DeployError(
    `the Ignition journal ${journal.dir} names ${what} on ${o.network} (chain ${o.chainId}): ` +
      "is the RPC URL right? Inspect or move the journal, or pass another --deployment-id",
  );
}

/** One contract a run deploys (for the confirmation and the gas estimate). */
export interface PlannedDeployment {
  label: string;
  artifact: "registry" | "escrow" | "verifier" | "wrapVerifier";
  /** Constructor arguments; the escrow's registry is undefined while the registry is not deployed. */
  args: unknown[];
}

/**
 * What a run does: the shapes whose module is included (registered now, or registered by an earlier
 * run of this journal), the shapes kept from the existing record (registered outside the journal),
 * the contracts and registrations still to send.
 */
export interface IgnitionPlan {
  deploymentId: string;
  journal: JournalState;
  /** The registry the shapes go to, when it exists already. */
  registry: string | undefined;
  /** The existing record when it describes this registry (its shapes are kept). */
  base: DeploymentRecord | undefined;
  moduleShapes: ShapeSpec[];
  keptShapes: DeployedShape[];
  /** "module": registered (or already registered) through the module; "kept": from the record. */
  wrap: "module" | "kept";
  deployments: PlannedDeployment[];
  registrations: string[];
}

/** Whether the plan sends any transaction. */
export function sendsTransactions(plan: Pick<IgnitionPlan, "deployments" | "registrations">): boolean {
  return plan.deployments.length > 0 || plan.registrations.length > 0;
}

function ptauLabel(ptau: string): string {
  return ptau === "dev" ? "FORGEABLE dev ptau" : ptau;
}

/**
 * Plans a run against `registry` (the journal's, or the record's for `--register` without a
 * matching journal: mode "plain"; undefined while the journal has no registry): which shapes and which key-wrap verifier go
 * into the module, which the record already has, and what is left to send. Throws DeployError for
 * a shape (or key-wrap verifier) registered with another key hash, one registered outside both the
 * journal and the record (a stale record), and when the signer does not own the registry but
 * something must be registered.
 */
export async function planIgnitionDeploy(o: {
  /** "ignition": the journal's deployment (its core deployed when missing); "plain": add to `registry`. */
  mode: "ignition" | "plain";
  signer: Signer;
  deploymentId: string;
  journal: JournalState;
  registry: string | undefined;
  base: DeploymentRecord | undefined;
  shapes: readonly ShapeSpec[];
  wrap: WrapSpec;
}): Promise<IgnitionPlan> {
  const me = getAddress(await o.signer.getAddress());
  const done = (id: string) => o.journal.successful.has(id);
  const plan: IgnitionPlan = {
    deploymentId: o.deploymentId,
    journal: o.journal,
    registry: o.registry,
    base: o.base,
    moduleShapes: [],
    keptShapes: [],
    wrap: "module",
    deployments: [],
    registrations: [],
  };
  if (o.mode === "ignition" && !done(REGISTRY_FUTURE_ID)) {
    plan.deployments.push({ label: `ShapeRegistryV2 (owner ${me})`, artifact: "registry", args: [me] });
  }
  if (o.mode === "ignition" && !done(ESCROW_FUTURE_ID)) {
    plan.deployments.push({
      label: "LoraEscrowV2 (over the registry)",
      artifact: "escrow",
      args: [undefined],
    });
  }
  const registry =
    o.registry === undefined ? undefined : ShapeRegistryV2__factory.connect(o.registry, o.signer);
  if (registry !== undefined && (await o.signer.provider!.getCode(o.registry!)) === "0x") {
    throw new DeployError(
      `the registry ${o.registry} has no code on this chain (a restarted local node?): deploy anew without --register`,
    );
  }
  const seen = new Set<string>();
  for (const s of o.shapes) {
    if (seen.has(s.shapeId)) continue;
    seen.add(s.shapeId);
    const onchain = registry === undefined ? ZeroAddress : await registry.verifierOf(s.shapeId);
    if (onchain === ZeroAddress) {
      plan.moduleShapes.push(s);
      if (!done(shapeVerifierFutureId(s.name))) {
        plan.deployments.push({
          label: `LoraModuleVerifierV2 of shape ${s.name} (${ptauLabel(s.ptau)})`,
          artifact: "verifier",
          args: [s.verifierArgs],
        });
      }
      plan.registrations.push(`register shape ${s.name}`);
      continue;
    }
    const keyHash = await registry!.keyHashOf(s.shapeId);
    if (keyHash !== s.keyHash) {
      throw new DeployError(
        `shape ${s.name} is registered with key hash ${keyHash}, but the derived key has ${s.keyHash} (another ptau?)`,
      );
    }
    if (done(shapeRegisterFutureId(s.name))) {
      plan.moduleShapes.push(s);
      continue;
    }
    const kept = o.base?.shapes.find((x) => x.shapeId === s.shapeId);
    if (kept !== undefined && getAddress(kept.verifier.address) === getAddress(onchain)) {
      plan.keptShapes.push(kept);
      continue;
    }
    throw new DeployError(
      `shape ${s.name} is registered at ${onchain} but neither in the Ignition journal ${o.journal.dir} nor in the deployment record: the record is stale; deploy again`,
    );
  }
  const onchainWrap = registry === undefined ? ZeroAddress : await registry.wrapVerifier();
  if (onchainWrap === ZeroAddress) {
    if (!done(WRAP_VERIFIER_FUTURE_ID)) {
      plan.deployments.push({
        label: `LoraKeyWrapVerifierV2 (${ptauLabel(o.wrap.ptau)})`,
        artifact: "wrapVerifier",
        args: [o.wrap.verifierArgs],
      });
    }
    plan.registrations.push("register the key-wrap verifier");
  } else {
    const keyHash = await registry!.wrapKeyHash();
    if (keyHash !== o.wrap.keyHash) {
      throw new DeployError(
        `the registry's key-wrap verifier has key hash ${keyHash}, but the derived key has ${o.wrap.keyHash} (another ptau?)`,
      );
    }
    if (!done(WRAP_REGISTER_FUTURE_ID)) {
      if (
        o.base?.wrap === undefined ||
        getAddress(o.base.wrap.verifier.address) !== getAddress(onchainWrap)
      ) {
        throw new DeployError(
          `the key-wrap verifier is registered at ${onchainWrap} but neither in the Ignition journal ${o.journal.dir} nor in the deployment record: the record is stale; deploy again`,
        );
      }
      plan.wrap = "kept";
    }
  }
  if (registry !== undefined && plan.registrations.length > 0) {
    const owner = getAddress(await registry.owner());
    if (owner !== me) {
      throw new DeployError(
        `only the registry owner ${owner} may register (${plan.registrations.join(", ")}); the signer is ${me}: ask them to run zklora:deploy`,
      );
    }
  }
  return plan;
}

/** Gas of the planned deployments (eth_estimateGas each) and the fee per gas a transaction may pay. */
export interface PlanEstimate {
  /** Estimated gas per planned deployment (undefined where the node refused the estimate). */
  gas: (bigint | undefined)[];
  total: bigint;
  maxFeePerGas: bigint | undefined;
  balance: bigint;
}

/** Estimates the plan's deployments (registration calls need the verifiers' addresses: not estimated). */
export async function estimatePlan(
  plan: Pick<IgnitionPlan, "deployments">,
  signer: Signer,
  artifacts: ZkloraArtifacts,
): Promise<PlanEstimate> {
  const me = await signer.getAddress();
  const gas: (bigint | undefined)[] = [];
  for (const d of plan.deployments) {
    const a = artifacts[d.artifact];
    // The escrow only stores its registry: any nonzero address estimates it.
    const args = d.args.map((x) => (x === undefined ? me : x));
    try {
      const tx = await new ContractFactory(a.abi, a.bytecode, signer).getDeployTransaction(...args);
      gas.push(await signer.estimateGas(tx));
    } catch {
      gas.push(undefined);
    }
  }
  const fee = await signer.provider!.getFeeData();
  return {
    gas,
    total: gas.reduce<bigint>((t, g) => t + (g ?? 0n), 0n),
    maxFeePerGas: fee.maxFeePerGas ?? fee.gasPrice ?? undefined,
    balance: await signer.provider!.getBalance(me),
  };
}

/** The shapes whose verifier the journal deployed, with the key struct each was deployed with. */
export function journalShapes(journal: JournalState): { name: string; verifierArgs: unknown }[] {
  const out: { name: string; verifierArgs: unknown }[] = [];
  for (const [futureId, address] of journal.contracts) {
    const m = /^ZkloraShape_([A-Za-z0-9_]+)#LoraModuleVerifierV2$/.exec(futureId);
    const params = deploymentTx(journal, address)?.params;
    if (m === null || params === undefined || !journal.successful.has(futureId)) continue;
    out.push({ name: m[1], verifierArgs: params[0] });
  }
  return out;
}

/**
 * Runs the plan's module through the connection's Ignition helper (the journal in
 * `<ignition dir>/deployments/<deployment id>/`): an earlier run's futures are reconciled and
 * skipped, a half-done one resumes.
 */
export async function runIgnitionDeploy(
  connection: NetworkConnection<string>,
  plan: IgnitionPlan,
  o: { owner: string; wrap: WrapSpec; displayUi: boolean },
): Promise<void> {
  // The shapes an earlier run deployed stay in the module (with the key they were deployed with,
  // from the journal): Ignition reconciles them instead of warning that they went missing.
  const shapes: { name: string; verifierArgs: unknown }[] = [...plan.moduleShapes];
  for (const earlier of journalShapes(plan.journal)) {
    if (!shapes.some((s) => s.name === earlier.name)) shapes.push(earlier);
  }
  const module = zkloraModule({ shapes: shapes.map((s) => s.name), wrap: plan.wrap === "module" });
  await connection.ignition.deploy(module, {
    parameters: zkloraParameters({
      owner: o.owner,
      shapes,
      wrap: plan.wrap === "module" ? o.wrap : undefined,
    }),
    deploymentId: plan.deploymentId,
    defaultSender: o.owner,
    displayUi: o.displayUi,
  });
}

/**
 * The deployment record of the journal after a run: the core's contracts, the existing record's
 * shapes when it describes the same registry, then this run's shapes, and the key-wrap verifier;
 * transaction hashes from the journal, block numbers from their receipts.
 */
export async function recordFromJournal(o: {
  journal: JournalState;
  plan: IgnitionPlan;
  provider: Provider;
  network: string;
  chainId: bigint;
  deployer: string;
  wrap: WrapSpec;
  artifacts: ZkloraArtifacts;
}): Promise<{ record: DeploymentRecord; unrecorded: string[] }> {
  const { journal } = o;
  const contract = async (futureId: string, contractName: string): Promise<DeployedContract> => {
    const address = journal.contracts.get(futureId);
    if (address === undefined || !journal.successful.has(futureId)) {
      throw new DeployError(`the Ignition journal ${journal.dir} has no deployed ${futureId}`);
    }
    const tx = deploymentTx(journal, address);
    const receipt = tx === undefined ? null : await o.provider.getTransactionReceipt(tx.txHash);
    if (tx === undefined || receipt === null) {
      throw new DeployError(`no receipt of the deployment of ${futureId} (${address}) on ${o.network}`);
    }
    return {
      address,
      contractName,
      abi: `abi/${contractName}.json`,
      transactionHash: receipt.hash,
      blockNumber: receipt.blockNumber,
    };
  };
  const registry = await contract(REGISTRY_FUTURE_ID, o.artifacts.registry.contractName);
  const escrow = await contract(ESCROW_FUTURE_ID, o.artifacts.escrow.contractName);
  const base =
    o.plan.base !== undefined &&
    getAddress(o.plan.base.contracts.ShapeRegistryV2.address) === registry.address
      ? o.plan.base
      : undefined;
  const shapes: DeployedShape[] = [...(base?.shapes ?? [])];
  for (const s of [...o.plan.keptShapes]) if (!shapes.some((x) => x.shapeId === s.shapeId)) shapes.push(s);
  for (const s of o.plan.moduleShapes) {
    if (shapes.some((x) => x.shapeId === s.shapeId)) continue;
    if (!journal.successful.has(shapeRegisterFutureId(s.name))) {
      throw new DeployError(`the Ignition journal ${journal.dir} has not registered shape ${s.name}`);
    }
    shapes.push({
      name: s.name,
      DIN: s.DIN,
      R: s.R,
      DOUT: s.DOUT,
      shapeId: s.shapeId,
      keyHash: s.keyHash,
      ptau: s.ptau,
      verifier: await contract(shapeVerifierFutureId(s.name), o.artifacts.verifier.contractName),
    });
  }
  let wrap: DeployedWrap | undefined = base?.wrap;
  if (journal.successful.has(WRAP_REGISTER_FUTURE_ID)) {
    wrap = {
      slots: o.wrap.slots,
      keyHash: o.wrap.keyHash,
      ptau: o.wrap.ptau,
      verifier: await contract(WRAP_VERIFIER_FUTURE_ID, o.artifacts.wrapVerifier.contractName),
    };
  }
  const owner = getAddress(await ShapeRegistryV2__factory.connect(registry.address, o.provider).owner());
  const record: DeploymentRecord = {
    format: "zklora-deployment/2",
    network: o.network,
    chainId: Number(o.chainId),
    deployer: base?.deployer ?? getAddress(o.deployer),
    registryOwner: owner,
    blockNumber: escrow.blockNumber,
    deployedAt: new Date().toISOString(),
    contracts: { ShapeRegistryV2: registry, LoraEscrowV2: escrow },
    shapes,
    ...(wrap === undefined ? {} : { wrap }),
  };
  // Shapes an earlier run of this journal registered that the record lacks (its record was not written).
  const unrecorded = [...journal.successful]
    .filter((id) => id.startsWith("ZkloraShape_") && id.endsWith("#register"))
    .map((id) => id.slice("ZkloraShape_".length, -"#register".length))
    .filter((name) => !shapes.some((x) => x.name === name));
  return { record, unrecorded };
}

/** One contract to verify on the block explorer, with the exact constructor arguments it was deployed with. */
export interface VerifyTarget {
  label: string;
  /** Fully qualified name, `<source>:<contract>`. */
  contract: string;
  address: string;
  /** The deployment transaction (the test compares its data with the arguments). */
  transactionHash: string;
  constructorArgs: unknown[];
}

/**
 * The contracts of a record to verify and their constructor arguments: the registry (its initial
 * owner: the deployer), the escrow (the registry), each shape's verifier (its ShapeKey struct, from
 * `shapeArgs`; a shape it cannot derive is skipped with a reason) and the key-wrap verifier (its
 * WrapKey struct, from `wrapArgs`). `sourceOf` gives a contract's source name.
 */
export async function verifyTargets(
  record: DeploymentRecord,
  o: {
    sourceOf: (contractName: string) => Promise<string>;
    shapeArgs: (shape: DeployedShape) => Promise<{ args: unknown } | { skip: string }>;
    wrapArgs: (wrap: DeployedWrap) => Promise<{ args: unknown } | { skip: string }>;
  },
): Promise<{ targets: VerifyTarget[]; skipped: string[] }> {
  const targets: VerifyTarget[] = [];
  const skipped: string[] = [];
  const add = async (label: string, c: DeployedContract, constructorArgs: unknown[]) =>
    targets.push({
      label,
      contract: `${await o.sourceOf(c.contractName)}:${c.contractName}`,
      address: c.address,
      transactionHash: c.transactionHash,
      constructorArgs,
    });
  await add("ShapeRegistryV2", record.contracts.ShapeRegistryV2, [record.deployer]);
  await add("LoraEscrowV2", record.contracts.LoraEscrowV2, [record.contracts.ShapeRegistryV2.address]);
  for (const s of record.shapes) {
    const a = await o.shapeArgs(s);
    if ("skip" in a) skipped.push(`shape ${s.name}: ${a.skip}`);
    else await add(`LoraModuleVerifierV2 of shape ${s.name}`, s.verifier, [a.args]);
  }
  if (record.wrap !== undefined) {
    const a = await o.wrapArgs(record.wrap);
    if ("skip" in a) skipped.push(`key-wrap verifier: ${a.skip}`);
    else await add("LoraKeyWrapVerifierV2", record.wrap.verifier, [a.args]);
  }
  return { targets, skipped };
}
