/**
 * The contributor's HTTP server (fastify), protocol v2: answers the buyer's per-module inference
 * calls with Y = X·A·B and an EIP-712 signature, enforces a row budget per adapter module across
 * all deals and buyers, commits every answered call to its SQLite database (src/mpi/store.ts)
 * BEFORE replying, and receives the buyer's deal keys.
 *
 * Routes (errors are JSON `{ error: code, reason }`; every body and parameter has a JSON schema):
 *   GET  /v2/health
 *   GET  /v2/deals/:dealId
 *   POST /v2/deals/:dealId/modules/:m/infer      {X, hX, nonce, signature}
 *   PUT  /v2/deals/:dealId/keys/:shapeId         the deal zkey of a module shape or of the key-wrap
 *                                                circuit (WRAP_CIRCUIT_ID), header x-zklora-signature
 *
 * Every check happens before any output is computed, in this order: concurrent-request cap (503),
 * route (404/405), content type (415), body size (413), JSON (400), schema, shape and values (400),
 * signature form (401), signer is the deal's buyer (403), nonce unused (409; an exact replay of an
 * answered call gets its recorded answer again, rows not charged twice), row budget (429), hX ==
 * activationDigest(X) (400). The server never crashes on a request: anything unexpected is a 500
 * with a reason, and it keeps serving. A restart restores used nonces, sequence numbers, row
 * budgets and uploaded keys from the database.
 */
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { IncomingMessage, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createWriteStream, statSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import path from "node:path";
import { Transform, type Readable } from "node:stream";
import cors from "@fastify/cors";
import Fastify from "fastify";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
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
import type { CallRecord } from "./log.js";
import { CallStore, type CommitSync } from "./store.js";
import type { CommitSecrets, DealContext, ManifestModule, ShapeRef } from "./types.js";
import { moduleW, v2ShapeOf } from "./types.js";
import { MAX_ABS_X, parseInferRequest, parseUint } from "./wire.js";
import type { DealStatusBody, HealthBody, InferResponseBody, KeyUploadBody } from "./wire.js";

/** A deal the server hosts; `buyer` may be left out when `getDealBuyer` reads it from the chain. */
export type HostedDeal = Omit<DealContext, "buyer"> & { buyer?: string };

export interface ContributorServerOptions {
  /** Signs InferenceResponses; its address must be each deal's contributor. */
  signer: TypedDataSigner;
  /** The server's SQLite database (calls, row budgets, hosted deals, uploaded keys). Opened at `listen()`. */
  database: string;
  /** How each commit of answered calls reaches the disk before the reply (default "full"; see CommitSync). */
  sync?: CommitSync;
  /** Where uploaded deal keys are stored; default `<database's folder>/deal-keys`. */
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
  /**
   * Time to receive a request's headers, an infer call's body, and any whole request (a deal key
   * upload) (ms); defaults 10 000, 15 000 and 600 000. Beyond: 408 and the connection is closed.
   */
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** Open connections at most (beyond, new ones are closed at once); default 4096. */
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

/** The routes' paths and methods (a known path with another method is a 405, not a 404). */
const ROUTES: { re: RegExp; method: string }[] = [
  { re: /^\/v2\/health$/, method: "GET" },
  { re: /^\/v2\/deals\/[^/]+$/, method: "GET" },
  { re: /^\/v2\/deals\/[^/]+\/modules\/[^/]+\/infer$/, method: "POST" },
  { re: /^\/v2\/deals\/[^/]+\/keys\/[^/]+$/, method: "PUT" },
];

const DEAL_PARAMS = {
  type: "object",
  properties: { dealId: { type: "string", minLength: 1, maxLength: 256 } },
  required: ["dealId"],
} as const;

/** The infer body's structure; values, lengths against DIN and signatures are checked by parseInferRequest. */
const INFER_BODY = {
  type: "object",
  required: ["X", "hX", "nonce", "signature"],
  properties: {
    X: { type: "array", minItems: 1, items: { type: "array", items: { type: "string", maxLength: 20 } } },
    hX: { type: "string", pattern: "^0x[0-9a-fA-F]{64}$" },
    nonce: { type: "string", maxLength: 80 },
    signature: { type: "string", pattern: "^0x[0-9a-fA-F]{130}$" },
  },
} as const;

const STRING_MATRIX = { type: "array", items: { type: "array", items: { type: "string" } } } as const;

const INFER_RESPONSE = {
  type: "object",
  properties: {
    dealId: { type: "string" },
    module: { type: "integer" },
    seq: { type: "integer" },
    rows: { type: "integer" },
    Y: STRING_MATRIX,
    hX: { type: "string" },
    hY: { type: "string" },
    signature: { type: "string" },
  },
  required: ["dealId", "module", "seq", "rows", "Y", "hX", "hY", "signature"],
} as const;

/** The 400 code of a schema error at a body path (the same codes parseInferRequest gives). */
function schemaErrorCode(instancePath: string): { code: string; status: number } {
  if (instancePath.startsWith("/X/") && instancePath.split("/").length >= 4)
    return { code: "bad_value", status: 400 };
  if (instancePath.startsWith("/X")) return { code: "bad_shape", status: 400 };
  if (instancePath === "/hX") return { code: "bad_hx", status: 400 };
  if (instancePath === "/nonce") return { code: "bad_nonce", status: 400 };
  if (instancePath === "/signature") return { code: "bad_signature", status: 401 };
  return { code: "bad_request", status: 400 };
}

/** 409 `nonce_replayed`: the nonce was answered before; an exact replay carries the recorded answer. */
export class ReplayedRequestError extends HttpRequestError {
  constructor(
    message: string,
    readonly answer: InferResponseBody | undefined,
  ) {
    super(409, "nonce_replayed", message);
  }
}

/**
 * Counts a request body's bytes and fails with 413 past `limit`, or with 408 when the whole body has
 * not arrived within `timeoutMs` (a client dripping its body would hold a request slot).
 */
function limitStream(limit: number, what: string, timeoutMs: number): Transform {
  let size = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      if (size > limit) cb(tooLarge(limit, what));
      else cb(null, chunk);
    },
    flush(cb) {
      clearTimeout(timer);
      cb();
    },
  });
  const timer = setTimeout(() => {
    t.destroy(
      new HttpRequestError(408, "body_timeout", `the request body did not arrive within ${timeoutMs} ms`),
    );
  }, timeoutMs);
  t.on("close", () => clearTimeout(timer));
  return t;
}

