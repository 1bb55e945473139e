import { expect } from "chai";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { PROJECT_ROOT } from "../../src/common/cache.js";
import {
  POSEIDON_T17_CONSTRAINTS,
  chunkProofsModel,
  constraintModel,
  deliveryConstraintModel,
  fingerprintConstraints,
  packedHashModel,
  spongeConstraints,
} from "../../src/zk/cost.js";
import { ShapeError, requiredPower } from "../../src/zk/index.js";

interface Entry {
  name: string;
  T?: number;
  DIN: number;
  R: number;
  DOUT: number;
  constraints: number;
}

async function manifestShapes(file: string): Promise<Entry[]> {
  const m = JSON.parse(await readFile(path.join(PROJECT_ROOT, "circuits", file), "utf8")) as {
    shapes: Entry[];
  };
  return m.shapes;
}

describe("# zk constraint model (src/zk/cost.ts)", function () {
  it("Should give exactly the constraint count of every committed module circuit (circuits/manifest.json)", async function () {
    const shapes = await manifestShapes("manifest.json");
    expect(shapes.length).to.be.greaterThanOrEqual(4);
    for (const s of shapes) {
      const m = constraintModel({ T: s.T as number, DIN: s.DIN, R: s.R, DOUT: s.DOUT });
      expect(m.total, s.name).to.equal(s.constraints);
      expect(m.weightHash + m.inputHash + m.fingerprint).to.equal(m.total);
      expect(m.ptauPower, s.name).to.equal(requiredPower(s.constraints, 4, 0));
    }
  });

  it("Should give exactly the constraint count of every committed delivery circuit (circuits/delivery-manifest.json)", async function () {
    const shapes = await manifestShapes("delivery-manifest.json");
    expect(shapes.length).to.be.greaterThanOrEqual(3);
    for (const s of shapes) expect(deliveryConstraintModel(s), s.name).to.equal(s.constraints);
  });

  it("Should split a module into weight hashing, input hashing and fingerprint", function () {
    // stories260k q_proj: 513 weight elements (33 blocks), 512 activations (32 blocks).
    const m = constraintModel({ T: 8, DIN: 64, R: 4, DOUT: 64 });
    expect(m.weightElements).to.equal(513);
    expect(m.inputElements).to.equal(512);
    expect(m.weightHash).to.equal(33 * POSEIDON_T17_CONSTRAINTS - 3);
    expect(m.inputHash).to.equal(32 * POSEIDON_T17_CONSTRAINTS - 3);
    expect(m.fingerprint).to.equal(63 + 6 + 4 * 63 + 256 + 512 + 7);
    // distilgpt2 c_attn (T 15, 768 -> 2304, rank 8) needs a 2^21 ptau.
    const c = constraintModel({ T: 15, DIN: 768, R: 8, DOUT: 2304 });
    expect(c.total).to.equal(1_419_696);
    expect(c.ptauPower).to.equal(21);
  });

  it("Should fold the constant lanes of a one-block sponge and not of longer ones", function () {
    expect(spongeConstraints(1)).to.equal(612 - 3 * 16);
    expect(spongeConstraints(16)).to.equal(612 - 3);
    expect(spongeConstraints(17)).to.equal(2 * 612 - 3);
    expect(fingerprintConstraints({ T: 1, DIN: 1, R: 1, DOUT: 1 })).to.equal(2);
  });

  it("Should model 16-bit packing at about 18.5 and 8-bit packing at about 9.2 constraints per value", function () {
    const s = { T: 15, DIN: 2048, R: 8, DOUT: 2048 };
    const p16 = packedHashModel(s, 16);
    const p8 = packedHashModel(s, 8);
    expect(p16.valuesPerElement).to.equal(15);
    expect(p8.valuesPerElement).to.equal(31);
    expect(p16.perValue).to.be.within(18.4, 18.7);
    expect(p8.perValue).to.be.within(9.1, 9.35);
    expect(p8.total).to.be.lessThan(p16.total);
    expect(p16.total).to.be.lessThan(constraintModel(s).total);
  });

  it("Should count 2^16 chunk proofs and reject impossible chunk sizes", function () {
    const one = chunkProofsModel(40_870);
    expect(one.chunks).to.equal(1);
    expect(one.perChunk).to.be.lessThan(2 ** 16);
    expect(chunkProofsModel(one.perChunk + 1).chunks).to.equal(2);
    expect(() => chunkProofsModel(10, 5)).to.throw(ShapeError);
  });

  it("Should reject shapes and packing widths that are not positive integers", function () {
    expect(() => constraintModel({ T: 0, DIN: 8, R: 2, DOUT: 8 })).to.throw(ShapeError);
    expect(() => constraintModel({ T: 2, DIN: 8.5, R: 2, DOUT: 8 })).to.throw(ShapeError);
    expect(() => spongeConstraints(0)).to.throw(ShapeError);
    expect(() => packedHashModel({ T: 2, DIN: 8, R: 2, DOUT: 8 }, 0)).to.throw(ShapeError);
    expect(() => packedHashModel({ T: 2, DIN: 8, R: 2, DOUT: 8 }, 254)).to.throw(ShapeError);
  });
});
