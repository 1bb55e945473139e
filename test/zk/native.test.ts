/**
 * The native Groth16 prover (issue #20, native/, src/zk/native.ts): its proofs verify with stock
 * snarkjs and with the project's verifiers (v2 module shapes, the key-wrap circuit), for random
 * witnesses, directly and through the proving pool; corrupt zkeys and witnesses are refused with a
 * typed error, never a proof; the pool falls back to snarkjs when the binary is missing.
 *
 * Needs `npm run build:native`. Without the binary the native tests print why and skip, except
 * with ZKLORA_REQUIRE_NATIVE=1 (set by .ci/run after it builds the prover), where they fail.
 */
import { expect } from "chai";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import * as snarkjsTyped from "snarkjs";
import { P, calculateWitness, loraProduct } from "../../src/zk/index.js";
import {
  NativeProverError,
  nativeProverStatus,
  proveNative,
  type NativeProverErrorCode,
} from "../../src/zk/native.js";
import { NativeProverUnavailableError, ProverFailedError, ProvingPool } from "../../src/zk/pool.js";
import {
  V2Verifier,
  buildShapeKey,
  commitWeights,
  deltaOf,
  foldEntry,
  proveV2,
  v2CircuitInput,
  v2PublicInputs,
  type ShapeKey,
  type V2Shape,
} from "../../src/zk/v2/index.js";
import {
  buildWrapKey,
  buyerWrapKeypair,
  proveKeyWrap,
  verifyKeyWrap,
  wrapDeliveryKeys,
} from "../../src/zk/wrap/index.js";
import { CTX, RHO_CTX, TINY_V2, TWIN_V2, randomOpening, randomRows, v2Fixture } from "./v2-fixture.js";
import { rejection } from "./helpers.js";

async function expectNativeError(p: Promise<unknown>, reason: NativeProverErrorCode, msg: RegExp) {
  const err = await rejection(p);
  expect(err).to.be.instanceOf(NativeProverError);
  expect((err as NativeProverError).reason, (err as Error).message).to.equal(reason);
  expect((err as NativeProverError).code).to.equal(`NATIVE_${reason}`);
  expect((err as Error).message).to.match(msg);
}

/** Byte offset and size of each section of an iden3 binary file (zkey, wtns). */
function sections(buf: Buffer): Map<number, { pos: number; size: number }> {
  const out = new Map<number, { pos: number; size: number }>();
  let pos = 12;
  for (let i = 0; i < buf.readUInt32LE(8); i++) {
    const type = buf.readUInt32LE(pos);
    const size = Number(buf.readBigUInt64LE(pos + 4));
    out.set(type, { pos: pos + 12, size });
    pos += 12 + size;
  }
  return out;
}

/** A fresh random witness of a v2 shape: opening, rows, fold, the statement and the wtns bytes. */
async function v2Witness(key: ShapeKey, seed: number) {
  const opening = randomOpening(key.shape, seed);
  const { W } = await commitWeights(key, opening, CTX);
  const X = randomRows(key.shape.DIN, 1 + (seed % 3), seed + 1);
  const Y = loraProduct(X, opening.A as bigint[][], opening.B as bigint[][]);
  const e = await foldEntry(key, X, Y, { ...RHO_CTX, module: BigInt(seed) });
  const input = v2CircuitInput(key, e, opening);
  return {
    opening,
    entry: e,
    input,
    pub: v2PublicInputs(key, e, opening),
    st: { rho: e.rho, fY: e.fY, D_X: e.D_X, W_m: W },
    wtns: await calculateWitness(key, input),
  };
}

/** Stock snarkjs's verifier (the project's typings declare only what src/ uses). */
const snarkjs = snarkjsTyped as unknown as {
  zKey: { exportVerificationKey(zkey: string): Promise<unknown> };
  groth16: { verify(vk: unknown, publicSignals: string[], proof: unknown): Promise<boolean> };
};

const native = nativeProverStatus();
const SEED = randomBytes(2).readUInt16BE(0);