function tooLarge(limit: number, what: string): HttpRequestError {
  return new HttpRequestError(413, "body_too_large", `the ${what} exceeds ${limit} bytes`);
}

function mediaType(req: FastifyRequest): string {
  return String(req.headers["content-type"] ?? "")
    .split(";")[0]
    .trim()
    .toLowerCase();
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** The one content type a route with a body takes (415 for anything else). */
    accepts?: string;
  }
}

export class ContributorServer {
  private readonly deals = new Map<string, DealState>();
  private readonly app: FastifyInstance;
  private store: CallStore | null = null;
  /** Rows used per adapter module (its budget key) across all deals, answered or in flight. */
  private readonly used = new Map<string, number>();
  /** W_m's x of each hosted module -> its budget key, a digest of its quantized weights. */
  private readonly budgetKeys = new Map<string, string>();
  private readonly pendingNonces = new Set<string>();
  private contributor = "";
  private inFlight = 0;

  constructor(private readonly opts: ContributorServerOptions) {
    const headersTimeout = opts.headersTimeoutMs ?? 10_000;
    this.app = Fastify({
      logger: false,
      // bodies are limited per request (preParsing) by maxBody(), which follows the hosted deals
      bodyLimit: 2 ** 31 - 1,
      ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
      forceCloseConnections: "idle",
      // a path that is not valid percent-encoding names no deal and no route
      frameworkErrors: (err, req, reply) => {
        if (err.code === "FST_ERR_BAD_URL") {
          const deal = req.url.startsWith("/v2/deals/");
          return this.send(
            reply,
            404,
            deal ? "unknown_deal" : "not_found",
            `${deal ? "no deal at" : "no route"} ${req.url.slice(0, 80)} (malformed percent-encoding)`,
          );
        }
        return this.onError(err, req, reply);
      },
      return503OnClosing: true,
      serverFactory: (handler) => {
        const server: Server = createServer(
          {
            headersTimeout,
            // request line and headers at most 16 KiB (beyond: 431)
            maxHeaderSize: 16 * 1024,
            requestTimeout: opts.requestTimeoutMs ?? 600_000,
            keepAliveTimeout: 5_000,
            // how often node enforces the two timeouts above (its default, 30 s, lets slow clients linger)
            connectionsCheckingInterval: Math.min(1_000, headersTimeout),
          },
          handler,
        );
        server.maxConnections = opts.maxConnections ?? 4096;
        return server;
      },
    });
    this.setup();
  }

