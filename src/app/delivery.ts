/**
 * The weight-delivery steps of a deal (zero-knowledge contingent payment), shared by the tasks
 * `zklora:deliver`, `zklora:check-delivery`, `zklora:reveal`, `zklora:decrypt` and the demo.
 *
 * Workspace files (besides ./workspace.ts's): `deliveries/module-<m>.json` (PUBLIC: ciphertext,
 * hK, hC, proof; the buyer keeps its checked copies there too), `delivery-keys.json` (contributor,
 * PRIVATE, mode 0600: one key per module, revealed on-chain only by settleWithKeys),
 * `delivered-adapter/` (buyer: the decrypted PEFT adapter).
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import type { ZkloraClient, TxResult } from "../chain/index.js";
import { getDeliveries, revealedKeys, settleWithKeys, submitDelivery } from "../chain/delivery.js";
import {
  crossEntropy,
  floatLoraHook,
  loadPeftAdapter,
  savePeftAdapter,
  type BaseModel,
  type PeftAdapter,
} from "../model/index.js";
import {
  checkDelivery,
  decryptDeliveries,
  deliveredAdapter,
  deliveryCallArgs,
  deliveryFiles,
  fetchDelivery,
  loadDealContext,
  loadDelivery,
  loadDeliveryKeys,
  loadSecrets,
  prepareDeliveries,
  saveDeliveries,
  writeJsonAtomic,
  deliveryToJson,
  type CommitManifest,
  type ModuleDelivery,
} from "../mpi/index.js";
import {
  buildDeliveryCircuit,
  quantizeLora,
  weightCommitment,
  type DeliveryArtifacts,
  type DeliveryShape,
  type ModuleWeights,
} from "../zk/index.js";
import { UsageError } from "./errors.js";
import type { Workspace } from "./workspace.js";

/** The buyer's decrypted adapter folder in a workspace. */
export function deliveredAdapterDir(ws: Workspace): string {
  return path.join(ws.dir, "delivered-adapter");
}

/** Options of `deliverStep`. */
export interface DeliverStepOptions {
  workspace: Workspace;
  /** Connected with the contributor's signer. */
  client: ZkloraClient;
  /** Delivery circuit per weight shape (default: buildDeliveryCircuit, cached). */
  artifacts?: (shape: DeliveryShape) => Promise<DeliveryArtifacts>;
  log?: (line: string) => void;
}

/**
 * Contributor: encrypt every module's committed weights under a fresh key, prove each delivery,
 * write the files, and submit the proofs (before funding). Reuses existing files (keys included)
 * so a second run only submits what is missing on-chain.
 */
export async function deliverStep(
  o: DeliverStepOptions,
): Promise<{ dealId: bigint; deliveries: ModuleDelivery[]; txs: TxResult[]; proveSeconds: number[] }> {
  const ws = o.workspace;
  const deal = await loadDealContext(ws.need(ws.deal, "zklora:propose"));
  const secrets = await loadSecrets(ws.need(ws.secrets, "zklora:commit"), deal.manifest);
  const onchain = await getDeliveries(o.client, deal.dealId);
  if (onchain.length === 0) {
    throw new UsageError(
      `deal ${deal.dealId} was proposed without weight delivery: propose it with zklora:propose --deliver`,
    );
  }
  const files = deliveryFiles(ws.dir);
  let deliveries: ModuleDelivery[];
  const proveSeconds: number[] = [];
  if (existsSync(files.keys)) {
    deliveries = await Promise.all(deal.manifest.modules.map((m) => loadDelivery(ws.dir, m.index)));
    o.log?.(`reusing the deliveries in ${files.dir}`);
  } else {
    const cache = new Map<string, Promise<DeliveryArtifacts>>();
    const artifacts =
      o.artifacts ??
      ((s: DeliveryShape) => {
        let p = cache.get(s.name);
        if (p === undefined) {
          p = buildDeliveryCircuit(s, { onProgress: o.log });
          cache.set(s.name, p);
        }
        return p;
      });
    const r = await prepareDeliveries({
      manifest: deal.manifest,
      secrets,
      artifacts,
      onProgress: (line) => {
        const m = /in ([0-9.]+) s$/.exec(line);
        if (m !== null) proveSeconds.push(Number(m[1]));
        o.log?.(line);
      },
    });
    await saveDeliveries(ws.dir, r.deliveries, r.keys);
    deliveries = r.deliveries;
  }
  const txs: TxResult[] = [];
  for (const d of deliveries) {
    if (onchain[d.module]?.proven === true) {
      if (onchain[d.module].hC !== d.hC || onchain[d.module].hK !== d.hK)
        throw new UsageError(
          `module ${d.module}: the escrow holds another delivery than ${files.module(d.module)} (hK/hC differ)`,
        );
      continue;
    }
    const tx = await submitDelivery(o.client, deal.dealId, deliveryCallArgs(d));
    o.log?.(`module ${d.module}: delivery submitted (gas ${tx.gasUsed})`);
    txs.push(tx);
  }
  return { dealId: deal.dealId, deliveries, txs, proveSeconds };
}

