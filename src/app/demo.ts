/**
 * The demo deal: every step of the protocol in one process, on whatever chain the signers are
 * connected to (the `zklora:demo` task uses Hardhat's embedded network). Generated fixtures: a
 * random rank-4 PEFT adapter on the real base model models/stories260k (q_proj and
 * v_proj of the chosen layers), and the buyer's evaluation text is a greedy continuation of the
 * base model from BOS.
 *
 * Steps: commit → circuits (cached setup) → deploy → propose → serve (in-process, 127.0.0.1,
 * ephemeral port, background proving) → infer → fund → prove (reuses the verified background
 * proofs) → submit → settle → report.
 *
 * By default the deal also delivers the weights (zero-knowledge contingent payment, ./delivery.ts):
 * propose with delivery → the contributor encrypts and proves every module's weights (deliveries
 * submitted on-chain) → the buyer fetches the ciphertexts from the server and checks them against
 * the proven hashes before funding → … → settle = settleWithKeys (the keys are revealed in the
 * paying transaction) → the buyer reads the keys from the KeysRevealed event, decrypts, checks
 * against each C_m and writes a PEFT adapter (`<workspace>/buyer/delivered-adapter/`), loads it and
 * runs it locally. `skipDelivery` keeps the plain flow (propose, settle).
 */
import { existsSync } from "node:fs";
import { copyFile, rm } from "node:fs/promises";
import path from "node:path";
import type { Signer } from "ethers";
import { ZkloraClient, addressesOf, type TxResult } from "../chain/index.js";
import { deployZklora, type ZkloraArtifacts } from "../chain/deploy.js";
import { PROJECT_ROOT, sha256File } from "../common/cache.js";
import {
  STORIES260K_DIR,
  greedyContinue,
  loadBaseModel,
  writeRandomAdapter,
  type BaseModel,
} from "../model/index.js";
import { DeliveryError, type EvaluationReport } from "../mpi/index.js";
import {
  buildCircuit,
  buildDeliveryCircuit,
  findDeliveryShape,
  type CircuitArtifacts,
  type DeliveryArtifacts,
  type DeliveryShape,
} from "../zk/index.js";
import {
  checkDeliveredAdapter,
  checkDeliveryStep,
  decryptStep,
  deliverStep,
  localAdapterLoss,
  revealStep,
} from "./delivery.js";
import { formatAmount } from "./format.js";
import {
  commitStep,
  fundStep,
  inferStep,
  proposeStep,
  proveStep,
  startServe,
  submitStep,
  waitForBackgroundProofs,
} from "./steps.js";
import { Workspace } from "./workspace.js";
import { UsageError } from "./errors.js";

export interface DemoOptions {
  /** Deploys the contracts. */
  deployer: Signer;
  contributor: Signer;
  buyer: Signer;
  /** Network name for the deployment record. */
  network: string;
  /**
   * Compiled registry, escrow and verifiers; called with the shape names the demo's modules use and
   * the delivery shape names (circuits/delivery-shapes.json) whose `Groth16Delivery_<name>` to
   * deploy too (none with `skipDelivery`), after the circuits are built.
   */
  artifacts: (shapeNames: string[], deliveryShapeNames: string[]) => Promise<ZkloraArtifacts>;
  /** Workspace folder (wiped first). */
  workspace?: string;
  /** Decoder layers that get a LoRA (default: all 5 of stories260k). */
  layers?: number[];
  /** Evaluation tokens: BOS + greedy continuation, this many in all (default 8, one call per module). */
  tokens?: number;
  /** Price in wei (default 1 ETH). */
  price?: bigint;
  /** Plain deal without weight delivery (propose + settle; no delivery circuits, no adapter for the buyer). */
  skipDelivery?: boolean;
  log?: (line: string) => void;
}

