/**
 * Protocol v2, weight delivery (PROTOCOL.md, "Weights delivered with the payment"): shapes and
 * plans, the chunk circuit and its exact constraint count, the Poseidon cipher of the packed
 * weights, real chunk proofs under a ceremony key (and their rejection for another hK, nonce,
 * ciphertext element or W'_c), the Okamoto link to W_m, the buyer's module check and JSON form,
 * the ceremony key check, and the attack the range check exists for: weights A·G, G⁻¹·B (same
 * LoRA product mod p, ~2^253-sized entries) have no delivery witness. A tiny module (DIN 4, R 2,
 * DOUT 4: N = 16) in chunks of 6 (3 chunks, the last one padded) at BITS 16.
 */
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { poseidonEncrypt } from "@zk-kit/poseidon-cipher";
import { poseidon1 } from "poseidon-lite";
import {
  DEFAULT_SCALES,
  P,
  WitnessError,
  calculateWitness,
  checkWitness,
  readR1csInfo,
  toField,
} from "../../src/zk/index.js";
import { invMod } from "../../src/zk/field.js";
import { ProvingPool } from "../../src/zk/pool.js";
import {
  DeltaUpdateError,
  buildShapeKey,
  contributeDelta,
  deltaOf,
  randomFieldElement,
  weightCommitmentV2,
  weightVector,
  type G1Point,
  type ModuleOpening,
  type ShapeKey,
  type V2Shape,
} from "../../src/zk/v2/index.js";
import {
  DeliveryCheckError,
  DeliveryDecryptError,
  DeliveryFormatError,
  DeliveryKeyError,
  DeliveryRangeError,
  DeliveryVerifier,
  buildDeliveryKey,
  checkDeliveryKey,
  checkDeliveryLink,
  checkModuleDelivery,
  decryptModuleWeights,
  deliverModule,
  deliveryBits,
  deliveryCapFor,
  deliveryCapMax,
  deliveryCircuitInput,
  deliveryCommitment,
  deliveryConstraints,
  deliveryKeyHash,
  deliveryLayout,
  deliveryPlan,
  deliveryPublicInputCount,
  deliveryShapeId,
  devDeliveryCeremonyKey,
  encryptModuleWeights,
  moduleDeliveryFromJson,
  moduleDeliveryToJson,
  packChunk,
  proveDeliveryChunk,
  proveDeliveryLink,
  randomDeliveryKey,
  verifyDeliveryChunk,
  verifyDeliveryLink,
  type DeliveryKey,
  type DeliveryPlan,
  type ModuleDelivery,
  type ModuleDeliverySecrets,
} from "../../src/zk/delivery/index.js";
import { rejection, rng, randomMatrix } from "./helpers.js";
import { CTX } from "./v2-fixture.js";

const SHAPE: V2Shape = { DIN: 4, R: 2, DOUT: 4 };
const BITS = 16;
const CAP = 6;
const HALF = 1n << BigInt(BITS - 1);

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a throw");
}

/** Writes a copy of a zkey with `edit` applied to the bytes of its sections. */
async function tamperZkey(src: string, dst: string, edit: (sec: (id: number) => Uint8Array) => void) {
  const buf = Buffer.from(await readFile(src));
  const n = buf.readUInt32LE(8);
  const at = new Map<number, { pos: number; size: number }>();
  let pos = 12;
  for (let i = 0; i < n; i++) {
    const id = buf.readUInt32LE(pos);
    const size = Number(buf.readBigUInt64LE(pos + 4));
    at.set(id, { pos: pos + 12, size });
    pos += 12 + size;
  }
  edit((id) => buf.subarray(at.get(id)!.pos, at.get(id)!.pos + at.get(id)!.size));
  await writeFile(dst, buf);
}

