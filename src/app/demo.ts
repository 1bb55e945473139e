/**
 * The demo deal (protocol v2): every step of PROTOCOL.md's flow in one process, on whatever chain
 * the signers are connected to (the `zklora:demo` task uses Hardhat's embedded network).
 * Generated fixtures: a random rank-8 PEFT adapter on the real base model models/stories260k
 * (q_proj and v_proj of the chosen layers); the buyer's evaluation text is a greedy continuation
 * of the base model from BOS.
 *
 * Steps: deploy (registry + escrow + key-wrap verifier) → commit (shape keys set up on demand, cached
 * by content; W_m and its proof of knowledge per module) → deliver (the weights encrypted once per
 * adapter, delivery proofs and links to W_m) → register the shapes → propose (a delivery deal:
 * hK_m per module) → serve (in-process, 127.0.0.1, ephemeral port) → infer → fund (the buyer checks
 * every proof of knowledge, the registered verifiers and every delivery proof, makes its own deal key
 * per shape and its key-wrap key, funds with δ', one folded entry per module and its Baby Jubjub key,
 * uploads the keys) → prove (the contributor checks each deal key, one proof per module, verified
 * locally) → submit (batched per shape) → settle with the delivery keys wrapped for the buyer →
 * decrypt (the buyer unwraps, decrypts, checks its rows and writes the PEFT adapter) → report.
 * `delivery: false` runs the plain deal (settle without keys).
 */
import { rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Signer } from "ethers";
import { ZkloraClient, addressesOf, type TxResult } from "../chain/index.js";
import { deployZklora, registerShapes, type ZkloraArtifacts } from "../chain/deploy.js";
import { buildWrapKey } from "../zk/wrap/index.js";
import { ProvingPool } from "../zk/pool.js";
import { decryptStep, deliverStep, settleStep } from "./delivery.js";
import { PROJECT_ROOT } from "../common/cache.js";
import {
  STORIES260K_DIR,
  greedyContinue,
  loadBaseModel,
  writeRandomAdapter,
  type BaseModel,
} from "../model/index.js";
import type { EvaluationReport } from "../mpi/index.js";
import { formatAmount } from "./format.js";
import { Progress } from "./progress.js";
import {
  commitStep,
  fundStep,
  inferStep,
  proposeStep,
  proveStep,
  shapeSpec,
  startServe,
  submitStep,
  wrapSpec,
} from "./steps.js";
import { Workspace } from "./workspace.js";
import { UsageError } from "./errors.js";

export interface DemoOptions {
  /** Deploys the contracts and owns the registry. */
  deployer: Signer;
  contributor: Signer;
  buyer: Signer;
  /** Network name for the deployment record. */
  network: string;
  /** The compiled v2 contracts. */
  artifacts: ZkloraArtifacts;
  /** Workspace folder (wiped first). */
  workspace?: string;
  /** Decoder layers that get a LoRA (default: all 5 of stories260k). */
  layers?: number[];
  /** LoRA rank (default 8). */
  rank?: number;
  /** Evaluation tokens: BOS + greedy continuation, this many in all (default 8). */
  tokens?: number;
  /** Price in wei (default 1 ETH). */
  price?: bigint;
  /** Deliver the weights with the payment (default true). */
  delivery?: boolean;
  /** Where the step lines and the report go (default: `progress`'s log lines). */
  log?: (line: string) => void;
  /**
   * The progress of the long work inside the steps: key setups, contributions, checks, proofs
   * (default: plain lines to `log` when given, else the component on stdout).
   */
  progress?: Progress;
}

export interface DemoReport {
  dealId: string;
  escrow: string;
  chainId: string;
  modules: { index: number; target: string; shape: string; constraints: number }[];
  shapes: { shape: string; constraints: number; publicInputs: number; ptau: string }[];
  evaluation: EvaluationReport;
  tokens: number[];
  /** Rows proven per module (all the buyer's calls to it, folded into one proof). */
  rows: number[];
  gas: {
    deploy: string;
    register: string;
    propose: string;
    fund: string;
    submit: string;
    submitPerModule: string;
    settle: string;
  };
  status: string;
  /** The delivery: per module its delivery circuit and chunks, and the decrypted adapter's folder. */
  delivery?: {
    modules: { module: number; deliveryShape: string; chunks: number; constraints: number }[];
    wrapProofs: number;
    adapter: string;
    rowsReproduced: number;
  };
  price: string;
  balances: {
    contributor: { before: string; after: string; fees: string; received: string };
    buyer: { before: string; after: string; fees: string; paid: string };
    escrow: { before: string; after: string };
  };
  seconds: Record<string, number>;
}

