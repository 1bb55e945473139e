/**
 * Prepared Groth16 verification on BN254 (bn128), the off-chain hot path of the buyer's client.
 *
 * `snarkjs.groth16.verify` redoes every per-key step on each call (parses the key, prepares
 * beta, gamma and delta, 4 Miller loops including e(alpha, beta)) and sends the Miller loops and
 * the public-input MSM to ffjavascript's worker threads, so its time is dominated by thread
 * messaging on a loaded machine. A {@link PreparedVerifier} does the per-key work once
 * (parses and checks the key, e(alpha, beta) as a G_T element, gamma and delta prepared for Miller
 * loops) and then verifies a proof synchronously in this thread: the public-input MSM, 3 Miller
 * loops (A·B, vk_x·gamma, C·delta) multiplied, ONE final exponentiation, compared with the
 * precomputed e(alpha, beta)^-1. {@link PreparedVerifier.verifyBatch} checks n proofs of one key
 * with a random linear combination: n + 2 Miller loops and one final exponentiation.
 *
 * The equation (snarkjs's, https://eprint.iacr.org/2016/260.pdf):
 *   e(-A, B) · e(vk_x, gamma) · e(C, delta) · e(alpha, beta) = 1,
 *   vk_x = IC_0 + Σ_j s_j · IC_j  (s_j the public signals).
 *
 * What is checked on untrusted input, and why (any failure makes `verify` return false; it
 * never throws on a proof or signals, however malformed):
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
 * - public signals: exactly nPublic of them, each a canonical field element 0 <= s < r (r the
 *   BN254 scalar-field order). Without the range check, s and s + r would give the same vk_x, so
 *   one proof would "prove" several statements.
 * The verification key is trusted configuration: a malformed one makes {@link prepareVerifier}
 * throw {@link VerificationKeyError}. Misuse of the batch API (no proofs, lengths that differ)
 * throws {@link BatchInputError}.
 */
import * as snarkjs from "snarkjs";
import { buildBn128, type Bn128, type WasmCurve } from "ffjavascript";
import { ZkError } from "./errors.js";
import type { Groth16Proof } from "./prove.js";

/** The verification key is malformed, not for BN254 Groth16, or inconsistent. */
export class VerificationKeyError extends ZkError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("VKEY", message, options);
  }
}

/** `verifyBatch` was called with no proofs or with proofs and signal lists of different lengths. */
export class BatchInputError extends ZkError {
  constructor(message: string) {
    super("BATCH_INPUT", message);
  }
}

/** A proof's public signals as accepted by the verifier (canonical field elements). */
export type SignalsInput = readonly (bigint | string)[];

/** The outcome of {@link PreparedVerifier.check}: `reason` says why a proof was rejected. */
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

function parseSignals(c: Bn128, sigs: unknown, n: number): bigint[] | string {
  if (!Array.isArray(sigs)) return "the public signals are not an array";
  if (sigs.length !== n) return `expected ${n} public signals, got ${sigs.length}`;
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) {
    const v = toInt(sigs[i]);
    if (v === undefined) return `public signal ${i} is not a non-negative integer`;
    if (v >= c.r) return `public signal ${i} is not below the field order r`;
    out.push(v);
  }
  return out;
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

/**
 * A Groth16 verification key prepared for fast repeated verification. Make one with
 * {@link prepareVerifier} (or get a cached one with {@link preparedVerifierFor}).
 */
export class PreparedVerifier {
  private constructor(
    private readonly c: Bn128,
    /** The number of public signals a proof of this key has. */
    readonly nPublic: number,
    /** IC_0..IC_nPublic, affine. */
    private readonly ic: Uint8Array[],
    private readonly gammaPre: Uint8Array,
    private readonly deltaPre: Uint8Array,
    /** e(alpha, beta)^-1 = e(-alpha, beta), reduced (in G_T). */
    private readonly target: Uint8Array,
  ) {}

  /** Fixed-base window table of target (see targetPow), built by the first batch. */
  private powTable: Uint8Array[][] | undefined;