interface Fixture {
  key: ShapeKey;
  dkey: DeliveryKey;
  ceremony: string;
  plan: DeliveryPlan;
  opening: ModuleOpening;
  w: bigint[];
  W: G1Point;
  delivery: ModuleDelivery;
  secrets: ModuleDeliverySecrets;
  dir: string;
}

let fixture: Promise<Fixture> | undefined;

/** The tiny module's keys, a random opening (with both range ends) and its full delivery (real proofs). */
function deliveryFixture(): Promise<Fixture> {
  fixture ??= (async () => {
    const key = await buildShapeKey(SHAPE);
    const dkey = await buildDeliveryKey({ CAP, BITS });
    const ceremony = await devDeliveryCeremonyKey(dkey);
    const plan = deliveryPlan(16, BITS, { cap: CAP });
    const r = rng(42);
    const A = randomMatrix(r, SHAPE.DIN, SHAPE.R, 2 ** 15 - 1);
    const B = randomMatrix(r, SHAPE.R, SHAPE.DOUT, 2 ** 15 - 1);
    A[0][0] = -HALF;
    B[1][3] = HALF - 1n;
    const opening: ModuleOpening = { A, B, salt: randomFieldElement() };
    const w = weightVector(SHAPE, opening);
    const W = await weightCommitmentV2(key, opening);
    const { delivery, secrets } = await deliverModule(key, dkey, ceremony, CTX, { w, salt: opening.salt, W });
    const dir = await mkdtemp(path.join(os.tmpdir(), "zklora-delivery-"));
    return { key, dkey, ceremony, plan, opening, w, W, delivery, secrets, dir };
  })();
  return fixture;
}

describe("# protocol v2 delivery: shapes and plans", function () {
  it("Should take BITS = max(fa, fb) + 4 (16 by default) and pick CAP_MAX for a 2^16 domain", function () {
    expect(deliveryBits(DEFAULT_SCALES)).to.equal(16);
    expect(deliveryBits({ fa: 10, fb: 14 })).to.equal(18);
    const max = deliveryCapMax(16);
    expect(max).to.equal(2822);
    const big = { CAP: max, BITS: 16 };
    expect(deliveryConstraints(big) + deliveryPublicInputCount(big)).to.be.below(2 ** 16);
    const over = { CAP: max + 1, BITS: 16 };
    expect(deliveryConstraints(over) + deliveryPublicInputCount(over)).to.be.at.least(2 ** 16);
    expect(thrown(() => deliveryPlan(100, 16, { cap: max + 1 }))).to.be.instanceOf(DeliveryRangeError);
  });

  it("Should plan small modules as one chunk of the smallest domain that holds them and large ones in chunks of 2^14", function () {
    // Capacities per power-of-two domain at 16 bits: 2^11 46, 2^12 135, 2^13 315, 2^14 675, 2^15 1395, 2^16 2822.
    expect([11, 12, 13, 14, 15, 16].map((p) => deliveryCapFor(16, p))).to.deep.equal([
      46, 135, 315, 675, 1395, 2822,
    ]);
    expect(deliveryPlan(8 * (64 + 64), 16)).to.deep.equal({ N: 1024, cap: 675, chunks: 2 });
    expect(deliveryPlan(8 * (64 + 32), 16)).to.deep.equal({ N: 768, cap: 675, chunks: 2 });
    expect(deliveryPlan(600, 16)).to.deep.equal({ N: 600, cap: 675, chunks: 1 });
    expect(deliveryPlan(16, 16)).to.deep.equal({ N: 16, cap: 46, chunks: 1 });
    expect(deliveryPlan(24_576, 16)).to.deep.equal({ N: 24_576, cap: 675, chunks: 37 });
    expect(deliveryPlan(10_000, 16, { cap: 2822 })).to.deep.equal({ N: 10_000, cap: 2822, chunks: 4 });
    expect(deliveryPlan(16, 16, { cap: 6 })).to.deep.equal({ N: 16, cap: 6, chunks: 3 });
    expect(deliveryLayout({ CAP: 1035, BITS: 16 })).to.deep.equal({ PACK: 15, NP: 69, NPAD: 69, NCT: 70 });
    expect(deliveryShapeId({ CAP: 6, BITS: 16 })).to.not.equal(deliveryShapeId({ CAP: 6, BITS: 17 }));
  });
});

