/**
 * ChunkedModuleVerifier with REAL chunk proofs of the tiny committed chunked shape t2_i8_r2_o8_a4_b4
 * (2 A chunks + 2 B chunks) and the generated chunk verifiers: it accepts an honest chain and rejects
 * every cheat of PROTOCOL.md's module statement carried over to chains (other weights, other
 * activations, another rho or fY, chunks of another proving run, reordered or tampered proofs).
 */
import { expect } from "chai";
import hre from "hardhat";
import type { Contract, Signer } from "ethers";
import { chunkCalldata, ChunkCalldataError } from "../../src/chain/chunked.js";
import { addressesOf, ContractRevertError, ZkloraClient } from "../../src/chain/index.js";
import { collectZkloraArtifacts, deployZklora, type ZkloraDeployment } from "../../src/chain/deploy.js";
import { CHUNK_VERIFIER_KEYS } from "../../src/chain/verifierKeys.js";
import {
  P,
  buildChunkedCircuits,
  chunkCounts,
  chunkedActivationHash,
  chunkedCommitment,
  chunkedShapeId,
  computeRho,
  fingerprint,
  linkStart,
  loadChunkedShapes,
  loadShapes,
  loraProduct,
  outputDigest,
  proveChunkedModule,
  randomChunkSalts,
  shapeId,
  solidityChunks,
  type ChunkedArtifacts,
  type ChunkedModuleProof,
  type ChunkedShape,
  type ChunkedWitness,
} from "../../src/zk/index.js";
import {
  checkCommittedVerifier,
  ethers,
  makeEntry,
  makeWeights,
  matrix,
  networkHelpers,
  proveEntry,
  tinyCircuit,
  tinyShape,
  TINY_SHAPE,
} from "./fixture.js";

const TINY_CHUNKED = "t2_i8_r2_o8_a4_b4";

/** The chunked shape's circuits, checked against the committed generated verifiers. */
export async function tinyChunkedCircuits(): Promise<ChunkedArtifacts> {
  const shape = (await loadChunkedShapes()).find((s) => s.name === TINY_CHUNKED);
  if (shape === undefined) throw new Error(`no ${TINY_CHUNKED} in circuits/chunk-shapes.json`);
  const art = await buildChunkedCircuits(shape);
  for (const t of [art.a, art.b]) await checkCommittedVerifier(t, "npm run circuits:chunk");
  return art;
}

/** Call data of a proven chain. */
export function calldataOf(p: Pick<ChunkedModuleProof, "proofs">) {
  return chunkCalldata(solidityChunks(p.proofs));
}

/**
 * Deploys the shape's two generated chunk verifiers, a Groth16BatchVerifierN with each one's committed key
 * (src/chain/verifierKeys.ts) and its ChunkedModuleVerifier.
 */
export async function deployChunkedVerifier(art: ChunkedArtifacts): Promise<Contract> {
  const keys = CHUNK_VERIFIER_KEYS[art.shape.name];
  if (keys === undefined) throw new Error(`no CHUNK_VERIFIER_KEYS of ${art.shape.name}: npm run abi`);
  const a = await ethers.deployContract(art.a.verifierContract);
  const b = await ethers.deployContract(art.b.verifierContract);
  const batchA = await ethers.deployContract("Groth16BatchVerifierN", [keys.A]);
  const batchB = await ethers.deployContract("Groth16BatchVerifierN", [keys.B]);
  const { KA, KB } = chunkCounts(art.shape);
  return (await ethers.deployContract("ChunkedModuleVerifier", [
    await a.getAddress(),
    await b.getAddress(),
    await batchA.getAddress(),
    await batchB.getAddress(),
    KA,
    KB,
    await linkStart(art.shape.R),
  ])) as unknown as Contract;
}

/** Deterministic weights and activations of the shape (the ranges of the other contract tests). */
export function chunkedWitnessOf(shape: ChunkedShape, seed: number, rho: bigint): ChunkedWitness {
  return {
    A: matrix(shape.DIN, shape.R, seed),
    B: matrix(shape.R, shape.DOUT, seed + 1000),
    X: matrix(shape.T, shape.DIN, seed + 2000),
    salts: randomChunkSalts(shape),
    rho,
  };
}

