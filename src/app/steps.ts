/**
 * The steps of a deal (protocol v2, PROTOCOL.md "Flow"), shared by the Hardhat tasks (one task per
 * step) and the demo (all steps in one process). Each step takes explicit inputs (a workspace, a
 * chain client, a signer, options) and returns what it did, so the caller decides what to print.
 * Files: see ./workspace.ts. Each step checks what PROTOCOL.md says its party must check and
 * refuses with a typed error naming the module or shape.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { ZeroAddress, getAddress, type Signer } from "ethers";
import {
  fundRequestToJson,
  parseFundRequest,
  type ClaimInput,
  type DealView,
  type EntryView,
  type FundRequest,
  type FundRequestJson,
  type ProofInput,
  type TxResult,
  type ZkloraClient,
} from "../chain/index.js";
import {
  registerShapes,
  registerWrapVerifier,
  type ShapeSpec,
  type WrapSpec,
  type ZkloraArtifacts,
} from "../chain/deploy.js";
import type { DeploymentRecord } from "../chain/deployments.js";
import { loadBaseModel, loadPeftAdapter, type BaseModel } from "../model/index.js";
import {
  ContributorServer,
  RemoteLoraClient,
  commitAdapter,
  dealKeyFileName,
  evaluate,
  loadDealContext,
  loadManifest,
  loadSecrets,
  moduleW,
  modulePok,
  readCallLog,
  readServerCalls,
  rowsOf,
  saveCommit,
  saveDealContext,
  writeJsonAtomic,
  readJsonFile,
  v2ShapeOf,
  type CommitManifest,
  type DealContext,
  type CommitSync,
  type EvaluationReport,
  type ShapeRef,
} from "../mpi/index.js";
import {
  ProofJobsFailedError,
  QueueFullError,
  SqliteProofJobs,
  keccakFile,
  proofJobId,
  proofJobProver,
  type ProofJobPayload,
  type ProofJobQueue,
  type ProofJobRecord,
  type ProofJobResult,
} from "../mpi/jobs.js";
import {
  buildShapeKey,
  checkFoldedEntry,
  deltaOf,
  solidityShapeKey,
  type FoldedEntry,
  type G2Point,
  type ShapeKey,
  type SolidityProofV2,
  type V2Shape,
} from "../zk/v2/index.js";
import type { ProvingPool } from "../zk/pool.js";
import type { ProgressFn } from "../zk/progress.js";
import { WRAP_CIRCUIT_ID, buildWrapKey, solidityWrapKey, type WrapKey } from "../zk/wrap/index.js";
import { checkDeliveryOffer, deliveryKeyHashes, makeWrapDealKey } from "./delivery.js";
import { UsageError } from "./errors.js";
import { Progress } from "./progress.js";
import {
  DealCheckError,
  acceptDealKey,
  buyerEntry,
  checkOfferV2,
  makeDealKeys,
  verifyClaimOffchain,
} from "./v2.js";
import type { Workspace } from "./workspace.js";

/** Reports progress of a long step (a line of text). */
export type Log = (line: string) => void;

/**
 * The key of a manifest shape: the development ptau, or the public ceremony file `ptau`. Its
 * compile and setup, when not cached, report to `onProgress` (e.g. `progress.zk()`).
 */
export function shapeKeyOf(
  shape: Pick<ShapeRef, "DIN" | "R" | "DOUT" | "ptau" | "name">,
  ptau?: string,
  onProgress?: ProgressFn,
): Promise<ShapeKey> {
  if (shape.ptau !== "dev" && ptau === undefined) {
    throw new UsageError(`shape ${shape.name} uses the public ptau ${shape.ptau}: pass its file with --ptau`);
  }
  return buildShapeKey(v2ShapeOf(shape), { ptau: shape.ptau === "dev" ? undefined : ptau, onProgress });
}

/** What registering a shape needs: identity and the verifier's constructor argument. */
export function shapeSpec(key: ShapeKey): ShapeSpec {
  return {
    name: key.name,
    DIN: key.shape.DIN,
    R: key.shape.R,
    DOUT: key.shape.DOUT,
    shapeId: key.shapeId,
    keyHash: key.keyHash,
    ptau: key.ptau.source === "dev" ? "dev" : key.ptau.file,
    verifierArgs: solidityShapeKey(key),
  };
}

/** What registering the key-wrap verifier needs. */
export function wrapSpec(key: WrapKey): WrapSpec {
  return {
    slots: key.slots,
    keyHash: key.keyHash,
    ptau: key.ptau.source === "dev" ? "dev" : key.ptau.file,
    verifierArgs: solidityWrapKey(key),
  };
}

// ---------------------------------------------------------------- commit

export interface CommitStepOptions {
  workspace: Workspace;
  /** Base model folder (config.json + weights). */
  modelDir: string;
  /** PEFT adapter folder (adapter_config.json + adapter_model.safetensors). */
  adapterDir: string;
  /** The deployment the deal will use (the proofs of knowledge are bound to its escrow and chain). */
  client: ZkloraClient;
  /** The contributor's address (bound into the proofs of knowledge). */
  contributor: string;
  /** A public powers-of-tau file (production); default the FORGEABLE development ptau. */
  ptau?: string;
  log?: Log;
  /** Task lines for the shape keys' setup, a bar over the modules (default: plain lines to `log`). */
  progress?: Progress;
}

/** Contributor: quantize and commit the adapter; writes manifest.json (public) and secrets.json (private). */
export async function commitStep(
  o: CommitStepOptions,
): Promise<{ manifest: CommitManifest; keys: ShapeKey[] }> {
  await o.workspace.ensure();
  for (const [dir, what, file] of [
    [o.modelDir, "--model", "config.json"],
    [o.adapterDir, "--adapter", "adapter_config.json"],
  ] as const) {
    if (!existsSync(`${dir}/${file}`)) throw new UsageError(`${what} ${dir} has no ${file}`);
  }
  const progress = Progress.of(o);
  const model = await loadBaseModel(o.modelDir);
  const keys = new Map<string, ShapeKey>();
  let bar: ReturnType<Progress["bar"]> | undefined;
  try {
    const adapter = await loadPeftAdapter(o.adapterDir);
    const commit = await commitAdapter({
      model,
      adapter,
      context: {
        chainId: BigInt(o.client.addresses.chainId),
        escrow: o.client.addresses.escrow,
        contributor: o.contributor,
      },
      shapeKey: async (shape: V2Shape) => {
        const key = await buildShapeKey(shape, { ptau: o.ptau, onProgress: progress.child("  ").zk() });
        keys.set(key.shapeId, key);
        return key;
      },
      // Called as each module starts: the one before it is done.
      onModule: (i, n, target) => {
        bar ??= progress.bar("commit modules (quantize, W_m, proof of knowledge)", n);
        if (i > 0) bar.tick();
        bar.note(`module ${i + 1}/${n}: ${target}`);
      },
    });
    bar?.tick("");
    bar?.done();
    await saveCommit({ manifest: o.workspace.manifest, secrets: o.workspace.secrets }, commit);
    return { manifest: commit.manifest, keys: [...keys.values()] };
  } finally {
    bar?.fail();
    await model.close();
  }
}

