/**
 * The delivery cipher (PROTOCOL.md, "Weights delivered with the payment"): per module a uniform key
 * k ∈ F_p, hK = Poseidon([k]) (poseidon-lite's poseidon1), and per chunk c the weights packed
 * PACK = floor(252 / BITS) to a field element (offset by 2^(BITS−1), little end first) and
 * encrypted with zk-kit's Poseidon cipher under the key [k, 0] and the nonce c. The packing and the
 * encryption are exactly what `DeliveryChunkV2` constrains.
 */
import { poseidonDecrypt, poseidonEncrypt } from "@zk-kit/poseidon-cipher";
import { poseidon1 } from "poseidon-lite";
import { assertField, P } from "../field.js";
import { randomFieldElement } from "../v2/commit.js";
import { DeliveryDecryptError, DeliveryRangeError } from "./errors.js";
import { chunkRange, deliveryLayout, validateDeliveryPlan, type DeliveryPlan } from "./shape.js";

/** One encrypted chunk: its nonce (the chunk index) and NCT = NPAD + 1 field elements. */
export interface DeliveryCiphertext {
  nonce: number;
  ct: bigint[];
}

/** A uniform delivery key k ∈ F_p (the platform's CSPRNG). */
export function randomDeliveryKey(): bigint {
  return randomFieldElement();
}

/** hK = Poseidon([k]) (poseidon-lite's poseidon1; the circuit computes the same). */
export function deliveryKeyHash(k: bigint): bigint {
  return poseidon1([assertField(k, "the delivery key")]);
}

/** Throws DeliveryRangeError unless −2^(BITS−1) ≤ v < 2^(BITS−1); `what` names the weight. */
export function checkDeliveryWeight(v: bigint, bits: number, what: string): void {
  const half = 1n << BigInt(bits - 1);
  if (typeof v !== "bigint" || v < -half || v >= half)
    throw new DeliveryRangeError(
      `${what} = ${String(v)} is outside the delivery range [−2^${bits - 1}, 2^${bits - 1}) of BITS = ${bits}`,
    );
}

/**
 * Packs one chunk's weights (at most `cap`, padded with zeros to `cap`) into NPAD field elements:
 * packed[j] = Σ_t (w[j·PACK + t] + 2^(BITS−1))·2^(BITS·t), zero elements after NP. Throws
 * DeliveryRangeError on a weight outside the range (`first` is the index of w[0] in the module).
 */
export function packChunk(w: readonly bigint[], bits: number, cap: number, first = 0): bigint[] {
  const { PACK, NPAD } = deliveryLayout({ CAP: cap, BITS: bits });
  if (w.length > cap) throw new DeliveryRangeError(`a chunk holds at most ${cap} weights, got ${w.length}`);
  const B = BigInt(bits);
  const off = 1n << (B - 1n);
  const out = new Array<bigint>(NPAD).fill(0n);
  for (let i = 0; i < cap; i++) {
    const v = i < w.length ? w[i] : 0n;
    checkDeliveryWeight(v, bits, `weight ${first + i}`);
    out[Math.floor(i / PACK)] += (v + off) << (B * BigInt(i % PACK));
  }
  return out;
}

/**
 * The inverse of {@link packChunk}: `cap` signed weights from NPAD packed elements. Throws
 * DeliveryDecryptError when the elements are not a packing of in-range weights (another count,
 * bits above a slot, a nonzero padding element).
 */
export function unpackChunk(packed: readonly bigint[], bits: number, cap: number): bigint[] {
  const { PACK, NPAD } = deliveryLayout({ CAP: cap, BITS: bits });
  if (packed.length !== NPAD)
    throw new DeliveryDecryptError(`a chunk packs into ${NPAD} elements, got ${packed.length}`);
  const B = BigInt(bits);
  const off = 1n << (B - 1n);
  const mask = (1n << B) - 1n;
  const w = new Array<bigint>(cap);
  for (let i = 0; i < cap; i++)
    w[i] = ((packed[Math.floor(i / PACK)] >> (B * BigInt(i % PACK))) & mask) - off;
  const again = packChunk(w, bits, cap);
  for (let j = 0; j < NPAD; j++) {
    if (again[j] !== packed[j])
      throw new DeliveryDecryptError(`packed element ${j} is not a packing of ${bits}-bit weights`);
  }
  return w;
}