/** Runs the complete demo deal; returns the report (also printed through `log`). */
/**
 * Runs `f` with prover processes (the native prover when it is built, else snarkjs), one per two
 * cores and at most 4, closed afterwards.
 */
async function withProvers<T>(f: (pool: ProvingPool) => Promise<T>): Promise<T> {
  const pool = new ProvingPool({
    maxWorkers: Math.max(1, Math.min(4, Math.floor(os.availableParallelism() / 2))),
  });
  try {
    return await f(pool);
  } finally {
    await pool.close();
  }
}

export async function runDemo(o: DemoOptions): Promise<DemoReport> {
  const t00 = performance.now();
  const progress =
    o.progress ??
    (o.log !== undefined ? Progress.of({ log: o.log }) : new Progress({ stream: process.stdout }));
  const base = await loadBaseModel(STORIES260K_DIR);
  try {
    return await demoDeal(o, progress, base, t00);
  } finally {
    if (o.progress === undefined) progress.close();
    await base.close();
  }
}

const sum = (txs: readonly TxResult[], k: "gasUsed" | "fee") => txs.reduce((s, t) => s + t[k], 0n);

async function demoDeal(
  o: DemoOptions,
  progress: Progress,
  base: BaseModel,
  t00: number,
): Promise<DemoReport> {
  const log = o.log ?? ((l: string) => progress.log(l));
  // Inside a step: its lines and live lines, indented under the step's `[n/12]` line.
  const sub = progress.child("      ");
  const seconds: Record<string, number> = {};
  let t0 = performance.now();
  const lap = (name: string) => {
    seconds[name] = Number(((performance.now() - t0) / 1000).toFixed(2));
    t0 = performance.now();
    log(`  … ${name} done in ${seconds[name]} s`);
  };
  const delivery = o.delivery !== false;
  const steps = delivery ? 12 : 10;
  let stepNo = 0;
  const step = (line: string) => log(`[${++stepNo}/${steps}] ${line}`);

  const ws = new Workspace(o.workspace ?? path.join(PROJECT_ROOT, "deals", "demo"));
  await rm(ws.dir, { recursive: true, force: true });
  await ws.ensure();
  const provider = o.deployer.provider;
  if (provider === null) throw new UsageError("the demo's signers need a provider");
  const [contributorAddr, buyerAddr] = await Promise.all([o.contributor.getAddress(), o.buyer.getAddress()]);

  const nLayers = base.config.layers;
  const layers = o.layers ?? Array.from({ length: nLayers }, (_, i) => i);
  if (layers.length === 0 || layers.some((l) => !Number.isInteger(l) || l < 0 || l >= nLayers)) {
    throw new UsageError(`--layers must list layers 0..${nLayers - 1}, got ${layers.join(",")}`);
  }
  const rank = o.rank ?? 8;
  const targetModules =
    layers.length === nLayers
      ? ["q_proj", "v_proj"]
      : layers.flatMap((l) => [`model.layers.${l}.self_attn.q_proj`, `model.layers.${l}.self_attn.v_proj`]);

  step(`deploy the shape registry and the escrow${delivery ? " and register the key-wrap verifier" : ""}`);
  const blockBefore = await provider.getBlockNumber();
  const record = await deployZklora(o.deployer, [], o.artifacts, {
    network: o.network,
    wrap: delivery ? wrapSpec(await buildWrapKey({ onProgress: sub.zk() })) : undefined,
  });
  const addresses = addressesOf(record);
  const asContributor = await ZkloraClient.connect(o.contributor, addresses);
  const asBuyer = asContributor.withRunner(o.buyer);
  const gasSince = async (from: number) => {
    let g = 0n;
    for (let b = from + 1; b <= (await provider.getBlockNumber()); b++) {
      const block = await provider.getBlock(b);
      for (const h of block?.transactions ?? [])
        g += (await provider.getTransactionReceipt(h))?.gasUsed ?? 0n;
    }
    return g;
  };
  const deployGas = await gasSince(blockBefore);
  lap("deploy");

  step(
    `commit: a random rank-${rank} LoRA on ${targetModules.join(", ")} of stories260k (layers ${layers.join(",")}); shape keys on demand`,
  );
  await writeRandomAdapter(STORIES260K_DIR, ws.adapterDir, {
    r: rank,
    alpha: 2 * rank,
    targetModules,
    seed: 7,
    scale: 0.25,
  });
  const { manifest, keys } = await commitStep({
    workspace: ws,
    modelDir: STORIES260K_DIR,
    adapterDir: ws.adapterDir,
    client: asContributor,
    contributor: contributorAddr,
    progress: sub,
  });
  log(
    `      ${manifest.modules.length} modules, ${keys.length} shape(s): ${keys.map((k) => `${k.name} (${k.constraints} constraints, ${k.publicInputs} public inputs)`).join(", ")}`,
  );
  lap("commit");

  let delivered: Awaited<ReturnType<typeof deliverStep>> | undefined;
  if (delivery) {
    step(
      `deliver: each module's weights encrypted once per adapter (Poseidon cipher, range-checked), a delivery proof per chunk, the link to W_m`,
    );
    delivered = await withProvers((pool) => deliverStep({ workspace: ws, progress: sub, pool }));
    lap("deliver");
  }

  step(`register ${keys.length} shape verifier(s) (the registry owner)`);
  const regBlock = await provider.getBlockNumber();
  await registerShapes(o.deployer, record, keys.map(shapeSpec), o.artifacts, (l) => sub.log(l));
  const registerGas = await gasSince(regBlock);
  lap("register");

  const price = o.price ?? 10n ** 18n;
  const eth = { symbol: "ETH", decimals: 18 };
  const before = {
    contributor: await provider.getBalance(contributorAddr),
    buyer: await provider.getBalance(buyerAddr),
    escrow: await provider.getBalance(addresses.escrow),
  };
  const fees = { contributor: 0n, buyer: 0n };

  step(
    `propose: ${manifest.modules.length} modules (shape, W_m) for ${formatAmount(price, eth)} to buyer ${buyerAddr}`,
  );
  const proposed = await proposeStep({
    workspace: ws,
    client: asContributor,
    price,
    buyer: buyerAddr,
    provingWindow: 3600,
    delivery,
    progress: sub,
  });
  fees.contributor += proposed.tx.fee;
  log(`      deal ${proposed.dealId}, gas ${proposed.tx.gasUsed}`);
  lap("propose");

  step(`serve: the contributor's MPI server on 127.0.0.1 (every answered call fsynced before the reply)`);
  const served = await startServe({ workspace: ws, signer: o.contributor, client: asContributor, log });
  log(`      listening on ${served.url}`);
  let evaluation: EvaluationReport;
  let tokens: number[];
  let funded: Awaited<ReturnType<typeof fundStep>>;
  try {
    lap("serve");
    const n = o.tokens ?? 8;
    tokens = [1, ...(await greedyContinue(base, [1], n - 1))];
    step(
      `infer: the buyer evaluates ${tokens.length} tokens (BOS + greedy continuation: ${tokens.join(" ")})`,
    );
    ({ report: evaluation } = await inferStep({
      workspace: ws,
      signer: o.buyer,
      url: served.url,
      model: base,
      tokens,
    }));
    log(
      `      loss without adapter ${evaluation.base.loss.toFixed(4)} (ppl ${evaluation.base.perplexity.toFixed(3)}), ` +
        `with adapter ${evaluation.adapted.loss.toFixed(4)} (ppl ${evaluation.adapted.perplexity.toFixed(3)}), ${evaluation.calls} remote calls`,
    );
    lap("infer");

    step(
      `fund: the buyer checks the offer, makes its own deal key per shape, funds (δ' + one entry per module), uploads the keys`,
    );
    funded = await fundStep({
      workspace: ws,
      client: asBuyer,
      url: served.url,
      progress: sub,
    });
    fees.buyer += funded.tx.fee + (funded.approveTx?.fee ?? 0n);
    const failed = funded.keys.find((k) => !k.uploaded);
    if (failed !== undefined)
      throw new UsageError(`the deal key of ${failed.shape} did not reach the server: ${failed.uploadError}`);
    log(`      gas ${funded.tx.gasUsed}; keys uploaded: ${funded.keys.map((k) => k.shape).join(", ")}`);
    lap("fund");
  } finally {
    await served.server.close();
  }

  step(
    `prove: the contributor checks each deal key, proves each module once (all its rows folded), verifies locally`,
  );
  const proved = await withProvers((pool) =>
    proveStep({ workspace: ws, client: asContributor, progress: sub, pool }),
  );
  log(`      ${proved.proven.length} proofs`);
  lap("prove");

  step(
    `submit the proofs (batched per shape) and settle${delivery ? " with the delivery keys wrapped for the buyer (key-wrap proof)" : ""}`,
  );
  const submitted = await submitStep({ workspace: ws, client: asContributor, batch: 16 });
  const submitTxs = submitted.txs.map((t) => t.tx);
  fees.contributor += sum(submitTxs, "fee");
  const settledStep = await settleStep({ workspace: ws, client: asContributor, progress: sub });
  const settled = settledStep.tx;
  fees.contributor += settled.fee;
  log(
    `      ${submitted.txs.map((t) => `${t.method}(${t.modules.length}) ${t.tx.gasUsed} gas`).join(", ")}; ` +
      `${settledStep.delivered ? `settleWithKeys (${settledStep.proofs} key-wrap proof)` : "settle"} ${settled.gasUsed} gas`,
  );
  lap("submitAndSettle");

  let decrypted: Awaited<ReturnType<typeof decryptStep>> | undefined;
  if (delivery) {
    step(
      `decrypt: the buyer unwraps the keys with its secret, decrypts, checks its rows, writes the PEFT adapter`,
    );
    decrypted = await decryptStep({ workspace: ws, client: asBuyer, log: (l) => sub.log(l) });
    log(`      ${decrypted.dir}`);
    lap("decrypt");
  }

  const deal = await asContributor.getDeal(proposed.dealId);
  const after = {
    contributor: await provider.getBalance(contributorAddr),
    buyer: await provider.getBalance(buyerAddr),
    escrow: await provider.getBalance(addresses.escrow),
  };
  const keyOf = (shapeId: string) => keys.find((k) => k.shapeId === shapeId);
  seconds.total = Number(((performance.now() - t00) / 1000).toFixed(2));
  const submitGas = sum(submitTxs, "gasUsed");
  const report: DemoReport = {
    dealId: proposed.dealId.toString(),
    escrow: addresses.escrow,
    chainId: String(addresses.chainId),
    modules: manifest.modules.map((m) => ({
      index: m.index,
      target: m.target,
      shape: m.shape.name,
      constraints: keyOf(m.shape.shapeId)?.constraints ?? 0,
    })),
    shapes: keys.map((k) => ({
      shape: k.name,
      constraints: k.constraints,
      publicInputs: k.publicInputs,
      ptau: k.ptau.source,
    })),
    evaluation,
    tokens,
    rows: funded.rows,
    gas: {
      deploy: deployGas.toString(),
      register: registerGas.toString(),
      propose: proposed.tx.gasUsed.toString(),
      fund: funded.tx.gasUsed.toString(),
      submit: submitGas.toString(),
      submitPerModule: (submitGas / BigInt(Math.max(1, proved.proven.length))).toString(),
      settle: settled.gasUsed.toString(),
    },
    status: deal.status,
    delivery:
      delivered === undefined || decrypted === undefined
        ? undefined
        : {
            modules: delivered.modules.map((m) => ({
              module: m.module,
              deliveryShape: m.deliveryShape,
              chunks: m.chunks,
              constraints: m.constraints,
            })),
            wrapProofs: settledStep.proofs,
            adapter: path.relative(PROJECT_ROOT, decrypted.dir),
            rowsReproduced: decrypted.rows,
          },
    price: price.toString(),
    balances: {
      contributor: {
        before: before.contributor.toString(),
        after: after.contributor.toString(),
        fees: fees.contributor.toString(),
        received: (after.contributor - before.contributor + fees.contributor).toString(),
      },
      buyer: {
        before: before.buyer.toString(),
        after: after.buyer.toString(),
        fees: fees.buyer.toString(),
        paid: (before.buyer - after.buyer - fees.buyer).toString(),
      },
      escrow: { before: before.escrow.toString(), after: after.escrow.toString() },
    },
    seconds,
  };
  for (const line of formatDemoReport(report)) log(line);
  return report;
}

