/**
 * src/zk: the zero-knowledge layer of zklora-escrow. Field and quantization, the Poseidon sponge,
 * keccak output digest, rho, fingerprint, shapes, circuit build + ceremony pipeline, proving and
 * verifying. Knows no transport and no chain client. Encodings: ARCHITECTURE.md.
 */
export { P, toField, fromFieldSigned, assertField } from "./field.js";
export {
  ZkError,
  QuantizationError,
  ShapeError,
  FieldError,
  PtauError,
  CompileError,
  CeremonyError,
  WitnessError,
} from "./errors.js";
export {
  DEFAULT_SCALES,
  MAX_QUANTIZED,
  quantize,
  quantizeMatrix,
  quantizeLora,
  quantizeActivations,
  type Scales,
} from "./quantize.js";
export {
  SPONGE_RATE,
  SPONGE_TAG_WEIGHTS,
  SPONGE_TAG_ACTIVATIONS,
  spongeHash,
  weightCommitment,
  activationHash,
  randomSalt,
} from "./sponge.js";
export { loraProduct, outputDigest, computeRho, fingerprint, type RhoInputs } from "./statement.js";
export {
  SHAPE_VARIANT,
  CIRCUITS_DIR,
  SHAPES_FILE,
  shapeId,
  validateShape,
  loadShapes,
  findShape,
  mainSource,
  type Shape,
} from "./shape.js";
export {
  TOOL_VERSIONS,
  DEV_CONTRIBUTIONS,
  DEV_BEACON,
  BEACON_ITERATIONS_EXP,
  buildCircuit,
  loadProductionArtifacts,
  compileCircuit,
  writeMainFile,
  mainFile,
  verifierContractName,
  type BuildOptions,
  type CeremonyRecord,
  type CircuitArtifacts,
  type Contribution,
} from "./build.js";
export {
  KNOWN_DEV_PTAU,
  SHARED_PTAU_DIR,
  requiredPower,
  selectPtau,
  generateDevPtau,
  type PtauChoice,
  type PtauOptions,
} from "./ptau.js";
export {
  proveModule,
  verifyModule,
  toSolidityProof,
  moduleStatement,
  circuitInput,
  calculateWitness,
  checkWitness,
  checkWitnessShape,
  type Groth16Proof,
  type ModuleWitness,
  type PublicSignals,
  type SolidityProof,
} from "./prove.js";
export { readR1csInfo, type R1csInfo } from "./r1cs.js";
export { progressLogger, type ProgressFn } from "./progress.js";
export {
  VERIFIERS_DIR,
  MANIFEST_FILE,
  DriftError,
  runCircuitsPipeline,
  readManifest,
  loadCircuitArtifacts,
  verifierRelPath,
  type Manifest,
  type ManifestEntry,
  type PipelineOptions,
} from "./pipeline.js";
export {
  DELIVERY_VARIANT,
  DELIVERY_DIR,
  DELIVERY_SHAPES_FILE,
  DELIVERY_MANIFEST_FILE,
  DELIVERY_VERIFIER_PREFIX,
  deliveryShapeId,
  validateDeliveryShape,
  loadDeliveryShapes,
  findDeliveryShape,
  deliveryVerifierName,
  deliveryMainSource,
  deliveryMainFile,
  deliveryVerifierRelPath,
  buildCircuitTarget,
  buildDeliveryCircuit,
  deliveryTarget,
  runDeliveryPipeline,
  type CircuitTarget,
  type TargetArtifacts,
  type DeliveryShape,
  type DeliveryArtifacts,
  type DeliveryManifest,
  type DeliveryManifestEntry,
  type DeliveryPipelineOptions,
} from "./delivery-build.js";
export {
  KEYSTREAM_DOMAIN,
  SPONGE_TAG_CIPHERTEXT,
  randomDeliveryKey,
  deliveryKeyHash,
  keystream,
  deliveryLength,
  weightElements,
  encryptWeights,
  decryptWeights,
  ciphertextHash,
  deliveryStatement,
  deliveryCircuitInput,
  proveDelivery,
  verifyDelivery,
  weightDims,
  type DeliverySignals,
  type ModuleWeights,
} from "./delivery.js";
