/**
 * The contributor's HTTP server (node:http), protocol v2: answers the buyer's per-module inference
 * calls with Y = X·A·B and an EIP-712 signature, enforces a row budget per adapter module across
 * all deals and buyers, records every answered call durably (fsynced) BEFORE replying, and
 * receives the buyer's deal keys.
 *
 * Routes (errors are JSON `{ error: code, reason }`):
 *   GET  /v2/health
 *   GET  /v2/deals/:dealId
 *   POST /v2/deals/:dealId/modules/:m/infer      {X, hX, nonce, signature}
 *   PUT  /v2/deals/:dealId/keys/:shapeId         the deal zkey of a module shape or of the key-wrap
 *                                                circuit (WRAP_CIRCUIT_ID), header x-zklora-signature
 *
 * Every check happens before any output is computed, in this order: route (404), content type
 * (415), body size (413), JSON (400), shape and values (400), signature form (401), signer is the
 * deal's buyer (403), nonce unused (409; an exact replay of an answered call gets its recorded answer
 * again, rows not charged twice), row budget (429), hX == activationDigest(X) (400). The
 * server never crashes on a request: anything unexpected is a 500 with a reason, and it keeps
 * serving. A restart restores used nonces, sequence numbers and row budgets from the call log.
 */
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createWriteStream, statSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { getAddress } from "ethers";
import type { TypedDataDomain } from "ethers";
import { createKeccak } from "hash-wasm";
import { loraProduct } from "../zk/statement.js";
import {
  activationDigest,
  buildShapeKey,
  outputDigestV2,
  weightCommitmentV2,
  type ShapeKey,
} from "../zk/v2/index.js";
import { WRAP_CIRCUIT_ID } from "../zk/wrap/key.js";
import { HttpRequestError, MpiError } from "./errors.js";
import {
  eip712Domain,
  recoverDealKeyUpload,
  recoverInferenceRequest,
  signInferenceResponse,
} from "./eip712.js";
import type { TypedDataSigner } from "./eip712.js";
import { CallLog, readCallLog, type CallRecord } from "./log.js";
import type { CommitSecrets, DealContext, ManifestModule, ShapeRef } from "./types.js";
import { moduleW, v2ShapeOf } from "./types.js";
import { MAX_ABS_X, parseInferRequest, parseUint } from "./wire.js";
import type { DealStatusBody, HealthBody, InferResponseBody, KeyUploadBody } from "./wire.js";

/** A deal the server hosts; `buyer` may be left out when `getDealBuyer` reads it from the chain. */
export type HostedDeal = Omit<DealContext, "buyer"> & { buyer?: string };

export interface ContributorServerOptions {
  /** Signs InferenceResponses; its address must be each deal's contributor. */
  signer: TypedDataSigner;
  /** The durable call log (JSON lines). Restored at `listen()`. */
  logFile: string;
  /** Where uploaded deal keys are stored; default `<logFile's folder>/deal-keys`. */
  keysDir?: string;
  /** Interface to bind; default 127.0.0.1 (loopback only). */
  host?: string;
  /** Port; default 0 (an ephemeral port, see `address()`). */
  port?: number;
  /** Reads a deal's buyer (e.g. from the escrow contract) when the deal has none; the result is cached. */
  getDealBuyer?: (dealId: bigint) => Promise<string>;
  /** Rows per adapter module across all deals and buyers; default floor(DIN / 4). */
  rowBudget?: number | ((module: ManifestModule) => number);
  /** Maximum infer body in bytes; default 64 KiB + 24 bytes per X entry of a full budget. */
  maxBodyBytes?: number;
  /** Maximum uploaded zkey in bytes; default 4 GiB. */
  maxKeyBytes?: number;
  /**
   * Browser origins allowed to call the server (CORS), e.g. `["https://dapp.example"]`; `"*"` allows
   * any. Default none: no CORS headers, so browsers refuse cross-origin calls.
   */
  corsOrigins?: readonly string[];
  /** Time to receive a request's headers, and the whole request (ms); defaults 10 000 and 120 000. */
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Open connections at most (beyond, new ones are refused); default 1024. */
  maxConnections?: number;
  /**
   * Requests handled at once at most; beyond, 503 `busy` with `Retry-After: 1` (nothing is read or
   * charged); default 64.
   */
  maxConcurrentRequests?: number;
  /** Bound on |X| entries; default 2^40. */
  maxAbsX?: bigint;
  /** The shape key of a module's shape (default: buildShapeKey with the development ptau). */
  shapeKey?: (shape: ShapeRef) => Promise<ShapeKey>;
  /** Where to report unexpected internal errors; default console.error. */
  log?: (message: string) => void;
}

