/**
 * Weights delivered with the payment (PROTOCOL.md, "Weights delivered with the payment"), as deal
 * steps shared by the tasks and the demo:
 *
 * - contributor, once per adapter (`deliverStep`): per module a fresh delivery key k_m, the
 *   ciphertext of the quantized weights (Poseidon cipher, packed, range-checked), one delivery proof
 *   per chunk under the delivery circuit's ceremony key, and the link proof to W_m; writes
 *   `delivery.json` (PUBLIC: ciphertexts, hK_m, proofs) and `delivery-secrets.json` (PRIVATE, 0600);
 * - buyer, before funding (`checkDeliveryOffer`): every ceremony key against its own initial key,
 *   every chunk proof and link, hK_m against the deal's; then its Baby Jubjub key (`buyer-wrap.json`,
 *   PRIVATE) and its own δ' of the key-wrap circuit (`makeWrapDealKey`);
 * - contributor, at settlement (`settleDeliveryStep`): checks the buyer's wrap key (δ update against
 *   its own initial key and the δ' on-chain, the public key in the subgroup), wraps every k_m for the
 *   buyer, proves it and calls `settleWithKeys`;
 * - buyer, after settlement (`decryptStep`): unwraps with its secret, decrypts, checks the weights
 *   against the rows it evaluated (Y = X·A·B, exactly), and writes a PEFT adapter that loads back to
 *   the same quantized weights.
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { getAddress } from "ethers";
import type { TxResult, WrapFundInput, ZkloraClient } from "../chain/index.js";
import { loadPeftAdapter, savePeftAdapter, type PeftAdapter } from "../model/index.js";
import {
  dealKeyFileName,
  loadDealContext,
  loadManifest,
  loadSecrets,
  moduleW,
  readCallLog,
  readJsonFile,
  rowsOf,
  v2ShapeOf,
  writeJsonAtomic,
  type CommitContext,
  type CommitManifest,
  type DealContext,
} from "../mpi/index.js";
import { P, loraProduct } from "../zk/index.js";
import type { ProvingPool } from "../zk/pool.js";
import type { ProgressFn } from "../zk/progress.js";
import { quantizeLora } from "../zk/quantize.js";
import {
  DeliveryCheckError,
  DeliveryRangeError,
  buildDeliveryKey,
  checkDeliveryKey,
  checkModuleDelivery,
  decryptModuleWeights,
  deliverModule,
  deliveryBits,
  deliveryPlan,
  deliveryShapeOf,
  devDeliveryCeremonyKey,
  moduleDeliveryFromJson,
  moduleDeliveryToJson,
  type DeliveryKey,
  type ModuleDelivery,
  type ModuleDeliveryJson,
} from "../zk/delivery/index.js";
import {
  checkDeltaUpdate,
  contributeDelta,
  deltaOf,
  weightCount,
  weightVector,
  type G2Point,
} from "../zk/v2/index.js";
import {
  BABY_BASE8,
  WRAP_CIRCUIT_ID,
  babyMul,
  buildWrapKey,
  buyerWrapKeypair,
  checkBuyerWrapKey,
  proveKeyWrap,
  randomBabyScalar,
  subgroupCertificate,
  toSolidityWrapProof,
  unwrapDeliveryKeys,
  type WrapKey,
} from "../zk/wrap/index.js";
import { UsageError } from "./errors.js";
import { refuseForgeableKeys } from "./forgeable.js";
import { Progress } from "./progress.js";
import { shapeKeyOf, type Log } from "./steps.js";
import type { Workspace } from "./workspace.js";

/** Format tag of `delivery.json`. */
export const DELIVERY_FILE_FORMAT = "zklora-delivery/2";

/** Where a delivery proof's ceremony key comes from. */
export type CeremonyRef =
  /** The FORGEABLE development key (initial key + a public beacon), recomputed by anyone. */
  | { kind: "dev" }
  /** A public ceremony's key file, named by sha256 (the buyer passes the file). */
  | { kind: "file"; file: string; sha256: string };

/** `delivery.json`: the PUBLIC delivery of every module of a commit. */
export interface DeliveryFile {
  format: typeof DELIVERY_FILE_FORMAT;
  /** The commit's context (the link proofs are bound to it). */
  context: CommitContext;
  modules: {
    module: number;
    target: string;
    /** The delivery circuit (chunk size and weight range). */
    deliveryShape: string;
    ceremony: CeremonyRef;
    delivery: ModuleDeliveryJson;
  }[];
}

