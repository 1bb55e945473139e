/**
 * Batch-verification gas benchmark (`npm run bench:batch`, issue #5): deploys zklora with the
 * project's deploy code on Hardhat's in-process chain, funds one deal of 16 tiny-shape modules (one
 * entry each) with REAL proofs, and measures, from the same chain snapshot for every n in 1, 2, 4, 8, 16:
 * `submitBatch` (Groth16BatchVerifier: n + 3 pairings), `submitMany` (one 4-pair check per proof, the
 * batch verifier's `verifyProofFromBase`) and, for comparison, `n × submit`; plus `verifyBatch` and the
 * generated and the batch verifier's `verifyProof` as bare calls.
 * Writes bench/results/batch-<date>.json. Goals: <= 120k gas per module amortised for n >= 8, <= 250k
 * for a single proof.
 */
import hre, { network } from "hardhat";
import type { Contract } from "ethers";
import { collectZkloraArtifacts, deployZklora } from "../src/chain/deploy.js";
import {
  activationHash,
  buildCircuit,
  computeRho,
  findShape,
  fingerprint,
  loadShapes,
  loraProduct,
  outputDigest,
  proveModule,
  toSolidityProof,
  weightCommitment,
  type SolidityProof,
} from "../src/zk/index.js";
import { gasOf, matrix, runBench, writeBenchResult } from "./common.js";

const SHAPE = process.env.ZKLORA_GAS_SHAPE ?? "t2_i8_r2_o8";
const SIZES = [1, 2, 4, 8, 16];
const GOAL_AMORTISED = 120_000n;
const GOAL_SINGLE = 250_000n;