describe("# ChunkedModuleVerifier", function () {
  let art: ChunkedArtifacts;
  let verifier: Contract;
  let w: ChunkedWitness;
  let honest: ChunkedModuleProof;
  let rerun: ChunkedModuleProof;
  let otherWeights: ChunkedModuleProof;
  let otherX: ChunkedModuleProof;
  const rho = 0x1234_5678_9abc_def0_1234_5678_9abc_def0n % P;

  const signalsOf = (p: Pick<ChunkedModuleProof, "C_m" | "hX" | "fY">, r = rho) => [p.C_m, p.hX, r, p.fY];

  before(async function () {
    art = await tinyChunkedCircuits();
    verifier = await deployChunkedVerifier(art);
    w = chunkedWitnessOf(art.shape, 11, rho);
    honest = await proveChunkedModule(art, w);
    rerun = await proveChunkedModule(art, w);
    // The same module with B's last column block changed, and with other activations in A chunk 1.
    const B = w.B.map((row) => row.map((v, j) => (j >= art.shape.DOUT - art.shape.WB ? v + 1n : v)));
    otherWeights = await proveChunkedModule(art, { ...w, B });
    const X = w.X.map((row) => row.map((v, i) => (i >= art.shape.WA ? -v - 1n : v)));
    otherX = await proveChunkedModule(art, { ...w, X });
  });

  it("Should accept a real chain whose fY is the monolithic fingerprint of X·A·B", async function () {
    expect(honest.fY).to.equal(fingerprint(loraProduct(w.X, w.A, w.B), rho));
    const { chunksA, chunksB } = calldataOf(honest);
    expect(await verifier.verifyChunked(signalsOf(honest), chunksA, chunksB)).to.equal(true);
    expect(await verifier.chunkCounts()).to.deep.equal([2n, 2n]);
    // A new proving run of the same module has fresh blinds, so other links, and verifies on its own.
    expect(rerun.proofs[0].publicSignals[4]).to.not.equal(honest.proofs[0].publicSignals[4]);
    const again = calldataOf(rerun);
    expect(await verifier.verifyChunked(signalsOf(rerun), again.chunksA, again.chunksB)).to.equal(true);
  });

  it("Should reject B chunks taken from another proving run of the same module (links differ)", async function () {
    const { chunksA } = calldataOf(honest);
    const { chunksB } = calldataOf(rerun);
    await expect(verifier.verifyChunked(signalsOf(honest), chunksA, chunksB))
      .to.be.revertedWithCustomError(verifier, "InvalidChunkProof")
      .withArgs(true, 0);
  });

  it("Should reject a chain of other weights against the committed C_m", async function () {
    expect(otherWeights.C_m).to.not.equal(honest.C_m);
    const { chunksA, chunksB } = calldataOf(otherWeights);
    await expect(verifier.verifyChunked(signalsOf({ ...otherWeights, C_m: honest.C_m }), chunksA, chunksB))
      .to.be.revertedWithCustomError(verifier, "ChunkCommitmentMismatch")
      .withArgs(honest.C_m, otherWeights.C_m);
    // Claiming the committed chunk hash while proving other weights: that chunk's proof fails.
    chunksB[1].hB = honest.hB[1];
    await expect(verifier.verifyChunked(signalsOf({ ...otherWeights, C_m: honest.C_m }), chunksA, chunksB))
      .to.be.revertedWithCustomError(verifier, "InvalidChunkProof")
      .withArgs(true, 1);
  });

  it("Should reject a chain over activations other than the registered hX", async function () {
    const { chunksA, chunksB } = calldataOf(otherX);
    await expect(verifier.verifyChunked(signalsOf({ ...otherX, hX: honest.hX }), chunksA, chunksB))
      .to.be.revertedWithCustomError(verifier, "ChunkActivationHashMismatch")
      .withArgs(honest.hX, otherX.hX);
    chunksA[1].hX = honest.hXc[1];
    await expect(verifier.verifyChunked(signalsOf({ ...otherX, hX: honest.hX }), chunksA, chunksB))
      .to.be.revertedWithCustomError(verifier, "InvalidChunkProof")
      .withArgs(false, 1);
  });

  it("Should reject another fY or another rho", async function () {
    const { chunksA, chunksB } = calldataOf(honest);
    await expect(verifier.verifyChunked(signalsOf({ ...honest, fY: (honest.fY + 1n) % P }), chunksA, chunksB))
      .to.be.revertedWithCustomError(verifier, "InvalidChunkProof")
      .withArgs(true, 1);
    await expect(verifier.verifyChunked(signalsOf(honest, (rho + 1n) % P), chunksA, chunksB))
      .to.be.revertedWithCustomError(verifier, "InvalidChunkProof")
      .withArgs(false, 0);
  });

  it("Should reject swapped, missing and tampered chunk proofs", async function () {
    const { chunksA, chunksB } = calldataOf(honest);
    await expect(
      verifier.verifyChunked(signalsOf(honest), [chunksA[1], chunksA[0]], chunksB),
    ).to.be.revertedWithCustomError(verifier, "ChunkCommitmentMismatch");
    // Proof points swapped but each chunk's hashes and links left in place.
    const swapped = [
      { ...chunksA[0], a: chunksA[1].a, b: chunksA[1].b, c: chunksA[1].c },
      { ...chunksA[1], a: chunksA[0].a, b: chunksA[0].b, c: chunksA[0].c },
    ];
    await expect(verifier.verifyChunked(signalsOf(honest), swapped, chunksB))
      .to.be.revertedWithCustomError(verifier, "InvalidChunkProof")
      .withArgs(false, 0);
    await expect(verifier.verifyChunked(signalsOf(honest), chunksA, [chunksB[0]]))
      .to.be.revertedWithCustomError(verifier, "WrongChunkCount")
      .withArgs(2, 2, 2, 1);
    const tampered = { ...chunksB[0], c: [chunksB[0].c[0], (chunksB[0].c[1] + 1n) % P] };
    await expect(verifier.verifyChunked(signalsOf(honest), chunksA, [tampered, chunksB[1]]))
      .to.be.revertedWithCustomError(verifier, "InvalidChunkProof")
      .withArgs(true, 0);
  });

  it("Should refuse to encode a list that is not a chain", function () {
    const chunks = solidityChunks(honest.proofs);
    expect(() => chunkCalldata([chunks[2], chunks[0], chunks[1], chunks[3]])).to.throw(
      ChunkCalldataError,
      /A chunk after a B chunk/,
    );
    expect(() => chunkCalldata([chunks[1], chunks[0], chunks[2], chunks[3]])).to.throw(
      ChunkCalldataError,
      /is A1, expected A0/,
    );
    expect(() => chunkCalldata(chunks.slice(0, 2))).to.throw(ChunkCalldataError, /needs A and B chunks/);
  });
});

