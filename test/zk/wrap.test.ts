/**
 * Protocol v2 key wrap (src/zk/wrap; PROTOCOL.md, "Weights delivered with the payment", "Per
 * deal"): the buyer's Baby Jubjub key and its checks, wrap and unwrap of delivery keys, the wrap
 * circuit's key and keyHash, the per-deal wrap key (contributeDelta / checkDeltaUpdate), real
 * Groth16 proofs for 3 and 17 modules, stock snarkjs's verdict on the public-input order, and every
 * cheat: another R, dealId, buyer, E or key, nonzero unused slots, another deal key's δ'.
 * One wrap key build (cached by content) and three proofs.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { AbiCoder, keccak256 } from "ethers";
import { poseidon1 } from "poseidon-lite";
import { PROJECT_ROOT } from "../../src/common/cache.js";
import {
  P,
  WitnessError,
  ShapeError,
  calculateWitness,
  checkWitness,
  readR1csInfo,
} from "../../src/zk/index.js";
import {
  DeltaUpdateError,
  checkDeltaUpdate,
  contributeDelta,
  deltaOf,
  type G2Point,
} from "../../src/zk/v2/index.js";
import {
  BABY_BASE8,
  BABY_IDENTITY,
  BABY_SUBORDER,
  UnwrapError,
  WRAP_PUBLIC_INPUTS,
  WRAP_SLOTS,
  WRAP_TAG,
  WrapKeyError,
  WrapVerifier,
  babyMul,
  buildWrapKey,
  buyerWrapKeypair,
  checkBuyerWrapKey,
  subgroupCertificate,
  babyEq,
  computeWrapKeyHash,
  deliveryKeyHash,
  proveKeyWrap,
  proveWrapGroup,
  toSolidityWrapProof,
  unwrapDeliveryKeys,
  verifyKeyWrap,
  wrapCircuitInput,
  wrapDeliveryKeys,
  wrapPad,
  wrapPublicInputs,
  type BabyPoint,
  type WrapKey,
  type WrapProof,
  type WrapStatement,
} from "../../src/zk/wrap/index.js";
import { addPoint } from "@zk-kit/baby-jubjub";

/** Expects an async call to reject with an error of `type` whose message matches `re`. */
async function expectReject(
  p: Promise<unknown>,
  type: new (...a: never[]) => Error,
  re?: RegExp,
): Promise<Error> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err, "expected a rejection").to.be.instanceOf(type);
  if (re) expect((err as Error).message).to.match(re);
  return err as Error;
}

/** The error a synchronous call throws, or undefined. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

/** n random delivery keys (field elements). */
function randomKeys(n: number): bigint[] {
  return Array.from({ length: n }, () => {
    const b = globalThis.crypto.getRandomValues(new Uint8Array(32));
    return BigInt("0x" + Buffer.from(b).toString("hex")) % P;
  });
}

const DEAL_ID = 7n;

interface Fixture {
  key: WrapKey;
  dealZkey: string;
  delta2: G2Point;
  otherZkey: string;
  otherDelta2: G2Point;
  buyer: { sk: bigint; pk: BabyPoint };
  keys3: bigint[];
  wrap3: ReturnType<typeof wrapDeliveryKeys>;
  proofs3: WrapProof[];
}

let fixture: Promise<Fixture> | undefined;

