/**
 * On-chain cost of one REAL chunked module at a real shape (`npm run bench:chunked-gas`; another shape of
 * bench/shapes.ts with `ZKLORA_CHUNKED_SHAPE=<name>`), NOT part of CI: a whole deal on Hardhat's in-process chain with the project's
 * deploy code, measured from receipts.
 *
 * 1. The shape's two chunk circuits as built by `npm run bench:chunked` (benchmark targets in the content
 *    cache; built here if absent, with `--skip-zkey-verify` as there). Their generated verifiers are
 *    compiled with the npm solc (same version and settings as hardhat.config.ts) since benchmark keys are
 *    never written to contracts/verifiers.
 * 2. `deployZklora` with that chunked shape only: the two generated chunk verifiers, their two
 *    `Groth16BatchVerifierN` (keys parsed from the same verifier sources), the `ChunkedModuleVerifier`,
 *    the registry and the escrow.
 * 3. propose → fund (the buyer's chunked hX, hY, fY, rho as the escrow derives it) → prove the chain with
 *    the proving pool → `submitChunked` → settle; the gas of each transaction from its receipt.
 *
 * Writes bench/results/chunked-gas-<shape>-<ISO date>.json.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import hre, { network } from "hardhat";
import type { Contract, InterfaceAbi } from "ethers";
import { parseVerifierKeyN } from "../src/chain/batch.js";
import { chunkCalldata } from "../src/chain/chunked.js";
import {
  BATCH_VERIFIER_N_CONTRACT,
  CHUNKED_MODULE_VERIFIER_CONTRACT,
  deployZklora,
  type ContractArtifact,
} from "../src/chain/deploy.js";
import {
  buildChunkedCircuits,
  chunkCounts,
  chunkedActivationHash,
  chunkedCommitment,
  computeRho,
  fingerprint,
  linkStart,
  loraProduct,
  outputDigest,
  proveChunkedModule,
  randomChunkSalts,
  solidityChunks,
} from "../src/zk/index.js";
import { ProvingPool } from "../src/zk/pool.js";
import { SOLC_VERSION } from "../hardhat.config.js";
import { gasOf, matrix, runBench, writeBenchResult } from "./common.js";
import { chunkedBenchShape } from "./shapes.js";

const SHAPE = process.env.ZKLORA_CHUNKED_SHAPE ?? "distilgpt2_c_attn";

const require = createRequire(import.meta.url);
const t0 = Date.now();
const log = (m: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(5)} s] ${m}`);

interface SolcOutput {
  errors?: { severity: string; formattedMessage: string }[];
  contracts: Record<string, Record<string, { abi: InterfaceAbi; evm: { bytecode: { object: string } } }>>;
}

/** Compiles one generated verifier with the npm solc, optimizer 200 runs, evm cancun (hardhat.config.ts). */
function compileVerifier(source: string, contractName: string): ContractArtifact {
  const solc = require("solc") as { version(): string; compile(input: string): string };
  if (!solc.version().startsWith(SOLC_VERSION)) {
    throw new Error(`npm solc is ${solc.version()}, hardhat.config.ts compiles with ${SOLC_VERSION}`);
  }
  const input = {
    language: "Solidity",
    sources: { "verifier.sol": { content: source } },
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: "cancun",
      outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
    },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input))) as SolcOutput;
  const errors = (out.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length > 0) throw new Error(errors.map((e) => e.formattedMessage).join("\n"));
  const c = out.contracts["verifier.sol"]?.[contractName];
  if (c === undefined) throw new Error(`no contract ${contractName} in the generated verifier`);
  return { contractName, abi: c.abi, bytecode: `0x${c.evm.bytecode.object}` };
}

async function projectArtifact(name: string): Promise<ContractArtifact> {
  const a = await hre.artifacts.readArtifact(name);
  return { contractName: a.contractName, abi: a.abi as InterfaceAbi, bytecode: a.bytecode };
}