/** `delivery-secrets.json`: the contributor's delivery keys and salts' (PRIVATE). */
export interface DeliverySecretsFile {
  format: typeof DELIVERY_FILE_FORMAT;
  modules: { module: number; k: string; saltPrimes: string[] }[];
}

/** `buyer-wrap.json`: the buyer's Baby Jubjub wrap key of one deal (PRIVATE). */
export interface BuyerWrapFile {
  format: typeof DELIVERY_FILE_FORMAT;
  chainId: string;
  escrow: string;
  dealId: string;
  sk: string;
  pk: [string, string];
}

const ctxOf = (c: CommitContext, module: number) => ({
  chainId: BigInt(c.chainId),
  escrow: c.escrow,
  contributor: c.contributor,
  module,
});

/** The delivery plan of a manifest module (its chunk size and range from its shape and scales). */
function deliveryPlanOf(m: CommitManifest["modules"][number]) {
  const bits = deliveryBits(m.scales);
  return { bits, plan: deliveryPlan(weightCount(v2ShapeOf(m)), bits) };
}

/** The delivery circuit key of a manifest module (its chunk size and range from its shape and scales). */
function deliveryKeyOf(
  m: CommitManifest["modules"][number],
  ptau?: string,
  onProgress?: ProgressFn,
): Promise<DeliveryKey> {
  const { bits, plan } = deliveryPlanOf(m);
  return buildDeliveryKey(deliveryShapeOf(plan, bits), {
    ptau: m.shape.ptau === "dev" ? undefined : ptau,
    onProgress,
  });
}

/** Parses `NAME=FILE,NAME=FILE` (ceremony key files per delivery shape). */
export function parseCeremonyKeys(spec: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of spec.split(",").filter((p) => p.trim() !== "")) {
    const i = part.indexOf("=");
    if (i <= 0) throw new UsageError(`--delivery-keys takes NAME=FILE pairs, got ${part}`);
    out[part.slice(0, i).trim()] = path.resolve(part.slice(i + 1).trim());
  }
  return out;
}

/** The ceremony key of a delivery key: the dev one, or the given file (checked). */
async function ceremonyOf(
  dkey: DeliveryKey,
  files: Record<string, string> | undefined,
  progress: Progress,
): Promise<{ zkey: string; ref: CeremonyRef; forgeable: boolean }> {
  if (dkey.ptau.source === "dev" && files?.[dkey.name] === undefined) {
    const zkey = await devDeliveryCeremonyKey(dkey, { onProgress: progress.zk() });
    return { zkey, ref: { kind: "dev" }, forgeable: true };
  }
  const file = files?.[dkey.name];
  if (file === undefined || !existsSync(file)) {
    throw new UsageError(
      `delivery circuit ${dkey.name} needs its ceremony key: pass --delivery-keys ${dkey.name}=FILE (a public ceremony started from its initial key)`,
    );
  }
  const check = await progress.run(`check the ceremony key of ${dkey.name} (δ update, L and H)`, (t) =>
    checkDeliveryKey(dkey, file, { onProgress: t.zk() }),
  );
  const { sha256File } = await import("../common/cache.js");
  return {
    zkey: file,
    ref: { kind: "file", file: path.basename(file), sha256: await sha256File(file) },
    forgeable: check.forgeable,
  };
}

// ---------------------------------------------------------------- contributor: deliver

export interface DeliverStepOptions {
  workspace: Workspace;
  /** A public powers-of-tau file, when the manifest's shapes use one. */
  ptau?: string;
  /** Ceremony key files per delivery circuit name (production); default the FORGEABLE dev keys. */
  ceremonyKeys?: Record<string, string>;
  pool?: ProvingPool;
  log?: Log;
  /** Task lines for the key setups, a bar over the chunk proofs (default: plain lines to `log`). */
  progress?: Progress;
}

/**
 * Contributor, once per adapter (after commit, before propose): encrypts every module under a fresh
 * key, proves each chunk and the link to W_m, verifies everything as the buyer will, and writes
 * delivery.json (public) and delivery-secrets.json (private).
 */