interface DealState {
  deal: HostedDeal;
  secrets: CommitSecrets;
  domain: TypedDataDomain;
  buyer: string | undefined;
  /** Per module: next sequence number, calls and rows answered in this deal. */
  seq: number[];
  calls: number[];
  rows: number[];
  /** Answered calls by `dealId:nonce` (an exact replay gets the recorded answer again). */
  nonces: Map<string, CallRecord>;
  /** Uploaded deal key files per shape id. */
  keys: Map<string, string>;
}

/** The default row budget: floor(DIN / 4) rows per adapter module, over all deals. */
export function defaultRowBudget(m: Pick<ManifestModule, "DIN">): number {
  return Math.floor(m.DIN / 4);
}

/** The shape key of a manifest shape from the development ptau (the only one found without a path). */
export function devShapeKey(shape: ShapeRef): Promise<ShapeKey> {
  if (shape.ptau !== "dev") {
    throw new MpiError(
      "ptau_needed",
      `shape ${shape.name} uses the public ptau ${shape.ptau}: pass its file (--ptau) to derive the key`,
    );
  }
  return buildShapeKey(v2ShapeOf(shape));
}

/** decodeURIComponent that maps malformed escapes to a string no route accepts. */
function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return "%";
  }
}

const INFER = /^\/v2\/deals\/([^/]+)\/modules\/([^/]+)\/infer$/;
const KEY = /^\/v2\/deals\/([^/]+)\/keys\/([^/]+)$/;
const DEAL = /^\/v2\/deals\/([^/]+)$/;

export class ContributorServer {
  private readonly deals = new Map<string, DealState>();
  private readonly http: Server;
  private log: CallLog | null = null;
  private restored: CallRecord[] = [];
  /** Rows used per adapter module (its budget key) across all deals, answered or in flight. */
  private readonly used = new Map<string, number>();
  /** W_m's x of each hosted module -> its budget key, a digest of its quantized weights. */
  private readonly budgetKeys = new Map<string, string>();
  private readonly pendingNonces = new Set<string>();
  private contributor = "";
  private inFlight = 0;

  constructor(private readonly opts: ContributorServerOptions) {
    this.http = createServer(
      {
        headersTimeout: opts.headersTimeoutMs ?? 10_000,
        requestTimeout: opts.requestTimeoutMs ?? 120_000,
        keepAliveTimeout: 5_000,
        // how often node enforces the two timeouts above (its default, 30 s, lets slow clients linger)
        connectionsCheckingInterval: Math.min(1_000, opts.headersTimeoutMs ?? 10_000),
      },
      (req, res) => {
        this.handle(req, res).catch((err: unknown) => this.internal(res, err));
      },
    );
    this.http.maxConnections = opts.maxConnections ?? 1024;
    this.http.on("clientError", (err: NodeJS.ErrnoException, socket) => {
      const timeout = err.code === "ERR_HTTP_REQUEST_TIMEOUT";
      const status = timeout ? "408 Request Timeout" : "400 Bad Request";
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
      else socket.destroy();
    });
  }

  private get keysDir(): string {
    return this.opts.keysDir ?? path.join(path.dirname(path.resolve(this.opts.logFile)), "deal-keys");
  }

