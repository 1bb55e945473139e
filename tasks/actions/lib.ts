/**
 * Helpers every zklora deal task shares: the network connection, picking an account, the chain
 * client from deployments/<network>.json, amounts, and turning library errors into messages that
 * say what to fix (Hardhat prints a HardhatPluginError without a stack trace).
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { HardhatPluginError } from "hardhat/plugins";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { getAddress, isAddress, parseUnits, type Signer } from "ethers";
import { UsageError } from "../../src/app/errors.js";
import { Workspace } from "../../src/app/workspace.js";
import { ZkloraClient, addressesOf, ChainError } from "../../src/chain/index.js";
import {
  DeploymentRecordError,
  parseDeployment,
  readDeployment,
  type DeploymentRecord,
} from "../../src/chain/deployments.js";
import { MpiError } from "../../src/mpi/index.js";
import { ModelError } from "../../src/model/index.js";
import { ZkError } from "../../src/zk/index.js";

export const PLUGIN_ID = "zklora";

/** Runs a task body; errors a user can fix are rethrown as HardhatPluginError (no stack trace). */
export async function runTask<T>(task: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    if (
      err instanceof UsageError ||
      err instanceof ChainError ||
      err instanceof DeploymentRecordError ||
      err instanceof MpiError ||
      err instanceof ModelError ||
      err instanceof ZkError
    ) {
      throw new HardhatPluginError(PLUGIN_ID, `${task}: ${err.message}`, err);
    }
    throw err;
  } finally {
    // snarkjs keeps the curve's worker threads in a global; end them (a later user builds a new one).
    const g = globalThis as { curve_bn128?: { terminate(): Promise<void> } };
    const curve = g.curve_bn128;
    delete g.curve_bn128;
    await curve?.terminate();
  }
}

export type Connection = Awaited<ReturnType<HardhatRuntimeEnvironment["network"]["getOrCreate"]>>;

/** The connection of the task's --network. */
export async function connect(hre: HardhatRuntimeEnvironment): Promise<Connection> {
  return hre.network.getOrCreate();
}

/**
 * The account `from` names: an index into the network's accounts, an address among them, or
 * (empty) the `preferred` address when the network has it, else account #`fallbackIndex`.
 */
export async function pickSigner(
  connection: Connection,
  from: string,
  preferred?: string,
  fallbackIndex = 0,
): Promise<Signer> {
  const signers = await connection.ethers.getSigners();
  if (signers.length === 0) {
    throw new UsageError(
      `network ${connection.networkName} has no accounts: configure them (e.g. SEPOLIA_PRIVATE_KEY with npx hardhat keystore set)`,
    );
  }
  const list = () => signers.map((s, i) => `#${i} ${s.address}`).join(", ");
  if (from !== "") {
    if (/^[0-9]+$/.test(from)) {
      const s = signers[Number(from)];
      if (s === undefined)
        throw new UsageError(`--from ${from}: network ${connection.networkName} has accounts ${list()}`);
      return s;
    }
    if (!isAddress(from)) throw new UsageError(`--from must be an account index or an address, got ${from}`);
    const s = signers.find((x) => x.address === getAddress(from));
    if (s === undefined)
      throw new UsageError(
        `--from ${from} is not an account of network ${connection.networkName} (${list()})`,
      );
    return s;
  }
  if (preferred !== undefined && isAddress(preferred)) {
    const s = signers.find((x) => x.address === getAddress(preferred));
    if (s !== undefined) return s;
  }
  const s = signers[fallbackIndex] ?? signers[0];
  return s;
}

/** The deployment record: --deployment FILE, else deployments/<network>.json. */
export async function deploymentOf(connection: Connection, file: string): Promise<DeploymentRecord> {
  if (file !== "") {
    if (!existsSync(file)) throw new UsageError(`--deployment ${file} does not exist`);
    return parseDeployment(JSON.parse(await readFile(file, "utf8")));
  }
  return readDeployment(connection.networkName);
}

/** The chain client for the task's network, connected with `signer` (or read-only with the provider). */
export async function clientOf(
  connection: Connection,
  deploymentFile: string,
  signer?: Signer,
): Promise<ZkloraClient> {
  const record = await deploymentOf(connection, deploymentFile);
  return ZkloraClient.connect(signer ?? connection.ethers.provider, addressesOf(record));
}

/** The workspace folder of --workspace. */
export function workspaceOf(dir: string): Workspace {
  if (dir === "") throw new UsageError("pass --workspace DIR (the deal's folder, e.g. deals/my-deal)");
  return new Workspace(dir);
}

/** Parses a decimal amount in whole units (e.g. "0.5") into base units. */
export function parseAmount(value: string, decimals: number, what = "--price"): bigint {
  if (!/^[0-9]+(\.[0-9]+)?$/.test(value)) {
    throw new UsageError(
      `${what} must be a positive decimal number of whole units (e.g. 0.01), got ${JSON.stringify(value)}`,
    );
  }
  let v: bigint;
  try {
    v = parseUnits(value, decimals);
  } catch {
    throw new UsageError(`${what} ${value} has more than ${decimals} decimals`);
  }
  if (v <= 0n) throw new UsageError(`${what} must be positive`);
  return v;
}

/** Parses a positive integer option. */
export function parsePositive(value: string, what: string): number {
  if (!/^[1-9][0-9]*$/.test(value))
    throw new UsageError(`${what} must be a positive integer, got ${JSON.stringify(value)}`);
  return Number(value);
}
