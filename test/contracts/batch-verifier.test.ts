/**
 * Groth16BatchVerifier against the generated snarkjs verifier, with REAL proofs of the tiny shape: it
 * accepts a batch exactly when the generated verifier accepts every proof in it, and rejects every
 * tampered batch the generated verifier rejects (malformed input with a custom error).
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { expect } from "chai";
import type { Contract } from "ethers";
import {
  bytecodeHoldsKey,
  parseVerifierKey,
  verifierKeyWords,
  VerifierKeyError,
} from "../../src/chain/batch.js";
import { collectZkloraArtifacts, deployZklora, DeployError } from "../../src/chain/deploy.js";
import { VERIFIER_KEYS } from "../../src/chain/verifierKeys.js";
import { PROJECT_ROOT } from "../../src/common/cache.js";
import {
  P,
  buildCircuit,
  findShape,
  loadShapes,
  proveModule,
  toSolidityProof,
  type CircuitArtifacts,
  type SolidityProof,
} from "../../src/zk/index.js";
import hre from "hardhat";
import {
  deployFixture,
  ethers,
  makeWeights,
  matrix,
  networkHelpers,
  otherShape,
  tinyCircuit,
  TINY_SHAPE,
} from "./fixture.js";

/** The BN254 base field modulus q. */
export const Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583n;

/** A proof with its public signals, as `verifyBatch` takes it. */
export interface SignedProof extends SolidityProof {
  signals: bigint[];
}

const mod = (v: bigint, m: bigint) => ((v % m) + m) % m;
function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b = mod(b, m);
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}

/** Affine BN254 G1 addition (distinct, non-opposite points). */
export function g1Add(p1: [bigint, bigint], p2: [bigint, bigint]): [bigint, bigint] {
  const l = mod((p2[1] - p1[1]) * modPow(p2[0] - p1[0], Q - 2n, Q), Q);
  const x = mod(l * l - p1[0] - p2[0], Q);
  return [x, mod(l * (p1[0] - x) - p1[1], Q)];
}
export const g1Neg = (p: [bigint, bigint]): [bigint, bigint] => [p[0], mod(-p[1], Q)];

/** `count` real proofs of a shape, made one after another (never concurrently: the first proofs warm snarkjs). */
export async function realProofs(art: CircuitArtifacts, count: number, seed: number): Promise<SignedProof[]> {
  const out: SignedProof[] = [];
  for (let k = 0; k < count; k++) {
    const w = await makeWeights(art.shape, seed + 7 * k);
    const X = matrix(art.shape.T, art.shape.DIN, seed + 7 * k + 3, 500);
    const rho = (BigInt(seed + k) * 0x9e3779b97f4a7c15n + 12345n) % P;
    const { proof, publicSignals } = await proveModule(art, { A: w.A, B: w.B, salt: w.salt, X, rho });
    out.push({ ...toSolidityProof(proof), signals: [...publicSignals] });
  }
  return out;
}

const clone = (p: SignedProof): SignedProof => ({
  a: [...p.a],
  b: [[...p.b[0]], [...p.b[1]]],
  c: [...p.c],
  signals: [...p.signals],
});

