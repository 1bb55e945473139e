/**
 * Delivery shapes and plans (PROTOCOL.md, "Weights delivered with the payment").
 *
 * A delivery shape is (CAP, BITS): the circuit `circuits/delivery/delivery_v2.circom`,
 * `DeliveryChunkV2(CAP, BITS)`, proves for one chunk of CAP signed BITS-bit weights that they are
 * in range, that the public ciphertext ct encrypts them (packed PACK = floor(252 / BITS) to a field
 * element) under the key behind hK, and (through vk_x) that they open the commitment W'_c.
 *
 * A module of N weights (w = A row-major || B row-major, commit.ts's `weightVector` order) is
 * delivered in `chunks` chunks of `cap` weights: chunk c holds w[c·cap .. (c+1)·cap) (the last one
 * padded with zeros) and is encrypted with nonce c. `cap` is the largest CAP whose circuit fits a
 * 2^16 domain (so one public ceremony per BITS serves every large module), or, for a module
 * smaller than that, N rounded up to a multiple of 3·PACK (one small chunk, no padding element).
 */
import path from "node:path";
import { AbiCoder, encodeBytes32String, keccak256 } from "ethers";
import { PROJECT_ROOT } from "../../common/cache.js";
import type { Scales } from "../quantize.js";
import { DeliveryRangeError } from "./errors.js";

/** A delivery circuit: CAP weights of BITS bits per chunk. */
export interface DeliveryShape {
  CAP: number;
  BITS: number;
}

/** How a module of N weights is split: `chunks` chunks of `cap` weights (the delivery shape's CAP). */
export interface DeliveryPlan {
  N: number;
  cap: number;
  chunks: number;
}

/** bytes32("zklora.delivery-chunk.v2"), the delivery shape id's variant. */
export const DELIVERY_VARIANT = encodeBytes32String("zklora.delivery-chunk.v2");
/** The delivery template's folder. */
export const DELIVERY_CIRCUITS_DIR = path.join(PROJECT_ROOT, "circuits", "delivery");
/** The largest domain a delivery chunk may need: 2^16 (constraints + public inputs < 65 536). */
export const DELIVERY_MAX_POWER = 16;
/** The most bits a delivered weight may have (quantized values stay below 2^53). */
export const DELIVERY_MAX_BITS = 64;

/** Constraints of zk-kit's PoseidonPerm(4) after circom's --O2 (measured, tested). */
const PERM4_CONSTRAINTS = 264;
/** hK's PoseidonPerm(2) (213) and the cipher's nonce < 2^128 check (246), after --O2 (measured, tested). */
const FIXED_CONSTRAINTS = 459;

/** BITS for a module's scales: max(fa, fb) + 4 (a LoRA weight of magnitude < 8 fits; default scales: 16). */
export function deliveryBits(scales: Pick<Scales, "fa" | "fb">): number {
  return validateDeliveryBits(Math.max(scales.fa, scales.fb) + 4);
}

/** Checks BITS (an integer in 2..64); returns it. */
export function validateDeliveryBits(bits: number): number {
  if (!Number.isInteger(bits) || bits < 2 || bits > DELIVERY_MAX_BITS)
    throw new DeliveryRangeError(`delivery BITS must be an integer in 2..${DELIVERY_MAX_BITS}, got ${bits}`);
  return bits;
}

/** PACK = floor(252 / BITS): weights per packed field element. */
export function packSize(bits: number): number {
  return Math.floor(252 / validateDeliveryBits(bits));
}

/** The sizes of a shape's packing: PACK, NP = ceil(CAP / PACK), NPAD (NP up to a multiple of 3), NCT = NPAD + 1. */
export function deliveryLayout(s: DeliveryShape): { PACK: number; NP: number; NPAD: number; NCT: number } {
  const PACK = packSize(s.BITS);
  const NP = Math.ceil(s.CAP / PACK);
  const NPAD = 3 * Math.ceil(NP / 3);
  return { PACK, NP, NPAD, NCT: NPAD + 1 };
}

/** The number of public inputs: hK, nonce, ct[NCT], w[CAP], salt. */
export function deliveryPublicInputCount(s: DeliveryShape): number {
  return 3 + deliveryLayout(s).NCT + s.CAP;
}

/**
 * The exact constraint count of `DeliveryChunkV2(CAP, BITS)` after --O2: CAP·BITS range-check bits,
 * NPAD/3 + 1 Poseidon permutations of the cipher, hK's permutation and the nonce check (the
 * packing and the decryption are linear).
 */
export function deliveryConstraints(s: DeliveryShape): number {
  const { NPAD } = deliveryLayout(s);
  return s.CAP * s.BITS + PERM4_CONSTRAINTS * (NPAD / 3 + 1) + FIXED_CONSTRAINTS;
}

/** Whether a shape's circuit fits the 2^power domain (constraints + public inputs + 1 ≤ 2^power). */
function fits(s: DeliveryShape, power: number): boolean {
  return deliveryConstraints(s) + deliveryPublicInputCount(s) + 1 <= 2 ** power;
}