describe("# protocol v2 delivery: circuit and key (CAP 6, BITS 16)", function () {
  let f: Fixture;
  before(async function () {
    f = await deliveryFixture();
  });

  it("Should have exactly the predicted constraints and hK, nonce, ct, w, salt public, k private", async function () {
    const info = await readR1csInfo(f.dkey.r1cs);
    expect(info.nConstraints).to.equal(deliveryConstraints(f.dkey.shape));
    expect(info.nConstraints).to.equal(1083);
    expect(info.nPubIn + info.nPubOut).to.equal(deliveryPublicInputCount(f.dkey.shape));
    expect(info.nPrvIn).to.equal(1);
    expect(f.dkey.bases.byteLength).to.equal((CAP + 1) * 64);
    expect(f.dkey.ctBases.byteLength).to.equal(deliveryLayout(f.dkey.shape).NCT * 64);
  });

  it("Should accept the honest chunk with hK = poseidon-lite's poseidon1([k]), and no other hK", async function () {
    const k = f.secrets.k;
    expect(deliveryKeyHash(k)).to.equal(poseidon1([k]));
    const wit = {
      k,
      w: f.w.slice(0, CAP),
      saltPrime: f.secrets.saltPrimes[0],
      nonce: 0,
      ct: f.delivery.chunks[0].ct,
    };
    const input = deliveryCircuitInput(f.dkey, wit);
    expect(input.hK).to.equal(poseidon1([k]).toString());
    expect(await checkWitness(f.dkey, await calculateWitness(f.dkey, input))).to.equal(true);
    const other = { ...input, hK: ((poseidon1([k]) + 1n) % P).toString() };
    expect(await rejection(calculateWitness(f.dkey, other))).to.be.instanceOf(WitnessError);
  });

  it("Should reject a weight of 2^15 or −2^15 − 1 (range check) and a ciphertext of other weights", async function () {
    const k = randomDeliveryKey();
    const base = f.w.slice(0, CAP);
    for (const v of [HALF, -HALF - 1n]) {
      const w = [...base];
      w[2] = v;
      // pack as the circuit would (mod p) and encrypt, so only the range check can fail
      const packed = w.reduce<bigint[]>(
        (acc, x, i) => {
          acc[0] = (acc[0] + toField(x + HALF) * (1n << BigInt(16 * i))) % P;
          return acc;
        },
        [0n, 0n, 0n],
      );
      const ct = poseidonEncrypt(packed, [k, 0n], 0n);
      const input = deliveryCircuitInput(f.dkey, { k, w, saltPrime: 1n, nonce: 0, ct });
      const e = await rejection(calculateWitness(f.dkey, input));
      expect(e).to.be.instanceOf(WitnessError);
      expect(String((e.cause as Error).message)).to.match(/Num2Bits/);
      expect(thrown(() => packChunk(w, BITS, CAP))).to.be.instanceOf(DeliveryRangeError);
    }
    const ct = poseidonEncrypt(packChunk(base, BITS, CAP), [k, 0n], 0n);
    const ok = deliveryCircuitInput(f.dkey, { k, w: base, saltPrime: 1n, nonce: 0, ct });
    await calculateWitness(f.dkey, ok);
    const moved = [...base];
    moved[1] += 1n;
    const bad = deliveryCircuitInput(f.dkey, { k, w: moved, saltPrime: 1n, nonce: 0, ct });
    expect(await rejection(calculateWitness(f.dkey, bad))).to.be.instanceOf(WitnessError);
    const wrongNonce = deliveryCircuitInput(f.dkey, { k, w: base, saltPrime: 1n, nonce: 1, ct });
    expect(await rejection(calculateWitness(f.dkey, wrongNonce))).to.be.instanceOf(WitnessError);
  });
});