// ---------------------------------------------------------------- propose

export interface ProposeStepOptions {
  workspace: Workspace;
  /** Connected with the contributor's signer. */
  client: ZkloraClient;
  price: bigint;
  token?: string | null;
  buyer?: string | null;
  provingWindow: bigint | number;
  /**
   * Registers the manifest's shapes the registry lacks (the signer must own the registry), and
   * returns the updated record to save. Without it, an unregistered shape is an error.
   */
  register?: {
    record: DeploymentRecord;
    artifacts: Pick<ZkloraArtifacts, "verifier" | "wrapVerifier">;
    ptau?: string;
  };
  /** Propose a delivery deal with the hK_m of delivery.json (zklora:deliver). */
  delivery?: boolean;
  log?: Log;
  /** Task lines for key setups of shapes to register (default: plain lines to `log`). */
  progress?: Progress;
}

/** Contributor: propose the deal on-chain from manifest.json; writes deal.json. */
export async function proposeStep(
  o: ProposeStepOptions,
): Promise<{ dealId: bigint; tx: TxResult; deal: DealContext; record?: DeploymentRecord }> {
  const manifest = await loadManifest(o.workspace.need(o.workspace.manifest, "zklora:commit"));
  const signer = o.client.runner as Signer;
  const contributor = getAddress(await signer.getAddress());
  const ctx = manifest.context;
  if (
    BigInt(ctx.chainId) !== BigInt(o.client.addresses.chainId) ||
    getAddress(ctx.escrow) !== getAddress(o.client.addresses.escrow) ||
    getAddress(ctx.contributor) !== contributor
  ) {
    throw new UsageError(
      `the manifest was committed for escrow ${ctx.escrow} on chain ${ctx.chainId} by ${ctx.contributor}; ` +
        `this is escrow ${o.client.addresses.escrow} on chain ${o.client.addresses.chainId} and signer ${contributor}: ` +
        `commit again (zklora:commit) for this deployment and account (the proofs of knowledge are bound to them)`,
    );
  }
  const progress = Progress.of(o);
  let record = o.register?.record;
  const shapes = [...new Map(manifest.modules.map((m) => [m.shape.shapeId, m.shape])).values()];
  for (const s of shapes) {
    if ((await o.client.verifierOf(s.shapeId)) !== null) continue;
    if (o.register === undefined || record === undefined) {
      throw new UsageError(
        `shape ${s.name} has no verifier in the registry at ${o.client.addresses.registry}: the registry owner registers it (zklora:deploy --adapter ${o.workspace.dir})`,
      );
    }
    const key = await shapeKeyOf(s, o.register.ptau, progress.zk());
    record = await registerShapes(signer, record, [shapeSpec(key)], o.register.artifacts, (l) =>
      progress.log(l),
    );
  }
  const keyHashes = o.delivery === true ? await deliveryKeyHashes(o.workspace, manifest) : undefined;
  if (keyHashes !== undefined && (await o.client.wrapVerifier()) === null) {
    if (o.register === undefined || record === undefined) {
      throw new UsageError(
        `the registry at ${o.client.addresses.registry} has no key-wrap verifier, so delivery deals are impossible: its owner runs zklora:deploy`,
      );
    }
    const wrapKey = await buildWrapKey({ ptau: o.register.ptau, onProgress: progress.zk() });
    record = await registerWrapVerifier(signer, record, wrapSpec(wrapKey), o.register.artifacts, (l) =>
      progress.log(l),
    );
  }
  const { dealId, tx } = await o.client.propose({
    price: o.price,
    token: o.token,
    buyer: o.buyer,
    baseModelHash: `0x${manifest.baseModel.sha256}`,
    modules: manifest.modules.map((m) => ({ shapeId: m.shape.shapeId, wM: moduleW(m) })),
    provingWindow: o.provingWindow,
    keyHashes,
  });
  const deal: DealContext = {
    chainId: BigInt(o.client.addresses.chainId),
    escrow: getAddress(o.client.addresses.escrow),
    dealId,
    buyer: o.buyer === null || o.buyer === undefined || o.buyer === "" ? ZeroAddress : getAddress(o.buyer),
    contributor,
    manifest,
  };
  await saveDealContext(o.workspace.deal, deal);
  return { dealId, tx, deal, record };
}

// ---------------------------------------------------------------- serve

export interface ServeStepOptions {
  workspace: Workspace;
  /** The contributor's signer (signs InferenceResponses). */
  signer: Signer;
  /** Reads the buyer of an open deal from the chain. */
  client?: ZkloraClient;
  /** Accept this buyer (overrides deal.json's; needed for an open deal before funding). */
  buyer?: string;
  host?: string;
  port?: number;
  /** Rows per adapter module over all deals (default floor(DIN/4)). */
  rowBudget?: number;
  /** Browser origins allowed to call the server (CORS); default none. */
  corsOrigins?: readonly string[];
  /** How each commit of answered calls reaches the disk before the reply (default "full"). */
  sync?: CommitSync;
  ptau?: string;
  log?: Log;
  /** Task lines for the shape keys' setup on demand (default: plain lines to `log`). */
  progress?: Progress;
}

