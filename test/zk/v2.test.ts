/**
 * Protocol v2, ZK core (PROTOCOL.md v2): the circuit (honest statement passes, every cheat fails),
 * the shape key and its split, W_m and its proof of knowledge, the buyer's fold and the
 * contributor's check of it, the per-deal δ update and its check, proving (in process and through
 * the proving pool), off-chain verification (single and batch) and stock snarkjs's verdict on the
 * full public inputs. Real keys and proofs of the tiny shape throughout.
 */
import { spawnSync } from "node:child_process";
import { copyFile, mkdtemp, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { encodeBytes32String, keccak256, solidityPacked } from "ethers";
import { PROJECT_ROOT, sha256File } from "../../src/common/cache.js";
import {
  P,
  WitnessError,
  calculateWitness,
  checkWitness,
  loraProduct,
  readR1csInfo,
} from "../../src/zk/index.js";
import { ProvingPool } from "../../src/zk/pool.js";
import { engine } from "../../src/zk/verifier.js";
import {
  DeltaUpdateError,
  FoldMismatchError,
  V2Verifier,
  activationDigest,
  buildShapeKey,
  checkDeltaUpdate,
  checkFoldedEntry,
  checkWeightPok,
  commitWeights,
  computeKeyHash,
  contributeDelta,
  deltaOf,
  foldEntry,
  groth16Header,
  outputDigestV2,
  pointsHash,
  proveV2,
  publicInputCount,
  readZkeySections,
  v2CircuitInput,
  v2Constraints,
  v2PublicInputs,
  verifyWeightPok,
  weightCommitmentV2,
  weightCount,
  type ModuleOpening,
} from "../../src/zk/v2/index.js";
import { runSnarkjsCli } from "../../src/zk/v2/key.js";
import {
  CTX,
  RHO_CTX,
  TINY_V2,
  TWIN_V2,
  randomOpening,
  randomRows,
  v2Fixture,
  type V2Fixture,
} from "./v2-fixture.js";

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

describe("# protocol v2: circuit (v2_i8_r2_o6)", function () {
  let f: V2Fixture;
  before(async function () {
    f = await v2Fixture();
  });

  const input = (over: Partial<{ rho: bigint; fY: bigint; x: bigint[] }>, o?: ModuleOpening) =>
    v2CircuitInput(
      f.key,
      { rho: over.rho ?? f.entry.rho, fY: over.fY ?? f.entry.fY, x: over.x ?? f.entry.x },
      o ?? f.opening,
    );

  it("Should accept the honest statement (witness satisfies the r1cs)", async function () {
    const wtns = await calculateWitness(f.key, input({}));
    expect(await checkWitness(f.key, wtns)).to.equal(true);
  });

  it("Should reject another fY, rho, fold x or weights", async function () {
    await expectReject(calculateWitness(f.key, input({ fY: (f.entry.fY + 1n) % P })), WitnessError);
    await expectReject(calculateWitness(f.key, input({ rho: (f.entry.rho + 1n) % P })), WitnessError);
    const x = [...f.entry.x];
    x[3] = (x[3] + 1n) % P;
    await expectReject(calculateWitness(f.key, input({ x })), WitnessError);
    const A = f.opening.A.map((r) => [...r]);
    A[2][1] += 1n;
    await expectReject(calculateWitness(f.key, input({}, { ...f.opening, A })), WitnessError);
    const B = f.opening.B.map((r) => [...r]);
    B[1][5] -= 1n;
    await expectReject(calculateWitness(f.key, input({}, { ...f.opening, B })), WitnessError);
  });

  it("Should accept any salt (the salt is bound by W_m, not by a constraint)", async function () {
    const wtns = await calculateWitness(f.key, input({}, { ...f.opening, salt: 12345n }));
    expect(await checkWitness(f.key, wtns)).to.equal(true);
  });

  it("Should have exactly N + DOUT − 2 constraints (below the floor N + DIN + DOUT) and rho, fY, x, w, salt public", async function () {
    const info = await readR1csInfo(f.key.r1cs);
    expect(info.nConstraints).to.equal(v2Constraints(TINY_V2));
    expect(info.nConstraints).to.equal(weightCount(TINY_V2) + TINY_V2.DOUT - 2);
    expect(info.nConstraints).to.be.below(weightCount(TINY_V2) + TINY_V2.DIN + TINY_V2.DOUT);
    expect(info.nPubIn + info.nPubOut).to.equal(publicInputCount(TINY_V2));
    expect(info.nPrvIn).to.equal(0);
  });
});

describe("# protocol v2: shape key", function () {
  let f: V2Fixture;
  before(async function () {
    f = await v2Fixture();
  });

  it("Should split the key: on-chain constants, DIN + N + 1 bases, keyHash over both", async function () {
    const { key } = f;
    expect(key.bases.byteLength).to.equal((TINY_V2.DIN + weightCount(TINY_V2) + 1) * 64);
    expect(key.basesHash).to.equal(await pointsHash(key.bases));
    expect(key.keyHash).to.equal(
      computeKeyHash(key.shape, key.r1csSha256, key.ptau.sha256, key.onchain, key.basesHash),
    );
    const other = { ...key.onchain, icFY: key.onchain.icRho };
    expect(computeKeyHash(key.shape, key.r1csSha256, key.ptau.sha256, other, key.basesHash)).to.not.equal(
      key.keyHash,
    );
    const hdr = groth16Header((await readZkeySections(key.zkey, [2])).sections.get(2)!);
    expect(hdr.nPublic).to.equal(publicInputCount(TINY_V2));
  });

  it("Should have a nonzero, distinct IC point for every committed input, IC[salt] included", async function () {
    const { key } = f;
    const seen = new Set<string>();
    for (let i = 0; i < key.bases.byteLength / 64; i++) {
      const b = Buffer.from(key.bases.subarray(i * 64, (i + 1) * 64));
      expect(
        b.every((x) => x === 0),
        `base ${i} is the point at infinity`,
      ).to.equal(false);
      seen.add(b.toString("hex"));
    }
    expect(seen.size).to.equal(key.bases.byteLength / 64);
  });

  it("Should start from a key anyone recomputes byte for byte (newZKey, δ = 1)", async function () {
    const { key } = f;
    const dir = await mkdtemp(path.join(os.tmpdir(), "zklora-v2-key-"));
    const again = path.join(dir, "again.zkey");
    await runSnarkjsCli(["zkey", "new", key.r1cs, key.ptau.path, again], "test");
    expect(await sha256File(again)).to.equal(await sha256File(key.zkey));
    const c = await engine();
    const d = await deltaOf(key.zkey);
    const g2 = c.G2.toObject(c.G2.toAffine(c.G2.g)) as bigint[][];
    expect(d.delta2).to.deep.equal([g2[0][1], g2[0][0], g2[1][1], g2[1][0]]);
  });
});

describe("# protocol v2: W_m and its proof of knowledge", function () {
  let f: V2Fixture;
  before(async function () {
    f = await v2Fixture();
  });

  it("Should accept the contributor's proof for its W_m, in its context", async function () {
    expect(await checkWeightPok(f.key, f.W, f.pok, CTX)).to.deep.equal({ ok: true });
    await verifyWeightPok(f.key, f.W, f.pok, CTX);
  });

  it("Should commit with fresh nonces: the same weights give the same W_m and another proof", async function () {
    const again = await commitWeights(f.key, f.opening, CTX);
    expect(again.W).to.deep.equal(f.W);
    expect(again.pok.T).to.not.deep.equal(f.pok.T);
    expect(await checkWeightPok(f.key, again.W, again.pok, CTX)).to.deep.equal({ ok: true });
  });

  it("Should hide the weights behind the salt and bind them (another salt, another weight: another W_m)", async function () {
    const W2 = await weightCommitmentV2(f.key, { ...f.opening, salt: (f.opening.salt + 1n) % P });
    expect(W2).to.not.deep.equal(f.W);
    const A = f.opening.A.map((r) => [...r]);
    A[0][0] += 1n;
    expect(await weightCommitmentV2(f.key, { ...f.opening, A })).to.not.deep.equal(f.W);
  });

  it("Should reject a proof for other weights, another W_m, another shape or another context", async function () {
    const other = await commitWeights(f.key, randomOpening(TINY_V2, 99), CTX);
    expect((await checkWeightPok(f.key, f.W, other.pok, CTX)).ok).to.equal(false);
    expect((await checkWeightPok(f.key, other.W, f.pok, CTX)).ok).to.equal(false);
    const twin = await buildShapeKey(TWIN_V2);
    expect(weightCount(TWIN_V2)).to.equal(weightCount(TINY_V2));
    expect((await checkWeightPok(twin, f.W, f.pok, CTX)).ok).to.equal(false);
    for (const ctx of [
      { ...CTX, module: 1 },
      { ...CTX, chainId: 1n },
      { ...CTX, escrow: CTX.contributor },
      { ...CTX, contributor: CTX.escrow },
    ]) {
      expect((await checkWeightPok(f.key, f.W, f.pok, ctx)).ok).to.equal(false);
    }
    await expectReject(
      verifyWeightPok(f.key, f.W, f.pok, { ...CTX, module: 3 }),
      Error,
      /module 3.*does not verify/,
    );
  });

  it("Should reject tampered responses, T, and malformed input without throwing", async function () {
    const z = [...f.pok.z];
    z[5] = (z[5] + 1n) % P;
    expect((await checkWeightPok(f.key, f.W, { ...f.pok, z }, CTX)).ok).to.equal(false);
    expect((await checkWeightPok(f.key, f.W, { ...f.pok, T: f.W }, CTX)).ok).to.equal(false);
    expect((await checkWeightPok(f.key, f.W, { ...f.pok, z: z.slice(1) }, CTX)).ok).to.equal(false);
    expect((await checkWeightPok(f.key, f.W, { ...f.pok, z: [...z.slice(1), P] }, CTX)).ok).to.equal(false);
    expect((await checkWeightPok(f.key, [1n, 3n], f.pok, CTX)).ok).to.equal(false);
  });

  it("Should leave a forged W_m = −(IC_0 + ρ·IC[ρ] + fY·IC[fY] + D_X) without any valid proof of knowledge", async function () {
    // The forgery makes vk_x = O, so A = [α]₁, B = [β]₂, C = O passes the bare pairing check (the
    // contract test shows the verifier contract accepting it); the proof of knowledge is what refuses it.
    const c = await engine();
    const { onchain } = f.key;
    const pt = (p: [bigint, bigint]) => c.G1.fromObject([p[0], p[1], 1n]);
    let s = c.G1.add(pt(onchain.ic0), c.G1.timesScalar(pt(onchain.icRho), f.entry.rho));
    s = c.G1.add(s, c.G1.timesScalar(pt(onchain.icFY), f.entry.fY));
    s = c.G1.add(s, pt(f.entry.D_X));
    const forged = c.G1.toObject(c.G1.toAffine(c.G1.neg(s))) as bigint[];
    const W: [bigint, bigint] = [forged[0], forged[1]];
    expect((await checkWeightPok(f.key, W, f.pok, CTX)).ok).to.equal(false);
    const someone = await commitWeights(f.key, randomOpening(TINY_V2, 5), CTX);
    expect((await checkWeightPok(f.key, W, someone.pok, CTX)).ok).to.equal(false);
  });
});

describe("# protocol v2: fold, digests and the contributor's check", function () {
  let f: V2Fixture;
  before(async function () {
    f = await v2Fixture();
  });

  it("Should give fY = x·A·B·s for the fold x (σ = ρ^DOUT)", async function () {
    const { rho, x, fY } = f.entry;
    const { A, B } = f.opening;
    let direct = 0n;
    const s = Array.from({ length: TINY_V2.DOUT }, (_, j) => {
      let v = 1n;
      for (let e = 0; e < j; e++) v = (v * rho) % P;
      return v;
    });
    for (let i = 0; i < TINY_V2.DIN; i++) {
      for (let k = 0; k < TINY_V2.R; k++) {
        let b = 0n;
        for (let j = 0; j < TINY_V2.DOUT; j++) b += B[k][j] * s[j];
        direct += x[i] * A[i][k] * b;
      }
    }
    expect(((direct % P) + P) % P).to.equal(fY);
  });

  it("Should let the contributor accept the honest entry and refuse any posted value that differs", async function () {
    const { key, X, Y, entry } = f;
    const posted = { hX: entry.hX, hY: entry.hY, fY: entry.fY, D_X: entry.D_X };
    await checkFoldedEntry(key, X, Y, RHO_CTX, posted);
    await expectReject(
      checkFoldedEntry(key, X, Y, RHO_CTX, { ...posted, fY: (entry.fY + 1n) % P }),
      FoldMismatchError,
      /fY/,
    );
    await expectReject(
      checkFoldedEntry(key, X, Y, RHO_CTX, { ...posted, D_X: key.onchain.ic0 }),
      FoldMismatchError,
      /D_X/,
    );
    await expectReject(
      checkFoldedEntry(key, X, Y, RHO_CTX, { ...posted, hX: entry.hY }),
      FoldMismatchError,
      /hX/,
    );
    await expectReject(
      checkFoldedEntry(key, X, Y, RHO_CTX, { ...posted, hY: entry.hX }),
      FoldMismatchError,
      /hY/,
    );
    // A buyer that folded other rows (here: one row dropped) posts values the contributor's log refuses.
    const fewer = await foldEntry(key, X.slice(1), Y.slice(1), RHO_CTX);
    await expectReject(checkFoldedEntry(key, X, Y, RHO_CTX, fewer), FoldMismatchError);
  });

  it("Should bind rho to the rows and the deal: another row, deal or module gives another rho", async function () {
    const { key, X, Y, entry } = f;
    const Y2 = Y.map((r) => [...r]);
    Y2[2][0] += 1n;
    expect((await foldEntry(key, X, Y2, RHO_CTX)).rho).to.not.equal(entry.rho);
    expect((await foldEntry(key, X, Y, { ...RHO_CTX, dealId: 2n })).rho).to.not.equal(entry.rho);
    expect((await foldEntry(key, X, Y, { ...RHO_CTX, module: 1n })).rho).to.not.equal(entry.rho);
  });

  it("Should hash rows injectively (length-prefixed, tagged, = abi.encodePacked) and refuse |Y| ≥ (p−1)/2", async function () {
    const rows = [
      [1n, -2n],
      [3n, 2n ** 70n],
    ];
    const a = await activationDigest(rows, 2);
    const packed = solidityPacked(
      ["bytes32", "uint256", "uint256", "int256", "int256", "int256", "int256"],
      [encodeBytes32String("zklora.v2.X"), 2, 2, 1n, -2n, 3n, 2n ** 70n],
    );
    expect(a).to.equal(keccak256(packed));
    expect(await activationDigest([[1n, -2n, 3n, 2n ** 70n]], 4)).to.not.equal(a);
    expect(await outputDigestV2(rows, 2)).to.not.equal(a);
    expect(await activationDigest([[-1n, -2n], rows[1]], 2)).to.not.equal(a);
    const half = (P - 1n) / 2n;
    await expectReject(outputDigestV2([[half, 0n]], 2), Error, /below \(p-1\)\/2/);
    await expectReject(outputDigestV2([[-half, 0n]], 2), Error, /below \(p-1\)\/2/);
    await outputDigestV2([[half - 1n, 0n]], 2);
    await expectReject(activationDigest([[1n]], 2), Error, /entries/);
  });
});

/** Writes a copy of a zkey with `edit` applied to the bytes of its sections. */
async function tamperZkey(
  src: string,
  dst: string,
  edit: (sec: (id: number) => Uint8Array, buf: Buffer) => void,
): Promise<void> {
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
  edit((id) => buf.subarray(at.get(id)!.pos, at.get(id)!.pos + at.get(id)!.size), buf);
  await writeFile(dst, buf);
}

describe("# protocol v2: the per-deal δ update", function () {
  let f: V2Fixture;
  let dir: string;
  before(async function () {
    f = await v2Fixture();
    dir = await mkdtemp(path.join(os.tmpdir(), "zklora-v2-delta-"));
  });

  it("Should accept the buyer's contribution against the contributor's own initial key", async function () {
    const d = await checkDeltaUpdate(f.key.zkey, f.dealZkey, { expectedDelta2: f.delta2 });
    expect(d.delta2).to.deep.equal(f.delta2);
    const init = await deltaOf(f.key.zkey);
    expect(d.delta2).to.not.deep.equal(init.delta2);
  });

  it("Should give every contribution a fresh δ' (a secret never reused)", async function () {
    const other = path.join(dir, "other.zkey");
    await contributeDelta(f.key.zkey, other);
    expect((await deltaOf(other)).delta2).to.not.deep.equal(f.delta2);
    await checkDeltaUpdate(f.key.zkey, other);
  });

  it("Should refuse a δ' other than the one recorded for the deal", async function () {
    const init = await deltaOf(f.key.zkey);
    await expectReject(
      checkDeltaUpdate(f.key.zkey, f.dealZkey, { expectedDelta2: init.delta2 }),
      DeltaUpdateError,
      /recorded/,
    );
  });

  it("Should refuse a tampered L point, a backdoored last H point, and changed IC or A sections", async function () {
    const c = await engine();
    const cases: [string, (sec: (id: number) => Uint8Array) => void, RegExp][] = [
      [
        "L",
        (sec) => {
          const L = sec(8);
          const p0 = Buffer.from(L.subarray(0, 64));
          L.set(L.subarray(64, 128), 0);
          L.set(p0, 64);
        },
        /section 8 \(L points\)/,
      ],
      [
        "H",
        (sec) => {
          const H = sec(9);
          const o = H.byteLength - 64;
          H.set(c.G1.toAffine(c.G1.add(H.slice(o, o + 64), c.G1.g)), o);
        },
        /section 9 \(H points\)/,
      ],
      [
        "IC",
        (sec) => {
          const ic = sec(3);
          ic.set(ic.slice(64, 128), ic.byteLength - 64);
        },
        /section 3 \(IC\)/,
      ],
      ["A", (sec) => sec(5).set(sec(5).slice(64, 128), 0), /section 5/],
    ];
    for (const [name, edit, re] of cases) {
      const bad = path.join(dir, `bad-${name}.zkey`);
      await tamperZkey(f.dealZkey, bad, (sec) => edit(sec));
      await expectReject(checkDeltaUpdate(f.key.zkey, bad), DeltaUpdateError, re);
    }
  });

  it("Should refuse [δ']₁ = O and a [δ']₁ that is not the multiple [δ']₂ is", async function () {
    const sec2 = (await readZkeySections(f.key.zkey, [2])).sections.get(2)!;
    const h = groth16Header(sec2);
    const zero = path.join(dir, "zero-delta1.zkey");
    await tamperZkey(f.dealZkey, zero, (sec) => sec(2).fill(0, h.at.delta1, h.at.delta1 + 64));
    await expectReject(
      checkDeltaUpdate(f.key.zkey, zero),
      DeltaUpdateError,
      /\[δ'\]₁ is the point at infinity/,
    );
    const other = path.join(dir, "other2.zkey");
    await contributeDelta(f.key.zkey, other);
    const otherSec2 = (await readZkeySections(other, [2])).sections.get(2)!;
    const mixed = path.join(dir, "mixed.zkey");
    await tamperZkey(f.dealZkey, mixed, (sec) =>
      sec(2).set(otherSec2.subarray(h.at.delta1, h.at.delta1 + 64), h.at.delta1),
    );
    await expectReject(checkDeltaUpdate(f.key.zkey, mixed), DeltaUpdateError, /not the same multiple/);
  });

  it("Should refuse a file that is not a zkey with a clear error", async function () {
    const junk = path.join(dir, "junk.zkey");
    await writeFile(junk, "not a zkey");
    await expectReject(checkDeltaUpdate(f.key.zkey, junk), Error, /not a zkey file/);
  });
});

describe("# protocol v2: proving and verifying", function () {
  let f: V2Fixture;
  let proof: Awaited<ReturnType<typeof proveV2>>["proof"];
  before(async function () {
    f = await v2Fixture();
    proof = (await proveV2(f.key, f.dealZkey, f.entry, f.opening, { D_X: f.entry.D_X, W_m: f.W })).proof;
  });

  const st = () => ({ rho: f.entry.rho, fY: f.entry.fY, D_X: f.entry.D_X, W_m: f.W });

  it("Should verify the proof under the deal's δ' and only there", async function () {
    const v = await V2Verifier.create(f.key.onchain, f.delta2);
    expect(await v.check(proof, st())).to.deep.equal({ ok: true });
    const shapeDelta = await V2Verifier.create(f.key.onchain, (await deltaOf(f.key.zkey)).delta2);
    expect(await shapeDelta.verify(proof, st())).to.equal(false);
  });

  it("Should reject the proof for another rho, fY, D_X or W_m", async function () {
    const v = await V2Verifier.create(f.key.onchain, f.delta2);
    const other = await commitWeights(f.key, randomOpening(TINY_V2, 3), CTX);
    for (const s of [
      { ...st(), rho: (f.entry.rho + 1n) % P },
      { ...st(), fY: (f.entry.fY + 1n) % P },
      { ...st(), D_X: f.key.onchain.ic0 },
      { ...st(), W_m: other.W },
    ]) {
      expect(await v.verify(proof, s)).to.equal(false);
    }
    expect((await v.check(proof, { ...st(), fY: P })).ok).to.equal(false);
  });

  it("Should prove with the deal key the file holds now (a key replaced at the same path is read again)", async function () {
    const dir = await mkdtemp(path.join(os.tmpdir(), "zklora-v2-rekey-"));
    const zkey = path.join(dir, "deal.zkey");
    await copyFile(f.dealZkey, zkey);
    const prove = async () =>
      (await proveV2(f.key, zkey, f.entry, f.opening, { D_X: f.entry.D_X, W_m: f.W })).proof;
    const vOld = await V2Verifier.create(f.key.onchain, f.delta2);
    const p1 = await prove();
    const p2 = await prove();
    expect(await vOld.verify(p1, st())).to.equal(true);
    expect(await vOld.verify(p2, st())).to.equal(true);
    expect(p2).to.not.deep.equal(p1); // fresh blinding per proof
    await contributeDelta(f.key.zkey, zkey); // another δ' at the same path
    const vNew = await V2Verifier.create(f.key.onchain, (await deltaOf(zkey)).delta2);
    const p3 = await prove();
    expect(await vNew.verify(p3, st())).to.equal(true);
    expect(await vOld.verify(p3, st())).to.equal(false);
  });

  it("Should refuse to prove outputs that are not X·A·B (nothing released)", async function () {
    const Y = f.Y.map((r) => [...r]);
    Y[1][2] += 1n;
    const lie = await foldEntry(f.key, f.X, Y, RHO_CTX);
    await expectReject(proveV2(f.key, f.dealZkey, lie, f.opening, { D_X: lie.D_X, W_m: f.W }), WitnessError);
  });

  it("Should prove through the proving pool and batch-verify a deal's proofs of one shape", async function () {
    this.timeout(300_000);
    const pool = new ProvingPool({ maxWorkers: 1 });
    try {
      const X2 = randomRows(TINY_V2.DIN, 5, 21);
      const e2 = await foldEntry(
        f.key,
        X2,
        loraProduct(X2, f.opening.A as bigint[][], f.opening.B as bigint[][]),
        { ...RHO_CTX, module: 1n },
      );
      const p2 = await proveV2(f.key, f.dealZkey, e2, f.opening, { D_X: e2.D_X, W_m: f.W }, { pool });
      const st2 = { rho: e2.rho, fY: e2.fY, D_X: e2.D_X, W_m: f.W };
      const v = await V2Verifier.create(f.key.onchain, f.delta2);
      expect(await v.verify(p2.proof, st2)).to.equal(true);
      expect(await v.verifyBatch([proof, p2.proof], [st(), st2])).to.equal(true);
      expect(await v.verifyBatch([proof, p2.proof], [st(), { ...st2, fY: (st2.fY + 1n) % P }])).to.equal(
        false,
      );
      expect(await v.verifyBatch([p2.proof, proof], [st(), st2])).to.equal(false);
    } finally {
      await pool.close();
    }
  });

  it("Should be accepted by stock snarkjs (its CLI, another process) given the full public inputs", async function () {
    const dir = await mkdtemp(path.join(os.tmpdir(), "zklora-v2-snarkjs-"));
    const cli = path.join(PROJECT_ROOT, "node_modules", "snarkjs", "build", "cli.cjs");
    const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: "utf8" });
    const zkey = path.join(dir, "deal.zkey");
    await copyFile(f.dealZkey, zkey);
    expect(run(["zkey", "export", "verificationkey", zkey, path.join(dir, "vk.json")]).status).to.equal(0);
    const pub = v2PublicInputs(f.key, f.entry, f.opening).map(String);
    await writeFile(path.join(dir, "public.json"), JSON.stringify(pub));
    await writeFile(path.join(dir, "proof.json"), JSON.stringify(proof));
    const ok = run([
      "groth16",
      "verify",
      path.join(dir, "vk.json"),
      path.join(dir, "public.json"),
      path.join(dir, "proof.json"),
    ]);
    expect(ok.status, ok.stdout + ok.stderr).to.equal(0);
    expect(ok.stdout).to.match(/OK/);
    pub[pub.length - 1] = String((BigInt(pub[pub.length - 1]) + 1n) % P);
    await writeFile(path.join(dir, "public.json"), JSON.stringify(pub));
    const bad = run([
      "groth16",
      "verify",
      path.join(dir, "vk.json"),
      path.join(dir, "public.json"),
      path.join(dir, "proof.json"),
    ]);
    expect(bad.status).to.not.equal(0);
  });
});