  private setup(): void {
    const app = this.app;
    const allowed = this.opts.corsOrigins ?? [];
    // the cap comes first: beyond it nothing is read, parsed or charged
    app.addHook("onRequest", (req, reply, done) => {
      if (this.inFlight >= (this.opts.maxConcurrentRequests ?? 64)) {
        reply.header("retry-after", "1").header("connection", "close");
        this.send(
          reply,
          503,
          "busy",
          `the server is answering ${this.inFlight} requests; retry after a second`,
        );
        return;
      }
      this.inFlight++;
      reply.raw.once("close", () => this.inFlight--);
      done();
    });
    void app.register(cors, {
      origin: (origin, cb) => {
        cb(
          null,
          origin !== undefined && (allowed.includes("*") || allowed.includes(origin)) ? origin : false,
        );
      },
      methods: ["GET", "POST", "PUT", "OPTIONS"],
      allowedHeaders: ["content-type", "x-zklora-signature"],
      maxAge: 600,
      strictPreflight: false,
    });
    app.addContentTypeParser("application/octet-stream", (_req, payload, done) => done(null, payload));
    app.addHook("preParsing", async (req, _reply, payload) => {
      const accepts = req.routeOptions.config.accepts;
      if (accepts === undefined) return payload;
      // route first (404 before 415), then content type, then size: nothing parsed yet
      const params = req.params as { dealId: string; m?: string };
      const d = this.findDeal(params.dealId);
      if (params.m !== undefined) this.findModule(d, params.m);
      const got = mediaType(req);
      if (got !== accepts)
        throw new HttpRequestError(
          415,
          "unsupported_media_type",
          `send the body as ${accepts}, not "${got}"`,
        );
      if (accepts === "application/octet-stream") return payload; // the key upload limits its own stream
      const limit = this.maxBody();
      const what = "request body (send fewer rows per call)";
      if (Number(req.headers["content-length"] ?? "0") > limit) throw tooLarge(limit, what);
      const body = limitStream(limit, what, this.opts.bodyTimeoutMs ?? 15_000);
      payload.on("error", (err) => body.destroy(err));
      return payload.pipe(body) as unknown as typeof payload;
    });
    app.setErrorHandler((err: FastifyError, req, reply) => this.onError(err, req, reply));
    app.setNotFoundHandler((req, reply) => {
      const p = new URL(req.url, "http://localhost").pathname;
      const route = ROUTES.find((r) => r.re.test(p));
      if (route !== undefined)
        return this.send(reply, 405, "method_not_allowed", `${p} takes ${route.method}, not ${req.method}`);
      return this.send(reply, 404, "not_found", `no route ${req.method} ${p}`);
    });
    app.addHook("onSend", async (_req, reply, payload) => {
      reply.header("cache-control", "no-store");
      return payload;
    });

    app.get(
      "/v2/health",
      { schema: { response: { 200: { type: "object", additionalProperties: true } } } },
      () => this.health(),
    );
    app.get<{ Params: { dealId: string } }>(
      "/v2/deals/:dealId",
      { schema: { params: DEAL_PARAMS, response: { 200: { type: "object", additionalProperties: true } } } },
      (req) => this.dealStatus(req.params.dealId),
    );
    app.post<{ Params: { dealId: string; m: string }; Body: unknown }>(
      "/v2/deals/:dealId/modules/:m/infer",
      {
        config: { accepts: "application/json" },
        schema: {
          params: {
            type: "object",
            properties: { ...DEAL_PARAMS.properties, m: { type: "string", minLength: 1, maxLength: 64 } },
            required: ["dealId", "m"],
          },
          body: INFER_BODY,
          response: { 200: INFER_RESPONSE },
        },
      },
      (req) => this.infer(req.body, req.params.dealId, req.params.m),
    );
    app.put<{ Params: { dealId: string; shapeId: string }; Body: Readable }>(
      "/v2/deals/:dealId/keys/:shapeId",
      {
        config: { accepts: "application/octet-stream" },
        schema: {
          params: {
            type: "object",
            properties: {
              ...DEAL_PARAMS.properties,
              shapeId: { type: "string", minLength: 1, maxLength: 256 },
            },
            required: ["dealId", "shapeId"],
          },
          headers: {
            type: "object",
            properties: { "x-zklora-signature": { type: "string" } },
          },
        },
      },
      (req) => this.uploadKey(req.raw, req.body, req.params.dealId, req.params.shapeId),
    );
  }

