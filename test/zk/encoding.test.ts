import { expect } from "chai";
import { AbiCoder, keccak256, solidityPacked } from "ethers";
import {
  DEFAULT_SCALES,
  P,
  QuantizationError,
  SHAPE_VARIANT,
  ShapeError,
  activationHash,
  computeRho,
  fingerprint,
  fromFieldSigned,
  loraProduct,
  outputDigest,
  quantize,
  quantizeActivations,
  quantizeLora,
  shapeId,
  spongeHash,
  toField,
  weightCommitment,
  findShape,
  loadShapes,
} from "../../src/zk/index.js";
import { rng } from "./helpers.js";

describe("# zk encodings (field, quantization, digest, rho, fingerprint, shape id)", function () {
  it("Should map signed integers to the field and back", function () {
    expect(toField(-1n)).to.equal(P - 1n);
    expect(toField(P + 5n)).to.equal(5n);
    expect(fromFieldSigned(P - 7n)).to.equal(-7n);
    expect(fromFieldSigned(7n)).to.equal(7n);
    expect(fromFieldSigned(toField(-(2n ** 200n)))).to.equal(-(2n ** 200n));
  });

  it("Should quantize with round-half-away-from-zero and reject NaN, infinities and overflow", function () {
    expect(quantize(0.5, 0)).to.equal(1n);
    expect(quantize(-0.5, 0)).to.equal(-1n);
    expect(quantize(1.5, 0)).to.equal(2n);
    expect(quantize(-2.5, 0)).to.equal(-3n);
    expect(quantize(0.1, 10)).to.equal(102n); // 102.4
    expect(quantize(-0.1, 10)).to.equal(-102n);
    expect(quantize(-0, 12)).to.equal(0n);
    expect(() => quantize(Number.NaN, 10)).to.throw(QuantizationError);
    expect(() => quantize(Infinity, 10)).to.throw(QuantizationError);
    expect(() => quantize(-Infinity, 10)).to.throw(QuantizationError);
    expect(() => quantize(2 ** 50, 12)).to.throw(QuantizationError);
    expect(() => quantize(1, 1.5)).to.throw(QuantizationError);
    expect(DEFAULT_SCALES).to.deep.equal({ fx: 10, fa: 12, fb: 12 });
  });

  it("Should transpose PEFT lora_A [R,DIN] and lora_B [DOUT,R] into A (DIN x R) and B (R x DOUT)", function () {
    const R = 2,
      DIN = 3,
      DOUT = 4;
    // lora_A[k][i] = k*10 + i, lora_B[j][k] = j*10 + k (scaled by 2^-12 so quantization recovers them)
    const loraA = Float32Array.from(
      { length: R * DIN },
      (_, n) => (Math.floor(n / DIN) * 10 + (n % DIN)) / 4096,
    );
    const loraB = Float32Array.from(
      { length: DOUT * R },
      (_, n) => (Math.floor(n / R) * 10 + (n % R)) / 4096,
    );
    const { A, B } = quantizeLora(loraA, loraB, R, DIN, DOUT, 12, 12);
    expect(A.length).to.equal(DIN);
    expect(A[2][1]).to.equal(12n); // lora_A[1][2]
    expect(B.length).to.equal(R);
    expect(B[1][3]).to.equal(31n); // lora_B[3][1]
    expect(() => quantizeLora(loraA, loraB, R, DIN + 1, DOUT, 12, 12)).to.throw(ShapeError);
    const X = quantizeActivations([[0.5, -0.25, 1]], 3, 3, 10);
    expect(X).to.deep.equal([
      [512n, -256n, 1024n],
      [0n, 0n, 0n],
      [0n, 0n, 0n],
    ]);
  });

  it("Should compute the exact integer product X·A·B", function () {
    const r = rng(1);
    const X = [[r(-9, 9), r(-9, 9), r(-9, 9)]];
    const A = [
      [1n, 2n],
      [3n, -4n],
      [5n, 6n],
    ];
    const B = [
      [1n, 0n, -1n],
      [2n, 1n, 0n],
    ];
    const Y = loraProduct(X, A, B);
    for (let j = 0; j < 3; j++) {
      let want = 0n;
      for (let k = 0; k < 2; k++) for (let i = 0; i < 3; i++) want += X[0][i] * A[i][k] * B[k][j];
      expect(Y[0][j]).to.equal(want);
    }
    expect(() => loraProduct(X, B, A)).to.throw(ShapeError);
  });

  it("Should digest Y as abi.encodePacked(int256[]) and derive rho as keccak(abi.encode(...)) mod p", function () {
    const Y = [
      [1n, -1n],
      [2n ** 200n, -(2n ** 255n)],
    ];
    const flat = Y.flat();
    expect(outputDigest(Y)).to.equal(
      keccak256(
        solidityPacked(
          flat.map(() => "int256"),
          flat,
        ),
      ),
    );
    expect(() => outputDigest([[2n ** 255n]])).to.throw();
    const args = {
      chainId: 31337n,
      escrow: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
      dealId: 7n,
      module: 1n,
      hX: 123n,
      hY: outputDigest(Y),
    };
    const enc = AbiCoder.defaultAbiCoder().encode(
      ["uint256", "address", "uint256", "uint256", "uint256", "bytes32"],
      [31337n, "0x5FbDB2315678afecb367f032d93F642f64180aa3", 7n, 1n, 123n, args.hY],
    );
    expect(computeRho(args)).to.equal(BigInt(keccak256(enc)) % P);
    expect(computeRho({ ...args, module: 2n })).to.not.equal(computeRho(args));
  });

  it("Should compute the fingerprint as sum rho^(t*DOUT+j) Y[t][j], equal to the circuit's Y-free form", function () {
    const r = rng(2);
    const T = 3,
      DIN = 4,
      R = 2,
      DOUT = 5;
    const mat = (a: number, b: number) =>
      Array.from({ length: a }, () => Array.from({ length: b }, () => r(-999, 999)));
    const X = mat(T, DIN),
      A = mat(DIN, R),
      B = mat(R, DOUT);
    const rho = r(1, 2 ** 40) * 2n ** 190n + 12345n;
    const Y = loraProduct(X, A, B);
    let naive = 0n;
    for (let t = 0; t < T; t++)
      for (let j = 0; j < DOUT; j++) naive += (rho ** BigInt(t * DOUT + j) % P) * toField(Y[t][j]);
    expect(fingerprint(Y, rho)).to.equal(naive % P);
    // circuit form: b = B·pw, a = A·b, c = X·a, fY = sum rhoD^t c[t]
    const pw = Array.from({ length: DOUT }, (_, j) => rho ** BigInt(j) % P);
    const rhoD = rho ** BigInt(DOUT) % P;
    const b = B.map((row) => row.reduce((s, v, j) => s + v * pw[j], 0n));
    const a = A.map((row) => row.reduce((s, v, k) => s + v * b[k], 0n));
    const c = X.map((row) => row.reduce((s, v, i) => s + v * a[i], 0n));
    const f = c.reduce((s, v, t) => s + toField(v) * (rhoD ** BigInt(t) % P), 0n) % P;
    expect(fingerprint(Y, rho)).to.equal(f);
    const Y2 = Y.map((row) => [...row]);
    Y2[2][4] += 1n;
    expect(fingerprint(Y2, rho)).to.not.equal(fingerprint(Y, rho));
  });

  it("Should domain-separate the sponge by tag and length and reject empty input", async function () {
    const v = [1n, 2n, 3n];
    expect(await spongeHash(v, 1n)).to.not.equal(await spongeHash(v, 2n));
    expect(await spongeHash([...v, 0n], 1n)).to.not.equal(await spongeHash(v, 1n));
    expect(await spongeHash([-1n], 1n)).to.equal(await spongeHash([P - 1n], 1n));
    let err: unknown;
    try {
      await spongeHash([], 1n);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(Error);
    const A = [[1n], [2n]];
    const B = [[3n, 4n]];
    expect(await weightCommitment(A, B, 9n)).to.equal(await spongeHash([1n, 2n, 3n, 4n, 9n], 1n));
    expect(await activationHash([[5n, 6n]])).to.equal(await spongeHash([5n, 6n], 2n));
  });

  it("Should compute shape ids as keccak(abi.encode(variant, T, DIN, R, DOUT)) and load shapes.json", async function () {
    expect(SHAPE_VARIANT).to.equal("0x7a6b6c6f72612e6c6f72612d6d6f64756c652e76310000000000000000000000");
    const s = { T: 2, DIN: 8, R: 2, DOUT: 8 };
    expect(shapeId(s)).to.equal(
      keccak256(
        AbiCoder.defaultAbiCoder().encode(
          ["bytes32", "uint256", "uint256", "uint256", "uint256"],
          [SHAPE_VARIANT, 2, 8, 2, 8],
        ),
      ),
    );
    expect(shapeId({ ...s, T: 3 })).to.not.equal(shapeId(s));
    const shapes = await loadShapes();
    expect(shapes.map((x) => x.name)).to.include.members([
      "t2_i8_r2_o8",
      "stories260k_q_t8_r4",
      "stories260k_v_t8_r4",
    ]);
    expect((await findShape({ T: 8, DIN: 64, R: 4, DOUT: 32 })).name).to.equal("stories260k_v_t8_r4");
    let err: unknown;
    try {
      await findShape("nope");
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ShapeError);
  });
});
