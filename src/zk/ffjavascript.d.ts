// Minimal typings for ffjavascript 0.3.1's BN254 engine, as src/zk/verifier.ts uses it. Points and
// field elements are Uint8Array buffers in the engine's internal (Montgomery, little-endian) form.

declare module "ffjavascript" {
  /** A field of the engine (F1, F2, F12/Gt); elements are Montgomery-form buffers. */
  export interface WasmField {
    n8: number;
    one: Uint8Array;
    zero: Uint8Array;
    mul(a: Uint8Array, b: Uint8Array): Uint8Array;
    square(a: Uint8Array): Uint8Array;
    add(a: Uint8Array, b: Uint8Array): Uint8Array;
    neg(a: Uint8Array): Uint8Array;
    inv(a: Uint8Array): Uint8Array;
    eq(a: Uint8Array, b: Uint8Array): boolean;
    isZero(a: Uint8Array): boolean;
    isSquare(a: Uint8Array): boolean;
    sqrt(a: Uint8Array): Uint8Array;
    /** `a^e` for a non-negative exponent (bigint or little-endian bytes). */
    exp(a: Uint8Array, e: bigint | Uint8Array): Uint8Array;
    e(v: bigint | string | number | (bigint | string)[]): Uint8Array;
    fromObject(v: unknown): Uint8Array;
    toObject(a: Uint8Array): unknown;
  }

  /** A curve group (G1 over F1, G2 over F2); points are affine (2 coords) or Jacobian (3). */
  export interface WasmCurve {
    F: WasmField;
    b: Uint8Array;
    zeroAffine: Uint8Array;
    oneAffine: Uint8Array;
    fromObject(a: unknown): Uint8Array;
    toObject(a: Uint8Array): unknown[];
    isValid(a: Uint8Array): boolean;
    isZero(a: Uint8Array): boolean;
    neg(a: Uint8Array): Uint8Array;
    add(a: Uint8Array, b: Uint8Array): Uint8Array;
    sub(a: Uint8Array, b: Uint8Array): Uint8Array;
    double(a: Uint8Array): Uint8Array;
    /** The point at infinity in Jacobian form. */
    zero: Uint8Array;
    /** The generator in Jacobian form. */
    g: Uint8Array;
    /** Σ s_i·P_i over affine LEM points; scalars little-endian, each buffer.length / n bytes. Jacobian result. */
    multiExpAffine(bases: Uint8Array, scalars: Uint8Array): Promise<Uint8Array>;
    /** LEM (Montgomery, little-endian) affine points to uncompressed big-endian coordinates. */
    batchLEMtoU(buff: Uint8Array): Promise<Uint8Array>;
    eq(a: Uint8Array, b: Uint8Array): boolean;
    timesScalar(a: Uint8Array, s: bigint | Uint8Array): Uint8Array;
    /** a·s for a scalar in Fr's (Montgomery) form. */
    timesFr(a: Uint8Array, s: Uint8Array): Uint8Array;
    /** A point drawn from a ChaCha generator (snarkjs's beacon and contribution derivation). */
    fromRng(rng: unknown): Uint8Array;
    toAffine(a: Uint8Array): Uint8Array;
    toJacobian(a: Uint8Array): Uint8Array;
  }

  /** The BN254 ("bn128") engine. */
  export interface Bn128 {
    name: string;
    q: bigint;
    r: bigint;
    G1: WasmCurve;
    G2: WasmCurve;
    F1: WasmField;
    F2: WasmField;
    Gt: WasmField;
    /** The scalar field; `fromRng` draws an element from a ChaCha generator. */
    Fr: WasmField & { fromRng(rng: unknown): Uint8Array };
    /** Jacobian G1 point -> prepared (affine) form for millerLoop. */
    prepareG1(p: Uint8Array): Uint8Array;
    /** Jacobian G2 point -> prepared form (line coefficients) for millerLoop. */
    prepareG2(q: Uint8Array): Uint8Array;
    millerLoop(preP: Uint8Array, preQ: Uint8Array): Uint8Array;
    finalExponentiation(f: Uint8Array): Uint8Array;
    terminate(): Promise<void>;
  }

  /** ffjavascript's ChaCha20 generator (what snarkjs seeds from a beacon). */
  export class ChaCha {
    constructor(seed: number[]);
    nextU32(): number;
    nextU64(): bigint;
  }

  /** Builds the engine; `singleThread` runs everything in this thread (no workers left alive). */
  export function buildBn128(singleThread?: boolean): Promise<Bn128>;
}