  /**
   * Hosts a deal: checks that this server's signer is the deal's contributor and that the secrets
   * open every W_m of its manifest.
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
    const shapeKey = this.opts.shapeKey ?? devShapeKey;
    for (const [i, m] of mods.entries()) {
      const W = await weightCommitmentV2(await shapeKey(m.shape), secrets.modules[i]);
      const want = moduleW(m);
      if (W[0] !== want[0] || W[1] !== want[1]) {
        throw new MpiError(
          "secrets_mismatch",
          `deal ${deal.dealId}: the secrets of module ${i} (${m.target}) do not open its W_m`,
        );
      }
    }
    for (const [i, m] of mods.entries()) this.budgetKeys.set(m.W[0], weightsDigest(secrets.modules[i]));
    const key = deal.dealId.toString();
    const prev = this.deals.get(key);
    if (
      prev !== undefined &&
      (prev.deal.chainId !== deal.chainId || getAddress(prev.deal.escrow) !== getAddress(deal.escrow))
    ) {
      throw new MpiError("deal_exists", `deal ${deal.dealId} is already hosted for another chain or escrow`);
    }
    const state: DealState = prev ?? {
      deal,
      secrets,
      domain: eip712Domain(deal.chainId, deal.escrow),
      buyer: deal.buyer === undefined ? undefined : getAddress(deal.buyer),
      seq: mods.map(() => 0),
      calls: mods.map(() => 0),
      rows: mods.map(() => 0),
      nonces: new Map(),
      keys: new Map(),
    };
    this.deals.set(key, state);
    if (prev === undefined) this.restoreDeal(state);
  }

  /** Opens the call log, restores counters from it, and starts listening; resolves with the address. */
  async listen(): Promise<{ host: string; port: number; url: string }> {
    this.contributor = getAddress(await this.opts.signer.getAddress());
    this.restored = await readCallLog(this.opts.logFile);
    this.log = await CallLog.open(this.opts.logFile);
    this.used.clear();
    for (const r of this.restored)
      this.used.set(
        r.budgetKey ?? r.adapterModule,
        (this.used.get(r.budgetKey ?? r.adapterModule) ?? 0) + r.rows,
      );
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

  /** Stops accepting connections, waits for answered calls to be on disk, closes the log. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      this.http.closeIdleConnections();
    });
    await this.log?.close();
    this.log = null;
  }

  /** The uploaded deal key of a shape, or undefined. */
  dealKeyFile(dealId: bigint, shapeId: string): string | undefined {
    return this.deals.get(dealId.toString())?.keys.get(shapeId.toLowerCase());
  }

  /**
   * Rows used so far by an adapter module, across deals: counted per digest of its quantized
   * weights, so committing the same weights again (new salt, new W_m) does not reset it.
   */
  rowsUsed(m: Pick<ManifestModule, "W">): number {
    return this.used.get(this.budgetKeyOf(m)) ?? 0;
  }

  private budgetKeyOf(m: Pick<ManifestModule, "W">): string {
    return this.budgetKeys.get(m.W[0]) ?? m.W[0];
  }

  private report(message: string): void {
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
      for (const m of d.deal.manifest.modules) most = Math.max(most, this.budget(m) * m.DIN);
    return 64 * 1024 + 24 * most;
  }

  /** Recomputes a deal's sequence numbers, counters, nonces and uploaded keys from the log and disk. */
  private restoreDeal(d: DealState): void {
    const { dealId, chainId, escrow } = d.deal;
    for (const r of this.restored) {
      if (
        r.dealId !== dealId.toString() ||
        r.chainId !== chainId.toString() ||
        getAddress(r.escrow) !== getAddress(escrow)
      )
        continue;
      if (r.module < 0 || r.module >= d.seq.length) continue;
      d.seq[r.module] = Math.max(d.seq[r.module], r.seq + 1);
      d.calls[r.module]++;
      d.rows[r.module] += r.rows;
      d.nonces.set(`${dealId}:${r.nonce}`, r); // the key infer() checks
    }
    for (const id of dealKeyIds(d.deal)) {
      const file = this.keyPath(d, id);
      if (existsSyncSafe(file)) d.keys.set(id.toLowerCase(), file);
    }
  }

  private keyPath(d: DealState, shapeId: string): string {
    return path.join(this.keysDir, dealKeyFileName(d.deal, shapeId));
  }

  // ------------------------------------------------------------------ HTTP plumbing

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.cors(req, res);
    if (this.inFlight >= (this.opts.maxConcurrentRequests ?? 64)) {
      res.setHeader("retry-after", "1");
      this.drain(req, 1 << 20);
      return this.send(res, 503, {
        error: "busy",
        reason: `the server is answering ${this.inFlight} requests; retry after a second`,
      });
    }
    this.inFlight++;
    try {
      await this.route(req, res);
    } finally {
      this.inFlight--;
    }
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      const p = url.pathname;
      let m: RegExpExecArray | null;
      if (req.method === "OPTIONS") {
        // CORS preflight: the allowed origin got its headers above; anything else gets none.
        res.writeHead(204, { "content-length": 0 });
        res.end();
        return;
      }
      if (p === "/v2/health") {
        this.allow(req, "GET");
        return this.send(res, 200, this.health());
      }
      if ((m = INFER.exec(p)) !== null) {
        this.allow(req, "POST");
        this.contentType(req, "application/json");
        return this.send(res, 200, await this.infer(req, m[1], m[2]));
      }
      if ((m = KEY.exec(p)) !== null) {
        this.allow(req, "PUT");
        this.contentType(req, "application/octet-stream");
        return this.send(res, 200, await this.uploadKey(req, m[1], m[2]));
      }
      if ((m = DEAL.exec(p)) !== null) {
        this.allow(req, "GET");
        return this.send(res, 200, this.dealStatus(m[1]));
      }
      throw new HttpRequestError(404, "not_found", `no route ${req.method} ${p}`);
    } catch (err) {
      if (err instanceof HttpRequestError) {
        if (!req.complete) this.drain(req, 1 << 20);
        return this.send(res, err.status, { error: err.code, reason: err.message });
      }
      throw err;
    }
  }

  /** CORS headers for an allowed browser origin (none for any other: the browser then refuses). */
  private cors(req: IncomingMessage, res: ServerResponse): void {
    const origin = req.headers.origin;
    const allowed = this.opts.corsOrigins ?? [];
    if (origin === undefined || !(allowed.includes("*") || allowed.includes(origin))) return;
    res.setHeader("access-control-allow-origin", allowed.includes("*") ? "*" : origin);
    res.setHeader("vary", "Origin");
    res.setHeader("access-control-allow-methods", "GET, POST, PUT, OPTIONS");
    res.setHeader("access-control-allow-headers", "content-type, x-zklora-signature");
    res.setHeader("access-control-max-age", "600");
  }

  private allow(req: IncomingMessage, method: string): void {
    if (req.method !== method) {
      throw new HttpRequestError(405, "method_not_allowed", `${req.url} takes ${method}, not ${req.method}`);
    }
  }

  private contentType(req: IncomingMessage, want: string): void {
    const got = String(req.headers["content-type"] ?? "")
      .split(";")[0]
      .trim()
      .toLowerCase();
    if (got !== want) {
      throw new HttpRequestError(415, "unsupported_media_type", `send the body as ${want}, not "${got}"`);
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
    this.report(`internal error: ${reason}`);
    try {
      this.send(res, 500, { error: "internal", reason });
    } catch {
      res.destroy();
    }
  }

  private tooLarge(limit: number, what: string): HttpRequestError {
    return new HttpRequestError(413, "body_too_large", `the ${what} exceeds ${limit} bytes`);
  }

  /** Reads the body up to `limit` bytes; beyond it 413 (the rest is drained, then discarded). */
  private readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > limit)
      return Promise.reject(this.tooLarge(limit, "request body (send fewer rows per call)"));
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const onData = (c: Buffer) => {
        size += c.length;
        if (size > limit) {
          req.off("data", onData);
          req.off("end", onEnd);
          chunks.length = 0;
          reject(this.tooLarge(limit, "request body (send fewer rows per call)"));
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
    req.removeAllListeners("data");
    req.on("data", (c: Buffer) => {
      dropped += c.length;
      if (dropped > 16 * limit + (1 << 20)) req.destroy();
    });
    req.resume();
  }

  // ------------------------------------------------------------------ routes

  private health(): HealthBody {
    return { ok: true, deals: [...this.deals.keys()] };
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
        calls: d.calls[m.index],
        rows: d.rows[m.index],
        rowsUsed: this.rowsUsed(m),
        rowBudget: this.budget(m),
      })),
      keys: [...d.keys.keys()],
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
    const raw = await this.readBody(req, this.maxBody());
    let body: unknown;
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch (err) {
      throw new HttpRequestError(400, "bad_json", `the body is not valid JSON: ${(err as Error).message}`);
    }
    const r = parseInferRequest(body, mod.DIN, this.opts.maxAbsX ?? MAX_ABS_X);
    const dealId = d.deal.dealId;

    // Authentication: the buyer signed (dealId, m, rows, hX, nonce). Once the buyer is known and
    // has signed, its signatures are verified against its public key (same answer as recovery).
    const signer = recoverInferenceRequest(
      d.domain,
      { dealId, module: BigInt(m), rows: BigInt(r.rows), hX: r.hX, nonce: r.nonce },
      r.signature,
      d.buyer,
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
        `the request is signed by ${signer}, not by deal ${dealId}'s buyer (or it signs other dealId/module/rows/hX/nonce values)`,
      );
    }
    const nonceKey = `${dealId}:${r.nonce}`;
    const done = d.nonces.get(nonceKey);
    if (done !== undefined) {
      // An exact replay (a retry after a lost answer or a crash) gets the recorded answer again,
      // without using rows: both sides then hold the same rows. Anything else under this nonce: 409.
      if (done.module === m && done.requestSignature === r.signature) {
        return {
          dealId: done.dealId,
          module: done.module,
          seq: done.seq,
          rows: done.rows,
          Y: done.Y,
          hX: done.hX,
          hY: done.hY,
          signature: done.responseSignature,
        };
      }
      throw new HttpRequestError(
        409,
        "nonce_replayed",
        `nonce ${r.nonce} was already used in deal ${dealId}; sign a fresh nonce`,
      );
    }
    if (this.pendingNonces.has(nonceKey)) {
      throw new HttpRequestError(
        409,
        "nonce_in_flight",
        `a call with nonce ${r.nonce} of deal ${dealId} is being answered; retry it shortly`,
      );
    }
    const budget = this.budget(mod);
    const used = this.rowsUsed(mod);
    if (used + r.rows > budget) {
      throw new HttpRequestError(
        429,
        "row_budget_exhausted",
        `module ${m} (${mod.target}): ${r.rows} rows requested but only ${Math.max(0, budget - used)} of the adapter module's ${budget} remain ` +
          `(the budget counts every deal and buyer: it bounds how much of the adapter the outputs reveal)`,
      );
    }
    // Reserve the nonce and the rows before any await, so that concurrent calls cannot overdraw.
    this.pendingNonces.add(nonceKey);
    const budgetKey = this.budgetKeyOf(mod);
    this.used.set(budgetKey, used + r.rows);
    let answered = false;
    try {
      const hX = await activationDigest(r.X, mod.DIN);
      if (hX !== r.hX) {
        throw new HttpRequestError(400, "hx_mismatch", `hX ${r.hX} is not activationDigest(X) = ${hX}`);
      }
      const seq = d.seq[m]++;
      const secret = d.secrets.modules[m];
      const Y = loraProduct(r.X, secret.A, secret.B);
      const hY = await outputDigestV2(Y, mod.DOUT);
      const signature = await signInferenceResponse(this.opts.signer, d.domain, {
        dealId,
        module: BigInt(m),
        nonce: r.nonce,
        seq: BigInt(seq),
        hX,
        hY,
      });
      const Ys = Y.map((row) => row.map((v) => v.toString()));
      const record: CallRecord = {
        chainId: d.deal.chainId.toString(),
        escrow: getAddress(d.deal.escrow),
        dealId: dealId.toString(),
        module: m,
        seq,
        adapterModule: mod.W[0],
        budgetKey,
        rows: r.rows,
        nonce: r.nonce.toString(),
        buyer: signer,
        requestSignature: r.signature,
        responseSignature: signature,
        hX,
        hY,
        X: r.X.map((row) => row.map((v) => v.toString())),
        Y: Ys,
        time: new Date().toISOString(),
      };
      if (this.log === null) throw new Error("the server is closing");
      await this.log.append(record); // on disk before the reply
      answered = true;
      d.nonces.set(nonceKey, record);
      d.calls[m]++;
      d.rows[m] += r.rows;
      return { dealId: dealId.toString(), module: m, seq, rows: r.rows, Y: Ys, hX, hY, signature };
    } finally {
      this.pendingNonces.delete(nonceKey);
      if (!answered) this.used.set(budgetKey, (this.used.get(budgetKey) ?? 0) - r.rows);
    }
  }

  /** Stores the buyer's deal key of one shape (streamed to disk, keccak-hashed, signature checked). */
  private async uploadKey(req: IncomingMessage, rawDeal: string, rawShape: string): Promise<KeyUploadBody> {
    const d = this.findDeal(rawDeal);
    const shapeId = safeDecode(rawShape).toLowerCase();
    // A key per module shape of the deal, and the buyer's key-wrap key of a delivery deal.
    const id = dealKeyIds(d.deal).find((k) => k.toLowerCase() === shapeId);
    if (id === undefined) {
      throw new HttpRequestError(
        404,
        "unknown_shape",
        `deal ${d.deal.dealId} has no module of shape ${shapeId.slice(0, 80)} (nor is it the key-wrap circuit ${WRAP_CIRCUIT_ID})`,
      );
    }
    const signature = String(req.headers["x-zklora-signature"] ?? "");
    if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) {
      throw new HttpRequestError(
        401,
        "bad_signature",
        "header x-zklora-signature must be the buyer's DealKeyUpload signature",
      );
    }
    const limit = this.opts.maxKeyBytes ?? 4 * 2 ** 30;
    if (Number(req.headers["content-length"] ?? "0") > limit) throw this.tooLarge(limit, "deal key");
    await mkdir(this.keysDir, { recursive: true });
    const final = this.keyPath(d, id);
    const tmp = `${final}.${process.pid}.${Math.random().toString(36).slice(2)}.part`;
    const k = await createKeccak(256);
    k.init();
    let size = 0;
    try {
      await new Promise<void>((resolve, reject) => {
        const out = createWriteStream(tmp, { mode: 0o600 });
        out.on("error", reject);
        req.on("error", reject);
        req.on("data", (c: Buffer) => {
          size += c.length;
          if (size > limit) {
            req.unpipe(out);
            out.destroy();
            reject(this.tooLarge(limit, "deal key"));
            return;
          }
          k.update(c);
        });
        req.pipe(out);
        out.on("finish", resolve);
      });
      const zkeyHash = "0x" + k.digest("hex");
      const signer = recoverDealKeyUpload(
        d.domain,
        { dealId: d.deal.dealId, shapeId: id, zkeyHash },
        signature,
        d.buyer,
      );
      const buyer = await this.dealBuyer(d);
      if (signer !== buyer) {
        throw new HttpRequestError(
          403,
          "not_buyer",
          `the key upload is signed by ${signer ?? "nobody"}, not by deal ${d.deal.dealId}'s buyer (or it signs another deal, shape or file)`,
        );
      }
      await rename(tmp, final);
      d.keys.set(id.toLowerCase(), final);
      return { dealId: d.deal.dealId.toString(), shapeId: id, zkeyHash, bytes: size };
    } finally {
      await rm(tmp, { force: true });
    }
  }
}

/** The ids a deal's uploaded keys may have: its module shapes' and the key-wrap circuit's. */
export function dealKeyIds(deal: Pick<DealContext, "manifest">): string[] {
  return [...new Set(deal.manifest.modules.map((m) => m.shape.shapeId)), WRAP_CIRCUIT_ID];
}

/** The file name under which the server keeps a deal's uploaded key of one shape. */
export function dealKeyFileName(
  deal: { chainId: bigint; escrow: string; dealId: bigint },
  shapeId: string,
): string {
  return `${deal.chainId}-${getAddress(deal.escrow)}-deal${deal.dealId}-${shapeId.toLowerCase().slice(2, 18)}.zkey`;
}

/** The budget key of a module's weights: sha256 over its quantized A and B (not the salt). */
function weightsDigest(o: { A: readonly (readonly bigint[])[]; B: readonly (readonly bigint[])[] }): string {
  const h = createHash("sha256");
  for (const M of [o.A, o.B]) {
    h.update(`${M.length}:${M[0]?.length ?? 0};`);
    for (const row of M) h.update(row.join(",") + ";");
  }
  return "w:" + h.digest("hex");
}

function existsSyncSafe(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