async function main(): Promise<void> {
  const { ethers, networkHelpers } = await network.create();
  const [deployer, contributor, buyer] = await ethers.getSigners();
  const shape = await findShape(SHAPE);
  const { artifacts } = await collectZkloraArtifacts(hre.artifacts, await loadShapes(), { only: [SHAPE] });
  const { escrow, verifiers, batchVerifiers } = await deployZklora(deployer, artifacts, { network: "bench" });
  const art = await buildCircuit(shape);
  const chainId = (await ethers.provider.getNetwork()).chainId;
  const escrowAddress = await escrow.getAddress();
  const as = (c: Contract, s: typeof buyer) => c.connect(s) as Contract;
  const modules = Math.max(...SIZES);

  const weights = [];
  for (let m = 0; m < modules; m++) {
    const A = matrix(shape.DIN, shape.R, 1 + 2 * m, 60);
    const B = matrix(shape.R, shape.DOUT, 2 + 2 * m, 60);
    const salt = 1000n + BigInt(m);
    weights.push({ A, B, salt, commitment: await weightCommitment(A, B, salt) });
  }
  const price = ethers.parseEther("1");
  const dealId = (await escrow.nextDealId()) as bigint;
  const proposeGas = await gasOf(
    as(escrow, contributor).propose(
      price,
      ethers.ZeroAddress,
      await buyer.getAddress(),
      ethers.id("base"),
      weights.map((w, m) => ({
        target: `transformer.h.${m}.attn.c_attn`,
        shapeId: art.shapeId,
        commitment: w.commitment,
      })),
      3600n,
    ),
  );
  const entries = [];
  for (let m = 0; m < modules; m++) {
    const X = matrix(shape.T, shape.DIN, 100 + m, 500);
    const hX = await activationHash(X);
    const Y = loraProduct(X, weights[m].A, weights[m].B);
    const hY = outputDigest(Y);
    const rho = computeRho({ chainId, escrow: escrowAddress, dealId, module: BigInt(m), hX, hY });
    entries.push({ module: m, hX, hY, fY: fingerprint(Y, rho), X, rho });
  }
  await as(escrow, buyer).fund(
    dealId,
    entries.map(({ module, hX, hY, fY }) => ({ module, hX, hY, fY })),
    { value: price },
  );
  // Sequentially: the first proofs warm snarkjs's curve.
  const proofs: SolidityProof[] = [];
  const t0 = Date.now();
  for (const [m, e] of entries.entries()) {
    const w = weights[m];
    proofs.push(
      toSolidityProof((await proveModule(art, { A: w.A, B: w.B, salt: w.salt, X: e.X, rho: e.rho })).proof),
    );
  }
  const proveSeconds = (Date.now() - t0) / 1000;
  const args = proofs.map((p, i) => ({ entryIndex: i, a: p.a, b: p.b, c: p.c }));
  const signals: bigint[][] = [];
  for (let i = 0; i < modules; i++)
    signals.push([...((await escrow.publicSignalsOf(dealId, i)) as bigint[])]);
  const batchItems = proofs.map((p, i) => ({ a: p.a, b: p.b, c: p.c, signals: signals[i] }));
  const batch = batchVerifiers[SHAPE];
  const single = verifiers[SHAPE];

  const snapshot = await networkHelpers.takeSnapshot();
  const rows: Record<string, string | number>[] = [];
  for (const n of SIZES) {
    if (!(await batch.verifyBatch(batchItems.slice(0, n)))) throw new Error(`verifyBatch(${n}) is false`);
    const verifyBatchCall = (await batch.verifyBatch.estimateGas(batchItems.slice(0, n))) as bigint;
    await snapshot.restore();
    const submitBatch = await gasOf(as(escrow, contributor).submitBatch(dealId, args.slice(0, n)));
    for (let i = 0; i < n; i++) {
      if (!(await escrow.entryProven(dealId, i)))
        throw new Error(`submitBatch(${n}) left entry ${i} unproven`);
    }
    await snapshot.restore();
    const submitMany = await gasOf(as(escrow, contributor).submitMany(dealId, args.slice(0, n)));
    await snapshot.restore();
    let submitEach = 0n;
    for (let i = 0; i < n; i++) {
      const p = args[i];
      submitEach += await gasOf(as(escrow, contributor).submit(dealId, i, p.a, p.b, p.c));
    }
    await snapshot.restore();
    rows.push({
      n,
      verifyBatch_call: verifyBatchCall.toString(),
      verifyBatch_call_perProof: (verifyBatchCall / BigInt(n)).toString(),
      submitBatch: submitBatch.toString(),
      submitBatch_perModule: (submitBatch / BigInt(n)).toString(),
      submitMany: submitMany.toString(),
      submitMany_perModule: (submitMany / BigInt(n)).toString(),
      submit_each_total: submitEach.toString(),
      submit_each_perModule: (submitEach / BigInt(n)).toString(),
      saving_vs_submitMany: `${(100 - Number((submitBatch * 1000n) / submitMany) / 10).toFixed(1)}%`,
    });
    console.log(JSON.stringify(rows[rows.length - 1]));
  }
  const s = batchItems[0];
  const verifyProofCall = (await single.verifyProof.estimateGas(s.a, s.b, s.c, s.signals)) as bigint;
  const batchVerifyProofCall = (await batch.verifyProof.estimateGas(s.a, s.b, s.c, s.signals)) as bigint;
  const at = (n: number) => rows.find((r) => r.n === n);
  const amortisedOk = rows
    .filter((r) => Number(r.n) >= 8)
    .every((r) => BigInt(r.submitBatch_perModule) <= GOAL_AMORTISED);
  const single1 = BigInt(at(1)?.submitBatch ?? 0);
  const submit1 = BigInt(at(1)?.submit_each_total ?? 0);

  const result = {
    date: new Date().toISOString(),
    chain: `hardhat in-process (EDR), chainId ${chainId}`,
    solc: "0.8.28, optimizer 200 runs, evm cancun",
    shape: {
      name: shape.name,
      T: shape.T,
      DIN: shape.DIN,
      R: shape.R,
      DOUT: shape.DOUT,
      shapeId: art.shapeId,
    },
    deal: `one deal, ${modules} modules of ${SHAPE}, one entry each; every n measured from the same snapshot`,
    proveSeconds,
    propose_16modules: proposeGas.toString(),
    verifyProof_call: verifyProofCall.toString(),
    batchVerifier_verifyProof_call: batchVerifyProofCall.toString(),
    rows,
    goals: {
      perModuleAmortisedAt8Plus: GOAL_AMORTISED.toString(),
      single: GOAL_SINGLE.toString(),
      amortisedMet: amortisedOk,
      singleSubmitMet: submit1 <= GOAL_SINGLE,
      singleSubmitBatchMet: single1 <= GOAL_SINGLE,
    },
    notes:
      "gasUsed from receipts (includes the 21000 base and calldata). *_perModule = total / n. verifyBatch_call and " +
      "verifyProof_call (generated verifier) and batchVerifier_verifyProof_call are eth_estimateGas of a bare call " +
      "from an account (21000 base and calldata included). " +
      "submit_each = n separate submit transactions.",
  };
  console.log(JSON.stringify(result, null, 2));
  await writeBenchResult(`batch-${result.date.slice(0, 10)}`, result);
}

await runBench(main);