  /** @internal Use {@link prepareVerifier}. */
  static async create(vkey: object): Promise<PreparedVerifier> {
    const c = await engine();
    const vk = vkey as Record<string, unknown>;
    if (typeof vkey !== "object" || vkey === null) throw new VerificationKeyError("vkey must be an object");
    if (vk.protocol !== "groth16") {
      throw new VerificationKeyError(`vkey.protocol is ${String(vk.protocol)}, need "groth16"`);
    }
    if (vk.curve !== "bn128") {
      throw new VerificationKeyError(`vkey.curve is ${String(vk.curve)}, need "bn128" (BN254)`);
    }
    const n = vk.nPublic;
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) {
      throw new VerificationKeyError("vkey.nPublic must be a non-negative integer");
    }
    if (!Array.isArray(vk.IC) || vk.IC.length !== n + 1) {
      throw new VerificationKeyError(`vkey.IC must have nPublic + 1 = ${n + 1} points`);
    }
    const g1 = (obj: unknown, what: string): Uint8Array => {
      const p = parsePoint(c, c.G1, obj, false, `vkey.${what}`);
      if (typeof p === "string") throw new VerificationKeyError(p);
      return p;
    };
    const g2 = (obj: unknown, what: string): Uint8Array => {
      const p = parsePoint(c, c.G2, obj, true, `vkey.${what}`);
      if (typeof p === "string") throw new VerificationKeyError(p);
      if (!inG2Subgroup(c, p)) throw new VerificationKeyError(`vkey.${what} is not in the subgroup G2`);
      return p;
    };
    const alpha = g1(vk.vk_alpha_1, "vk_alpha_1");
    const beta = g2(vk.vk_beta_2, "vk_beta_2");
    const gamma = g2(vk.vk_gamma_2, "vk_gamma_2");
    const delta = g2(vk.vk_delta_2, "vk_delta_2");
    const ic = (vk.IC as unknown[]).map((p, i) => g1(p, `IC[${i}]`));