export async function deliverStep(o: DeliverStepOptions): Promise<{
  modules: { module: number; target: string; deliveryShape: string; chunks: number; constraints: number }[];
  ms: number;
}> {
  const t0 = performance.now();
  const ws = o.workspace;
  const manifest = await loadManifest(ws.need(ws.manifest, "zklora:commit"));
  const secrets = await loadSecrets(ws.need(ws.secrets, "zklora:commit"), manifest);
  const file: DeliveryFile = { format: DELIVERY_FILE_FORMAT, context: manifest.context, modules: [] };
  const priv: DeliverySecretsFile = { format: DELIVERY_FILE_FORMAT, modules: [] };
  const out: Awaited<ReturnType<typeof deliverStep>>["modules"] = [];
  const progress = Progress.of(o);
  // The keys first (compile and setup when not cached), then one bar over every chunk proof.
  const keys = [];
  for (const m of manifest.modules) {
    const key = await shapeKeyOf(m.shape, o.ptau, progress.zk());
    const dkey = await deliveryKeyOf(m, o.ptau, progress.zk());
    keys.push({ key, dkey, ceremony: await ceremonyOf(dkey, o.ceremonyKeys, progress) });
  }
  const chunks = manifest.modules.reduce((n, m) => n + deliveryPlanOf(m).plan.chunks, 0);
  const bar = progress.bar("delivery chunk proofs", chunks);
  for (const [i, m] of manifest.modules.entries()) {
    const { key, dkey, ceremony } = keys[i];
    const sec = secrets.modules[m.index];
    let r: Awaited<ReturnType<typeof deliverModule>>;
    try {
      r = await deliverModule(
        key,
        dkey,
        ceremony.zkey,
        ctxOf(manifest.context, m.index),
        { w: weightVector(key.shape, sec), salt: sec.salt, W: moduleW(m) },
        { pool: o.pool, onProgress: bar.zk(), onChunk: (c) => bar.tick(`module ${m.index} chunk ${c}`) },
      );
    } catch (err) {
      bar.fail();
      if (err instanceof DeliveryRangeError) {
        throw new UsageError(
          `module ${m.index} (${m.target}): ${err.message}; the delivery range is ±2^${dkey.shape.BITS - 1} (scales fa ${m.scales.fa}, fb ${m.scales.fb}): commit with lower scales`,
        );
      }
      throw err;
    }
    file.modules.push({
      module: m.index,
      target: m.target,
      deliveryShape: dkey.name,
      ceremony: ceremony.ref,
      delivery: moduleDeliveryToJson(r.delivery),
    });
    priv.modules.push({
      module: m.index,
      k: r.secrets.k.toString(),
      saltPrimes: r.secrets.saltPrimes.map(String),
    });
    out.push({
      module: m.index,
      target: m.target,
      deliveryShape: dkey.name,
      chunks: r.delivery.chunks.length,
      constraints: dkey.constraints,
    });
    progress.log(
      `module ${m.index + 1}/${manifest.modules.length}: ${m.target}, ${r.delivery.chunks.length} chunk(s) of ${dkey.name}`,
    );
  }
  bar.done();
  await writeJsonAtomic(ws.deliverySecrets, priv, 0o600);
  await writeJsonAtomic(ws.delivery, file);
  return { modules: out, ms: performance.now() - t0 };
}

/** Reads delivery.json; throws a UsageError naming what is wrong. */
export async function loadDeliveryFile(
  file: string,
  manifest: CommitManifest,
): Promise<{
  file: DeliveryFile;
  modules: ModuleDelivery[];
}> {
  const raw = (await readJsonFile(file)) as Partial<DeliveryFile>;
  if (raw?.format !== DELIVERY_FILE_FORMAT || !Array.isArray(raw.modules))
    throw new UsageError(`${file} is not a ${DELIVERY_FILE_FORMAT} file: run zklora:deliver again`);
  if (raw.modules.length !== manifest.modules.length || raw.modules.some((m, i) => m?.module !== i))
    throw new UsageError(
      `${file} must hold modules 0..${manifest.modules.length - 1} of the manifest, in order`,
    );
  const c = raw.context;
  const mc = manifest.context;
  if (
    c === undefined ||
    c.chainId !== mc.chainId ||
    getAddress(c.escrow) !== getAddress(mc.escrow) ||
    getAddress(c.contributor) !== getAddress(mc.contributor)
  )
    throw new UsageError(`${file} was made for another commit (context differs from the manifest's)`);
  const modules = raw.modules.map((m, i) => {
    try {
      return moduleDeliveryFromJson(m.delivery);
    } catch (err) {
      throw new UsageError(`${file}: module ${i}: ${(err as Error).message}`);
    }
  });
  return { file: raw as DeliveryFile, modules };
}

