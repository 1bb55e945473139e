/**
 * The demo deal: every step of the protocol in one process, on whatever chain the signers are
 * connected to (the `zklora:demo` task uses Hardhat's embedded network). Generated fixtures: a
 * random rank-4 PEFT adapter on the real base model ../shared/models/stories260k (q_proj and
 * v_proj of the chosen layers), and the buyer's evaluation text is a greedy continuation of the
 * base model from BOS.
 *
 * Steps: circuits (cached setup) → deploy → commit → propose → serve (in-process, 127.0.0.1,
 * ephemeral port, background proving) → infer → fund → prove (reuses the verified background
 * proofs) → submit → settle → report.
 */
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import type { Signer } from "ethers";
import { ZkloraClient, addressesOf, type TxResult } from "../chain/index.js";
import { deployZklora, type ZkloraArtifacts } from "../chain/deploy.js";
import { PROJECT_ROOT, sha256File } from "../common/cache.js";
import { STORIES260K_DIR, greedyContinue, loadBaseModel, writeRandomAdapter } from "../model/index.js";
import type { EvaluationReport } from "../mpi/index.js";
import { buildCircuit, type CircuitArtifacts } from "../zk/index.js";
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
   * Compiled registry, escrow and verifiers; called with the shape names the demo's modules use,
   * after the circuits are built.
   */
  artifacts: (shapeNames: string[]) => Promise<ZkloraArtifacts>;
  /** Workspace folder (wiped first). */
  workspace?: string;
  /** Decoder layers that get a LoRA (default: all 5 of stories260k). */
  layers?: number[];
  /** Evaluation tokens: BOS + greedy continuation, this many in all (default 8, one call per module). */
  tokens?: number;
  /** Price in wei (default 1 ETH). */
  price?: bigint;
  log?: (line: string) => void;
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
    settle: string;
  };
  status: string;
  price: string;
  balances: {
    contributor: { before: string; after: string; fees: string; received: string };
    buyer: { before: string; after: string; fees: string; paid: string };
    escrow: { before: string; after: string };
  };
  seconds: Record<string, number>;
}