/**
 * Buyer, before funding: get every module's ciphertext (from `url`, the contributor's server, or
 * from the workspace's deliveries/ folder), check it against the C_m, hK and hC the escrow holds,
 * and keep the checked copies in the workspace. Throws a DeliveryError (hc_mismatch, …) or a
 * UsageError when a delivery is not proven on-chain yet.
 */
export async function checkDeliveryStep(o: {
  workspace: Workspace;
  client: ZkloraClient;
  url?: string;
}): Promise<{ dealId: bigint; modules: number }> {
  const ws = o.workspace;
  const deal = await loadDealContext(ws.need(ws.deal, "the deal.json the contributor sent"));
  const onchain = await getDeliveries(o.client, deal.dealId);
  if (onchain.length === 0) throw new UsageError(`deal ${deal.dealId} does not deliver its weights`);
  const modules = await o.client.getModules(deal.dealId);
  const files = deliveryFiles(ws.dir);
  if (o.url !== undefined && o.url !== "") await mkdir(files.dir, { recursive: true });
  for (const m of deal.manifest.modules) {
    const c = onchain[m.index];
    if (!c.proven) {
      throw new UsageError(
        `module ${m.index} has no proven delivery on-chain yet: do not fund; the contributor runs zklora:deliver`,
      );
    }
    const d =
      o.url !== undefined && o.url !== ""
        ? await fetchDelivery(o.url, deal.dealId, m.index)
        : await loadDelivery(ws.dir, m.index);
    await checkDelivery(d, {
      module: m.index,
      C_m: modules[m.index].commitment,
      hK: c.hK,
      hC: c.hC,
      DIN: m.DIN,
      R: m.R,
      DOUT: m.DOUT,
    });
    if (o.url !== undefined && o.url !== "") await writeJsonAtomic(files.module(m.index), deliveryToJson(d));
  }
  return { dealId: deal.dealId, modules: deal.manifest.modules.length };
}

/** Contributor: reveal the keys and get paid in one transaction (settleWithKeys). */
export async function revealStep(o: { workspace: Workspace; client: ZkloraClient }): Promise<{
  dealId: bigint;
  tx: TxResult;
}> {
  const ws = o.workspace;
  const deal = await loadDealContext(ws.need(ws.deal, "zklora:propose"));
  const keys = await loadDeliveryKeys(ws.dir);
  return { dealId: deal.dealId, tx: await settleWithKeys(o.client, deal.dealId, keys) };
}

/**
 * Buyer, after settlement: read the keys from the KeysRevealed event, decrypt the checked
 * ciphertexts, check the weights against each C_m, de-quantize and write a PEFT adapter.
 */