/** The hK_m of every module of delivery.json, for `proposeDelivery`. */
export async function deliveryKeyHashes(ws: Workspace, manifest: CommitManifest): Promise<bigint[]> {
  const { modules } = await loadDeliveryFile(ws.need(ws.delivery, "zklora:deliver"), manifest);
  return modules.map((d) => d.hK);
}

// ---------------------------------------------------------------- buyer: check and wrap key

/**
 * Buyer, before funding a delivery deal: checks every delivery circuit's ceremony key against its
 * own initial key (refusing a forgeable one off a local chain, and, when `trusted` is given, a
 * ceremony without one of those contributions), every module's chunk proofs and link to its W_m,
 * and hK_m against the deal's. Throws UsageError("do not fund …").
 */
export async function checkDeliveryOffer(o: {
  workspace: Workspace;
  deal: DealContext;
  keyHashes: readonly bigint[];
  chainId: bigint;
  network: string;
  ptau?: string;
  ceremonyKeys?: Record<string, string>;
  trusted?: readonly string[];
  allowForgeableKeys?: boolean;
  log?: Log;
  /** Task lines for the ceremony key checks, a bar over the modules (default: plain lines to `log`). */
  progress?: Progress;
}): Promise<void> {
  const manifest = o.deal.manifest;
  const progress = Progress.of(o);
  const { file, modules } = await loadDeliveryFile(
    o.workspace.need(o.workspace.delivery, "the contributor's zklora:deliver (it sends delivery.json)"),
    manifest,
  );
  const ceremonies = new Map<string, { zkey: string; delta2: G2Point; forgeable: boolean }>();
  let bar: ReturnType<Progress["bar"]> | undefined;
  try {
    for (const m of manifest.modules) {
      const dkey = await deliveryKeyOf(m, o.ptau, progress.zk());
      const rec = file.modules[m.index];
      if (rec.deliveryShape !== dkey.name)
        throw new DeliveryCheckError(
          `module ${m.index}: delivered with ${rec.deliveryShape}, expected ${dkey.name}`,
          m.index,
        );
      let c = ceremonies.get(dkey.name);
      if (c === undefined) {
        let zkey: string;
        if (rec.ceremony.kind === "dev") {
          zkey = await devDeliveryCeremonyKey(dkey, { onProgress: progress.zk() });
        } else {
          const f = o.ceremonyKeys?.[dkey.name];
          if (f === undefined)
            throw new UsageError(
              `delivery circuit ${dkey.name} uses the ceremony key ${rec.ceremony.file}: pass it with --delivery-keys ${dkey.name}=FILE`,
            );
          zkey = f;
        }
        const check = await progress.run(
          `check the ceremony key of ${dkey.name} (δ update, L and H, contributions)`,
          (t) => checkDeliveryKey(dkey, zkey, { trusted: o.trusted, onProgress: t.zk() }),
        );
        c = { zkey, delta2: check.delta2, forgeable: check.forgeable };
        ceremonies.set(dkey.name, c);
        refuseForgeableKeys({
          chainId: o.chainId,
          network: o.network,
          forgeable: c.forgeable
            ? [`delivery circuit ${dkey.name} (only public beacons in its ceremony)`]
            : [],
          allow: o.allowForgeableKeys === true,
          action: "fund a delivery deal",
        });
      }
      const key = await shapeKeyOf(m.shape, o.ptau, progress.zk());
      bar ??= progress.bar("check the delivery (chunk proofs, links to W_m, hK)", manifest.modules.length);
      await checkModuleDelivery(
        key,
        dkey,
        c.delta2,
        ctxOf(manifest.context, m.index),
        moduleW(m),
        modules[m.index],
        {
          expectedHK: o.keyHashes[m.index],
        },
      );
      bar.tick(m.target);
    }
    bar?.done();
  } catch (err) {
    bar?.fail();
    if (err instanceof UsageError) throw err;
    throw new UsageError(`do not fund deal ${o.deal.dealId}: ${(err as Error).message}`);
  }
}