await runBench(async () => {
  const { base, shape } = chunkedBenchShape(SHAPE);
  const { WA, WB } = shape;
  const { KA, KB } = chunkCounts(shape);
  log(`${shape.name}: ${KA} A + ${KB} B chunks; building or loading the benchmark chunk circuits`);
  const art = await buildChunkedCircuits(shape, { bench: true, skipZkeyVerify: true, onProgress: log });
  const sourceA = await readFile(art.a.verifierSol, "utf8");
  const sourceB = await readFile(art.b.verifierSol, "utf8");

  const { ethers } = await network.create();
  const [deployer, contributor, buyer] = await ethers.getSigners();
  const deployment = await deployZklora(
    deployer,
    {
      registry: await projectArtifact("VerifierRegistry"),
      escrow: await projectArtifact("LoraEscrow"),
      verifiers: [],
      chunkedVerifiers: [
        {
          shapeName: shape.name,
          shapeDims: { T: shape.T, DIN: shape.DIN, R: shape.R, DOUT: shape.DOUT, WA, WB },
          chunkA: compileVerifier(sourceA, art.a.verifierContract),
          chunkB: compileVerifier(sourceB, art.b.verifierContract),
          keys: { A: parseVerifierKeyN(sourceA, 5), B: parseVerifierKeyN(sourceB, 6) },
          linkStart: await linkStart(shape.R),
        },
      ],
      chunkedModuleVerifier: await projectArtifact(CHUNKED_MODULE_VERIFIER_CONTRACT),
      batchVerifierN: await projectArtifact(BATCH_VERIFIER_N_CONTRACT),
    },
    { network: "bench" },
  );
  const escrow = deployment.escrow;
  const as = (c: Contract, s: typeof buyer) => c.connect(s) as Contract;
  const chainId = (await ethers.provider.getNetwork()).chainId;
  const shapeId = deployment.record.shapes[0].shapeId;
  log(`deployed; chunked shape ${shapeId}`);

  // The deal: weights and activations in [-1000, 1000] (bench/common.ts's range).
  const A = matrix(shape.DIN, shape.R, 1, 1000);
  const B = matrix(shape.R, shape.DOUT, 2, 1000);
  const X = matrix(shape.T, shape.DIN, 3, 1000);
  const salts = randomChunkSalts(shape);
  const { C_m } = await chunkedCommitment(A, B, salts, shape);
  const price = ethers.parseEther("1");
  const dealId = (await escrow.nextDealId()) as bigint;
  const proposeGas = await gasOf(
    as(escrow, contributor).propose(
      price,
      ethers.ZeroAddress,
      await buyer.getAddress(),
      ethers.id("base"),
      [{ target: "transformer.h.0.attn.c_attn", shapeId, commitment: C_m }],
      3600n,
    ),
  );
  const { hX } = await chunkedActivationHash(X, shape);
  const Y = loraProduct(X, A, B);
  const hY = outputDigest(Y);
  const rho = computeRho({ chainId, escrow: await escrow.getAddress(), dealId, module: 0n, hX, hY });
  const fY = fingerprint(Y, rho);
  const fundGas = await gasOf(as(escrow, buyer).fund(dealId, [{ module: 0, hX, hY, fY }], { value: price }));

  const pool = new ProvingPool();
  const tp = performance.now();
  const chain = await proveChunkedModule(art, { A, B, X, salts, rho }, { pool, onProgress: log });
  const proveMs = performance.now() - tp;
  await pool.close();
  if (chain.C_m !== C_m || chain.hX !== hX || chain.fY !== fY)
    throw new Error("the chain's C_m, hX or fY differ from the deal's");
  const { chunksA, chunksB } = chunkCalldata(solidityChunks(chain.proofs));
  const data = escrow.interface.encodeFunctionData("submitChunked", [dealId, 0, chunksA, chunksB]);
  const submitGas = await gasOf(as(escrow, contributor).submitChunked(dealId, 0, chunksA, chunksB));
  if (!(await escrow.entryProven(dealId, 0))) throw new Error("the entry is not proven");
  const settleGas = await gasOf(escrow.settle(dealId));
  log(`submitChunked ${submitGas} gas for ${KA + KB} chunk proofs; settled`);

  const result = {
    bench: "chunked-gas",
    date: new Date().toISOString(),
    chain: `hardhat in-process (EDR), chainId ${chainId}`,
    solc: `${SOLC_VERSION}, optimizer 200 runs, evm cancun`,
    shape: { ...shape, KA, KB, source: base.note },
    ceremony:
      "development benchmark keys (bench:chunked targets, zkey verify skipped); never deployed for value",
    proveMs: Math.round(proveMs),
    gas: {
      propose_1module: proposeGas.toString(),
      fund_1entry: fundGas.toString(),
      submitChunked: submitGas.toString(),
      submitChunked_perChunkProof: (submitGas / BigInt(KA + KB)).toString(),
      settle: settleGas.toString(),
    },
    submitChunkedCalldataBytes: (data.length - 2) / 2,
    notes:
      "gasUsed from receipts (21000 base and calldata included, no access lists): one real chain of the shape's " +
      "chunk proofs through LoraEscrow.submitChunked, each kind's chunks checked in one Groth16BatchVerifierN call.",
  };
  console.log(JSON.stringify(result, null, 2));
  await writeBenchResult(`chunked-gas-${base.name}-${result.date.replace(/[:.]/g, "-")}`, result);
});
