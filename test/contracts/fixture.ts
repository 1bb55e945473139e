/**
 * The contract tests' fixture: the project's own deploy code (`deployZklora`) on a fresh in-process
 * chain, plus test tokens, and helpers that build real deals with the project's prover: weights,
 * activations, transcript entries `(m, hX, hY, fY)` computed as the buyer does, and memoized real
 * Groth16 proofs for the tiny test shape.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import hre, { network } from "hardhat";
import type { Contract, Signer } from "ethers";
import { collectZkloraArtifacts, deployZklora, type ZkloraDeployment } from "../../src/chain/deploy.js";
import { PROJECT_ROOT, sha256File } from "../../src/common/cache.js";
import type { ModuleDelivery } from "../../src/mpi/index.js";
import {
  activationHash,
  buildCircuit,
  buildDeliveryCircuit,
  findDeliveryShape,
  proveDelivery,
  type DeliveryArtifacts,
  computeRho,
  findShape,
  fingerprint,
  loadDeliveryShapes,
  loadShapes,
  loraProduct,
  outputDigest,
  proveModule,
  toSolidityProof,
  weightCommitment,
  type CircuitArtifacts,
  type Shape,
  type SolidityProof,
} from "../../src/zk/index.js";

/** The tiny shape the real proofs are made for. */
export const TINY_SHAPE = "t2_i8_r2_o8";

export const connection = await network.create();
export const { ethers, networkHelpers } = connection;

/** LoRA weights of one module. */
export interface Weights {
  A: bigint[][];
  B: bigint[][];
  salt: bigint;
  commitment: bigint;
}

/** A transcript entry as the buyer registers it, plus what made it. */
export interface DealEntry {
  module: number;
  hX: bigint;
  hY: string;
  fY: bigint;
  X: bigint[][];
  rho: bigint;
}

/** Deterministic small pseudo-random integers in [-range, range]. */
export function matrix(rows: number, cols: number, seed: number, range = 60): bigint[][] {
  let s = seed >>> 0 || 1;
  const next = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return BigInt((s >>> 8) % (2 * range + 1)) - BigInt(range);
  };
  return Array.from({ length: rows }, () => Array.from({ length: cols }, next));
}

export async function makeWeights(shape: Shape, seed: number): Promise<Weights> {
  const A = matrix(shape.DIN, shape.R, seed);
  const B = matrix(shape.R, shape.DOUT, seed + 1000);
  const salt = BigInt(seed) * 1_000_003n + 77n;
  return { A, B, salt, commitment: await weightCommitment(A, B, salt) };
}

/** Everything a test needs, deployed fresh by `deployZklora` (use through `networkHelpers.loadFixture`). */
export interface Fixture {
  deployment: ZkloraDeployment;
  escrow: Contract;
  registry: Contract;
  chainId: bigint;
  deployer: Signer;
  contributor: Signer;
  buyer: Signer;
  stranger: Signer;
  token: Contract;
  feeToken: Contract;
  reentrantToken: Contract;
}

export async function deployFixture(): Promise<Fixture> {
  const [deployer, contributor, buyer, stranger] = await ethers.getSigners();
  // Every shape with a generated verifier, as `zklora:deploy` does; the tiny one must be there.
  const { artifacts } = await collectZkloraArtifacts(hre.artifacts, await loadShapes(), {
    deliveryShapes: await loadDeliveryShapes(),
  });
  if (!artifacts.verifiers.some((v) => v.shapeName === TINY_SHAPE)) {
    throw new Error(`no compiled Groth16Verifier_${TINY_SHAPE}: generate it with \`npm run circuits\``);
  }
  const deployment = await deployZklora(deployer, artifacts, { network: "hardhat-test" });
  const token = (await ethers.deployContract("ERC20Mock", ["Mock", "MOCK"])) as unknown as Contract;
  const feeToken = (await ethers.deployContract("FeeOnTransferToken", [100n])) as unknown as Contract;
  const reentrantToken = (await ethers.deployContract("ReentrantToken")) as unknown as Contract;
  return {
    deployment,
    escrow: deployment.escrow,
    registry: deployment.registry,
    chainId: (await ethers.provider.getNetwork()).chainId,
    deployer,
    contributor,
    buyer,
    stranger,
    token,
    feeToken,
    reentrantToken,
  };
}

/**
 * Builds (cached) the tiny shape's circuit and checks that the committed, compiled verifier is the one
 * the pipeline produced for this zkey, so that proofs made here verify on-chain.
 */
export async function tinyCircuit(): Promise<CircuitArtifacts> {
  const art = await buildCircuit(await findShape(TINY_SHAPE));
  await checkCommittedVerifier(art, "npm run circuits");
  return art;
}

