import { expect } from "chai";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import * as snarkjs from "snarkjs";
import {
  DEV_PTAU_MAX_POWER,
  PtauError,
  devBeaconHash,
  devPtauSecrets,
  selectPtau,
  writeDevPtau,
} from "../../src/zk/index.js";
import { engine } from "../../src/zk/verifier.js";
import { UsageError } from "../../src/app/errors.js";
import { forgeableShapes, refuseForgeableKeys } from "../../src/app/forgeable.js";
import { buildShapeKey, g1Coords, g1Point, type G1Point } from "../../src/zk/v2/key.js";
import { V2Verifier } from "../../src/zk/v2/verify.js";
import { TINY_V2 } from "./v2-fixture.js";
import { rejection } from "./helpers.js";

describe("# development ptau (deterministic, FORGEABLE) and public ceremony files", function () {
  let dir: string;
  before(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), "zklora-devptau-"));
  });
  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it("Should write exactly the bytes of snarkjs's new + public beacon + prepare phase2, and pass powersoftau verify", async function () {
    const power = 6;
    const mine = path.join(dir, "mine.ptau");
    await writeDevPtau(power, mine);
    const curve = await snarkjs.curves.getCurveFromName("bn128");
    await snarkjs.powersOfTau.newAccumulator(curve, power, path.join(dir, "a.ptau"));
    await snarkjs.powersOfTau.beacon(
      path.join(dir, "a.ptau"),
      path.join(dir, "b.ptau"),
      "zklora-escrow development ptau (public entropy)",
      devBeaconHash(power),
      10,
    );
    await snarkjs.powersOfTau.preparePhase2(path.join(dir, "b.ptau"), path.join(dir, "ref.ptau"));
    const [a, b] = [await readFile(mine), await readFile(path.join(dir, "ref.ptau"))];
    expect(a.length).to.equal(b.length);
    expect(a.equals(b), "byte-identical to snarkjs's slow path").to.equal(true);
    expect(await snarkjs.powersOfTau.verify(mine)).to.equal(true);
  });

  it("Should keep the bytes of 2^8 and 2^10 (committed verifiers and key hashes derive from them)", async function () {
    // sha256 of the files the snarkjs new + beacon + prepare phase2 path wrote before the direct
    // generator replaced it; a change here changes every development key
    const pinned: [number, string][] = [
      [8, "a61733650f9fc06e73663b79794b30b815f11dcc55f9f526ae8e54684929fb09"],
      [10, "fe29d4db1147faf0ece3b0f71d19108a6b998223c8b031b2feb35c09fa00c40f"],
    ];
    for (const [power, sha] of pinned) {
      const file = path.join(dir, `pinned${power}.ptau`);
      await writeDevPtau(power, file);
      expect(
        createHash("sha256")
          .update(await readFile(file))
          .digest("hex"),
        `2^${power}`,
      ).to.equal(sha);
    }
  });

  it("Should be the same file on every call (cached by content) and recorded as source dev", async function () {
    const p = await selectPtau(7);
    expect(p.source).to.equal("dev");
    expect(p.power).to.equal(7);
    expect(p.file).to.match(/FORGEABLE/);
    const again = path.join(dir, "again.ptau");
    await writeDevPtau(7, again);
    expect((await readFile(again)).equals(await readFile(p.path))).to.equal(true);
  });

  it("Should let anyone recompute τ, α, β from the public string: [τ]G1, [α]G1, [β]G1 are in the file", async function () {
    const p = await selectPtau(7);
    const { tau, alpha, beta } = await devPtauSecrets(7);
    const c = await engine();
    const buf = await readFile(p.path);
    // section 2 (tauG1) starts after the 12-byte file header and the header section; find it by id
    const sections = new Map<number, number>();
    let pos = 12;
    while (pos < buf.length) {
      const id = buf.readUInt32LE(pos);
      const size = Number(buf.readBigUInt64LE(pos + 4));
      sections.set(id, pos + 12);
      pos += 12 + size;
    }
    const point = (id: number, i: number) => {
      const start = sections.get(id)! + i * 64;
      return new Uint8Array(buf.subarray(start, start + 64));
    };
    const times = (s: bigint) => c.G1.toAffine(c.G1.timesScalar(c.G1.oneAffine, s));
    expect(c.G1.eq(point(2, 1), times(tau))).to.equal(true);
    expect(c.G1.eq(point(4, 0), times(alpha))).to.equal(true);
    expect(c.G1.eq(point(5, 0), times(beta))).to.equal(true);
  });

  it("Should make keys anyone can forge: α·β, γ = G2 and the public δ give a proof of any statement", async function () {
    this.timeout(600_000);
    const key = await buildShapeKey(TINY_V2);
    expect(key.ptau.source).to.equal("dev");
    const { alpha, beta } = await devPtauSecrets(key.ptau.power);
    const c = await engine();
    const r = c.r;
    // any statement
    const st = {
      rho: 12345n,
      fY: 678n,
      D_X: await g1Coords(c.G1.timesScalar(c.G1.g, 99n)),
      W_m: await g1Coords(c.G1.timesScalar(c.G1.g, 7n)),
    };
    const pt = (p: G1Point) => g1Point(p);
    let vkx = c.G1.add(await pt(key.onchain.ic0), c.G1.timesScalar(await pt(key.onchain.icRho), st.rho));
    vkx = c.G1.add(vkx, c.G1.timesScalar(await pt(key.onchain.icFY), st.fY));
    vkx = c.G1.add(vkx, await pt(st.D_X));
    vkx = c.G1.add(vkx, await pt(st.W_m));
    // δ of a development key is public too (the initial key's δ = 1, i.e. δ2 = G2 = γ): C = [5]G1
    const C = c.G1.timesScalar(c.G1.g, 5n);
    const A = c.G1.toAffine(c.G1.add(c.G1.add(c.G1.timesScalar(c.G1.g, (alpha * beta) % r), vkx), C));
    const [cx, cy] = await g1Coords(C);
    const [ax, ay] = await g1Coords(A);
    const g2 = c.G2.toObject(c.G2.toAffine(c.G2.g)) as unknown as [bigint, bigint][];
    const forged = {
      pi_a: [ax.toString(), ay.toString(), "1"] as [string, string, string],
      pi_b: [
        [g2[0][0].toString(), g2[0][1].toString()],
        [g2[1][0].toString(), g2[1][1].toString()],
        ["1", "0"],
      ] as [[string, string], [string, string], [string, string]],
      pi_c: [cx.toString(), cy.toString(), "1"] as [string, string, string],
      protocol: "groth16" as const,
      curve: "bn128" as const,
    };
    const v = await V2Verifier.create(key.onchain, key.onchain.gamma2);
    expect(await v.check(forged, st)).to.deep.equal({ ok: true });
    expect(await v.verify(forged, { ...st, fY: 679n })).to.equal(false);
  });

  it("Should refuse --ptau files that are not known public ceremony files, and powers past the generator", async function () {
    const fake = path.join(dir, "powersOfTau28_hez_final_16.ptau");
    await writeFile(fake, "not a ptau");
    expect(await rejection(selectPtau(12, { ptau: fake }))).to.be.instanceOf(PtauError);
    const dev = await selectPtau(7);
    const e = await rejection(selectPtau(7, { ptau: dev.path }));
    expect(e).to.be.instanceOf(PtauError);
    expect((e as Error).message).to.match(/not a known public ceremony file/);
    expect(await rejection(selectPtau(7, { ptau: path.join(dir, "absent.ptau") }))).to.be.instanceOf(
      PtauError,
    );
    expect(await rejection(selectPtau(DEV_PTAU_MAX_POWER + 1))).to.be.instanceOf(PtauError);
  });
});

describe("# forgeable keys stay on local chains (zklora:deploy's check)", function () {
  it("Should name the development-ptau shapes and refuse them on chain 11155111 without the flag", function () {
    const forgeable = forgeableShapes([
      { name: "v2_i8_r2_o6", ptau: "dev" },
      { name: "v2_i6_r2_o8", ptau: "public" },
      { name: "v2_i8_r2_o6", ptau: "dev" },
    ]);
    expect(forgeable).to.deep.equal(["v2_i8_r2_o6"]);
    const base = { network: "sepolia", forgeable, action: "deploy" };
    let err: unknown;
    try {
      refuseForgeableKeys({ ...base, chainId: 11155111n, allow: false });
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(UsageError);
    expect((err as Error).message).to.match(
      /refusing to deploy on sepolia \(chain 11155111\).*FORGEABLE.*--forgeable-keys/,
    );
    refuseForgeableKeys({ ...base, chainId: 11155111n, allow: true });
    refuseForgeableKeys({ ...base, chainId: 31337n, allow: false });
    refuseForgeableKeys({ ...base, chainId: 1337n, allow: false });
    refuseForgeableKeys({ ...base, forgeable: [], chainId: 11155111n, allow: false });
  });
});