/** Encrypts one chunk (≤ cap weights, padded with zeros) under [k, 0] with the given nonce. */
export function encryptChunk(
  w: readonly bigint[],
  bits: number,
  cap: number,
  k: bigint,
  nonce: number,
  first = 0,
): DeliveryCiphertext {
  assertField(k, "the delivery key");
  if (!Number.isSafeInteger(nonce) || nonce < 0)
    throw new DeliveryRangeError(`nonce ${nonce} is not a chunk index`);
  return { nonce, ct: poseidonEncrypt(packChunk(w, bits, cap, first), [k, 0n], BigInt(nonce)) };
}

/**
 * Encrypts a module's N weights (`weightVector` order) by its plan: chunk c holds
 * w[c·cap .. (c+1)·cap) with nonce c. Throws DeliveryRangeError naming the first weight outside
 * the BITS-bit range.
 */
export function encryptModuleWeights(
  w: readonly bigint[],
  bits: number,
  plan: DeliveryPlan,
  k: bigint,
): DeliveryCiphertext[] {
  const p = validateDeliveryPlan(plan, bits);
  if (w.length !== p.N) throw new DeliveryRangeError(`the plan is for ${p.N} weights, got ${w.length}`);
  const out: DeliveryCiphertext[] = [];
  for (let c = 0; c < p.chunks; c++) {
    const { start, end } = chunkRange(p, c);
    out.push(encryptChunk(w.slice(start, end), bits, p.cap, k, c, start));
  }
  return out;
}

/**
 * Decrypts a module's chunks with k (what the buyer does once it holds k): N signed weights.
 * Throws DeliveryDecryptError naming the chunk on a wrong chunk count or nonce, a failed
 * authentication tag (wrong key or altered ciphertext), a malformed packing or a nonzero padding
 * weight.
 */
export function decryptModuleWeights(
  chunks: readonly DeliveryCiphertext[],
  k: bigint,
  plan: DeliveryPlan,
  bits: number,
): bigint[] {
  const p = validateDeliveryPlan(plan, bits);
  assertField(k, "the delivery key");
  const { NPAD, NCT } = deliveryLayout({ CAP: p.cap, BITS: bits });
  if (chunks.length !== p.chunks)
    throw new DeliveryDecryptError(`the plan has ${p.chunks} chunks, got ${chunks.length}`);
  const w: bigint[] = [];
  for (let c = 0; c < p.chunks; c++) {
    const { nonce, ct } = chunks[c];
    if (nonce !== c) throw new DeliveryDecryptError(`chunk ${c} has nonce ${nonce}, expected ${c}`);
    if (!Array.isArray(ct) || ct.length !== NCT || ct.some((v) => typeof v !== "bigint" || v < 0n || v >= P))
      throw new DeliveryDecryptError(`chunk ${c}: the ciphertext must be ${NCT} field elements`);
    let packed: bigint[];
    try {
      packed = poseidonDecrypt(ct, [k, 0n], BigInt(nonce), NPAD);
    } catch (err) {
      throw new DeliveryDecryptError(
        `chunk ${c}: the ciphertext does not decrypt under this key (${(err as Error).message})`,
        { cause: err },
      );
    }
    let part: bigint[];
    try {
      part = unpackChunk(packed, bits, p.cap);
    } catch (err) {
      throw new DeliveryDecryptError(`chunk ${c}: ${(err as Error).message}`, { cause: err });
    }
    const { start, end } = chunkRange(p, c);
    for (let i = end - start; i < p.cap; i++) {
      if (part[i] !== 0n)
        throw new DeliveryDecryptError(`chunk ${c}: padding weight ${i} is ${part[i]}, not 0`);
    }
    w.push(...part.slice(0, end - start));
  }
  return w;
}
