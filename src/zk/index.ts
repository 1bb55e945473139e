/**
 * src/zk: the zero-knowledge layer of zklora-escrow (protocol v2, PROTOCOL.md). Field and
 * quantization, the LoRA product and the challenge rho, powers of tau (public ceremony files and
 * the forgeable development ptau), circuit compilation, witnesses, the proving pool and Groth16
 * proof checks. The v2 circuits, keys, commitments, fold, δ update, proving and verification are in
 * src/zk/v2 (its own index). Knows no transport and no chain client.
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
export { loraProduct, computeRho, type RhoInputs } from "./statement.js";
export { TOOL_VERSIONS, compileMain, type CompiledCircuit } from "./compile.js";
export {
  PUBLIC_PTAU,
  checkPublicPtau,
  registerPublicPtauForTest,
  type PublicPtau,
  blake2bFile,
  devPtauAvailable,
  requiredPower,
  selectPtau,
  generateDevPtau,
  type PtauSource,
  type PtauChoice,
  type PtauOptions,
} from "./ptau.js";
export {
  DEV_PTAU_MAX_POWER,
  devBeaconHash,
  devPtauSecrets,
  writeDevPtau,
  type DevPtauSecrets,
} from "./devptau.js";
export { calculateWitness, checkWitness } from "./witness.js";
export { readR1csInfo, type R1csInfo } from "./r1cs.js";
export { progressLogger, timed, type ProgressFn, type ProgressKind } from "./progress.js";
export {
  VerificationKeyError,
  BatchInputError,
  engine,
  type Groth16Proof,
  type VerifyOutcome,
} from "./verifier.js";
export {
  ProvingPool,
  ProvingPoolError,
  PoolClosedError,
  ProverFailedError,
  ProverCrashedError,
  estimateProofMemory,
  type ProvingPoolOptions,
  type PoolCircuit,
  type PoolInputProof,
  type PoolStats,
} from "./pool.js";
