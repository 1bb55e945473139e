/**
 * The buyer's side of multi-party inference (protocol v2): a LoRA hook that asks the contributor's
 * server for each module's contribution, checks every answer before using it, and records every
 * call durably (its rows are what the buyer folds and posts at funding).
 *
 * Per call: quantize x with 2^fx (all T rows of the forward), hX = activationDigest(X), sign
 * InferenceRequest(dealId, m, rows, hX, nonce), POST; then check Y's shape, hX echoed,
 * hY = outputDigestV2(Y), and the contributor's InferenceResponse signature over (dealId, m, nonce,
 * seq, hX, hY). Only then delta = s * Y / 2^(fx+fa+fb).
 */
import { readFile } from "node:fs/promises";
import { getAddress } from "ethers";
import type { TypedDataDomain } from "ethers";
import { createKeccak } from "hash-wasm";
import type { LoraHook, LoraTarget } from "../model/index.js";
import { quantize } from "../zk/quantize.js";
import { activationDigest, outputDigestV2 } from "../zk/v2/index.js";
import {
  MalformedResponseError,
  MpiError,
  OutputDigestMismatchError,
  RemoteError,
  ResponseSignatureError,
} from "./errors.js";
import { eip712Domain, recoverInferenceResponse, signDealKeyUpload, signInferenceRequest } from "./eip712.js";
import type { TypedDataSigner } from "./eip712.js";
import { CallLog, type CallRecord } from "./log.js";
import type { DealContext, ManifestModule } from "./types.js";
import { MAX_ABS_X, parseIntMatrix } from "./wire.js";
import type { InferRequestBody, KeyUploadBody } from "./wire.js";

export interface RemoteLoraClientOptions {
  /** The contributor server's base URL, e.g. `http://127.0.0.1:8000`. */
  url: string;
  deal: DealContext;
  /** The buyer's signer (its address must be `deal.buyer`). */
  signer: TypedDataSigner;
  /** The buyer's durable record of answered calls (JSON lines); appended before a call returns. */
  logFile?: string;
  /** Nonce source (default: 256 random bits). */
  nonce?: () => bigint;
  /** Per-request timeout in ms (default 60 000). */
  timeoutMs?: number;
  /** Resends of the same signed request after a lost answer (default 3, backing off from 250 ms). */
  retries?: number;
}

/** Timing of the calls so far (milliseconds, summed). */
export interface ClientStats {
  calls: number;
  /** quantize + hX + sign */
  prepareMs: number;
  /** HTTP round trip (server time included) */
  httpMs: number;
  /** hY and signature checks, record + de-quantization */
  checkMs: number;
}

/** One answered and checked call. */
export interface CallResult {
  Y: bigint[][];
  record: CallRecord;
}

function randomNonce(): bigint {
  const b = new Uint8Array(32);
  globalThis.crypto.getRandomValues(b);
  return BigInt("0x" + Buffer.from(b.buffer).toString("hex"));
}

export class RemoteLoraClient {
  /** The LoRA hook to pass to `model.forward(tokens, { targets, hook })`. */
  readonly hook: LoraHook;
  /** Every answered call of this client, in answer order. */
  readonly records: CallRecord[] = [];
  readonly stats: ClientStats = { calls: 0, prepareMs: 0, httpMs: 0, checkMs: 0 };
  readonly deal: DealContext;
  private readonly domain: TypedDataDomain;
  /** The deal's contributor and escrow, checksummed once. */
  private readonly contributor: string;
  private readonly escrow: string;
  /** The signer's address, checksummed, once read. */
  private buyerAddress: string | undefined;
  private readonly base: string;
  /** Opened once, by the first call (concurrent first calls share it: one file handle). */
  private log: Promise<CallLog> | null = null;
  private readonly byTarget: Map<string, ManifestModule>;

  constructor(private readonly opts: RemoteLoraClientOptions) {
    this.deal = opts.deal;
    this.domain = eip712Domain(opts.deal.chainId, opts.deal.escrow);
    this.contributor = getAddress(opts.deal.contributor);
    this.escrow = getAddress(opts.deal.escrow);
    this.base = opts.url.replace(/\/+$/, "");
    this.byTarget = new Map(opts.deal.manifest.modules.map((m) => [m.target, m]));
    this.hook = (target, x, T) => this.forwardModule(target, x, T);
  }

