/**
 * Deploys a zklora instance: the verifier registry, one Groth16 verifier per circuit shape (the
 * snarkjs-generated `contracts/verifiers/Groth16Verifier_<shape>.sol`), their registration, one
 * `Groth16BatchVerifier` per shape with the same key (from ./verifierKeys.ts, parsed from those files)
 * registered with `registerBatchVerifier`, and the escrow. The same function is the deploy task's body and the contract tests' fixture.
 *
 * Pure ethers v6: artifacts and shapes come in as arguments (see `collectZkloraArtifacts`), so this
 * module bundles for a browser.
 */
import {
  Contract,
  ContractFactory,
  encodeBytes32String,
  getAddress,
  type InterfaceAbi,
  type Signer,
} from "ethers";
import type {
  DeployedChunking,
  DeployedContract,
  DeployedDeliveryShape,
  DeployedShape,
  DeploymentRecord,
} from "./deployments.js";
import { POSEIDON1_ABI, POSEIDON1_BYTECODE } from "./poseidon1.js";
import {
  bytecodeHoldsKey,
  bytecodeHoldsKeyN,
  keySignalCount,
  type BatchVerificationKey,
  type BatchVerificationKeyN,
  type ChunkVerificationKeys,
} from "./batch.js";
import { CHUNK_VERIFIER_KEYS, VERIFIER_KEYS } from "./verifierKeys.js";

/** What deploying a contract needs from its compiled artifact. */
export interface ContractArtifact {
  contractName: string;
  abi: InterfaceAbi;
  bytecode: string;
}

/** A circuit shape's dimensions. */
export interface ShapeDims {
  T: number;
  DIN: number;
  R: number;
  DOUT: number;
}

/** One verifier to deploy and register. */
export interface VerifierSpec {
  /** The shape's name in circuits/shapes.json. */
  shapeName: string;
  shapeDims: ShapeDims;
  /** The compiled `Groth16Verifier_<shapeName>`. */
  artifact: ContractArtifact;
  /**
   * The verifier's key, for its `Groth16BatchVerifier` (`collectZkloraArtifacts` takes it from
   * VERIFIER_KEYS); no batch verifier is deployed for the shape without it.
   */
  verificationKey?: BatchVerificationKey;
}

/** A weight shape's dimensions (the LoRA matrices of one module). */
export interface DeliveryShapeDims {
  DIN: number;
  R: number;
  DOUT: number;
}

/** One delivery verifier to deploy and register (`registerDelivery`). */
export interface DeliveryVerifierSpec {
  /** The shape's name in circuits/delivery-shapes.json. */
  shapeName: string;
  shapeDims: DeliveryShapeDims;
  /** The compiled `Groth16Delivery_<shapeName>`. */
  artifact: ContractArtifact;
}

/** One chunked shape to deploy: its two chunk verifiers, its `ChunkedModuleVerifier` and its registration. */
export interface ChunkedVerifierSpec {
  /** The shape's name in circuits/chunk-shapes.json. */
  shapeName: string;
  shapeDims: ShapeDims & { WA: number; WB: number };
  /** The compiled `Groth16ChunkA_<shapeName>`. */
  chunkA: ContractArtifact;
  /** The compiled `Groth16ChunkB_<shapeName>`. */
  chunkB: ContractArtifact;
  /**
   * The keys of `chunkA` and `chunkB` (`collectZkloraArtifacts` takes them from CHUNK_VERIFIER_KEYS), for the
   * shape's two `Groth16BatchVerifierN`; checked against the two artifacts' bytecode before deploying.
   */
  keys: ChunkVerificationKeys;
  /** `Sponge_6(0,…,0 || 1 || 0)` for the shape's R (src/zk `linkStart`). */
  linkStart: bigint;
}

/** The bytes32 variant of a chunked shape, `bytes32("zklora.chunked.v1.a<WA>.b<WB>")` (src/zk `chunkedVariant`). */
export function chunkedVariantOf(WA: number, WB: number): string {
  return encodeBytes32String(`zklora.chunked.v1.a${WA}.b${WB}`);
}

/** The contract that checks a chunked shape's chains. */
export const CHUNKED_MODULE_VERIFIER_CONTRACT = "ChunkedModuleVerifier";
/** The N-signal batch verifier's contract name (two per chunked shape: the A chunk key and the B chunk key). */
export const BATCH_VERIFIER_N_CONTRACT = "Groth16BatchVerifierN";
/** The prefixes of the generated chunk verifiers' contract names. */
export const CHUNK_VERIFIER_PREFIXES = { A: "Groth16ChunkA_", B: "Groth16ChunkB_" } as const;

