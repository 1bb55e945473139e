/**
 * Batch verification keys: the verification key of a generated snarkjs verifier
 * (`contracts/verifiers/Groth16Verifier_<shape>.sol`, four public signals) as the constructor argument
 * of `Groth16BatchVerifier`. `parseVerifierKey` reads the constants from the Solidity source (the
 * committed, drift-checked source of truth); `npm run abi` writes them for every committed verifier into
 * ./verifierKeys.ts, so deploying needs neither the cache nor the file system. Pure: bundles for a browser.
 */

/** `Groth16BatchVerifier.VerificationKey`: decimal strings, in the generated verifier's constant order. */
export interface BatchVerificationKey {
  /** `[alphax, alphay]`. */
  alpha: [string, string];
  /** `[betax1, betax2, betay1, betay2]` (EIP-197 order). */
  beta: [string, string, string, string];
  /** `[gammax1, gammax2, gammay1, gammay2]`. */
  gamma: [string, string, string, string];
  /** `[deltax1, deltax2, deltay1, deltay2]`. */
  delta: [string, string, string, string];
  /** `[IC0x, IC0y, …, IC4x, IC4y]`. */
  ic: [string, string, string, string, string, string, string, string, string, string];
}

/** A verifier source is not a snarkjs Groth16 verifier with four public signals. */
export class VerifierKeyError extends Error {
  override name = "VerifierKeyError";
}

/** The constant names of a snarkjs 0.7.6 verifier with four public signals, in key order. */
export const VERIFIER_KEY_CONSTANTS = [
  "alphax",
  "alphay",
  "betax1",
  "betax2",
  "betay1",
  "betay2",
  "gammax1",
  "gammax2",
  "gammay1",
  "gammay2",
  "deltax1",
  "deltax2",
  "deltay1",
  "deltay2",
  ...[0, 1, 2, 3, 4].flatMap((j) => [`IC${j}x`, `IC${j}y`]),
] as const;

/**
 * Reads the verification key from the source of a snarkjs-generated Groth16 verifier with exactly four
 * public signals. Throws VerifierKeyError when a constant is missing or doubled, or the verifier has
 * another number of public signals.
 */
export function parseVerifierKey(source: string): BatchVerificationKey {
  const words = VERIFIER_KEY_CONSTANTS.map((name) => {
    const found = [...source.matchAll(new RegExp(`uint256\\s+constant\\s+${name}\\s*=\\s*(\\d+)\\s*;`, "g"))];
    if (found.length !== 1) {
      throw new VerifierKeyError(
        `the verifier source has ${found.length} definitions of constant ${name}; expected one (is it a snarkjs Groth16 verifier?)`,
      );
    }
    return BigInt(found[0][1]).toString();
  });
  if (/uint256\s+constant\s+IC5x\s*=/.test(source) || !/uint\[4\]\s+calldata\s+_pubSignals/.test(source)) {
    throw new VerifierKeyError("the verifier does not have exactly four public signals");
  }
  const w = words;
  return {
    alpha: [w[0], w[1]],
    beta: [w[2], w[3], w[4], w[5]],
    gamma: [w[6], w[7], w[8], w[9]],
    delta: [w[10], w[11], w[12], w[13]],
    ic: [w[14], w[15], w[16], w[17], w[18], w[19], w[20], w[21], w[22], w[23]],
  };
}

/** The 24 words of a key in order (alpha, beta, gamma, delta, ic). */
export function verifierKeyWords(key: BatchVerificationKey): bigint[] {
  return [...key.alpha, ...key.beta, ...key.gamma, ...key.delta, ...key.ic].map((v) => BigInt(v));
}

/**
 * Whether the bytecode of a generated verifier pushes every word of `key` (each constant is one PUSHn of
 * its minimal length there): the check that a batch verifier gets the key of the verifier beside it.
 */
export function bytecodeHoldsKey(bytecode: string, key: BatchVerificationKey): boolean {
  const code = bytecode.toLowerCase();
  return verifierKeyWords(key).every((v) => {
    let hex = v.toString(16);
    if (hex.length % 2 === 1) hex = `0${hex}`;
    const push = (0x5f + hex.length / 2).toString(16);
    return v !== 0n && code.includes(`${push}${hex}`);
  });
}

// ------------------------------------------------------------------ N public signals (chunk verifiers)

/** The largest public signal count `Groth16BatchVerifierN` takes. */
export const MAX_BATCH_SIGNALS = 8;

/**
 * `Groth16BatchVerifierN.VerificationKey`: a key with N public signals (1 <= N <= MAX_BATCH_SIGNALS),
 * decimal strings in the generated verifier's constant order. A `BatchVerificationKey` (N = 4) is one.
 */