  /** The manifest module a base-model target maps to. */
  moduleFor(target: Pick<LoraTarget, "name">): ManifestModule {
    const m = this.byTarget.get(target.name);
    if (m === undefined) {
      throw new MpiError(
        "unknown_target",
        `the deal's manifest has no module for ${target.name}; pass the manifest's targets to forward()`,
      );
    }
    return m;
  }

  /** The hook body: quantizes x [T, DIN], calls the server once, returns delta [T, DOUT]. */
  async forwardModule(target: LoraTarget, x: Float32Array, T: number): Promise<Float32Array> {
    const mod = this.moduleFor(target);
    const { DIN, DOUT } = mod;
    if (x.length !== T * DIN) {
      throw new MpiError(
        "bad_activation",
        `${target.name}: x has ${x.length} values, expected T=${T} x DIN=${DIN}`,
      );
    }
    const X: bigint[][] = [];
    for (let t = 0; t < T; t++) {
      const row = new Array<bigint>(DIN);
      for (let i = 0; i < DIN; i++) {
        const v = quantize(x[t * DIN + i], mod.scales.fx);
        if (v >= MAX_ABS_X || -v >= MAX_ABS_X) {
          throw new MpiError(
            "activation_out_of_range",
            `${target.name}: activation ${x[t * DIN + i]} at 2^${mod.scales.fx} exceeds the wire bound 2^40`,
          );
        }
        row[i] = v;
      }
      X.push(row);
    }
    const { Y } = await this.infer(mod.index, X);
    const t0 = performance.now();
    const scale = mod.scaling / 2 ** (mod.scales.fx + mod.scales.fa + mod.scales.fb);
    const delta = new Float32Array(T * DOUT);
    for (let t = 0; t < T; t++) for (let j = 0; j < DOUT; j++) delta[t * DOUT + j] = Number(Y[t][j]) * scale;
    this.stats.checkMs += performance.now() - t0;
    return delta;
  }

  /**
   * One checked call of `X.length` rows. Returns Y and the call record; throws a typed error when
   * any check fails (the call is then not recorded).
   */
  async infer(module: number, X: bigint[][]): Promise<CallResult> {
    const mod = this.deal.manifest.modules[module];
    if (mod === undefined) throw new MpiError("unknown_module", `the deal has no module ${module}`);
    const dealId = this.deal.dealId;
    const rows = X.length;
    const t0 = performance.now();
    const hX = await activationDigest(X, mod.DIN);
    const nonce = (this.opts.nonce ?? randomNonce)();
    const requestSignature = await signInferenceRequest(this.opts.signer, this.domain, {
      dealId,
      module: BigInt(module),
      rows: BigInt(rows),
      hX,
      nonce,
    });
    const body: InferRequestBody = {
      X: X.map((r) => r.map((v) => v.toString())),
      hX,
      nonce: nonce.toString(),
      signature: requestSignature,
    };
    const t1 = performance.now();
    this.stats.prepareMs += t1 - t0;
    const url = `${this.base}/v2/deals/${dealId}/modules/${module}/infer`;
    // The same signed request is sent again when the answer was lost (network error, server
    // restart) or the first copy is still being answered: the server refuses an exact replay with
    // 409 but attaches the call it recorded, so both sides keep the same rows.
    const text = JSON.stringify(body);
    const retries = this.opts.retries ?? 3;
    let res: { status: number; json: unknown };
    for (let attempt = 0; ; attempt++) {
      try {
        res = await this.request(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: text,
        });
      } catch (err) {
        if (!(err instanceof RemoteError) || attempt >= retries) throw err;
        await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
        continue;
      }
      const code = (res.json as { error?: unknown } | null)?.error;
      const retry =
        (res.status === 409 && code === "nonce_in_flight") || (res.status === 503 && code === "busy");
      if (retry && attempt < retries) {
        await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
        continue;
      }
      break;
    }
    const t2 = performance.now();
    this.stats.httpMs += t2 - t1;
    // A 409 for a nonce the server answered before carries the recorded answer (a retry after a
    // lost answer): it is checked exactly like a 200.
    const replayed = (res.json as { answer?: unknown } | null)?.answer;
    const recovered =
      res.status === 409 &&
      (res.json as { error?: unknown }).error === "nonce_replayed" &&
      typeof replayed === "object" &&
      replayed !== null;
    if (res.status !== 200 && !recovered) throw remoteError(res, url);
    const r = (recovered ? replayed : res.json) as Record<string, unknown>;

