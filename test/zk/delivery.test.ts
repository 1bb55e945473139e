/**
 * The delivery cipher and circuit (circuits/delivery/): the TypeScript twin is bit-identical to the
 * circuit, an honest witness passes, every cheat fails, proofs verify off-chain only for their
 * statement, and the committed Poseidon(1) bytecode is circomlibjs's.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { expect } from "chai";
import { poseidonContract } from "circomlibjs";
import { PROJECT_ROOT } from "../../src/common/cache.js";
import { POSEIDON1_BYTECODE } from "../../src/chain/poseidon1.js";
import {
  P,
  WitnessError,
  buildDeliveryCircuit,
  calculateWitness,
  checkWitness,
  ciphertextHash,
  decryptWeights,
  deliveryCircuitInput,
  deliveryKeyHash,
  deliveryLength,
  deliveryShapeId,
  deliveryStatement,
  encryptWeights,
  keystream,
  loadDeliveryShapes,
  proveDelivery,
  randomDeliveryKey,
  randomSalt,
  spongeHash,
  verifyDelivery,
  weightCommitment,
  type DeliveryArtifacts,
  type DeliverySignals,
  type ModuleWeights,
} from "../../src/zk/index.js";
import { rng } from "./helpers.js";

function randomWeights(DIN: number, R: number, DOUT: number, seed: number): ModuleWeights {
  const r = rng(seed);
  const mat = (rows: number, cols: number) =>
    Array.from({ length: rows }, () => Array.from({ length: cols }, () => r(-(2 ** 15), 2 ** 15)));
  return { A: mat(DIN, R), B: mat(R, DOUT), salt: randomSalt() };
}

describe("# delivery cipher and circuit", function () {
  let art: DeliveryArtifacts;
  const DIN = 8;
  const R = 2;
  const DOUT = 8;

  before(async function () {
    const shape = (await loadDeliveryShapes()).find((s) => s.DIN === DIN && s.R === R && s.DOUT === DOUT);
    if (shape === undefined) throw new Error("circuits/delivery-shapes.json lacks the tiny 8x2x8 shape");
    art = await buildDeliveryCircuit(shape);
  });

  async function expectPass(w: ModuleWeights, k: bigint, sig: DeliverySignals): Promise<void> {
    const wtns = await calculateWitness(art, deliveryCircuitInput(w, k, sig));
    expect(await checkWitness(art, wtns)).to.equal(true);
  }
  async function expectFail(w: ModuleWeights, k: bigint, sig: DeliverySignals): Promise<void> {
    const err = await calculateWitness(art, deliveryCircuitInput(w, k, sig)).catch((e: unknown) => e);
    expect(err, "the circuit must reject this witness").to.be.instanceOf(WitnessError);
  }

  describe("# TypeScript twin", function () {
    it("Should decrypt what it encrypts, with A and B signed and the salt a field element", async function () {
      const w = randomWeights(DIN, R, DOUT, 1);
      const k = randomDeliveryKey();
      const c = await encryptWeights(w.A, w.B, w.salt, k);
      expect(c).to.have.length(deliveryLength(DIN, R, DOUT));
      expect(c.every((v) => v >= 0n && v < P)).to.equal(true);
      expect(await decryptWeights(c, k, DIN, R, DOUT)).to.deep.equal(w);
      const wrong = await decryptWeights(c, (k + 1n) % P, DIN, R, DOUT);
      expect(await weightCommitment(wrong.A, wrong.B, wrong.salt)).to.not.equal(
        await weightCommitment(w.A, w.B, w.salt),
      );
    });

    it("Should follow the documented layout: counter-mode blocks, 16 elements each, out[0] withheld", async function () {
      const k = 987654321n;
      const ks = await keystream(k, 40);
      expect(ks.slice(0, 16)).to.deep.equal(await keystream(k, 16));
      // Block 1 starts at element 16 and differs from block 0; other keys give other streams.
      expect(ks[16]).to.not.equal(ks[0]);
      expect((await keystream(k + 1n, 16))[0]).to.not.equal(ks[0]);
      expect(new Set(ks.map(String)).size).to.equal(40);
      // hC is the tag-3 sponge, distinct from the tag-1 commitment of the same elements.
      const c = [1n, 2n, 3n];
      expect(await ciphertextHash(c)).to.equal(await spongeHash(c, 3n));
      expect(await ciphertextHash(c)).to.not.equal(await spongeHash(c, 1n));
      // hK is circomlib's Poseidon([k]) (t = 2): the known test vector Poseidon([1]).
      expect(await deliveryKeyHash(1n)).to.equal(
        18586133768512220936620570745912940619677854269274689475585506675881198879027n,
      );
    });

    it("Should name each weight shape by keccak256(abi.encode(variant, DIN, R, DOUT))", function () {
      expect(deliveryShapeId({ DIN, R, DOUT })).to.not.equal(deliveryShapeId({ DIN, R: R + 1, DOUT }));
      expect(deliveryShapeId({ DIN, R, DOUT })).to.match(/^0x[0-9a-f]{64}$/);
    });

    it("Should ship the circomlibjs Poseidon(1) bytecode unchanged (src/chain/poseidon1.ts)", async function () {
      expect(POSEIDON1_BYTECODE).to.equal(poseidonContract.createCode(1));
      const text = await readFile(path.join(PROJECT_ROOT, "src", "chain", "poseidon1.ts"), "utf8");
      expect(text).to.contain("Do not edit");
    });
  });

  describe("# circuit", function () {
    it("Should accept the honest witness: circuit and TypeScript agree bit for bit", async function () {
      for (const seed of [2, 3]) {
        const w = randomWeights(DIN, R, DOUT, seed);
        const k = randomDeliveryKey();
        const { signals } = await deliveryStatement(w, k);
        await expectPass(w, k, signals);
      }
    });

    it("Should reject every cheat: other weights, a wrong key, a wrong hK, a wrong hC, a wrong C_m", async function () {
      const w = randomWeights(DIN, R, DOUT, 4);
      const other = randomWeights(DIN, R, DOUT, 5);
      const k = randomDeliveryKey();
      const [C_m, hK, hC] = (await deliveryStatement(w, k)).signals;
      // The ciphertext of other weights under the same key, claimed for w's commitment.
      const otherHC = (await deliveryStatement(other, k)).signals[2];
      await expectFail(w, k, [C_m, hK, otherHC]);
      await expectFail(other, k, [C_m, hK, otherHC]);
      // The right ciphertext but a key other than the one behind hK.
      await expectFail(w, (k + 1n) % P, [C_m, hK, hC]);
      await expectFail(w, k, [C_m, await deliveryKeyHash((k + 1n) % P), hC]);
      // A hC of the ciphertext under another key.
      await expectFail(w, k, [C_m, hK, (await deliveryStatement(w, (k + 2n) % P)).signals[2]]);
      // One weight changed.
      const changed = { ...w, A: w.A.map((row, i) => (i === 0 ? [row[0] + 1n, ...row.slice(1)] : row)) };
      await expectFail(changed, k, [C_m, hK, hC]);
      await expectFail(w, k, [(C_m + 1n) % P, hK, hC]);
    });

    it("Should prove and verify off-chain only the proven statement", async function () {
      const w = randomWeights(DIN, R, DOUT, 6);
      const k = randomDeliveryKey();
      const { proof, publicSignals, ciphertext } = await proveDelivery(art, w, k);
      expect(await ciphertextHash(ciphertext)).to.equal(publicSignals[2]);
      expect(await verifyDelivery(art.vkey, proof, publicSignals)).to.equal(true);
      const [C_m, hK, hC] = publicSignals;
      expect(await verifyDelivery(art.vkey, proof, [C_m, hK, (hC + 1n) % P])).to.equal(false);
      expect(await verifyDelivery(art.vkey, proof, [C_m, (hK + 1n) % P, hC])).to.equal(false);
      expect(await verifyDelivery(art.vkey, proof, [(C_m + 1n) % P, hK, hC])).to.equal(false);
      expect(await verifyDelivery(art.vkey, proof, [C_m, hK])).to.equal(false);
    });
  });
});