    const alphaBeta = c.finalExponentiation(
      c.millerLoop(c.prepareG1(c.G1.toJacobian(alpha)), c.prepareG2(c.G2.toJacobian(beta))),
    );
    if (vk.vk_alphabeta_12 !== undefined) {
      let given: Uint8Array;
      try {
        given = c.Gt.fromObject(deepBigInt(vk.vk_alphabeta_12));
      } catch (err) {
        throw new VerificationKeyError("vkey.vk_alphabeta_12 is malformed", { cause: err });
      }
      if (!c.Gt.eq(given, alphaBeta)) {
        throw new VerificationKeyError("vkey.vk_alphabeta_12 is not e(vk_alpha_1, vk_beta_2)");
      }
    }
    return new PreparedVerifier(
      c,
      n,
      ic,
      c.prepareG2(c.G2.toJacobian(gamma)),
      c.prepareG2(c.G2.toJacobian(delta)),
      c.Gt.inv(alphaBeta),
    );
  }

  /** The Miller loop of (P, prepared Q); undefined (i.e. 1) when P is the point at infinity. */
  private miller(P: Uint8Array, preQ: Uint8Array): Uint8Array | undefined {
    const { c } = this;
    if (c.G1.isZero(P)) return undefined;
    return c.millerLoop(c.prepareG1(c.G1.toJacobian(P)), preQ);
  }

  /** coef_0 · IC_0 + Σ coef_j · IC_j (coefficients already reduced mod r). */
  private icCombination(coef: readonly bigint[]): Uint8Array {
    const G1 = this.c.G1;
    let acc: Uint8Array = G1.zeroAffine;
    for (let j = 0; j < coef.length; j++) {
      if (coef[j] === 0n) continue;
      acc = G1.add(acc, coef[j] === 1n ? this.ic[j] : G1.timesScalar(this.ic[j], coef[j]));
    }
    return acc;
  }

  /** Verifies one proof and says why it was rejected. Never throws on untrusted input. */
  check(proof: Groth16Proof, publicSignals: SignalsInput): VerifyOutcome {
    const { c } = this;
    let parsed: ParsedProof | string;
    let sigs: bigint[] | string;
    try {
      parsed = parseProof(c, proof);
      sigs = parseSignals(c, publicSignals, this.nPublic);
    } catch (err) {
      return { ok: false, reason: `malformed proof: ${(err as Error).message}` };
    }
    if (typeof parsed === "string") return { ok: false, reason: parsed };
    if (typeof sigs === "string") return { ok: false, reason: sigs };
    const vkx = this.icCombination([1n, ...sigs]);
    const Gt = c.Gt;
    let f = c.millerLoop(
      c.prepareG1(c.G1.toJacobian(c.G1.neg(parsed.A))),
      c.prepareG2(c.G2.toJacobian(parsed.B)),
    );
    const fx = this.miller(vkx, this.gammaPre);
    if (fx !== undefined) f = Gt.mul(f, fx);
    f = Gt.mul(f, this.miller(parsed.C, this.deltaPre) as Uint8Array);
    if (!Gt.eq(c.finalExponentiation(f), this.target)) {
      return { ok: false, reason: "the pairing equation does not hold" };
    }
    return { ok: true };
  }

  /** Verifies one proof against this key (same accept set as snarkjs, minus the cases above). */
  verify(proof: Groth16Proof, publicSignals: SignalsInput): boolean {
    return this.check(proof, publicSignals).ok;
  }

  /**
   * Verifies n proofs of this key at once: true iff (with probability >= 1 - 2^-128 over this
   * call's fresh randomness) every proof verifies. Draws r_0 = 1 and r_i (i >= 1) uniform in
   * [1, 2^128) and checks
   *   Π e(-r_i·A_i, B_i) · e(Σ r_i·vk_x_i, gamma) · e(Σ r_i·C_i, delta) = e(alpha, beta)^-(Σ r_i)
   * with n + 2 Miller loops, one final exponentiation and a fixed-base G_T power of the
   * precomputed e(alpha, beta)^-1 (Σ r_i·vk_x_i is one MSM over the IC points). Soundness: write proof i's defect d_i
   * as the discrete log of its left-hand side over e(alpha, beta)^-1 in G_T (order r, prime);
   * d_i = 0 iff proof i verifies. The batch passes iff Σ r_i·d_i = 0 mod r. If some d_k != 0
   * (k >= 1), for any fixed other r's at most one value of r_k passes, so a batch with an invalid
   * proof passes with probability <= 1/(2^128 - 1); if only d_0 != 0 it never passes. The r_i
   * are drawn after the proofs are given and never leave this call.
   * A malformed proof or signal list anywhere makes the batch false (use {@link check} to find
   * it). Throws BatchInputError for an empty batch (it would prove nothing) or mismatched lengths.
   */
  verifyBatch(proofs: readonly Groth16Proof[], publicSignals: readonly SignalsInput[]): boolean {
    const { c } = this;
    if (!Array.isArray(proofs) || !Array.isArray(publicSignals)) {
      throw new BatchInputError("verifyBatch takes an array of proofs and an array of signal lists");
    }
    if (proofs.length !== publicSignals.length) {
      throw new BatchInputError(
        `verifyBatch got ${proofs.length} proofs but ${publicSignals.length} public-signal lists`,
      );
    }
    if (proofs.length === 0) {
      throw new BatchInputError("verifyBatch got no proofs: an empty batch proves nothing; skip the call");
    }
    const parsed: ParsedProof[] = [];
    const sigs: bigint[][] = [];
    try {
      for (let i = 0; i < proofs.length; i++) {
        const p = parseProof(c, proofs[i]);
        const s = parseSignals(c, publicSignals[i], this.nPublic);
        if (typeof p === "string" || typeof s === "string") return false;
        parsed.push(p);
        sigs.push(s);
      }
    } catch {
      return false;
    }
    const { G1, Gt } = c;
    const r = c.r;
    const coef = new Array<bigint>(this.nPublic + 1).fill(0n);
    let cSum: Uint8Array = G1.zeroAffine;
    let f = Gt.one;
    for (let i = 0; i < parsed.length; i++) {
      const ri = i === 0 ? 1n : random128();
      const { A, B, C } = parsed[i];
      const rA = ri === 1n ? A : G1.timesScalar(A, ri);
      f = Gt.mul(f, c.millerLoop(c.prepareG1(G1.toJacobian(G1.neg(rA))), c.prepareG2(c.G2.toJacobian(B))));
      cSum = G1.add(cSum, ri === 1n ? C : G1.timesScalar(C, ri));
      coef[0] = (coef[0] + ri) % r;
      for (let j = 0; j < this.nPublic; j++) coef[j + 1] = (coef[j + 1] + ri * sigs[i][j]) % r;
    }
    const fx = this.miller(this.icCombination(coef), this.gammaPre);
    if (fx !== undefined) f = Gt.mul(f, fx);
    const fc = this.miller(cSum, this.deltaPre);
    if (fc !== undefined) f = Gt.mul(f, fc);
    return Gt.eq(c.finalExponentiation(f), this.targetPow(coef[0]));
  }

  /**
   * target^e in G_T by fixed-base windows: table[w][d] = target^(d·16^w), built on the first
   * batch (960 G_T multiplications, ~360 KiB); then at most 64 multiplications per exponent
   * (ffjavascript's generic F12 `exp` takes ~4 ms for a 130-bit exponent, this ~0.4 ms).
   */
  private targetPow(e: bigint): Uint8Array {
    const Gt = this.c.Gt;
    if (this.powTable === undefined) {
      const table: Uint8Array[][] = [];
      let base = this.target;
      for (let w = 0; w < 64; w++) {
        const row: Uint8Array[] = [Gt.one, base];
        for (let d = 2; d < 16; d++) row.push(Gt.mul(row[d - 1], base));
        table.push(row);
        base = Gt.mul(row[15], base);
      }
      this.powTable = table;
    }
    let acc = Gt.one;
    for (let w = 0, x = e % this.c.r; x > 0n; w++, x >>= 4n) {
      const d = Number(x & 15n);
      if (d !== 0) acc = Gt.mul(acc, this.powTable[w][d]);
    }
    return acc;
  }
}

