/**
 * Gas benchmark (`npm run bench:gas`): deploys zklora with the project's deploy code on Hardhat's
 * in-process chain, runs deals with REAL proofs for the tiny test shape and records the gas of every
 * call (propose, fund per entry count, submit, submitMany per proof, settle, refund, the bare
 * verifiers). `submit` is checked by the shape's batch verifier (`verifyProofFromBase`, the base
 * `IC_0 + C_m·IC_1` stored at funding); `submit_generatedVerifier` is the same proof on a shape registered
 * without a batch verifier (the snarkjs verifier). Plain transactions, no EIP-2930 access lists.
 * Chunked modules: `submitChunked` of a real chain of the tiny chunked shape (2 A + 2 B chunk proofs; the
 * ChunkedModuleVerifier checks each kind's proofs in one Groth16BatchVerifierN call), the bare generated
 * chunk verifiers, the bare batch verifiers on 1, 2 and 4 real chunk proofs per kind (two proving runs),
 * and from the measured marginal cost per proof a MODEL of one distilgpt2 c_attn module's chain
 * (verification gas does not depend on the circuit size, only on the public signal count and the number
 * of proofs, so a real shape's chunk proof costs the tiny one's).
 * Writes bench/results/gas-<date>.json. Goal: submit <= 250k gas per proof.
 */
import hre, { network } from "hardhat";
import type { Contract } from "ethers";
import { chunkCalldata } from "../src/chain/chunked.js";
import { collectZkloraArtifacts, deployZklora } from "../src/chain/deploy.js";
import {
  activationHash,
  buildChunkedCircuits,
  buildCircuit,
  chunkCounts,
  chunkedActivationHash,
  chunkedCommitment,
  linkStart,
  loadChunkedShapes,
  proveChunkedModule,
  randomChunkSalts,
  computeRho,
  findShape,
  fingerprint,
  loadShapes,
  loraProduct,
  outputDigest,
  proveModule,
  solidityChunks,
  toSolidityProof,
  weightCommitment,
  type SolidityProof,
} from "../src/zk/index.js";
import { chooseChunkWidths } from "../src/zk/cost.js";
import { gasOf, matrix, runBench, writeBenchResult } from "./common.js";

const SHAPE = process.env.ZKLORA_GAS_SHAPE ?? "t2_i8_r2_o8";
const CHUNKED_SHAPE = "t2_i8_r2_o8_a4_b4";
/** distilgpt2 c_attn at ZKLoRA's 15 rows. */
const C_ATTN = { T: 15, DIN: 768, R: 8, DOUT: 2304 };
const GOAL_PER_PROOF = 250_000n;

