/**
 * Deployment records: `deployments/<network>.json`, what a dApp needs to talk to a zklora deployment
 * (addresses, chain id, block, shapes → verifier and key hash, ABI file names), plus the ABIs themselves under
 * `deployments/abi/<Contract>.json`.
 *
 * The record types and `parseDeployment` are pure (browser-safe); `readDeployment` / `writeDeployment`
 * use node's fs through a lazy import, so bundling this module for a browser pulls in no node code
 * until they are called.
 */

/** One deployed contract in a record. */
export interface DeployedContract {
  /** Checksummed address. */
  address: string;
  /** Contract name in the Hardhat artifacts. */
  contractName: string;
  /** ABI file, relative to the deployments folder (e.g. `abi/LoraEscrowV2.json`). */
  abi: string;
  /** Hash of the deploying transaction. */
  transactionHash: string;
  /** Block the contract was deployed in. */
  blockNumber: number;
}

/** A v2 shape registered in the deployment's registry, with its verifier. */
export interface DeployedShape {
  /** Readable name, `v2_i<DIN>_r<R>_o<DOUT>`. */
  name: string;
  DIN: number;
  R: number;
  DOUT: number;
  /** `v2ShapeId`: keccak256 of the variant and the dims. */
  shapeId: string;
  /** The verifier's `keyHash()`: binds its constants and the commitment bases. */
  keyHash: string;
  /** "dev" (the FORGEABLE development ptau: local chains only) or the public ceremony file. */
  ptau: string;
  /** The shape's LoraModuleVerifierV2. */
  verifier: DeployedContract;
}

/** `deployments/<network>.json`. */
export interface DeploymentRecord {
  /** Format version of this record. */
  format: "zklora-deployment/2";
  /** Hardhat network name. */
  network: string;
  /** EIP-155 chain id. */
  chainId: number;
  /** Account that deployed (and owns the registry unless `registryOwner` differs). */
  deployer: string;
  /** Owner of the shape registry (registers new shapes). */
  registryOwner: string;
  /** Block of the escrow's deployment. */
  blockNumber: number;
  /** ISO time the record was written. */
  deployedAt: string;
  /** The registry and the escrow. */
  contracts: {
    ShapeRegistryV2: DeployedContract;
    LoraEscrowV2: DeployedContract;
  };
  /** Registered shapes, in registration order. */
  shapes: DeployedShape[];
  /** The key-wrap verifier of delivery deals, once registered (permanent). */
  wrap?: DeployedWrap;
}

/** The registered key-wrap verifier (`LoraKeyWrapVerifierV2`). */
export interface DeployedWrap {
  /** Modules per key-wrap proof. */
  slots: number;
  keyHash: string;
  /** "dev" or the public ptau file name. */
  ptau: string;
  verifier: DeployedContract;
}

