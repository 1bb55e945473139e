/**
 * Wrapping and unwrapping the delivery keys (PROTOCOL.md, "Weights delivered with the payment",
 * "Per deal"). Module m's delivery key k_m (a field element, hK_m = Poseidon1(k_m) stored at
 * propose) is sent to the buyer as
 *
 *   R_m = k_m + Poseidon5(TAG, S.x, S.y, dealId, m)   (mod p),   S = e·PK = sk·E
 *
 * where E = e·Base8 with a fresh e per deal. Anyone sees PK, E, dealId, m and R_m; only the holder
 * of sk (PK = sk·Base8) computes S and k_m = R_m − Poseidon5(...). The buyer checks every
 * unwrapped key against hK_m.
 */
import { poseidon5 } from "poseidon-lite";
import { deliveryKeyHash } from "../delivery/cipher.js";
import { FieldError } from "../errors.js";
import { P, assertField, toField } from "../field.js";
import {
  BABY_BASE8,
  assertBabyScalar,
  babyMul,
  checkBabyPoint,
  checkBuyerWrapKey,
  randomBabyScalar,
  type BabyPoint,
} from "./babyjub.js";
import { UnwrapError } from "./errors.js";

/** The ASCII of "zklora/v2/wrap" as a big-endian integer (the circuit's TAG). */
export const WRAP_TAG: bigint = BigInt("0x" + Buffer.from("zklora/v2/wrap", "ascii").toString("hex"));

/** Checks a module index (a non-negative safe integer). */
export function assertModuleIndex(m: number): number {
  if (!Number.isSafeInteger(m) || m < 0)
    throw new FieldError(`module index ${m} must be a non-negative integer`);
  return m;
}

/** The pad of module m: Poseidon5(TAG, S.x, S.y, dealId, m). */
export function wrapPad(S: BabyPoint, dealId: bigint, m: number): bigint {
  assertField(dealId, "dealId");
  assertField(S[0], "S.x");
  assertField(S[1], "S.y");
  return poseidon5([WRAP_TAG, S[0], S[1], dealId, BigInt(assertModuleIndex(m))]);
}

/** R = k + wrapPad(S, dealId, m) (mod p): one module's wrapped key under the shared point S. */
export function wrapDeliveryKey(S: BabyPoint, dealId: bigint, m: number, k: bigint): bigint {
  return toField(assertField(k, `delivery key of module ${m}`) + wrapPad(S, dealId, m));
}

/** hK = Poseidon1(k), the on-chain hash of a delivery key (defined with the delivery cipher). */
export { deliveryKeyHash };

/** The contributor's wrap of a deal's delivery keys. */
export interface WrappedKeys {
  /** The fresh scalar (secret: the contributor's witness, never published). */
  e: bigint;
  /** E = e·Base8, posted at settlement. */
  E: BabyPoint;
  /** R_m per module, in the order of `modules`. */
  R: bigint[];
}

/**
 * Wraps delivery keys for the buyer's pk (checked with checkBuyerWrapKey first) under a fresh e.
 * Throws WrapKeyError for a bad pk, FieldError for keys or a dealId outside the field.
 */
export function wrapDeliveryKeys(args: {
  pk: readonly bigint[];
  dealId: bigint;
  modules: readonly { m: number; k: bigint }[];
}): WrappedKeys {
  const pk = checkBuyerWrapKey(args.pk);
  assertField(args.dealId, "dealId");
  const e = randomBabyScalar();
  const E = babyMul(BABY_BASE8, e);
  const S = babyMul(pk, e);
  const R = args.modules.map(({ m, k }) => wrapDeliveryKey(S, args.dealId, m, k));
  return { e, E, R };
}

/**
 * The buyer's unwrap: S = sk·E, k_m = R_m − pad_m, each checked against hK_m. Returns the keys in
 * the order of `modules`. Throws WrapKeyError for a bad sk or E, UnwrapError naming the first
 * module whose key does not hash to its hK.
 */
export function unwrapDeliveryKeys(args: {
  sk: bigint;
  E: readonly bigint[];
  dealId: bigint;
  modules: readonly { m: number; R: bigint; hK: bigint }[];
}): bigint[] {
  const sk = assertBabyScalar(args.sk, "the buyer's wrap secret");
  const E = checkBabyPoint(args.E, "E");
  assertField(args.dealId, "dealId");
  const S = babyMul(E, sk);
  return args.modules.map(({ m, R, hK }) => {
    const k = toField(assertField(R, `R of module ${m}`) - wrapPad(S, args.dealId, m));
    if (hK < 0n || hK >= P || deliveryKeyHash(k) !== hK) {
      throw new UnwrapError(
        `module ${m}: the unwrapped key does not hash to hK (wrong secret key, E, dealId or R)`,
        m,
      );
    }
    return k;
  });
}
