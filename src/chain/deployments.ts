/**
 * Deployment records: `deployments/<network>.json`, what a dApp needs to talk to a zklora deployment
 * (addresses, chain id, block, shapes → verifier, ABI file names), plus the ABIs themselves under
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
  /** ABI file, relative to the deployments folder (e.g. `abi/LoraEscrow.json`). */
  abi: string;
  /** Hash of the deploying transaction. */
  transactionHash: string;
  /** Block the contract was deployed in. */
  blockNumber: number;
}

/** A circuit shape registered in the deployment's registry. */
export interface DeployedShape {
  /** Readable name from circuits/shapes.json. */
  name: string;
  T: number;
  DIN: number;
  R: number;
  DOUT: number;
  /** `keccak256(abi.encode(variant, T, DIN, R, DOUT))`. */
  shapeId: string;
  /** bytes32 circuit variant. */
  variant: string;
  /** The shape's Groth16 verifier. */
  verifier: DeployedContract;
  /** The shape's `Groth16BatchVerifier` (same key), registered with `registerBatchVerifier`; absent when none. */
  batchVerifier?: DeployedContract;
  /**
   * A chunked shape (variant `zklora.chunked.v1.a<WA>.b<WB>`): `verifier` is its `ChunkedModuleVerifier`,
   * which checks the chain with the batch verifiers and names a failing chunk with the generated chunk
   * verifiers. Absent for the v1 variant.
   */
  chunked?: DeployedChunking;
}

/** How a chunked shape splits its module statement, its two chunk verifiers and their batch verifiers. */
export interface DeployedChunking {
  WA: number;
  WB: number;
  /** DIN / WA A chunks. */
  KA: number;
  /** DOUT / WB B chunks. */
  KB: number;
  /** The link the first A chunk starts from (decimal string of a field element). */
  linkStart: string;
  chunkAVerifier: DeployedContract;
  chunkBVerifier: DeployedContract;
  /** `Groth16BatchVerifierN` with the A chunk key: the module verifier checks all A chunk proofs in one call. */
  chunkABatchVerifier: DeployedContract;
  /** `Groth16BatchVerifierN` with the B chunk key. */
  chunkBBatchVerifier: DeployedContract;
}

/** A weight shape whose delivery verifier is registered in the deployment's registry. */
export interface DeployedDeliveryShape {
  /** Readable name from circuits/delivery-shapes.json. */
  name: string;
  DIN: number;
  R: number;
  DOUT: number;
  /** `keccak256(abi.encode(bytes32("zklora.lora-delivery.v1"), DIN, R, DOUT))`. */
  deliveryShapeId: string;
  /** The shape's Groth16 delivery verifier. */
  verifier: DeployedContract;
}

/** `deployments/<network>.json`. */
export interface DeploymentRecord {
  /** Format version of this record. */
  format: "zklora-deployment/1";
  /** Hardhat network name. */
  network: string;
  /** EIP-155 chain id. */
  chainId: number;
  /** Account that deployed (and owns the registry unless `registryOwner` differs). */
  deployer: string;
  /** Owner of the verifier registry. */
  registryOwner: string;
  /** Block of the last deployment transaction (escrow). */
  blockNumber: number;
  /** ISO time the record was written. */
  deployedAt: string;
  /** The registry and the escrow. */
  contracts: {
    VerifierRegistry: DeployedContract;
    LoraEscrow: DeployedContract;
    Poseidon1?: DeployedContract;
  };
  /** Registered shapes, in circuits/shapes.json order. */
  shapes: DeployedShape[];
  /** Registered delivery verifiers per weight shape (absent in records written before delivery existed). */
  deliveryShapes?: DeployedDeliveryShape[];
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
  if (r.format !== "zklora-deployment/1") {
    throw new DeploymentRecordError(
      `unknown record format ${String(r.format)}; expected zklora-deployment/1`,
    );
  }
  if (typeof r.network !== "string" || r.network === "")
    throw new DeploymentRecordError("network must be a name");
  if (!Number.isInteger(r.chainId) || (r.chainId as number) <= 0) {
    throw new DeploymentRecordError("chainId must be a positive integer");
  }
  if (!Number.isInteger(r.blockNumber)) throw new DeploymentRecordError("blockNumber must be an integer");
  for (const k of ["deployer", "registryOwner"] as const) {
    if (typeof r[k] !== "string" || !ADDRESS.test(r[k] as string)) {
      throw new DeploymentRecordError(`${k} must be an address`);
    }
  }
  if (r.contracts === undefined) throw new DeploymentRecordError("contracts missing");
  checkContract("contracts.VerifierRegistry", r.contracts.VerifierRegistry);
  checkContract("contracts.LoraEscrow", r.contracts.LoraEscrow);
  if (r.contracts.Poseidon1 !== undefined) checkContract("contracts.Poseidon1", r.contracts.Poseidon1);
  if (r.deliveryShapes !== undefined) {
    if (!Array.isArray(r.deliveryShapes)) throw new DeploymentRecordError("deliveryShapes must be an array");
    r.deliveryShapes.forEach((s, i) => {
      for (const d of ["DIN", "R", "DOUT"] as const) {
        if (!Number.isInteger(s[d]) || s[d] < 1)
          throw new DeploymentRecordError(`deliveryShapes[${i}].${d} must be a positive integer`);
      }
      if (typeof s.name !== "string" || !BYTES32.test(s.deliveryShapeId))
        throw new DeploymentRecordError(
          `deliveryShapes[${i}]: name must be a string and deliveryShapeId bytes32 hex`,
        );
      checkContract(`deliveryShapes[${i}].verifier`, s.verifier);
    });
  }
  if (!Array.isArray(r.shapes)) throw new DeploymentRecordError("shapes must be an array");
  r.shapes.forEach((s, i) => {
    if (typeof s.name !== "string") throw new DeploymentRecordError(`shapes[${i}].name must be a string`);
    for (const d of ["T", "DIN", "R", "DOUT"] as const) {
      if (!Number.isInteger(s[d]) || s[d] < 1) {
        throw new DeploymentRecordError(`shapes[${i}].${d} must be a positive integer`);
      }
    }
    if (!BYTES32.test(s.shapeId) || !BYTES32.test(s.variant)) {
      throw new DeploymentRecordError(`shapes[${i}]: shapeId and variant must be bytes32 hex`);
    }
    checkContract(`shapes[${i}].verifier`, s.verifier);
    if (s.batchVerifier !== undefined) checkContract(`shapes[${i}].batchVerifier`, s.batchVerifier);
    if (s.chunked !== undefined) {
      const c = s.chunked;
      for (const d of ["WA", "WB", "KA", "KB"] as const) {
        if (!Number.isInteger(c[d]) || c[d] < 1)
          throw new DeploymentRecordError(`shapes[${i}].chunked.${d} must be a positive integer`);
      }
      if (typeof c.linkStart !== "string" || !/^[0-9]+$/.test(c.linkStart))
        throw new DeploymentRecordError(`shapes[${i}].chunked.linkStart must be a decimal string`);
      checkContract(`shapes[${i}].chunked.chunkAVerifier`, c.chunkAVerifier);
      checkContract(`shapes[${i}].chunked.chunkBVerifier`, c.chunkBVerifier);
      checkContract(`shapes[${i}].chunked.chunkABatchVerifier`, c.chunkABatchVerifier);
      checkContract(`shapes[${i}].chunked.chunkBBatchVerifier`, c.chunkBBatchVerifier);
    }
  });
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