    const Y = parseIntMatrix(r.Y, rows, mod.DOUT);
    if (Y === null)
      throw new MalformedResponseError(`${url}: Y must be ${rows} x ${mod.DOUT} decimal integer strings`);
    for (const k of ["hX", "hY", "signature"]) {
      if (typeof r[k] !== "string")
        throw new MalformedResponseError(`${url}: field ${k} missing or not a string`);
    }
    if (typeof r.seq !== "number" || !Number.isSafeInteger(r.seq) || r.seq < 0)
      throw new MalformedResponseError(`${url}: seq must be a non-negative integer`);
    if ((r.hX as string).toLowerCase() !== hX)
      throw new MalformedResponseError(`${url}: the answer is for hX ${String(r.hX)}, the request had ${hX}`);
    const hY = await outputDigestV2(Y, mod.DOUT);
    if (hY !== (r.hY as string).toLowerCase()) throw new OutputDigestMismatchError(hY, r.hY as string);
    const responseSignature = r.signature as string;
    const signer = recoverInferenceResponse(
      this.domain,
      { dealId, module: BigInt(module), nonce, seq: BigInt(r.seq), hX, hY },
      responseSignature,
    );
    if (signer === null || signer !== this.contributor) {
      throw new ResponseSignatureError(
        `${url}: the InferenceResponse signature ${signer === null ? "is malformed" : `recovers to ${signer}`}, ` +
          `not to the deal's contributor ${this.contributor}`,
      );
    }
    const record: CallRecord = {
      chainId: this.deal.chainId.toString(),
      escrow: this.escrow,
      dealId: dealId.toString(),
      module,
      seq: r.seq,
      adapterModule: mod.W[0],
      rows,
      nonce: nonce.toString(),
      buyer: (this.buyerAddress ??= getAddress(await this.opts.signer.getAddress())),
      requestSignature,
      responseSignature,
      hX,
      hY,
      X: body.X,
      Y: Y.map((row) => row.map((v) => v.toString())),
      time: new Date().toISOString(),
    };
    if (this.opts.logFile !== undefined) {
      this.log ??= CallLog.open(this.opts.logFile);
      await (await this.log).append(record);
    }
    this.records.push(record);
    this.stats.calls++;
    this.stats.checkMs += performance.now() - t2;
    return { Y, record };
  }

  /** Closes the call log. */
  async close(): Promise<void> {
    const log = this.log;
    this.log = null;
    await (await log)?.close();
  }

  /**
   * Hands the buyer's deal key of one shape to the server: PUT with the buyer's DealKeyUpload
   * signature over keccak256 of the file.
   */
  async uploadDealKey(shapeId: string, zkeyFile: string): Promise<KeyUploadBody> {
    const bytes = await readFile(zkeyFile);
    const k = await createKeccak(256);
    k.init();
    k.update(bytes);
    const zkeyHash = "0x" + k.digest("hex");
    const signature = await signDealKeyUpload(this.opts.signer, this.domain, {
      dealId: this.deal.dealId,
      shapeId,
      zkeyHash,
    });
    const url = `${this.base}/v2/deals/${this.deal.dealId}/keys/${shapeId}`;
    const res = await this.request(
      url,
      {
        method: "PUT",
        headers: { "content-type": "application/octet-stream", "x-zklora-signature": signature },
        body: bytes,
      },
      600_000,
    );
    if (res.status !== 200) throw remoteError(res, url);
    const body = res.json as KeyUploadBody;
    if (body.zkeyHash !== zkeyHash)
      throw new MalformedResponseError(
        `${url}: the server stored a key with hash ${body.zkeyHash}, not ${zkeyHash}`,
      );
    return body;
  }

  private async request(
    url: string,
    init: RequestInit,
    timeoutMs = this.opts.timeoutMs ?? 60_000,
  ): Promise<{ status: number; json: unknown }> {
    let res: Response;
    try {
      res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      throw new RemoteError(
        0,
        "unreachable",
        `cannot reach the contributor's server: ${(err as Error).message}`,
        url,
      );
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      if (res.status === 200) throw new MalformedResponseError(`${url}: the answer is not JSON`);
      json = { error: "http_error", reason: text.slice(0, 200) };
    }
    return { status: res.status, json };
  }
}

function remoteError(res: { status: number; json: unknown }, url: string): RemoteError {
  const j = (res.json ?? {}) as { error?: unknown; reason?: unknown };
  return new RemoteError(res.status, String(j.error ?? "http_error"), String(j.reason ?? ""), url);
}