/** circomlib's Poseidon(1) contract (circomlibjs `poseidonContract.createCode(1)`), the escrow's key hasher. */
export const POSEIDON1_ARTIFACT: ContractArtifact = {
  contractName: "Poseidon1",
  abi: POSEIDON1_ABI as unknown as InterfaceAbi,
  bytecode: POSEIDON1_BYTECODE,
};

/** Every artifact a deployment needs. */
export interface ZkloraArtifacts {
  registry: ContractArtifact;
  escrow: ContractArtifact;
  verifiers: VerifierSpec[];
  /** Delivery verifiers, registered per weight shape (none when absent). */
  deliveryVerifiers?: DeliveryVerifierSpec[];
  /** The escrow's key hasher (default: POSEIDON1_ARTIFACT). */
  keyHasher?: ContractArtifact;
  /** The compiled `Groth16BatchVerifier`; without it no batch verifiers are deployed. */
  batchVerifier?: ContractArtifact;
  /** Chunked shapes (none when absent); they need `chunkedModuleVerifier`. */
  chunkedVerifiers?: ChunkedVerifierSpec[];
  /** The compiled `ChunkedModuleVerifier`. */
  chunkedModuleVerifier?: ContractArtifact;
  /** The compiled `Groth16BatchVerifierN` (chunked shapes need it). */
  batchVerifierN?: ContractArtifact;
}

/** Options of `deployZklora`. */
export interface DeployOptions {
  /** Network name written into the record. */
  network: string;
  /** Final owner of the registry (default: the deployer). Ownership moves there after registration. */
  registryOwner?: string;
  /** bytes32 circuit variant (default `bytes32("zklora.lora-module.v1")`). */
  variant?: string;
  /** Progress messages. */
  log?: (message: string) => void;
}

/** The deployed contracts and their record. */
export interface ZkloraDeployment {
  registry: Contract;
  escrow: Contract;
  /** Verifier contract per shape name. */
  verifiers: Record<string, Contract>;
  /** Batch verifier contract per shape name (shapes with a verification key only). */
  batchVerifiers: Record<string, Contract>;
  /** Delivery verifier contract per delivery shape name. */
  deliveryVerifiers: Record<string, Contract>;
  /** The escrow's Poseidon(1) key hasher. */
  keyHasher: Contract;
  /** The record to write with `writeDeployment`. */
  record: DeploymentRecord;
  /** ABIs by contract name, for `writeDeployment(…, { abis })`. */
  abis: Record<string, InterfaceAbi>;
}

/** The circuit variant of the v1 LoRA-module circuit. */
export const VARIANT_V1 = encodeBytes32String("zklora.lora-module.v1");

/** The prefix of the generated verifiers' contract names. */
export const VERIFIER_PREFIX = "Groth16Verifier_";
/** The batch verifier's contract name (one deployment per shape, with the shape's key). */
export const BATCH_VERIFIER_CONTRACT = "Groth16BatchVerifier";
/** The prefix of the generated delivery verifiers' contract names. */
export const DELIVERY_VERIFIER_PREFIX = "Groth16Delivery_";

/** A deployment step failed. */
export class DeployError extends Error {
  override name = "DeployError";
}

async function deployOne(
  signer: Signer,
  artifact: ContractArtifact,
  args: unknown[],
  log: (m: string) => void,
): Promise<{ contract: Contract; info: DeployedContract }> {
  if (!/^0x[0-9a-fA-F]*$/.test(artifact.bytecode) || artifact.bytecode.length <= 2) {
    throw new DeployError(`${artifact.contractName} has no bytecode (an interface or abstract contract?)`);
  }
  const factory = new ContractFactory(artifact.abi, artifact.bytecode, signer);
  const deployed = await factory.deploy(...args);
  const tx = deployed.deploymentTransaction();
  if (tx === null) throw new DeployError(`${artifact.contractName}: no deployment transaction`);
  const receipt = await tx.wait();
  if (receipt === null || receipt.status !== 1 || receipt.contractAddress === null) {
    throw new DeployError(`${artifact.contractName}: deployment transaction ${tx.hash} failed`);
  }
  const address = getAddress(receipt.contractAddress);
  log(
    `deployed ${artifact.contractName} at ${address} (block ${receipt.blockNumber}, gas ${receipt.gasUsed})`,
  );
  return {
    contract: new Contract(address, artifact.abi, signer),
    info: {
      address,
      contractName: artifact.contractName,
      abi: `abi/${artifact.contractName}.json`,
      transactionHash: receipt.hash,
      blockNumber: receipt.blockNumber,
    },
  };
}

