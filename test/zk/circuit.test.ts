import { expect } from "chai";
import {
  ShapeError,
  checkWitness,
  compileCircuit,
  findShape,
  fingerprint,
  loraProduct,
  moduleStatement,
  toField,
  type ModuleWitness,
  type PublicSignals,
  type Shape,
} from "../../src/zk/index.js";
import { cloneWitness, expectFail, expectPass, randomWitness, setWire } from "./helpers.js";

/**
 * The LoRA-module circuit on the tiny shape (compiled once; no setup needed): the honest statement
 * passes, every cheat fails. Checked at the witness generator (each `===`) and at the r1cs.
 */
describe("# LoRA-module circuit: soundness checks (t2_i8_r2_o8)", function () {
  let shape: Shape;
  let art: { wasm: string; r1cs: string };
  let w: ModuleWitness;
  let pub: PublicSignals;

  before(async function () {
    shape = await findShape("t2_i8_r2_o8");
    art = await compileCircuit(shape);
    w = randomWitness(shape, 42);
    pub = await moduleStatement(w);
  });

  it("Should accept a correct witness", async function () {
    await expectPass(art, w, pub);
  });

  it("Should accept zero-padded activation rows and an all-zero X", async function () {
    const z = cloneWitness(w);
    z.X[1] = z.X[1].map(() => 0n);
    await expectPass(art, z);
    z.X[0] = z.X[0].map(() => 0n);
    await expectPass(art, z);
  });

  it("Should reject weights other than the committed ones", async function () {
    const c = cloneWitness(w);
    c.A[3][1] += 1n;
    await expectFail(art, c, pub);
    const d = cloneWitness(w);
    d.B[1][7] -= 1n;
    await expectFail(art, d, pub);
  });

  it("Should reject a salt other than the committed one", async function () {
    const c = cloneWitness(w);
    c.salt += 1n;
    await expectFail(art, c, pub);
  });

  it("Should reject an X that does not hash to hX", async function () {
    const c = cloneWitness(w);
    c.X[1][5] += 1n;
    await expectFail(art, c, pub);
    // even with the fingerprint recomputed for the changed X
    const fY = fingerprint(loraProduct(c.X, c.A, c.B), c.rho);
    await expectFail(art, c, [pub[0], pub[1], pub[2], fY]);
  });

  it("Should reject a wrong fY, including the fingerprint of a slightly wrong Y", async function () {
    await expectFail(art, w, [pub[0], pub[1], pub[2], toField(pub[3] + 1n)]);
    const Y = loraProduct(w.X, w.A, w.B);
    Y[1][3] += 1n;
    await expectFail(art, w, [pub[0], pub[1], pub[2], fingerprint(Y, w.rho)]);
  });

  it("Should reject a wrong rho", async function () {
    const c = cloneWitness(w);
    c.rho = toField(w.rho + 1n);
    await expectFail(art, c, [pub[0], pub[1], c.rho, pub[3]]);
  });

  it("Should reject values in the wrong order (A transposed in place, B rows or X rows swapped)", async function () {
    // A read column-major instead of row-major: same multiset of values, same dimensions
    const flat = w.A.flat();
    const colMajor: bigint[][] = [];
    for (let i = 0; i < shape.DIN; i++) {
      colMajor.push(Array.from({ length: shape.R }, (_, k) => flat[k * shape.DIN + i]));
    }
    await expectFail(art, { ...cloneWitness(w), A: colMajor }, pub);
    const b = cloneWitness(w);
    [b.B[0], b.B[1]] = [b.B[1], b.B[0]];
    await expectFail(art, b, pub);
    const x = cloneWitness(w);
    [x.X[0], x.X[1]] = [x.X[1], x.X[0]];
    await expectFail(art, x, pub);
    // swapped X rows with a matching fingerprint still fail on hX
    await expectFail(art, x, [pub[0], pub[1], pub[2], fingerprint(loraProduct(x.X, x.A, x.B), x.rho)]);
  });

  it("Should fail the r1cs check when a public or private wire of an honest witness is changed", async function () {
    const wtns = await expectPass(art, w, pub);
    // wires: 0 = one, 1..4 = C_m, hX, rho, fY, then A, B, salt, X
    for (const index of [1, 2, 3, 4, 5, 5 + shape.DIN * shape.R]) {
      expect(await checkWitness(art, setWire(wtns, index, 12345n)), `wire ${index}`).to.equal(false);
    }
  });

  it("Should refuse to prove a witness of the wrong shape with a ShapeError", async function () {
    const { proveModule } = await import("../../src/zk/index.js");
    const bad = cloneWitness(w);
    bad.A = bad.A.slice(1);
    let err: unknown;
    try {
      await proveModule({ shape } as never, bad);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ShapeError);
  });
});

/** The TypeScript twin computes exactly what the circuit checks, on several shapes. */
describe("# LoRA-module circuit: TypeScript parity", function () {
  for (const name of ["t2_i8_r2_o8", "t3_i5_r3_o4"]) {
    it(`Should accept the TypeScript C_m, hX, rho and fY on random signed inputs (${name})`, async function () {
      const shape = await findShape(name);
      const art = await compileCircuit(shape);
      for (let seed = 1; seed <= 3; seed++) {
        const w = randomWitness(shape, seed * 7 + shape.DIN);
        expect(w.A.flat().some((v) => v < 0n)).to.equal(true);
        const pub = await moduleStatement(w);
        await expectPass(art, w, pub);
        // and nothing else: any other value of any public signal is rejected
        for (let i = 0; i < 4; i++) {
          const p = [...pub] as PublicSignals;
          p[i] = toField(p[i] + 1n);
          if (i === 2) await expectFail(art, { ...w, rho: p[2] }, p);
          else await expectFail(art, w, p);
        }
      }
    });
  }
});