/** Contributor: start the MPI server for the workspace's deal; returns the running server. */
export async function startServe(
  o: ServeStepOptions,
): Promise<{ server: ContributorServer; url: string; deal: DealContext }> {
  const deal = await loadDealContext(o.workspace.need(o.workspace.deal, "zklora:propose"));
  const secrets = await loadSecrets(o.workspace.need(o.workspace.secrets, "zklora:commit"), deal.manifest);
  const buyer = o.buyer !== undefined && o.buyer !== "" ? getAddress(o.buyer) : deal.buyer;
  const client = o.client;
  const progress = Progress.of(o);
  const server = new ContributorServer({
    signer: o.signer,
    host: o.host ?? "127.0.0.1",
    port: o.port ?? 0,
    rowBudget: o.rowBudget,
    corsOrigins: o.corsOrigins,
    database: o.workspace.serverDb,
    sync: o.sync,
    keysDir: o.workspace.serverKeys,
    shapeKey: (s) => shapeKeyOf(s, o.ptau, progress.zk()),
    getDealBuyer:
      client === undefined
        ? undefined
        : async (dealId) => {
            const d = await client.getDeal(dealId);
            if (d.buyer === null) {
              throw new UsageError(
                `deal ${dealId} is open (no buyer yet): restart zklora:serve with --buyer ADDRESS`,
              );
            }
            return d.buyer;
          },
    log: o.progress !== undefined ? (l) => progress.log(l) : o.log,
  });
  await server.addDeal({ ...deal, buyer: buyer === ZeroAddress ? undefined : buyer }, secrets);
  const { url } = await server.listen();
  return { server, url, deal };
}

// ---------------------------------------------------------------- infer

/** Reads evaluation tokens: a JSON array of ids, or ids separated by spaces, commas or newlines. */
export async function readTokenFile(file: string): Promise<number[]> {
  if (!existsSync(file)) throw new UsageError(`--tokens ${file} does not exist`);
  const text = (await readFile(file, "utf8")).trim();
  let ids: unknown[];
  try {
    ids = text.startsWith("[")
      ? (JSON.parse(text) as unknown[])
      : text.split(/[\s,]+/).filter((s) => s !== "");
  } catch (err) {
    throw new UsageError(`--tokens ${file}: not a JSON array of token ids (${(err as Error).message})`);
  }
  const out = ids.map((v) => Number(v));
  if (out.some((v) => !Number.isInteger(v) || v < 0)) {
    throw new UsageError(`--tokens ${file} must hold non-negative integer token ids`);
  }
  return out;
}

export interface InferStepOptions {
  workspace: Workspace;
  /** The buyer's signer (signs InferenceRequests). */
  signer: Signer;
  /** The contributor server's URL. */
  url: string;
  /** The already loaded base model (its sha256 must be the manifest's). */
  model: BaseModel;
  tokens: readonly number[];
}

/** Buyer: run the base model with the remote modules; writes buyer-calls.jsonl and evaluation.json. */
export async function inferStep(o: InferStepOptions): Promise<{ report: EvaluationReport; calls: number }> {
  const deal = await loadDealContext(
    o.workspace.need(o.workspace.deal, "zklora:propose (the contributor sends deal.json)"),
  );
  if (o.model.sha256 !== deal.manifest.baseModel.sha256) {
    throw new UsageError(
      `the base model ${o.model.dir} (sha256 ${o.model.sha256}) is not the deal's (sha256 ${deal.manifest.baseModel.sha256}): pass the right --model`,
    );
  }
  if (o.tokens.length < 2) throw new UsageError("the evaluation needs at least 2 tokens");
  if (o.tokens.length > o.model.contextLength) {
    throw new UsageError(`${o.tokens.length} tokens exceed the model's context of ${o.model.contextLength}`);
  }
  const bad = o.tokens.find((t) => t >= o.model.vocabSize);
  if (bad !== undefined)
    throw new UsageError(`token id ${bad} is outside the vocabulary (0..${o.model.vocabSize - 1})`);
  const me = getAddress(await o.signer.getAddress());
  if (deal.buyer !== ZeroAddress && me !== getAddress(deal.buyer)) {
    throw new UsageError(
      `deal ${deal.dealId}'s buyer is ${deal.buyer}, but the signer is ${me}: pass --from ${deal.buyer}`,
    );
  }
  // The server's row budget bounds the tokens per module: check before calling it.
  let status: { modules?: { rowsUsed: number; rowBudget: number }[] } | undefined;
  try {
    const res = await fetch(`${o.url.replace(/\/+$/, "")}/v2/deals/${deal.dealId}`, {
      signal: AbortSignal.timeout(10_000),
    });
    if (res.ok) status = (await res.json()) as typeof status;
    else if (res.status === 404)
      throw new UsageError(`the server at ${o.url} does not host deal ${deal.dealId}`);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(
      `cannot reach the contributor's server at ${o.url}: ${(err as Error).message}; is zklora:serve running?`,
    );
  }
  const left = Math.min(...(status?.modules ?? []).map((m) => m.rowBudget - m.rowsUsed));
  if (Number.isFinite(left) && o.tokens.length > left) {
    throw new UsageError(
      `${o.tokens.length} tokens need ${o.tokens.length} rows per module, but the server's row budget leaves ${left}: evaluate at most ${left} tokens`,
    );
  }
  const client = new RemoteLoraClient({
    url: o.url,
    deal: { ...deal, buyer: me },
    signer: o.signer,
    logFile: o.workspace.buyerCalls,
  });
  try {
    const report = await evaluate(o.model, o.tokens, client);
    await writeJsonAtomic(o.workspace.evaluation, {
      dealId: deal.dealId.toString(),
      tokenIds: o.tokens,
      ...report,
    });
    return { report, calls: report.calls };
  } finally {
    await client.close();
  }
}

// ---------------------------------------------------------------- fund

export interface PrepareFundOptions {
  workspace: Workspace;
  /** Connected with the buyer's signer, or read-only (preparing sends nothing). */
  client: ZkloraClient;
  /** A public powers-of-tau file, when the deal's shapes use one. */
  ptau?: string;
  /** Accept keys from the FORGEABLE development ptau off a local chain (never for value). */
  allowForgeableKeys?: boolean;
  /** Delivery deals: ceremony key files per delivery circuit (production; default the dev keys). */
  ceremonyKeys?: Record<string, string>;
  /** Delivery deals: contribution hashes of which a delivery ceremony must contain one. */
  trusted?: readonly string[];
  log?: Log;
  /**
   * Task lines for the offer and delivery checks and each deal-key contribution, bars over the
   * modules (default: plain lines to `log`).
   */
  progress?: Progress;
}