/** Runs the complete demo deal; returns the report (also printed through `log`). */
export async function runDemo(o: DemoOptions): Promise<DemoReport> {
  const log = o.log ?? ((l: string) => console.log(l));
  const seconds: Record<string, number> = {};
  const t00 = performance.now();
  let t0 = performance.now();
  const lap = (name: string) => {
    seconds[name] = Number(((performance.now() - t0) / 1000).toFixed(2));
    t0 = performance.now();
    log(`  … ${name} done in ${seconds[name]} s`);
  };

  const ws = new Workspace(o.workspace ?? path.join(PROJECT_ROOT, "deals", "demo"));
  await rm(ws.dir, { recursive: true, force: true });
  await ws.ensure();
  const provider = o.deployer.provider;
  if (provider === null) throw new UsageError("the demo's signers need a provider");
  const [contributorAddr, buyerAddr] = await Promise.all([o.contributor.getAddress(), o.buyer.getAddress()]);

  // Fixtures: a random rank-4 adapter on q_proj / v_proj of the chosen layers.
  const base = await loadBaseModel(STORIES260K_DIR);
  const nLayers = base.config.layers;
  const layers = o.layers ?? Array.from({ length: nLayers }, (_, i) => i);
  if (layers.length === 0 || layers.some((l) => !Number.isInteger(l) || l < 0 || l >= nLayers)) {
    throw new UsageError(`--layers must list layers 0..${nLayers - 1}, got ${layers.join(",")}`);
  }
  const targetModules =
    layers.length === nLayers
      ? ["q_proj", "v_proj"]
      : layers.flatMap((l) => [`model.layers.${l}.self_attn.q_proj`, `model.layers.${l}.self_attn.v_proj`]);
  log(
    `[1/10] fixtures: rank-4 LoRA on ${targetModules.join(", ")} of stories260k (layers ${layers.join(",")})`,
  );
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
  // Circuits (compile + dev ceremony; cached by content after the first run).
  const shapes = [...new Map(manifest.modules.map((m) => [m.shape.name, m.shape])).values()];
  log(`[2/10] circuits: ${shapes.map((s) => s.name).join(", ")} (setup is cached after the first run)`);
  const arts = new Map<string, CircuitArtifacts>();
  const circuits: DemoReport["circuits"] = [];
  for (const s of shapes) {
    const t = performance.now();
    const art = await buildCircuit(s, { onProgress: (m) => setupLine(m) });
    if (process.stderr.isTTY) process.stderr.write("\r\x1b[2K");
    arts.set(s.name, art);
    // The deployed verifier is the committed one: it must be this key's (else every proof fails on-chain).
    const committed = path.join(PROJECT_ROOT, "contracts", "verifiers", `${art.verifierContract}.sol`);
    if (!existsSync(committed) || (await sha256File(committed)) !== art.sha256.verifier) {
      throw new UsageError(
        `contracts/verifiers/${art.verifierContract}.sol is missing or differs from the circuit's key: run \`npm run circuits\` and build`,
      );
    }
    circuits.push({
      shape: s.name,
      constraints: art.constraints,
      setupSeconds: (performance.now() - t) / 1000,
    });
  }
  lap("circuits");

  log(`[3/10] deploy registry, ${shapes.length} verifiers and the escrow`);
  const blockBefore = await provider.getBlockNumber();
  const deployment = await deployZklora(o.deployer, await o.artifacts(shapes.map((s) => s.name)), {
    network: o.network,
  });
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

  log(
    `[4/10] propose: ${manifest.modules.length} modules for ${formatAmount(price, eth)} to buyer ${buyerAddr}`,
  );
  const proposed = await proposeStep({
    workspace: ws,
    client: asContributor,
    price,
    buyer: buyerAddr,
    provingWindow: 3600,
  });
  fees.contributor += proposed.tx.fee;
  log(`      deal ${proposed.dealId}, gas ${proposed.tx.gasUsed}`);
  lap("propose");

  log(`[5/10] serve: contributor's MPI server on 127.0.0.1 with background proving`);
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
  try {
    lap("serve");
    const n = o.tokens ?? 8;
    tokens = [1, ...(await greedyContinue(base, [1], n - 1))];
    log(
      `[6/10] infer: buyer evaluates ${tokens.length} tokens (BOS + greedy continuation: ${tokens.join(" ")})`,
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
    log(`      waiting for the server's background proofs ...`);
    await waitForBackgroundProofs(served.url);
    await served.server.proofsIdle();
    lap("backgroundProofs");
  } finally {
    await served.server.close();
    await base.close();
  }

  log(`[7/10] fund: the buyer deposits the price and registers every transcript entry`);
  const funded = await fundStep({ workspace: ws, client: asBuyer });
  fees.buyer += funded.tx.fee;
  log(`      ${funded.entries.length} entries, gas ${funded.tx.gasUsed}`);
  lap("fund");

  log(`[8/10] prove: one Groth16 proof per registered entry`);
  const proved = await proveStep({ workspace: ws, client: asContributor, jobs: 1 });
  lap("prove");

  log(`[9/10] submit the proofs`);
  const submitted = await submitStep({ workspace: ws, client: asContributor, batch: 16 });
  const submitGas = submitted.txs.reduce((s, t) => s + t.gasUsed, 0n);
  for (const t of submitted.txs) fees.contributor += t.fee;
  lap("submit");

  log(`[10/10] settle`);
  const settled: TxResult = await asContributor.settle(proposed.dealId);
  fees.contributor += settled.fee;
  lap("settle");

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
    `gas: deploy ${r.gas.deploy}, propose ${r.gas.propose}, fund ${r.gas.fund}, submit ${r.gas.submit} (${r.gas.submitPerProof} per proof, on-chain verification included), settle ${r.gas.settle}`,
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
