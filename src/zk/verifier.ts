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
 *   twist y² = x³ + 3/(9+u) AND in the order-r subgroup G2 ([r]B = O, decided exactly by an
 *   endomorphism test that costs one 63-bit multiplication: inG2Subgroup). snarkjs checks only the
 *   curve equation. The twist has a huge cofactor: a point outside G2 is not an input of the
 *   bilinear pairing Groth16's soundness argument is about (the Miller loop is then not bilinear
 *   in it), and EIP-197 rejects such points; the batch check's random-linear-combination
 *   argument needs bilinearity too.
 * - A, B, C not the point at infinity (an honest proof has one only with probability ~2^-254;
 *   snarkjs's pairing code does not handle it, EIP-197 maps it to 1).
 *
 * For speed (issue 13: ≤ 10 ms per module proof) the pairing-side arithmetic below drives the
 * engine's WebAssembly directly: the G2 membership test, a multi-Miller loop (one F12 squaring
 * per step for all pairs) and fixed-base tables for a key's IC points. Same field and curve code
 * as the engine's own calls; test/zk/g2-subgroup.test.ts compares each with the slow definition.
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

// ------------------------------------------------------------ the engine's WebAssembly, directly
//
// ffjavascript's high-level calls copy every operand into and out of the WebAssembly memory; the
// functions below run whole algorithms on the engine's exported WebAssembly functions instead, in
// one "sync op" (scratch memory released at the end). Same field and curve code, same results.

/** ffjavascript's thread manager (as far as used here): the main instance and its allocator. */
interface ThreadManager {
  instance: { exports: Record<string, (...args: number[]) => number> };
  alloc(length: number): number;
  allocBuff(buff: Uint8Array): number;
  getBuff(pointer: number, length: number): Uint8Array;
  setBuff(pointer: number, buff: Uint8Array): void;
  startSyncOp(): void;
  endSyncOp(): void;
}

type Exports = ThreadManager["instance"]["exports"];

/** Runs `f` with the engine's WebAssembly exports; memory allocated in it is freed afterwards. */
function syncOp<T>(c: Bn128, f: (tm: ThreadManager, ex: Exports) => T): T {
  const tm = (c as unknown as { tm: ThreadManager }).tm;
  tm.startSyncOp();
  try {
    return f(tm, tm.instance.exports);
  } finally {
    tm.endSyncOp();
  }
}

/** The BN parameter x of BN254: p = 36x⁴ + 36x³ + 24x² + 6x + 1, r = 36x⁴ + 36x³ + 18x² + 6x + 1. */
export const BN_X = 4965661367192848881n;

/** Little-endian bytes of a non-negative integer, `n` bytes. */
function leBytes(v: bigint, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++, v >>= 8n) b[i] = Number(v & 0xffn);
  return b;
}

const X_LE = leBytes(BN_X, 8);
const F2N8 = 64;
const G2J = 3 * F2N8;

/** γx = ξ^((q−1)/3), γy = ξ^((q−1)/2) with ξ = 9 + u: the constants of ψ, per engine. */
const psiConsts = new WeakMap<Bn128, { gx: Uint8Array; gy: Uint8Array }>();

function psiConstants(c: Bn128): { gx: Uint8Array; gy: Uint8Array } {
  let k = psiConsts.get(c);
  if (k === undefined) {
    const xi = c.F2.fromObject([9n, 1n]);
    k = { gx: c.F2.exp(xi, (c.q - 1n) / 3n), gy: c.F2.exp(xi, (c.q - 1n) / 2n) };
    psiConsts.set(c, k);
  }
  return k;
}

/** ψ on Jacobian coordinates in WebAssembly memory: (X, Y, Z) -> (γx·X̄, γy·Ȳ, Z̄); `out` ≠ `p`. */
function psiIn(
  { gx, gy }: { gx: Uint8Array; gy: Uint8Array },
  tm: ThreadManager,
  ex: Exports,
): (p: number, out: number) => void {
  const pGx = tm.allocBuff(gx);
  const pGy = tm.allocBuff(gy);
  return (p, out) => {
    ex.f2m_conjugate(p, out);
    ex.f2m_mul(out, pGx, out);
    ex.f2m_conjugate(p + F2N8, out + F2N8);
    ex.f2m_mul(out + F2N8, pGy, out + F2N8);
    ex.f2m_conjugate(p + 2 * F2N8, out + 2 * F2N8);
  };
}