/** What the weight delivery of the demo did (absent with `skipDelivery`). */
export interface DemoDeliveryReport {
  circuits: { shape: string; constraints: number; setupSeconds: number }[];
  /** Per module: its delivery shape and the seconds its delivery proof took. */
  modules: { index: number; shape: string; constraints: number; proveSeconds: number }[];
  /** The ciphertexts the buyer fetched from the server and checked against the proven hC before funding. */
  checkedBeforeFunding: number;
  /** The keys read from the KeysRevealed event of the paying transaction (decimal). */
  keysRevealed: string[];
  /** The settleWithKeys transaction that revealed them and paid the contributor. */
  keysTx: string;
  /** The buyer's decrypted PEFT adapter folder (adapter_config.json + adapter_model.safetensors). */
  adapterDir: string;
  /** Loaded with src/model's PEFT loader, it re-quantizes to the decrypted weights, which open every C_m. */
  adapterMatches: boolean;
  /** The buyer's loss on the evaluation tokens with the delivered adapter run locally (float). */
  localEvaluation: { loss: number; perplexity: number };
}

export interface DemoReport {
  dealId: string;
  escrow: string;
  chainId: string;
  modules: { index: number; target: string; shape: string; constraints: number }[];
  circuits: { shape: string; constraints: number; setupSeconds: number }[];
  evaluation: EvaluationReport;
  tokens: number[];
  proofs: {
    entryIndex: number;
    module: number;
    proveSeconds: number;
    verifySeconds: number;
    source: string;
  }[];
  gas: {
    deploy: string;
    propose: string;
    fund: string;
    submit: string;
    submitPerProof: string;
    /** settle, or settleWithKeys (keys revealed + paid) with delivery. */
    settle: string;
    /** The delivery proofs' submitDelivery transactions ("0" with skipDelivery). */
    deliver: string;
  };
  status: string;
  price: string;
  balances: {
    contributor: { before: string; after: string; fees: string; received: string };
    buyer: { before: string; after: string; fees: string; paid: string };
    escrow: { before: string; after: string };
  };
  /** The weight delivery; null with skipDelivery. */
  delivery: DemoDeliveryReport | null;
  seconds: Record<string, number>;
}

/** Runs the complete demo deal; returns the report (also printed through `log`). */
export async function runDemo(o: DemoOptions): Promise<DemoReport> {
  const t00 = performance.now();
  const base = await loadBaseModel(STORIES260K_DIR);
  try {
    return await demoDeal(o, base, t00);
  } finally {
    await base.close();
  }
}