describe("# protocol v2 delivery: cipher", function () {
  let f: Fixture;
  before(async function () {
    f = await deliveryFixture();
  });

  it("Should round-trip a module's weights (both range ends, padded last chunk)", function () {
    const k = randomDeliveryKey();
    const chunks = encryptModuleWeights(f.w, BITS, f.plan, k);
    expect(chunks.map((c) => c.nonce)).to.deep.equal([0, 1, 2]);
    expect(chunks.every((c) => c.ct.length === deliveryLayout(f.dkey.shape).NCT)).to.equal(true);
    expect(decryptModuleWeights(chunks, k, f.plan, BITS)).to.deep.equal(f.w);
    expect(decryptModuleWeights(f.delivery.chunks, f.secrets.k, f.plan, BITS)).to.deep.equal(f.w);
  });

  it("Should refuse another key, an altered ciphertext, swapped chunks and out-of-range weights", function () {
    const k = randomDeliveryKey();
    const chunks = encryptModuleWeights(f.w, BITS, f.plan, k);
    expect(thrown(() => decryptModuleWeights(chunks, (k + 1n) % P, f.plan, BITS))).to.be.instanceOf(
      DeliveryDecryptError,
    );
    const altered = chunks.map((c) => ({ nonce: c.nonce, ct: [...c.ct] }));
    altered[1].ct[2] = (altered[1].ct[2] + 1n) % P;
    const e = thrown(() => decryptModuleWeights(altered, k, f.plan, BITS));
    expect(e).to.be.instanceOf(DeliveryDecryptError);
    expect(e.message).to.match(/^chunk 1: /);
    const swapped = [chunks[1], chunks[0], chunks[2]];
    expect(thrown(() => decryptModuleWeights(swapped, k, f.plan, BITS))).to.be.instanceOf(
      DeliveryDecryptError,
    );
    const renamed = [{ nonce: 0, ct: chunks[1].ct }, { nonce: 1, ct: chunks[0].ct }, chunks[2]];
    expect(thrown(() => decryptModuleWeights(renamed, k, f.plan, BITS))).to.be.instanceOf(
      DeliveryDecryptError,
    );
    const w = [...f.w];
    w[13] = HALF;
    const r = thrown(() => encryptModuleWeights(w, BITS, f.plan, k));
    expect(r).to.be.instanceOf(DeliveryRangeError);
    expect(r.message).to.match(/weight 13 /);
  });
});