/** One wrap key, two per-deal wrap keys (real contributions, checked), one 3-module wrap and its proof. */
function wrapFixture(): Promise<Fixture> {
  fixture ??= (async () => {
    const key = await buildWrapKey();
    const dir = await mkdtemp(path.join(os.tmpdir(), "zklora-wrap-"));
    const dealZkey = path.join(dir, "deal.zkey");
    const otherZkey = path.join(dir, "other.zkey");
    await contributeDelta(key.zkey, dealZkey);
    await contributeDelta(key.zkey, otherZkey);
    const { delta2 } = await checkDeltaUpdate(key.zkey, dealZkey);
    const { delta2: otherDelta2 } = await checkDeltaUpdate(key.zkey, otherZkey);
    const buyer = buyerWrapKeypair();
    const keys3 = randomKeys(3);
    const wrap3 = wrapDeliveryKeys({
      pk: buyer.pk,
      dealId: DEAL_ID,
      modules: keys3.map((k, m) => ({ m, k })),
    });
    const proofs3 = await proveKeyWrap(key, dealZkey, {
      pk: buyer.pk,
      e: wrap3.e,
      E: wrap3.E,
      dealId: DEAL_ID,
      modules: keys3.map((k, m) => ({ m, k })),
    });
    return { key, dealZkey, delta2, otherZkey, otherDelta2, buyer, keys3, wrap3, proofs3 };
  })();
  return fixture;
}

describe("# protocol v2 key wrap: the buyer's key, wrap and unwrap", function () {
  it("Should accept a fresh buyer key and reject the identity, off-curve and low-order points", function () {
    const { sk, pk } = buyerWrapKeypair();
    expect(sk >= 1n && sk < BABY_SUBORDER).to.equal(true);
    expect(babyMul(BABY_BASE8, sk)).to.deep.equal(pk);
    expect(checkBuyerWrapKey(pk)).to.deep.equal(pk);
    const order2: BabyPoint = [0n, P - 1n]; // (0, −1) has order 2
    const mixed = addPoint(pk, order2); // on the curve, order 2·subOrder
    for (const [bad, re] of [
      [BABY_IDENTITY, /identity/],
      [[1n, 2n], /not on the Baby Jubjub curve/],
      [order2, /prime-order subgroup/],
      [[mixed[0], mixed[1]], /prime-order subgroup/],
      [[pk[0] + P, pk[1]], /two field elements/],
      [[pk[0]], /two field elements/],
    ] as const) {
      expect(() => checkBuyerWrapKey(bad as readonly bigint[])).to.throw(WrapKeyError, re);
    }
    expect(() => wrapDeliveryKeys({ pk: order2, dealId: DEAL_ID, modules: [{ m: 0, k: 1n }] })).to.throw(
      WrapKeyError,
    );
  });

  it("Should certify a subgroup key with q = 8⁻¹·pk (8·q = pk, the escrow's check) and refuse to certify others", function () {
    const { pk } = buyerWrapKeypair();
    const q = subgroupCertificate(pk);
    expect(babyMul(q, 8n)).to.deep.equal(pk);
    expect(babyEq(q, pk)).to.equal(false);
    const mixed = addPoint(pk, [0n, P - 1n]);
    expect(() => subgroupCertificate([mixed[0], mixed[1]])).to.throw(WrapKeyError, /prime-order subgroup/);
    expect(() => subgroupCertificate(BABY_IDENTITY)).to.throw(WrapKeyError, /identity/);
  });

  it("Should round-trip delivery keys for the buyer's sk only (fresh e per wrap)", function () {
    const buyer = buyerWrapKeypair();
    const keys = randomKeys(5);
    const modules = keys.map((k, m) => ({ m, k }));
    const w = wrapDeliveryKeys({ pk: buyer.pk, dealId: DEAL_ID, modules });
    expect(w.E).to.deep.equal(babyMul(BABY_BASE8, w.e));
    const S = babyMul(buyer.pk, w.e);
    expect(babyMul(w.E, buyer.sk)).to.deep.equal(S);
    w.R.forEach((R, m) => expect(R).to.equal((keys[m] + wrapPad(S, DEAL_ID, m)) % P));
    const hK = keys.map(deliveryKeyHash);
    expect(hK[0]).to.equal(poseidon1([keys[0]]));
    const toUnwrap = w.R.map((R, m) => ({ m, R, hK: hK[m] }));
    expect(unwrapDeliveryKeys({ sk: buyer.sk, E: w.E, dealId: DEAL_ID, modules: toUnwrap })).to.deep.equal(
      keys,
    );
    const again = wrapDeliveryKeys({ pk: buyer.pk, dealId: DEAL_ID, modules });
    expect(again.e).to.not.equal(w.e);
    expect(again.R[0]).to.not.equal(w.R[0]);
    // Another buyer, another deal, another module index: no key.
    const other = buyerWrapKeypair();
    const err = thrown(() =>
      unwrapDeliveryKeys({ sk: other.sk, E: w.E, dealId: DEAL_ID, modules: toUnwrap }),
    );
    expect(err).to.be.instanceOf(UnwrapError);
    expect((err as UnwrapError).module).to.equal(0);
    expect(() =>
      unwrapDeliveryKeys({ sk: buyer.sk, E: w.E, dealId: DEAL_ID + 1n, modules: toUnwrap }),
    ).to.throw(UnwrapError, /module 0/);
    expect(() =>
      unwrapDeliveryKeys({ sk: buyer.sk, E: w.E, dealId: DEAL_ID, modules: [{ ...toUnwrap[3], m: 4 }] }),
    ).to.throw(UnwrapError, /module 4/);
    expect(() =>
      unwrapDeliveryKeys({ sk: buyer.sk, E: [0n, P - 1n], dealId: DEAL_ID, modules: toUnwrap }),
    ).to.throw(WrapKeyError);
    expect(() => unwrapDeliveryKeys({ sk: 0n, E: w.E, dealId: DEAL_ID, modules: toUnwrap })).to.throw(
      WrapKeyError,
    );
  });

  it("Should give a third party holding PK, E, dealId, R and hK (not sk) no key", function () {
    const buyer = buyerWrapKeypair();
    const keys = randomKeys(3);
    const w = wrapDeliveryKeys({ pk: buyer.pk, dealId: DEAL_ID, modules: keys.map((k, m) => ({ m, k })) });
    const hK = keys.map(deliveryKeyHash);
    const guesses: BabyPoint[] = [
      [w.E[0], 0n], // E's x only
      [w.E[0], w.E[1]], // E itself
      buyer.pk, // pk itself
      babyMul(w.E, buyerWrapKeypair().sk), // a random sk
      babyMul(buyer.pk, buyerWrapKeypair().sk),
      [(buyer.pk[0] + w.E[0]) % P, (buyer.pk[1] + w.E[1]) % P],
      [0n, 1n],
    ];
    for (const S of guesses) {
      w.R.forEach((R, m) => {
        const k = (R - wrapPad(S, DEAL_ID, m) + P) % P;
        expect(poseidon1([k])).to.not.equal(hK[m]);
      });
    }
    // The right S does it (the guesses were computed in the same way).
    const S = babyMul(w.E, buyer.sk);
    w.R.forEach((R, m) => expect(poseidon1([(R - wrapPad(S, DEAL_ID, m) + P) % P])).to.equal(hK[m]));
  });
});