describe("# native Groth16 prover", function () {
  this.timeout(600_000);
  let dir: string;

  before(async function () {
    if (!native.available) {
      if (process.env.ZKLORA_REQUIRE_NATIVE === "1") {
        throw new Error(`ZKLORA_REQUIRE_NATIVE=1 but the native prover is unavailable: ${native.reason}`);
      }
      console.log(`      SKIPPED (native prover tests): ${native.reason}`);
      this.skip();
    }
    console.log(`      native prover ${native.path}; random seed ${SEED}`);
    dir = await mkdtemp(path.join(os.tmpdir(), "zklora-native-"));
  });

  for (const [label, shape] of [
    ["tiny", TINY_V2],
    ["twin", TWIN_V2],
  ] as [string, V2Shape][]) {
    it(`Should prove random ${label} v2 witnesses that snarkjs and V2Verifier accept (deal key and initial key, 1 and 2 threads)`, async function () {
      const f = await v2Fixture();
      const key = label === "tiny" ? f.key : await buildShapeKey(shape);
      const zkeys = label === "tiny" ? [f.dealZkey, key.zkey] : [key.zkey];
      for (const zkey of zkeys) {
        const vk = await snarkjs.zKey.exportVerificationKey(zkey);
        const verifier = await V2Verifier.create(key.onchain, (await deltaOf(zkey)).delta2);
        for (let i = 0; i < 3; i++) {
          const w = await v2Witness(key, SEED + 17 * i);
          const r = await proveNative(zkey, w.wtns, { threads: 1 + (i % 2) });
          expect(r.publicSignals).to.deep.equal(w.pub.map(String));
          expect(r.proof.protocol).to.equal("groth16");
          expect(r.proof.curve).to.equal("bn128");
          expect(r.proof.pi_a[2]).to.equal("1");
          expect(r.proof.pi_b[2]).to.deep.equal(["1", "0"]);
          expect(
            await snarkjs.groth16.verify(vk, r.publicSignals, r.proof),
            `seed ${SEED + 17 * i}`,
          ).to.equal(true);
          expect(await verifier.verify(r.proof, w.st)).to.equal(true);
          // it can fail: another statement, or a public signal moved, is refused
          expect(await verifier.verify(r.proof, { ...w.st, fY: (w.st.fY + 1n) % P })).to.equal(false);
          const moved = [...r.publicSignals];
          moved[0] = ((BigInt(moved[0]) + 1n) % P).toString();
          expect(await snarkjs.groth16.verify(vk, moved, r.proof)).to.equal(false);
          expect(r.stats.nVars).to.be.greaterThan(r.stats.nPublic);
          // the weights are small: the A MSM sees them in the 16-bit class, not the 256-bit one
          expect(r.stats.msm.A.bits["16"] + r.stats.msm.A.bits["8"]).to.be.greaterThan(0);
          // fresh blinding per proof: same witness, other proof, both valid
          const again = await proveNative(zkey, w.wtns);
          expect(again.proof.pi_a).to.not.deep.equal(r.proof.pi_a);
          expect(await snarkjs.groth16.verify(vk, again.publicSignals, again.proof)).to.equal(true);
        }
      }
    });
  }

  it("Should compute every MSM class like a plain sum of scalar multiplications (the binary's --self-test: G1, G2, repeated, negated, identity and all-±P bases, 1..3 threads)", async function () {
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve, reject) => {
        execFile(native.path, ["--self-test"], (err, stdout, stderr) => {
          if (err !== null && typeof err.code !== "number") reject(err);
          else resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr });
        });
      },
    );
    expect(out.stderr).to.equal("");
    expect(out.code).to.equal(0);
    expect(JSON.parse(out.stdout)).to.deep.equal({ selfTest: "ok" });
  });

  it("Should read the witness from a .wtns file as well as from stdin", async function () {
    const f = await v2Fixture();
    const w = await v2Witness(f.key, SEED + 1000);
    const file = path.join(dir, "w.wtns");
    await writeFile(file, w.wtns);
    const r = await proveNative(f.dealZkey, file);
    const vk = await snarkjs.zKey.exportVerificationKey(f.dealZkey);
    expect(await snarkjs.groth16.verify(vk, r.publicSignals, r.proof)).to.equal(true);
  });

  it("Should be chosen by the proving pool and give proofs proveV2 verifies and releases", async function () {
    const f = await v2Fixture();
    // "auto" (not ZKLORA_PROVER): the pool picks the native prover because it is built
    const pool = new ProvingPool({ maxWorkers: 2, idleTimeoutMs: 1000, prover: "auto" });
    try {
      expect(pool.prover).to.equal("native");
      const ws = await Promise.all([0, 1, 2].map((i) => v2Witness(f.key, SEED + 31 * i)));
      const outs = await Promise.all(
        ws.map((w) =>
          pool.proveInput({ name: f.key.name, wasm: f.key.wasm, zkey: f.dealZkey }, w.input, w.pub),
        ),
      );
      const verifier = await V2Verifier.create(f.key.onchain, f.delta2);
      for (let i = 0; i < ws.length; i++) {
        expect(outs[i].prover).to.equal("native");
        expect(await verifier.verify(outs[i].proof, ws[i].st)).to.equal(true);
        expect(outs[i].proverPeakRssBytes).to.be.greaterThan(0);
      }
      const w = ws[0];
      const r = await proveV2(
        f.key,
        f.dealZkey,
        w.entry,
        w.opening,
        { D_X: w.st.D_X, W_m: w.st.W_m },
        { pool },
      );
      expect(await verifier.verify(r.proof, w.st)).to.equal(true);
    } finally {
      await pool.close();
    }
  });

  it("Should prove the key-wrap circuit through the pool so that verifyKeyWrap accepts", async function () {
    const key = await buildWrapKey();
    const buyer = buyerWrapKeypair();
    const keys = [11n, 22n, 33n, 44n].map((k) => (k * BigInt(SEED + 1)) % P);
    const wrap = wrapDeliveryKeys({ pk: buyer.pk, dealId: 9n, modules: keys.map((k, m) => ({ m, k })) });
    const pool = new ProvingPool({ maxWorkers: 1, prover: "native" });
    try {
      const proofs = await proveKeyWrap(
        key,
        key.zkey,
        { pk: buyer.pk, e: wrap.e, E: wrap.E, dealId: 9n, modules: keys.map((k, m) => ({ m, k })) },
        { pool },
      );
      expect(proofs).to.have.length(1);
      const { delta2 } = await deltaOf(key.zkey);
      expect(await verifyKeyWrap(key, delta2, proofs[0].proof, proofs[0].publicInputs)).to.equal(true);
      const moved = [...proofs[0].publicInputs];
      moved[4] += 1n;
      expect(await verifyKeyWrap(key, delta2, proofs[0].proof, moved)).to.equal(false);
    } finally {
      await pool.close();
    }
  });

  it("Should refuse corrupt zkeys with BAD_ZKEY (never a proof) and files that are no BN254 zkey with UNSUPPORTED", async function () {
    const f = await v2Fixture();
    const w = await v2Witness(f.key, SEED + 2000);
    const good = await readFile(f.dealZkey);
    const sec = sections(good);
    const variant = async (name: string, edit: (b: Buffer) => Buffer) => {
      const file = path.join(dir, `${name}.zkey`);
      await writeFile(file, edit(Buffer.from(good)));
      return file;
    };
    await expectNativeError(
      proveNative(await variant("truncated", (b) => b.subarray(0, b.length - 100)), w.wtns),
      "BAD_ZKEY",
      /truncated zkey file/,
    );
    await expectNativeError(
      proveNative(await variant("trailing", (b) => Buffer.concat([b, Buffer.alloc(7)])), w.wtns),
      "BAD_ZKEY",
      /trailing bytes/,
    );
    // a flipped bit in a point of each point section: off the curve
    for (const [s, what] of [
      [5, "A"],
      [6, "B1"],
      [7, "B2"],
      [8, "C"],
      [9, "H"],
    ] as [number, string][]) {
      const file = await variant(`point${s}`, (b) => {
        b[sec.get(s)!.pos + (s === 7 ? 128 : 64) + 3] ^= 0x10; // second point, x
        return b;
      });
      await expectNativeError(
        proveNative(file, w.wtns),
        "BAD_ZKEY",
        new RegExp(`${what} point 1 is not on the BN254`),
      );
    }
    // a coordinate >= q
    await expectNativeError(
      proveNative(
        await variant("bigcoord", (b) => {
          b.fill(0xff, sec.get(9)!.pos, sec.get(9)!.pos + 32);
          return b;
        }),
        w.wtns,
      ),
      "BAD_ZKEY",
      /H point 0 is not on the BN254/,
    );
    // a coefficient naming a signal that does not exist
    await expectNativeError(
      proveNative(
        await variant("coef", (b) => {
          b.writeUInt32LE(0xfffffff0, sec.get(4)!.pos + 4 + 44 * 3 + 8);
          return b;
        }),
        w.wtns,
      ),
      "BAD_ZKEY",
      /coefficient 3 is out of range/,
    );
    await expectNativeError(
      proveNative(
        await variant("alpha", (b) => {
          b[sec.get(2)!.pos + 84 + 5] ^= 1;
          return b;
        }),
        w.wtns,
      ),
      "BAD_ZKEY",
      /alpha1, beta1 or delta1 is not on the curve/,
    );
    await expectNativeError(proveNative(f.key.wasm, w.wtns), "UNSUPPORTED", /not a zkey file/);
    await expectNativeError(
      proveNative(
        await variant("plonk", (b) => {
          b.writeUInt32LE(2, sec.get(1)!.pos);
          return b;
        }),
        w.wtns,
      ),
      "UNSUPPORTED",
      /not a Groth16 key/,
    );
    await expectNativeError(proveNative(path.join(dir, "missing.zkey"), w.wtns), "BAD_ZKEY", /cannot open/);

    // through the pool: a typed rejection naming the native prover, no proof, and the pool goes on
    const pool = new ProvingPool({ maxWorkers: 1, prover: "native" });
    try {
      const bad = await variant("pool", (b) => {
        b[sec.get(9)!.pos + 3] ^= 0x01;
        return b;
      });
      const err = await rejection(
        pool.proveInput({ name: f.key.name, wasm: f.key.wasm, zkey: bad }, w.input, w.pub),
      );
      expect(err).to.be.instanceOf(ProverFailedError);
      expect((err as Error).message).to.match(
        /native groth16 prove failed .*H point 0 is not on the BN254 curve/,
      );
      const ok = await pool.proveInput(
        { name: f.key.name, wasm: f.key.wasm, zkey: f.dealZkey },
        w.input,
        w.pub,
      );
      expect(ok.prover).to.equal("native");
    } finally {
      await pool.close();
    }
  });

  it("Should refuse corrupt or foreign witnesses with BAD_WITNESS", async function () {
    const f = await v2Fixture();
    const w = await v2Witness(f.key, SEED + 3000);
    const good = Buffer.from(w.wtns);
    const sec = sections(good);
    const at = sec.get(2)!.pos;
    await expectNativeError(
      proveNative(f.dealZkey, good.subarray(0, good.length - 32)),
      "BAD_WITNESS",
      /truncated wtns/,
    );
    const big = Buffer.from(good);
    big.fill(0xff, at + 32 * 5, at + 32 * 6);
    await expectNativeError(
      proveNative(f.dealZkey, big),
      "BAD_WITNESS",
      /value 5 is not below the field modulus/,
    );
    const one = Buffer.from(good);
    one[at] = 2;
    await expectNativeError(proveNative(f.dealZkey, one), "BAD_WITNESS", /first value .* is not 1/);
    // one value more than the circuit has (header count and section grown together)
    const n = sec.get(2)!.size / 32;
    const longer = Buffer.concat([good, Buffer.alloc(32)]);
    longer.writeUInt32LE(n + 1, sec.get(1)!.pos + 36);
    longer.writeBigUInt64LE(BigInt(sec.get(2)!.size + 32), at - 8);
    await expectNativeError(
      proveNative(f.dealZkey, longer),
      "BAD_WITNESS",
      new RegExp(`Invalid witness length. Circuit: ${n}, witness: ${n + 1}`),
    );
    await expectNativeError(proveNative(f.dealZkey, Buffer.from("nope")), "UNSUPPORTED", /not a wtns file/);
    await expectNativeError(proveNative(f.dealZkey, new Uint8Array(0)), "UNSUPPORTED", /not a wtns file/);
  });
});

