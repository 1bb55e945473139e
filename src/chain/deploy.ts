/**
 * Deploys a zklora instance (protocol v2): the append-only shape registry, the escrow over it, and
 * one LoraModuleVerifierV2 per shape, registered. Shapes are added on demand later with
 * `registerShapes` (the registry owner's call). The same functions are the deploy task's body and
 * the tests' fixture.
 *
 * Pure ethers v6: artifacts and shape keys come in as arguments, so this module bundles for a
 * browser; `readZkloraArtifacts` reads Hardhat's artifacts.
 */
import { ContractFactory, ZeroAddress, getAddress, type InterfaceAbi, type Signer } from "ethers";
import type { DeployedContract, DeployedShape, DeploymentRecord } from "./deployments.js";
import { ShapeRegistryV2__factory } from "./typechain/index.js";

/** What deploying a contract needs from its compiled artifact. */
export interface ContractArtifact {
  contractName: string;
  abi: InterfaceAbi;
  bytecode: string;
}

/** The compiled v2 contracts. */
export interface ZkloraArtifacts {
  registry: ContractArtifact;
  escrow: ContractArtifact;
  verifier: ContractArtifact;
  wrapVerifier: ContractArtifact;
}

/** The key-wrap verifier to register: its identity and its constructor argument. */
export interface WrapSpec {
  slots: number;
  keyHash: string;
  /** "dev" or the public ptau file name. */
  ptau: string;
  /** `solidityWrapKey(key)` (src/zk/wrap). */
  verifierArgs: unknown;
}

/** One shape to register: its identity and its verifier's constructor argument. */
export interface ShapeSpec {
  name: string;
  DIN: number;
  R: number;
  DOUT: number;
  shapeId: string;
  keyHash: string;
  /** "dev" or the public ptau file name. */
  ptau: string;
  /** `solidityShapeKey(key)` (src/zk/v2). */
  verifierArgs: unknown;
}

