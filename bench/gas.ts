/**
 * Gas benchmark of protocol v2 (`npm run bench:gas`): ShapeRegistryV2, one LoraModuleVerifierV2 and
 * LoraEscrowV2 on Hardhat's in-process chain, deals with REAL v2 proofs of the tiny test shape
 * (DIN 8, R 2, DOUT 6, the shape of test/zk/v2-fixture.ts), each deal with its own δ' from a real
 * phase-2 contribution. Verification gas does not depend on the circuit size (the contract sees rho,
 * fY, D_X, W_m and the proof whatever DIN, R, DOUT are), so these figures hold for every shape.
 *
 * Measured from receipts (plain transactions, no access lists; gasUsed includes the 21,000 base and
 * the call data): propose with 1 and 16 modules (a shape the escrow has seen before; the first deal
 * of a shape also copies its verifier address, measured apart), fund with 1 and 16 entries (one δ'
 * key), submit of one module, submitBatch of 1, 2, 4, 8, 16 proofs (each from the same funded state,
 * a chain snapshot), settle and refund (ETH). Per-module figures: (g(16) − g(1)) / 15 for propose
 * and fund, g(n) / n for submitBatch. Also the floor of each proof step: the 21,000 base, its call
 * data and the precompiles it must call (ecPairing 45,000 + 34,000 per pair, ecMul 6,000, ecAdd 150).
 * Delivery deals (the key-wrap verifier registered too): proposeDelivery, fundDelivery (the buyer's
 * Baby Jubjub key checked in the subgroup, its wrap δ') and settleWithKeys with real key-wrap proofs
 * for 6 and 24 modules.
 *
 * Writes bench/results/gas-<ISO date>.json with the figures and the goals (met or not).
 */
import type { ClaimInput } from "../src/chain/client.js";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import hre, { network } from "hardhat";
import { deployZklora, readZkloraArtifacts } from "../src/chain/deploy.js";
import { shapeSpec, wrapSpec } from "../src/app/steps.js";
import { randomDeliveryKey, deliveryKeyHash } from "../src/zk/delivery/index.js";
import {
  BABY_BASE8,
  babyMul,
  buildWrapKey,
  buyerWrapKeypair,
  proveKeyWrap,
  randomBabyScalar,
  subgroupCertificate,
  toSolidityWrapProof,
} from "../src/zk/wrap/index.js";
import type { Contract } from "ethers";
import { loraProduct } from "../src/zk/index.js";
import {
  buildShapeKey,
  commitWeights,
  contributeDelta,
  deltaOf,
  foldEntry,
  proveV2,
  randomFieldElement,
  toSolidityProofV2,
  v2ShapeId,
  v2ShapeName,
  type FoldedEntry,
  type G1Point,
  type G2Point,
  type ModuleOpening,
  type ShapeKey,
  type SolidityProofV2,
  type V2Shape,
} from "../src/zk/v2/index.js";
import { SOLC_VERSION } from "../hardhat.config.js";
import { gasOf, matrix, runBench, writeBenchResult } from "./common.js";

/** The tiny v2 test shape (test/zk/v2-fixture.ts's TINY_V2). */
const SHAPE: V2Shape = { DIN: 8, R: 2, DOUT: 6 };
const MODULES = 16;
const BATCH_SIZES = [1, 2, 4, 8, 16];
/** Module counts of the delivery deals measured. */
const DELIVERY_MODULES = [6, 24];
const WINDOW = 3600n;
/** Goals (gas per transaction or per module, receipts' gasUsed). */
const GOALS = {
  submit: 210_000n,
  submitBatchPerModuleAt16: 70_000n,
  fundPerEntry: 60_000n,
  proposePerModule: 50_000n,
};
/** EIP-1108 precompile prices and the transaction base. */
const TX_BASE = 21_000n;
const PAIRING_BASE = 45_000n;
const PAIRING_PER_PAIR = 34_000n;
const EC_MUL = 6_000n;
const EC_ADD = 150n;

/** What a module proof is checked against (the client's type). */
type Claim = ClaimInput;

/** A proposed deal and its off-chain side. */
interface BenchDeal {
  id: bigint;
  openings: ModuleOpening[];
  W: G1Point[];
  entries: FoldedEntry[];
  zkey: string;
  delta: G2Point;
}

/** Call-data gas of a transaction's input (4 per zero byte, 16 per other byte). */
function calldataGas(data: string): bigint {
  let gas = 0n;
  for (let i = 2; i < data.length; i += 2) gas += data.slice(i, i + 2) === "00" ? 4n : 16n;
  return gas;
}