describe("# native Groth16 prover: selection and fallback", function () {
  this.timeout(600_000);
  const saved = process.env.ZKLORA_NATIVE_PROVER;
  afterEach(function () {
    if (saved === undefined) delete process.env.ZKLORA_NATIVE_PROVER;
    else process.env.ZKLORA_NATIVE_PROVER = saved;
  });

  it("Should prove with snarkjs when the binary is missing (auto) and refuse prover: 'native' with a typed error", async function () {
    process.env.ZKLORA_NATIVE_PROVER = path.join(os.tmpdir(), "zklora-no-such-prover");
    expect(nativeProverStatus()).to.include({ available: false });
    expect(() => new ProvingPool({ prover: "native" })).to.throw(
      NativeProverUnavailableError,
      /is not built/,
    );
    await expectNativeError(proveNative("x.zkey", "x.wtns"), "NOT_BUILT", /not built/);
    const f = await v2Fixture();
    const w = await v2Witness(f.key, SEED + 4000);
    const pool = new ProvingPool({ maxWorkers: 1, prover: "auto" });
    try {
      expect(pool.prover).to.equal("snarkjs");
      const out = await pool.proveInput(
        { name: f.key.name, wasm: f.key.wasm, zkey: f.dealZkey },
        w.input,
        w.pub,
      );
      expect(out.prover).to.equal("snarkjs");
      const verifier = await V2Verifier.create(f.key.onchain, f.delta2);
      expect(await verifier.verify(out.proof, w.st)).to.equal(true);
    } finally {
      await pool.close();
    }
  });

  it("Should use snarkjs when told to (prover: 'snarkjs'), whether or not the binary is built", async function () {
    const f = await v2Fixture();
    const w = await v2Witness(f.key, SEED + 5000);
    const pool = new ProvingPool({ maxWorkers: 1, prover: "snarkjs" });
    try {
      const out = await pool.proveInput(
        { name: f.key.name, wasm: f.key.wasm, zkey: f.dealZkey },
        w.input,
        w.pub,
      );
      expect(out.prover).to.equal("snarkjs");
    } finally {
      await pool.close();
    }
  });
});
