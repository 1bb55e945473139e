/**
 * Groth16 on BN254 (bn128) off-chain: the shared single-thread curve engine, the snarkjs proof
 * type, and the checks every verifier applies to an untrusted proof (src/zk/v2/verify.ts uses them).
 *
 * What is checked on untrusted input, and why (a failure is a rejection, never a throw):
 * - proof shape: pi_a, pi_c arrays of 2 or 3 coordinates, pi_b of 2 or 3 pairs, `protocol` (if
 *   present) "groth16"; coordinates are non-negative integers (bigint, decimal or 0x-hex string,
 *   safe number) BELOW q, the base-field modulus. snarkjs reduces larger values mod q, which makes
 *   proofs malleable (x and x + q are the same point); the EVM pairing precompile (EIP-197)
 *   rejects them, so off-chain acceptance here never exceeds on-chain acceptance.
 * - A and C on the curve y² = x³ + 3 (G1 has cofactor 1, so on the curve means in G1), B on the
 *   twist y² = x³ + 3/(9+u) AND in the order-r subgroup G2 ([r]B = O). snarkjs checks only the
 *   curve equation. The twist has a huge cofactor: a point outside G2 is not an input of the
 *   bilinear pairing Groth16's soundness argument is about (the Miller loop is then not bilinear
 *   in it), and EIP-197 rejects such points; the batch check's random-linear-combination
 *   argument needs bilinearity too.
 * - A, B, C not the point at infinity (an honest proof has one only with probability ~2^-254;
 *   snarkjs's pairing code does not handle it, EIP-197 maps it to 1).
 */
import { buildBn128, type Bn128, type WasmCurve } from "ffjavascript";
import { ZkError } from "./errors.js";

/** The verification key is malformed, not for BN254 Groth16, or inconsistent. */
export class VerificationKeyError extends ZkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("VKEY", message, options);
  }
}

/** A batch check was called with no proofs, or with proofs and statements of different lengths. */
export class BatchInputError extends ZkError {
  constructor(message: string) {
    super("BATCH_INPUT", message);
  }
}

/** A snarkjs Groth16 proof (decimal strings, projective coordinates). */
export interface Groth16Proof {
  pi_a: [string, string, string];
  pi_b: [[string, string], [string, string], [string, string]];
  pi_c: [string, string, string];
  protocol: "groth16";
  curve: "bn128";
}

/** The outcome of a verifier's `check`: `reason` says why a proof was rejected. */
export type VerifyOutcome = { ok: true } | { ok: false; reason: string };

let enginePromise: Promise<Bn128> | undefined;

/**
 * The BN254 engine used for verification: ffjavascript's WebAssembly code in single-thread mode,
 * so verification needs no worker threads and leaves none alive (scripts need no terminate).
 */
export function engine(): Promise<Bn128> {
  if (enginePromise === undefined) {
    enginePromise = buildBn128(true);
    enginePromise.catch(() => (enginePromise = undefined));
  }
  return enginePromise;
}

const DEC = /^[0-9]{1,100}$/;
const HEX = /^0x[0-9a-fA-F]{1,80}$/;

/** A non-negative integer from JSON-ish input, or undefined. */
function toInt(v: unknown): bigint | undefined {
  if (typeof v === "bigint") return v >= 0n ? v : undefined;
  if (typeof v === "number") return Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : undefined;
  if (typeof v === "string" && (DEC.test(v) || HEX.test(v))) return BigInt(v);
  return undefined;
}

/** Parses a point object (G1: [x, y(, z)], G2: [[x0,x1],[y0,y1](,[z0,z1])]) into a buffer. */
export function parsePoint(
  c: Bn128,
  G: WasmCurve,
  obj: unknown,
  g2: boolean,
  what: string,
): Uint8Array | string {
  if (!Array.isArray(obj) || (obj.length !== 2 && obj.length !== 3)) {
    return `${what} must be an array of 2 or 3 coordinates`;
  }
  const coords: (bigint | bigint[])[] = [];
  for (const co of obj as unknown[]) {
    if (g2) {
      if (!Array.isArray(co) || co.length !== 2) return `${what}: each G2 coordinate is a pair`;
      const pair = (co as unknown[]).map(toInt);
      if (pair.some((v) => v === undefined || v >= c.q)) {
        return `${what}: coordinates must be integers in [0, q)`;
      }
      coords.push(pair as bigint[]);
    } else {
      const v = toInt(co);
      if (v === undefined || v >= c.q) return `${what}: coordinates must be integers in [0, q)`;
      coords.push(v);
    }
  }
  const p = G.fromObject(coords);
  if (G.isZero(p)) return `${what} is the point at infinity`;
  if (!G.isValid(p)) return `${what} is not on the curve`;
  return G.toAffine(p);
}

/** [r]B = O: B lies in the order-r subgroup G2 (see the module comment for why it matters). */
export function inG2Subgroup(c: Bn128, B: Uint8Array): boolean {
  return c.G2.isZero(c.G2.timesScalar(B, c.r));
}

export interface ParsedProof {
  A: Uint8Array;
  B: Uint8Array;
  C: Uint8Array;
}

export function parseProof(c: Bn128, proof: unknown): ParsedProof | string {
  if (typeof proof !== "object" || proof === null) return "the proof is not an object";
  const p = proof as Record<string, unknown>;
  if (p.protocol !== undefined && p.protocol !== "groth16") return "the proof's protocol is not groth16";
  if (p.curve !== undefined && p.curve !== "bn128") return "the proof's curve is not bn128";
  const A = parsePoint(c, c.G1, p.pi_a, false, "pi_a");
  if (typeof A === "string") return A;
  const B = parsePoint(c, c.G2, p.pi_b, true, "pi_b");
  if (typeof B === "string") return B;
  const C = parsePoint(c, c.G1, p.pi_c, false, "pi_c");
  if (typeof C === "string") return C;
  if (!inG2Subgroup(c, B)) return "pi_b is on the twist but not in the subgroup G2";
  return { A, B, C };
}

/** A uniformly random integer in [1, 2^128) from the platform's CSPRNG. */
export function random128(): bigint {
  const b = new Uint8Array(16);
  for (;;) {
    globalThis.crypto.getRandomValues(b);
    let v = 0n;
    for (const x of b) v = (v << 8n) | BigInt(x);
    if (v !== 0n) return v;
  }
}