export async function decryptStep(o: {
  workspace: Workspace;
  client: ZkloraClient;
  out?: string;
  fromBlock?: number;
}): Promise<{
  dealId: bigint;
  dir: string;
  modules: number;
  keysTx: string;
  /** The revealed keys (from the KeysRevealed event), one per module. */
  keys: bigint[];
  /** The decrypted quantized weights, each checked against its C_m. */
  weights: ModuleWeights[];
}> {
  const ws = o.workspace;
  const deal = await loadDealContext(ws.need(ws.deal, "the deal.json the contributor sent"));
  const revealed = await revealedKeys(o.client, deal.dealId, { fromBlock: o.fromBlock });
  if (revealed === undefined) {
    throw new UsageError(
      `deal ${deal.dealId} has revealed no keys yet (no KeysRevealed event): it settles only with them`,
    );
  }
  const deliveries = await Promise.all(deal.manifest.modules.map((m) => loadDelivery(ws.dir, m.index)));
  const modules = await o.client.getModules(deal.dealId);
  const weights = await decryptDeliveries(
    deliveries,
    revealed.keys,
    modules.map((m) => m.commitment),
  );
  const dir = o.out !== undefined && o.out !== "" ? path.resolve(o.out) : deliveredAdapterDir(ws);
  await savePeftAdapter(dir, deliveredAdapter(deal.manifest, weights));
  return {
    dealId: deal.dealId,
    dir,
    modules: weights.length,
    keysTx: revealed.transactionHash,
    keys: revealed.keys,
    weights,
  };
}

/** Per module: does the written adapter give back the committed weights? */
export interface DeliveredModuleCheck {
  index: number;
  target: string;
  /** The adapter's lora_A / lora_B, re-quantized with the manifest's scales, equal the decrypted A / B. */
  weightsMatch: boolean;
  /** Those re-quantized weights with the decrypted salt open the deal's C_m. */
  commitmentMatches: boolean;
}

/**
 * Buyer: loads a delivered PEFT adapter folder with the project's PEFT loader (src/model), re-quantizes
 * every module with the manifest's scales and checks it against the decrypted weights and the deal's
 * C_m (so the files on disk, not just the decrypted numbers, are the committed adapter). Returns the
 * loaded adapter and a check per module; `matches` is true when every module matches.
 */
export async function checkDeliveredAdapter(
  dir: string,
  manifest: CommitManifest,
  weights: readonly ModuleWeights[],
): Promise<{ adapter: PeftAdapter; matches: boolean; modules: DeliveredModuleCheck[] }> {
  const adapter = await loadPeftAdapter(dir);
  const modules: DeliveredModuleCheck[] = [];
  for (const m of manifest.modules) {
    const a = adapter.modules.find((x) => x.name === m.target);
    const w = weights[m.index];
    if (a === undefined || w === undefined || a.R !== m.R || a.DIN !== m.DIN || a.DOUT !== m.DOUT) {
      modules.push({ index: m.index, target: m.target, weightsMatch: false, commitmentMatches: false });
      continue;
    }
    const q = quantizeLora(a.loraA, a.loraB, m.R, m.DIN, m.DOUT, m.scales.fa, m.scales.fb);
    const same = (x: readonly bigint[][], y: readonly bigint[][]) =>
      x.length === y.length &&
      x.every((row, i) => row.length === y[i].length && row.every((v, j) => v === y[i][j]));
    modules.push({
      index: m.index,
      target: m.target,
      weightsMatch: same(q.A, w.A) && same(q.B, w.B),
      commitmentMatches: (await weightCommitment(q.A, q.B, w.salt)).toString() === m.C_m,
    });
  }
  const matches =
    modules.length === manifest.modules.length &&
    adapter.modules.length === manifest.modules.length &&
    modules.every((c) => c.weightsMatch && c.commitmentMatches);
  return { adapter, matches, modules };
}

/**
 * Buyer: the loss and perplexity of `tokens` with a (delivered) adapter applied locally, in float,
 * without the contributor: what the buyer can do once it owns the weights.
 */
export async function localAdapterLoss(
  model: BaseModel,
  adapter: PeftAdapter,
  tokens: readonly number[],
): Promise<{ loss: number; perplexity: number }> {
  const targets = model.targets(adapter.modules.map((m) => m.name));
  const out = await model.forward(tokens, { targets, hook: floatLoraHook(adapter) });
  return crossEntropy(out.logits, out.T, model.vocabSize, tokens);
}
