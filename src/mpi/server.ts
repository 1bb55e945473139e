/**
 * The contributor's HTTP server (node:http): answers the buyer's per-module inference calls with
 * Y = X·A·B, hY, fY and an EIP-712 signature, enforces a per-deal per-module row budget, records
 * every answered call in a transcript and proves each call in the background.
 *
 * Routes (errors are JSON `{ error: code, reason }`):
 *   GET  /v1/health
 *   GET  /v1/deals/:dealId
 *   POST /v1/deals/:dealId/modules/:m/infer      {X, rows, hX, nonce, signature}
 *   GET  /v1/deals/:dealId/proofs/:m/:hX         200 ready | 202 pending | 404 unknown | 500 failed
 *   GET  /v1/deals/:dealId/ciphertexts/:m        200 the module's public delivery | 404 no_ciphertext
 *
 * Every check happens before any output is computed, in this order: route (404), body size
 * (413), JSON (400), shape and values (400), signature form (401), signer is the deal's buyer
 * (403), nonce unused (409), row budget (429), hX == activationHash(X) (400). The server never
 * crashes on a request: anything unexpected is a 500 with a reason, and it keeps serving.
 */
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { existsSync } from "node:fs";
import { getAddress } from "ethers";
import type { TypedDataDomain } from "ethers";
import {
  chunkedCommitment,
  computeRho,
  fingerprint,
  loraProduct,
  outputDigest,
  weightCommitment,
} from "../zk/index.js";
import { HttpRequestError, MpiError } from "./errors.js";
import { ActivationHashCache } from "./hashcache.js";
import { eip712Domain, recoverInferenceRequest, signInferenceResponse } from "./eip712.js";
import type { TypedDataSigner } from "./eip712.js";
import { ProofQueue, proofKey, proveJob } from "./prover.js";
import type { ProofJob, ProofRecord } from "./prover.js";
import { JsonFileWriter, loadServerTranscript } from "./transcript.js";
import type { ServerTranscript, ServerTranscriptEntry } from "./transcript.js";
import type { CommitSecrets, DealContext, ManifestModule } from "./types.js";
import { chunkedShapeOf } from "./types.js";
import { MAX_ABS_X, parseInferRequest, parseUint } from "./wire.js";
import type { DealStatusBody, HealthBody, InferResponseBody, ProofResponseBody } from "./wire.js";
import { P } from "../zk/index.js";

/** A deal the server hosts; `buyer` may be left out when `getDealBuyer` reads it from the chain. */
export type HostedDeal = Omit<DealContext, "buyer"> & { buyer?: string };

export interface ContributorServerOptions {
  /** Signs InferenceResponses; its address must be each deal's contributor. */
  signer: TypedDataSigner;
  /** Interface to bind; default 127.0.0.1 (loopback only). */
  host?: string;
  /** Port; default 0 (an ephemeral port, see `address()`). */
  port?: number;
  /** Reads a deal's buyer (e.g. from the escrow contract) when the deal has none; the result is cached. */
  getDealBuyer?: (dealId: bigint) => Promise<string>;
  /** Rows a buyer may send per deal and module; default floor(DIN / 4). */
  rowBudget?: number | ((module: ManifestModule) => number);
  /** Maximum request body in bytes; default 64 KiB + 48 bytes per X entry of the largest shape. */
  maxBodyBytes?: number;
  /** Bound on |X| entries; default 2^40. */
  maxAbsX?: bigint;
  /** Server transcript (JSON). When the file exists, used nonces and row budgets are restored from it. */
  transcriptFile?: string;
  /** Background proving; default enabled with concurrency 1. */
  proving?: {
    enabled?: boolean;
    concurrency?: number;
    /** Also write each finished proof as JSON into this folder. */
    proofDir?: string;
    /** Replaces the prover (default: buildCircuit + proveModule). */
    prove?: (job: ProofJob) => Promise<ProofRecord>;
  };
  /** Where to report unexpected internal errors; default console.error. */
  log?: (message: string) => void;
  /**
   * The PUBLIC delivery (ciphertext, hK, hC, proof; src/mpi/delivery.ts JSON form) of a deal's
   * module, served at `GET /v1/deals/:dealId/ciphertexts/:m`; undefined when not prepared yet.
   */
  getDelivery?: (dealId: bigint, module: number) => Promise<unknown>;
}