describe("# Groth16BatchVerifier with real proofs", function () {
  let art: CircuitArtifacts;
  let proofs: SignedProof[];
  let foreign: SignedProof;
  let foreignName: string;

  before(async function () {
    art = await tinyCircuit();
    proofs = await realProofs(art, 6, 100);
    const f = await networkHelpers.loadFixture(deployFixture);
    foreignName = otherShape(f).name;
    [foreign] = await realProofs(await buildCircuit(await findShape(foreignName)), 1, 900);
  });

  async function contracts() {
    const f = await networkHelpers.loadFixture(deployFixture);
    const batch = f.deployment.batchVerifiers[TINY_SHAPE];
    const single = f.deployment.verifiers[TINY_SHAPE];
    if (batch === undefined) throw new Error(`deployZklora deployed no batch verifier for ${TINY_SHAPE}`);
    return { f, batch, single };
  }
  const verifyEach = (single: Contract, list: SignedProof[]) =>
    Promise.all(list.map((p) => single.verifyProof(p.a, p.b, p.c, p.signals) as Promise<boolean>));
  const verifyBatch = (batch: Contract, list: SignedProof[]) =>
    batch.verifyBatch(list.map((p) => ({ a: p.a, b: p.b, c: p.c, signals: p.signals }))) as Promise<boolean>;

  /** The generated verifier rejects at least one proof and the batch verifier returns false. */
  async function expectBothReject(list: SignedProof[]) {
    const { batch, single } = await contracts();
    expect(await verifyEach(single, list)).to.include(false);
    expect(await verifyBatch(batch, list)).to.equal(false);
  }

  describe("# key", function () {
    it("Should hold exactly the generated verifier's key, which is the zkey's", async function () {
      const { batch } = await contracts();
      const sol = await readFile(
        path.join(PROJECT_ROOT, "contracts", "verifiers", `Groth16Verifier_${TINY_SHAPE}.sol`),
        "utf8",
      );
      const parsed = parseVerifierKey(sol);
      expect(VERIFIER_KEYS[TINY_SHAPE]).to.deep.equal(parsed);
      const vk = await batch.verificationKey();
      const onChain = [...vk.alpha, ...vk.beta, ...vk.gamma, ...vk.delta, ...vk.ic].map(BigInt);
      expect(onChain).to.deep.equal(verifierKeyWords(parsed));
      // The snarkjs key of the cached zkey (G2 pairs swapped as in the Solidity verifier).
      const j = art.vkey as Record<string, string[] & string[][]>;
      const g2 = (pt: string[][]) => [pt[0][1], pt[0][0], pt[1][1], pt[1][0]].map(BigInt);
      expect(onChain).to.deep.equal([
        ...j.vk_alpha_1.slice(0, 2).map(BigInt),
        ...g2(j.vk_beta_2),
        ...g2(j.vk_gamma_2),
        ...g2(j.vk_delta_2),
        ...j.IC.flatMap((pt: string[]) => pt.slice(0, 2).map(BigInt)),
      ]);
      expect(await batch.verificationKeyHash()).to.equal(
        ethers.keccak256(
          ethers.AbiCoder.defaultAbiCoder().encode(
            ["tuple(uint256[2],uint256[4],uint256[4],uint256[4],uint256[10])"],
            [[vk.alpha, vk.beta, vk.gamma, vk.delta, vk.ic]],
          ),
        ),
      );
    });

    it("Should refuse a verifier source that is not a four-signal snarkjs verifier", async function () {
      const sol = await readFile(
        path.join(PROJECT_ROOT, "contracts", "verifiers", `Groth16Verifier_${TINY_SHAPE}.sol`),
        "utf8",
      );
      expect(() => parseVerifierKey(sol.replace(/uint256 constant IC4y[^\n]*\n/, ""))).to.throw(
        VerifierKeyError,
        /IC4y/,
      );
      const delivery = await readFile(
        path.join(PROJECT_ROOT, "contracts", "verifiers", "Groth16Delivery_i8_r2_o8.sol"),
        "utf8",
      );
      expect(() => parseVerifierKey(delivery)).to.throw(VerifierKeyError);
    });

    it("Should deploy a batch verifier only with the key its verifier's bytecode holds", async function () {
      const { artifacts } = await collectZkloraArtifacts(hre.artifacts, await loadShapes());
      const tiny = artifacts.verifiers.find((v) => v.shapeName === TINY_SHAPE);
      const other = artifacts.verifiers.find((v) => v.shapeName !== TINY_SHAPE);
      if (tiny === undefined || other === undefined) throw new Error("needs two compiled verifiers");
      expect(bytecodeHoldsKey(tiny.artifact.bytecode, VERIFIER_KEYS[TINY_SHAPE])).to.equal(true);
      expect(bytecodeHoldsKey(tiny.artifact.bytecode, VERIFIER_KEYS[other.shapeName])).to.equal(false);
      const [deployer] = await ethers.getSigners();
      const swapped = { ...tiny, verificationKey: VERIFIER_KEYS[other.shapeName] };
      const err = await deployZklora(
        deployer,
        { ...artifacts, verifiers: [swapped] },
        { network: "test" },
      ).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(DeployError);
      expect((err as Error).message).to.match(/npm run abi/);
      const { batchVerifiers, record } = await deployZklora(
        deployer,
        { ...artifacts, verifiers: [tiny], batchVerifier: undefined },
        { network: "test" },
      );
      expect(batchVerifiers).to.deep.equal({});
      expect(record.shapes[0].batchVerifier).to.equal(undefined);
    });

    it("Should refuse to deploy with a key that is not on the curve or not canonical", async function () {
      const { batch } = await contracts();
      const key = VERIFIER_KEYS[TINY_SHAPE];
      const factory = await ethers.getContractFactory("Groth16BatchVerifier");
      const bad = (edit: (k: typeof key) => void) => {
        const k = structuredClone(key);
        edit(k);
        return factory.deploy(k);
      };
      await expect(bad((k) => (k.alpha[1] = (BigInt(k.alpha[1]) + 1n).toString())))
        .to.be.revertedWithCustomError(batch, "InvalidVerificationKey")
        .withArgs(0n);
      await expect(bad((k) => (k.ic[3] = (BigInt(k.ic[3]) + Q).toString())))
        .to.be.revertedWithCustomError(batch, "InvalidVerificationKey")
        .withArgs(17n);
      await expect(bad((k) => (k.ic[5] = (BigInt(k.ic[5]) + 1n).toString())))
        .to.be.revertedWithCustomError(batch, "InvalidVerificationKey")
        .withArgs(18n);
      await expect(bad((k) => (k.delta[3] = (BigInt(k.delta[3]) + 1n).toString())))
        .to.be.revertedWithCustomError(batch, "InvalidVerificationKey")
        .withArgs(24n);
    });
  });

  describe("# valid batches", function () {
    for (const n of [1, 2, 5]) {
      it(`Should accept ${n} valid proof(s), each of which the generated verifier accepts`, async function () {
        const { batch, single } = await contracts();
        const list = proofs.slice(0, n);
        expect(await verifyEach(single, list)).to.deep.equal(list.map(() => true));
        expect(await verifyBatch(batch, list)).to.equal(true);
      });
    }

    it("Should accept the same valid proof twice and a reordered batch", async function () {
      const { batch } = await contracts();
      expect(await verifyBatch(batch, [proofs[0], proofs[0]])).to.equal(true);
      expect(await verifyBatch(batch, [...proofs].reverse())).to.equal(true);
    });

    it("Should treat (0, 0) as A like the snarkjs verifier (a valid point, a failing proof)", async function () {
      // Not a valid proof: (0, 0) as A passes the input checks, then fails the pairing check.
      const { batch, single } = await contracts();
      const p = clone(proofs[1]);
      p.a = [0n, 0n];
      expect(await single.verifyProof(p.a, p.b, p.c, p.signals)).to.equal(false);
      expect(await verifyBatch(batch, [proofs[0], p])).to.equal(false);
    });
  });

  describe("# tampered batches (rejected by both)", function () {
    for (const at of [0, 3]) {
      it(`Should reject a batch whose proof ${at} has another proof's A, B or C`, async function () {
        const list = proofs.slice(0, 5).map(clone);
        const donor = proofs[5];
        for (const field of ["a", "b", "c"] as const) {
          const tampered = list.map(clone);
          (tampered[at] as unknown as Record<string, unknown>)[field] = clone(donor)[field];
          await expectBothReject(tampered);
        }
      });
    }

    it("Should reject a batch with C negated, or B's pairs in snarkjs JSON order", async function () {
      const negC = proofs.slice(0, 3).map(clone);
      negC[1].c = g1Neg(negC[1].c);
      await expectBothReject(negC);
      const flippedB = proofs.slice(0, 3).map(clone);
      flippedB[2].b = [
        [flippedB[2].b[0][1], flippedB[2].b[0][0]],
        [flippedB[2].b[1][1], flippedB[2].b[1][0]],
      ];
      await expectBothReject(flippedB);
    });

    it("Should reject a batch with one public signal changed", async function () {
      for (const s of [0, 1, 2, 3]) {
        const list = proofs.slice(0, 4).map(clone);
        list[s].signals[s] = (list[s].signals[s] + 1n) % P;
        await expectBothReject(list);
      }
    });

    it("Should reject a batch with two proofs' public signals swapped", async function () {
      const list = proofs.slice(0, 4).map(clone);
      [list[1].signals, list[2].signals] = [list[2].signals, list[1].signals];
      await expectBothReject(list);
    });

    it("Should reject two invalid proofs whose errors cancel in an unweighted sum", async function () {
      // C_1 + D and C_2 - D: sum C_i is unchanged, so only the random weights catch it.
      const list = proofs.slice(0, 3).map(clone);
      const D = proofs[5].a;
      list[1].c = g1Add(list[1].c, D);
      list[2].c = g1Add(list[2].c, g1Neg(D));
      await expectBothReject(list);
    });

    it("Should reject a valid proof of another shape's key", async function () {
      const { f, batch, single } = await contracts();
      const other = f.deployment.verifiers[foreignName];
      expect(await other.verifyProof(foreign.a, foreign.b, foreign.c, foreign.signals)).to.equal(true);
      expect(await single.verifyProof(foreign.a, foreign.b, foreign.c, foreign.signals)).to.equal(false);
      expect(await verifyBatch(batch, [foreign])).to.equal(false);
      expect(await verifyBatch(batch, [proofs[0], foreign, proofs[1]])).to.equal(false);
      const otherBatch = f.deployment.batchVerifiers[foreignName];
      expect(await verifyBatch(otherBatch, [foreign])).to.equal(true);
      expect(await verifyBatch(otherBatch, [foreign, proofs[0]])).to.equal(false);
    });

    it("Should reject an out-of-field public signal (the generated verifier returns false)", async function () {
      const { batch, single } = await contracts();
      const list = proofs.slice(0, 2).map(clone);
      list[1].signals[2] += P; // the same residue: the pairing alone would accept it
      expect(await single.verifyProof(list[1].a, list[1].b, list[1].c, list[1].signals)).to.equal(false);
      await expect(verifyBatch(batch, list))
        .to.be.revertedWithCustomError(batch, "SignalNotInField")
        .withArgs(1n, 2n, list[1].signals[2]);
    });

    it("Should reject coordinates not below q and points off the curve", async function () {
      const { batch, single } = await contracts();
      const big = proofs.slice(0, 2).map(clone);
      big[0].a[1] += Q;
      expect(await single.verifyProof(big[0].a, big[0].b, big[0].c, big[0].signals)).to.equal(false);
      await expect(verifyBatch(batch, big))
        .to.be.revertedWithCustomError(batch, "CoordinateNotInField")
        .withArgs(0n, big[0].a[1]);
      const bigB = proofs.slice(0, 2).map(clone);
      bigB[1].b[1][0] += Q;
      expect(await single.verifyProof(bigB[1].a, bigB[1].b, bigB[1].c, bigB[1].signals)).to.equal(false);
      await expect(verifyBatch(batch, bigB))
        .to.be.revertedWithCustomError(batch, "CoordinateNotInField")
        .withArgs(1n, bigB[1].b[1][0]);
      for (const field of ["a", "c"] as const) {
        const off = proofs.slice(0, 3).map(clone);
        off[2][field][1] = (off[2][field][1] + 1n) % Q;
        expect(await single.verifyProof(off[2].a, off[2].b, off[2].c, off[2].signals)).to.equal(false);
        await expect(verifyBatch(batch, off))
          .to.be.revertedWithCustomError(batch, "PointNotOnCurve")
          .withArgs(2n, field === "c");
      }
    });

    it("Should reject an empty batch", async function () {
      const { batch } = await contracts();
      await expect(verifyBatch(batch, [])).to.be.revertedWithCustomError(batch, "EmptyBatch");
    });
  });
  describe("# single proofs (verifyProof, verifyProofFromBase)", function () {
    /** `signalBase(x0)` as a plain pair (ethers results are read-only). */
    const baseOf = async (batch: Contract, x0: bigint): Promise<[bigint, bigint]> => {
      const [x, y] = (await batch.signalBase(x0)) as bigint[];
      return [x, y];
    };
    /** The generated verifier's answer, checked equal to both single paths of the batch verifier. */
    async function singleAnswers(p: SignedProof): Promise<boolean> {
      const { batch, single } = await contracts();
      const generated = (await single.verifyProof(p.a, p.b, p.c, p.signals)) as boolean;
      expect(await batch.verifyProof(p.a, p.b, p.c, p.signals)).to.equal(generated);
      const base = await baseOf(batch, p.signals[0]);
      expect(await batch.verifyProofFromBase(p.a, p.b, p.c, base, p.signals.slice(1))).to.equal(generated);
      return generated;
    }

    it("Should answer exactly as the generated verifier on valid and tampered proofs", async function () {
      for (const p of proofs) expect(await singleAnswers(p)).to.equal(true);
      const tampered: SignedProof[] = [];
      for (const field of ["a", "b", "c"] as const) {
        const t = clone(proofs[0]);
        (t as unknown as Record<string, unknown>)[field] = clone(proofs[5])[field];
        tampered.push(t);
      }
      const negC = clone(proofs[1]);
      negC.c = g1Neg(negC.c);
      const flippedB = clone(proofs[2]);
      flippedB.b = [
        [flippedB.b[0][1], flippedB.b[0][0]],
        [flippedB.b[1][1], flippedB.b[1][0]],
      ];
      const zeroA = clone(proofs[3]);
      zeroA.a = [0n, 0n];
      tampered.push(negC, flippedB, zeroA, foreign);
      for (const s of [0, 1, 2, 3]) {
        const t = clone(proofs[s]);
        t.signals[s] = (t.signals[s] + 1n) % P;
        tampered.push(t);
      }
      const swapped = clone(proofs[1]);
      swapped.signals = [...proofs[2].signals];
      tampered.push(swapped);
      for (const t of tampered) expect(await singleAnswers(t)).to.equal(false);
    });

    it("Should compute signalBase(x) = IC_0 + x·IC_1 and reject another proof's base", async function () {
      const { batch } = await contracts();
      const vk = await batch.verificationKey();
      const ic0: [bigint, bigint] = [BigInt(vk.ic[0]), BigInt(vk.ic[1])];
      const ic1: [bigint, bigint] = [BigInt(vk.ic[2]), BigInt(vk.ic[3])];
      expect((await batch.signalBase(0n)).map(BigInt)).to.deep.equal(ic0);
      expect((await batch.signalBase(1n)).map(BigInt)).to.deep.equal(g1Add(ic0, ic1));
      await expect(batch.signalBase(P))
        .to.be.revertedWithCustomError(batch, "SignalNotInField")
        .withArgs(0n, 0n, P);
      // proofs[1] has another C_m than proofs[0]: its base makes proof 0 fail.
      expect(proofs[1].signals[0]).to.not.equal(proofs[0].signals[0]);
      const p = proofs[0];
      const otherBase = await baseOf(batch, proofs[1].signals[0]);
      expect(await batch.verifyProofFromBase(p.a, p.b, p.c, otherBase, p.signals.slice(1))).to.equal(false);
      const base = await baseOf(batch, p.signals[0]);
      for (const bad of [
        [base[0], (base[1] + 1n) % Q],
        [base[0] + Q, base[1]],
      ]) {
        await expect(batch.verifyProofFromBase(p.a, p.b, p.c, bad, p.signals.slice(1)))
          .to.be.revertedWithCustomError(batch, "InvalidBase")
          .withArgs(bad[0], bad[1]);
      }
    });

    it("Should refuse malformed input with verifyBatch's errors (proof index 0)", async function () {
      const { batch, single } = await contracts();
      const p = proofs[0];
      const base = await baseOf(batch, p.signals[0]);
      const wide = clone(p);
      wide.signals[2] += P;
      expect(await single.verifyProof(wide.a, wide.b, wide.c, wide.signals)).to.equal(false);
      await expect(batch.verifyProof(wide.a, wide.b, wide.c, wide.signals))
        .to.be.revertedWithCustomError(batch, "SignalNotInField")
        .withArgs(0n, 2n, wide.signals[2]);
      await expect(batch.verifyProofFromBase(wide.a, wide.b, wide.c, base, wide.signals.slice(1)))
        .to.be.revertedWithCustomError(batch, "SignalNotInField")
        .withArgs(0n, 2n, wide.signals[2]);
      const big = clone(p);
      big.b[0][1] += Q;
      await expect(batch.verifyProof(big.a, big.b, big.c, big.signals))
        .to.be.revertedWithCustomError(batch, "CoordinateNotInField")
        .withArgs(0n, big.b[0][1]);
      await expect(batch.verifyProofFromBase(big.a, big.b, big.c, base, big.signals.slice(1)))
        .to.be.revertedWithCustomError(batch, "CoordinateNotInField")
        .withArgs(0n, big.b[0][1]);
      for (const field of ["a", "c"] as const) {
        const off = clone(p);
        off[field][1] = (off[field][1] + 1n) % Q;
        await expect(batch.verifyProof(off.a, off.b, off.c, off.signals))
          .to.be.revertedWithCustomError(batch, "PointNotOnCurve")
          .withArgs(0n, field === "c");
        await expect(batch.verifyProofFromBase(off.a, off.b, off.c, base, off.signals.slice(1)))
          .to.be.revertedWithCustomError(batch, "PointNotOnCurve")
          .withArgs(0n, field === "c");
      }
    });
  });
});