  private onError(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
    if (err instanceof ReplayedRequestError && err.answer !== undefined) {
      if (reply.sent) return;
      void reply
        .code(409)
        .type("application/json; charset=utf-8")
        .send({ error: err.code, reason: err.message, answer: err.answer });
      return;
    }
    if (err instanceof HttpRequestError) {
      if (err.status === 408 || err.status === 413 || err.status === 415) reply.header("connection", "close");
      return this.send(reply, err.status, err.code, err.message);
    }
    if (err.validation !== undefined && err.validation.length > 0) {
      const v = err.validation[0];
      if (err.validationContext === "params")
        return this.send(reply, 404, "not_found", `bad path: ${err.message}`);
      const { code, status } = schemaErrorCode(v.instancePath);
      const where = v.instancePath === "" ? "the body" : v.instancePath.slice(1).replaceAll("/", ".");
      return this.send(reply, status, code, `${where} ${v.message ?? "is invalid"}`);
    }
    switch (err.code) {
      case "FST_ERR_CTP_BODY_TOO_LARGE":
        reply.header("connection", "close");
        return this.send(reply, 413, "body_too_large", err.message);
      case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
        return this.send(reply, 415, "unsupported_media_type", err.message);
      case "FST_ERR_CTP_EMPTY_JSON_BODY":
      case "FST_ERR_CTP_INVALID_JSON_BODY":
        return this.send(reply, 400, "bad_json", `the body is not valid JSON: ${err.message}`);
    }
    if (err instanceof SyntaxError || err.statusCode === 400)
      return this.send(reply, 400, "bad_json", `the body is not valid JSON: ${err.message}`);
    if (typeof err.statusCode === "number" && err.statusCode >= 400 && err.statusCode < 500)
      return this.send(reply, err.statusCode, "bad_request", err.message);
    this.report(`internal error on ${req.method} ${req.url}: ${err.message}`);
    return this.send(reply, 500, "internal", err.message);
  }

  private send(reply: FastifyReply, status: number, error: string, reason: string): void {
    if (reply.sent) return;
    void reply.code(status).type("application/json; charset=utf-8").send({ error, reason });
  }

