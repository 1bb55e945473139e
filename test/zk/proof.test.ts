import { expect } from "chai";
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { network } from "hardhat";
import * as snarkjs from "snarkjs";
import { PROJECT_ROOT } from "../../src/common/cache.js";
import {
  buildCircuit,
  findShape,
  proveModule,
  toField,
  toSolidityProof,
  verifyModule,
  type CircuitArtifacts,
  type Groth16Proof,
  type PublicSignals,
} from "../../src/zk/index.js";
import { randomWitness } from "./helpers.js";

const SNARKJS_CLI = path.join(PROJECT_ROOT, "node_modules", "snarkjs", "build", "cli.cjs");

function snarkjsCli(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [SNARKJS_CLI, ...args], (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === "number" ? err.code : 1;
      resolve({ code, out: stdout + stderr });
    });
  });
}

/** Real Groth16 proofs on the tiny shape, checked by src/zk, the stock snarkjs CLI and Solidity. */
describe("# module proofs (t2_i8_r2_o8, development ceremony)", function () {
  let art: CircuitArtifacts;
  let proof: Groth16Proof;
  let pub: PublicSignals;
  let dir: string;

  before(async function () {
    art = await buildCircuit(await findShape("t2_i8_r2_o8"));
    ({ proof, publicSignals: pub } = await proveModule(art, randomWitness(art.shape, 99)));
    dir = await mkdtemp(path.join(os.tmpdir(), "zklora-zk-proof-"));
  });

  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it("Should verify off-chain and fail with any public signal changed", async function () {
    expect(await verifyModule(art.vkey, proof, pub)).to.equal(true);
    for (let i = 0; i < 4; i++) {
      const p = [...pub];
      p[i] = toField(p[i] + 1n);
      expect(await verifyModule(art.vkey, proof, p), `signal ${i}`).to.equal(false);
    }
    expect(await verifyModule(art.vkey, proof, [pub[0], pub[1], pub[2]])).to.equal(false);
  });

  it("Should verify with the stock snarkjs CLI and fail there with any public signal changed", async function () {
    const vkey = path.join(dir, "vkey.json");
    const proofFile = path.join(dir, "proof.json");
    await writeFile(vkey, JSON.stringify(art.vkey));
    await writeFile(proofFile, JSON.stringify(proof));
    const pubFile = path.join(dir, "public.json");
    await writeFile(pubFile, JSON.stringify(pub.map(String)));
    const ok = await snarkjsCli(["groth16", "verify", vkey, pubFile, proofFile]);
    expect(ok.out).to.contain("OK!");
    expect(ok.code).to.equal(0);
    for (let i = 0; i < 4; i++) {
      const p = pub.map(String);
      p[i] = toField(pub[i] + 1n).toString();
      await writeFile(pubFile, JSON.stringify(p));
      const bad = await snarkjsCli(["groth16", "verify", vkey, pubFile, proofFile]);
      expect(bad.out, `signal ${i}`).to.not.contain("OK!");
      expect(bad.code, `signal ${i}`).to.not.equal(0);
    }
  });

  it("Should have a zkey that passes zkey verify against the r1cs and the ptau", async function () {
    expect(await snarkjs.zKey.verifyFromR1cs(art.r1cs, art.ptauPath, art.zkey)).to.equal(true);
    expect(art.ceremony.mode).to.equal("development");
    expect(art.ceremony.contributions.length).to.be.greaterThan(0);
  });

  it("Should be accepted by the generated Solidity verifier, and rejected with a changed signal", async function () {
    const { ethers } = await network.getOrCreate();
    const verifier = await ethers.deployContract(art.verifierContract);
    const s = toSolidityProof(proof);
    expect(await verifier.verifyProof(s.a, s.b, s.c, [...pub])).to.equal(true);
    for (let i = 0; i < 4; i++) {
      const p = [...pub];
      p[i] = toField(p[i] + 1n);
      expect(await verifier.verifyProof(s.a, s.b, s.c, p), `signal ${i}`).to.equal(false);
    }
    // unswapped pi_b (snarkjs order) is not what the verifier expects
    const raw = [
      [BigInt(proof.pi_b[0][0]), BigInt(proof.pi_b[0][1])],
      [BigInt(proof.pi_b[1][0]), BigInt(proof.pi_b[1][1])],
    ];
    expect(await verifier.verifyProof(s.a, raw, s.c, [...pub])).to.equal(false);
  });
});