interface DealState {
  deal: HostedDeal;
  secrets: CommitSecrets;
  domain: TypedDataDomain;
  buyer: string | undefined;
  rowsUsed: number[];
  nonces: Set<string>;
  /** In-flight nonces (reserved until answered or failed). */
  pendingNonces: Set<string>;
}

/** The default row budget: floor(DIN / 4) rows per deal and module. */
export function defaultRowBudget(m: ManifestModule): number {
  return Math.floor(m.DIN / 4);
}

/** decodeURIComponent that maps malformed escapes to a string no route accepts. */
function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return "%";
  }
}

const INFER = /^\/v1\/deals\/([^/]+)\/modules\/([^/]+)\/infer$/;
const PROOF = /^\/v1\/deals\/([^/]+)\/proofs\/([^/]+)\/([^/]+)$/;
const DEAL = /^\/v1\/deals\/([^/]+)$/;
const CIPHERTEXT = /^\/v1\/deals\/([^/]+)\/ciphertexts\/([^/]+)$/;

export class ContributorServer {
  private readonly deals = new Map<string, DealState>();
  private readonly http: Server;
  private readonly proofs: ProofQueue | null;
  private readonly transcript: ServerTranscript;
  private readonly writer: JsonFileWriter | null;
  private contributor = "";
  private readonly hashes = new ActivationHashCache();
  private started = false;