export interface FundStepOptions extends PrepareFundOptions {
  /** Connected with the buyer's signer. */
  client: ZkloraClient;
  /** The contributor's server: the deal keys are handed to it after funding. */
  url?: string;
}

/** A deal key file the buyer hands to the contributor: one per shape, and the key-wrap key. */
export interface PreparedDealKey {
  /** The shape's (or the key-wrap circuit's) name. */
  shape: string;
  /** The shape id, or WRAP_CIRCUIT_ID. */
  shapeId: string;
  zkey: string;
}

/** A prepared deal key and whether it reached the contributor's server (else why not). */
export interface UploadedDealKey extends PreparedDealKey {
  uploaded: boolean;
  uploadError?: string;
}

/** What the buyer checked before funding. */
export interface FundChecks {
  proofsOfKnowledge: number;
  verifiers: number;
  deliveredModules: number;
}

/** A funding made ready (`prepareFundStep`): the request and the deal keys, nothing sent. */
export interface PreparedFund {
  deal: DealContext;
  /** The deal on-chain when it was checked. */
  info: DealView;
  /** `ZkloraClient.fund`'s arguments and the deal they are for (the fund request file). */
  request: FundRequest;
  keys: PreparedDealKey[];
  /** Rows folded per module. */
  rows: number[];
  checked: FundChecks;
}

/** Format tag of `buyer-fund.json`. */
export const BUYER_FUND_FORMAT = "zklora-buyer-fund/1";

/**
 * `buyer-fund.json`: the buyer's last prepared funding: its fund request and its deal key files
 * (relative to the workspace), for `zklora:fund --upload` after the deal was funded elsewhere.
 */
export interface BuyerFundFile {
  format: typeof BUYER_FUND_FORMAT;
  request: FundRequestJson;
  keys: PreparedDealKey[];
}

/**
 * Buyer (PROTOCOL.md step 4) up to the transaction: checks every module's W_m and proof of
 * knowledge and every shape's registered verifier against keys it derives itself; makes one deal
 * key per shape (its own contribution with a fresh secret, never stored) in buyer-keys/; folds its
 * recorded rows per module into the entry. A delivery deal also needs delivery.json checked
 * (checkDeliveryOffer) and the buyer's key-wrap key (a Baby Jubjub key in buyer-wrap.json and its
 * own δ' of the key-wrap circuit). Sends nothing; records the request and the key files in
 * buyer-fund.json.
 */
export async function prepareFundStep(o: PrepareFundOptions): Promise<PreparedFund> {
  const deal = await loadDealContext(
    o.workspace.need(o.workspace.deal, "zklora:propose (the contributor sends deal.json)"),
  );
  const calls = await readCallLog(o.workspace.need(o.workspace.buyerCalls, "zklora:infer"));
  const progress = Progress.of(o);
  const mods = deal.manifest.modules;
  const keys = new Map<string, ShapeKey>();
  for (const m of mods)
    if (!keys.has(m.shape.shapeId))
      keys.set(m.shape.shapeId, await shapeKeyOf(m.shape, o.ptau, progress.zk()));
  const escrow = o.client.escrow;
  try {
    await progress.run(
      `check the offer: ${mods.length} proofs of knowledge, ${keys.size} registered verifier(s)`,
      () =>
        checkOfferV2(
          escrow,
          deal.dealId,
          mods.map((m) => ({ key: keys.get(m.shape.shapeId)!, W: moduleW(m), pok: modulePok(m) })),
          { allowForgeableKeys: o.allowForgeableKeys },
        ),
    );
  } catch (err) {
    if (err instanceof DealCheckError)
      throw new UsageError(`do not fund deal ${deal.dealId}: ${err.message}`);
    throw err;
  }
  const info = await o.client.getDeal(deal.dealId);
  const chainId = BigInt(o.client.addresses.chainId);
  if (info.delivery) {
    await checkDeliveryOffer({
      workspace: o.workspace,
      deal,
      keyHashes: (await o.client.getKeyHashes(deal.dealId)) ?? [],
      chainId,
      network: `chain ${chainId}`,
      ptau: o.ptau,
      ceremonyKeys: o.ceremonyKeys,
      trusted: o.trusted,
      allowForgeableKeys: o.allowForgeableKeys,
      progress,
    });
  }
  const recorded = mods.map((m) => {
    const r = rowsOf(calls, deal, m.index);
    if (r.calls === 0)
      throw new UsageError(`module ${m.index} (${m.target}) has no recorded call: run zklora:infer first`);
    return r;
  });
  const rows = recorded.map((r) => r.X.length);
  const entries: FundRequest["entries"] = [];
  const fold = progress.bar("fold the recorded rows into one entry per module", mods.length);
  try {
    for (const [i, m] of mods.entries()) {
      const r = recorded[i];
      const e = await buyerEntry(escrow, deal.dealId, m.index, keys.get(m.shape.shapeId)!, r.X, r.Y);
      entries.push({ hX: e.hX, hY: e.hY, dX: e.D_X, fY: e.fY });
      fold.tick(m.target);
    }
    fold.done();
  } finally {
    fold.fail();
  }
  const dir = o.workspace.buyerKeys;
  await mkdir(dir, { recursive: true });
  const dealKeys = await makeDealKeys(escrow, deal.dealId, [...keys.values()], dir, { progress });
  const prepared: PreparedDealKey[] = dealKeys.map((k) => ({
    shape: k.key.name,
    shapeId: k.key.shapeId,
    zkey: k.zkey,
  }));
  let wrap: Awaited<ReturnType<typeof makeWrapDealKey>> | undefined;
  if (info.delivery) {
    wrap = await makeWrapDealKey({
      workspace: o.workspace,
      client: o.client,
      deal,
      ptau: o.ptau,
      progress,
    });
    prepared.push({ shape: wrap.wrapKey.name, shapeId: WRAP_CIRCUIT_ID, zkey: wrap.zkey });
  }
  const request: FundRequest = {
    chainId,
    escrow: getAddress(o.client.addresses.escrow),
    dealId: deal.dealId,
    price: info.price,
    token: info.token,
    keys: dealKeys.map((k) => ({ shapeId: k.key.shapeId, delta: k.delta2 })),
    entries,
    ...(wrap === undefined ? {} : { wrap: wrap.wrap }),
  };
  const record: BuyerFundFile = {
    format: BUYER_FUND_FORMAT,
    request: fundRequestToJson(request),
    keys: prepared.map((k) => ({ ...k, zkey: path.relative(o.workspace.dir, k.zkey) })),
  };
  await writeJsonAtomic(o.workspace.buyerFund, record);
  const checked = {
    proofsOfKnowledge: mods.length,
    verifiers: keys.size,
    deliveredModules: info.delivery ? mods.length : 0,
  };
  return { deal, info, request, keys: prepared, rows, checked };
}