/** Gas the precompiles of one verification must use: n + 3 pairs (4 for one proof), ecMul, ecAdd. */
function precompileGas(n: number): bigint {
  const N = BigInt(n);
  if (n === 1) return PAIRING_BASE + 4n * PAIRING_PER_PAIR + 2n * EC_MUL + 4n * EC_ADD;
  return PAIRING_BASE + (N + 3n) * PAIRING_PER_PAIR + (3n * (N - 1n) + 4n) * EC_MUL + (3n * N + 3n) * EC_ADD;
}

async function main(): Promise<void> {
  const { ethers, networkHelpers } = await network.create();
  const [deployer, contributor, buyer, other] = await ethers.getSigners();
  const chainId = (await ethers.provider.getNetwork()).chainId;
  const dir = await mkdtemp(path.join(os.tmpdir(), "zklora-bench-gas-"));
  const key: ShapeKey = await buildShapeKey(SHAPE);
  const shapeId = v2ShapeId(SHAPE);

  // The project's own deploy path (registry, the shape's verifier registered, escrow).
  const wrapKey = await buildWrapKey();
  const record = await deployZklora(deployer, [shapeSpec(key)], await readZkloraArtifacts(hre.artifacts), {
    network: "hardhat",
    wrap: wrapSpec(wrapKey),
  });
  const escrow = (await ethers.getContractAt(
    "LoraEscrowV2",
    record.contracts.LoraEscrowV2.address,
  )) as unknown as Contract;
  const escrowAddress = await escrow.getAddress();
  const as = (s: typeof buyer) => escrow.connect(s) as Contract;
  const price = ethers.parseEther("1");

  let seed = 1;
  const opening = (): ModuleOpening => ({
    A: matrix(SHAPE.DIN, SHAPE.R, seed++, 2 ** 15),
    B: matrix(SHAPE.R, SHAPE.DOUT, seed++, 2 ** 15),
    salt: randomFieldElement(),
  });
  const proposeTx = (W: G1Point[]) =>
    as(contributor).propose(
      buyer.address,
      ethers.ZeroAddress,
      price,
      ethers.id("bench base model"),
      WINDOW,
      W.map((wM) => ({ shapeId, wM })),
    );

  /** Proposes a deal of n modules (real W_m) and prepares the buyer's entries and deal key. */
  const propose = async (n: number): Promise<{ deal: BenchDeal; gas: bigint }> => {
    const openings = Array.from({ length: n }, opening);
    const W: G1Point[] = [];
    for (let m = 0; m < n; m++) {
      const ctx = { chainId, escrow: escrowAddress, contributor: contributor.address, module: m };
      W.push((await commitWeights(key, openings[m], ctx)).W);
    }
    const gas = await gasOf(proposeTx(W));
    const id = (await escrow.dealCount()) as bigint;
    const entries: FoldedEntry[] = [];
    for (let m = 0; m < n; m++) {
      const X = matrix(1 + (m % 3), SHAPE.DIN, seed++, 2 ** 20);
      const Y = loraProduct(X, openings[m].A as bigint[][], openings[m].B as bigint[][]);
      entries.push(
        await foldEntry(key, X, Y, { chainId, escrow: escrowAddress, dealId: id, module: BigInt(m) }),
      );
    }
    const zkey = path.join(dir, `deal-${id}.zkey`);
    await contributeDelta(key.zkey, zkey);
    return { deal: { id, openings, W, entries, zkey, delta: (await deltaOf(zkey)).delta2 }, gas };
  };
  const fund = (d: BenchDeal) =>
    gasOf(
      as(buyer).fund(
        d.id,
        [{ shapeId, delta: d.delta }],
        d.entries.map((e) => ({ hX: e.hX, hY: e.hY, dX: e.D_X, fY: e.fY })),
        { value: price },
      ),
    );
  const claim = (d: BenchDeal, m: number): Claim => {
    const e = d.entries[m];
    return { module: m, shapeId, wM: d.W[m], rho: e.rho, fY: e.fY, dX: e.D_X };
  };
  const prove = async (d: BenchDeal, m: number): Promise<SolidityProofV2> => {
    const e = d.entries[m];
    return toSolidityProofV2(
      (await proveV2(key, d.zkey, e, d.openings[m], { D_X: e.D_X, W_m: d.W[m] })).proof,
    );
  };

  const gas: Record<string, string> = {};
  const put = (k: string, v: bigint) => {
    gas[k] = v.toString();
    console.log(`${k}: ${v}`);
  };

  // The escrow's first deal of a shape copies the registry's verifier address (once per shape, ever).
  put("propose_1module_firstDealOfShape", (await propose(1)).gas);
  const one = await propose(1);
  put("propose_1module", one.gas);
  const big = await propose(MODULES);
  put(`propose_${MODULES}modules`, big.gas);
  const fund1 = await fund(one.deal);
  put("fund_1entry", fund1);
  const fund16 = await fund(big.deal);
  put(`fund_${MODULES}entries`, fund16);

  const proofs: SolidityProofV2[] = [];
  for (let m = 0; m < MODULES; m++) proofs.push(await prove(big.deal, m));
  const claims = Array.from({ length: MODULES }, (_, m) => claim(big.deal, m));
  const funded = await networkHelpers.takeSnapshot();

  // submit: one module of the funded 16-module deal.
  const submitTx = as(other).submit(big.deal.id, claims[0], proofs[0], big.deal.delta);
  const submitData = (await submitTx).data;
  const submit = await gasOf(submitTx);
  put("submit", submit);

  const batch: Record<number, { gas: bigint; calldata: bigint }> = {};
  for (const n of BATCH_SIZES) {
    await funded.restore();
    const tx = as(other).submitBatch(
      big.deal.id,
      shapeId,
      big.deal.delta,
      claims.slice(0, n),
      proofs.slice(0, n),
    );
    const data = (await tx).data;
    const g = await gasOf(tx);
    if (!(await escrow.isProven(big.deal.id, n - 1))) throw new Error(`submitBatch of ${n} proved nothing`);
    batch[n] = { gas: g, calldata: calldataGas(data) };
    put(`submitBatch_${n}`, g);
  }

  // settle: the 16 modules proven by the batch of 16 (the chain is at that state).
  put("settle_eth", await gasOf(as(other).settle(big.deal.id)));
  // refund: the 1-module deal, never proven, after its window.
  await networkHelpers.time.increase(WINDOW + 1n);
  put("refund_eth", await gasOf(as(other).refund(one.deal.id)));

  // Delivery deals: proposeDelivery, fundDelivery, every module proven, settleWithKeys.
  const delivery: Record<string, Record<string, string>> = {};
  for (const n of DELIVERY_MODULES) {
    const { deal: d } = await propose(n);
    // The same modules again as a delivery deal (the plain deal above stays unfunded).
    const k = Array.from({ length: n }, () => randomDeliveryKey());
    const hK = k.map(deliveryKeyHash);
    const mods = d.W.map((wM) => ({ shapeId, wM }));
    const proposeGas = await gasOf(
      as(contributor).proposeDelivery(
        buyer.address,
        ethers.ZeroAddress,
        price,
        ethers.id("bench"),
        WINDOW,
        mods,
        hK,
      ),
    );
    const id = (await escrow.dealCount()) as bigint;
    const entries: FoldedEntry[] = [];
    for (let m = 0; m < n; m++) {
      const X = matrix(2, SHAPE.DIN, seed++, 2 ** 20);
      const Y = loraProduct(X, d.openings[m].A as bigint[][], d.openings[m].B as bigint[][]);
      entries.push(
        await foldEntry(key, X, Y, { chainId, escrow: escrowAddress, dealId: id, module: BigInt(m) }),
      );
    }
    const dd: BenchDeal = { ...d, id, entries };
    const wrapZkey = path.join(dir, `wrap-${id}.zkey`);
    await contributeDelta(wrapKey.zkey, wrapZkey);
    const buyerKey = buyerWrapKeypair();
    const wrap = { pk: buyerKey.pk, delta: (await deltaOf(wrapZkey)).delta2 };
    const fundGas = await gasOf(
      as(buyer).fundDelivery(
        id,
        [{ shapeId, delta: dd.delta }],
        entries.map((e) => ({ hX: e.hX, hY: e.hY, dX: e.D_X, fY: e.fY })),
        wrap,
        subgroupCertificate(wrap.pk),
        { value: price },
      ),
    );
    const ps: SolidityProofV2[] = [];
    for (let m = 0; m < n; m++) ps.push(await prove(dd, m));
    const cs = Array.from({ length: n }, (_, m) => claim(dd, m));
    for (let i = 0; i < n; i += 16)
      await gasOf(as(other).submitBatch(id, shapeId, dd.delta, cs.slice(i, i + 16), ps.slice(i, i + 16)));
    const e = randomBabyScalar();
    const E = babyMul(BABY_BASE8, e);
    const t0 = performance.now();
    const wraps = await proveKeyWrap(wrapKey, wrapZkey, {
      pk: buyerKey.pk,
      e,
      E,
      dealId: id,
      modules: k.map((kk, m) => ({ m, k: kk })),
    });
    const wrapSeconds = (performance.now() - t0) / 1000;
    const settleGas = await gasOf(
      as(other).settleWithKeys(
        id,
        wrap,
        hK,
        E,
        wraps.flatMap((w) => [...w.statement.R]),
        wraps.map((w) => toSolidityWrapProof(w.proof)),
      ),
    );
    put(`proposeDelivery_${n}modules`, proposeGas);
    put(`fundDelivery_${n}entries`, fundGas);
    put(`settleWithKeys_${n}modules`, settleGas);
    delivery[`${n}modules`] = {
      proposeDelivery: proposeGas.toString(),
      fundDelivery: fundGas.toString(),
      settleWithKeys: settleGas.toString(),
      keyWrapProofs: String(wraps.length),
      keyWrapProveSeconds: wrapSeconds.toFixed(2),
    };
  }
  await rm(dir, { recursive: true, force: true });

  const proposePerModule = (big.gas - one.gas) / BigInt(MODULES - 1);
  const fundPerEntry = (fund16 - fund1) / BigInt(MODULES - 1);
  const batch16 = batch[MODULES].gas / BigInt(MODULES);
  const perModule = {
    proposePerFurtherModule: proposePerModule.toString(),
    fundPerFurtherEntry: fundPerEntry.toString(),
    submitBatchPerModule: Object.fromEntries(
      BATCH_SIZES.map((n) => [n, (batch[n].gas / BigInt(n)).toString()]),
    ) as Record<string, string>,
  };
  const goal = (name: string, target: bigint, value: bigint, how: string) => ({
    name,
    goal: `<= ${target}`,
    value: value.toString(),
    how,
    met: value <= target,
  });
  const goals = [
    goal("submit", GOALS.submit, submit, "gasUsed of submit (one module)"),
    goal(
      "submitBatch per module at 16",
      GOALS.submitBatchPerModuleAt16,
      batch16,
      "gasUsed of submitBatch of 16 proofs / 16",
    ),
    goal(
      "fund per module entry",
      GOALS.fundPerEntry,
      fundPerEntry,
      "(fund with 16 entries − fund with 1) / 15, one δ' key",
    ),
    goal(
      "propose per module",
      GOALS.proposePerModule,
      proposePerModule,
      "(propose of 16 modules − propose of 1) / 15",
    ),
  ];
  // What no implementation of this ABI can go below: the transaction base, the call data and the
  // precompiles of the verification (storage, events and the calls themselves come on top).
  const floor = (calldata: bigint, n: number) => ({
    txBase: TX_BASE.toString(),
    calldata: calldata.toString(),
    precompiles: precompileGas(n).toString(),
    total: (TX_BASE + calldata + precompileGas(n)).toString(),
  });
  const floors = {
    submit: floor(calldataGas(submitData), 1),
    ...Object.fromEntries(
      BATCH_SIZES.map((n) => {
        const f = floor(batch[n].calldata, n);
        return [`submitBatch_${n}`, { ...f, perModule: (BigInt(f.total) / BigInt(n)).toString() }];
      }),
    ),
  };

  const result = {
    date: new Date().toISOString(),
    bench: "gas (protocol v2)",
    chain: `hardhat in-process (EDR), chainId ${chainId}`,
    solc: `${SOLC_VERSION}, optimizer 200 runs, evm cancun`,
    shape: { name: v2ShapeName(SHAPE), ...SHAPE, shapeId },
    note:
      "gasUsed from receipts (21,000 base and call data included). Verification gas does not depend on the " +
      "circuit size. propose_1module / propose_16modules are for a shape the escrow has seen before; " +
      "submitBatch_n proves modules 0..n-1 of a funded 16-module deal, each from the same snapshot.",
    gas,
    perModule,
    goals,
    floors,
    delivery: {
      note:
        "delivery deals of the tiny shape: proposeDelivery (hK per module), fundDelivery (module keys, entries, the " +
        `buyer's Baby Jubjub key checked in the subgroup and its wrap δ'), settleWithKeys (one key-wrap proof per ${wrapKey.slots} modules, ` +
        `${wrapKey.constraints} constraints each, proved here in-process)`,
      ...delivery,
    },
  };
  await writeBenchResult(`gas-${result.date.replace(/[:.]/g, "-")}`, result);
  for (const g of goals)
    console.log(`${g.met ? "met    " : "NOT met"} ${g.name}: ${g.value} (goal ${g.goal})`);
}

await runBench(main);