export interface BatchVerificationKeyN {
  /** `[alphax, alphay]`. */
  alpha: [string, string];
  /** `[betax1, betax2, betay1, betay2]` (EIP-197 order). */
  beta: [string, string, string, string];
  /** `[gammax1, gammax2, gammay1, gammay2]`. */
  gamma: [string, string, string, string];
  /** `[deltax1, deltax2, deltay1, deltay2]`. */
  delta: [string, string, string, string];
  /** `[IC0x, IC0y, …, ICNx, ICNy]`: 2(N + 1) words. */
  ic: string[];
}

/** The keys of a chunked shape's two generated chunk verifiers (A: 5 public signals, B: 6). */
export interface ChunkVerificationKeys {
  A: BatchVerificationKeyN;
  B: BatchVerificationKeyN;
}

/** N, the public signal count of a key (`ic` holds 2(N + 1) words). */
export function keySignalCount(key: BatchVerificationKeyN): number {
  return key.ic.length / 2 - 1;
}

/**
 * Reads the verification key from the source of a snarkjs-generated Groth16 verifier with any number N
 * of public signals (1..MAX_BATCH_SIGNALS), taken from its `uint[N] calldata _pubSignals` parameter. With
 * `expectedSignals`, N must be that. Throws VerifierKeyError when the parameter or a constant is missing
 * or doubled, N is out of range or not the expected one, or the source has an IC constant beyond N.
 */
export function parseVerifierKeyN(source: string, expectedSignals?: number): BatchVerificationKeyN {
  const decl = [...source.matchAll(/uint\[(\d+)\]\s+calldata\s+_pubSignals/g)];
  if (decl.length !== 1) {
    throw new VerifierKeyError(
      `the verifier source declares ${decl.length} _pubSignals parameters; expected one (is it a snarkjs Groth16 verifier?)`,
    );
  }
  const n = Number(decl[0][1]);
  if (!(n >= 1 && n <= MAX_BATCH_SIGNALS)) {
    throw new VerifierKeyError(
      `the verifier has ${n} public signals; Groth16BatchVerifierN takes 1 to ${MAX_BATCH_SIGNALS}`,
    );
  }
  if (expectedSignals !== undefined && n !== expectedSignals) {
    throw new VerifierKeyError(`the verifier has ${n} public signals; expected ${expectedSignals}`);
  }
  const names = [
    ...VERIFIER_KEY_CONSTANTS.slice(0, 14),
    ...Array.from({ length: n + 1 }, (_, j) => [`IC${j}x`, `IC${j}y`]).flat(),
  ];
  const w = names.map((name) => {
    const found = [...source.matchAll(new RegExp(`uint256\\s+constant\\s+${name}\\s*=\\s*(\\d+)\\s*;`, "g"))];
    if (found.length !== 1) {
      throw new VerifierKeyError(
        `the verifier source has ${found.length} definitions of constant ${name}; expected one (is it a snarkjs Groth16 verifier?)`,
      );
    }
    return BigInt(found[0][1]).toString();
  });
  if (new RegExp(`uint256\\s+constant\\s+IC${n + 1}x\\s*=`).test(source)) {
    throw new VerifierKeyError(`the verifier has a constant IC${n + 1}x beyond its ${n} public signals`);
  }
  return {
    alpha: [w[0], w[1]],
    beta: [w[2], w[3], w[4], w[5]],
    gamma: [w[6], w[7], w[8], w[9]],
    delta: [w[10], w[11], w[12], w[13]],
    ic: w.slice(14),
  };
}

/** The 14 + 2(N + 1) words of a key in order (alpha, beta, gamma, delta, ic). */
export function verifierKeyWordsN(key: BatchVerificationKeyN): bigint[] {
  return [...key.alpha, ...key.beta, ...key.gamma, ...key.delta, ...key.ic].map((v) => BigInt(v));
}

/**
 * `bytecodeHoldsKey` for a key with any signal count: whether the bytecode of a generated verifier pushes
 * every word of `key` (each constant one PUSHn of its minimal length), the check that a batch verifier gets
 * the key of the generated verifier beside it. The signal count is the caller's to match (`deployZklora`
 * checks `keySignalCount` against the chunk kind).
 */
export function bytecodeHoldsKeyN(bytecode: string, key: BatchVerificationKeyN): boolean {
  const code = bytecode.toLowerCase();
  return verifierKeyWordsN(key).every((v) => {
    let hex = v.toString(16);
    if (hex.length % 2 === 1) hex = `0${hex}`;
    const push = (0x5f + hex.length / 2).toString(16);
    return v !== 0n && code.includes(`${push}${hex}`);
  });
}
