/**
 * The HTTP wire format of multi-party inference (protocol v2) and its strict validation.
 *
 * POST /v2/deals/:dealId/modules/:m/infer   body {@link InferRequestBody} -> {@link InferResponseBody}
 * PUT  /v2/deals/:dealId/keys/:shapeId       body: the buyer's deal zkey (application/octet-stream),
 *                                            header `x-zklora-signature` -> {@link KeyUploadBody}
 * GET  /v2/deals/:dealId                     -> {@link DealStatusBody}
 * GET  /v2/health                            -> {@link HealthBody}
 * Errors: `{ error: code, reason }` with a 4xx/5xx status.
 */
import { HttpRequestError } from "./errors.js";

/** Bound on every fixed-point activation: |X[t][i]| < 2^40 (far below p/2 after the products). */
export const MAX_ABS_X = 1n << 40n;

/** Body of POST /v2/deals/:dealId/modules/:m/infer. */
export interface InferRequestBody {
  /** rows x DIN decimal integers (fixed point 2^fx); every row counts against the row budget. */
  X: string[][];
  /** activationDigest(X) (bytes32 hex). */
  hX: string;
  /** uint256 decimal nonce, never reused within a deal. */
  nonce: string;
  /** The buyer's EIP-712 InferenceRequest(dealId, module, rows, hX, nonce) signature (0x, 65 bytes). */
  signature: string;
}

/** 200 answer of the infer route. */
export interface InferResponseBody {
  dealId: string;
  module: number;
  /** The call's sequence number in the deal's module. */
  seq: number;
  rows: number;
  /** rows x DOUT decimal integers, Y = X·A·B. */
  Y: string[][];
  /** bytes32 hex digests of the call's X and Y. */
  hX: string;
  hY: string;
  /** The contributor's EIP-712 InferenceResponse signature. */
  signature: string;
}

/** 200 answer of the key upload route. */
export interface KeyUploadBody {
  dealId: string;
  shapeId: string;
  /** keccak256 of the stored zkey (bytes32 hex). */
  zkeyHash: string;
  bytes: number;
}

export interface DealStatusBody {
  dealId: string;
  chainId: string;
  escrow: string;
  contributor: string;
  modules: {
    index: number;
    target: string;
    shape: string;
    /** Calls and rows answered for this deal. */
    calls: number;
    rows: number;
    /** Rows used by the adapter module across all deals, and its budget. */
    rowsUsed: number;
    rowBudget: number;
  }[];
  /** Shape ids whose deal key the buyer has uploaded. */
  keys: string[];
}

export interface HealthBody {
  ok: true;
  deals: string[];
}

const DEC_INT = /^-?(0|[1-9][0-9]*)$/;
const DEC_UINT = /^(0|[1-9][0-9]*)$/;
const BYTES32 = /^0x[0-9a-fA-F]{64}$/;

function bad(code: string, reason: string, status = 400): never {
  throw new HttpRequestError(status, code, reason);
}

/** Parses a uint decimal (or 0x hex) string < `bound`. */
export function parseUint(v: unknown, what: string, bound: bigint, code: string): bigint {
  if (typeof v !== "string" || v.length > 80) bad(code, `${what} must be a decimal integer string`);
  let x: bigint;
  if (DEC_UINT.test(v)) x = BigInt(v);
  else if (/^0x[0-9a-fA-F]{1,64}$/.test(v)) x = BigInt(v);
  else
    bad(code, `${what} must be a non-negative decimal integer string, got ${JSON.stringify(v).slice(0, 40)}`);
  if (x >= bound) bad(code, `${what} is out of range (must be < ${bound})`);
  return x;
}

export interface ParsedInferRequest {
  X: bigint[][];
  rows: number;
  hX: string;
  nonce: bigint;
  signature: string;
}

/**
 * Validates a parsed JSON body against the module's DIN. Throws HttpRequestError(400) naming the
 * first offending field or entry; a malformed signature is 401.
 */
export function parseInferRequest(
  body: unknown,
  DIN: number,
  maxAbsX: bigint = MAX_ABS_X,
): ParsedInferRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    bad("bad_request", "the body must be a JSON object {X, hX, nonce, signature}");
  }
  const b = body as Record<string, unknown>;
  for (const k of ["X", "hX", "nonce", "signature"]) {
    if (!(k in b)) bad("bad_request", `missing field "${k}"`);
  }
  const rawX = b.X;
  if (!Array.isArray(rawX) || rawX.length === 0) {
    bad("bad_shape", `X must be a non-empty array of rows of DIN = ${DIN} entries, got ${describeLen(rawX)}`);
  }
  const rows = rawX.length;
  const X: bigint[][] = new Array<bigint[]>(rows);
  for (let t = 0; t < rows; t++) {
    const row: unknown = rawX[t];
    if (!Array.isArray(row) || row.length !== DIN) {
      bad("bad_shape", `X[${t}] must have DIN = ${DIN} entries, got ${describeLen(row)}`);
    }
    const out = new Array<bigint>(DIN);
    for (let i = 0; i < DIN; i++) {
      const v: unknown = row[i];
      if (typeof v !== "string" || v.length > 20 || !DEC_INT.test(v)) {
        bad(
          "bad_value",
          `X[${t}][${i}] must be a decimal integer string (fixed point), got ${JSON.stringify(v)?.slice(0, 40)}`,
        );
      }
      const x = BigInt(v);
      if (x >= maxAbsX || -x >= maxAbsX)
        bad("bad_value", `X[${t}][${i}] = ${v} is out of range: |X| must be < ${maxAbsX}`);
      out[i] = x;
    }
    X[t] = out;
  }
  if (typeof b.hX !== "string" || !BYTES32.test(b.hX)) bad("bad_hx", "hX must be a bytes32 0x hex digest");
  const nonce = parseUint(b.nonce, "nonce", 1n << 256n, "bad_nonce");
  const signature = b.signature;
  if (typeof signature !== "string" || !/^0x[0-9a-fA-F]{130}$/.test(signature)) {
    bad("bad_signature", "signature must be a 65-byte 0x hex EIP-712 InferenceRequest signature", 401);
  }
  return { X, rows, hX: b.hX.toLowerCase(), nonce, signature };
}

function describeLen(v: unknown): string {
  return Array.isArray(v) ? `${v.length}` : typeof v;
}

/** Parses a decimal integer matrix of the given size (client side); null when malformed. */
export function parseIntMatrix(v: unknown, rows: number, cols: number): bigint[][] | null {
  if (!Array.isArray(v) || v.length !== rows) return null;
  const out: bigint[][] = [];
  for (const row of v) {
    if (!Array.isArray(row) || row.length !== cols) return null;
    const r: bigint[] = [];
    for (const x of row) {
      if (typeof x !== "string" || x.length > 90 || !DEC_INT.test(x)) return null;
      r.push(BigInt(x));
    }
    out.push(r);
  }
  return out;
}