/**
 * Deploys registry, verifiers (registered under their shape ids) and escrow with `signer`, and returns
 * the contracts plus the deployment record. Throws DeployError when a step fails or two verifiers
 * claim the same shape.
 */
export async function deployZklora(
  signer: Signer,
  artifacts: ZkloraArtifacts,
  options: DeployOptions,
): Promise<ZkloraDeployment> {
  const log = options.log ?? (() => {});
  const variant = options.variant ?? VARIANT_V1;
  const provider = signer.provider;
  if (provider === null) throw new DeployError("the signer has no provider");
  const deployer = getAddress(await signer.getAddress());
  const chainId = Number((await provider.getNetwork()).chainId);

  const seen = new Set<string>();
  for (const v of artifacts.verifiers) {
    const key = `${v.shapeDims.T}x${v.shapeDims.DIN}x${v.shapeDims.R}x${v.shapeDims.DOUT}`;
    if (seen.has(key)) throw new DeployError(`two verifiers for shape ${key} (${v.shapeName})`);
    seen.add(key);
  }

  const registry = await deployOne(signer, artifacts.registry, [deployer], log);
  const shapes: DeployedShape[] = [];
  const verifiers: Record<string, Contract> = {};
  const batchVerifiers: Record<string, Contract> = {};
  const abis: Record<string, InterfaceAbi> = {
    [artifacts.registry.contractName]: artifacts.registry.abi,
    [artifacts.escrow.contractName]: artifacts.escrow.abi,
  };
  for (const spec of artifacts.verifiers) {
    const { T, DIN, R, DOUT } = spec.shapeDims;
    const verifier = await deployOne(signer, spec.artifact, [], log);
    const shapeId = (await registry.contract.getFunction("shapeIdOf")(variant, T, DIN, R, DOUT)) as string;
    const tx = await registry.contract.getFunction("register")(
      variant,
      T,
      DIN,
      R,
      DOUT,
      verifier.info.address,
    );
    const receipt = await tx.wait();
    if (receipt === null || receipt.status !== 1)
      throw new DeployError(`registering ${spec.shapeName} failed`);
    log(`registered shape ${spec.shapeName} (${shapeId}) → ${verifier.info.address}`);
    verifiers[spec.shapeName] = verifier.contract;
    abis[spec.artifact.contractName] = spec.artifact.abi;
    const shape: DeployedShape = {
      name: spec.shapeName,
      T,
      DIN,
      R,
      DOUT,
      shapeId,
      variant,
      verifier: verifier.info,
    };
    const batchArtifact = artifacts.batchVerifier;
    if (batchArtifact !== undefined && spec.verificationKey !== undefined) {
      if (!bytecodeHoldsKey(spec.artifact.bytecode, spec.verificationKey)) {
        throw new DeployError(
          `the batch verification key of ${spec.shapeName} is not the key of the compiled ${spec.artifact.contractName}: run \`npm run abi\` to regenerate src/chain/verifierKeys.ts from contracts/verifiers`,
        );
      }
      const batch = await deployOne(signer, batchArtifact, [spec.verificationKey], log);
      const btx = await registry.contract.getFunction("registerBatchVerifier")(shapeId, batch.info.address);
      const breceipt = await btx.wait();
      if (breceipt === null || breceipt.status !== 1)
        throw new DeployError(`registering the batch verifier of ${spec.shapeName} failed`);
      log(`registered batch verifier of ${spec.shapeName} → ${batch.info.address}`);
      batchVerifiers[spec.shapeName] = batch.contract;
      abis[batchArtifact.contractName] = batchArtifact.abi;
      shape.batchVerifier = batch.info;
    }
    shapes.push(shape);
  }
  for (const spec of artifacts.chunkedVerifiers ?? []) {
    shapes.push(await deployChunked(signer, registry.contract, artifacts, spec, abis, log));
    verifiers[spec.shapeName] = new Contract(
      shapes[shapes.length - 1].verifier.address,
      (artifacts.chunkedModuleVerifier as ContractArtifact).abi,
      signer,
    );
  }
  const deliveryShapes: DeployedDeliveryShape[] = [];
  const deliveryVerifiers: Record<string, Contract> = {};
  const seenDelivery = new Set<string>();
  for (const spec of artifacts.deliveryVerifiers ?? []) {
    const { DIN, R, DOUT } = spec.shapeDims;
    const key = `${DIN}x${R}x${DOUT}`;
    if (seenDelivery.has(key))
      throw new DeployError(`two delivery verifiers for weight shape ${key} (${spec.shapeName})`);
    seenDelivery.add(key);
    const verifier = await deployOne(signer, spec.artifact, [], log);
    const tx = await registry.contract.getFunction("registerDelivery")(DIN, R, DOUT, verifier.info.address);
    const receipt = await tx.wait();
    if (receipt === null || receipt.status !== 1)
      throw new DeployError(`registering delivery shape ${spec.shapeName} failed`);
    const deliveryShapeId = (await registry.contract.getFunction("deliveryShapeIdOf")(
      DIN,
      R,
      DOUT,
    )) as string;
    log(`registered delivery shape ${spec.shapeName} (${deliveryShapeId}) → ${verifier.info.address}`);
    deliveryVerifiers[spec.shapeName] = verifier.contract;
    abis[spec.artifact.contractName] = spec.artifact.abi;
    deliveryShapes.push({ name: spec.shapeName, DIN, R, DOUT, deliveryShapeId, verifier: verifier.info });
  }
  const hasherArtifact = artifacts.keyHasher ?? POSEIDON1_ARTIFACT;
  const keyHasher = await deployOne(signer, hasherArtifact, [], log);
  abis[hasherArtifact.contractName] = hasherArtifact.abi;
  const escrow = await deployOne(
    signer,
    artifacts.escrow,
    [registry.info.address, keyHasher.info.address],
    log,
  );

  let registryOwner = deployer;
  if (options.registryOwner !== undefined && getAddress(options.registryOwner) !== deployer) {
    registryOwner = getAddress(options.registryOwner);
    const tx = await registry.contract.getFunction("transferOwnership")(registryOwner);
    await tx.wait();
    log(`registry ownership moved to ${registryOwner}`);
  }

  const record: DeploymentRecord = {
    format: "zklora-deployment/1",
    network: options.network,
    chainId,
    deployer,
    registryOwner,
    blockNumber: escrow.info.blockNumber,
    deployedAt: new Date().toISOString(),
    contracts: { VerifierRegistry: registry.info, LoraEscrow: escrow.info, Poseidon1: keyHasher.info },
    shapes,
    deliveryShapes,
  };
  return {
    registry: registry.contract,
    escrow: escrow.contract,
    verifiers,
    batchVerifiers,
    deliveryVerifiers,
    keyHasher: keyHasher.contract,
    record,
    abis,
  };
}