/** A deployment record is malformed or missing. */
export class DeploymentRecordError extends Error {
  override name = "DeploymentRecordError";
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const BYTES32 = /^0x[0-9a-fA-F]{64}$/;

function checkContract(where: string, c: unknown): DeployedContract {
  const v = c as Partial<DeployedContract> | undefined;
  if (v === undefined || typeof v !== "object") throw new DeploymentRecordError(`${where}: missing`);
  if (typeof v.address !== "string" || !ADDRESS.test(v.address)) {
    throw new DeploymentRecordError(
      `${where}.address must be a 20-byte hex address, got ${String(v.address)}`,
    );
  }
  if (typeof v.contractName !== "string" || typeof v.abi !== "string") {
    throw new DeploymentRecordError(`${where}: contractName and abi must be strings`);
  }
  if (typeof v.transactionHash !== "string" || !BYTES32.test(v.transactionHash)) {
    throw new DeploymentRecordError(`${where}.transactionHash must be a 32-byte hex hash`);
  }
  if (!Number.isInteger(v.blockNumber))
    throw new DeploymentRecordError(`${where}.blockNumber must be an integer`);
  return v as DeployedContract;
}

/** Validates a parsed JSON value as a deployment record; throws DeploymentRecordError naming the bad field. */
export function parseDeployment(json: unknown): DeploymentRecord {
  const r = json as Partial<DeploymentRecord> | undefined;
  if (r === undefined || r === null || typeof r !== "object") {
    throw new DeploymentRecordError("a deployment record must be a JSON object");
  }
  if (r.format !== "zklora-deployment/2") {
    throw new DeploymentRecordError(
      `format must be "zklora-deployment/2" (protocol v2), got ${JSON.stringify(r.format)}: run zklora:deploy again`,
    );
  }
  if (typeof r.network !== "string") throw new DeploymentRecordError("network must be a string");
  if (!Number.isInteger(r.chainId)) throw new DeploymentRecordError("chainId must be an integer");
  for (const k of ["deployer", "registryOwner"] as const) {
    if (typeof r[k] !== "string" || !ADDRESS.test(r[k]))
      throw new DeploymentRecordError(`${k} must be an address`);
  }
  if (r.contracts === undefined || typeof r.contracts !== "object")
    throw new DeploymentRecordError("contracts: missing");
  checkContract("contracts.ShapeRegistryV2", r.contracts.ShapeRegistryV2);
  checkContract("contracts.LoraEscrowV2", r.contracts.LoraEscrowV2);
  if (!Array.isArray(r.shapes)) throw new DeploymentRecordError("shapes must be an array");
  r.shapes.forEach((sh, i) => {
    const where = `shapes[${i}]`;
    if (typeof sh?.name !== "string") throw new DeploymentRecordError(`${where}.name must be a string`);
    for (const k of ["DIN", "R", "DOUT"] as const) {
      if (!Number.isInteger(sh[k]) || sh[k] <= 0)
        throw new DeploymentRecordError(`${where}.${k} must be a positive integer`);
    }
    for (const k of ["shapeId", "keyHash"] as const) {
      if (typeof sh[k] !== "string" || !BYTES32.test(sh[k]))
        throw new DeploymentRecordError(`${where}.${k} must be a 32-byte hex value`);
    }
    if (typeof sh.ptau !== "string") throw new DeploymentRecordError(`${where}.ptau must be a string`);
    checkContract(`${where}.verifier`, sh.verifier);
  });
  if (r.wrap !== undefined) {
    const w = r.wrap;
    if (!Number.isInteger(w.slots) || w.slots <= 0)
      throw new DeploymentRecordError("wrap.slots must be a positive integer");
    if (typeof w.keyHash !== "string" || !BYTES32.test(w.keyHash))
      throw new DeploymentRecordError("wrap.keyHash must be a 32-byte hex value");
    if (typeof w.ptau !== "string") throw new DeploymentRecordError("wrap.ptau must be a string");
    checkContract("wrap.verifier", w.verifier);
  }
  return r as DeploymentRecord;
}

/** The default deployments folder: `$ZKLORA_DEPLOYMENTS_DIR` when set, else `<project root>/deployments`. */
export async function defaultDeploymentsDir(): Promise<string> {
  const [{ fileURLToPath }, path] = await Promise.all([import("node:url"), import("node:path")]);
  const fromEnv = typeof process === "undefined" ? undefined : process.env.ZKLORA_DEPLOYMENTS_DIR;
  if (fromEnv !== undefined && fromEnv !== "") return path.resolve(fromEnv);
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "deployments");
}

/** A network name safe as a file name. */
function checkNetworkName(network: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(network)) {
    throw new DeploymentRecordError(`network name ${JSON.stringify(network)} is not usable as a file name`);
  }
}

/**
 * Writes `<dir>/<network>.json` and, when `abis` is given, `<dir>/abi/<Contract>.json` for each ABI
 * (the file names the record's `abi` fields point at). Returns the record's path.
 */
export async function writeDeployment(
  network: string,
  record: DeploymentRecord,
  options: { dir?: string; abis?: Record<string, unknown> } = {},
): Promise<string> {
  checkNetworkName(network);
  parseDeployment(record);
  const [{ mkdir, writeFile, rename }, path] = await Promise.all([
    import("node:fs/promises"),
    import("node:path"),
  ]);
  const dir = options.dir ?? (await defaultDeploymentsDir());
  await mkdir(path.join(dir, "abi"), { recursive: true });
  for (const [name, abi] of Object.entries(options.abis ?? {})) {
    await writeFile(path.join(dir, "abi", `${name}.json`), JSON.stringify(abi, null, 2) + "\n");
  }
  const file = path.join(dir, `${network}.json`);
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(record, null, 2) + "\n");
  await rename(tmp, file);
  return file;
}

/** Reads and validates `<dir>/<network>.json`; throws DeploymentRecordError when absent or malformed. */
export async function readDeployment(
  network: string,
  options: { dir?: string } = {},
): Promise<DeploymentRecord> {
  checkNetworkName(network);
  const [{ readFile }, path] = await Promise.all([import("node:fs/promises"), import("node:path")]);
  const dir = options.dir ?? (await defaultDeploymentsDir());
  const file = path.join(dir, `${network}.json`);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new DeploymentRecordError(
      `no deployment record ${file}: run \`npx hardhat zklora:deploy --network ${network}\``,
    );
  }
  return parseDeployment(JSON.parse(text));
}