function deepBigInt(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(deepBigInt);
  const n = toInt(v);
  if (n === undefined) throw new Error(`not an integer: ${String(v)}`);
  return n;
}

/**
 * Does the per-key work once: parses and checks the key (points on their curves, G2 points in
 * the subgroup, nPublic + 1 IC points, vk_alphabeta_12 if present equal to e(alpha, beta)),
 * computes e(alpha, beta) and prepares gamma and delta for Miller loops.
 * Throws VerificationKeyError for a malformed key.
 */
export function prepareVerifier(vkey: object): Promise<PreparedVerifier> {
  return PreparedVerifier.create(vkey);
}

const byObject = new WeakMap<object, Promise<PreparedVerifier>>();
const byContent = new Map<string, Promise<PreparedVerifier>>();
const MAX_BY_CONTENT = 64;

/**
 * A cached PreparedVerifier for a vkey: the same object hits at once; an equal key parsed anew
 * hits by content (JSON text; up to 64 keys kept, least recently used evicted).
 */
export function preparedVerifierFor(vkey: object): Promise<PreparedVerifier> {
  const hit = byObject.get(vkey);
  if (hit !== undefined) return hit;
  const text = JSON.stringify(vkey, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
  let p = byContent.get(text);
  if (p !== undefined) {
    byContent.delete(text);
  } else {
    p = prepareVerifier(vkey);
    p.catch(() => {
      byContent.delete(text);
      byObject.delete(vkey);
    });
  }
  byContent.set(text, p);
  if (byContent.size > MAX_BY_CONTENT) byContent.delete(byContent.keys().next().value as string);
  byObject.set(vkey, p);
  return p;
}

/** Verifies one Groth16 proof against a vkey with the cached prepared verifier. */
export async function verifyGroth16(
  vkey: object,
  proof: Groth16Proof,
  publicSignals: SignalsInput,
): Promise<boolean> {
  return (await preparedVerifierFor(vkey)).verify(proof, publicSignals);
}

/**
 * Verifies with stock `snarkjs.groth16.verify` (kept for parity checks and benchmarks): signals
 * passed as decimal strings, snarkjs's own semantics (it may throw on malformed input).
 */
export async function verifyGroth16Snarkjs(
  vkey: object,
  proof: Groth16Proof,
  publicSignals: SignalsInput,
): Promise<boolean> {
  return snarkjs.groth16.verify(
    vkey,
    publicSignals.map((s) => s.toString()),
    proof,
  );
}