describe("# LoraEscrow.submitChunked", function () {
  const PRICE = 10n ** 17n;
  const WINDOW = 3600;
  const BASE_MODEL = "0x" + "ab".repeat(32);
  let art: ChunkedArtifacts;

  interface ChunkedFixture {
    deployment: ZkloraDeployment;
    escrow: Contract;
    registry: Contract;
    chainId: bigint;
    contributor: Signer;
    buyer: Signer;
  }

  async function chunkedFixture(): Promise<ChunkedFixture> {
    const [deployer, contributor, buyer] = await ethers.getSigners();
    const shape = art.shape;
    const { artifacts } = await collectZkloraArtifacts(hre.artifacts, await loadShapes(), {
      only: [TINY_SHAPE, shape.name],
      chunkedShapes: [{ ...shape, linkStart: await linkStart(shape.R) }],
    });
    const deployment = await deployZklora(deployer, artifacts, { network: "hardhat-test" });
    return {
      deployment,
      escrow: deployment.escrow,
      registry: deployment.registry,
      chainId: (await ethers.provider.getNetwork()).chainId,
      contributor,
      buyer,
    };
  }

  /** A funded one-module deal of the chunked shape; returns what the buyer registered and the witness. */
  async function fundedChunkedDeal(f: ChunkedFixture, seed = 21) {
    const shape = art.shape;
    const w = chunkedWitnessOf(shape, seed, 0n);
    const { C_m } = await chunkedCommitment(w.A, w.B, w.salts, shape);
    const dealId = (await f.escrow.nextDealId()) as bigint;
    await (f.escrow.connect(f.contributor) as Contract).propose(
      PRICE,
      ethers.ZeroAddress,
      await f.buyer.getAddress(),
      BASE_MODEL,
      [{ target: "transformer.h.0.attn.c_attn", shapeId: chunkedShapeId(shape), commitment: C_m }],
      WINDOW,
    );
    // The buyer: hX of the chunked variant, Y = X·A·B as the server answered, rho as the escrow derives it.
    const { hX } = await chunkedActivationHash(w.X, shape);
    const Y = loraProduct(w.X, w.A, w.B);
    const hY = outputDigest(Y);
    const rho = computeRho({
      chainId: f.chainId,
      escrow: await f.escrow.getAddress(),
      dealId,
      module: 0n,
      hX,
      hY,
    });
    const fY = fingerprint(Y, rho);
    await (f.escrow.connect(f.buyer) as Contract).fund(dealId, [{ module: 0, hX, hY, fY }], { value: PRICE });
    return { dealId, w: { ...w, rho }, C_m, hX, fY };
  }

  before(async function () {
    art = await tinyChunkedCircuits();
  });

  it("Should deploy the chunked shape behind a ChunkedModuleVerifier registered under its variant", async function () {
    const f = await networkHelpers.loadFixture(chunkedFixture);
    const rec = f.deployment.record.shapes.find((s) => s.name === art.shape.name);
    expect(rec?.shapeId).to.equal(chunkedShapeId(art.shape));
    expect(rec?.chunked).to.deep.include({
      WA: 4,
      WB: 4,
      KA: 2,
      KB: 2,
      linkStart: (await linkStart(2)).toString(),
    });
    expect(await f.registry.verifierOf(chunkedShapeId(art.shape))).to.equal(rec?.verifier.address);
    // Delivery proofs bind the v1 commitment: a chunked module gets no delivery verifier.
    const [deliveryVerifier] = await f.registry.deliveryVerifierForShape(chunkedShapeId(art.shape));
    expect(deliveryVerifier).to.equal(ethers.ZeroAddress);
  });

  it("Should prove a chunked module's entry with real chunk proofs and pay the contributor", async function () {
    const f = await networkHelpers.loadFixture(chunkedFixture);
    const { dealId, w, C_m, hX, fY } = await fundedChunkedDeal(f);
    const proven = await proveChunkedModule(art, w);
    expect([proven.C_m, proven.hX, proven.fY]).to.deep.equal([C_m, hX, fY]);
    const { chunksA, chunksB } = calldataOf(proven);
    const client = await ZkloraClient.connect(f.contributor, addressesOf(f.deployment.record));
    const chunks = solidityChunks(proven.proofs);
    const tx = await client.submitChunked(dealId, 0, chunks);
    const provenLogs = tx.receipt.logs
      .map((l) => f.escrow.interface.parseLog(l))
      .filter((l) => l?.name === "EntryProven");
    expect(provenLogs.map((l) => [...(l?.args ?? [])])).to.deep.equal([[dealId, 0n, 0n, w.rho]]);
    expect(await f.escrow.entryProven(dealId, 0)).to.equal(true);
    await expect(f.escrow.submitChunked(dealId, 0, chunksA, chunksB))
      .to.be.revertedWithCustomError(f.escrow, "EntryAlreadyProven")
      .withArgs(dealId, 0);
    await expect(f.escrow.settle(dealId)).to.changeEtherBalances(
      ethers,
      [f.contributor, f.escrow],
      [PRICE, -PRICE],
    );
  });

  it("Should reject a chain proven before funding (another rho) and a chain over other activations", async function () {
    const f = await networkHelpers.loadFixture(chunkedFixture);
    const { dealId, w } = await fundedChunkedDeal(f);
    const earlyProof = await proveChunkedModule(art, { ...w, rho: (w.rho + 1n) % P });
    const early = calldataOf(earlyProof);
    // The typed client decodes the chunked verifier's error into a sentence.
    const client = await ZkloraClient.connect(f.contributor, addressesOf(f.deployment.record));
    const chunks = solidityChunks(earlyProof.proofs);
    const err = await client.submitChunked(dealId, 0, chunks).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(ContractRevertError);
    expect((err as ContractRevertError).revertName).to.equal("InvalidChunkProof");
    expect((err as Error).message).to.match(/proof of A chunk 0 does not verify/);
    const verifier = f.deployment.verifiers[art.shape.name];
    await expect(f.escrow.submitChunked(dealId, 0, early.chunksA, early.chunksB))
      .to.be.revertedWithCustomError(verifier, "InvalidChunkProof")
      .withArgs(false, 0);
    const X = w.X.map((row) => row.map((v) => v + 1n));
    const other = calldataOf(await proveChunkedModule(art, { ...w, X }));
    await expect(
      f.escrow.submitChunked(dealId, 0, other.chunksA, other.chunksB),
    ).to.be.revertedWithCustomError(verifier, "ChunkActivationHashMismatch");
    expect(await f.escrow.entryProven(dealId, 0)).to.equal(false);
  });

  it("Should refuse a single Groth16 proof for a chunked module and a chain for a v1 module", async function () {
    const f = await networkHelpers.loadFixture(chunkedFixture);
    const { dealId, w } = await fundedChunkedDeal(f);
    const { chunksA, chunksB } = calldataOf(await proveChunkedModule(art, w));
    // A real proof of the tiny v1 shape, submitted for the chunked entry.
    const shape = await tinyShape();
    const tinyArt = await tinyCircuit();
    const W = await makeWeights(shape, 5);
    const entry = await makeEntry(f, dealId, 0, W, matrix(shape.T, shape.DIN, 77));
    const single = await proveEntry(tinyArt, W, entry);
    await expect(f.escrow.submit(dealId, 0, single.a, single.b, single.c))
      .to.be.revertedWithCustomError(f.escrow, "InvalidProof")
      .withArgs(dealId, 0);

    // A v1 deal: submitChunked names the module's plain verifier.
    const v1Deal = (await f.escrow.nextDealId()) as bigint;
    await (f.escrow.connect(f.contributor) as Contract).propose(
      PRICE,
      ethers.ZeroAddress,
      await f.buyer.getAddress(),
      BASE_MODEL,
      [{ target: "transformer.h.0.attn.c_attn", shapeId: shapeId(shape), commitment: W.commitment }],
      WINDOW,
    );
    const v1Entry = await makeEntry(f, v1Deal, 0, W, matrix(shape.T, shape.DIN, 78));
    await (f.escrow.connect(f.buyer) as Contract).fund(
      v1Deal,
      [{ module: 0, hX: v1Entry.hX, hY: v1Entry.hY, fY: v1Entry.fY }],
      { value: PRICE },
    );
    await expect(f.escrow.submitChunked(v1Deal, 0, chunksA, chunksB))
      .to.be.revertedWithCustomError(f.escrow, "NotChunkedModule")
      .withArgs(v1Deal, 0);
    // Delivery deals cannot take a chunked module.
    await expect(
      (f.escrow.connect(f.contributor) as Contract).proposeWithDelivery(
        PRICE,
        ethers.ZeroAddress,
        await f.buyer.getAddress(),
        BASE_MODEL,
        [{ target: "t", shapeId: chunkedShapeId(art.shape), commitment: 1n }],
        WINDOW,
      ),
    ).to.be.revertedWithCustomError(f.escrow, "UnregisteredDeliveryShape");
  });
});
