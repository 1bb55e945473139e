/**
 * The buyer's side of multi-party inference: a LoRA hook that asks the contributor's server for
 * each module's contribution, checks every answer before using it, and records the calls in a
 * transcript for the fund step.
 *
 * Per call: quantize x with 2^fx (T rows, zero-padded), hX = activationHash(X), sign
 * InferenceRequest(dealId, m, hX, nonce), POST; then check keccak256(Y) == hY, rho (recomputed
 * locally) == the server's rho, fingerprint_rho(Y) == fY, the contributor's InferenceResponse
 * signature, and that padded rows of Y are zero. Only then delta = s * Y / 2^(fx+fa+fb).
 */
import { getAddress } from "ethers";
import type { TypedDataDomain } from "ethers";
import type { LoraHook, LoraTarget } from "../model/index.js";
import {
  buildChunkedCircuits,
  buildCircuit,
  checkChunkedModule,
  computeRho,
  fingerprint,
  outputDigest,
  quantize,
  verifyModule,
} from "../zk/index.js";
import type { ChunkProof, ChunkedArtifacts, ChunkedShape, Groth16Proof } from "../zk/index.js";
import {
  ChallengeMismatchError,
  FingerprintMismatchError,
  MalformedResponseError,
  MpiError,
  OutputDigestMismatchError,
  ProofCheckError,
  ProofTimeoutError,
  RemoteError,
  ResponseSignatureError,
} from "./errors.js";
import { ActivationHashCache } from "./hashcache.js";
import { eip712Domain, recoverInferenceResponse, signInferenceRequest } from "./eip712.js";
import type { TypedDataSigner } from "./eip712.js";
import { buyerTranscriptJson, JsonFileWriter } from "./transcript.js";
import type { BuyerTranscriptEntry } from "./transcript.js";
import type { DealContext, ManifestModule, ShapeRef } from "./types.js";
import { chunkedShapeOf } from "./types.js";
import { MAX_ABS_X, parseIntMatrix } from "./wire.js";
import type { InferRequestBody, ProofResponseBody } from "./wire.js";

export interface RemoteLoraClientOptions {
  /** The contributor server's base URL, e.g. `http://127.0.0.1:8000`. */
  url: string;
  deal: DealContext;
  /** The buyer's signer (its address must be `deal.buyer`). */
  signer: TypedDataSigner;
  /** Write the buyer transcript to this JSON file after every call. */
  transcriptFile?: string;
  /** Verification key of a shape (default: `(await buildCircuit(shape)).vkey`). */
  vkeyFor?: (shape: ShapeRef) => Promise<unknown>;
  /** A chunked shape's chunk circuits and keys (default: `buildChunkedCircuits(shape)`). */
  chunkedArtifactsFor?: (shape: ChunkedShape) => Promise<ChunkedArtifacts>;
  /** Nonce source (default: 256 random bits). */
  nonce?: () => bigint;
  /** Per-request timeout in ms (default 60 000). */
  timeoutMs?: number;
}

/** Timing of the calls so far (milliseconds, summed). */
export interface ClientStats {
  calls: number;
  /** quantize + activationHash + sign */
  prepareMs: number;
  /** HTTP round trip (server time included) */
  httpMs: number;
  /** hY, rho, fY and signature checks + de-quantization */
  checkMs: number;
}

/** A verified module proof. */
export interface VerifiedProof extends ProofResponseBody {
  entry: BuyerTranscriptEntry;
}

/** One answered and checked call. */
export interface CallResult {
  Y: bigint[][];
  entry: BuyerTranscriptEntry;
}

function randomNonce(): bigint {
  const b = new Uint8Array(32);
  globalThis.crypto.getRandomValues(b);
  let v = 0n;
  for (const x of b) v = (v << 8n) | BigInt(x);
  return v;
}