/**
 * Deploys one chunked shape's two generated chunk verifiers, a `Groth16BatchVerifierN` with each one's key
 * (checked against its bytecode and signal count first), the `ChunkedModuleVerifier` over the four, and
 * registers the latter.
 */
async function deployChunked(
  signer: Signer,
  registry: Contract,
  artifacts: ZkloraArtifacts,
  spec: ChunkedVerifierSpec,
  abis: Record<string, InterfaceAbi>,
  log: (m: string) => void,
): Promise<DeployedShape> {
  const moduleArtifact = artifacts.chunkedModuleVerifier;
  const batchArtifact = artifacts.batchVerifierN;
  if (moduleArtifact === undefined || batchArtifact === undefined) {
    throw new DeployError(
      `chunked shape ${spec.shapeName} needs the compiled ${CHUNKED_MODULE_VERIFIER_CONTRACT} and ${BATCH_VERIFIER_N_CONTRACT}`,
    );
  }
  const checkKey = (
    kind: "A" | "B",
    artifact: ContractArtifact,
    key: BatchVerificationKeyN,
    signals: number,
  ) => {
    if (keySignalCount(key) !== signals || !bytecodeHoldsKeyN(artifact.bytecode, key)) {
      throw new DeployError(
        `the ${kind} chunk batch verification key of ${spec.shapeName} is not the ${signals}-signal key of the compiled ${artifact.contractName}: run \`npm run abi\` to regenerate src/chain/verifierKeys.ts from contracts/verifiers`,
      );
    }
  };
  checkKey("A", spec.chunkA, spec.keys.A, 5);
  checkKey("B", spec.chunkB, spec.keys.B, 6);
  const { T, DIN, R, DOUT, WA, WB } = spec.shapeDims;
  if (!(WA >= 1 && WB >= 1 && DIN % WA === 0 && DOUT % WB === 0)) {
    throw new DeployError(
      `chunked shape ${spec.shapeName}: WA ${WA} must divide DIN ${DIN} and WB ${WB} DOUT ${DOUT}`,
    );
  }
  const KA = DIN / WA;
  const KB = DOUT / WB;
  const a = await deployOne(signer, spec.chunkA, [], log);
  const b = await deployOne(signer, spec.chunkB, [], log);
  const batchA = await deployOne(signer, batchArtifact, [spec.keys.A], log);
  const batchB = await deployOne(signer, batchArtifact, [spec.keys.B], log);
  const cmv = await deployOne(
    signer,
    moduleArtifact,
    [a.info.address, b.info.address, batchA.info.address, batchB.info.address, KA, KB, spec.linkStart],
    log,
  );
  const variant = chunkedVariantOf(WA, WB);
  const shapeId = (await registry.getFunction("shapeIdOf")(variant, T, DIN, R, DOUT)) as string;
  const tx = await registry.getFunction("register")(variant, T, DIN, R, DOUT, cmv.info.address);
  const receipt = await tx.wait();
  if (receipt === null || receipt.status !== 1)
    throw new DeployError(`registering chunked shape ${spec.shapeName} failed`);
  log(`registered chunked shape ${spec.shapeName} (${shapeId}) → ${cmv.info.address}`);
  abis[spec.chunkA.contractName] = spec.chunkA.abi;
  abis[spec.chunkB.contractName] = spec.chunkB.abi;
  abis[moduleArtifact.contractName] = moduleArtifact.abi;
  abis[batchArtifact.contractName] = batchArtifact.abi;
  const chunked: DeployedChunking = {
    WA,
    WB,
    KA,
    KB,
    linkStart: spec.linkStart.toString(),
    chunkAVerifier: a.info,
    chunkBVerifier: b.info,
    chunkABatchVerifier: batchA.info,
    chunkBBatchVerifier: batchB.info,
  };
  return { name: spec.shapeName, T, DIN, R, DOUT, shapeId, variant, verifier: cmv.info, chunked };
}

