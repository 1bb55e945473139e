import { expect } from "chai";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  CeremonyError,
  PtauError,
  blake2bFile,
  registerPublicPtauForTest,
  buildCircuit,
  findShape,
  loadProductionArtifacts,
  proveModule,
  requiredPower,
  ZkError,
  runChunkPipeline,
  runCircuitsPipeline,
  runDeliveryPipeline,
  selectPtau,
  verifyModule,
} from "../../src/zk/index.js";
import { randomWitness, rejects } from "./helpers.js";

describe("# circuits pipeline (ptau choice, ceremony options, drift check)", function () {
  let dir: string;
  before(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), "zklora-zk-pipeline-"));
  });
  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it("Should size the ptau as snarkjs does and use the development ptau of exactly that power", async function () {
    expect(requiredPower(2496, 4, 0)).to.equal(12);
    expect(requiredPower(4091, 4, 0)).to.equal(12);
    expect(requiredPower(4092, 4, 0)).to.equal(13);
    expect(requiredPower(40870, 4, 0)).to.equal(16);
    const small = await selectPtau(8);
    expect(small.power).to.equal(8);
    expect(small.source).to.equal("dev");
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

  it("Should run a production ceremony (random contributions + beacon) whose key differs from the dev key", async function () {
    const shape = await findShape("t2_i8_r2_o8");
    const dev = await buildCircuit(shape);
    // a small file made for the test stands in for a public ceremony file (none is downloaded)
    const stand = path.join(dir, "powersOfTau28_test_12.ptau");
    await copyFile((await selectPtau(dev.ptau.power)).path, stand);
    const unregister = registerPublicPtauForTest({
      file: "powersOfTau28_test_12.ptau",
      power: dev.ptau.power,
      blake2b: await blake2bFile(stand),
    });
    const saved = process.env.ZKLORA_CACHE_DIR;
    process.env.ZKLORA_CACHE_DIR = path.join(dir, "cache");
    try {
      const prod = await buildCircuit(shape, {
        ptau: stand,
        contributions: [{ name: "buyer", entropy: "buyer's own entropy" }],
        beacon: "0x" + "5a".repeat(32),
      });
      expect(prod.ptau.source).to.equal("public");
      expect(prod.ptau.file).to.equal("powersOfTau28_test_12.ptau");
      expect(prod.ceremony.mode).to.equal("production");
      expect(prod.ceremony.contributions.map((c) => [c.name, c.kind])).to.deep.equal([["buyer", "random"]]);
      expect(prod.sha256.r1cs).to.equal(dev.sha256.r1cs);
      expect(prod.sha256.zkey).to.not.equal(dev.sha256.zkey);
      expect(prod.sha256.verifier).to.not.equal(dev.sha256.verifier);
      const { proof, publicSignals } = await proveModule(prod, randomWitness(shape, 5));
      expect(await verifyModule(prod.vkey, proof, publicSignals)).to.equal(true);
      expect(await verifyModule(dev.vkey, proof, publicSignals)).to.equal(false);
      const again = await loadProductionArtifacts(shape, prod.setupCacheEntry, prod.sha256.zkey);
      expect(again.zkey).to.equal(prod.zkey);
      expect(
        await rejects(loadProductionArtifacts(shape, prod.setupCacheEntry, "00".repeat(32))),
      ).to.be.instanceOf(CeremonyError);
    } finally {
      unregister();
      if (saved === undefined) delete process.env.ZKLORA_CACHE_DIR;
      else process.env.ZKLORA_CACHE_DIR = saved;
    }
  });

  it("Should refuse a production ceremony without a public ptau before compiling anything", async function () {
    const shape = await findShape("t2_i8_r2_o8");
    const production = { contributions: [{ name: "buyer", entropy: "x" }], beacon: "ab".repeat(32) };
    const none = await rejects(buildCircuit(shape, production));
    expect(none).to.be.instanceOf(CeremonyError);
    expect((none as Error).message).to.match(/needs --ptau FILE, a public ceremony file/);
    const lines: string[] = [];
    const dev = await selectPtau(8);
    const unknown = await rejects(
      buildCircuit(shape, { ...production, ptau: dev.path, onProgress: (m) => lines.push(m) }),
    );
    expect(unknown).to.be.instanceOf(PtauError);
    expect((unknown as Error).message).to.match(/not a known public ceremony file/);
    expect(lines, "nothing compiled or set up before the refusal").to.deep.equal([]);
  });

  it("Should refuse an unknown shape name and --check with production options, in every pipeline", async function () {
    for (const [run, file] of [
      [runCircuitsPipeline, "circuits/shapes.json"],
      [runDeliveryPipeline, "circuits/delivery-shapes.json"],
      [runChunkPipeline, "circuits/chunk-shapes.json"],
    ] as const) {
      const unknown = await rejects(run({ shapes: ["no_such_shape"] }));
      expect(unknown).to.be.instanceOf(ZkError);
      expect((unknown as ZkError).message).to.include(`unknown shape no_such_shape; ${file} has`);
      const check = await rejects(run({ check: true, beacon: "00" }));
      expect(check).to.be.instanceOf(ZkError);
      expect((check as ZkError).message).to.match(/--check regenerates the development ceremony/);
    }
  });

  it("Should regenerate the committed tiny-shape verifier and manifest entry byte for byte (--check)", async function () {
    const [art] = await runCircuitsPipeline({ shapes: ["t2_i8_r2_o8"], check: true });
    expect(art.ceremony.mode).to.equal("development");
    expect(art.verifierContract).to.equal("Groth16Verifier_t2_i8_r2_o8");
  });
});