/** ψ(P) = twist ∘ Frobenius ∘ untwist of a twist point (affine or Jacobian in, Jacobian out). */
export function g2Psi(c: Bn128, P: Uint8Array): Uint8Array {
  const Pj = c.G2.toJacobian(P);
  const k = psiConstants(c); // (outside the sync op: it uses the engine's own calls)
  return syncOp(c, (tm, ex) => {
    const psi = psiIn(k, tm, ex);
    const out = tm.alloc(G2J);
    psi(tm.allocBuff(Pj), out);
    return tm.getBuff(out, G2J);
  });
}

/**
 * B lies in the order-r subgroup G2 (see the module comment for why it matters); B is a point of
 * the twist E': y² = x³ + 3/(9+u) over F_q² (affine or Jacobian, the caller checked the equation).
 *
 * The test (as in Dai, Lin, Zhao, Zhou 2022, "Fast subgroup membership testing for G1, G2 and GT
 * on pairing-friendly curves"; its exactness is shown below, independently of the paper):
 *
 *   [x+1]B + ψ([x]B) + ψ²([x]B) = ψ³([2x]B)
 *
 * with ψ = twist ∘ Frobenius ∘ untwist, ψ(x, y) = (γx·x̄, γy·ȳ), so one multiplication by the 63-bit
 * x instead of one by the 254-bit r. Why it is exact (not just necessary): ψ satisfies
 * ψ² − tψ + q = 0 on E' (t = 6x² + 1, the trace of E over F_q), so the endomorphism
 * f = (x+1) + xψ + xψ² − 2xψ³ reduces to a + bψ of degree a² + abt + b²q = r·m with
 * gcd(m, #E'(F_q²)/r) = 1 (and r ∤ m); f is separable (ψ is inseparable, so f acts on invariant
 * differentials as x + 1 ≢ 0 mod q), so ker f has exactly r·m points, and ker f ∩ E'(F_q²) — a
 * subgroup of order dividing gcd(r·m, r·(2q − r)) = r that contains G2 (ψ acts as [q] on G2, and
 * (x+1) + xq + xq² − 2xq³ ≡ 0 mod r) — is G2. test/zk/g2-subgroup.test.ts checks these identities
 * and compares the test with [r]B = O on random points, in and out of G2, including points with a
 * component of each prime order dividing the cofactor 2q − r.
 */
export function inG2Subgroup(c: Bn128, B: Uint8Array): boolean {
  if (c.G2.isZero(B)) return true;
  const Bj = c.G2.toJacobian(B);
  const k = psiConstants(c);
  return syncOp(c, (tm, ex) => {
    const psi = psiIn(k, tm, ex);
    const pB = tm.allocBuff(Bj);
    const pX = tm.alloc(G2J);
    ex.g2m_timesScalar(pB, tm.allocBuff(X_LE), X_LE.length, pX); // [x]B
    const [t0, t1, l0, l1] = [tm.alloc(G2J), tm.alloc(G2J), tm.alloc(G2J), tm.alloc(G2J)];
    ex.g2m_add(pX, pB, l0); // [x+1]B
    psi(pX, t0); // ψ([x]B)
    ex.g2m_add(l0, t0, l1);
    psi(t0, t1); // ψ²([x]B)
    ex.g2m_add(l1, t1, l0);
    ex.g2m_double(pX, t0); // [2x]B
    psi(t0, t1);
    psi(t1, t0);
    psi(t0, t1); // ψ³([2x]B)
    return ex.g2m_eq(l0, t1) !== 0;
  });
}

/** The ate loop count 6x + 2 of the engine's Miller loop, bit i at index i. */
const ATE_BITS = (() => {
  const bits: number[] = [];
  for (let e = 6n * BN_X + 2n; e > 0n; e >>= 1n) bits.push(Number(e & 1n));
  return bits;
})();

/** Pairs per multi-Miller loop: bounds the WebAssembly memory it takes (about 20 KB a pair). */
const MILLER_GROUP = 16;

/**
 * Π millerLoop(preP_i, preQ_i) in one loop (a multi-Miller loop: the F12 squarings are shared;
 * groups of MILLER_GROUP pairs), the same F12 element as the product of the engine's separate
 * Miller loops; `pairs` hold prepareG1 / prepareG2 outputs. Follows the engine's own
 * bn128_millerLoop step for step.
 */