/** "10 modules in 20 chunk(s) of delivery_v2_c675_b16 (… constraints each)", per delivery circuit. */
function deliveryCircuits(mods: NonNullable<DemoReport["delivery"]>["modules"]): string {
  const by = new Map<string, { modules: number; chunks: number; constraints: number }>();
  for (const m of mods) {
    const e = by.get(m.deliveryShape) ?? { modules: 0, chunks: 0, constraints: m.constraints };
    e.modules++;
    e.chunks += m.chunks;
    by.set(m.deliveryShape, e);
  }
  return [...by]
    .map(
      ([name, e]) =>
        `${e.modules} modules in ${e.chunks} chunk(s) of ${name} (${e.constraints} constraints each)`,
    )
    .join(", ");
}

/** The demo report as text. */
export function formatDemoReport(r: DemoReport): string[] {
  const eth = { symbol: "ETH", decimals: 18 };
  const f = (v: string) => formatAmount(BigInt(v), eth);
  return [
    "",
    `=== zklora demo deal ${r.dealId} on chain ${r.chainId} (escrow ${r.escrow}): ${r.status} ===`,
    `modules (${r.modules.length}):`,
    ...r.modules.map(
      (m) =>
        `  #${m.index} ${m.target}  ${m.shape}  ${m.constraints} constraints, ${r.rows[m.index]} rows proven`,
    ),
    `shapes: ${r.shapes.map((s) => `${s.shape} ${s.constraints} constraints, ${s.publicInputs} public inputs (${s.ptau === "dev" ? "FORGEABLE dev ptau" : "public ptau"})`).join("; ")}`,
    `evaluation on ${r.tokens.length} tokens [${r.tokens.join(" ")}]:`,
    `  without adapter: loss ${r.evaluation.base.loss.toFixed(4)}, perplexity ${r.evaluation.base.perplexity.toFixed(3)}`,
    `  with adapter:    loss ${r.evaluation.adapted.loss.toFixed(4)}, perplexity ${r.evaluation.adapted.perplexity.toFixed(3)} (${r.evaluation.calls} remote calls)`,
    ...(r.delivery === undefined
      ? ["delivery: none (plain deal)"]
      : [
          `delivery: ${deliveryCircuits(r.delivery.modules)}; ${r.delivery.wrapProofs} key-wrap proof(s); ` +
            `the decrypted adapter ${r.delivery.adapter} reproduces all ${r.delivery.rowsReproduced} evaluated rows exactly`,
        ]),
    `gas: deploy ${r.gas.deploy}, register ${r.gas.register}, propose ${r.gas.propose}, fund ${r.gas.fund}, ` +
      `submit ${r.gas.submit} (${r.gas.submitPerModule} per module, on-chain verification included), ${r.delivery === undefined ? "settle" : "settleWithKeys"} ${r.gas.settle}`,
    `payments (price ${f(r.price)}):`,
    `  contributor: ${f(r.balances.contributor.before)} -> ${f(r.balances.contributor.after)}; gas fees ${f(r.balances.contributor.fees)}; received ${f(r.balances.contributor.received)} from the escrow`,
    `  buyer:       ${f(r.balances.buyer.before)} -> ${f(r.balances.buyer.after)}; gas fees ${f(r.balances.buyer.fees)}; paid ${f(r.balances.buyer.paid)} into the escrow`,
    `  escrow:      ${f(r.balances.escrow.before)} -> ${f(r.balances.escrow.after)}`,
    `times (s): ${Object.entries(r.seconds)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
  ];
}