/**
 * Buyer: a fresh Baby Jubjub key for the deal (secret in buyer-wrap.json, 0600) and its own
 * contribution to the key-wrap circuit's initial key (the deal's wrap key; the secret of the
 * contribution is never stored). Checks the registry's wrap verifier against the key it derives.
 */
export async function makeWrapDealKey(o: {
  workspace: Workspace;
  client: ZkloraClient;
  deal: DealContext;
  ptau?: string;
  log?: Log;
  /** Task lines for the key setup and the contribution (default: plain lines to `log`). */
  progress?: Progress;
}): Promise<{ wrap: WrapFundInput; zkey: string; wrapKey: WrapKey }> {
  const progress = Progress.of(o);
  const wrapKey = await buildWrapKey({ ptau: o.ptau, onProgress: progress.zk() });
  const onchain = await o.client.wrapVerifier();
  if (onchain === null)
    throw new UsageError("the registry has no key-wrap verifier: the registry owner runs zklora:deploy");
  if (onchain.keyHash !== wrapKey.keyHash)
    throw new UsageError(
      `do not fund deal ${o.deal.dealId}: the registered key-wrap verifier has key hash ${onchain.keyHash}, the key derived here ${wrapKey.keyHash} (another ptau or circuit?)`,
    );
  const { sk, pk } = buyerWrapKeypair();
  const rec: BuyerWrapFile = {
    format: DELIVERY_FILE_FORMAT,
    chainId: o.deal.chainId.toString(),
    escrow: getAddress(o.deal.escrow),
    dealId: o.deal.dealId.toString(),
    sk: sk.toString(),
    pk: [pk[0].toString(), pk[1].toString()],
  };
  await writeJsonAtomic(o.workspace.buyerWrap, rec, 0o600);
  await mkdir(o.workspace.buyerKeys, { recursive: true });
  const zkey = path.join(o.workspace.buyerKeys, `wrap-deal${o.deal.dealId}.zkey`);
  await progress.run(`the deal's key-wrap key: a fresh contribution (δ')`, (t) =>
    contributeDelta(wrapKey.zkey, zkey, { onProgress: t.zk() }),
  );
  return {
    wrap: { pk, pkRoot: subgroupCertificate(pk), delta: (await deltaOf(zkey)).delta2 },
    zkey,
    wrapKey,
  };
}

// ---------------------------------------------------------------- contributor: settle with keys

export interface SettleStepOptions {
  workspace: Workspace;
  /** Connected with any signer (the contributor's, usually). */
  client: ZkloraClient;
  /** The buyer's wrap deal key (default: the one it uploaded to zklora:serve). */
  wrapKeyFile?: string;
  ptau?: string;
  log?: Log;
  /** Task lines for the wrap key check and the key-wrap proof (default: plain lines to `log`). */
  progress?: Progress;
}

/**
 * Settles a deal: `settle` for a plain deal; for a delivery deal, checks the buyer's wrap key (δ
 * update against the contributor's own initial key, δ' as on-chain, the public key in the
 * subgroup), wraps every delivery key for the buyer, proves the wrap, verifies it locally and calls
 * `settleWithKeys`.
 */
