/**
 * The steps of a deal, shared by the Hardhat tasks (one task per step) and the demo (all steps in
 * one process). Each step takes explicit inputs (a workspace, a chain client, a signer, options)
 * and returns what it did, so the caller decides what to print. Files: see ./workspace.ts.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import os from "node:os";
import { ZeroAddress, getAddress, type Signer } from "ethers";
import type {
  ChunkProofInput,
  ZkloraClient,
  EntryInput,
  EntryView,
  ProposeParams,
  TxResult,
} from "../chain/index.js";
import { proposeWithDelivery } from "../chain/delivery.js";
import { deliveryFiles } from "../mpi/delivery.js";
import { loadBaseModel, loadPeftAdapter, type BaseModel } from "../model/index.js";
import {
  ContributorServer,
  RemoteLoraClient,
  commitAdapter,
  evaluate,
  loadBuyerTranscript,
  loadDealContext,
  loadManifest,
  loadSecrets,
  loadServerTranscript,
  saveCommit,
  saveDealContext,
  writeJsonAtomic,
  readJsonFile,
  decimalStrings,
  chunkProofsJson,
  chunkedShapeOf,
  type ChunkProofJson,
  type CommitManifest,
  type DealContext,
  type EvaluationReport,
  type HealthBody,
  type ServerTranscriptEntry,
  type ShapeRef,
} from "../mpi/index.js";
import {
  buildChunkedCircuits,
  buildCircuit,
  checkChunkedModule,
  computeRho,
  proveChunkedModule,
  toSolidityProof,
  verifyModule,
  type ChunkProof,
  type ChunkedArtifacts,
  type ChunkedShape,
  type CircuitArtifacts,
  type Groth16Proof,
} from "../zk/index.js";
import { ProvingPool } from "../zk/pool.js";
import { ChunkedDeliveryError, UsageError } from "./errors.js";
import { ProgressLine } from "./progress.js";
import type { Workspace } from "./workspace.js";

/** Reports progress of a long step (a line of text). */
export type Log = (line: string) => void;

// ---------------------------------------------------------------- commit

export interface CommitStepOptions {
  workspace: Workspace;
  /** Base model folder (config.json + model.safetensors). */
  modelDir: string;
  /** PEFT adapter folder (adapter_config.json + adapter_model.safetensors). */
  adapterDir: string;
  /** Rows per proof (picks the circuit shape with this T when several fit). */
  rows?: number;
  /**
   * Modules to commit to a chunked shape (circuits/chunk-shapes.json): "all", or targets / short
   * module names. Others stay v1 unless no v1 shape fits their dims (then chunked as a fallback).
   */
  chunked?: "all" | readonly string[];
}

