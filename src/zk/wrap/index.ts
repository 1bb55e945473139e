/**
 * src/zk/wrap: the key-wrap proof of protocol v2 (PROTOCOL.md, "Weights delivered with the
 * payment", "Per deal"): the buyer's Baby Jubjub wrap key, wrapping and unwrapping the delivery
 * keys, the wrap circuit's key, proving and off-chain verification. No transport, no chain. The
 * per-deal wrap key is made and checked with src/zk/v2's contributeDelta / checkDeltaUpdate.
 */
export { WrapKeyError, UnwrapError } from "./errors.js";
export {
  BABY_IDENTITY,
  BABY_SUBORDER,
  BABY_BASE8,
  randomBabyScalar,
  assertBabyScalar,
  babyMul,
  babyEq,
  checkBabyPoint,
  checkBuyerWrapKey,
  subgroupCertificate,
  buyerWrapKeypair,
  type BabyPoint,
} from "./babyjub.js";
export {
  WRAP_TAG,
  assertModuleIndex,
  wrapPad,
  wrapDeliveryKey,
  deliveryKeyHash,
  wrapDeliveryKeys,
  unwrapDeliveryKeys,
  type WrappedKeys,
} from "./pad.js";
export {
  WRAP_SLOTS,
  WRAP_PUBLIC_INPUTS,
  WRAP_CIRCUITS_DIR,
  WRAP_NAME,
  WRAP_CIRCUIT_ID,
  wrapMainSource,
  compileWrap,
  computeWrapKeyHash,
  buildWrapKey,
  solidityWrapKey,
  type WrapOnchainKey,
  type WrapKey,
  type WrapKeyOptions,
} from "./key.js";
export {
  wrapPublicInputs,
  WrapVerifier,
  verifyKeyWrap,
  toSolidityWrapProof,
  type WrapStatement,
} from "./verify.js";
export {
  wrapCircuitInput,
  proveWrapGroup,
  proveKeyWrap,
  type WrapProof,
  type ProveWrapOptions,
} from "./prove.js";