describe("# protocol v2 key wrap: circuit and key", function () {
  let f: Fixture;
  before(async function () {
    f = await wrapFixture();
  });

  it("Should have 39 public inputs (pk, E, dealId, base, count, hK[16], R[16]), the reported constraints and TAG", async function () {
    expect(WRAP_SLOTS).to.equal(16);
    expect(WRAP_PUBLIC_INPUTS).to.equal(39);
    const info = await readR1csInfo(f.key.r1cs);
    expect(info.nPubIn + info.nPubOut).to.equal(39);
    expect(info.nPubOut).to.equal(0);
    expect(f.key.constraints).to.equal(info.nConstraints);
    expect(f.key.constraints).to.equal(11721);
    expect(f.key.ptau.power).to.equal(14);
    expect(WRAP_TAG).to.equal(2482964944146499291533770392494448n);
    const src = await readFile(path.join(PROJECT_ROOT, "circuits", "wrap", "wrap_v2.circom"), "utf8");
    expect(src).to.include(`var TAG = ${WRAP_TAG};`);
  });

  it("Should split the key: α, β, γ and IC_0..IC_39, keyHash = keccak256(abi.encode(...)) over them", function () {
    const k = f.key.onchain;
    expect(k.ic).to.have.length(40);
    expect(new Set(k.ic.map((p) => p.join(","))).size).to.equal(40);
    const hash = keccak256(
      AbiCoder.defaultAbiCoder().encode(
        ["bytes32", "bytes32", "uint256[2]", "uint256[4]", "uint256[4]", "uint256[2][]"],
        ["0x" + f.key.r1csSha256, "0x" + f.key.ptau.sha256, k.alpha1, k.beta2, k.gamma2, k.ic],
      ),
    );
    expect(f.key.keyHash).to.equal(hash);
    expect(computeWrapKeyHash(f.key.r1csSha256, f.key.ptau.sha256, k)).to.equal(hash);
    const ic = k.ic.map((p) => [...p] as [bigint, bigint]);
    ic[39] = ic[38];
    expect(computeWrapKeyHash(f.key.r1csSha256, f.key.ptau.sha256, { ...k, ic })).to.not.equal(hash);
  });

  it("Should make per-deal wrap keys like module deal keys: fresh δ', checked against the contributor's own initial key", async function () {
    expect((await deltaOf(f.dealZkey)).delta2).to.deep.equal(f.delta2);
    expect(f.delta2).to.not.deep.equal(f.otherDelta2);
    expect(f.delta2).to.not.deep.equal((await deltaOf(f.key.zkey)).delta2);
    await expectReject(
      checkDeltaUpdate(f.key.zkey, f.dealZkey, { expectedDelta2: f.otherDelta2 }),
      DeltaUpdateError,
      /recorded for the deal/,
    );
  });
});