export function multiMillerLoop(c: Bn128, pairs: readonly (readonly [Uint8Array, Uint8Array])[]): Uint8Array {
  let f: Uint8Array | undefined;
  for (let g = 0; g < pairs.length || f === undefined; g += MILLER_GROUP) {
    const m = millerGroup(c, pairs.slice(g, g + MILLER_GROUP));
    f = f === undefined ? m : c.Gt.mul(f, m);
  }
  return f;
}

function millerGroup(c: Bn128, pairs: readonly (readonly [Uint8Array, Uint8Array])[]): Uint8Array {
  return syncOp(c, (tm, ex) => {
    const F1N8 = 32;
    const COEF = 3 * F2N8; // one line: ELL_0, ELL_VW, ELL_VV
    const pF = tm.alloc(c.Gt.n8);
    const pVW = tm.alloc(F2N8);
    const pVV = tm.alloc(F2N8);
    const pP = pairs.map(([preP]) => tm.allocBuff(preP));
    // the prepared Q starts with the point (3 F2 elements), then the lines
    const pC = pairs.map(([, preQ]) => tm.allocBuff(preQ) + 3 * F2N8);
    const { ftm_square, f2m_mul1, bn128__mulBy024 } = ex;
    const line = () => {
      for (let i = 0; i < pP.length; i++) {
        f2m_mul1(pC[i] + F2N8, pP[i] + F1N8, pVW);
        f2m_mul1(pC[i] + 2 * F2N8, pP[i], pVV);
        bn128__mulBy024(pC[i], pVW, pVV, pF);
        pC[i] += COEF;
      }
    };
    ex.ftm_one(pF);
    for (let i = ATE_BITS.length - 2; i >= 0; i--) {
      ftm_square(pF, pF);
      line();
      if (ATE_BITS[i] !== 0) line();
    }
    line();
    line();
    return tm.getBuff(pF, c.Gt.n8);
  });
}

/**
 * Fixed-base multiplication in G1 for a base known in advance (a key's IC points): a table of
 * k·16^j·P (k = 1..15, j = 0..63, affine), so s·P costs at most 64 mixed additions instead of a
 * 254-bit double-and-add.
 */
export class FixedBaseG1 {
  private static readonly WINDOWS = 64;
  private static readonly ROW = 15;

  private constructor(private readonly table: Uint8Array) {}

  /** The table of a point of G1 (affine or Jacobian, not O). */
  static create(c: Bn128, P: Uint8Array): FixedBaseG1 {
    const { WINDOWS, ROW } = FixedBaseG1;
    const n = WINDOWS * ROW;
    const J = 3 * 32;
    const Pj = c.G1.toJacobian(P);
    return new FixedBaseG1(
      syncOp(c, (tm, ex) => {
        const pJac = tm.alloc(n * J);
        let base = tm.allocBuff(Pj); // 16^j·P
        for (let j = 0; j < WINDOWS; j++) {
          const row = pJac + j * ROW * J;
          ex.g1m_copy(base, row);
          for (let k = 1; k < ROW; k++) ex.g1m_add(row + (k - 1) * J, base, row + k * J);
          const next = tm.alloc(J);
          ex.g1m_add(row + (ROW - 1) * J, base, next); // 16·(16^j·P)
          base = next;
        }
        const pAff = tm.alloc(n * 64);
        ex.g1m_batchToAffine(pJac, n, pAff);
        return tm.getBuff(pAff, n * 64);
      }),
    );
  }

  /**
   * acc + Σ s_i·P_i (Jacobian) for fixed bases P_i and scalars 0 ≤ s_i < 2^256; `acc` affine or
   * Jacobian.
   */
  static sum(c: Bn128, acc: Uint8Array, terms: readonly (readonly [FixedBaseG1, bigint])[]): Uint8Array {
    const { WINDOWS, ROW } = FixedBaseG1;
    const J = 3 * 32;
    const accJ = c.G1.toJacobian(acc);
    return syncOp(c, (tm, ex) => {
      let a = tm.allocBuff(accJ);
      let b = tm.alloc(J);
      for (const [fb, s] of terms) {
        if (s < 0n || s >= 1n << 256n) throw new RangeError("scalar out of range");
        const pT = tm.allocBuff(fb.table);
        const hex = s.toString(16).padStart(WINDOWS, "0");
        for (let j = 0; j < WINDOWS; j++) {
          const k = parseInt(hex[WINDOWS - 1 - j], 16);
          if (k === 0) continue;
          ex.g1m_addMixed(a, pT + (j * ROW + k - 1) * 64, b);
          [a, b] = [b, a];
        }
      }
      return tm.getBuff(a, J);
    });
  }
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
