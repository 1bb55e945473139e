/**
 * The chunked variant (circuits/chunk/, src/zk/chunked.ts) on the tiny committed shape
 * t2_i8_r2_o8_a4_b4 (the dims of the monolithic t2_i8_r2_o8, WA = WB = 4: 2 A chunks + 2 B chunks),
 * with real proofs: the chain's fY is the monolithic fingerprint, the chain verifies, every cheat
 * is rejected for its own reason, and the circuits reject false chunk statements.
 */
import { readFile } from "node:fs/promises";
import { expect } from "chai";
import { AbiCoder, concat, encodeBytes32String, keccak256, toBeHex } from "ethers";
import {
  CHUNK_A_SIGNALS,
  CHUNK_B_SIGNALS,
  P,
  SPONGE_TAG_ACTIVATION_CHUNK,
  SPONGE_TAG_LINK,
  SPONGE_TAG_WEIGHT_CHUNK,
  CHUNK_BENCH_MAIN_DIR,
  CHUNK_MANIFEST_FILE,
  CeremonyError,
  ShapeError,
  ZkError,
  buildCircuitTarget,
  chunkMainFile,
  chunkTarget,
  WitnessError,
  requiredPower,
  buildChunkedCircuits,
  calculateWitness,
  checkChunkedModule,
  checkWitness,
  chunkedActivationHash,
  chunkedCommitment,
  chunkedShapeId,
  chunkedVariant,
  chunkedWitness,
  fingerprint,
  linkHash,
  linkStart,
  loadChunkedShapes,
  loraProduct,
  proveChunkedModule,
  randomChunkSalts,
  randomSalt,
  spongeHash,
  validateChunkedShape,
  verifyChunkedModule,
  type ChunkProof,
  type ChunkedArtifacts,
  type ChunkedModuleProof,
  type ChunkedShape,
  type ChunkedSignals,
  type ChunkedWitness,
} from "../../src/zk/index.js";
import { chooseChunkWidths, chunkConstraintModel, spongeConstraints } from "../../src/zk/cost.js";
import { ProvingPool } from "../../src/zk/pool.js";
import { rng } from "./helpers.js";

const TINY = "t2_i8_r2_o8_a4_b4";

function randomChunkedWitness(s: ChunkedShape, seed: number): ChunkedWitness {
  const r = rng(seed);
  const mat = (rows: number, cols: number, bound: number) =>
    Array.from({ length: rows }, () => Array.from({ length: cols }, () => r(-bound, bound)));
  return {
    A: mat(s.DIN, s.R, 2 ** 15),
    B: mat(s.R, s.DOUT, 2 ** 15),
    X: mat(s.T, s.DIN, 2 ** 20),
    salts: randomChunkSalts(s),
    rho: randomSalt(),
  };
}

const clone = (p: readonly ChunkProof[]): ChunkProof[] =>
  p.map((x) => ({ ...x, proof: structuredClone(x.proof), publicSignals: [...x.publicSignals] }));