describe("# protocol v2 delivery: chunk proofs", function () {
  let f: Fixture;
  before(async function () {
    f = await deliveryFixture();
  });

  it("Should verify every chunk proof under the ceremony key's δ, and not under the initial key's", async function () {
    const { delivery: d } = f;
    for (const ch of d.chunks) {
      const st = { hK: d.hK, nonce: ch.nonce, ct: ch.ct, Wc: ch.Wc };
      expect(await verifyDeliveryChunk(f.dkey, f.ceremony, ch.proof, st)).to.deep.equal({ ok: true });
      expect((await verifyDeliveryChunk(f.dkey, f.dkey.zkey, ch.proof, st)).ok).to.equal(false);
    }
    const v = await DeliveryVerifier.create(f.dkey, (await deltaOf(f.ceremony)).delta2);
    const sts = d.chunks.map((ch) => ({ hK: d.hK, nonce: ch.nonce, ct: ch.ct, Wc: ch.Wc }));
    expect(
      await v.verifyBatch(
        d.chunks.map((ch) => ch.proof),
        sts,
      ),
    ).to.equal(true);
    expect(
      await v.verifyBatch(
        d.chunks.map((ch) => ch.proof),
        [sts[1], sts[0], sts[2]],
      ),
    ).to.equal(false);
  });

  it("Should commit W'_c as Σ w_i·IC'[w_i] + salt'·IC'[salt] (padding weights count as 0)", async function () {
    const last = f.delivery.chunks[2];
    const Wc = await deliveryCommitment(f.dkey, f.w.slice(12), f.secrets.saltPrimes[2]);
    expect(Wc).to.deep.equal(last.Wc);
    const padded = [...f.w.slice(12), 0n, 0n];
    expect(await deliveryCommitment(f.dkey, padded, f.secrets.saltPrimes[2])).to.deep.equal(last.Wc);
  });

  it("Should reject the proof for another hK, nonce, ciphertext element or W'_c", async function () {
    const { delivery: d } = f;
    const ch = d.chunks[1];
    const v = await DeliveryVerifier.create(f.dkey, (await deltaOf(f.ceremony)).delta2);
    const st = { hK: d.hK, nonce: 1, ct: ch.ct, Wc: ch.Wc };
    expect(await v.verify(ch.proof, st)).to.equal(true);
    expect(await v.verify(ch.proof, { ...st, hK: (d.hK + 1n) % P })).to.equal(false);
    expect(await v.verify(ch.proof, { ...st, nonce: 0 })).to.equal(false);
    expect(await v.verify(ch.proof, { ...st, nonce: 2 })).to.equal(false);
    for (const j of [0, 3]) {
      const ct = [...ch.ct];
      ct[j] = (ct[j] + 1n) % P;
      expect(await v.verify(ch.proof, { ...st, ct })).to.equal(false);
    }
    expect(await v.verify(ch.proof, { ...st, Wc: d.chunks[0].Wc })).to.equal(false);
    const other = await deliveryCommitment(f.dkey, f.w.slice(6, 12), randomFieldElement());
    expect(await v.verify(ch.proof, { ...st, Wc: other })).to.equal(false);
    expect(await v.check(ch.proof, { ...st, ct: ch.ct.slice(1) })).to.deep.equal({
      ok: false,
      reason: `the ciphertext must have ${deliveryLayout(f.dkey.shape).NCT} elements`,
    });
    expect((await v.check(ch.proof, { ...st, Wc: [1n, 1n] })).ok).to.equal(false);
  });

  it("Should refuse to prove a chunk whose ct is not its weights' encryption or whose weight is out of range", async function () {
    const k = f.secrets.k;
    const ct = f.delivery.chunks[0].ct;
    const w = f.w.slice(0, CAP);
    const moved = [...w];
    moved[0] += 1n;
    const e1 = await rejection(
      proveDeliveryChunk(f.dkey, f.ceremony, { k, w: moved, saltPrime: 1n, nonce: 0, ct }),
    );
    expect(e1).to.be.instanceOf(DeliveryDecryptError);
    const big = [...w];
    big[4] = HALF;
    const e2 = await rejection(
      proveDeliveryChunk(f.dkey, f.ceremony, { k, w: big, saltPrime: 1n, nonce: 0, ct }),
    );
    expect(e2).to.be.instanceOf(DeliveryRangeError);
  });

  it("Should prove a chunk through the proving pool", async function () {
    const pool = new ProvingPool({ maxWorkers: 1, singleThread: true });
    try {
      const wit = {
        k: f.secrets.k,
        w: f.w.slice(6, 12),
        saltPrime: randomFieldElement(),
        nonce: 1,
        ct: f.delivery.chunks[1].ct,
      };
      const r = await proveDeliveryChunk(f.dkey, f.ceremony, wit, { pool });
      expect(r.Wc).to.deep.equal(await deliveryCommitment(f.dkey, wit.w, wit.saltPrime));
      const ok = await verifyDeliveryChunk(f.dkey, f.ceremony, r.proof, {
        hK: f.delivery.hK,
        nonce: 1,
        ct: wit.ct,
        Wc: r.Wc,
      });
      expect(ok.ok).to.equal(true);
    } finally {
      await pool.close();
    }
  });
});