/** The largest CAP whose chunk circuit fits a 2^power domain at `bits` (0 when none does). */
export function deliveryCapFor(bits: number, power: number): number {
  validateDeliveryBits(bits);
  let lo = 0;
  let hi = 2 ** power;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits({ CAP: mid, BITS: bits }, power)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The largest CAP whose chunk circuit fits a 2^16 domain at `bits` (2822 at BITS = 16). */
export function deliveryCapMax(bits: number): number {
  return deliveryCapFor(bits, DELIVERY_MAX_POWER);
}

/** The smallest domain of the default plans: below it a circuit's fixed part dominates. */
const DELIVERY_MIN_POWER = 11;

/** Checks a delivery shape (1 ≤ CAP ≤ deliveryCapMax(BITS)); returns a clean copy. */
export function validateDeliveryShape(s: DeliveryShape): DeliveryShape {
  validateDeliveryBits(s.BITS);
  const max = deliveryCapMax(s.BITS);
  if (!Number.isInteger(s.CAP) || s.CAP < 1 || s.CAP > max)
    throw new DeliveryRangeError(
      `delivery CAP must be an integer in 1..${max} at BITS = ${s.BITS}, got ${s.CAP}`,
    );
  return { CAP: s.CAP, BITS: s.BITS };
}

/**
 * The largest domain of the default plans, 2^14: the key-wrap circuit needs a ptau of that power
 * anyway, a chunk key is set up in under a minute on an idle machine, and proving cost is linear in the weights however
 * they are chunked (more, smaller chunks cost ~3% more constraints: a nonce check and hK per chunk).
 */
export const DELIVERY_PLAN_POWER = 14;

/**
 * The plan of a module of N weights: unless `opts.cap` is given (1..CAP_MAX), cap is the full
 * capacity of the smallest power-of-two domain (2^11..2^DELIVERY_PLAN_POWER) that holds all N
 * weights, else that of 2^DELIVERY_PLAN_POWER (675 at BITS 16) with several chunks. Capacities per
 * domain, not per module size, so modules of similar sizes share one delivery circuit (one key) and
 * a key's domain is never half empty. chunks = ceil(N / cap).
 */
export function deliveryPlan(N: number, bits: number, opts: { cap?: number } = {}): DeliveryPlan {
  if (!Number.isInteger(N) || N < 1) throw new DeliveryRangeError(`a module has N ≥ 1 weights, got ${N}`);
  let cap = opts.cap ?? deliveryCapFor(bits, DELIVERY_PLAN_POWER);
  if (opts.cap === undefined) {
    for (let p = DELIVERY_PLAN_POWER - 1; p >= DELIVERY_MIN_POWER; p--) {
      const c = deliveryCapFor(bits, p);
      if (c >= N) cap = c;
    }
  }
  validateDeliveryShape({ CAP: cap, BITS: bits });
  return { N, cap, chunks: Math.ceil(N / cap) };
}

/** Checks a plan's consistency (cap valid at `bits`, chunks = ceil(N / cap)); returns a clean copy. */
export function validateDeliveryPlan(plan: DeliveryPlan, bits: number): DeliveryPlan {
  if (!Number.isInteger(plan?.N) || plan.N < 1)
    throw new DeliveryRangeError(`a plan needs N ≥ 1 weights, got ${plan?.N}`);
  validateDeliveryShape({ CAP: plan.cap, BITS: bits });
  if (plan.chunks !== Math.ceil(plan.N / plan.cap))
    throw new DeliveryRangeError(
      `a plan of ${plan.N} weights in chunks of ${plan.cap} has ${Math.ceil(plan.N / plan.cap)} chunks, not ${plan.chunks}`,
    );
  return { N: plan.N, cap: plan.cap, chunks: plan.chunks };
}

/** The delivery shape of a plan. */
export function deliveryShapeOf(plan: DeliveryPlan, bits: number): DeliveryShape {
  return validateDeliveryShape({ CAP: plan.cap, BITS: bits });
}

/** Weights [start, end) of w that chunk c holds (end − start < cap only for the last chunk). */
export function chunkRange(plan: DeliveryPlan, c: number): { start: number; end: number } {
  if (!Number.isInteger(c) || c < 0 || c >= plan.chunks)
    throw new DeliveryRangeError(`chunk ${c} of a plan with ${plan.chunks} chunks`);
  const start = c * plan.cap;
  return { start, end: Math.min(start + plan.cap, plan.N) };
}

/** A readable name: `delivery_v2_c<CAP>_b<BITS>`. */
export function deliveryShapeName(s: DeliveryShape): string {
  const v = validateDeliveryShape(s);
  return `delivery_v2_c${v.CAP}_b${v.BITS}`;
}

/** `keccak256(abi.encode(bytes32 "zklora.delivery-chunk.v2", uint256 CAP, uint256 BITS))`. */
export function deliveryShapeId(s: DeliveryShape): string {
  const v = validateDeliveryShape(s);
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(["bytes32", "uint256", "uint256"], [DELIVERY_VARIANT, v.CAP, v.BITS]),
  );
}

/** The main source of a shape (written into the cache, never into the repository). */
export function deliveryMainSource(s: DeliveryShape): string {
  const v = validateDeliveryShape(s);
  return (
    `// Generated by src/zk/delivery/shape.ts. Do not edit.\npragma circom 2.1.5;\n\n` +
    `include "delivery_v2.circom";\n\n` +
    `component main {public [hK, nonce, ct, w, salt]} = DeliveryChunkV2(${v.CAP}, ${v.BITS});\n`
  );
}