  private get keysDir(): string {
    return this.opts.keysDir ?? path.join(path.dirname(path.resolve(this.opts.database)), "deal-keys");
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
      keys: new Map(),
    };
    this.deals.set(key, state);
    if (prev === undefined && this.store !== null) this.restoreDeal(state);
  }

  /** Opens the database, restores counters from it, and starts listening; resolves with the address. */
  async listen(): Promise<{ host: string; port: number; url: string }> {
    this.contributor = getAddress(await this.opts.signer.getAddress());
    this.store = CallStore.open(this.opts.database, { sync: this.opts.sync });
    this.used.clear();
    for (const [k, rows] of this.store.budgets()) this.used.set(k, rows);
    for (const d of this.deals.values()) this.restoreDeal(d);
    try {
      // a deep accept queue: a burst of connections waits there instead of in SYN retries
      await this.app.listen({
        port: this.opts.port ?? 0,
        host: this.opts.host ?? "127.0.0.1",
        backlog: 4096,
      });
    } catch (err) {
      await this.store.close();
      this.store = null;
      throw err;
    }
    return this.address();
  }

  /** The bound address. */
  address(): { host: string; port: number; url: string } {
    const a = this.app.server.address() as AddressInfo | null;
    if (a === null) throw new MpiError("not_listening", "the server is not listening: call listen() first");
    const host = a.family === "IPv6" ? `[${a.address}]` : a.address;
    return { host: a.address, port: a.port, url: `http://${host}:${a.port}` };
  }

  /** Stops accepting connections, waits for answered calls to be committed, closes the database. */
  async close(): Promise<void> {
    await this.app.close();
    await this.store?.close();
    this.store = null;
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

  /** Recomputes a deal's sequence numbers, counters and uploaded keys from the database. */
  private restoreDeal(d: DealState): void {
    const store = this.store!;
    store.hostDeal({ ...d.deal, modules: d.seq.length });
    for (const c of store.counters(d.deal)) {
      if (c.module < 0 || c.module >= d.seq.length) continue;
      d.seq[c.module] = c.nextSeq;
      d.calls[c.module] = c.calls;
      d.rows[c.module] = c.rows;
    }
    const ids = new Set(dealKeyIds(d.deal).map((s) => s.toLowerCase()));
    for (const k of store.dealKeys(d.deal)) {
      if (ids.has(k.shapeId) && existsSyncSafe(k.file)) d.keys.set(k.shapeId, k.file);
    }
  }

  private keyPath(d: DealState, shapeId: string): string {
    return path.join(this.keysDir, dealKeyFileName(d.deal, shapeId));
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

  private async infer(body: unknown, rawDeal: string, rawModule: string): Promise<InferResponseBody> {
    const d = this.findDeal(rawDeal);
    const mod = this.findModule(d, rawModule);
    const m = mod.index;
    const r = parseInferRequest(body, mod.DIN, this.opts.maxAbsX ?? MAX_ABS_X);
    const dealId = d.deal.dealId;

    // Authentication: the buyer signed (dealId, m, rows, hX, nonce).
    const signer = recoverInferenceRequest(
      d.domain,
      { dealId, module: BigInt(m), rows: BigInt(r.rows), hX: r.hX, nonce: r.nonce },
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
        `the request is signed by ${signer}, not by deal ${dealId}'s buyer (or it signs other dealId/module/rows/hX/nonce values)`,
      );
    }
    const nonceKey = `${dealId}:${r.nonce}`;
    const store = this.store;
    if (store === null) throw new HttpRequestError(503, "closing", "the server is closing");
    const done = store.callByNonce(d.deal, r.nonce);
    if (done !== undefined) {
      // A nonce is answered once. An exact replay (a retry after a lost answer or a crash) is refused
      // with 409 like any reuse, but carries the recorded answer (no rows used, nothing computed), so
      // the buyer's client recovers the call it signed and both sides hold the same rows.
      const exact = done.module === m && done.requestSignature === r.signature;
      throw new ReplayedRequestError(
        exact
          ? `nonce ${r.nonce} of deal ${dealId} was already answered (seq ${done.seq}); the recorded answer is attached`
          : `nonce ${r.nonce} was already used in deal ${dealId}; sign a fresh nonce`,
        exact
          ? {
              dealId: done.dealId,
              module: done.module,
              seq: done.seq,
              rows: done.rows,
              Y: done.Y,
              hX: done.hX,
              hY: done.hY,
              signature: done.responseSignature,
            }
          : undefined,
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
        escrow: d.domain.verifyingContract as string, // checksummed by eip712Domain
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
      await store.append(record); // committed (call and budget rows) before the reply
      answered = true;
      d.calls[m]++;
      d.rows[m] += r.rows;
      return { dealId: dealId.toString(), module: m, seq, rows: r.rows, Y: Ys, hX, hY, signature };
    } finally {
      this.pendingNonces.delete(nonceKey);
      if (!answered) this.used.set(budgetKey, (this.used.get(budgetKey) ?? 0) - r.rows);
    }
  }

  /** Stores the buyer's deal key of one shape (streamed to disk, keccak-hashed, signature checked). */
  private async uploadKey(
    req: IncomingMessage,
    body: Readable,
    rawDeal: string,
    rawShape: string,
  ): Promise<KeyUploadBody> {
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
    if (Number(req.headers["content-length"] ?? "0") > limit) throw tooLarge(limit, "deal key");
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
        body.on("error", reject);
        body.on("data", (c: Buffer) => {
          size += c.length;
          if (size > limit) {
            body.unpipe(out);
            out.destroy();
            reject(tooLarge(limit, "deal key"));
            return;
          }
          k.update(c);
        });
        body.pipe(out);
        out.on("finish", resolve);
      });
      const zkeyHash = "0x" + k.digest("hex");
      const signer = recoverDealKeyUpload(
        d.domain,
        { dealId: d.deal.dealId, shapeId: id, zkeyHash },
        signature,
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
      this.store?.putDealKey(d.deal, { shapeId: id, file: final, zkeyHash, bytes: size });
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