export async function settleStep(
  o: SettleStepOptions,
): Promise<{ tx: TxResult; delivered: boolean; proofs: number }> {
  const deal = await loadDealContext(o.workspace.need(o.workspace.deal, "zklora:propose"));
  const info = await o.client.getDeal(deal.dealId);
  if (!info.delivery) return { tx: await o.client.settle(deal.dealId), delivered: false, proofs: 0 };
  const secrets = (await readJsonFile(
    o.workspace.need(o.workspace.deliverySecrets, "zklora:deliver"),
  )) as DeliverySecretsFile;
  if (secrets?.format !== DELIVERY_FILE_FORMAT || secrets.modules?.length !== info.modules)
    throw new UsageError(
      `${o.workspace.deliverySecrets} does not hold the keys of the deal's ${info.modules} modules`,
    );
  const wrap = await o.client.getWrapKey(deal.dealId);
  if (wrap === null) throw new UsageError(`deal ${deal.dealId} has no key-wrap key: is it funded?`);
  const keyHashes = await o.client.getKeyHashes(deal.dealId);
  if (keyHashes === null) throw new UsageError(`deal ${deal.dealId} has no delivery-key hashes`);
  const pk = checkBuyerWrapKey(wrap.pk);
  const k = secrets.modules.map((m) => BigInt(m.k));
  const zkey = o.wrapKeyFile ?? path.join(o.workspace.serverKeys, dealKeyFileName(deal, WRAP_CIRCUIT_ID));
  if (!existsSync(zkey))
    throw new UsageError(
      `no key-wrap key for deal ${deal.dealId}: the buyer uploads it to zklora:serve at funding (or pass its file with --wrap-key)`,
    );
  const progress = Progress.of(o);
  const wrapKey = await buildWrapKey({ ptau: o.ptau, onProgress: progress.zk() });
  const onchain = await o.client.wrapVerifier();
  if (onchain?.keyHash !== wrapKey.keyHash)
    throw new UsageError(
      `the registered key-wrap verifier's key hash ${onchain?.keyHash ?? "(none)"} is not the derived ${wrapKey.keyHash}: no wrap is made`,
    );
  await progress.run("check the buyer's key-wrap key (δ update, L and H)", (t) =>
    checkDeltaUpdate(wrapKey.zkey, zkey, {
      expectedDelta2: [...wrap.delta] as G2Point,
      onProgress: t.zk(),
    }),
  );
  const e = randomBabyScalar();
  const E = babyMul(BABY_BASE8, e);
  const proofs = await progress.run(
    `key-wrap proof(s) for ${k.length} delivery key(s) (witness, prove, verify)`,
    (t) =>
      proveKeyWrap(
        wrapKey,
        zkey,
        { pk, e, E, dealId: deal.dealId, modules: k.map((key, m) => ({ m, k: key })) },
        { onProgress: t.zk() },
      ),
  );
  const R = proofs.flatMap((p) => [...p.statement.R]);
  if (proofs.some((p) => p.statement.hK.some((h, i) => h !== keyHashes[p.statement.base + i])))
    throw new UsageError(
      "delivery-secrets.json holds keys whose hashes are not the deal's hK: wrong workspace?",
    );
  const tx = await o.client.settleWithKeys(deal.dealId, {
    wrap,
    keyHashes,
    e: E,
    wrapped: R,
    proofs: proofs.map((p) => toSolidityWrapProof(p.proof)),
  });
  return { tx, delivered: true, proofs: proofs.length };
}

// ---------------------------------------------------------------- buyer: decrypt

/**
 * Buyer, after a delivery deal settled: unwraps the keys from the KeysDelivered event with its
 * secret, decrypts every module, checks the weights reproduce every row it evaluated (Y = X·A·B
 * exactly), and writes the PEFT adapter (`delivered-adapter/`), checked to load back to the same
 * quantized weights.
 */