/** Contributor: quantize and commit the adapter; writes manifest.json (public) and secrets.json (private). */
export async function commitStep(o: CommitStepOptions): Promise<{ manifest: CommitManifest }> {
  await o.workspace.ensure();
  for (const [dir, what, file] of [
    [o.modelDir, "--model", "config.json"],
    [o.adapterDir, "--adapter", "adapter_config.json"],
  ] as const) {
    if (!existsSync(`${dir}/${file}`)) throw new UsageError(`${what} ${dir} has no ${file}`);
  }
  const model = await loadBaseModel(o.modelDir);
  try {
    const adapter = await loadPeftAdapter(o.adapterDir);
    const commit = await commitAdapter({ model, adapter, rows: o.rows, chunked: o.chunked });
    await saveCommit({ manifest: o.workspace.manifest, secrets: o.workspace.secrets }, commit);
    return { manifest: commit.manifest };
  } finally {
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
  /** Propose a deal that delivers the weights (proposeWithDelivery; then zklora:deliver before funding). */
  delivery?: boolean;
}

/** Contributor: propose the deal on-chain from manifest.json; writes deal.json. */
export async function proposeStep(
  o: ProposeStepOptions,
): Promise<{ dealId: bigint; tx: TxResult; deal: DealContext }> {
  const manifest = await loadManifest(o.workspace.need(o.workspace.manifest, "zklora:commit"));
  if (o.delivery === true) {
    const m = manifest.modules.find((x) => x.chunked !== undefined);
    if (m !== undefined) throw new ChunkedDeliveryError(m.index, m.target, m.shape.name);
  }
  for (const m of manifest.modules) {
    if ((await o.client.verifierOf(m.shapeId)) === null) {
      throw new UsageError(
        `module ${m.index} (${m.target}) uses ${m.chunked === undefined ? "shape" : "chunked shape"} ${m.shape.name} (${m.shapeId}), which has no verifier in the registry at ${o.client.addresses.registry}: ` +
          (m.chunked === undefined
            ? `generate it (npm run circuits -- --shape ${m.shape.name}) and deploy (zklora:deploy)`
            : `generate it (npm run circuits:chunk; add it to circuits/chunk-shapes.json first) and deploy (zklora:deploy)`),
      );
    }
  }
  const signer = o.client.runner as Signer;
  const contributor = getAddress(await signer.getAddress());
  const propose =
    o.delivery === true
      ? (p: ProposeParams) => proposeWithDelivery(o.client, p)
      : (p: ProposeParams) => o.client.propose(p);
  const { dealId, tx } = await propose({
    price: o.price,
    token: o.token,
    buyer: o.buyer,
    baseModelHash: `0x${manifest.baseModel.sha256}`,
    modules: manifest.modules.map((m) => ({
      target: m.target,
      shapeId: m.shapeId,
      commitment: BigInt(m.C_m),
    })),
    provingWindow: o.provingWindow,
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
  return { dealId, tx, deal };
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
  rowBudget?: number;
  /** Background proofs at a time (0: no background proving). */
  provingConcurrency?: number;
  log?: Log;
}

/** Contributor: start the MPI server for the workspace's deal; returns the running server. */
export async function startServe(
  o: ServeStepOptions,
): Promise<{ server: ContributorServer; url: string; deal: DealContext }> {
  const deal = await loadDealContext(o.workspace.need(o.workspace.deal, "zklora:propose"));
  const secrets = await loadSecrets(o.workspace.need(o.workspace.secrets, "zklora:commit"), deal.manifest);
  const buyer = o.buyer !== undefined && o.buyer !== "" ? getAddress(o.buyer) : deal.buyer;
  const client = o.client;
  const server = new ContributorServer({
    signer: o.signer,
    host: o.host ?? "127.0.0.1",
    port: o.port ?? 0,
    rowBudget: o.rowBudget,
    transcriptFile: o.workspace.serverTranscript,
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
    proving:
      o.provingConcurrency === 0
        ? { enabled: false }
        : { concurrency: o.provingConcurrency ?? 1, proofDir: o.workspace.serverProofs },
    log: o.log,
    // Published weight deliveries (zklora:deliver), served at GET /v1/deals/:id/ciphertexts/:m.
    getDelivery: async (_dealId, m) => {
      const file = deliveryFiles(o.workspace.dir).module(m);
      return existsSync(file) ? readJsonFile(file) : undefined;
    },
  });
  await server.addDeal({ ...deal, buyer: buyer === ZeroAddress ? undefined : buyer }, secrets);
  const { url } = await server.listen();
  return { server, url, deal };
}

/** The server's proof counters (GET /v1/health). */
export async function proofCounts(
  url: string,
): Promise<{ queued: number; running: number; done: number; failed: number }> {
  const res = await fetch(`${url.replace(/\/+$/, "")}/v1/health`, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as HealthBody;
  return body.proofs;
}

/** Waits until the server's background proofs are finished, with a live progress line. */
export async function waitForBackgroundProofs(
  url: string,
  opts: { pollMs?: number; progress?: boolean } = {},
): Promise<{ done: number; failed: number }> {
  let c = await proofCounts(url);
  const total = c.queued + c.running + c.done + c.failed;
  const bar = new ProgressLine("background proofs", total, { enabled: opts.progress !== false });
  let seen = c.done + c.failed;
  bar.tick("", seen);
  while (c.queued + c.running > 0) {
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 1000));
    c = await proofCounts(url);
    if (c.done + c.failed > seen) {
      bar.tick(c.failed > 0 ? `${c.failed} failed` : "", c.done + c.failed - seen);
      seen = c.done + c.failed;
    }
  }
  bar.finish();
  return { done: c.done, failed: c.failed };
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

/** Buyer: run the base model with the remote modules; writes buyer-transcript.json and evaluation.json. */
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
    const res = await fetch(`${o.url.replace(/\/+$/, "")}/v1/deals/${deal.dealId}`, {
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
    transcriptFile: o.workspace.buyerTranscript,
  });
  const report = await evaluate(o.model, o.tokens, client);
  await client.flush();
  await writeJsonAtomic(o.workspace.evaluation, {
    dealId: deal.dealId.toString(),
    tokenIds: o.tokens,
    ...report,
  });
  return { report, calls: report.calls };
}

// ---------------------------------------------------------------- fund

export interface FundStepOptions {
  workspace: Workspace;
  /** Connected with the buyer's signer. */
  client: ZkloraClient;
  /** "all": every call of the transcript; "first": the first call per module. */
  select?: "all" | "first";
}

/** Buyer: deposit the price and register the transcript entries to prove. */
export async function fundStep(
  o: FundStepOptions,
): Promise<{ tx: TxResult; approveTx?: TxResult; entries: EntryInput[] }> {
  const { deal, entries } = await loadBuyerTranscript(
    o.workspace.need(o.workspace.buyerTranscript, "zklora:infer"),
  );
  // The manifest the buyer used (each module's variant decides its hX) must be the deal's on chain.
  const onChain = await o.client.getModules(deal.dealId);
  const mods = deal.manifest.modules;
  const differs = (i: number): string | undefined => {
    const c = onChain[i];
    const m = mods[i];
    if (c === undefined || m === undefined)
      return `${onChain.length} modules on chain, ${mods.length} in the manifest`;
    if (c.shapeId.toLowerCase() !== m.shapeId.toLowerCase())
      return `module ${i} (${m.target}): shape id ${m.shapeId} (${m.chunked === undefined ? "v1" : "chunked"} ${m.shape.name}) in the manifest, ${c.shapeId} on chain`;
    if (c.commitment !== BigInt(m.C_m))
      return `module ${i} (${m.target}): C_m ${m.C_m} in the manifest, ${c.commitment} on chain`;
    return undefined;
  };
  for (let i = 0; i < Math.max(onChain.length, mods.length); i++) {
    const why = differs(i);
    if (why !== undefined) {
      throw new UsageError(
        `the manifest of buyer-transcript.json is not deal ${deal.dealId}'s on chain (${why}): do not fund; get the deal's deal.json and run zklora:infer again`,
      );
    }
  }
  const picked =
    o.select === "first"
      ? deal.manifest.modules.flatMap((m) => entries.filter((e) => e.module === m.index).slice(0, 1))
      : entries;
  for (const m of deal.manifest.modules) {
    if (!picked.some((e) => e.module === m.index)) {
      throw new UsageError(
        `the transcript has no call of module ${m.index} (${m.target}); every module needs an entry: run zklora:infer first`,
      );
    }
  }
  return o.client.fund(
    deal.dealId,
    picked.map((e) => ({ module: e.module, hX: BigInt(e.hX), hY: e.hY, fY: BigInt(e.fY) })),
  );
}

// ---------------------------------------------------------------- prove

/**
 * A proof file `proofs/entry-<i>.json`. A v1 module's entry has `proof` and `solidity`; a chunked
 * module's entry (`variant: "chunked"`) has `proof: null` and its chain of chunk proofs in `chunks`
 * (A chunks, then B chunks), submitted with `submitChunked`.
 */
export interface EntryProofFile {
  dealId: string;
  entryIndex: number;
  module: number;
  shape: string;
  /** Present (`"chunked"`) iff the module is chunked. */
  variant?: "chunked";
  /** [C_m, hX, rho, fY] (decimal). */
  publicSignals: string[];
  /** The Groth16 proof (v1); null for a chunked module. */
  proof: Groth16Proof | null;
  /** Solidity verifier arguments (decimal; v1). */
  solidity?: { a: string[]; b: string[][]; c: string[] };
  /** A chunked module's chain of chunk proofs (decimal, Solidity-ordered points included). */
  chunks?: ChunkProofJson[];
  /** Seconds spent proving (0 when reused from the server's background proof). */
  proveSeconds: number;
  /** Seconds of the off-chain verification. */
  verifySeconds: number;
  /** Where the proof came from. */
  source: "background" | "prove";
}

export interface ProveStepOptions {
  workspace: Workspace;
  /** Any connected client (reads the registered entries). */
  client: ZkloraClient;
  /** Proofs at a time: prover processes of the proving pool (default: one per core; the pool also bounds by memory). */
  jobs?: number;
  /** Prove in this pool (left open) instead of a pool made and closed by the step (`jobs` is then ignored). */
  pool?: ProvingPool;
  /** Re-prove even when a background proof exists. */
  fresh?: boolean;
  progress?: boolean;
}

export interface ProveResult {
  dealId: bigint;
  proofs: EntryProofFile[];
  /** Entries already proven on-chain (skipped). */
  skipped: number[];
}

/** Finds the server's answered call behind a registered entry. */
function callOf(
  calls: readonly ServerTranscriptEntry[],
  deal: DealContext,
  e: EntryView,
): ServerTranscriptEntry {
  const hit = calls.find(
    (c) =>
      c.dealId === deal.dealId.toString() &&
      c.chainId === deal.chainId.toString() &&
      getAddress(c.escrow) === getAddress(deal.escrow) &&
      c.module === e.module &&
      c.hX === e.hX.toString() &&
      c.hY.toLowerCase() === e.hY.toLowerCase() &&
      c.fY === e.fY.toString(),
  );
  if (hit === undefined) {
    throw new UsageError(
      `entry ${e.index} (module ${e.module}, hX ${e.hX}) is not in server-transcript.json: the buyer registered an output this server did not produce, so it cannot be proven`,
    );
  }
  return hit;
}

/**
 * Contributor: a proof per registered, unproven entry (from the server transcript); writes
 * proofs/entry-<i>.json. Every entry is submitted at once to a proving pool (src/zk/pool.ts: prover
 * processes, FIFO, bounded by `jobs`, cores and memory); when one fails, the others still finish
 * (and are written) before the first failure is thrown.
 */
export async function proveStep(o: ProveStepOptions): Promise<ProveResult> {
  const ws = o.workspace;
  const deal = await loadDealContext(ws.need(ws.deal, "zklora:propose"));
  const secrets = await loadSecrets(ws.need(ws.secrets, "zklora:commit"), deal.manifest);
  const transcript = await loadServerTranscript(ws.need(ws.serverTranscript, "zklora:serve"));
  const onChain = await o.client.getDeal(deal.dealId);
  if (onChain.status !== "Funded" && onChain.status !== "Settled") {
    throw new UsageError(
      `deal ${deal.dealId} is ${onChain.status}: proofs are made for a funded deal's registered entries`,
    );
  }
  const entries = await o.client.getEntries(deal.dealId);
  const todo = entries.filter((e) => !e.proven);
  const skipped = entries.filter((e) => e.proven).map((e) => e.index);
  const arts = new Map<string, Promise<CircuitArtifacts>>();
  const artOf = (shape: ShapeRef) => {
    let a = arts.get(shape.name);
    if (a === undefined) arts.set(shape.name, (a = buildCircuit(shape)));
    return a;
  };
  await mkdir(ws.proofs, { recursive: true });
  const bar = new ProgressLine(`proving deal ${deal.dealId}`, todo.length, { enabled: o.progress !== false });
  const provers = o.pool ?? new ProvingPool({ maxWorkers: Math.max(1, o.jobs ?? os.availableParallelism()) });
  const chunkedArts = new Map<string, Promise<ChunkedArtifacts>>();
  const chunkedArtOf = (shape: ChunkedShape) => {
    let a = chunkedArts.get(shape.name);
    if (a === undefined) chunkedArts.set(shape.name, (a = buildChunkedCircuits(shape)));
    return a;
  };
  const proveEntry = async (e: EntryView): Promise<EntryProofFile> => {
    const call = callOf(transcript.entries, deal, e);
    const mod = deal.manifest.modules[e.module];
    const rho = computeRho({
      chainId: deal.chainId,
      escrow: deal.escrow,
      dealId: deal.dealId,
      module: BigInt(e.module),
      hX: e.hX,
      hY: e.hY,
    });
    const signals = [BigInt(mod.C_m), e.hX, rho, e.fY];
    const chunked = chunkedShapeOf(mod);
    if (chunked !== undefined) return proveChunkedEntry(e, mod.shape.name, chunked, call, signals);
    const art = await artOf(mod.shape);
    let proof: Groth16Proof | undefined;
    let source: EntryProofFile["source"] = "prove";
    let proveSeconds = 0;
    const bg = `${ws.serverProofs}/${deal.dealId}-${e.module}-${e.hX}.json`;
    if (o.fresh !== true && existsSync(bg)) {
      const rec = (await readJsonFile(bg)) as {
        proof?: Groth16Proof;
        publicSignals?: string[];
        seconds?: number;
      };
      if (rec.proof != null && rec.publicSignals?.every((s, i) => BigInt(s) === signals[i]) === true) {
        proof = rec.proof;
        source = "background";
        proveSeconds = rec.seconds ?? 0;
      }
    }
    if (proof === undefined) {
      const s = secrets.modules[e.module];
      const out = await provers.prove(
        art,
        { A: s.A, B: s.B, salt: s.salt, X: call.X.map((r) => r.map((v) => BigInt(v))), rho },
        { expected: [signals[0], signals[1], signals[2], signals[3]] },
      );
      proveSeconds = (out.witnessMs + out.proveMs) / 1000;
      proof = out.proof;
    }
    const t1 = performance.now();
    const ok = await verifyModule(art.vkey, proof, signals);
    const verifySeconds = (performance.now() - t1) / 1000;
    if (!ok) {
      throw new UsageError(
        `the ${source} proof of entry ${e.index} does not verify off-chain; rerun zklora:prove with --fresh`,
      );
    }
    const file: EntryProofFile = {
      dealId: deal.dealId.toString(),
      entryIndex: e.index,
      module: e.module,
      shape: mod.shape.name,
      publicSignals: signals.map(String),
      proof,
      solidity: decimalStrings(toSolidityProof(proof)) as EntryProofFile["solidity"],
      proveSeconds,
      verifySeconds,
      source,
    };
    await writeJsonAtomic(ws.proofFile(e.index), file);
    bar.tick(`entry ${e.index} (${source}, ${proveSeconds.toFixed(1)} s)`);
    return file;
  };
  /** A chunked module's entry: its chain (the server's background chain when it checks, else proven in the pool). */
  const proveChunkedEntry = async (
    e: EntryView,
    shapeName: string,
    shape: ChunkedShape,
    call: ServerTranscriptEntry,
    signals: bigint[],
  ): Promise<EntryProofFile> => {
    const art = await chunkedArtOf(shape);
    const [C_m, hX, rho, fY] = signals;
    let chain: ChunkProof[] | undefined;
    let source: EntryProofFile["source"] = "prove";
    let proveSeconds = 0;
    const bg = `${ws.serverProofs}/${deal.dealId}-${e.module}-${e.hX}.json`;
    if (o.fresh !== true && existsSync(bg)) {
      const rec = (await readJsonFile(bg)) as { chunks?: ChunkProofJson[]; seconds?: number };
      try {
        const got = rec.chunks?.map((c) => ({
          kind: c.kind,
          index: c.index,
          proof: c.proof as Groth16Proof,
          publicSignals: c.publicSignals.map((v) => BigInt(v)),
        }));
        if (got !== undefined && (await checkChunkedModule(art, { C_m, hX, rho, fY }, got)).ok) {
          chain = got;
          source = "background";
          proveSeconds = rec.seconds ?? 0;
        }
      } catch {
        chain = undefined; // a malformed background file: prove again
      }
    }
    if (chain === undefined) {
      const s = secrets.modules[e.module];
      if (s.chunkSalts === undefined)
        throw new UsageError(
          `secrets.json has no chunk salts for chunked module ${e.module}: rerun zklora:commit`,
        );
      const t0 = performance.now();
      const out = await proveChunkedModule(
        art,
        { A: s.A, B: s.B, X: call.X.map((r) => r.map((v) => BigInt(v))), salts: s.chunkSalts, rho },
        { pool: provers },
      );
      proveSeconds = (performance.now() - t0) / 1000;
      if (out.C_m !== C_m || out.hX !== hX || out.fY !== fY) {
        throw new UsageError(
          `the chain of entry ${e.index} does not give the registered [C_m, hX, fY]: secrets.json or server-transcript.json is not this deal's`,
        );
      }
      chain = out.proofs;
    }
    const t1 = performance.now();
    const check = await checkChunkedModule(art, { C_m, hX, rho, fY }, chain);
    const verifySeconds = (performance.now() - t1) / 1000;
    if (!check.ok) {
      throw new UsageError(
        `the ${source} chain of entry ${e.index} does not verify off-chain (${check.reason}); rerun zklora:prove with --fresh`,
      );
    }
    const file: EntryProofFile = {
      dealId: deal.dealId.toString(),
      entryIndex: e.index,
      module: e.module,
      shape: shapeName,
      variant: "chunked",
      publicSignals: signals.map(String),
      proof: null,
      chunks: chunkProofsJson(chain),
      proveSeconds,
      verifySeconds,
      source,
    };
    await writeJsonAtomic(ws.proofFile(e.index), file);
    bar.tick(
      `entry ${e.index} (chunked, ${chain.length} chunk proofs, ${source}, ${proveSeconds.toFixed(1)} s)`,
    );
    return file;
  };
  let settled: PromiseSettledResult<EntryProofFile>[];
  try {
    settled = await Promise.allSettled(todo.map(proveEntry));
  } finally {
    if (o.pool === undefined) await provers.close();
  }
  const failed = settled.find((r) => r.status === "rejected");
  if (failed !== undefined) throw failed.reason;
  bar.finish();
  const proofs = settled.map((r) => (r as PromiseFulfilledResult<EntryProofFile>).value);
  return { dealId: deal.dealId, proofs, skipped };
}

// ---------------------------------------------------------------- submit

export interface SubmitStepOptions {
  workspace: Workspace;
  client: ZkloraClient;
  /** Proofs per transaction (default 16). */
  batch?: number;
}

/** How an entry's proof went on-chain. */
export type SubmitMethod = "submit" | "submitBatch" | "submitMany" | "submitChunked";

/**
 * Anyone (usually the contributor): submit the proofs of the unproven entries, `batch` per
 * transaction. A transaction of several proofs uses `submitBatch` (one random-linear-combination
 * pairing check per shape: ~97k gas per proof at 8, ~84k at 16) when every module involved has a
 * batch verifier, else `submitMany`; a single proof uses `submit` (cheapest for one). An entry of a
 * chunked module goes alone with `submitChunked` (its whole chain of chunk proofs in one transaction).
 */
export async function submitStep(o: SubmitStepOptions): Promise<{
  dealId: bigint;
  txs: (TxResult & { entries: number[]; method: SubmitMethod })[];
  submitted: number;
  alreadyProven: number;
}> {
  const ws = o.workspace;
  const deal = await loadDealContext(ws.need(ws.deal, "zklora:propose"));
  const entries = await o.client.getEntries(deal.dealId);
  if (entries.length === 0)
    throw new UsageError(`deal ${deal.dealId} has no registered entries: the buyer funds it first`);
  const have = new Set(await ws.proofEntries());
  const todo = entries.filter((e) => !e.proven);
  const missing = todo.filter((e) => !have.has(e.index)).map((e) => e.index);
  if (missing.length > 0) {
    throw new UsageError(`no proof file for entries ${missing.join(", ")}: run zklora:prove first`);
  }
  const proofs = [];
  const chains: { entryIndex: number; chunks: ChunkProofInput[] }[] = [];
  for (const e of todo) {
    const file = ws.proofFile(e.index);
    const f = (await readJsonFile(file)) as EntryProofFile;
    if (f.dealId !== deal.dealId.toString() || f.entryIndex !== e.index) {
      throw new UsageError(`${file} is for deal ${f.dealId} entry ${f.entryIndex}: rerun zklora:prove`);
    }
    const chunked = deal.manifest.modules[e.module]?.chunked !== undefined;
    if (chunked) {
      if (f.variant !== "chunked" || !Array.isArray(f.chunks)) {
        throw new UsageError(
          `${file} holds no chain of chunk proofs, but module ${e.module} is chunked: rerun zklora:prove`,
        );
      }
      chains.push({
        entryIndex: e.index,
        chunks: f.chunks.map((c) => ({
          kind: c.kind,
          index: c.index,
          proof: solidityArgs(c.solidity),
          publicSignals: c.publicSignals,
        })),
      });
      continue;
    }
    if (f.solidity === undefined) {
      throw new UsageError(
        `${file} holds no Groth16 proof, but module ${e.module} is v1: rerun zklora:prove`,
      );
    }
    proofs.push({ entryIndex: e.index, ...solidityArgs(f.solidity) });
  }
  const size = Math.max(1, o.batch ?? 16);
  const batchVerifiers = proofs.length > 1 ? await o.client.batchVerifiersOf(deal.dealId) : [];
  const moduleOf = new Map(entries.map((e) => [e.index, e.module]));
  const txs: (TxResult & { entries: number[]; method: SubmitMethod })[] = [];
  for (let i = 0; i < proofs.length; i += size) {
    const chunk = proofs.slice(i, i + size);
    const batchable = chunk.every((p) => batchVerifiers[moduleOf.get(p.entryIndex) ?? -1] != null);
    const method = chunk.length === 1 ? "submit" : batchable ? "submitBatch" : "submitMany";
    const tx =
      method === "submit"
        ? await o.client.submit(deal.dealId, chunk[0])
        : method === "submitBatch"
          ? await o.client.submitBatch(deal.dealId, chunk)
          : await o.client.submitMany(deal.dealId, chunk);
    txs.push({ ...tx, entries: chunk.map((p) => p.entryIndex), method });
  }
  for (const c of chains) {
    const tx = await o.client.submitChunked(deal.dealId, c.entryIndex, c.chunks);
    txs.push({ ...tx, entries: [c.entryIndex], method: "submitChunked" });
  }
  return {
    dealId: deal.dealId,
    txs,
    submitted: proofs.length + chains.length,
    alreadyProven: entries.length - todo.length,
  };
}

/** A proof file's decimal Solidity arguments as the chain client takes them. */
function solidityArgs(s: { a: string[]; b: string[][]; c: string[] }) {
  return {
    a: [s.a[0], s.a[1]] as const,
    b: [
      [s.b[0][0], s.b[0][1]],
      [s.b[1][0], s.b[1][1]],
    ] as const,
    c: [s.c[0], s.c[1]] as const,
  };
}

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
