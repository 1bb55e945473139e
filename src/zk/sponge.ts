/**
 * The project's Poseidon sponge (ARCHITECTURE.md, "Sponge"), bit-identical to circuits/sponge.circom.
 *
 * circomlib's Poseidon permutation with state width 17 (capacity 1, rate 16). Initial state:
 * `state[0] = tag * 2^64 + n`, `state[1..16] = 0`. Each block of 16 inputs (the last one
 * zero-padded) is added to `state[1..16]`, then the state is permuted. The hash is `state[0]` after
 * the last permutation. n = 0 is rejected.
 */
import { buildPoseidon, type PoseidonOpt } from "circomlibjs";
import { FieldError } from "./errors.js";
import { P, toField } from "./field.js";

/** Sponge rate (elements absorbed per permutation). */
export const SPONGE_RATE = 16;
/** Domain tag of the weight commitment `A || B || salt`. */
export const SPONGE_TAG_WEIGHTS = 1n;
/** Domain tag of the activation hash (X row-major). */
export const SPONGE_TAG_ACTIVATIONS = 2n;

let poseidonPromise: Promise<PoseidonOpt> | undefined;
/**
 * circomlib's Poseidon permutation, in circomlibjs's WebAssembly build: the same function as
 * `buildPoseidonOpt` (checked by the parity tests against the circuit) and about 10x faster, which
 * matters on the inference path (hX of an 8 x 64 activation block is 32 permutations).
 */
function poseidon(): Promise<PoseidonOpt> {
  poseidonPromise ??= buildPoseidon();
  return poseidonPromise;
}

/**
 * PoseidonSponge_tag(values). Values are signed integers, taken mod p.
 */
export async function spongeHash(values: readonly bigint[], tag: bigint): Promise<bigint> {
  const n = values.length;
  if (n === 0) throw new FieldError("spongeHash: hashing zero elements is not allowed");
  if (tag < 0n || tag >= 2n ** 64n) throw new FieldError(`spongeHash: tag ${tag} must be in [0, 2^64)`);
  const pos = await poseidon();
  const F = pos.F;
  let state: Uint8Array[] = [F.e(toField(tag * 2n ** 64n + BigInt(n)))];
  for (let i = 0; i < SPONGE_RATE; i++) state.push(F.e(0n));
  for (let off = 0; off < n; off += SPONGE_RATE) {
    const inputs: bigint[] = [];
    for (let i = 0; i < SPONGE_RATE; i++) {
      const v = off + i < n ? toField(values[off + i]) : 0n;
      inputs.push(toField(F.toObject(state[i + 1]) + v));
    }
    state = pos(inputs, state[0], SPONGE_RATE + 1) as Uint8Array[];
  }
  return F.toObject(state[0]);
}

/** The weight commitment `C_m = PoseidonSponge_1(A || B || salt)`, A and B row-major. */
export async function weightCommitment(
  A: readonly bigint[][],
  B: readonly bigint[][],
  salt: bigint,
): Promise<bigint> {
  return spongeHash([...A.flat(), ...B.flat(), salt], SPONGE_TAG_WEIGHTS);
}

/** The activation hash `hX = PoseidonSponge_2(X)`, X row-major with all T rows. */
export async function activationHash(X: readonly bigint[][]): Promise<bigint> {
  return spongeHash(X.flat(), SPONGE_TAG_ACTIVATIONS);
}

/** A uniformly random field element for the commitment's salt (Web Crypto, works in browsers). */
export function randomSalt(): bigint {
  const bytes = new Uint8Array(48); // 384 bits, reduced mod p: bias below 2^-128
  globalThis.crypto.getRandomValues(bytes);
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v % P;
}