export async function decryptStep(o: {
  workspace: Workspace;
  client: ZkloraClient;
  out?: string;
  log?: Log;
}): Promise<{
  dir: string;
  modules: number;
  rows: number;
}> {
  const ws = o.workspace;
  const deal = await loadDealContext(ws.need(ws.deal, "zklora:propose"));
  const manifest = deal.manifest;
  const delivered = await o.client.getDeliveredKeys(deal.dealId);
  if (delivered === null)
    throw new UsageError(
      `deal ${deal.dealId} has no delivered keys yet: the contributor settles it with zklora:settle`,
    );
  const keyHashes = (await o.client.getKeyHashes(deal.dealId))!;
  const wrapFile = (await readJsonFile(ws.need(ws.buyerWrap, "zklora:fund"))) as BuyerWrapFile;
  if (wrapFile?.format !== DELIVERY_FILE_FORMAT || wrapFile.dealId !== deal.dealId.toString())
    throw new UsageError(`${ws.buyerWrap} is not the wrap key of deal ${deal.dealId}`);
  const k = unwrapDeliveryKeys({
    sk: BigInt(wrapFile.sk),
    E: delivered.e,
    dealId: deal.dealId,
    modules: delivered.wrapped.map((R, m) => ({ m, R, hK: keyHashes[m] })),
  });
  const { modules } = await loadDeliveryFile(
    ws.need(ws.delivery, "the contributor's zklora:deliver"),
    manifest,
  );
  const calls = existsSync(ws.buyerCalls) ? await readCallLog(ws.buyerCalls) : [];
  const weights: { A: bigint[][]; B: bigint[][] }[] = [];
  let rows = 0;
  for (const m of manifest.modules) {
    const d = modules[m.index];
    const w = decryptModuleWeights(
      d.chunks.map((c) => ({ nonce: c.nonce, ct: c.ct })),
      k[m.index],
      d.plan,
      d.bits,
    );
    const A: bigint[][] = [];
    for (let i = 0; i < m.DIN; i++) A.push(w.slice(i * m.R, (i + 1) * m.R));
    const B: bigint[][] = [];
    const off = m.DIN * m.R;
    for (let r = 0; r < m.R; r++) B.push(w.slice(off + r * m.DOUT, off + (r + 1) * m.DOUT));
    const { X, Y } = rowsOf(calls, deal, m.index);
    if (X.length > 0) {
      const Z = loraProduct(X, A, B);
      const bad = Z.findIndex((row, t) => row.some((v, j) => (v - Y[t][j]) % P !== 0n));
      if (bad >= 0)
        throw new UsageError(
          `module ${m.index} (${m.target}): the delivered weights do not reproduce row ${bad} the server answered: report it (the proofs say they must)`,
        );
      rows += X.length;
    }
    weights.push({ A, B });
  }
  const adapter = deliveredAdapter(manifest, weights);
  const dir = o.out ?? ws.deliveredAdapter;
  await savePeftAdapter(dir, adapter);
  // The written adapter must load back to exactly the delivered quantized weights.
  const loaded = await loadPeftAdapter(dir);
  for (const m of manifest.modules) {
    const lm = loaded.modules.find((x) => x.name === m.target);
    if (lm === undefined) throw new UsageError(`the written adapter lacks module ${m.target}`);
    const q = quantizeLora(lm.loraA, lm.loraB, m.R, m.DIN, m.DOUT, m.scales.fa, m.scales.fb);
    const same = (P1: bigint[][], P2: bigint[][]) =>
      P1.every((row, i) => row.every((v, j) => v === P2[i][j]));
    if (!same(q.A, weights[m.index].A) || !same(q.B, weights[m.index].B))
      throw new UsageError(
        `module ${m.target}: the written adapter does not load back to the delivered weights`,
      );
  }
  o.log?.(`decrypted ${manifest.modules.length} modules; ${rows} evaluated rows reproduced exactly`);
  return { dir, modules: manifest.modules.length, rows };
}

/**
 * De-quantizes delivered weights into a PEFT adapter (`lora_A[k][i] = A[i][k] / 2^fa`,
 * `lora_B[j][k] = B[k][j] / 2^fb`) with the manifest's adapter config; `fan_in_fan_out` for GPT-2
 * targets (Conv1D).
 */
export function deliveredAdapter(
  manifest: CommitManifest,
  weights: readonly { A: bigint[][]; B: bigint[][] }[],
): PeftAdapter {
  const modules = manifest.modules.map((m, i) => {
    const { A, B } = weights[i];
    const sa = 2 ** m.scales.fa;
    const sb = 2 ** m.scales.fb;
    const loraA = new Float32Array(m.R * m.DIN);
    for (let r = 0; r < m.R; r++) for (let c = 0; c < m.DIN; c++) loraA[r * m.DIN + c] = Number(A[c][r]) / sa;
    const loraB = new Float32Array(m.DOUT * m.R);
    for (let j = 0; j < m.DOUT; j++) for (let r = 0; r < m.R; r++) loraB[j * m.R + r] = Number(B[r][j]) / sb;
    return { name: m.target, R: m.R, DIN: m.DIN, DOUT: m.DOUT, loraA, loraB };
  });
  return {
    config: {
      r: manifest.adapter.r,
      lora_alpha: manifest.adapter.lora_alpha,
      target_modules: [...manifest.adapter.target_modules],
      fan_in_fan_out: manifest.modules.some((m) => /^transformer\.h\.\d+\./.test(m.target)),
    },
    scaling: manifest.modules[0]?.scaling ?? manifest.adapter.lora_alpha / manifest.adapter.r,
    modules,
  };
}