async function main(): Promise<void> {
  const { ethers, networkHelpers } = await network.create();
  const [deployer, contributor, buyer] = await ethers.getSigners();
  const shape = await findShape(SHAPE);
  const chunkedShape = (await loadChunkedShapes()).find((s) => s.name === CHUNKED_SHAPE);
  if (chunkedShape === undefined) throw new Error(`no ${CHUNKED_SHAPE} in circuits/chunk-shapes.json`);
  const { artifacts } = await collectZkloraArtifacts(hre.artifacts, await loadShapes(), {
    only: [SHAPE, CHUNKED_SHAPE],
    chunkedShapes: [{ ...chunkedShape, linkStart: await linkStart(chunkedShape.R) }],
  });
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

  // Deal 4: one module of the tiny chunked shape, proven by its chain (submitChunked).
  const chunkedArt = await buildChunkedCircuits(chunkedShape);
  const cw = {
    A: matrix(chunkedShape.DIN, chunkedShape.R, 3, 60),
    B: matrix(chunkedShape.R, chunkedShape.DOUT, 4, 60),
    X: matrix(chunkedShape.T, chunkedShape.DIN, 5, 500),
    salts: randomChunkSalts(chunkedShape),
  };
  const { C_m } = await chunkedCommitment(cw.A, cw.B, cw.salts, chunkedShape);
  const d4 = (await escrow.nextDealId()) as bigint;
  await gasOf(
    as(escrow, contributor).propose(
      price,
      ethers.ZeroAddress,
      await buyer.getAddress(),
      ethers.id("base"),
      [{ target: "transformer.h.0.attn.c_attn", shapeId: chunkedArt.shapeId, commitment: C_m }],
      3600n,
    ),
  );
  const { hX: chX } = await chunkedActivationHash(cw.X, chunkedShape);
  const cY = loraProduct(cw.X, cw.A, cw.B);
  const chY = outputDigest(cY);
  const crho = computeRho({ chainId, escrow: escrowAddress, dealId: d4, module: 0n, hX: chX, hY: chY });
  await gasOf(
    as(escrow, buyer).fund(d4, [{ module: 0, hX: chX, hY: chY, fY: fingerprint(cY, crho) }], {
      value: price,
    }),
  );
  const chain = await proveChunkedModule(chunkedArt, { ...cw, rho: crho });
  const calldata = chunkCalldata(solidityChunks(chain.proofs));
  const chunkedGas = await gasOf(
    as(escrow, contributor).submitChunked(d4, 0, calldata.chunksA, calldata.chunksB),
  );
  const { KA: tinyKA, KB: tinyKB } = chunkCounts(chunkedShape);
  gas[`submitChunked_${tinyKA}A_${tinyKB}B`] = chunkedGas.toString();
  const chunkRecord = record.shapes.find((s) => s.name === CHUNKED_SHAPE)?.chunked;
  if (chunkRecord === undefined) throw new Error("the chunked shape was not deployed");
  const estimateChunk = async (kind: "A" | "B") => {
    const c = chain.proofs.find((p) => p.kind === kind) as (typeof chain.proofs)[number];
    const sp = toSolidityProof(c.proof);
    const v = new ethers.Contract(
      kind === "A" ? chunkRecord.chunkAVerifier.address : chunkRecord.chunkBVerifier.address,
      [
        `function verifyProof(uint256[2],uint256[2][2],uint256[2],uint256[${c.publicSignals.length}]) view returns (bool)`,
      ],
      deployer,
    );
    if (!(await v.verifyProof(sp.a, sp.b, sp.c, c.publicSignals)))
      throw new Error(`chunk ${kind}0 does not verify`);
    return (await v.verifyProof.estimateGas(sp.a, sp.b, sp.c, c.publicSignals)) as bigint;
  };
  const chunkA = await estimateChunk("A");
  const chunkB = await estimateChunk("B");
  gas.chunkAVerifier_call_estimate = chunkA.toString();
  gas.chunkBVerifier_call_estimate = chunkB.toString();
  // The batch verifiers on 1, 2 and 4 real chunk proofs per kind (this chain and a second proving run).
  const rerun = await proveChunkedModule(chunkedArt, { ...cw, rho: crho });
  const batchProofs = (kind: "A" | "B") =>
    [...chain.proofs, ...rerun.proofs]
      .filter((p) => p.kind === kind)
      .map((p) => ({ ...toSolidityProof(p.proof), signals: p.publicSignals }));
  const batchGas: Record<"A" | "B", Record<number, bigint>> = { A: {}, B: {} };
  for (const kind of ["A", "B"] as const) {
    const address =
      kind === "A" ? chunkRecord.chunkABatchVerifier.address : chunkRecord.chunkBBatchVerifier.address;
    const v = await ethers.getContractAt("Groth16BatchVerifierN", address);
    const list = batchProofs(kind);
    for (const n of [1, 2, 4]) {
      if (!(await v.verifyBatch(list.slice(0, n))))
        throw new Error(`batch of ${n} ${kind} chunk proofs rejected`);
      batchGas[kind][n] = await v.verifyBatch.estimateGas(list.slice(0, n));
      gas[`chunk${kind}BatchVerifier_${n}_call_estimate`] = batchGas[kind][n].toString();
    }
  }
  // MODEL: the measured tiny chain plus, per extra chunk proof, the marginal cost of one more proof in a
  // bare batch call, (gas(4) - gas(2)) / 2 (its pairing, two ecMul, one ecAdd, copying, hashing, and its
  // call data, about what its chunk struct costs as submitChunked call data).
  const marginalA = (batchGas.A[4] - batchGas.A[2]) / 2n;
  const marginalB = (batchGas.B[4] - batchGas.B[2]) / 2n;
  const { WA, WB } = chooseChunkWidths(C_ATTN);
  const realKA = C_ATTN.DIN / WA;
  const realKB = C_ATTN.DOUT / WB;
  const cAttnModel = chunkedGas + BigInt(realKA - tinyKA) * marginalA + BigInt(realKB - tinyKB) * marginalB;
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
    chunked: {
      shape: { ...chunkedShape, KA: tinyKA, KB: tinyKB },
      submitChunked: chunkedGas.toString(),
      batchVerifierCalls: {
        A: Object.fromEntries(Object.entries(batchGas.A).map(([n, g]) => [n, g.toString()])),
        B: Object.fromEntries(Object.entries(batchGas.B).map(([n, g]) => [n, g.toString()])),
      },
      perChunkMarginal: { A: marginalA.toString(), B: marginalB.toString() },
      perChunkUnbatched: { A: (chunkA - 21_000n).toString(), B: (chunkB - 21_000n).toString() },
      c_attnModel: {
        label:
          "MODEL: the measured tiny submitChunked plus (K - 2) x the measured marginal cost of one more proof in a batch (gas(4) - gas(2)) / 2, per kind; linear in the number of chunk proofs (not a measured transaction)",
        shape: { name: "distilgpt2_c_attn_t15", ...C_ATTN, WA, WB, KA: realKA, KB: realKB },
        submitChunked: cAttnModel.toString(),
        perModuleProof: (cAttnModel / BigInt(realKA + realKB)).toString(),
      },
    },
    notes:
      "gasUsed from receipts (includes the 21000 base and calldata; no access lists). submit = one proof in its own " +
      "transaction, checked by the batch verifier's verifyProofFromBase; submit_generatedVerifier = the same on a " +
      "shape without a batch verifier (snarkjs verifier); submitMany_perProof = a batch of 3 divided by 3. " +
      "*_call_estimate = eth_estimateGas of a bare call from an account. chunked.submitChunked = one real " +
      "chain of the tiny chunked shape in its own transaction (batch-verified per chunk kind); " +
      "chunk{A,B}BatchVerifier_<n>_call_estimate = eth_estimateGas of a bare Groth16BatchVerifierN.verifyBatch of n " +
      "real chunk proofs; chunked.c_attnModel is a model.",
  };
  console.log(JSON.stringify(result, null, 2));
  await writeBenchResult(`gas-${result.date.slice(0, 10)}`, result);
}

await runBench(main);