describe("# protocol v2 delivery: link to W_m", function () {
  let f: Fixture;
  before(async function () {
    f = await deliveryFixture();
  });
  const st = () => ({ W: f.W, Wc: f.delivery.chunks.map((c) => c.Wc), hK: f.delivery.hK });

  it("Should verify the contributor's link", async function () {
    expect(await checkDeliveryLink(f.key, f.dkey, f.plan, CTX, st(), f.delivery.link)).to.deep.equal({
      ok: true,
    });
    await verifyDeliveryLink(f.key, f.dkey, f.plan, CTX, st(), f.delivery.link);
  });

  it("Should fail for other weights, another W_m, swapped chunks, another hK or another context", async function () {
    const { link } = f.delivery;
    const check = async (s: ReturnType<typeof st>, l = link, ctx = CTX) =>
      (await checkDeliveryLink(f.key, f.dkey, f.plan, ctx, s, l)).ok;
    // another weight's response
    const z = [...link.z];
    z[7] = (z[7] + 1n) % P;
    expect(await check(st(), { ...link, z })).to.equal(false);
    // the prover cannot link other weights to these commitments
    const w2 = [...f.w];
    w2[9] += 1n;
    const e = await rejection(
      proveDeliveryLink(
        f.key,
        f.dkey,
        f.plan,
        CTX,
        { w: w2, salt: f.opening.salt, saltPrimes: f.secrets.saltPrimes },
        st(),
      ),
    );
    expect(e).to.be.instanceOf(DeliveryCheckError);
    // another W_m (the commitment of other weights)
    const A = f.opening.A.map((r) => [...r]);
    A[1][1] += 1n;
    const W2 = await weightCommitmentV2(f.key, { ...f.opening, A });
    expect(await check({ ...st(), W: W2 })).to.equal(false);
    // swapped chunk order (commitments and their T'_c swapped together)
    const s = st();
    const sw = <T>(a: readonly T[]) => [a[1], a[0], a[2]];
    expect(await check({ ...s, Wc: sw(s.Wc) }, { ...link, Tc: sw(link.Tc), zc: sw(link.zc) })).to.equal(
      false,
    );
    expect(await check({ ...s, Wc: sw(s.Wc) })).to.equal(false);
    // another hK, module, contributor, escrow or chain
    expect(await check({ ...s, hK: (s.hK + 1n) % P })).to.equal(false);
    expect(await check(s, link, { ...CTX, module: 1 })).to.equal(false);
    expect(await check(s, link, { ...CTX, contributor: CTX.escrow })).to.equal(false);
    expect(await check(s, link, { ...CTX, escrow: CTX.contributor })).to.equal(false);
    expect(await check(s, link, { ...CTX, chainId: 1n })).to.equal(false);
    // malformed input: a reason, no throw
    expect(
      (await checkDeliveryLink(f.key, f.dkey, f.plan, CTX, s, { ...link, z: link.z.slice(1) })).ok,
    ).to.equal(false);
    const e2 = await rejection(verifyDeliveryLink(f.key, f.dkey, f.plan, { ...CTX, module: 3 }, s, link));
    expect(e2).to.be.instanceOf(DeliveryCheckError);
    expect((e2 as DeliveryCheckError).module).to.equal(3);
  });
});