/**
 * Hands the deal keys to the contributor's server (`url`; none: nothing is uploaded), signed by
 * the buyer. The deal is funded already: a failed upload is reported, not thrown (the key file stays
 * here for the contributor's zklora:prove --keys / zklora:settle --wrap-key, or zklora:fund --upload).
 */
export async function uploadDealKeys(
  url: string | undefined,
  deal: DealContext,
  signer: Signer,
  keys: readonly PreparedDealKey[],
): Promise<UploadedDealKey[]> {
  const remote = url === undefined || url === "" ? undefined : new RemoteLoraClient({ url, deal, signer });
  const out: UploadedDealKey[] = [];
  for (const k of keys) {
    let uploaded = false;
    let uploadError: string | undefined;
    if (remote !== undefined) {
      try {
        await remote.uploadDealKey(k.shapeId, k.zkey);
        uploaded = true;
      } catch (err) {
        uploadError = (err as Error).message;
      }
    }
    out.push({ ...k, uploaded, uploadError });
  }
  return out;
}

/**
 * Buyer (PROTOCOL.md step 4): `prepareFundStep`, then funds with the deposit, δ' per shape, the
 * entries (and the key-wrap key of a delivery deal), then hands the keys to the server.
 */
export async function fundStep(o: FundStepOptions): Promise<{
  tx: TxResult;
  approveTx?: TxResult;
  /** Per shape: the deal key file, and whether it reached the server (else why not). */
  keys: UploadedDealKey[];
  rows: number[];
  /** What was checked before funding: proofs of knowledge, registered verifiers, delivered modules. */
  checked: FundChecks;
}> {
  const p = await prepareFundStep(o);
  const r = p.request;
  const { tx, approveTx } = await o.client.fund(r.dealId, r.keys, r.entries, { wrap: r.wrap });
  const keys = await uploadDealKeys(o.url, p.deal, o.client.runner as Signer, p.keys);
  return { tx, approveTx, keys, rows: p.rows, checked: p.checked };
}

export interface UploadFundKeysOptions {
  workspace: Workspace;
  /** Connected with the signer of the deal's buyer (it signs the uploads). */
  client: ZkloraClient;
  /** The contributor's server. */
  url: string;
}