describe("# protocol v2 key wrap: proving and verifying", function () {
  let f: Fixture;
  let st: WrapStatement;
  let x: bigint[];
  before(async function () {
    f = await wrapFixture();
    st = f.proofs3[0].statement;
    x = f.proofs3[0].publicInputs;
  });

  it("Should prove 3 modules in one proof that verifies under the deal's δ' and unwraps for the buyer", async function () {
    expect(f.proofs3).to.have.length(1);
    expect(st.base).to.equal(0);
    expect(st.count).to.equal(3);
    expect(st.R).to.deep.equal(f.wrap3.R);
    expect(x).to.have.length(39);
    expect(x.slice(0, 7)).to.deep.equal([...f.buyer.pk, ...f.wrap3.E, DEAL_ID, 0n, 3n]);
    expect(x.slice(10, 23).every((v) => v === 0n)).to.equal(true);
    expect(x.slice(26).every((v) => v === 0n)).to.equal(true);
    expect(x).to.deep.equal(wrapPublicInputs(st));
    expect(await verifyKeyWrap(f.key, f.delta2, f.proofs3[0].proof, x)).to.equal(true);
    const keys = unwrapDeliveryKeys({
      sk: f.buyer.sk,
      E: st.E,
      dealId: DEAL_ID,
      modules: st.R.map((R, m) => ({ m, R, hK: st.hK[m] })),
    });
    expect(keys).to.deep.equal(f.keys3);
    const sol = toSolidityWrapProof(f.proofs3[0].proof);
    const pb = f.proofs3[0].proof.pi_b;
    expect(sol.b).to.deep.equal([pb[0][1], pb[0][0], pb[1][1], pb[1][0]].map(BigInt));
  });

  it("Should prove 17 modules in two groups (16 + 1) that verify and unwrap", async function () {
    this.timeout(300_000);
    const keys = randomKeys(17);
    const modules = keys.map((k, m) => ({ m, k }));
    const w = wrapDeliveryKeys({ pk: f.buyer.pk, dealId: DEAL_ID, modules });
    const proofs = await proveKeyWrap(f.key, f.dealZkey, {
      pk: f.buyer.pk,
      e: w.e,
      E: w.E,
      dealId: DEAL_ID,
      modules,
    });
    expect(proofs.map((p) => [p.statement.base, p.statement.count])).to.deep.equal([
      [0, 16],
      [16, 1],
    ]);
    const v = await WrapVerifier.create(f.key.onchain, f.delta2);
    for (const p of proofs) expect(await v.verify(p.proof, p.publicInputs)).to.equal(true);
    expect([...proofs[0].statement.R, ...proofs[1].statement.R]).to.deep.equal(w.R);
    const hK = [...proofs[0].statement.hK, ...proofs[1].statement.hK];
    expect(hK).to.deep.equal(keys.map((k) => poseidon1([k])));
    const unwrapped = unwrapDeliveryKeys({
      sk: f.buyer.sk,
      E: w.E,
      dealId: DEAL_ID,
      modules: w.R.map((R, m) => ({ m, R, hK: hK[m] })),
    });
    expect(unwrapped).to.deep.equal(keys);
    // The groups are not interchangeable: group 1's proof is not one for base 0.
    const moved = wrapPublicInputs({ ...proofs[1].statement, base: 0 });
    expect(await v.verify(proofs[1].proof, moved)).to.equal(false);
    const err = thrown(() =>
      unwrapDeliveryKeys({
        sk: buyerWrapKeypair().sk,
        E: w.E,
        dealId: DEAL_ID,
        modules: w.R.map((R, m) => ({ m, R, hK: hK[m] })),
      }),
    );
    expect(err).to.be.instanceOf(UnwrapError);
    expect(err).to.have.property("module", 0);
  });

  it("Should be accepted by stock snarkjs (its CLI) given wrapPublicInputs, and refused with one input changed", async function () {
    const dir = await mkdtemp(path.join(os.tmpdir(), "zklora-wrap-snarkjs-"));
    const cli = path.join(PROJECT_ROOT, "node_modules", "snarkjs", "build", "cli.cjs");
    const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });
    expect(run(["zkey", "export", "verificationkey", f.dealZkey, path.join(dir, "vk.json")]).status).to.equal(
      0,
    );
    const files = ["vk.json", "public.json", "proof.json"].map((n) => path.join(dir, n));
    await writeFile(files[1], JSON.stringify(x.map(String)));
    await writeFile(files[2], JSON.stringify(f.proofs3[0].proof));
    const ok = run(["groth16", "verify", ...files]);
    expect(ok.status, ok.stdout + ok.stderr).to.equal(0);
    const bad = x.map(String);
    bad[4] = String(DEAL_ID + 1n);
    await writeFile(files[1], JSON.stringify(bad));
    expect(run(["groth16", "verify", ...files]).status).to.not.equal(0);
  });

  it("Should not verify under another deal key's δ' (nor the initial key's), and not be released by a prover checking another δ'", async function () {
    expect(await verifyKeyWrap(f.key, f.otherDelta2, f.proofs3[0].proof, x)).to.equal(false);
    expect(await verifyKeyWrap(f.key, (await deltaOf(f.key.zkey)).delta2, f.proofs3[0].proof, x)).to.equal(
      false,
    );
    const wrongVerifier = await WrapVerifier.create(f.key.onchain, f.otherDelta2);
    await expectReject(
      proveWrapGroup(f.key, f.dealZkey, st, { e: f.wrap3.e, k: f.keys3 }, { verifier: wrongVerifier }),
      WitnessError,
      /not released/,
    );
  });

  it("Should refuse the proof for another R, dealId, buyer, E, hK, base or count", async function () {
    const v = await WrapVerifier.create(f.key.onchain, f.delta2);
    const other = buyerWrapKeypair();
    const R = [...st.R];
    R[1] = (R[1] + 1n) % P;
    const hK = [...st.hK];
    hK[2] = poseidon1([f.keys3[2] + 1n]);
    for (const s of [
      { ...st, R },
      { ...st, dealId: DEAL_ID + 1n },
      { ...st, pk: other.pk },
      { ...st, E: other.pk },
      { ...st, hK },
      { ...st, base: 1 },
      { ...st, count: 2, hK: st.hK.slice(0, 2), R: st.R.slice(0, 2) },
    ]) {
      expect(await v.verify(f.proofs3[0].proof, wrapPublicInputs(s))).to.equal(false);
    }
    const tooBig = [...x];
    tooBig[4] = DEAL_ID + P;
    expect((await v.check(f.proofs3[0].proof, tooBig)).ok).to.equal(false);
    expect((await v.check(f.proofs3[0].proof, x.slice(1))).ok).to.equal(false);
  });

  it("Should have no witness for another R, dealId, buyer or E, a key not behind hK, or nonzero unused slots", async function () {
    const secret = { e: f.wrap3.e, k: f.keys3 };
    const honest = wrapCircuitInput(st, secret);
    expect(await checkWitness(f.key, await calculateWitness(f.key, honest))).to.equal(true);
    const other = buyerWrapKeypair();
    const R = [...st.R];
    R[1] = (R[1] + 1n) % P;
    const keys = [...f.keys3];
    keys[0] += 1n;
    const cheats: [string, Record<string, unknown>][] = [
      ["another R_1", wrapCircuitInput({ ...st, R }, secret)],
      ["another dealId", wrapCircuitInput({ ...st, dealId: DEAL_ID + 1n }, secret)],
      ["another buyer's pk", wrapCircuitInput({ ...st, pk: other.pk }, secret)],
      ["another E", wrapCircuitInput({ ...st, E: babyMul(st.E, 2n) }, secret)],
      ["another e", wrapCircuitInput(st, { ...secret, e: secret.e + 1n })],
      ["a key whose hash is not hK", wrapCircuitInput(st, { ...secret, k: keys })],
      ["modules shifted by one", wrapCircuitInput({ ...st, base: 1 }, secret)],
      ["a nonzero unused R", { ...honest, R: (honest.R as string[]).map((v, i) => (i === 3 ? "1" : v)) }],
      ["a nonzero unused hK", { ...honest, hK: (honest.hK as string[]).map((v, i) => (i === 15 ? "5" : v)) }],
      ["count 2 with a third slot filled", { ...honest, count: "2" }],
      ["count 17", { ...honest, count: "17" }],
      ["count −1", { ...honest, count: String(P - 1n) }],
      ["pk off the curve", { ...honest, pk: [honest.pk[0], "2"] }],
      // e + 2·subOrder gives the same E and S but is ≥ 2^251: only the range check refuses it.
      ["e ≥ 2^251 (same E and S)", { ...honest, e: String(secret.e + 2n * BABY_SUBORDER) }],
    ];
    for (const [what, input] of cheats) {
      await expectReject(calculateWitness(f.key, input), WitnessError).catch((err: Error) => {
        throw new Error(`${what}: ${err.message}`);
      });
    }
    // The prover refuses too (nothing released).
    await expectReject(
      proveWrapGroup(f.key, f.dealZkey, { ...st, dealId: DEAL_ID + 1n }, secret),
      WitnessError,
      /do not satisfy/,
    );
  });

  it("Should check the prover's arguments: a valid pk, E = e·Base8, modules 0..M−1, count ≤ 16", async function () {
    const base = { pk: f.buyer.pk, e: f.wrap3.e, E: f.wrap3.E, dealId: DEAL_ID, modules: [{ m: 0, k: 1n }] };
    await expectReject(proveKeyWrap(f.key, f.dealZkey, { ...base, pk: [0n, P - 1n] }), WrapKeyError);
    await expectReject(proveKeyWrap(f.key, f.dealZkey, { ...base, E: f.buyer.pk }), WrapKeyError, /e·Base8/);
    await expectReject(proveKeyWrap(f.key, f.dealZkey, { ...base, modules: [{ m: 1, k: 1n }] }), ShapeError);
    await expectReject(proveKeyWrap(f.key, f.dealZkey, { ...base, modules: [] }), ShapeError);
    expect(() =>
      wrapPublicInputs({
        ...st,
        count: 17,
        hK: new Array<bigint>(17).fill(0n),
        R: new Array<bigint>(17).fill(0n),
      }),
    ).to.throw(ShapeError);
    expect(() => wrapPublicInputs({ ...st, count: 2 })).to.throw(ShapeError);
  });
});