describe("# protocol v2 delivery: the A·G, G⁻¹·B attack", function () {
  let f: Fixture;
  before(async function () {
    f = await deliveryFixture();
  });

  it("Should leave weights A' = A·G, B' = G⁻¹·B (same product mod p, ~2^253 entries) without a delivery witness", async function () {
    const { A, B } = f.opening;
    const G = [
      [randomFieldElement(), randomFieldElement()],
      [randomFieldElement(), randomFieldElement()],
    ];
    const det = toField(G[0][0] * G[1][1] - G[0][1] * G[1][0]);
    expect(det).to.not.equal(0n);
    const di = invMod(det);
    const Gi = [
      [toField(G[1][1] * di), toField(-G[0][1] * di)],
      [toField(-G[1][0] * di), toField(G[0][0] * di)],
    ];
    const mul = (X: readonly (readonly bigint[])[], Y: readonly (readonly bigint[])[]) =>
      X.map((row) => Y[0].map((_, j) => toField(row.reduce((s, x, k) => s + x * Y[k][j], 0n))));
    const A2 = mul(A, G);
    const B2 = mul(Gi, B);
    expect(mul(A2, B2)).to.deep.equal(mul(A, B));
    const w2 = [...A2.flat(), ...B2.flat()];
    expect(w2.filter((v) => v > 1n << 200n).length).to.be.greaterThan(12);

    // the honest route refuses at once
    const k = randomDeliveryKey();
    expect(thrown(() => encryptModuleWeights(w2, BITS, f.plan, k))).to.be.instanceOf(DeliveryRangeError);
    // the circuit refuses too: pack as the circuit does (mod p), encrypt, compute the witness
    const chunk = w2.slice(0, CAP);
    const packed = [0n, 0n, 0n];
    chunk.forEach((x, i) => (packed[0] = (packed[0] + toField(x + HALF) * (1n << BigInt(16 * i))) % P));
    const ct = poseidonEncrypt(packed, [k, 0n], 0n);
    const input = deliveryCircuitInput(f.dkey, {
      k,
      w: chunk,
      saltPrime: randomFieldElement(),
      nonce: 0,
      ct,
    });
    const we = await rejection(calculateWitness(f.dkey, input));
    expect(we).to.be.instanceOf(WitnessError);
    expect(String((we.cause as Error).message)).to.match(/Num2Bits/); // the range check, not the cipher
    // ... and proving never starts
    const e = await rejection(
      proveDeliveryChunk(f.dkey, f.ceremony, { k, w: chunk, saltPrime: randomFieldElement(), nonce: 0, ct }),
    );
    expect(e).to.be.instanceOf(DeliveryRangeError);
  });
});

