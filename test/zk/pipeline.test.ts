import { expect } from "chai";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  CeremonyError,
  KNOWN_DEV_PTAU,
  PtauError,
  SHARED_PTAU_DIR,
  buildCircuit,
  findShape,
  requiredPower,
  runCircuitsPipeline,
  selectPtau,
} from "../../src/zk/index.js";

async function rejects(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  return undefined;
}

describe("# circuits pipeline (ptau choice, ceremony options, drift check)", function () {
  let dir: string;
  before(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), "zklora-zk-pipeline-"));
  });
  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it("Should size the ptau as snarkjs does and pick the smallest known dev file", async function () {
    expect(requiredPower(2496, 4, 0)).to.equal(12);
    expect(requiredPower(4091, 4, 0)).to.equal(12);
    expect(requiredPower(4092, 4, 0)).to.equal(13);
    expect(requiredPower(40870, 4, 0)).to.equal(16);
    const small = await selectPtau(12);
    expect(small.file).to.equal("dev_pot12_final.ptau");
    expect(small.sha256).to.equal(KNOWN_DEV_PTAU[0].sha256);
    expect((await selectPtau(13)).file).to.equal("dev_pot14_final.ptau");
    expect((await selectPtau(16)).file).to.equal("dev_pot16_final.ptau");
  });

  it("Should reject a --ptau file with a wrong hash, without a hash, or too small", async function () {
    const fake = path.join(dir, "fake_16.ptau");
    await writeFile(fake, "not a ptau");
    expect(await rejects(selectPtau(12, { ptau: fake }))).to.be.instanceOf(PtauError);
    expect(await rejects(selectPtau(12, { ptau: fake, ptauSha256: "00".repeat(32) }))).to.be.instanceOf(
      PtauError,
    );
    const pot12 = path.join(SHARED_PTAU_DIR, "dev_pot12_final.ptau");
    expect(await rejects(selectPtau(14, { ptau: pot12 }))).to.be.instanceOf(PtauError);
    expect((await selectPtau(12, { ptau: pot12 })).source).to.equal("shared-dev");
    expect(await rejects(selectPtau(12, { ptau: path.join(dir, "absent.ptau") }))).to.be.instanceOf(
      PtauError,
    );
  });

  it("Should refuse a production ceremony without a beacon or without contributors", async function () {
    const shape = await findShape("t2_i8_r2_o8");
    expect(
      await rejects(buildCircuit(shape, { contributions: [{ name: "buyer", entropy: "x" }] })),
    ).to.be.instanceOf(CeremonyError);
    expect(await rejects(buildCircuit(shape, { beacon: "ab".repeat(32) }))).to.be.instanceOf(CeremonyError);
    expect(await rejects(buildCircuit(shape, { contributions: [], beacon: "zz" }))).to.be.instanceOf(
      CeremonyError,
    );
  });

  it("Should regenerate the committed tiny-shape verifier and manifest entry byte for byte (--check)", async function () {
    const [art] = await runCircuitsPipeline({ shapes: ["t2_i8_r2_o8"], check: true });
    expect(art.ceremony.mode).to.equal("development");
    expect(art.verifierContract).to.equal("Groth16Verifier_t2_i8_r2_o8");
  });
});
