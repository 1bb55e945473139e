/**
 * Helpers every zklora deal task shares: the network connection, picking an account, the chain
 * client from deployments/<network>.json, amounts, and turning library errors into messages that
 * say what to fix (Hardhat prints a HardhatPluginError without a stack trace).
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { HardhatPluginError } from "hardhat/plugins";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import { getAddress, isAddress, parseUnits, type Signer } from "ethers";
import { UsageError } from "../../src/app/errors.js";
import { Progress, type ProgressStream } from "../../src/app/progress.js";
import { Workspace } from "../../src/app/workspace.js";
import { ZkloraClient, addressesOf, ChainError } from "../../src/chain/index.js";
import {
  DeploymentRecordError,
  defaultDeploymentsDir,
  parseDeployment,
  readDeployment,
  type DeploymentRecord,
} from "../../src/chain/deployments.js";
import { MpiError } from "../../src/mpi/index.js";
import { ModelError } from "../../src/model/index.js";
import { ZkError } from "../../src/zk/index.js";

export const PLUGIN_ID = "zklora";

/**
 * Runs a task body (`spec`: the task's name, or its name and options) with the progress component
 * (live lines on a terminal, plain lines otherwise; on stderr unless `stream` is given; snarkjs's
 * raw log lines only with `verbose`, the task's --verbose), closed when the body ends. Errors a
 * user can fix are rethrown as HardhatPluginError, which Hardhat prints as one line without a stack
 * trace (the message is folded onto one line).
 */
export async function runTask<T>(
  spec: string | { name: string; verbose?: boolean; stream?: ProgressStream },
  body: (progress: Progress) => Promise<T>,
): Promise<T> {
  const { name: task, verbose, stream } = typeof spec === "string" ? { name: spec } : spec;
  const progress = new Progress({ verbose: verbose === true, stream });
  try {
    return await body(progress);
  } catch (err) {
    if (
      err instanceof UsageError ||
      err instanceof ChainError ||
      err instanceof DeploymentRecordError ||
      err instanceof MpiError ||
      err instanceof ModelError ||
      err instanceof ZkError
    ) {
      throw new HardhatPluginError(PLUGIN_ID, `${task}: ${oneLine(err.message)}`, err);
    }
    throw err;
  } finally {
    progress.close();
    // snarkjs keeps the curve's worker threads in a global; end them (a later user builds a new one).
    const g = globalThis as { curve_bn128?: { terminate(): Promise<void> } };
    const curve = g.curve_bn128;
    delete g.curve_bn128;
    await curve?.terminate();
  }
}

/** A message on one line: line breaks and the indentation after them become one space. */
export function oneLine(message: string): string {
  return message.trim().replace(/\s*\n\s*/g, " ");
}

/**
 * Whether an option without a default was given: Hardhat passes `undefined` for an absent
 * `*_WITHOUT_DEFAULT` option; an empty string (e.g. `--from ""`, or a script's `{ from: "" }`)
 * counts as absent too.
 */
export function given(value: string | undefined): value is string {
  return value !== undefined && value !== "";
}

/** The resolved path of a FILE option, or undefined when it was not given. */
export function fileOf(value: string | undefined): string | undefined {
  return given(value) ? path.resolve(value) : undefined;
}

/**
 * Checks an INT option (Hardhat has parsed it: digits, an exponent or hex) against its range;
 * `hint` says what the range means.
 */
export function intOption(
  value: number,
  option: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
  hint = "",
): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    const range =
      max === Number.MAX_SAFE_INTEGER
        ? min === 1
          ? "a positive integer"
          : `an integer >= ${min}`
        : `${min}..${max}`;
    throw new UsageError(`${option} must be ${range}${hint === "" ? "" : ` (${hint})`}, got ${value}`);
  }
  return value;
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
  from: string | undefined,
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
  if (given(from)) {
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

/** Parses `text` as JSON; a UsageError names the file and what to do when it is not JSON. */
function parseJson(text: string, file: string, fix: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new UsageError(`${file} is not valid JSON (${(err as Error).message}): ${fix}`);
  }
}

/** deployments/<network>.json (readDeployment), with a one-line error when it is not JSON. */
export async function networkDeployment(network: string): Promise<DeploymentRecord> {
  try {
    return await readDeployment(network);
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    const file = path.join(await defaultDeploymentsDir(), `${network}.json`);
    throw new UsageError(
      `${file} is not valid JSON (${err.message}): restore it, or deploy anew with \`npx hardhat zklora:deploy --network ${network}\``,
    );
  }
}

/** The deployment record: --deployment FILE, else deployments/<network>.json. */
export async function deploymentOf(
  connection: Connection,
  file: string | undefined,
): Promise<DeploymentRecord> {
  if (given(file)) {
    if (!existsSync(file)) throw new UsageError(`--deployment ${file} does not exist`);
    const text = await readFile(file, "utf8");
    return parseDeployment(
      parseJson(text, file, "pass the deployments/<network>.json that zklora:deploy wrote"),
    );
  }
  return networkDeployment(connection.networkName);
}

/** The chain client for the task's network, connected with `signer` (or read-only with the provider). */
export async function clientOf(
  connection: Connection,
  deploymentFile: string | undefined,
  signer?: Signer,
): Promise<ZkloraClient> {
  const record = await deploymentOf(connection, deploymentFile);
  return ZkloraClient.connect(signer ?? connection.ethers.provider, addressesOf(record));
}

/** The deal id of a BIGINT --deal for dealIdOf: "" when 0 (the default: take it from deal.json). */
export function dealOption(deal: bigint): string {
  return deal === 0n ? "" : deal.toString();
}

/** The workspace folder of --workspace (required). */
export function workspaceOf(dir: string | undefined): Workspace {
  if (!given(dir)) throw new UsageError("pass --workspace DIR (the deal's folder, e.g. deals/my-deal)");
  return new Workspace(dir);
}

/** The workspace folder of an optional --workspace: the project folder when absent (as before). */
export function optionalWorkspaceOf(dir: string | undefined): Workspace {
  return new Workspace(given(dir) ? dir : ".");
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