describe("# chunked module proofs", function () {
  let shape: ChunkedShape;
  let art: ChunkedArtifacts;
  let w: ChunkedWitness;
  let run: ChunkedModuleProof;
  let signals: ChunkedSignals;

  before(async function () {
    const found = (await loadChunkedShapes()).find((s) => s.name === TINY);
    if (found === undefined) throw new Error(`circuits/chunk-shapes.json lacks ${TINY}`);
    shape = found;
    art = await buildChunkedCircuits(shape);
    w = randomChunkedWitness(shape, 7);
    run = await proveChunkedModule(art, w);
    signals = { C_m: run.C_m, hX: run.hX, rho: w.rho, fY: run.fY };
  });

  async function expectRejected(proofs: ChunkProof[], reason: RegExp, sig = signals): Promise<void> {
    const out = await checkChunkedModule(art, sig, proofs);
    expect(out.ok, "the chain verifier accepted a cheat").to.equal(false);
    if (!out.ok) expect(out.reason).to.match(reason);
    expect(await verifyChunkedModule(art, sig, proofs)).to.equal(false);
  }

  describe("# shapes and encodings", function () {
    it("Should compute the shape id from the chunked variant and (T, DIN, R, DOUT)", function () {
      expect(chunkedVariant(4, 4)).to.equal(encodeBytes32String("zklora.chunked.v1.a4.b4"));
      const want = keccak256(
        AbiCoder.defaultAbiCoder().encode(
          ["bytes32", "uint256", "uint256", "uint256", "uint256"],
          [encodeBytes32String("zklora.chunked.v1.a4.b4"), 2, 8, 2, 8],
        ),
      );
      expect(chunkedShapeId(shape)).to.equal(want);
      expect(art.shapeId).to.equal(want);
      expect(chunkedShapeId({ ...shape, WA: 2 })).to.not.equal(want);
    });

    it("Should reject widths that do not divide DIN / DOUT and bad names with ShapeError", function () {
      expect(() => validateChunkedShape({ ...shape, WA: 3 })).to.throw(
        ShapeError,
        /WA = 3 must divide DIN = 8/,
      );
      expect(() => validateChunkedShape({ ...shape, WB: 5 })).to.throw(
        ShapeError,
        /WB = 5 must divide DOUT = 8/,
      );
      expect(() => validateChunkedShape({ ...shape, WB: 0 })).to.throw(ShapeError, /positive integer/);
      expect(() => validateChunkedShape({ ...shape, name: "1bad" })).to.throw(
        ShapeError,
        /Solidity identifier/,
      );
    });

    it("Should keep benchmark targets out of the repository and verify every committed key", async function () {
      const committed = await chunkTarget(shape, "A");
      expect(committed.mainFile).to.equal(chunkMainFile(shape, "A"));
      expect(committed.mainSource).to.include('include "../chunk_a.circom"');
      expect(committed.manifest?.file).to.equal(CHUNK_MANIFEST_FILE);
      expect(committed.skipZkeyVerify).to.equal(undefined);
      const bench = await chunkTarget(shape, "B", { bench: true, skipZkeyVerify: true });
      expect(bench.mainFile.startsWith(CHUNK_BENCH_MAIN_DIR)).to.equal(true);
      expect(bench.mainSource).to.include('include "../../circuits/chunk/chunk_b.circom"');
      expect(bench.manifest).to.equal(undefined);
      expect(bench.skipZkeyVerify).to.match(/benchmark/);
      await chunkTarget(shape, "A", { skipZkeyVerify: true }).then(
        () => expect.fail("skipped zkey verify for a committed target"),
        (e: unknown) => expect(e).to.be.instanceOf(ZkError),
      );
      await buildCircuitTarget(bench, { contributions: [{ name: "x", entropy: "y" }], beacon: "ab" }).then(
        () => expect.fail("skipped zkey verify in a production ceremony"),
        (e: unknown) => expect(e).to.be.instanceOf(CeremonyError),
      );
    });

    it("Should reject witnesses of the wrong size and missing salts with ShapeError", async function () {
      const bad = { ...w, A: w.A.slice(1) };
      await chunkedWitness(shape, bad).then(
        () => expect.fail("accepted a short A"),
        (e: unknown) => expect(e).to.be.instanceOf(ShapeError),
      );
      const noSalt = { ...w, salts: { a: w.salts.a.slice(1), b: w.salts.b } };
      await chunkedWitness(shape, noSalt).then(
        () => expect.fail("accepted a missing salt"),
        (e: unknown) => expect(e).to.be.instanceOf(ShapeError),
      );
    });

    it("Should hash weight and activation chunks as specified and combine them with keccak", async function () {
      const { C_m, hA, hB } = await chunkedCommitment(w.A, w.B, w.salts, shape);
      const hA0 = await spongeHash([...w.A.slice(0, 4).flat(), w.salts.a[0]], SPONGE_TAG_WEIGHT_CHUNK);
      const hB1 = await spongeHash(
        [...w.B.map((r) => r.slice(4, 8)).flat(), w.salts.b[1]],
        SPONGE_TAG_WEIGHT_CHUNK,
      );
      expect(hA[0]).to.equal(hA0);
      expect(hB[1]).to.equal(hB1);
      const packed = (v: bigint[]) => BigInt(keccak256(concat(v.map((x) => toBeHex(x, 32))))) % P;
      expect(C_m).to.equal(packed([...hA, ...hB]));
      const { hX, hXc } = await chunkedActivationHash(w.X, shape);
      const col1 = [w.X[0][4], w.X[1][4], w.X[0][5], w.X[1][5], w.X[0][6], w.X[1][6], w.X[0][7], w.X[1][7]];
      expect(hXc[1]).to.equal(await spongeHash(col1, SPONGE_TAG_ACTIVATION_CHUNK));
      expect(hX).to.equal(packed(hXc));
      expect(await linkStart(2)).to.equal(await spongeHash([0n, 0n, 1n, 0n], SPONGE_TAG_LINK));
      expect(await linkHash([5n, 6n], 7n, 8n)).to.equal(await spongeHash([5n, 6n, 7n, 8n], SPONGE_TAG_LINK));
      // other salts give other weight hashes: each is hiding on its own
      const other = await chunkedCommitment(w.A, w.B, randomChunkSalts(shape), shape);
      expect(other.hA[0]).to.not.equal(hA[0]);
    });
  });

  describe("# honest chain", function () {
    it("Should give the monolithic fingerprint of Y = X·A·B as the chain's fY, and verify", async function () {
      expect(run.fY).to.equal(fingerprint(loraProduct(w.X, w.A, w.B), w.rho));
      expect(run.proofs.map((p) => `${p.kind}${p.index}`)).to.deep.equal(["A0", "A1", "B0", "B1"]);
      expect(run.proofs[0].publicSignals).to.have.length(CHUNK_A_SIGNALS.length);
      expect(run.proofs[2].publicSignals).to.have.length(CHUNK_B_SIGNALS.length);
      expect(await checkChunkedModule(art, signals, run.proofs)).to.deep.equal({ ok: true });
      expect(await verifyChunkedModule(art, signals, run.proofs)).to.equal(true);
    });

    it("Should prove the same chain through the proving pool, with fresh blinds per run", async function () {
      const pool = new ProvingPool({ maxWorkers: 2, idleTimeoutMs: 1_000 });
      try {
        const viaPool = await proveChunkedModule(art, w, { pool });
        expect(viaPool.C_m).to.equal(run.C_m);
        expect(viaPool.fY).to.equal(run.fY);
        expect(await verifyChunkedModule(art, signals, viaPool.proofs)).to.equal(true);
        // the links differ (fresh random blinds), the start value does not
        expect(viaPool.proofs[1].publicSignals[3]).to.not.equal(run.proofs[1].publicSignals[3]);
        expect(viaPool.proofs[0].publicSignals[3]).to.equal(run.proofs[0].publicSignals[3]);
        expect(pool.stats().completed).to.equal(4);
      } finally {
        await pool.close();
      }
    });
  });

  describe("# rejected cheats", function () {
    it("Should reject a chunk proof swapped between two chunks", async function () {
      const p = clone(run.proofs);
      [p[0], p[1]] = [p[1], p[0]];
      await expectRejected(p, /proof 0 must be chunk A0/);
      // relabelled to pass the order check, the chain still breaks
      p[0].index = 0;
      p[1].index = 1;
      await expectRejected(p, /Lin is not the start value L0|broken link/);
    });

    it("Should reject a broken link (a chunk proof from another run with other blinds)", async function () {
      const other = await proveChunkedModule(art, w);
      for (const i of [1, 2, 3]) {
        const p = clone(run.proofs);
        p[i] = other.proofs[i];
        await expectRejected(p, /broken link/);
      }
    });

    it("Should reject other weights in one chunk (C_m mismatch)", async function () {
      const w2: ChunkedWitness = { ...w, B: w.B.map((r) => [...r]) };
      w2.B[1][6] += 1n;
      const other = await proveChunkedModule(art, w2);
      const p = clone(run.proofs);
      p[3] = other.proofs[3];
      // another B1 chunk also breaks the link into it; take the whole other chain with our C_m
      await expectRejected(other.proofs, /do not give the module's C_m|fOut is not the module's fY/);
      await expectRejected(other.proofs, /weight hashes do not give the module's C_m/, {
        ...signals,
        fY: other.fY,
      });
      await expectRejected(p, /broken link/);
    });

    it("Should reject other X in one chunk (hX mismatch)", async function () {
      const w2: ChunkedWitness = { ...w, X: w.X.map((r) => [...r]) };
      w2.X[1][2] -= 3n;
      const other = await proveChunkedModule(art, w2);
      await expectRejected(other.proofs, /activation hashes do not give the module's hX/, {
        ...signals,
        fY: other.fY,
      });
    });

    it("Should reject a different rho in one chunk", async function () {
      const other = await proveChunkedModule(art, { ...w, rho: (w.rho + 1n) % P });
      const p = clone(run.proofs);
      p[2] = other.proofs[2];
      await expectRejected(p, /chunk B0's rho is not the module's rho/);
      await expectRejected(other.proofs, /rho is not the module's rho/);
    });

    it("Should reject a wrong fY", async function () {
      await expectRejected(run.proofs, /fOut is not the module's fY/, {
        ...signals,
        fY: (signals.fY + 1n) % P,
      });
      await expectRejected(run.proofs, /not a field element/, { ...signals, fY: signals.fY + P });
    });

    it("Should reject a missing or an extra chunk", async function () {
      await expectRejected(run.proofs.slice(0, 3), /expected 4 chunk proofs/);
      await expectRejected([...run.proofs, run.proofs[3]], /expected 4 chunk proofs/);
      await expectRejected([], /expected 4 chunk proofs/);
    });

    it("Should reject the wrong kind order", async function () {
      const p = clone(run.proofs);
      await expectRejected([p[2], p[3], p[0], p[1]], /proof 0 must be chunk A0, got B0/);
      // a B proof labelled as an A chunk: the signal count does not fit
      const q = clone(run.proofs);
      q[1] = { ...q[2], kind: "A", index: 1 };
      await expectRejected(q, /chunk A1 must have 5 public signals/);
    });

    it("Should reject a tampered proof or tampered public signals", async function () {
      const p = clone(run.proofs);
      p[1].proof.pi_a[0] = ((BigInt(p[1].proof.pi_a[0]) + 1n) % P).toString();
      await expectRejected(p, /chunk A1's proof does not verify/);
      const q = clone(run.proofs);
      [q[3].proof.pi_c, q[2].proof.pi_c] = [q[2].proof.pi_c, q[3].proof.pi_c];
      await expectRejected(q, /chunk B0's proof does not verify/);
      // a consistent chain of signals whose proofs do not match: swap the A proofs' bodies only
      const r = clone(run.proofs);
      [r[0].proof, r[1].proof] = [r[1].proof, r[0].proof];
      await expectRejected(r, /chunk A0's proof does not verify/);
    });
  });

  describe("# circuits", function () {
    it("Should accept an honest chunk witness and reject a wrong uOut (A) and a wrong fOut (B)", async function () {
      const st = await chunkedWitness(shape, w);
      for (const ch of st.chunks) {
        const wtns = await calculateWitness(ch.kind === "A" ? art.a : art.b, ch.input);
        expect(await checkWitness(ch.kind === "A" ? art.a : art.b, wtns)).to.equal(true);
      }
      // A1 claims Lout = L(uOut + e_0, 1, blindOut): uOut is wrong
      const a1 = st.chunks[1];
      const honestLout = BigInt(a1.input.Lout as string);
      const uOut = [...(st.chunks[2].input.u as string[])].map(BigInt);
      expect(await linkHash(uOut, 1n, BigInt(a1.input.blindOut as string))).to.equal(honestLout);
      const wrongU = await linkHash([(uOut[0] + 1n) % P, uOut[1]], 1n, BigInt(a1.input.blindOut as string));
      const errA = await calculateWitness(art.a, { ...a1.input, Lout: wrongU.toString() }).catch(
        (e: unknown) => e,
      );
      expect(errA, "chunk A accepted a wrong uOut").to.be.instanceOf(WitnessError);
      // B0 claims fOut + 1
      const b0 = st.chunks[2];
      const errB = await calculateWitness(art.b, {
        ...b0.input,
        fOut: ((BigInt(b0.input.fOut as string) + 1n) % P).toString(),
      }).catch((e: unknown) => e);
      expect(errB, "chunk B accepted a wrong fOut").to.be.instanceOf(WitnessError);
      // B0 with pIn != 1 behind a link that binds pw = 1
      const errP = await calculateWitness(art.b, { ...b0.input, pIn: "2" }).catch((e: unknown) => e);
      expect(errP, "chunk B accepted another pIn than its Lin binds").to.be.instanceOf(WitnessError);
      // A0 with other X than its hX
      const a0 = st.chunks[0];
      const X = (a0.input.X as string[][]).map((r) => [...r]);
      X[0][0] = (BigInt(X[0][0]) + 1n).toString();
      const errX = await calculateWitness(art.a, { ...a0.input, X }).catch((e: unknown) => e);
      expect(errX, "chunk A accepted other X than its hX").to.be.instanceOf(WitnessError);
    });
  });

  describe("# chunk constraint model (src/zk/cost.ts)", function () {
    it("Should give exactly the r1cs counts of the tiny chunk circuits and of chunk-manifest.json", async function () {
      const m = chunkConstraintModel(shape);
      expect(m.a.total).to.equal(art.a.constraints);
      expect(m.b.total).to.equal(art.b.constraints);
      expect(m.a.weightHash + m.a.inputHash + m.a.links + m.a.arithmetic).to.equal(m.a.total);
      expect(m.b.weightHash + m.b.links + m.b.arithmetic).to.equal(m.b.total);
      expect([m.KA, m.KB, m.chunks]).to.deep.equal([2, 2, 4]);
      const manifest = JSON.parse(await readFile(CHUNK_MANIFEST_FILE, "utf8")) as {
        shapes: {
          name: string;
          constraints: number;
          kind: string;
          WA: number;
          WB: number;
          T: number;
          DIN: number;
          R: number;
          DOUT: number;
        }[];
      };
      expect(manifest.shapes.length).to.be.greaterThanOrEqual(2);
      for (const e of manifest.shapes) {
        const mm = chunkConstraintModel(e);
        expect(e.kind === "A" ? mm.a.total : mm.b.total, e.name).to.equal(e.constraints);
      }
    });

    it("Should pick the largest widths that fit 2^16: distilgpt2 c_attn as 12 + 12 chunks", function () {
      const c = chooseChunkWidths({ T: 15, DIN: 768, R: 8, DOUT: 2304 }, 16);
      expect([c.WA, c.WB]).to.deep.equal([64, 192]);
      expect([c.model.KA, c.model.KB]).to.deep.equal([12, 12]);
      expect(c.model.a.ptauPower).to.equal(16);
      expect(c.model.b.ptauPower).to.equal(16);
      // the next larger divisors do not fit
      expect(
        chunkConstraintModel({ T: 15, DIN: 768, R: 8, DOUT: 2304, WA: 96, WB: 192 }).a.ptauPower,
      ).to.be.greaterThan(16);
      expect(
        chunkConstraintModel({ T: 15, DIN: 768, R: 8, DOUT: 2304, WA: 64, WB: 256 }).b.ptauPower,
      ).to.be.greaterThan(16);
      // the A chunk at c_attn: weight sponge over 513 elements, activation sponge over 960
      expect(c.model.a.weightHash).to.equal(spongeConstraints(513));
      expect(c.model.a.inputHash).to.equal(spongeConstraints(960));
      expect(c.model.a.ptauPower).to.equal(requiredPower(c.model.a.total, 5, 0));
      expect(() => chooseChunkWidths({ T: 15, DIN: 768, R: 8, DOUT: 2304 }, 8)).to.throw(
        ShapeError,
        /fits 2\^8/,
      );
      expect(() => chunkConstraintModel({ ...shape, WA: 3 })).to.throw(ShapeError, /must divide DIN/);
    });
  });
});
