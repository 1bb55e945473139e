/** The deploy code: `deployZklora` records, deployments/<network>.json I/O and the `zklora:deploy` task. */
import { expect } from "chai";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import hre from "hardhat";
import { collectZkloraArtifacts, DeployError } from "../../src/chain/deploy.js";
import {
  DeploymentRecordError,
  parseDeployment,
  readDeployment,
  writeDeployment,
  type DeploymentRecord,
} from "../../src/chain/deployments.js";
import { loadShapes, shapeId } from "../../src/zk/index.js";
import { deployFixture, ethers, networkHelpers, TINY_SHAPE } from "./fixture.js";

/** Awaits `promise`, expecting it to reject with an instance of `type` whose message matches `match`. */
async function expectRejection(
  promise: Promise<unknown>,
  type: new (...args: never[]) => Error,
  match?: RegExp,
) {
  let error: unknown;
  try {
    await promise;
  } catch (err) {
    error = err;
  }
  expect(error, "expected a rejection").to.be.instanceOf(type);
  if (match !== undefined) expect((error as Error).message).to.match(match);
}

describe("# deploy", function () {
  let dir: string;
  beforeEach(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), "zklora-deployments-"));
  });
  afterEach(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it("Should record addresses, chain id, block, shapes and ABI files that match the chain", async function () {
    const f = await networkHelpers.loadFixture(deployFixture);
    const { record, abis } = f.deployment;
    expect(record.chainId).to.equal(Number(f.chainId));
    expect(record.contracts.LoraEscrow.address).to.equal(await f.escrow.getAddress());
    expect(record.contracts.VerifierRegistry.address).to.equal(await f.registry.getAddress());
    expect(await f.escrow.registry()).to.equal(record.contracts.VerifierRegistry.address);
    expect(record.blockNumber).to.be.at.most(await ethers.provider.getBlockNumber());
    for (const c of [
      record.contracts.LoraEscrow,
      record.contracts.VerifierRegistry,
      ...record.shapes.map((s) => s.verifier),
      ...record.shapes.flatMap((s) => (s.batchVerifier === undefined ? [] : [s.batchVerifier])),
      ...(record.contracts.Poseidon1 === undefined ? [] : [record.contracts.Poseidon1]),
      ...(record.deliveryShapes ?? []).map((s) => s.verifier),
    ]) {
      expect(await ethers.provider.getCode(c.address)).to.not.equal("0x", `${c.contractName} has code`);
      const receipt = await ethers.provider.getTransactionReceipt(c.transactionHash);
      expect(receipt?.contractAddress).to.equal(c.address);
      expect(receipt?.blockNumber).to.equal(c.blockNumber);
    }
    for (const s of record.shapes) {
      expect(s.shapeId).to.equal(shapeId(s));
      expect(await f.registry.verifierOf(s.shapeId)).to.equal(s.verifier.address);
      expect(s.batchVerifier?.contractName).to.equal("Groth16BatchVerifier");
      expect(await f.registry.batchVerifierOf(s.shapeId)).to.equal(s.batchVerifier?.address);
    }
    const file = await writeDeployment("unit", record, { dir, abis });
    expect(file).to.equal(path.join(dir, "unit.json"));
    expect(await readDeployment("unit", { dir })).to.deep.equal(record);
    const abiFiles = (await readdir(path.join(dir, "abi"))).sort();
    const expected = [
      record.contracts.LoraEscrow,
      record.contracts.VerifierRegistry,
      ...record.shapes.map((s) => s.verifier),
      ...record.shapes.flatMap((s) => (s.batchVerifier === undefined ? [] : [s.batchVerifier])),
      ...(record.contracts.Poseidon1 === undefined ? [] : [record.contracts.Poseidon1]),
      ...(record.deliveryShapes ?? []).map((s) => s.verifier),
    ]
      .map((c) => path.basename(c.abi))
      .filter((name, i, all) => all.indexOf(name) === i)
      .sort();
    expect(abiFiles).to.deep.equal(expected);
    const escrowAbi = JSON.parse(
      await readFile(path.join(dir, record.contracts.LoraEscrow.abi), "utf8"),
    ) as unknown[];
    expect(escrowAbi).to.deep.equal((await hre.artifacts.readArtifact("LoraEscrow")).abi);
  });

  it("Should reject malformed records with the field to fix", async function () {
    const f = await networkHelpers.loadFixture(deployFixture);
    const good = JSON.parse(JSON.stringify(f.deployment.record)) as DeploymentRecord;
    expect(parseDeployment(good)).to.deep.equal(good);
    const broken: [string, (r: DeploymentRecord) => void][] = [
      ["format", (r) => ((r as { format: string }).format = "v0")],
      ["chainId", (r) => (r.chainId = 0)],
      ["contracts.LoraEscrow.address", (r) => (r.contracts.LoraEscrow.address = "0x1234")],
      ["shapes[0].T", (r) => (r.shapes[0].T = 0)],
      [
        "shapes[0].batchVerifier.address",
        (r) => ((r.shapes[0].batchVerifier as { address: string }).address = "0xabc"),
      ],
      ["deployer", (r) => (r.deployer = "me")],
    ];
    for (const [field, breakIt] of broken) {
      const r = JSON.parse(JSON.stringify(good)) as DeploymentRecord;
      breakIt(r);
      expect(() => parseDeployment(r)).to.throw(
        DeploymentRecordError,
        field.split(".")[0].replace(/\[.*/, ""),
      );
    }
    await expectRejection(readDeployment("nowhere", { dir }), DeploymentRecordError, /zklora:deploy/);
    await expectRejection(writeDeployment("../escape", good, { dir }), DeploymentRecordError);
  });

  it("Should refuse to deploy a named shape whose verifier was not generated", async function () {
    const shapes = [...(await loadShapes()), { name: "nonexistent_t1", T: 1, DIN: 1, R: 1, DOUT: 1 }];
    await expectRejection(
      collectZkloraArtifacts(hre.artifacts, shapes, { only: ["nonexistent_t1"] }),
      DeployError,
      /Groth16Verifier_nonexistent_t1/,
    );
    await expectRejection(
      collectZkloraArtifacts(hre.artifacts, shapes, { only: ["nope"] }),
      DeployError,
      /nope/,
    );
    const { artifacts, missing } = await collectZkloraArtifacts(hre.artifacts, shapes);
    expect(missing).to.include("nonexistent_t1");
    expect(artifacts.verifiers.map((v) => v.shapeName)).to.include(TINY_SHAPE);
  });

  it("Should deploy with the zklora:deploy task and write deployments/<network>.json", async function () {
    const previous = process.env.ZKLORA_DEPLOYMENTS_DIR;
    process.env.ZKLORA_DEPLOYMENTS_DIR = dir;
    try {
      await hre.tasks.getTask("zklora:deploy").run({ shapes: TINY_SHAPE, registryOwner: "", noWrite: false });
    } finally {
      if (previous === undefined) delete process.env.ZKLORA_DEPLOYMENTS_DIR;
      else process.env.ZKLORA_DEPLOYMENTS_DIR = previous;
    }
    const files = await readdir(dir);
    expect(files.filter((f) => f.endsWith(".json"))).to.have.length(1);
    const network = files.find((f) => f.endsWith(".json"))?.replace(/\.json$/, "") ?? "";
    const record = await readDeployment(network, { dir });
    expect(record.shapes.map((s) => s.name)).to.deep.equal([TINY_SHAPE]);
    const connection = await hre.network.getOrCreate();
    expect(await connection.ethers.provider.getCode(record.contracts.LoraEscrow.address)).to.not.equal("0x");
    const escrow = await connection.ethers.getContractAt("LoraEscrow", record.contracts.LoraEscrow.address);
    expect(await escrow.registry()).to.equal(record.contracts.VerifierRegistry.address);
  });
});
