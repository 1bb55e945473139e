/**
 * The HTTP wire format of multi-party inference and its strict validation.
 *
 * POST /v1/deals/:dealId/modules/:m/infer   body {@link InferRequestBody} -> {@link InferResponseBody}
 * GET  /v1/deals/:dealId/proofs/:m/:hX       -> 200 {@link ProofResponseBody} | 202 {status} | 404
 * GET  /v1/deals/:dealId                     -> {@link DealStatusBody}
 * GET  /v1/health                            -> {@link HealthBody}
 * Errors: `{ error: code, reason }` with a 4xx/5xx status.
 */
import { P } from "../zk/index.js";
import { HttpRequestError } from "./errors.js";

/** Bound on every fixed-point activation: |X[t][i]| < 2^40 (inputs of a circuit stay far below p/2). */
export const MAX_ABS_X = 1n << 40n;

/** Body of POST /v1/deals/:dealId/modules/:m/infer. */
export interface InferRequestBody {
  /** T rows x DIN decimal integers (fixed point 2^fx); rows >= `rows` are zero. */
  X: string[][];
  /** Rows actually used (1..T); counts against the row budget. */
  rows: number;
  /** activationHash(X) as a decimal field element. */
  hX: string;
  /** uint256 decimal nonce, never reused within a deal. */
  nonce: string;
  /** The buyer's EIP-712 InferenceRequest signature (0x, 65 bytes). */
  signature: string;
}

/** 200 answer of the infer route. */
export interface InferResponseBody {
  dealId: string;
  module: number;
  rows: number;
  /** T rows x DOUT decimal integers, Y = X·A·B. */
  Y: string[][];
  hX: string;
  /** keccak256 of Y as int256 words (bytes32 hex). */
  hY: string;
  /** Fingerprint of Y at rho (decimal). */
  fY: string;
  /** Challenge rho (decimal). */
  rho: string;
  /** The contributor's EIP-712 InferenceResponse signature. */
  signature: string;
}

/** `verifyProof(a, b, c, pubSignals)` arguments of the generated Solidity verifier, as decimal strings. */
export interface SolidityProofJson {
  a: [string, string];
  b: [[string, string], [string, string]];
  c: [string, string];
}

/** One chunk proof of a chunked module's chain (A chunks 0..KA-1, then B chunks 0..KB-1). */
export interface ChunkProofJson {
  kind: "A" | "B";
  index: number;
  /** The snarkjs proof. */
  proof: unknown;
  /** The chunk's public signals in circuit order (A `[hA, hX, rho, Lin, Lout]`, B `[hB, rho, Lin, Lout, fIn, fOut]`). */
  publicSignals: string[];
  /** The proof as the Solidity chunk verifier takes it (pi_b pairs swapped), decimal strings. */
  solidity: SolidityProofJson;
}

/** 200 answer of the proof route. */
export interface ProofResponseBody {
  status: "ready";
  /** The snarkjs proof (v1 module); null for a chunked module (see `chunks`). */
  proof: unknown;
  /** [C_m, hX, rho, fY] as decimal strings. */
  publicSignals: string[];
  /** The proof as the Solidity verifier takes it (pi_b pairs swapped), decimal strings (v1 module). */
  solidity?: SolidityProofJson;
  /** A chunked module's chain of chunk proofs (instead of `proof` and `solidity`). */
  chunks?: ChunkProofJson[];
}

export interface DealStatusBody {
  dealId: string;
  chainId: string;
  escrow: string;
  contributor: string;
  modules: { index: number; target: string; shape: string; T: number; rowsUsed: number; rowBudget: number }[];
}

export interface HealthBody {
  ok: true;
  deals: string[];
  proofs: { queued: number; running: number; done: number; failed: number };
}

const DEC_INT = /^-?(0|[1-9][0-9]*)$/;
const DEC_UINT = /^(0|[1-9][0-9]*)$/;

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

/** The shape facts the server checks a request against. */
export interface RequestShape {
  T: number;
  DIN: number;
}

export interface ParsedInferRequest {
  X: bigint[][];
  rows: number;
  hX: bigint;
  nonce: bigint;
  signature: string;
}

/**
 * Validates a parsed JSON body against the module's shape. Throws HttpRequestError(400) naming
 * the first offending field / entry; a malformed signature is 401.
 */
export function parseInferRequest(
  body: unknown,
  shape: RequestShape,
  maxAbsX: bigint = MAX_ABS_X,
): ParsedInferRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    bad("bad_request", "the body must be a JSON object {X, rows, hX, nonce, signature}");
  }
  const b = body as Record<string, unknown>;
  for (const k of ["X", "rows", "hX", "nonce", "signature"]) {
    if (!(k in b)) bad("bad_request", `missing field "${k}"`);
  }
  const { T, DIN } = shape;
  const rawX = b.X;
  if (!Array.isArray(rawX) || rawX.length !== T) {
    bad(
      "bad_shape",
      `X must be an array of T = ${T} rows (pad unused rows with zeros), got ${describeLen(rawX)}`,
    );
  }
  const rows = b.rows;
  if (typeof rows !== "number" || !Number.isInteger(rows) || rows < 1 || rows > T) {
    bad("bad_rows", `rows must be an integer in 1..${T}, got ${JSON.stringify(rows)}`);
  }
  const X: bigint[][] = new Array<bigint[]>(T);
  for (let t = 0; t < T; t++) {
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
      if (t >= rows && x !== 0n)
        bad("bad_rows", `X[${t}][${i}] must be 0: only the first ${rows} rows may be non-zero`);
      out[i] = x;
    }
    X[t] = out;
  }
  const hX = parseUint(b.hX, "hX", P, "bad_hx");
  const nonce = parseUint(b.nonce, "nonce", 1n << 256n, "bad_nonce");
  const signature = b.signature;
  if (typeof signature !== "string" || !/^0x[0-9a-fA-F]{130}$/.test(signature)) {
    bad("bad_signature", "signature must be a 65-byte 0x hex EIP-712 InferenceRequest signature", 401);
  }
  return { X, rows, hX, nonce, signature };
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