  constructor(private readonly opts: ContributorServerOptions) {
    const proving = opts.proving ?? {};
    this.proofs =
      proving.enabled === false
        ? null
        : new ProofQueue(proving.concurrency ?? 1, proving.prove ?? proveJob, proving.proofDir);
    this.transcript = { version: 1, contributor: "", entries: [] };
    this.writer =
      opts.transcriptFile === undefined
        ? null
        : new JsonFileWriter(opts.transcriptFile, () => this.transcript);
    this.http = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => this.internal(res, err));
    });
    this.http.on("clientError", (_err, socket) => {
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
      else socket.destroy();
    });
  }

  /**
   * Hosts a deal: checks that the secrets open every C_m of its manifest and that this server's
   * signer is the deal's contributor.
   */
  async addDeal(deal: HostedDeal, secrets: CommitSecrets): Promise<void> {
    const me = getAddress(await this.opts.signer.getAddress());
    if (getAddress(deal.contributor) !== me) {
      throw new MpiError(
        "not_contributor",
        `deal ${deal.dealId}: contributor is ${deal.contributor}, this server signs as ${me}`,
      );
    }
    const mods = deal.manifest.modules;
    if (secrets.modules.length !== mods.length) {
      throw new MpiError(
        "secrets_mismatch",
        `deal ${deal.dealId}: ${secrets.modules.length} secret modules for ${mods.length} manifest modules`,
      );
    }
    for (const [i, m] of mods.entries()) {
      const s = secrets.modules[i];
      const cs = chunkedShapeOf(m);
      if (cs !== undefined && s.chunkSalts === undefined) {
        throw new MpiError(
          "secrets_mismatch",
          `deal ${deal.dealId}: module ${i} (${m.target}) is chunked (${m.shape.name}) but its secrets have no chunk salts`,
        );
      }
      const c =
        cs === undefined
          ? await weightCommitment(s.A, s.B, s.salt)
          : (await chunkedCommitment(s.A, s.B, s.chunkSalts!, cs)).C_m;
      if (c.toString() !== m.C_m) {
        throw new MpiError(
          "secrets_mismatch",
          `deal ${deal.dealId}: secrets of module ${i} (${m.target}) do not open C_m ${m.C_m}`,
        );
      }
    }
    const key = deal.dealId.toString();
    const prev = this.deals.get(key);
    if (
      prev !== undefined &&
      (prev.deal.chainId !== deal.chainId || getAddress(prev.deal.escrow) !== getAddress(deal.escrow))
    ) {
      throw new MpiError("deal_exists", `deal ${deal.dealId} is already hosted for another chain or escrow`);
    }
    const state: DealState = {
      deal,
      secrets,
      domain: eip712Domain(deal.chainId, deal.escrow),
      buyer: deal.buyer === undefined ? undefined : getAddress(deal.buyer),
      rowsUsed: prev?.rowsUsed ?? mods.map(() => 0),
      nonces: prev?.nonces ?? new Set(),
      pendingNonces: prev?.pendingNonces ?? new Set(),
    };
    this.deals.set(key, state);
    // a replaced deal keeps its live counters; a new one starts from the transcript
    if (this.started && prev === undefined) this.restoreDeal(state);
  }

  /** Starts listening; resolves with the bound address (`http://host:port`). */
  async listen(): Promise<{ host: string; port: number; url: string }> {
    this.contributor = getAddress(await this.opts.signer.getAddress());
    this.transcript.contributor = this.contributor;
    if (this.opts.transcriptFile !== undefined && existsSync(this.opts.transcriptFile)) {
      const old = await loadServerTranscript(this.opts.transcriptFile);
      this.transcript.entries.push(...old.entries);
    }
    this.started = true;
    for (const d of this.deals.values()) this.restoreDeal(d);
    await new Promise<void>((resolve, reject) => {
      this.http.once("error", reject);
      this.http.listen(this.opts.port ?? 0, this.opts.host ?? "127.0.0.1", () => {
        this.http.off("error", reject);
        resolve();
      });
    });
    return this.address();
  }

  /** The bound address. */
  address(): { host: string; port: number; url: string } {
    const a = this.http.address() as AddressInfo | null;
    if (a === null) throw new MpiError("not_listening", "the server is not listening: call listen() first");
    const host = a.family === "IPv6" ? `[${a.address}]` : a.address;
    return { host: a.address, port: a.port, url: `http://${host}:${a.port}` };
  }

  /** Stops accepting connections, drops queued proofs, waits for running ones and the transcript. */
  async close(): Promise<void> {
    this.proofs?.clearQueued();
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      this.http.closeIdleConnections();
    });
    await this.proofs?.idle();
    await this.writer?.flush();
  }

  /** Resolves when every queued proof is finished. */
  async proofsIdle(): Promise<void> {
    await this.proofs?.idle();
  }

  /** Answered calls so far (the in-memory transcript). */
  entries(): readonly ServerTranscriptEntry[] {
    return this.transcript.entries;
  }

  /** Rows used so far by a deal's module. */
  rowsUsed(dealId: bigint, module: number): number {
    return this.deals.get(dealId.toString())?.rowsUsed[module] ?? 0;
  }

  private log(message: string): void {
    (this.opts.log ?? ((s: string) => console.error(s)))(`zklora mpi server: ${message}`);
  }

  private budget(m: ManifestModule): number {
    const b = this.opts.rowBudget;
    if (b === undefined) return defaultRowBudget(m);
    return typeof b === "number" ? b : b(m);
  }

  private maxBody(): number {
    if (this.opts.maxBodyBytes !== undefined) return this.opts.maxBodyBytes;
    let most = 0;
    for (const d of this.deals.values())
      for (const m of d.deal.manifest.modules) most = Math.max(most, m.shape.T * m.DIN);
    return 64 * 1024 + 48 * most;
  }

  /** Whether a transcript entry belongs to a hosted deal (same id, chain and escrow). */
  private ofDeal(e: ServerTranscriptEntry, d: DealState): boolean {
    return (
      e.dealId === d.deal.dealId.toString() &&
      e.chainId === d.deal.chainId.toString() &&
      getAddress(e.escrow) === getAddress(d.deal.escrow)
    );
  }

  /** Recomputes a deal's used rows and nonces from the transcript (at start, or for a new deal). */
  private restoreDeal(d: DealState): void {
    d.rowsUsed = d.deal.manifest.modules.map(() => 0);
    d.nonces = new Set();
    for (const e of this.transcript.entries) {
      if (!this.ofDeal(e, d)) continue;
      if (e.module >= 0 && e.module < d.rowsUsed.length) d.rowsUsed[e.module] += e.rows;
      d.nonces.add(e.nonce);
    }
  }

  // ------------------------------------------------------------------ HTTP plumbing

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      const p = url.pathname;
      let m: RegExpExecArray | null;
      if (p === "/v1/health") {
        this.allow(req, "GET");
        return this.send(res, 200, this.health());
      }
      if ((m = INFER.exec(p)) !== null) {
        this.allow(req, "POST");
        return this.send(res, 200, await this.infer(req, m[1], m[2]));
      }
      if ((m = PROOF.exec(p)) !== null) {
        this.allow(req, "GET");
        const [status, body] = this.proof(m[1], m[2], m[3]);
        return this.send(res, status, body);
      }
      if ((m = CIPHERTEXT.exec(p)) !== null) {
        this.allow(req, "GET");
        const d = this.findDeal(m[1]);
        const mod = this.findModule(d, m[2]);
        const body =
          this.opts.getDelivery === undefined
            ? undefined
            : await this.opts.getDelivery(d.deal.dealId, mod.index);
        if (body === undefined) {
          throw new HttpRequestError(
            404,
            "no_ciphertext",
            `deal ${d.deal.dealId} module ${mod.index} has no published ciphertext (zklora:deliver)`,
          );
        }
        return this.send(res, 200, body);
      }
      if ((m = DEAL.exec(p)) !== null) {
        this.allow(req, "GET");
        return this.send(res, 200, this.dealStatus(m[1]));
      }
      throw new HttpRequestError(404, "not_found", `no route ${req.method} ${p}`);
    } catch (err) {
      if (err instanceof HttpRequestError) {
        return this.send(res, err.status, { error: err.code, reason: err.message });
      }
      throw err;
    }
  }

  private allow(req: IncomingMessage, method: string): void {
    if (req.method !== method) {
      throw new HttpRequestError(405, "method_not_allowed", `${req.url} takes ${method}, not ${req.method}`);
    }
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    if (res.headersSent) return;
    const text = JSON.stringify(body);
    res.writeHead(status, {
      "content-type": "application/json; charset=utf-8",
      "content-length": Buffer.byteLength(text),
      "cache-control": "no-store",
    });
    res.end(text);
  }

  private internal(res: ServerResponse, err: unknown): void {
    const reason = err instanceof Error ? err.message : String(err);
    this.log(`internal error: ${reason}`);
    try {
      this.send(res, 500, { error: "internal", reason });
    } catch {
      res.destroy();
    }
  }

  /** Reads the body up to `limit` bytes; beyond it 413 (the rest is drained, then discarded). */
  private readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
    const tooLarge = () =>
      new HttpRequestError(
        413,
        "body_too_large",
        `the request body exceeds ${limit} bytes; send one call of T rows at a time`,
      );
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > limit) {
      this.drain(req, limit);
      return Promise.reject(tooLarge());
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const onData = (c: Buffer) => {
        size += c.length;
        if (size > limit) {
          req.off("data", onData);
          req.off("end", onEnd);
          chunks.length = 0;
          this.drain(req, limit);
          reject(tooLarge());
        } else chunks.push(c);
      };
      const onEnd = () => resolve(Buffer.concat(chunks));
      req.on("data", onData);
      req.on("end", onEnd);
      req.on("error", reject);
    });
  }

  /** Discards the rest of a refused body so the client can read the answer; cuts off floods. */
  private drain(req: IncomingMessage, limit: number): void {
    let dropped = 0;
    req.on("data", (c: Buffer) => {
      dropped += c.length;
      if (dropped > 16 * limit + (1 << 20)) req.destroy();
    });
    req.resume();
  }

  // ------------------------------------------------------------------ routes

  private health(): HealthBody {
    return {
      ok: true,
      deals: [...this.deals.keys()],
      proofs: this.proofs?.counts() ?? { queued: 0, running: 0, done: 0, failed: 0 },
    };
  }

  private findDeal(rawId: string): DealState {
    let id: bigint;
    try {
      id = parseUint(safeDecode(rawId), "dealId", 1n << 256n, "unknown_deal");
    } catch {
      throw new HttpRequestError(404, "unknown_deal", `deal ${rawId.slice(0, 80)} is not hosted here`);
    }
    const d = this.deals.get(id.toString());
    if (d === undefined) throw new HttpRequestError(404, "unknown_deal", `deal ${id} is not hosted here`);
    return d;
  }

  private findModule(d: DealState, raw: string): ManifestModule {
    const n = /^(0|[1-9][0-9]{0,5})$/.test(raw) ? Number(raw) : -1;
    const mods = d.deal.manifest.modules;
    if (n < 0 || n >= mods.length) {
      throw new HttpRequestError(
        404,
        "unknown_module",
        `deal ${d.deal.dealId} has modules 0..${mods.length - 1}, not ${raw.slice(0, 40)}`,
      );
    }
    return mods[n];
  }

  private dealStatus(rawId: string): DealStatusBody {
    const d = this.findDeal(rawId);
    return {
      dealId: d.deal.dealId.toString(),
      chainId: d.deal.chainId.toString(),
      escrow: getAddress(d.deal.escrow),
      contributor: getAddress(d.deal.contributor),
      modules: d.deal.manifest.modules.map((m) => ({
        index: m.index,
        target: m.target,
        shape: m.shape.name,
        T: m.shape.T,
        rowsUsed: d.rowsUsed[m.index],
        rowBudget: this.budget(m),
      })),
    };
  }

  private async dealBuyer(d: DealState): Promise<string> {
    if (d.buyer !== undefined) return d.buyer;
    if (this.opts.getDealBuyer === undefined) {
      throw new HttpRequestError(404, "unknown_deal", `deal ${d.deal.dealId} has no buyer configured`);
    }
    let buyer: string;
    try {
      buyer = getAddress(await this.opts.getDealBuyer(d.deal.dealId));
    } catch (err) {
      throw new HttpRequestError(
        503,
        "buyer_unavailable",
        `cannot read the buyer of deal ${d.deal.dealId}: ${(err as Error).message}`,
      );
    }
    d.buyer = buyer;
    return buyer;
  }

  private async infer(req: IncomingMessage, rawDeal: string, rawModule: string): Promise<InferResponseBody> {
    const d = this.findDeal(rawDeal);
    const mod = this.findModule(d, rawModule);
    const m = mod.index;
    const { T, DIN, DOUT } = mod.shape;
    const raw = await this.readBody(req, this.maxBody());
    let body: unknown;
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch (err) {
      throw new HttpRequestError(400, "bad_json", `the body is not valid JSON: ${(err as Error).message}`);
    }
    const r = parseInferRequest(body, { T, DIN }, this.opts.maxAbsX ?? MAX_ABS_X);
    const dealId = d.deal.dealId;

    // Authentication: the buyer signed (dealId, m, hX, nonce).
    const signer = recoverInferenceRequest(
      d.domain,
      { dealId, module: BigInt(m), hX: r.hX, nonce: r.nonce },
      r.signature,
    );
    if (signer === null) {
      throw new HttpRequestError(
        401,
        "bad_signature",
        "the InferenceRequest signature is malformed or not recoverable",
      );
    }
    const buyer = await this.dealBuyer(d);
    if (signer !== buyer) {
      throw new HttpRequestError(
        403,
        "not_buyer",
        `the request is signed by ${signer}, not by deal ${dealId}'s buyer (or it signs other dealId/module/hX/nonce values)`,
      );
    }
    const nonceKey = r.nonce.toString();
    const budget = this.budget(mod);
    this.checkNonceAndBudget(d, m, nonceKey, r.rows, budget);

    // Reserve the nonce and the rows before the (slow) hash, so that concurrent calls cannot overdraw.
    d.pendingNonces.add(nonceKey);
    d.rowsUsed[m] += r.rows;
    let answered = false;
    try {
      const chunked = chunkedShapeOf(mod);
      const hX = await this.hashes.hash(r.X, chunked);
      if (hX !== r.hX) {
        // name the variant when the buyer hashed X as if the module were v1
        if (chunked !== undefined && (await this.hashes.hash(r.X)) === r.hX) {
          throw new HttpRequestError(
            400,
            "hx_wrong_variant",
            `hX ${r.hX} is the v1 activationHash(X), but module ${m} is committed to the chunked shape ${mod.shape.name}: ` +
              `send chunkedActivationHash(X, shape).hX = ${hX} (the manifest's module has "chunked")`,
          );
        }
        throw new HttpRequestError(
          400,
          "hx_mismatch",
          `hX ${r.hX} is not ${chunked === undefined ? "activationHash(X)" : `chunkedActivationHash(X, ${mod.shape.name}).hX`} = ${hX}`,
        );
      }
      const secret = d.secrets.modules[m];
      const Y = loraProduct(r.X, secret.A, secret.B);
      const hY = outputDigest(Y);
      const rho = computeRho({
        chainId: d.deal.chainId,
        escrow: d.deal.escrow,
        dealId,
        module: BigInt(m),
        hX,
        hY,
      });
      const fY = fingerprint(Y, rho);
      const signature = await signInferenceResponse(this.opts.signer, d.domain, {
        dealId,
        module: BigInt(m),
        hX,
        hY,
        fY,
      });
      const Ys = Y.map((row) => row.map((v) => v.toString()));
      if (Ys.length !== T || Ys.some((row) => row.length !== DOUT))
        throw new Error("loraProduct returned a wrong shape");
      answered = true;
      d.nonces.add(nonceKey);
      this.transcript.entries.push({
        chainId: d.deal.chainId.toString(),
        escrow: getAddress(d.deal.escrow),
        dealId: dealId.toString(),
        module: m,
        target: mod.target,
        shape: mod.shape.name,
        rows: r.rows,
        nonce: nonceKey,
        buyer: signer,
        requestSignature: r.signature,
        responseSignature: signature,
        hX: hX.toString(),
        hY,
        fY: fY.toString(),
        rho: rho.toString(),
        X: r.X.map((row) => row.map((v) => v.toString())),
        Y: Ys,
        time: new Date().toISOString(),
      });
      void this.writer?.write().catch((err: unknown) => this.log(`transcript write failed: ${String(err)}`));
      this.enqueueProof(d, mod, r.X, rho, hX, fY);
      return {
        dealId: dealId.toString(),
        module: m,
        rows: r.rows,
        Y: Ys,
        hX: hX.toString(),
        hY,
        fY: fY.toString(),
        rho: rho.toString(),
        signature,
      };
    } finally {
      d.pendingNonces.delete(nonceKey);
      if (!answered) d.rowsUsed[m] -= r.rows;
    }
  }

  private enqueueProof(
    d: DealState,
    mod: ManifestModule,
    X: bigint[][],
    rho: bigint,
    hX: bigint,
    fY: bigint,
  ): void {
    const secret = d.secrets.modules[mod.index];
    this.proofs?.enqueue({
      dealId: d.deal.dealId,
      module: mod.index,
      shape: mod.shape,
      A: secret.A,
      B: secret.B,
      salt: secret.salt,
      X,
      rho,
      expected: [BigInt(mod.C_m), hX, rho, fY],
      chunked:
        secret.chunkSalts === undefined
          ? undefined
          : { shape: chunkedShapeOf(mod)!, salts: secret.chunkSalts },
    });
  }

  private checkNonceAndBudget(d: DealState, m: number, nonce: string, rows: number, budget: number): void {
    if (d.nonces.has(nonce) || d.pendingNonces.has(nonce)) {
      throw new HttpRequestError(
        409,
        "nonce_replayed",
        `nonce ${nonce} was already used in deal ${d.deal.dealId}; sign a fresh nonce`,
      );
    }
    const used = d.rowsUsed[m];
    if (used + rows > budget) {
      throw new HttpRequestError(
        429,
        "row_budget_exhausted",
        `deal ${d.deal.dealId} module ${m}: ${rows} rows requested but only ${Math.max(0, budget - used)} of ${budget} remain ` +
          `(the row budget bounds how much of the adapter the outputs reveal)`,
      );
    }
  }

  private proof(rawDeal: string, rawModule: string, rawHX: string): [number, unknown] {
    const d = this.findDeal(rawDeal);
    const mod = this.findModule(d, rawModule);
    const hX = parseUint(safeDecode(rawHX), "hX", P, "bad_hx");
    if (this.proofs === null) {
      throw new HttpRequestError(404, "proving_disabled", "this server does not prove in the background");
    }
    let s = this.proofs.get(proofKey(d.deal.dealId, mod.index, hX));
    if (s === undefined) {
      // answered before a restart: prove it now from the transcript
      const e = this.transcript.entries.find(
        (x) => this.ofDeal(x, d) && x.module === mod.index && x.hX === hX.toString(),
      );
      if (e === undefined) {
        throw new HttpRequestError(
          404,
          "unknown_call",
          `no answered call of deal ${d.deal.dealId} module ${mod.index} has hX ${hX}`,
        );
      }
      this.enqueueProof(
        d,
        mod,
        e.X.map((r) => r.map((v) => BigInt(v))),
        BigInt(e.rho),
        hX,
        BigInt(e.fY),
      );
      s = this.proofs.get(proofKey(d.deal.dealId, mod.index, hX))!;
    }
    switch (s.status) {
      case "queued":
      case "proving":
        return [202, { status: s.status }];
      case "failed":
        return [500, { error: "proof_failed", reason: s.reason }];
      case "ready": {
        const body: ProofResponseBody = {
          status: "ready",
          proof: s.record.proof,
          publicSignals: s.record.publicSignals,
          ...(s.record.chunks === undefined ? { solidity: s.record.solidity } : { chunks: s.record.chunks }),
        };
        return [200, body];
      }
    }
  }
}