export class RemoteLoraClient {
  /** The LoRA hook to pass to `model.forward(tokens, { targets, hook })`. */
  readonly hook: LoraHook;
  readonly entries: BuyerTranscriptEntry[] = [];
  readonly stats: ClientStats = { calls: 0, prepareMs: 0, httpMs: 0, checkMs: 0 };
  readonly deal: DealContext;
  private readonly domain: TypedDataDomain;
  private readonly base: string;
  private readonly writer: JsonFileWriter | null;
  private readonly byTarget: Map<string, ManifestModule>;
  /** Memo of activationHash per X (modules sharing an input hash it once). */
  readonly hashes = new ActivationHashCache();

  constructor(private readonly opts: RemoteLoraClientOptions) {
    this.deal = opts.deal;
    this.domain = eip712Domain(opts.deal.chainId, opts.deal.escrow);
    this.base = opts.url.replace(/\/+$/, "");
    this.byTarget = new Map(opts.deal.manifest.modules.map((m) => [m.target, m]));
    this.writer =
      opts.transcriptFile === undefined
        ? null
        : new JsonFileWriter(opts.transcriptFile, () => buyerTranscriptJson(this.deal, this.entries));
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

  /**
   * The hook body: quantizes x [T, DIN], splits it into chunks of the shape's T rows, calls the
   * server per chunk, and returns delta [T, DOUT] = s * Y / 2^(fx+fa+fb).
   */
  async forwardModule(target: LoraTarget, x: Float32Array, T: number): Promise<Float32Array> {
    const mod = this.moduleFor(target);
    const { DIN, DOUT } = mod;
    if (x.length !== T * DIN) {
      throw new MpiError(
        "bad_activation",
        `${target.name}: x has ${x.length} values, expected T=${T} x DIN=${DIN}`,
      );
    }
    const delta = new Float32Array(T * DOUT);
    const scale = mod.scaling / 2 ** (mod.scales.fx + mod.scales.fa + mod.scales.fb);
    const rowsPerCall = mod.shape.T;
    for (let start = 0; start < T; start += rowsPerCall) {
      const rows = Math.min(rowsPerCall, T - start);
      const X: bigint[][] = [];
      for (let t = 0; t < rowsPerCall; t++) {
        const row = new Array<bigint>(DIN);
        for (let i = 0; i < DIN; i++) {
          if (t >= rows) {
            row[i] = 0n;
            continue;
          }
          const v = quantize(x[(start + t) * DIN + i], mod.scales.fx);
          if (v >= MAX_ABS_X || -v >= MAX_ABS_X) {
            throw new MpiError(
              "activation_out_of_range",
              `${target.name}: activation ${x[(start + t) * DIN + i]} at 2^${mod.scales.fx} exceeds the wire bound 2^40`,
            );
          }
          row[i] = v;
        }
        X.push(row);
      }
      const { Y } = await this.infer(mod.index, X, rows);
      const t0 = performance.now();
      for (let t = 0; t < rows; t++) {
        for (let j = 0; j < DOUT; j++) delta[(start + t) * DOUT + j] = Number(Y[t][j]) * scale;
      }
      this.stats.checkMs += performance.now() - t0;
    }
    return delta;
  }

  /**
   * One checked call: X is T x DIN (the shape's T, rows beyond `rows` zero). Returns Y and the
   * transcript entry; throws a typed error when any check fails (the call is then not recorded).
   */
  async infer(module: number, X: bigint[][], rows: number): Promise<CallResult> {
    const mod = this.deal.manifest.modules[module];
    if (mod === undefined) throw new MpiError("unknown_module", `the deal has no module ${module}`);
    const { T, DOUT } = mod.shape;
    const dealId = this.deal.dealId;
    const t0 = performance.now();
    // The variant comes from the deal's manifest: a chunked module's hX is the chunked one.
    const hX = await this.hashes.hash(X, chunkedShapeOf(mod));
    const nonce = (this.opts.nonce ?? randomNonce)();
    const signature = await signInferenceRequest(this.opts.signer, this.domain, {
      dealId,
      module: BigInt(module),
      hX,
      nonce,
    });
    const body: InferRequestBody = {
      X: X.map((r) => r.map((v) => v.toString())),
      rows,
      hX: hX.toString(),
      nonce: nonce.toString(),
      signature,
    };
    const t1 = performance.now();
    this.stats.prepareMs += t1 - t0;
    const url = `${this.base}/v1/deals/${dealId}/modules/${module}/infer`;
    const res = await this.request(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const t2 = performance.now();
    this.stats.httpMs += t2 - t1;
    if (res.status !== 200) throw remoteError(res, url);
    const r = res.json as Record<string, unknown>;

    const Y = parseIntMatrix(r.Y, T, DOUT);
    if (Y === null)
      throw new MalformedResponseError(`${url}: Y must be ${T} x ${DOUT} decimal integer strings`);
    for (const k of ["hY", "fY", "rho", "signature"]) {
      if (typeof r[k] !== "string")
        throw new MalformedResponseError(`${url}: field ${k} missing or not a string`);
    }
    const hYs = r.hY as string;
    if (!/^0x[0-9a-fA-F]{64}$/.test(hYs)) throw new MalformedResponseError(`${url}: hY must be bytes32 hex`);
    const fYr = toUint(r.fY, "fY", url);
    const rhoR = toUint(r.rho, "rho", url);

    const hY = outputDigest(Y);
    if (hY.toLowerCase() !== hYs.toLowerCase()) throw new OutputDigestMismatchError(hY, hYs);
    const rho = computeRho({
      chainId: this.deal.chainId,
      escrow: this.deal.escrow,
      dealId,
      module: BigInt(module),
      hX,
      hY,
    });
    if (rho !== rhoR) throw new ChallengeMismatchError(rho, rhoR);
    const fY = fingerprint(Y, rho);
    if (fY !== fYr) throw new FingerprintMismatchError(fY, fYr);
    const contributorSignature = r.signature as string;
    const signer = recoverInferenceResponse(
      this.domain,
      { dealId, module: BigInt(module), hX, hY, fY },
      contributorSignature,
    );
    if (signer === null || signer !== getAddress(this.deal.contributor)) {
      throw new ResponseSignatureError(
        `${url}: the InferenceResponse signature ${signer === null ? "is malformed" : `recovers to ${signer}`}, ` +
          `not to the deal's contributor ${getAddress(this.deal.contributor)}`,
      );
    }
    for (let t = rows; t < T; t++) {
      if (Y[t].some((v) => v !== 0n))
        throw new MalformedResponseError(`${url}: Y row ${t} must be zero (X row ${t} is zero padding)`);
    }
    const entry: BuyerTranscriptEntry = {
      module,
      target: mod.target,
      rows,
      nonce: nonce.toString(),
      hX: hX.toString(),
      hY,
      fY: fY.toString(),
      rho: rho.toString(),
      contributorSignature,
    };
    this.entries.push(entry);
    this.stats.calls++;
    this.stats.checkMs += performance.now() - t2;
    if (this.writer !== null) await this.writer.write();
    return { Y, entry };
  }

  /** Waits for the transcript file to be written. */
  async flush(): Promise<void> {
    await this.writer?.flush();
  }

  /**
   * Fetches the proof of a recorded call (polling while the server answers 202), verifies it
   * off-chain against the vkey of the module's shape, and checks its public signals are
   * [C_m, hX, rho, fY] of the transcript entry.
   */
  async fetchProof(
    module: number,
    hX: bigint | string,
    opts: { timeoutMs?: number; pollMs?: number } = {},
  ): Promise<VerifiedProof> {
    const hx = BigInt(hX).toString();
    const entry = this.entries.find((e) => e.module === module && e.hX === hx);
    if (entry === undefined) {
      throw new ProofCheckError(
        "unknown_call",
        `no recorded call of module ${module} with hX ${hx}: only proofs of own calls are checked`,
      );
    }
    const mod = this.deal.manifest.modules[module];
    const url = `${this.base}/v1/deals/${this.deal.dealId}/proofs/${module}/${hx}`;
    const deadline = Date.now() + (opts.timeoutMs ?? 600_000);
    let body: ProofResponseBody;
    while (true) {
      const res = await this.request(url, { method: "GET" });
      if (res.status === 200) {
        body = res.json as ProofResponseBody;
        break;
      }
      if (res.status !== 202) throw remoteError(res, url);
      if (Date.now() > deadline)
        throw new ProofTimeoutError(`${url}: proof still pending after ${opts.timeoutMs ?? 600_000} ms`);
      await new Promise((r) => setTimeout(r, opts.pollMs ?? 250));
    }
    if (!Array.isArray(body.publicSignals) || body.publicSignals.length !== 4) {
      throw new ProofCheckError("bad_public_signals", `${url}: publicSignals must be [C_m, hX, rho, fY]`);
    }
    const want = [mod.C_m, entry.hX, entry.rho, entry.fY];
    const names = ["C_m", "hX", "rho", "fY"];
    for (let i = 0; i < 4; i++) {
      let got: string;
      try {
        got = BigInt(String(body.publicSignals[i])).toString();
      } catch {
        got = String(body.publicSignals[i]);
      }
      if (got !== want[i]) {
        throw new ProofCheckError(
          "bad_public_signals",
          `${url}: public signal ${names[i]} is ${got}, the transcript has ${want[i]}`,
        );
      }
    }
    const chunked = chunkedShapeOf(mod);
    if (chunked !== undefined) {
      if (!Array.isArray(body.chunks)) {
        throw new ProofCheckError(
          "bad_proof",
          `${url}: module ${module} is chunked (${mod.shape.name}): the answer must carry its chain of chunk proofs`,
        );
      }
      let proofs: ChunkProof[];
      try {
        proofs = body.chunks.map((c) => ({
          kind: c.kind,
          index: c.index,
          proof: c.proof as Groth16Proof,
          publicSignals: c.publicSignals.map((v) => BigInt(v)),
        }));
      } catch {
        throw new ProofCheckError("bad_proof", `${url}: the chunk proofs' public signals are not integers`);
      }
      const art = await (this.opts.chunkedArtifactsFor ?? buildChunkedCircuits)(chunked);
      const r = await checkChunkedModule(
        art,
        { C_m: BigInt(mod.C_m), hX: BigInt(entry.hX), rho: BigInt(entry.rho), fY: BigInt(entry.fY) },
        proofs,
      );
      if (!r.ok) {
        throw new ProofCheckError(
          "bad_proof",
          `${url}: the chain of chunk proofs does not prove the call on chunked shape ${mod.shape.name}: ${r.reason}`,
        );
      }
      return { ...body, entry };
    }
    const vkey = await (this.opts.vkeyFor ?? defaultVkey)(mod.shape);
    let ok: boolean;
    try {
      ok = await verifyModule(vkey as object, body.proof as Groth16Proof, body.publicSignals);
    } catch {
      ok = false; // e.g. proof points not on the curve
    }
    if (!ok)
      throw new ProofCheckError(
        "bad_proof",
        `${url}: the Groth16 proof does not verify against shape ${mod.shape.name}'s vkey`,
      );
    return { ...body, entry };
  }

  private async request(url: string, init: RequestInit): Promise<{ status: number; json: unknown }> {
    let res: Response;
    try {
      res = await fetch(url, { ...init, signal: AbortSignal.timeout(this.opts.timeoutMs ?? 60_000) });
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

async function defaultVkey(shape: ShapeRef): Promise<unknown> {
  return (await buildCircuit(shape)).vkey;
}

function remoteError(res: { status: number; json: unknown }, url: string): RemoteError {
  const j = (res.json ?? {}) as { error?: unknown; reason?: unknown };
  return new RemoteError(res.status, String(j.error ?? "http_error"), String(j.reason ?? ""), url);
}

function toUint(v: unknown, what: string, url: string): bigint {
  if (typeof v !== "string" || !/^(0|[1-9][0-9]{0,80})$/.test(v)) {
    throw new MalformedResponseError(`${url}: ${what} must be a decimal integer string`);
  }
  return BigInt(v);
}