/** Options of `deployZklora`. */
export interface DeployOptions {
  /** Hardhat network name recorded in the deployment record. */
  network: string;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** A deploy step failed. */
export class DeployError extends Error {
  override name = "DeployError";
}

/** Where `readZkloraArtifacts` reads compiled contracts from (Hardhat's `hre.artifacts` fits). */
export interface ArtifactSource {
  readArtifact(name: string): Promise<{ contractName: string; abi: unknown; bytecode: string }>;
}

/** The three v2 artifacts from Hardhat's artifacts. */
export async function readZkloraArtifacts(source: ArtifactSource): Promise<ZkloraArtifacts> {
  const read = async (name: string): Promise<ContractArtifact> => {
    const a = await source.readArtifact(name);
    return { contractName: a.contractName, abi: a.abi as InterfaceAbi, bytecode: a.bytecode };
  };
  return {
    registry: await read("ShapeRegistryV2"),
    escrow: await read("LoraEscrowV2"),
    verifier: await read("LoraModuleVerifierV2"),
    wrapVerifier: await read("LoraKeyWrapVerifierV2"),
  };
}

async function deployOne(a: ContractArtifact, signer: Signer, args: unknown[]): Promise<DeployedContract> {
  const c = await new ContractFactory(a.abi, a.bytecode, signer).deploy(...args);
  const tx = c.deploymentTransaction();
  await c.waitForDeployment();
  const receipt = tx === null ? null : await tx.wait();
  if (receipt === null) throw new DeployError(`deploying ${a.contractName}: no receipt`);
  return {
    address: getAddress(await c.getAddress()),
    contractName: a.contractName,
    abi: `abi/${a.contractName}.json`,
    transactionHash: receipt.hash,
    blockNumber: receipt.blockNumber,
  };
}

/**
 * Deploys and registers a verifier for every shape the record's registry lacks (in order), and
 * returns the record with them appended. The signer must own the registry. A shape registered
 * with another key hash is an error (the registry is append-only: nothing replaces it).
 */
export async function registerShapes(
  signer: Signer,
  record: DeploymentRecord,
  shapes: readonly ShapeSpec[],
  artifacts: Pick<ZkloraArtifacts, "verifier">,
  log: (line: string) => void = () => {},
): Promise<DeploymentRecord> {
  const registry = ShapeRegistryV2__factory.connect(record.contracts.ShapeRegistryV2.address, signer);
  const out: DeployedShape[] = [...record.shapes];
  for (const s of shapes) {
    if (out.some((x) => x.shapeId === s.shapeId)) continue;
    const onchain = await registry.verifierOf(s.shapeId);
    if (onchain !== "0x0000000000000000000000000000000000000000") {
      const keyHash = await registry.keyHashOf(s.shapeId);
      if (keyHash !== s.keyHash) {
        throw new DeployError(
          `shape ${s.name} is registered with key hash ${keyHash}, but the derived key has ${s.keyHash} (another ptau?)`,
        );
      }
      throw new DeployError(
        `shape ${s.name} is registered at ${onchain} but missing from the deployment record: the record is stale; deploy again`,
      );
    }
    const owner = await registry.owner();
    const me = getAddress(await signer.getAddress());
    if (getAddress(owner) !== me) {
      throw new DeployError(
        `shape ${s.name} is not registered and only the registry owner ${owner} may register it (signer ${me}): ask them to run zklora:deploy with this shape`,
      );
    }
    const verifier = await deployOne(artifacts.verifier, signer, [s.verifierArgs]);
    await (await registry.register(verifier.address)).wait();
    log(
      `registered shape ${s.name} (${s.ptau === "dev" ? "FORGEABLE dev ptau" : s.ptau}) at ${verifier.address}`,
    );
    out.push({
      name: s.name,
      DIN: s.DIN,
      R: s.R,
      DOUT: s.DOUT,
      shapeId: s.shapeId,
      keyHash: s.keyHash,
      ptau: s.ptau,
      verifier,
    });
  }
  return { ...record, shapes: out };
}

/**
 * Deploys and registers the key-wrap verifier of delivery deals when the record's registry has none;
 * returns the record with it. The signer must own the registry. A registered verifier with another
 * key hash is an error (the registration is permanent).
 */
export async function registerWrapVerifier(
  signer: Signer,
  record: DeploymentRecord,
  wrap: WrapSpec,
  artifacts: Pick<ZkloraArtifacts, "wrapVerifier">,
  log: (line: string) => void = () => {},
): Promise<DeploymentRecord> {
  const registry = ShapeRegistryV2__factory.connect(record.contracts.ShapeRegistryV2.address, signer);
  const onchain = await registry.wrapVerifier();
  if (onchain !== ZeroAddress) {
    const keyHash = await registry.wrapKeyHash();
    if (keyHash !== wrap.keyHash) {
      throw new DeployError(
        `the registry's key-wrap verifier has key hash ${keyHash}, but the derived key has ${wrap.keyHash} (another ptau?)`,
      );
    }
    if (record.wrap?.verifier.address === getAddress(onchain)) return record;
    throw new DeployError(
      `the key-wrap verifier is registered at ${onchain} but missing from the deployment record: the record is stale; deploy again`,
    );
  }
  const owner = await registry.owner();
  const me = getAddress(await signer.getAddress());
  if (getAddress(owner) !== me) {
    throw new DeployError(
      `the registry has no key-wrap verifier and only its owner ${owner} may register one (signer ${me}): ask them to run zklora:deploy`,
    );
  }
  const verifier = await deployOne(artifacts.wrapVerifier, signer, [wrap.verifierArgs]);
  await (await registry.registerWrapVerifier(verifier.address)).wait();
  log(
    `registered the key-wrap verifier (${wrap.ptau === "dev" ? "FORGEABLE dev ptau" : wrap.ptau}) at ${verifier.address}`,
  );
  return { ...record, wrap: { slots: wrap.slots, keyHash: wrap.keyHash, ptau: wrap.ptau, verifier } };
}

/**
 * Deploys the registry, the escrow, a verifier per shape and, when `wrap` is given, the key-wrap
 * verifier of delivery deals; returns the deployment record.
 */
export async function deployZklora(
  deployer: Signer,
  shapes: readonly ShapeSpec[],
  artifacts: ZkloraArtifacts,
  opts: DeployOptions & { wrap?: WrapSpec },
): Promise<DeploymentRecord> {
  const log = opts.log ?? (() => {});
  const me = getAddress(await deployer.getAddress());
  const registry = await deployOne(artifacts.registry, deployer, [me]);
  log(`ShapeRegistryV2 at ${registry.address}`);
  const escrow = await deployOne(artifacts.escrow, deployer, [registry.address]);
  log(`LoraEscrowV2 at ${escrow.address}`);
  const chainId = Number((await deployer.provider!.getNetwork()).chainId);
  const record: DeploymentRecord = {
    format: "zklora-deployment/2",
    network: opts.network,
    chainId,
    deployer: me,
    registryOwner: me,
    blockNumber: escrow.blockNumber,
    deployedAt: new Date().toISOString(),
    contracts: { ShapeRegistryV2: registry, LoraEscrowV2: escrow },
    shapes: [],
  };
  const withShapes = await registerShapes(deployer, record, shapes, artifacts, log);
  return opts.wrap === undefined
    ? withShapes
    : registerWrapVerifier(deployer, withShapes, opts.wrap, artifacts, log);
}
