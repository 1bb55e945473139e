/**
 * Gas benchmark (`npm run bench:gas`): deploys zklora with the project's deploy code on Hardhat's
 * in-process chain, runs deals with REAL proofs for the tiny test shape and records the gas of every
 * call (propose, fund per entry count, submit, submitMany per proof, settle, refund, the bare
 * verifiers). `submit` is checked by the shape's batch verifier (`verifyProofFromBase`, the base
 * `IC_0 + C_m·IC_1` stored at funding); `submit_generatedVerifier` is the same proof on a shape registered
 * without a batch verifier (the snarkjs verifier). Plain transactions, no EIP-2930 access lists.
 * Writes bench/results/gas-<date>.json. Goal: submit <= 250k gas per proof.
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
const GOAL_PER_PROOF = 250_000n;

async function main(): Promise<void> {
  const { ethers, networkHelpers } = await network.create();
  const [deployer, contributor, buyer] = await ethers.getSigners();
  const shape = await findShape(SHAPE);
  const { artifacts } = await collectZkloraArtifacts(hre.artifacts, await loadShapes(), { only: [SHAPE] });
  const { escrow, registry, verifiers, batchVerifiers, record } = await deployZklora(deployer, artifacts, {
    network: "bench",
  });
  const art = await buildCircuit(shape);
  const chainId = (await ethers.provider.getNetwork()).chainId;
  const escrowAddress = await escrow.getAddress();
  const as = (c: Contract, s: typeof buyer) => c.connect(s) as Contract;

  const A = matrix(shape.DIN, shape.R, 1, 60);
  const B = matrix(shape.R, shape.DOUT, 2, 60);
  const salt = 123456789n;
  const commitment = await weightCommitment(A, B, salt);
  const Xs = [0, 1, 2, 3].map((k) => matrix(shape.T, shape.DIN, 10 + k, 500));
  const hXs = await Promise.all(Xs.map((X) => activationHash(X)));
  const order = [0, 1, 2, 3].sort((a, b) => (hXs[a] < hXs[b] ? -1 : 1));
  const price = ethers.parseEther("1");

  const gas: Record<string, string | number> = {};
  const proposeDeal = async (shapeId: string = art.shapeId) => {
    const dealId = (await escrow.nextDealId()) as bigint;
    const g = await gasOf(
      as(escrow, contributor).propose(
        price,
        ethers.ZeroAddress,
        await buyer.getAddress(),
        ethers.id("base"),
        [{ target: "transformer.h.0.attn.c_attn", shapeId, commitment }],
        3600n,
      ),
    );
    return { dealId, g };
  };
  const entriesOf = (dealId: bigint, count: number) =>
    order.slice(0, count).map((k) => {
      const Y = loraProduct(Xs[k], A, B);
      const hY = outputDigest(Y);
      const rho = computeRho({ chainId, escrow: escrowAddress, dealId, module: 0n, hX: hXs[k], hY });
      return { module: 0, hX: hXs[k], hY, fY: fingerprint(Y, rho), X: Xs[k], rho };
    });
  const prove = async (e: { X: bigint[][]; rho: bigint }): Promise<SolidityProof> =>
    toSolidityProof((await proveModule(art, { A, B, salt, X: e.X, rho: e.rho })).proof);

  // Deal 1: one module, 4 entries; one submit, then submitMany of 3.
  const d1 = await proposeDeal();
  gas.propose_1module = d1.g.toString();
  const e1 = entriesOf(d1.dealId, 4);
  gas.fund_eth_4entries = (
    await gasOf(
      as(escrow, buyer).fund(
        d1.dealId,
        e1.map(({ module, hX, hY, fY }) => ({ module, hX, hY, fY })),
        { value: price },
      ),
    )
  ).toString();
  const proofs = [];
  for (const e of e1) proofs.push(await prove(e));
  const submitGas = await gasOf(
    as(escrow, contributor).submit(d1.dealId, 0, proofs[0].a, proofs[0].b, proofs[0].c),
  );
  gas.submit = submitGas.toString();
  const manyGas = await gasOf(
    as(escrow, contributor).submitMany(
      d1.dealId,
      proofs.slice(1).map((p, i) => ({ entryIndex: i + 1, a: p.a, b: p.b, c: p.c })),
    ),
  );
  gas.submitMany_3proofs = manyGas.toString();
  gas.submitMany_perProof = (manyGas / 3n).toString();
  gas.settle_eth = (await gasOf(escrow.settle(d1.dealId))).toString();

  // The bare verifier, as a call from an account (includes the 21000 base and calldata).
  const signals = [...((await escrow.publicSignalsOf(d1.dealId, 0)) as bigint[])];
  const verifier = verifiers[SHAPE];
  if (!(await verifier.verifyProof(proofs[0].a, proofs[0].b, proofs[0].c, [...signals]))) {
    throw new Error("the bench proof does not verify");
  }
  gas.verifyProof_call_estimate = (
    await verifier.verifyProof.estimateGas(proofs[0].a, proofs[0].b, proofs[0].c, [...signals])
  ).toString();
  const batch = batchVerifiers[SHAPE];
  if (!(await batch.verifyProof(proofs[0].a, proofs[0].b, proofs[0].c, [...signals]))) {
    throw new Error("the batch verifier rejects the bench proof");
  }
  gas.batchVerifier_verifyProof_call_estimate = (
    await batch.verifyProof.estimateGas(proofs[0].a, proofs[0].b, proofs[0].c, [...signals])
  ).toString();
  const [bx, by] = (await batch.signalBase(signals[0])) as bigint[];
  gas.batchVerifier_verifyProofFromBase_call_estimate = (
    await batch.verifyProofFromBase.estimateGas(
      proofs[0].a,
      proofs[0].b,
      proofs[0].c,
      [bx, by],
      signals.slice(1),
    )
  ).toString();

  // Deal 3: the same shape registered without a batch verifier: submit through the generated verifier.
  const variant = ethers.encodeBytes32String("zklora.bench.v1");
  await (
    await registry.register(variant, shape.T, shape.DIN, shape.R, shape.DOUT, await verifier.getAddress())
  ).wait();
  const bare = (await registry.shapeIdOf(variant, shape.T, shape.DIN, shape.R, shape.DOUT)) as string;
  const d3 = await proposeDeal(bare);
  const [e3] = entriesOf(d3.dealId, 1);
  await gasOf(
    as(escrow, buyer).fund(d3.dealId, [{ module: 0, hX: e3.hX, hY: e3.hY, fY: e3.fY }], { value: price }),
  );
  const p3 = await prove(e3);
  const plainGas = await gasOf(as(escrow, contributor).submit(d3.dealId, 0, p3.a, p3.b, p3.c));
  gas.submit_generatedVerifier = plainGas.toString();

  // Deal 2: one entry, refunded after the window.
  const d2 = await proposeDeal();
  const e2 = entriesOf(d2.dealId, 1);
  gas.fund_eth_1entry = (
    await gasOf(
      as(escrow, buyer).fund(
        d2.dealId,
        e2.map(({ module, hX, hY, fY }) => ({ module, hX, hY, fY })),
        { value: price },
      ),
    )
  ).toString();
  await networkHelpers.time.increase(3601);
  gas.refund_eth = (await gasOf(escrow.refund(d2.dealId))).toString();

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
    deployment: { escrow: record.contracts.LoraEscrow.address },
    gas,
    goalPerProof: GOAL_PER_PROOF.toString(),
    submitMeetsGoal: submitGas <= GOAL_PER_PROOF,
    submitGeneratedVerifierMeetsGoal: plainGas <= GOAL_PER_PROOF,
    submitManyPerProofMeetsGoal: manyGas / 3n <= GOAL_PER_PROOF,
    notes:
      "gasUsed from receipts (includes the 21000 base and calldata; no access lists). submit = one proof in its own " +
      "transaction, checked by the batch verifier's verifyProofFromBase; submit_generatedVerifier = the same on a " +
      "shape without a batch verifier (snarkjs verifier); submitMany_perProof = a batch of 3 divided by 3. " +
      "*_call_estimate = eth_estimateGas of a bare call from an account.",
  };
  console.log(JSON.stringify(result, null, 2));
  await writeBenchResult(`gas-${result.date.slice(0, 10)}`, result);
}

await runBench(main);