/** Where `collectZkloraArtifacts` reads compiled contracts from (Hardhat's `hre.artifacts` fits). */
export interface ArtifactSource {
  readArtifact(name: string): Promise<{ contractName: string; abi: unknown; bytecode: string }>;
  artifactExists(name: string): Promise<boolean>;
}

/** A shape as circuits/shapes.json lists it. */
export interface NamedShape extends ShapeDims {
  name: string;
}

function toArtifact(a: { contractName: string; abi: unknown; bytecode: string }): ContractArtifact {
  return { contractName: a.contractName, abi: a.abi as InterfaceAbi, bytecode: a.bytecode };
}

/**
 * Gathers the registry, escrow and verifier artifacts for `shapes` (from circuits/shapes.json).
 * A shape whose `Groth16Verifier_<name>` was not generated is skipped and listed in `missing`, unless
 * `only` names it, which makes it an error (generate it with the circuit pipeline first).
 */
export async function collectZkloraArtifacts(
  source: ArtifactSource,
  shapes: readonly NamedShape[],
  options: {
    only?: readonly string[];
    /**
     * Weight shapes (circuits/delivery-shapes.json) whose `Groth16Delivery_<name>` to deploy when
     * compiled; with `only`, just those whose (DIN, R, DOUT) one of the `only` shapes has.
     */
    deliveryShapes?: readonly (DeliveryShapeDims & { name: string })[];
    /**
     * Chunked shapes (circuits/chunk-shapes.json, each with its `linkStart`) whose generated
     * `Groth16ChunkA_<name>` / `Groth16ChunkB_<name>` to deploy behind a `ChunkedModuleVerifier` when
     * compiled; with `only`, just those named there.
     */
    chunkedShapes?: readonly (ShapeDims & { name: string; WA: number; WB: number; linkStart: bigint })[];
  } = {},
): Promise<{ artifacts: ZkloraArtifacts; missing: string[] }> {
  const wanted = options.only === undefined ? shapes : shapes.filter((s) => options.only?.includes(s.name));
  const chunkedShapes = options.chunkedShapes ?? [];
  for (const name of options.only ?? []) {
    if (!shapes.some((s) => s.name === name) && !chunkedShapes.some((s) => s.name === name)) {
      throw new DeployError(
        `no shape ${name} in circuits/shapes.json (have: ${shapes.map((s) => s.name).join(", ")})`,
      );
    }
  }
  const verifiers: VerifierSpec[] = [];
  const missing: string[] = [];
  for (const shape of wanted) {
    const contractName = `${VERIFIER_PREFIX}${shape.name}`;
    if (!(await source.artifactExists(contractName))) {
      if (options.only !== undefined) {
        throw new DeployError(
          `no compiled ${contractName}: generate contracts/verifiers/${contractName}.sol with the circuit pipeline, then build`,
        );
      }
      missing.push(shape.name);
      continue;
    }
    verifiers.push({
      shapeName: shape.name,
      shapeDims: { T: shape.T, DIN: shape.DIN, R: shape.R, DOUT: shape.DOUT },
      artifact: toArtifact(await source.readArtifact(contractName)),
      ...(VERIFIER_KEYS[shape.name] !== undefined ? { verificationKey: VERIFIER_KEYS[shape.name] } : {}),
    });
  }
  const deliveryVerifiers: DeliveryVerifierSpec[] = [];
  for (const d of options.deliveryShapes ?? []) {
    if (
      options.only !== undefined &&
      !wanted.some((s) => s.DIN === d.DIN && s.R === d.R && s.DOUT === d.DOUT)
    )
      continue;
    const contractName = `${DELIVERY_VERIFIER_PREFIX}${d.name}`;
    if (!(await source.artifactExists(contractName))) continue;
    deliveryVerifiers.push({
      shapeName: d.name,
      shapeDims: { DIN: d.DIN, R: d.R, DOUT: d.DOUT },
      artifact: toArtifact(await source.readArtifact(contractName)),
    });
  }
  const chunkedVerifiers: ChunkedVerifierSpec[] = [];
  for (const c of chunkedShapes) {
    if (options.only !== undefined && !options.only.includes(c.name)) continue;
    const names = { A: `${CHUNK_VERIFIER_PREFIXES.A}${c.name}`, B: `${CHUNK_VERIFIER_PREFIXES.B}${c.name}` };
    if (!(await source.artifactExists(names.A)) || !(await source.artifactExists(names.B))) {
      if (options.only !== undefined) {
        throw new DeployError(
          `no compiled ${names.A} / ${names.B}: generate them with \`npm run circuits:chunk\`, then build`,
        );
      }
      missing.push(c.name);
      continue;
    }
    const keys = CHUNK_VERIFIER_KEYS[c.name];
    if (keys === undefined) {
      throw new DeployError(
        `no chunk verification keys of ${c.name} in src/chain/verifierKeys.ts: run \`npm run abi\` to regenerate it from contracts/verifiers`,
      );
    }
    chunkedVerifiers.push({
      shapeName: c.name,
      keys,
      shapeDims: { T: c.T, DIN: c.DIN, R: c.R, DOUT: c.DOUT, WA: c.WA, WB: c.WB },
      chunkA: toArtifact(await source.readArtifact(names.A)),
      chunkB: toArtifact(await source.readArtifact(names.B)),
      linkStart: c.linkStart,
    });
  }
  const withChunked =
    chunkedVerifiers.length > 0
      ? {
          chunkedVerifiers,
          chunkedModuleVerifier: toArtifact(await source.readArtifact(CHUNKED_MODULE_VERIFIER_CONTRACT)),
          batchVerifierN: toArtifact(await source.readArtifact(BATCH_VERIFIER_N_CONTRACT)),
        }
      : {};
  return {
    artifacts: {
      ...withChunked,
      registry: toArtifact(await source.readArtifact("VerifierRegistry")),
      escrow: toArtifact(await source.readArtifact("LoraEscrow")),
      verifiers,
      deliveryVerifiers,
      ...((await source.artifactExists(BATCH_VERIFIER_CONTRACT))
        ? { batchVerifier: toArtifact(await source.readArtifact(BATCH_VERIFIER_CONTRACT)) }
        : {}),
    },
    missing,
  };
}