async function demoDeal(o: DemoOptions, base: BaseModel, t00: number): Promise<DemoReport> {
  const log = o.log ?? ((l: string) => console.log(l));
  const delivery = o.skipDelivery !== true;
  const seconds: Record<string, number> = {};
  let t0 = performance.now();
  const lap = (name: string) => {
    seconds[name] = Number(((performance.now() - t0) / 1000).toFixed(2));
    t0 = performance.now();
    log(`  … ${name} done in ${seconds[name]} s`);
  };
  const steps = delivery ? 13 : 10;
  let stepNo = 0;
  const step = (line: string) => log(`[${++stepNo}/${steps}] ${line}`);

  const ws = new Workspace(o.workspace ?? path.join(PROJECT_ROOT, "deals", "demo"));
  await rm(ws.dir, { recursive: true, force: true });
  await ws.ensure();
  // The buyer's own delivery files (checked ciphertexts, the decrypted adapter): it starts from the
  // deal.json the contributor sends and gets the ciphertexts from the contributor's server only.
  const buyerWs = new Workspace(path.join(ws.dir, "buyer"));
  const provider = o.deployer.provider;
  if (provider === null) throw new UsageError("the demo's signers need a provider");
  const [contributorAddr, buyerAddr] = await Promise.all([o.contributor.getAddress(), o.buyer.getAddress()]);

  // Fixtures: a random rank-4 adapter on q_proj / v_proj of the chosen layers.
  const nLayers = base.config.layers;
  const layers = o.layers ?? Array.from({ length: nLayers }, (_, i) => i);
  if (layers.length === 0 || layers.some((l) => !Number.isInteger(l) || l < 0 || l >= nLayers)) {
    throw new UsageError(`--layers must list layers 0..${nLayers - 1}, got ${layers.join(",")}`);
  }
  const targetModules =
    layers.length === nLayers
      ? ["q_proj", "v_proj"]
      : layers.flatMap((l) => [`model.layers.${l}.self_attn.q_proj`, `model.layers.${l}.self_attn.v_proj`]);
  step(`fixtures: rank-4 LoRA on ${targetModules.join(", ")} of stories260k (layers ${layers.join(",")})`);
  await writeRandomAdapter(STORIES260K_DIR, ws.adapterDir, {
    r: 4,
    alpha: 8,
    targetModules,
    seed: 7,
    scale: 0.25,
  });
  const { manifest } = await commitStep({
    workspace: ws,
    modelDir: STORIES260K_DIR,
    adapterDir: ws.adapterDir,
    rows: 8,
  });
  lap("commit");

  // Circuits (compile + dev ceremony; cached by content after the first run). snarkjs's many
  // per-section lines go to one live line on a terminal (dropped otherwise); step lines are logged.
  const setupLine = (m: string) => {
    if (/ (setup|contribute|beacon|verify): /.test(m)) {
      if (process.stderr.isTTY) process.stderr.write(`\r\x1b[2K      ${m.slice(0, 110)}`);
    } else log(`      ${m}`);
  };
  // The deployed verifier is the committed one: it must be this key's (else every proof fails on-chain).
  const checkCommitted = async (contract: string, sha256: string, regenerate: string) => {
    const committed = path.join(PROJECT_ROOT, "contracts", "verifiers", `${contract}.sol`);
    if (!existsSync(committed) || (await sha256File(committed)) !== sha256) {
      throw new UsageError(
        `contracts/verifiers/${contract}.sol is missing or differs from the circuit's key: run \`${regenerate}\` and build`,
      );
    }
  };
  const shapes = [...new Map(manifest.modules.map((m) => [m.shape.name, m.shape])).values()];
  const deliveryShapes: DeliveryShape[] = [];
  if (delivery) {
    for (const m of manifest.modules) {
      const d = await findDeliveryShape({ DIN: m.DIN, R: m.R, DOUT: m.DOUT });
      if (!deliveryShapes.some((x) => x.name === d.name)) deliveryShapes.push(d);
    }
  }
  step(
    `circuits: ${[...shapes.map((s) => s.name), ...deliveryShapes.map((s) => `delivery ${s.name}`)].join(", ")} (setup is cached after the first run)`,
  );
  const arts = new Map<string, CircuitArtifacts>();
  const circuits: DemoReport["circuits"] = [];
  for (const s of shapes) {
    const t = performance.now();
    const art = await buildCircuit(s, { onProgress: (m) => setupLine(m) });
    if (process.stderr.isTTY) process.stderr.write("\r\x1b[2K");
    arts.set(s.name, art);
    await checkCommitted(art.verifierContract, art.sha256.verifier, "npm run circuits");
    circuits.push({
      shape: s.name,
      constraints: art.constraints,
      setupSeconds: (performance.now() - t) / 1000,
    });
  }
  const deliveryArts = new Map<string, DeliveryArtifacts>();
  const deliveryCircuits: DemoDeliveryReport["circuits"] = [];
  for (const s of deliveryShapes) {
    const t = performance.now();
    const art = await buildDeliveryCircuit(s, { onProgress: (m) => setupLine(m) });
    if (process.stderr.isTTY) process.stderr.write("\r\x1b[2K");
    deliveryArts.set(s.name, art);
    await checkCommitted(art.verifierContract, art.sha256.verifier, "npm run circuits:delivery");
    deliveryCircuits.push({
      shape: s.name,
      constraints: art.constraints,
      setupSeconds: (performance.now() - t) / 1000,
    });
  }
  lap("circuits");

  step(
    `deploy registry, ${shapes.length} verifiers${delivery ? `, ${deliveryShapes.length} delivery verifiers` : ""} and the escrow`,
  );
  const blockBefore = await provider.getBlockNumber();
  const deployment = await deployZklora(
    o.deployer,
    await o.artifacts(
      shapes.map((s) => s.name),
      deliveryShapes.map((s) => s.name),
    ),
    { network: o.network },
  );
  for (const s of deliveryShapes) {
    if (!deployment.record.deliveryShapes?.some((d) => d.name === s.name)) {
      throw new UsageError(
        `no delivery verifier Groth16Delivery_${s.name} was deployed: compile it (npm run circuits:delivery, then build), or run the demo with --skip-delivery`,
      );
    }
  }
  let deployGas = 0n;
  for (let b = blockBefore + 1; b <= (await provider.getBlockNumber()); b++) {
    const block = await provider.getBlock(b, true);
    for (const h of block?.transactions ?? [])
      deployGas += (await provider.getTransactionReceipt(h))?.gasUsed ?? 0n;
  }
  const addresses = addressesOf(deployment.record);
  const asContributor = await ZkloraClient.connect(o.contributor, addresses);
  const asBuyer = asContributor.withRunner(o.buyer);
  lap("deploy");

  const price = o.price ?? 10n ** 18n;
  const eth = { symbol: "ETH", decimals: 18 };
  const before = {
    contributor: await provider.getBalance(contributorAddr),
    buyer: await provider.getBalance(buyerAddr),
    escrow: await provider.getBalance(addresses.escrow),
  };
  const fees = { contributor: 0n, buyer: 0n };

  step(
    `propose: ${manifest.modules.length} modules for ${formatAmount(price, eth)} to buyer ${buyerAddr}` +
      (delivery ? ", the weights delivered with the payment" : ""),
  );
  const proposed = await proposeStep({
    workspace: ws,
    client: asContributor,
    price,
    buyer: buyerAddr,
    provingWindow: 3600,
    delivery,
  });
  fees.contributor += proposed.tx.fee;
  log(`      deal ${proposed.dealId}, gas ${proposed.tx.gasUsed}`);
  lap("propose");

  let delivered: Awaited<ReturnType<typeof deliverStep>> | undefined;
  if (delivery) {
    step(`deliver: the contributor encrypts each module's weights under a fresh key, proves and submits it`);
    delivered = await deliverStep({
      workspace: ws,
      client: asContributor,
      artifacts: async (s) => {
        const art = deliveryArts.get(s.name);
        if (art === undefined) throw new UsageError(`internal: no delivery circuit ${s.name} built`);
        return art;
      },
      log: (l) => log(`      ${l}`),
    });
    for (const t of delivered.txs) fees.contributor += t.fee;
    lap("deliver");
  }

  step(
    `serve: contributor's MPI server on 127.0.0.1 with background proving${delivery ? " (also serves the ciphertexts)" : ""}`,
  );
  const served = await startServe({
    workspace: ws,
    signer: o.contributor,
    client: asContributor,
    provingConcurrency: 1,
    log,
  });
  log(`      listening on ${served.url}`);
  let evaluation: EvaluationReport;
  let tokens: number[];
  let checked = 0;
  try {
    lap("serve");
    if (delivery) {
      step(
        `check-delivery: the buyer fetches each ciphertext from the server and checks it against the proven hC`,
      );
      await buyerWs.ensure();
      await copyFile(ws.deal, buyerWs.deal);
      ({ modules: checked } = await checkDeliveryStep({
        workspace: buyerWs,
        client: asBuyer,
        url: served.url,
      }));
      log(`      ${checked} ciphertexts match the escrow's proven hashes: safe to fund`);
      lap("checkDelivery");
    }
    const n = o.tokens ?? 8;
    tokens = [1, ...(await greedyContinue(base, [1], n - 1))];
    step(`infer: buyer evaluates ${tokens.length} tokens (BOS + greedy continuation: ${tokens.join(" ")})`);
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
    log(`      waiting for the server's background proofs ...`);
    await waitForBackgroundProofs(served.url);
    await served.server.proofsIdle();
    lap("backgroundProofs");
  } finally {
    await served.server.close();
  }

  step(`fund: the buyer deposits the price and registers every transcript entry`);
  const funded = await fundStep({ workspace: ws, client: asBuyer });
  fees.buyer += funded.tx.fee;
  log(`      ${funded.entries.length} entries, gas ${funded.tx.gasUsed}`);
  lap("fund");

  step(`prove: one Groth16 proof per registered entry`);
  const proved = await proveStep({ workspace: ws, client: asContributor, jobs: 1 });
  lap("prove");

  step(`submit the proofs`);
  const submitted = await submitStep({ workspace: ws, client: asContributor, batch: 16 });
  const submitGas = submitted.txs.reduce((s, t) => s + t.gasUsed, 0n);
  for (const t of submitted.txs) fees.contributor += t.fee;
  lap("submit");

  let settled: TxResult;
  if (delivery) {
    step(`settle with keys: the contributor reveals the delivery keys and is paid in one transaction`);
    ({ tx: settled } = await revealStep({ workspace: ws, client: asContributor }));
  } else {
    step(`settle`);
    settled = await asContributor.settle(proposed.dealId);
  }
  fees.contributor += settled.fee;
  log(`      tx ${settled.hash}, gas ${settled.gasUsed}`);
  lap("settle");

  let deliveryReport: DemoDeliveryReport | null = null;
  if (delivery && delivered !== undefined) {
    step(`decrypt: the buyer reads the keys from the KeysRevealed event, decrypts and writes a PEFT adapter`);
    let dec: Awaited<ReturnType<typeof decryptStep>>;
    try {
      dec = await decryptStep({ workspace: buyerWs, client: asBuyer, fromBlock: blockBefore });
    } catch (err) {
      if (err instanceof DeliveryError) throw new UsageError(`decrypt: ${err.code}: ${err.message}`);
      throw err;
    }
    const check = await checkDeliveredAdapter(dec.dir, manifest, dec.weights);
    const local = await localAdapterLoss(base, check.adapter, tokens);
    log(
      `      ${dec.modules} modules decrypted with the keys of tx ${dec.keysTx}, each checked against its C_m`,
    );
    log(
      `      ${dec.dir}: ${check.matches ? "loads and matches the committed weights" : "DOES NOT MATCH the committed weights"}; ` +
        `run locally: loss ${local.loss.toFixed(4)} (remote evaluation ${evaluation.adapted.loss.toFixed(4)})`,
    );
    const deliveryConstraints = (name: string) => deliveryArts.get(name)?.constraints ?? 0;
    deliveryReport = {
      circuits: deliveryCircuits,
      modules: delivered.deliveries.map((d) => ({
        index: d.module,
        shape: d.shape,
        constraints: deliveryConstraints(d.shape),
        proveSeconds: delivered.proveSeconds[d.module] ?? 0,
      })),
      checkedBeforeFunding: checked,
      keysRevealed: dec.keys.map(String),
      keysTx: dec.keysTx,
      adapterDir: dec.dir,
      adapterMatches: check.matches,
      localEvaluation: local,
    };
    lap("decrypt");
  }

  const deal = await asContributor.getDeal(proposed.dealId);
  const after = {
    contributor: await provider.getBalance(contributorAddr),
    buyer: await provider.getBalance(buyerAddr),
    escrow: await provider.getBalance(addresses.escrow),
  };
  const received = after.contributor - before.contributor + fees.contributor;
  const paid = before.buyer - after.buyer - fees.buyer;
  const constraintsOf = (name: string) => arts.get(name)?.constraints ?? 0;
  seconds.total = Number(((performance.now() - t00) / 1000).toFixed(2));
  const report: DemoReport = {
    dealId: proposed.dealId.toString(),
    escrow: addresses.escrow,
    chainId: String(addresses.chainId),
    modules: manifest.modules.map((m) => ({
      index: m.index,
      target: m.target,
      shape: m.shape.name,
      constraints: constraintsOf(m.shape.name),
    })),
    circuits,
    evaluation,
    tokens,
    proofs: proved.proofs.map((p) => ({
      entryIndex: p.entryIndex,
      module: p.module,
      proveSeconds: p.proveSeconds,
      verifySeconds: p.verifySeconds,
      source: p.source,
    })),
    gas: {
      deploy: deployGas.toString(),
      propose: proposed.tx.gasUsed.toString(),
      fund: funded.tx.gasUsed.toString(),
      submit: submitGas.toString(),
      submitPerProof: (submitGas / BigInt(Math.max(1, submitted.submitted))).toString(),
      settle: settled.gasUsed.toString(),
      deliver: (delivered?.txs ?? []).reduce((s, t) => s + t.gasUsed, 0n).toString(),
    },
    status: deal.status,
    price: price.toString(),
    balances: {
      contributor: {
        before: before.contributor.toString(),
        after: after.contributor.toString(),
        fees: fees.contributor.toString(),
        received: received.toString(),
      },
      buyer: {
        before: before.buyer.toString(),
        after: after.buyer.toString(),
        fees: fees.buyer.toString(),
        paid: paid.toString(),
      },
      escrow: { before: before.escrow.toString(), after: after.escrow.toString() },
    },
    delivery: deliveryReport,
    seconds,
  };
  for (const line of formatDemoReport(report)) log(line);
  return report;
}