/**
 * Checks that `contracts/verifiers/<verifierContract>.sol` is the verifier the pipeline generated for the
 * cached zkey (so proofs made here verify on-chain); the error names the command that regenerates it.
 */
export async function checkCommittedVerifier(
  art: { verifierContract: string; verifierSol: string; sha256: { verifier: string } },
  regenerate: string,
): Promise<void> {
  const committed = path.join(PROJECT_ROOT, "contracts", "verifiers", `${art.verifierContract}.sol`);
  let committedHash: string;
  try {
    committedHash = await sha256File(committed);
  } catch {
    throw new Error(`${committed} is missing: generate it with \`${regenerate}\``);
  }
  if (committedHash !== art.sha256.verifier) {
    const head = (await readFile(committed, "utf8")).split("\n").slice(0, 3).join("\n");
    throw new Error(
      `${committed} differs from the verifier of the cached zkey (${art.verifierSol}): run \`${regenerate}\`.\n${head}`,
    );
  }
}

export async function tinyShape(): Promise<Shape> {
  return findShape(TINY_SHAPE);
}

/** A deployed shape other than the tiny one (its verifier checks another circuit and key). */
export function otherShape(f: Pick<Fixture, "deployment">): { name: string; shapeId: string } {
  const other = f.deployment.record.shapes.find((s) => s.name !== TINY_SHAPE);
  if (other === undefined) {
    throw new Error(
      "only one verifier in contracts/verifiers: the wrong-shape test needs a second shape's verifier (npm run circuits)",
    );
  }
  return { name: other.name, shapeId: other.shapeId };
}

/** The entry the buyer registers for activations X at module m of a deal, with Y = X·A·B. */
export async function makeEntry(
  f: Pick<Fixture, "chainId" | "escrow">,
  dealId: bigint,
  module: number,
  weights: Pick<Weights, "A" | "B">,
  X: bigint[][],
): Promise<DealEntry> {
  const hX = await activationHash(X);
  const Y = loraProduct(X, weights.A, weights.B);
  const hY = outputDigest(Y);
  const rho = computeRho({
    chainId: f.chainId,
    escrow: await f.escrow.getAddress(),
    dealId,
    module: BigInt(module),
    hX,
    hY,
  });
  return { module, hX, hY, fY: fingerprint(Y, rho), X, rho };
}

/** Entries sorted as `fund` requires: by (module, hX). */
export function sortEntries<T extends { module: number; hX: bigint }>(entries: T[]): T[] {
  return [...entries].sort((a, b) => a.module - b.module || (a.hX < b.hX ? -1 : a.hX > b.hX ? 1 : 0));
}

/** The `fund` argument of entries. */
export function entryArgs(entries: readonly Pick<DealEntry, "module" | "hX" | "hY" | "fY">[]) {
  return entries.map((e) => ({ module: e.module, hX: e.hX, hY: e.hY, fY: e.fY }));
}

const proofs = new Map<string, Promise<SolidityProof>>();

/** A real proof (memoized) that `weights` applied to the entry's X give the entry's fingerprint at its rho. */
export function proveEntry(
  art: CircuitArtifacts,
  weights: Weights,
  entry: DealEntry,
): Promise<SolidityProof> {
  const key = [weights.commitment, entry.hX, entry.rho].join("|");
  let p = proofs.get(key);
  if (p === undefined) {
    p = proveModule(art, { A: weights.A, B: weights.B, salt: weights.salt, X: entry.X, rho: entry.rho }).then(
      ({ proof }) => toSolidityProof(proof),
    );
    proofs.set(key, p);
  }
  return p;
}

/** The delivery circuit of the tiny weight shape; checks that the committed verifier is its key's. */
export async function tinyDeliveryCircuit(shape: Shape): Promise<DeliveryArtifacts> {
  const dart = await buildDeliveryCircuit(await findDeliveryShape(shape));
  await checkCommittedVerifier(dart, "npm run circuits:delivery");
  return dart;
}

/** A real delivery of `w` under key `k` for `module` (q_proj for 0, v_proj otherwise, of `layer`). */
export async function makeDelivery(
  dart: DeliveryArtifacts,
  w: Weights,
  k: bigint,
  module: number,
  layer = 0,
): Promise<ModuleDelivery> {
  const r = await proveDelivery(dart, { A: w.A, B: w.B, salt: w.salt }, k);
  return {
    version: 1,
    module,
    target: `model.layers.${layer}.self_attn.${module === 0 ? "q" : "v"}_proj`,
    DIN: dart.shape.DIN,
    R: dart.shape.R,
    DOUT: dart.shape.DOUT,
    shape: dart.shape.name,
    C_m: r.publicSignals[0],
    hK: r.publicSignals[1],
    hC: r.publicSignals[2],
    ciphertext: r.ciphertext,
    proof: r.proof,
  };
}
