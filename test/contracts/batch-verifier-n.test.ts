/**
 * Groth16BatchVerifierN against the generated snarkjs chunk verifiers (5 and 6 public signals), with REAL
 * chunk proofs of the tiny committed chunked shape t2_i8_r2_o8_a4_b4: it holds exactly the generated
 * verifiers' keys (parsed from contracts/verifiers, = the zkeys'), accepts a batch exactly when the
 * generated verifier accepts every proof in it, rejects a tampered proof anywhere in a batch, and
 * reverts on malformed input with its typed errors. Also: the deployment of a chunked shape puts the
 * batch verifiers behind its ChunkedModuleVerifier and refuses keys the chunk verifiers do not hold.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import type { Contract } from "ethers";
import {
  bytecodeHoldsKeyN,
  keySignalCount,
  parseVerifierKey,
  parseVerifierKeyN,
  verifierKeyWordsN,
  VerifierKeyError,
  type BatchVerificationKeyN,
} from "../../src/chain/batch.js";
import { chunkCalldata } from "../../src/chain/chunked.js";
import { collectZkloraArtifacts, deployZklora, DeployError } from "../../src/chain/deploy.js";
import { CHUNK_VERIFIER_KEYS, VERIFIER_KEYS } from "../../src/chain/verifierKeys.js";
import { PROJECT_ROOT } from "../../src/common/cache.js";
import {
  P,
  buildChunkedCircuits,
  linkStart,
  loadChunkedShapes,
  loadShapes,
  proveChunkedModule,
  randomChunkSalts,
  solidityChunks,
  toSolidityProof,
  type ChunkedArtifacts,
  type ChunkedModuleProof,
} from "../../src/zk/index.js";
import { ethers, matrix, TINY_SHAPE } from "./fixture.js";

const TINY_CHUNKED = "t2_i8_r2_o8_a4_b4";
/** The BN254 base field modulus q. */
const Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583n;

interface SignedProof {
  a: [bigint, bigint];
  b: [[bigint, bigint], [bigint, bigint]];
  c: [bigint, bigint];
  signals: bigint[];
}

const clone = (p: SignedProof): SignedProof => ({
  a: [p.a[0], p.a[1]],
  b: [
    [p.b[0][0], p.b[0][1]],
    [p.b[1][0], p.b[1][1]],
  ],
  c: [p.c[0], p.c[1]],
  signals: [...p.signals],
});

const verifierSource = (contract: string) =>
  readFile(path.join(PROJECT_ROOT, "contracts", "verifiers", `${contract}.sol`), "utf8");