const avg = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);

/** The demo report as text. */
export function formatDemoReport(r: DemoReport): string[] {
  const eth = { symbol: "ETH", decimals: 18 };
  const f = (v: string) => formatAmount(BigInt(v), eth);
  const lines = [
    "",
    `=== zklora demo deal ${r.dealId} on chain ${r.chainId} (escrow ${r.escrow}): ${r.status} ===`,
    `modules (${r.modules.length}):`,
    ...r.modules.map((m) => `  #${m.index} ${m.target}  ${m.shape}  ${m.constraints} constraints`),
    `circuits: ${r.circuits.map((c) => `${c.shape} ${c.constraints} constraints (setup ${c.setupSeconds.toFixed(1)} s)`).join("; ")}`,
    `evaluation on ${r.tokens.length} tokens [${r.tokens.join(" ")}]:`,
    `  without adapter: loss ${r.evaluation.base.loss.toFixed(4)}, perplexity ${r.evaluation.base.perplexity.toFixed(3)}`,
    `  with adapter:    loss ${r.evaluation.adapted.loss.toFixed(4)}, perplexity ${r.evaluation.adapted.perplexity.toFixed(3)} (${r.evaluation.calls} remote calls)`,
    `proofs (${r.proofs.length}): proving ${avg(r.proofs.map((p) => p.proveSeconds)).toFixed(2)} s each on average ` +
      `(max ${Math.max(0, ...r.proofs.map((p) => p.proveSeconds)).toFixed(2)} s), off-chain verification ${(1000 * avg(r.proofs.map((p) => p.verifySeconds))).toFixed(0)} ms each`,
    ...(r.delivery === null
      ? []
      : [
          `delivery (weights for the payment): ${r.delivery.modules.length} delivery proofs, ` +
            `${avg(r.delivery.modules.map((m) => m.proveSeconds)).toFixed(2)} s each on average (` +
            r.delivery.circuits.map((c) => `${c.shape} ${c.constraints} constraints`).join("; ") +
            `); ${r.delivery.checkedBeforeFunding} ciphertexts checked before funding`,
          `  keys: ${r.delivery.keysRevealed.length} revealed in tx ${r.delivery.keysTx} (settleWithKeys)`,
          `  adapter: ${r.delivery.adapterDir} ${r.delivery.adapterMatches ? "matches the committed weights (every C_m)" : "DOES NOT MATCH the committed weights"}`,
          `  run locally by the buyer: loss ${r.delivery.localEvaluation.loss.toFixed(4)}, perplexity ${r.delivery.localEvaluation.perplexity.toFixed(3)}`,
        ]),
    `gas: deploy ${r.gas.deploy}, propose ${r.gas.propose}, ` +
      (r.delivery === null ? "" : `deliver ${r.gas.deliver}, `) +
      `fund ${r.gas.fund}, submit ${r.gas.submit} (${r.gas.submitPerProof} per proof, on-chain verification included), ` +
      `${r.delivery === null ? "settle" : "settleWithKeys"} ${r.gas.settle}`,
    `payments (price ${f(r.price)}):`,
    `  contributor: ${f(r.balances.contributor.before)} -> ${f(r.balances.contributor.after)}; gas fees ${f(r.balances.contributor.fees)}; received ${f(r.balances.contributor.received)} from the escrow`,
    `  buyer:       ${f(r.balances.buyer.before)} -> ${f(r.balances.buyer.after)}; gas fees ${f(r.balances.buyer.fees)}; paid ${f(r.balances.buyer.paid)} into the escrow`,
    `  escrow:      ${f(r.balances.escrow.before)} -> ${f(r.balances.escrow.after)}`,
    `times (s): ${Object.entries(r.seconds)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
  ];
  return lines;
}