describe("# protocol v2 delivery: the buyer's checks", function () {
  let f: Fixture;
  before(async function () {
    f = await deliveryFixture();
  });

  it("Should accept the honest module delivery, also after a JSON round trip", async function () {
    await checkModuleDelivery(f.key, f.dkey, f.ceremony, CTX, f.W, f.delivery, { expectedHK: f.delivery.hK });
    const text = JSON.stringify(moduleDeliveryToJson(f.delivery));
    const back = moduleDeliveryFromJson(text);
    expect(back).to.deep.equal(f.delivery);
    const { delta2 } = await deltaOf(f.ceremony);
    await checkModuleDelivery(f.key, f.dkey, delta2, CTX, f.W, back);
  });

  it("Should name the module and chunk of a bad delivery", async function () {
    const d = f.delivery;
    const expectFail = async (dd: ModuleDelivery, chunk: number | undefined, re: RegExp, opts = {}) => {
      const e = await rejection(checkModuleDelivery(f.key, f.dkey, f.ceremony, CTX, f.W, dd, opts));
      expect(e).to.be.instanceOf(DeliveryCheckError);
      expect((e as DeliveryCheckError).module).to.equal(CTX.module);
      expect((e as DeliveryCheckError).chunk).to.equal(chunk);
      expect(e.message).to.match(re);
    };
    await expectFail(d, undefined, /hK is not the one stored/, { expectedHK: 5n });
    await expectFail({ ...d, chunks: d.chunks.slice(0, 2) }, undefined, /2 chunks, the plan has 3/);
    await expectFail({ ...d, chunks: [d.chunks[1], d.chunks[0], d.chunks[2]] }, 0, /nonce 1, expected 0/);
    const relabelled = [{ ...d.chunks[1], nonce: 0 }, { ...d.chunks[0], nonce: 1 }, d.chunks[2]];
    await expectFail({ ...d, chunks: relabelled }, 0, /does not verify/);
    const ct = [...d.chunks[2].ct];
    ct[1] = (ct[1] + 1n) % P;
    await expectFail(
      { ...d, chunks: [d.chunks[0], d.chunks[1], { ...d.chunks[2], ct }] },
      2,
      /does not verify/,
    );
    const z = [...d.link.z];
    z[0] = (z[0] + 1n) % P;
    await expectFail({ ...d, link: { ...d.link, z } }, undefined, /delivery link/);
    await expectFail({ ...d, bits: 17 }, undefined, /BITS = 17/);
    const e = await rejection(checkModuleDelivery(f.key, f.dkey, f.ceremony, { ...CTX, module: 2 }, f.W, d));
    expect((e as DeliveryCheckError).module).to.equal(2);
  });

  it("Should refuse malformed JSON with the field's path", function () {
    const j = moduleDeliveryToJson(f.delivery);
    const bad = (mutate: (x: ReturnType<typeof moduleDeliveryToJson>) => void, re: RegExp) => {
      const c = structuredClone(j);
      mutate(c);
      const e = thrown(() => moduleDeliveryFromJson(c));
      expect(e).to.be.instanceOf(DeliveryFormatError);
      expect(e.message).to.match(re);
    };
    bad((c) => ((c as { version: string }).version = "v1"), /delivery\.version/);
    bad((c) => (c.chunks[1].ct[0] = P.toString()), /delivery\.chunks\[1\]\.ct\[0\]: must be a field element/);
    bad((c) => (c.link.z[3] = "-1"), /delivery\.link\.z\[3\]: must be a decimal string/);
    bad((c) => (c.chunks[0].Wc = ["1"] as unknown as [string, string]), /delivery\.chunks\[0\]\.Wc/);
    expect(thrown(() => moduleDeliveryFromJson("{"))).to.be.instanceOf(DeliveryFormatError);
  });

  it("Should flag the development ceremony key as forgeable and trust only a listed secret contribution", async function () {
    const dev = await checkDeliveryKey(f.dkey, f.ceremony);
    expect(dev.forgeable).to.equal(true);
    expect(dev.contributions.map((c) => c.beacon)).to.deep.equal([true]);
    expect(dev.delta2).to.deep.equal((await deltaOf(f.ceremony)).delta2);
    expect(
      await rejection(checkDeliveryKey(f.dkey, f.ceremony, { trusted: [dev.contributions[0].hash] })),
    ).to.be.instanceOf(DeliveryKeyError);
    expect((await checkDeliveryKey(f.dkey, f.dkey.zkey)).forgeable).to.equal(true);
    const mine = path.join(f.dir, "mine.zkey");
    const hash = await contributeDelta(f.ceremony, mine, { name: "buyer" });
    const checked = await checkDeliveryKey(f.dkey, mine, { trusted: ["0x" + hash.toUpperCase()] });
    expect(checked.forgeable).to.equal(false);
    expect(checked.contributions.map((c) => [c.hash, c.beacon])).to.deep.equal([
      [dev.contributions[0].hash, true],
      [hash, false],
    ]);
    expect(await rejection(checkDeliveryKey(f.dkey, mine, { trusted: ["ab".repeat(64)] }))).to.be.instanceOf(
      DeliveryKeyError,
    );
  });

  it("Should refuse a ceremony key whose L section was tampered", async function () {
    const bad = path.join(f.dir, "bad-L.zkey");
    await tamperZkey(f.ceremony, bad, (sec) => {
      const L = sec(8);
      const p0 = Buffer.from(L.subarray(0, 64));
      L.set(L.subarray(64, 128), 0);
      L.set(p0, 64);
    });
    const e = await rejection(checkDeliveryKey(f.dkey, bad));
    expect(e).to.be.instanceOf(DeltaUpdateError);
    expect(e.message).to.match(/section 8 \(L points\)/);
  });
});