describe("# Groth16BatchVerifierN with real chunk proofs", function () {
  let art: ChunkedArtifacts;
  /** Per kind: the chunk proofs of two proving runs of one module (2 + 2 for the tiny shape). */
  const proofs: Record<"A" | "B", SignedProof[]> = { A: [], B: [] };
  const batch: Partial<Record<"A" | "B", Contract>> = {};
  const single: Partial<Record<"A" | "B", Contract>> = {};
  let firstRun: ChunkedModuleProof | undefined;
  let firstRho = 0n;

  before(async function () {
    const shape = (await loadChunkedShapes()).find((s) => s.name === TINY_CHUNKED);
    if (shape === undefined) throw new Error(`no ${TINY_CHUNKED} in circuits/chunk-shapes.json`);
    art = await buildChunkedCircuits(shape);
    const w = {
      A: matrix(shape.DIN, shape.R, 31),
      B: matrix(shape.R, shape.DOUT, 32),
      X: matrix(shape.T, shape.DIN, 33),
      rho: 0x5eed_5eed_5eed_5eed_5eedn % P,
    };
    for (const run of [0, 1]) {
      const proven = await proveChunkedModule(art, {
        ...w,
        salts: randomChunkSalts(shape),
        rho: w.rho + BigInt(run),
      });
      if (run === 0) [firstRun, firstRho] = [proven, w.rho];
      for (const c of proven.proofs) {
        const sp = toSolidityProof(c.proof);
        proofs[c.kind].push({
          a: [BigInt(sp.a[0]), BigInt(sp.a[1])],
          b: [
            [BigInt(sp.b[0][0]), BigInt(sp.b[0][1])],
            [BigInt(sp.b[1][0]), BigInt(sp.b[1][1])],
          ],
          c: [BigInt(sp.c[0]), BigInt(sp.c[1])],
          signals: c.publicSignals.map(BigInt),
        });
      }
    }
    const keys = CHUNK_VERIFIER_KEYS[TINY_CHUNKED];
    for (const kind of ["A", "B"] as const) {
      batch[kind] = (await ethers.deployContract("Groth16BatchVerifierN", [
        keys[kind],
      ])) as unknown as Contract;
      single[kind] = (await ethers.deployContract(
        kind === "A" ? art.a.verifierContract : art.b.verifierContract,
      )) as unknown as Contract;
    }
  });

  const get = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error("before() did not run");
    return v;
  };
  const verifyBatch = (kind: "A" | "B", list: SignedProof[]) =>
    get(batch[kind]).verifyBatch(list) as Promise<boolean>;
  const verifyEach = (kind: "A" | "B", list: SignedProof[]) =>
    Promise.all(list.map((p) => get(single[kind]).verifyProof(p.a, p.b, p.c, p.signals) as Promise<boolean>));

  describe("# key", function () {
    it("Should hold exactly the generated chunk verifiers' keys, which are the zkeys'", async function () {
      for (const kind of ["A", "B"] as const) {
        const target = kind === "A" ? art.a : art.b;
        const parsed = parseVerifierKeyN(await verifierSource(target.verifierContract));
        expect(CHUNK_VERIFIER_KEYS[TINY_CHUNKED][kind]).to.deep.equal(parsed);
        expect(keySignalCount(parsed)).to.equal(kind === "A" ? 5 : 6);
        const b = get(batch[kind]);
        expect(await b.publicSignalCount()).to.equal(BigInt(keySignalCount(parsed)));
        const vk = await b.verificationKey();
        const onChain = [...vk.alpha, ...vk.beta, ...vk.gamma, ...vk.delta, ...vk.ic].map(BigInt);
        expect(onChain).to.deep.equal(verifierKeyWordsN(parsed));
        const j = target.vkey as Record<string, string[] & string[][]>;
        const g2 = (pt: string[][]) => [pt[0][1], pt[0][0], pt[1][1], pt[1][0]].map(BigInt);
        expect(onChain).to.deep.equal([
          ...j.vk_alpha_1.slice(0, 2).map(BigInt),
          ...g2(j.vk_beta_2),
          ...g2(j.vk_gamma_2),
          ...g2(j.vk_delta_2),
          ...j.IC.flatMap((pt: string[]) => pt.slice(0, 2).map(BigInt)),
        ]);
        expect(await b.verificationKeyHash()).to.equal(
          ethers.keccak256(
            ethers.AbiCoder.defaultAbiCoder().encode(
              ["tuple(uint256[2],uint256[4],uint256[4],uint256[4],uint256[])"],
              [[vk.alpha, vk.beta, vk.gamma, vk.delta, vk.ic]],
            ),
          ),
        );
      }
    });

    it("Should parse a key of any signal count and refuse sources that are not snarkjs verifiers", async function () {
      const four = await verifierSource(`Groth16Verifier_${TINY_SHAPE}`);
      // The four-signal parser and the general one agree on a four-signal verifier.
      expect(parseVerifierKeyN(four)).to.deep.equal(parseVerifierKey(four));
      expect(VERIFIER_KEYS[TINY_SHAPE]).to.deep.equal(parseVerifierKeyN(four, 4));
      expect(() => parseVerifierKeyN(four, 5)).to.throw(VerifierKeyError, /4 public signals; expected 5/);
      const a = await verifierSource(art.a.verifierContract);
      expect(() => parseVerifierKeyN(a.replace(/uint256 constant IC5y[^\n]*\n/, ""))).to.throw(
        VerifierKeyError,
        /IC5y/,
      );
      expect(() =>
        parseVerifierKeyN(
          a.replace("uint256 constant IC0x", "uint256 constant IC6x = 1;\n    uint256 constant IC0x"),
        ),
      ).to.throw(VerifierKeyError, /IC6x beyond/);
      expect(() =>
        parseVerifierKeyN(a.replace("uint[5] calldata _pubSignals", "uint[9] calldata _pubSignals")),
      ).to.throw(VerifierKeyError, /9 public signals/);
      expect(() => parseVerifierKeyN("contract X {}")).to.throw(VerifierKeyError, /0 _pubSignals/);
    });

    it("Should refuse to deploy a key that is not canonical or not on the curve", async function () {
      const factory = await ethers.getContractFactory("Groth16BatchVerifierN");
      const probe = get(batch.B);
      const key = CHUNK_VERIFIER_KEYS[TINY_CHUNKED].B;
      const bad = (edit: (k: BatchVerificationKeyN) => void) => {
        const k = structuredClone(key);
        edit(k);
        return factory.deploy(k);
      };
      await expect(bad((k) => (k.ic[13] = Q.toString())))
        .to.be.revertedWithCustomError(probe, "InvalidVerificationKey")
        .withArgs(27);
      await expect(bad((k) => (k.alpha[0] = (BigInt(k.alpha[0]) + 1n).toString())))
        .to.be.revertedWithCustomError(probe, "InvalidVerificationKey")
        .withArgs(0);
      await expect(bad((k) => (k.delta[0] = (BigInt(k.delta[0]) + 1n).toString())))
        .to.be.revertedWithCustomError(probe, "InvalidVerificationKey")
        .withArgs(28);
      await expect(bad((k) => (k.ic = k.ic.slice(0, 13))))
        .to.be.revertedWithCustomError(probe, "UnsupportedKeySize")
        .withArgs(13);
    });
  });

  describe("# parity with the generated verifiers", function () {
    it("Should accept batches of 1, 2 and all chunk proofs of a kind, as the generated verifier accepts each", async function () {
      for (const kind of ["A", "B"] as const) {
        const all = proofs[kind];
        expect(all.length).to.equal(4);
        expect(await verifyEach(kind, all)).to.deep.equal([true, true, true, true]);
        for (const p of all) expect(await verifyBatch(kind, [p])).to.equal(true);
        expect(await verifyBatch(kind, all.slice(0, 2))).to.equal(true);
        expect(await verifyBatch(kind, all.slice(2))).to.equal(true);
        expect(await verifyBatch(kind, all)).to.equal(true);
        // The same proof twice is a batch of two valid proofs.
        expect(await verifyBatch(kind, [all[1], all[1]])).to.equal(true);
      }
    });

    it("Should reject a batch with a tampered proof anywhere, as the generated verifier rejects that proof", async function () {
      for (const kind of ["A", "B"] as const) {
        const all = proofs[kind];
        const n = all[0].signals.length;
        for (let i = 0; i < all.length; i++) {
          // One public signal changed (cycling through the signals).
          const list = all.map(clone);
          const j = i % n;
          list[i].signals[j] = (list[i].signals[j] + 1n) % P;
          expect((await verifyEach(kind, list))[i]).to.equal(false);
          expect(await verifyBatch(kind, list)).to.equal(false);
          // Proof points of another valid proof with this proof's signals.
          const mixed = all.map(clone);
          const donor = all[(i + 1) % all.length];
          mixed[i] = { ...clone(donor), signals: [...all[i].signals] };
          expect((await verifyEach(kind, mixed))[i]).to.equal(false);
          expect(await verifyBatch(kind, mixed)).to.equal(false);
        }
        // Two errors that cancel in a plain (unweighted) sum of the signals.
        const cancel = all.map(clone);
        cancel[0].signals[0] = (cancel[0].signals[0] + 5n) % P;
        cancel[1].signals[0] = (cancel[1].signals[0] - 5n + P) % P;
        expect(await verifyBatch(kind, cancel)).to.equal(false);
        // B off the twist: ecPairing fails, the batch returns false (as the generated verifier does).
        const twisted = all.map(clone);
        twisted[3].b[1][1] = (twisted[3].b[1][1] + 1n) % Q;
        expect((await verifyEach(kind, twisted))[3]).to.equal(false);
        expect(await verifyBatch(kind, twisted)).to.equal(false);
      }
    });

    it("Should revert on malformed input with the typed errors", async function () {
      const b = get(batch.A);
      const all = proofs.A;
      await expect(verifyBatch("A", [])).to.be.revertedWithCustomError(b, "EmptyBatch");
      // A B chunk proof (6 signals) given to the A key (5 signals), and the reverse.
      await expect(verifyBatch("A", [all[0], proofs.B[0]]))
        .to.be.revertedWithCustomError(b, "WrongSignalCount")
        .withArgs(1, 5, 6);
      await expect(verifyBatch("B", [all[0]]))
        .to.be.revertedWithCustomError(get(batch.B), "WrongSignalCount")
        .withArgs(0, 6, 5);
      // A signal p + x: the generated verifier returns false, the batch verifier names it.
      const wide = all.map(clone);
      wide[2].signals[4] = wide[2].signals[4] + P;
      expect((await verifyEach("A", wide))[2]).to.equal(false);
      await expect(verifyBatch("A", wide))
        .to.be.revertedWithCustomError(b, "SignalNotInField")
        .withArgs(2, 4, wide[2].signals[4]);
      const coord = all.map(clone);
      coord[1].c[0] = coord[1].c[0] + Q;
      await expect(verifyBatch("A", coord))
        .to.be.revertedWithCustomError(b, "CoordinateNotInField")
        .withArgs(1, coord[1].c[0]);
      const off = all.map(clone);
      off[3].c[1] = (off[3].c[1] + 1n) % Q;
      expect((await verifyEach("A", off))[3]).to.equal(false);
      await expect(verifyBatch("A", off))
        .to.be.revertedWithCustomError(b, "PointNotOnCurve")
        .withArgs(3, true);
      const offA = all.map(clone);
      offA[0].a[1] = (offA[0].a[1] + 1n) % Q;
      await expect(verifyBatch("A", offA))
        .to.be.revertedWithCustomError(b, "PointNotOnCurve")
        .withArgs(0, false);
    });
  });

  describe("# deployment", function () {
    it("Should deploy a chunked shape with its two batch verifiers behind its ChunkedModuleVerifier", async function () {
      const shape = art.shape;
      const { artifacts } = await collectZkloraArtifacts(hre.artifacts, await loadShapes(), {
        only: [shape.name],
        chunkedShapes: [{ ...shape, linkStart: await linkStart(shape.R) }],
      });
      const [deployer] = await ethers.getSigners();
      const { record, verifiers } = await deployZklora(deployer, artifacts, { network: "test" });
      const chunked = record.shapes.find((s) => s.name === shape.name)?.chunked;
      if (chunked === undefined) throw new Error("no chunked record");
      const cmv = verifiers[shape.name];
      expect(await cmv.chunkABatchVerifier()).to.equal(chunked.chunkABatchVerifier.address);
      expect(await cmv.chunkBBatchVerifier()).to.equal(chunked.chunkBBatchVerifier.address);
      expect(await cmv.chunkAVerifier()).to.equal(chunked.chunkAVerifier.address);
      for (const kind of ["A", "B"] as const) {
        const info = kind === "A" ? chunked.chunkABatchVerifier : chunked.chunkBBatchVerifier;
        expect(info.contractName).to.equal("Groth16BatchVerifierN");
        const b = await ethers.getContractAt("Groth16BatchVerifierN", info.address);
        expect(await b.verificationKeyHash()).to.equal(await get(batch[kind]).verificationKeyHash());
      }

      // Keys the chunk verifiers do not hold (A and B swapped, or a key of the right size but another
      // circuit's constants) are refused before anything is deployed for the shape.
      const spec = artifacts.chunkedVerifiers?.[0];
      if (spec === undefined) throw new Error("no chunked spec");
      const keys = CHUNK_VERIFIER_KEYS[shape.name];
      const wrong = [
        { A: keys.B, B: keys.A },
        { A: { ...keys.A, ic: [...keys.B.ic.slice(0, 2), ...keys.A.ic.slice(2)] }, B: keys.B },
      ];
      for (const k of wrong) {
        const err = await deployZklora(
          deployer,
          { ...artifacts, chunkedVerifiers: [{ ...spec, keys: k }] },
          { network: "test" },
        ).catch((e: unknown) => e);
        expect(err).to.be.instanceOf(DeployError);
        expect((err as Error).message).to.match(/npm run abi/);
      }
      expect(bytecodeHoldsKeyN(spec.chunkA.bytecode, keys.A)).to.equal(true);
      expect(bytecodeHoldsKeyN(spec.chunkA.bytecode, keys.B)).to.equal(false);
      const noBatch = await deployZklora(
        deployer,
        { ...artifacts, batchVerifierN: undefined },
        { network: "test" },
      ).catch((e: unknown) => e);
      expect(noBatch).to.be.instanceOf(DeployError);
      expect((noBatch as Error).message).to.match(/Groth16BatchVerifierN/);
    });

    it("Should blame no chunk when a batch verifier of another key rejects a chain the generated verifiers accept", async function () {
      // A valid 5-signal key that is not the A chunk key (the group generators): the batch verifier rejects
      // the real A proofs, the generated verifier accepts each, so the chain is neither accepted nor blamed.
      const G2 = [
        "11559732032986387107991004021392285783925812861821192530917403151452391805634",
        "10857046999023057135944570762232829481370756359578518086990519993285655852781",
        "4082367875863433681332203403145435568316851327593401208105741076214120093531",
        "8495653923123431417604973247489272438418190587263600148770280649306958101930",
      ];
      const generatorKey = {
        alpha: ["1", "2"],
        beta: G2,
        gamma: G2,
        delta: G2,
        ic: Array.from({ length: 6 }, () => ["1", "2"]).flat(),
      };
      const foreign = await ethers.deployContract("Groth16BatchVerifierN", [generatorKey]);
      const chain = get(firstRun);
      const cmv = await ethers.deployContract("ChunkedModuleVerifier", [
        await get(single.A).getAddress(),
        await get(single.B).getAddress(),
        await foreign.getAddress(),
        await get(batch.B).getAddress(),
        2,
        2,
        await linkStart(art.shape.R),
      ]);
      const { chunksA, chunksB } = chunkCalldata(solidityChunks(chain.proofs));
      const signals: [bigint, bigint, bigint, bigint] = [chain.C_m, chain.hX, firstRho, chain.fY];
      await expect(cmv.verifyChunked(signals, chunksA, chunksB))
        .to.be.revertedWithCustomError(cmv, "ChunkBatchRejected")
        .withArgs(false);
      // With the right keys the same chain verifies.
      const right = await ethers.deployContract("ChunkedModuleVerifier", [
        await get(single.A).getAddress(),
        await get(single.B).getAddress(),
        await get(batch.A).getAddress(),
        await get(batch.B).getAddress(),
        2,
        2,
        await linkStart(art.shape.R),
      ]);
      expect(await right.verifyChunked(signals, chunksA, chunksB)).to.equal(true);
      // A batch verifier of the wrong chunk kind is refused at construction.
      await expect(
        ethers.deployContract("ChunkedModuleVerifier", [
          await get(single.A).getAddress(),
          await get(single.B).getAddress(),
          await get(batch.B).getAddress(),
          await get(batch.B).getAddress(),
          2,
          2,
          await linkStart(art.shape.R),
        ]),
      )
        .to.be.revertedWithCustomError(right, "WrongBatchVerifier")
        .withArgs(await get(batch.B).getAddress(), 5);
    });
  });
});
