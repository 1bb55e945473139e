/**
 * src/zk/delivery: the weight-delivery proofs of protocol v2 (PROTOCOL.md, "Weights delivered with
 * the payment"), ZK layer only: delivery shapes and plans, the chunk circuit's keys and ceremony
 * key check, the Poseidon cipher of the packed weights, chunk proofs and their verification, the
 * Okamoto link to W_m, the buyer's check of a module's delivery and its JSON form. No chain, no
 * transport.
 */
export {
  DeliveryCheckError,
  DeliveryDecryptError,
  DeliveryFormatError,
  DeliveryKeyError,
  DeliveryRangeError,
} from "./errors.js";
export {
  DELIVERY_CIRCUITS_DIR,
  DELIVERY_MAX_BITS,
  DELIVERY_MAX_POWER,
  DELIVERY_PLAN_POWER,
  DELIVERY_VARIANT,
  chunkRange,
  deliveryBits,
  deliveryCapFor,
  deliveryCapMax,
  deliveryConstraints,
  deliveryLayout,
  deliveryMainSource,
  deliveryPlan,
  deliveryPublicInputCount,
  deliveryShapeId,
  deliveryShapeName,
  deliveryShapeOf,
  packSize,
  validateDeliveryBits,
  validateDeliveryPlan,
  validateDeliveryShape,
  type DeliveryPlan,
  type DeliveryShape,
} from "./shape.js";
export {
  DEV_DELIVERY_BEACON,
  buildDeliveryKey,
  checkDeliveryKey,
  compileDelivery,
  computeDeliveryKeyHash,
  deliveryBaseIndex,
  devDeliveryCeremonyKey,
  type DeliveryKey,
  type DeliveryKeyCheck,
  type DeliveryKeyOptions,
  type DeliveryVk,
} from "./key.js";
export {
  checkDeliveryWeight,
  decryptModuleWeights,
  deliveryKeyHash,
  encryptChunk,
  encryptModuleWeights,
  packChunk,
  randomDeliveryKey,
  unpackChunk,
  type DeliveryCiphertext,
} from "./cipher.js";
export {
  DeliveryVerifier,
  chunkBases,
  deliveryCircuitInput,
  deliveryCommitment,
  deliveryPublicInputs,
  proveDeliveryChunk,
  verifyDeliveryChunk,
  type DeliveryChunkProof,
  type DeliveryChunkWitness,
  type DeliveryStatement,
  type ProveDeliveryOptions,
} from "./prove.js";
export {
  checkDeliveryLink,
  deliveryLinkChallenge,
  proveDeliveryLink,
  verifyDeliveryLink,
  type DeliveryLink,
  type DeliveryLinkOpening,
  type DeliveryLinkStatement,
} from "./link.js";
export {
  checkModuleDelivery,
  deliverModule,
  type DeliveredChunk,
  type ModuleDelivery,
  type ModuleDeliverySecrets,
} from "./module.js";
export {
  DELIVERY_JSON_VERSION,
  moduleDeliveryFromJson,
  moduleDeliveryToJson,
  type ModuleDeliveryJson,
} from "./json.js";