const sameDelta = (a: readonly bigint[], b: readonly bigint[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Buyer, after the deal was funded from the prepared request (e.g. from the web page): checks that
 * the deal is Funded on-chain with exactly the δ' (and key-wrap key) of the deal key files recorded
 * in buyer-fund.json, then uploads them to the contributor's server (`uploadDealKeys`).
 */
export async function uploadFundKeysStep(o: UploadFundKeysOptions): Promise<{
  deal: DealContext;
  info: DealView;
  keys: UploadedDealKey[];
}> {
  const w = o.workspace;
  const deal = await loadDealContext(w.need(w.deal, "zklora:propose (the contributor sends deal.json)"));
  const raw = await readJsonFile(w.need(w.buyerFund, "zklora:fund --prepare FILE"));
  const file = raw as Partial<BuyerFundFile> | null;
  const rel = path.relative(process.cwd(), w.buyerFund);
  if (
    file === null ||
    typeof file !== "object" ||
    file.format !== BUYER_FUND_FORMAT ||
    !Array.isArray(file.keys)
  )
    throw new UsageError(`${rel} is not a ${BUYER_FUND_FORMAT} file: run zklora:fund --prepare FILE again`);
  const request = parseFundRequest(file.request);
  if (
    request.dealId !== deal.dealId ||
    request.chainId !== deal.chainId ||
    getAddress(request.escrow) !== getAddress(deal.escrow)
  )
    throw new UsageError(
      `${rel} was prepared for deal ${request.dealId} of escrow ${request.escrow} on chain ${request.chainId}, not for deal.json's deal ${deal.dealId}: run zklora:fund --prepare FILE again`,
    );
  const keys: PreparedDealKey[] = file.keys.map((k) => ({
    shape: String(k.shape),
    shapeId: String(k.shapeId),
    zkey: path.resolve(w.dir, String(k.zkey)),
  }));
  const info = await o.client.getDeal(deal.dealId);
  if (info.status !== "Funded")
    throw new UsageError(
      `deal ${deal.dealId} is ${info.status} on-chain, not Funded: ${
        info.status === "Proposed"
          ? "fund it first (the web page's Fund from a prepared file, with the file of zklora:fund --prepare)"
          : "there is no deal key to hand over"
      }`,
    );
  const differ = (what: string) =>
    new UsageError(
      `deal ${deal.dealId} was funded with another ${what} than the prepared one (funded from another fund request?): these keys cannot be used; upload the keys of the request that funded it`,
    );
  const onchain = await o.client.getDealKeys(deal.dealId);
  const plain = keys.filter((k) => k.shapeId !== WRAP_CIRCUIT_ID);
  if (onchain.length !== plain.length)
    throw differ(`set of shapes (${onchain.length} δ' on-chain, ${plain.length} prepared)`);
  for (const k of plain) {
    const chain = onchain.find((x) => x.shapeId.toLowerCase() === k.shapeId.toLowerCase());
    const ready = request.keys.find((x) => x.shapeId.toLowerCase() === k.shapeId.toLowerCase());
    const what = `δ' of shape ${k.shape}`;
    if (chain === undefined || ready === undefined || !sameDelta(chain.delta, ready.delta))
      throw differ(what);
    if (!existsSync(k.zkey)) throw new UsageError(`${k.zkey} does not exist: its deal key is lost`);
    if (!sameDelta(chain.delta, (await deltaOf(k.zkey)).delta2))
      throw differ(`${what} (${path.relative(process.cwd(), k.zkey)} was made anew since)`);
  }
  const wrapKey = keys.find((k) => k.shapeId === WRAP_CIRCUIT_ID);
  if (info.delivery) {
    const chain = await o.client.getWrapKey(deal.dealId);
    const ready = request.wrap;
    if (wrapKey === undefined || ready === undefined || chain === null) throw differ("key-wrap key");
    if (!sameDelta(chain.pk, ready.pk) || !sameDelta(chain.delta, ready.delta)) throw differ("key-wrap key");
    if (!existsSync(wrapKey.zkey))
      throw new UsageError(`${wrapKey.zkey} does not exist: the key-wrap key is lost`);
    if (!sameDelta(chain.delta, (await deltaOf(wrapKey.zkey)).delta2))
      throw differ(`key-wrap key (${path.relative(process.cwd(), wrapKey.zkey)} was made anew since)`);
  }
  const signer = o.client.runner as Signer;
  const from = getAddress(await signer.getAddress());
  if (info.buyer !== null && from !== getAddress(info.buyer))
    throw new UsageError(
      `deal ${deal.dealId} was funded by ${info.buyer}, and the uploads must be signed by it: pass --from ${info.buyer}`,
    );
  return { deal, info, keys: await uploadDealKeys(o.url, deal, signer, keys) };
}

// ---------------------------------------------------------------- prove

/** One module's proof file (`proofs/module-<m>.json`). */
export interface ModuleProofFile extends Pick<ProofJobResult, "claim" | "proof" | "delta"> {
  dealId: string;
  module: number;
  shapeId: string;
}

export interface ProveStepOptions {
  workspace: Workspace;
  /** The chain (read-only is enough). */
  client: ZkloraClient;
  /** Deal key files per shape id (default: the ones the buyer uploaded to the server). */
  dealKeys?: Record<string, string>;
  ptau?: string;
  pool?: ProvingPool;
  log?: Log;
  /**
   * Task lines for each deal-key check, a bar over the proofs (default: plain lines to `log`);
   * false: the `log` lines only.
   */
  progress?: Progress | false;
  /**
   * The proof job queue: by default the embedded one (tables `proof_jobs*` in
   * `<workspace>/server.sqlite`, proved by `pool` or in this process); with `redis` (a URL) BullMQ
   * over Redis, proved by `zklora:worker` processes. `capacity`: most jobs queued at once (more wait
   * for room); `maxAttempts`: starts per job before it fails (default 3).
   */
  jobs?: { redis?: string; capacity?: number; maxAttempts?: number };
}

/**
 * Contributor (PROTOCOL.md step 5): for each shape, accepts the buyer's deal key only after the
 * full δ check against its own initial key and the δ' on-chain; for each unproven module,
 * recomputes the entry from its own call log and refuses on any difference, proves it as a durable
 * proof job (src/mpi/jobs.ts: retried when a prover dies, resumed by the next run, never proved
 * twice), verifies the proof locally under the deal's δ', and writes it. Modules proven on-chain
 * (`skipped`) or whose proof file already verifies for the recomputed statement (`reused`) get no
 * job. Throws ProofJobsFailedError naming each failed module after writing the others.
 */
export async function proveStep(
  o: ProveStepOptions,
): Promise<{ proven: number[]; skipped: number[]; reused: number[]; ms: number }> {
  const t0 = performance.now();
  const deal = await loadDealContext(o.workspace.need(o.workspace.deal, "zklora:propose"));
  const secrets = await loadSecrets(o.workspace.need(o.workspace.secrets, "zklora:commit"), deal.manifest);
  const calls = await readServerCalls(o.workspace.need(o.workspace.serverDb, "zklora:serve"), deal);
  const info = await o.client.getDeal(deal.dealId);
  if (info.status !== "Funded")
    throw new UsageError(`deal ${deal.dealId} is ${info.status}: proofs are made for a funded deal`);
  const mods = await o.client.getModules(deal.dealId);
  const escrow = o.client.escrow;
  const progress = Progress.of(o);
  const keys = new Map<string, { key: ShapeKey; zkey: string; delta: G2Point }>();
  for (const m of deal.manifest.modules) {
    const id = m.shape.shapeId;
    if (keys.has(id)) continue;
    const zkey = o.dealKeys?.[id] ?? uploadedKey(o.workspace, deal, id);
    if (zkey === undefined) {
      throw new UsageError(
        `no deal key for shape ${m.shape.name}: the buyer uploads it to zklora:serve at funding (or pass its file with --keys)`,
      );
    }
    const key = await shapeKeyOf(m.shape, o.ptau, progress.zk());
    // The verifier registered for the shape must hold this key's constants: else every proof reverts.
    const verifier = await o.client.verifierOf(id);
    const registered = verifier === null ? null : await o.client.keyHashOf(verifier);
    if (registered !== key.keyHash) {
      throw new UsageError(
        `shape ${m.shape.name}: the verifier registered on-chain ${registered === null ? "is missing" : `has key hash ${registered}`}, ` +
          `but the key derived here has ${key.keyHash} (another ptau or circuit?): proofs would be rejected, so none is made`,
      );
    }
    const delta = await progress.run(
      `check the buyer's deal key of ${m.shape.name} (δ update, L and H)`,
      (t) => acceptDealKey(escrow, deal.dealId, key, zkey, { onProgress: t.zk() }),
    );
    keys.set(id, { key, zkey, delta });
  }
  await mkdir(o.workspace.proofs, { recursive: true });
  const unproven = deal.manifest.modules.filter((m) => !mods[m.index]?.proven);
  const skipped = deal.manifest.modules.filter((m) => mods[m.index]?.proven).map((m) => m.index);
  // Each unproven module's statement, from the own call log checked against the entry on-chain; a
  // module whose proof file already holds a proof of exactly this statement needs no job.
  const chainId = (await escrow.runner!.provider!.getNetwork()).chainId;
  const escrowAddress = getAddress(await escrow.getAddress());
  const keyFiles = new Map<string, { file: string; keccak: string }>();
  const reused: number[] = [];
  const jobs: { m: (typeof unproven)[number]; payload: ProofJobPayload; claim: ModuleProofFile["claim"] }[] =
    [];
  for (const m of unproven) {
    const k = keys.get(m.shape.shapeId)!;
    const rows = rowsOf(calls, deal, m.index);
    const fold = await moduleFold(escrow, deal.dealId, m.index, k.key, rows, chainId, escrowAddress);
    const s = (x: bigint) => x.toString();
    const W = moduleW(m);
    const claim: ModuleProofFile["claim"] = {
      module: m.index,
      shapeId: m.shape.shapeId,
      wM: [s(W[0]), s(W[1])],
      rho: s(fold.rho),
      fY: s(fold.fY),
      dX: [s(fold.D_X[0]), s(fold.D_X[1])],
    };
    if (await proofFileHolds(o.workspace.proofFile(m.index), deal.dealId, claim, k)) {
      reused.push(m.index);
      continue;
    }
    let kf = keyFiles.get(k.zkey);
    if (kf === undefined) {
      kf = { file: path.basename(k.zkey), keccak: await keccakFile(k.zkey) };
      keyFiles.set(k.zkey, kf);
    }
    const opening = secrets.modules[m.index];
    jobs.push({
      m,
      claim,
      payload: {
        id: proofJobId({ chainId, escrow: escrowAddress, dealId: deal.dealId, module: m.index }),
        chainId: s(chainId),
        escrow: escrowAddress,
        dealId: s(deal.dealId),
        module: m.index,
        shape: { name: m.shape.name, DIN: m.shape.DIN, R: m.shape.R, DOUT: m.shape.DOUT, ptau: m.shape.ptau },
        shapeId: m.shape.shapeId,
        keyHash: k.key.keyHash,
        dealKey: kf,
        wM: claim.wM,
        fold: { rho: claim.rho, fY: claim.fY, x: fold.x.map(s), dX: claim.dX },
        opening: {
          A: opening.A.map((r) => r.map(s)),
          B: opening.B.map((r) => r.map(s)),
          salt: s(opening.salt),
        },
      },
    });
  }
  const proven: number[] = [];
  if (jobs.length === 0) return { proven, skipped, reused, ms: performance.now() - t0 };
  // The jobs: durable in <workspace>/server.sqlite and proved here (default), or in Redis and proved
  // by zklora:worker processes. A job done by an earlier run is not proved again.
  const queue: ProofJobQueue =
    o.jobs?.redis !== undefined
      ? await (
          await import("../mpi/jobs-redis.js")
        ).RedisProofJobs.connect({
          url: o.jobs.redis,
          capacity: o.jobs.capacity,
          maxAttempts: o.jobs.maxAttempts,
        })
      : SqliteProofJobs.open(o.workspace.serverDb, {
          capacity: o.jobs?.capacity,
          maxAttempts: o.jobs?.maxAttempts,
        });
  const bar = progress.bar("proofs", jobs.length);
  const failures: ProofJobRecord[] = [];
  try {
    if (queue instanceof SqliteProofJobs) {
      const byName = new Map([...keyFiles].map(([file, kf]) => [kf.file, file]));
      queue.start(
        proofJobProver({
          keys: (file) => byName.get(file),
          ptau: o.ptau,
          pool: o.pool,
          onProgress: o.pool === undefined ? bar.zk() : undefined,
        }),
        { concurrency: o.pool?.maxWorkers ?? 1, ids: jobs.map((j) => j.payload.id) },
      );
    } else {
      progress.log(
        `${jobs.length} proof jobs on Redis; zklora:worker processes (--redis, --keys with ${[...keyFiles.values()].map((k) => k.file).join(", ")}) prove them`,
      );
    }
    // Back-pressure: a full queue takes the next job once some have finished.
    for (const j of jobs) {
      for (;;) {
        try {
          await queue.enqueue(j.payload, { retryFailed: true });
          break;
        } catch (err) {
          if (!(err instanceof QueueFullError)) throw err;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
    }
    const byId = new Map(jobs.map((j) => [j.payload.id, j]));
    const records = await queue.wait([...byId.keys()], (r) => {
      if (r.state === "done") bar.tick(byId.get(r.id)!.m.target);
    });
    for (const r of records) {
      const j = byId.get(r.id)!;
      const k = keys.get(j.m.shape.shapeId)!;
      if (r.state !== "done" || r.result === null) {
        failures.push(r);
        continue;
      }
      const file: ModuleProofFile = {
        dealId: deal.dealId.toString(),
        module: j.m.index,
        shapeId: j.m.shape.shapeId,
        claim: r.result.claim,
        proof: r.result.proof,
        delta: r.result.delta,
      };
      // Released only when it is a proof of this statement that verifies under the deal's δ'.
      if (!(await proofFileHolds(file, deal.dealId, j.claim, k))) {
        failures.push({
          ...r,
          state: "failed",
          reason: `module ${j.m.index}: the job's proof does not verify locally under the deal's δ' for the statement recomputed here; not released`,
        });
        continue;
      }
      await writeJsonAtomic(o.workspace.proofFile(j.m.index), file);
      proven.push(j.m.index);
    }
    if (failures.length > 0) throw new ProofJobsFailedError(failures);
    bar.done();
  } finally {
    bar.fail();
    await queue.close();
  }
  return { proven: proven.sort((a, b) => a - b), skipped, reused, ms: performance.now() - t0 };
}

/**
 * The fold of module m's rows: recomputed from the contributor's own record and refused on any
 * difference with the entry on-chain (hX, hY, fY, D_X, rho).
 */
async function moduleFold(
  escrow: ZkloraClient["escrow"],
  dealId: bigint,
  m: number,
  key: ShapeKey,
  rows: { X: bigint[][]; Y: bigint[][] },
  chainId: bigint,
  escrowAddress: string,
): Promise<FoldedEntry> {
  const ev = (await escrow.queryFilter(escrow.filters.EntryRegistered(dealId, BigInt(m))))[0];
  if (ev === undefined) throw new DealCheckError(`deal ${dealId} module ${m}: no entry on-chain`);
  const mine = await checkFoldedEntry(
    key,
    rows.X,
    rows.Y,
    { chainId, escrow: escrowAddress, dealId, module: BigInt(m) },
    { hX: ev.args.hX, hY: ev.args.hY, fY: ev.args.fY, D_X: [ev.args.dX[0], ev.args.dX[1]] },
  );
  if (mine.rho !== ev.args.rho)
    throw new DealCheckError(
      `deal ${dealId} module ${m}: the contract's rho differs from the recomputed one`,
    );
  return mine;
}

/**
 * Whether a proof file (a path, or its content) holds a proof of exactly `claim` for this deal that
 * verifies locally under the deal's δ' of the shape.
 */
async function proofFileHolds(
  f: string | ModuleProofFile,
  dealId: bigint,
  claim: ModuleProofFile["claim"],
  k: { key: ShapeKey; delta: G2Point },
): Promise<boolean> {
  try {
    if (typeof f === "string" && !existsSync(f)) return false;
    const file = typeof f === "string" ? ((await readJsonFile(f)) as ModuleProofFile) : f;
    const same = (a: readonly string[], b: readonly string[]) =>
      a.length === b.length && a.every((x, i) => x === b[i]);
    if (
      file.dealId !== dealId.toString() ||
      file.module !== claim.module ||
      file.claim.module !== claim.module ||
      file.claim.shapeId !== claim.shapeId ||
      !same(file.claim.wM, claim.wM) ||
      file.claim.rho !== claim.rho ||
      file.claim.fY !== claim.fY ||
      !same(file.claim.dX, claim.dX) ||
      !same(file.delta, k.delta.map(String))
    )
      return false;
    const c = claimOf(file);
    const p = proofOf(file);
    return await verifyClaimOffchain(
      k.key,
      k.delta,
      { rho: c.rho, fY: c.fY, dX: [c.dX[0], c.dX[1]], wM: [c.wM[0], c.wM[1]] },
      { a: [...p.a], b: [...p.b], c: [...p.c] } as SolidityProofV2,
    );
  } catch {
    return false; // unreadable or malformed: proved anew
  }
}

/** The deal key the buyer uploaded to this workspace's server, if any. */
function uploadedKey(w: Workspace, deal: DealContext, shapeId: string): string | undefined {
  const file = path.join(w.serverKeys, dealKeyFileName(deal, shapeId));
  return existsSync(file) ? file : undefined;
}

// ---------------------------------------------------------------- submit

export interface SubmitStepOptions {
  workspace: Workspace;
  /** Connected with any signer (anyone may submit). */
  client: ZkloraClient;
  /** Proofs per transaction (default 16); 1 sends each with `submit`. */
  batch?: number;
}

/** Submits the proof files of unproven modules: per shape in batches (`submitBatch`), or one by one. */
export async function submitStep(o: SubmitStepOptions): Promise<{
  txs: { method: "submit" | "submitBatch"; modules: number[]; tx: TxResult }[];
  missing: number[];
}> {
  const deal = await loadDealContext(o.workspace.need(o.workspace.deal, "zklora:propose"));
  const mods = await o.client.getModules(deal.dealId);
  const files: ModuleProofFile[] = [];
  const missing: number[] = [];
  for (const m of mods) {
    if (m.proven) continue;
    const f = o.workspace.proofFile(m.index);
    if (!existsSync(f)) {
      missing.push(m.index);
      continue;
    }
    files.push((await readJsonFile(f)) as ModuleProofFile);
  }
  if (files.length === 0 && missing.length > 0) {
    throw new UsageError(`no proof files for modules ${missing.join(", ")}: run zklora:prove first`);
  }
  const batch = o.batch ?? 16;
  const txs: { method: "submit" | "submitBatch"; modules: number[]; tx: TxResult }[] = [];
  const byShape = new Map<string, ModuleProofFile[]>();
  for (const f of files) byShape.set(f.shapeId, [...(byShape.get(f.shapeId) ?? []), f]);
  for (const [shapeId, list] of byShape) {
    for (let i = 0; i < list.length; i += batch) {
      const part = list.slice(i, i + batch);
      const delta = g2(part[0].delta);
      if (part.length === 1) {
        const tx = await o.client.submit(deal.dealId, claimOf(part[0]), proofOf(part[0]), delta);
        txs.push({ method: "submit", modules: [part[0].module], tx });
      } else {
        const tx = await o.client.submitBatch(
          deal.dealId,
          shapeId,
          delta,
          part.map(claimOf),
          part.map(proofOf),
        );
        txs.push({ method: "submitBatch", modules: part.map((p) => p.module), tx });
      }
    }
  }
  return { txs, missing };
}

const g2 = (v: readonly string[]) => [BigInt(v[0]), BigInt(v[1]), BigInt(v[2]), BigInt(v[3])] as const;
const claimOf = (f: ModuleProofFile): ClaimInput => ({
  module: f.claim.module,
  shapeId: f.claim.shapeId,
  wM: [BigInt(f.claim.wM[0]), BigInt(f.claim.wM[1])],
  rho: BigInt(f.claim.rho),
  fY: BigInt(f.claim.fY),
  dX: [BigInt(f.claim.dX[0]), BigInt(f.claim.dX[1])],
});
const proofOf = (f: ModuleProofFile): ProofInput => ({
  a: [BigInt(f.proof.a[0]), BigInt(f.proof.a[1])],
  b: g2(f.proof.b),
  c: [BigInt(f.proof.c[0]), BigInt(f.proof.c[1])],
});

// ---------------------------------------------------------------- status

export interface DealStatusReport {
  dealId: bigint;
  deal: Awaited<ReturnType<ZkloraClient["getDeal"]>>;
  modules: Awaited<ReturnType<ZkloraClient["getModules"]>>;
  entries: EntryView[];
  token: Awaited<ReturnType<ZkloraClient["tokenInfo"]>>;
  /** Chain time of the latest block. */
  now: bigint;
}

/** Reads a deal's full state. */
export async function dealStatus(client: ZkloraClient, dealId: bigint): Promise<DealStatusReport> {
  const deal = await client.getDeal(dealId);
  const [modules, entries, token] = await Promise.all([
    client.getModules(dealId),
    client.getEntries(dealId),
    client.tokenInfo(deal.token),
  ]);
  const block = await client.runner.provider?.getBlock("latest");
  return {
    dealId,
    deal,
    modules,
    entries,
    token,
    now: BigInt(block?.timestamp ?? Math.floor(Date.now() / 1000)),
  };
}

/** Resolves the deal id: an explicit one, else deal.json's. */
export async function dealIdOf(workspace: Workspace, explicit: string): Promise<bigint> {
  if (explicit !== "") {
    if (!/^[1-9][0-9]*$/.test(explicit))
      throw new UsageError(`--deal must be a positive integer, got ${explicit}`);
    return BigInt(explicit);
  }
  if (!existsSync(workspace.deal)) {
    throw new UsageError(`pass --deal ID, or --workspace with a deal.json (written by zklora:propose)`);
  }
  return (await loadDealContext(workspace.deal)).dealId;
}
