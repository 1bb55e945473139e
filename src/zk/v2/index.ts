/**
 * src/zk/v2: protocol version 2 (PROTOCOL.md): module circuits with committed public inputs, shape
 * keys from `newZKey`, the weight commitment W_m and its proof of knowledge, the buyer's fold,
 * the per-deal δ update and its check, proving and off-chain verification. No transport, no chain.
 */
export {
  V2_VARIANT,
  V2_CIRCUITS_DIR,
  V2_MAX_WEIGHTS,
  validateV2Shape,
  weightCount,
  publicInputCount,
  v2ShapeName,
  v2ShapeId,
  v2MainSource,
  v2Constraints,
  compileV2,
  baseIndex,
  readZkeySections,
  groth16Header,
  computeKeyHash,
  pointsHash,
  buildShapeKey,
  solidityShapeKey,
  g1Coords,
  g1Point,
  g2Point,
  g1FromLem,
  g2FromLem,
  type V2Shape,
  type G1Point,
  type G2Point,
  type OnchainKey,
  type ShapeKey,
  type ShapeKeyOptions,
  type Groth16Header,
} from "./key.js";
export { msmField, msmSigned, scalarsLE } from "./msm.js";
export {
  PokError,
  randomFieldElement,
  checkOpening,
  weightVector,
  weightCommitment as weightCommitmentV2,
  pokChallenge,
  commitWeights,
  checkWeightPok,
  verifyWeightPok,
  type ModuleOpening,
  type PokContext,
  type WeightPok,
} from "./commit.js";
export {
  MAX_ABS_ENTRY,
  FoldMismatchError,
  checkRows,
  activationDigest,
  outputDigestV2,
  rhoV2,
  foldRows,
  fingerprintV2,
  foldCommitment,
  foldEntry,
  checkFoldedEntry,
  type FoldedEntry,
} from "./fold.js";
export {
  DeltaUpdateError,
  deltaOf,
  contributeDelta,
  checkDeltaUpdate,
  verifyContributions,
  type ContributionRecord,
} from "./delta.js";
export {
  v2CircuitInput,
  v2PublicInputs,
  proveV2,
  type FoldInput,
  type V2Proof,
  type ProveV2Options,
} from "./prove.js";
export {
  V2Verifier,
  toSolidityProofV2,
  toSolidityStatement,
  type V2Statement,
  type SolidityProofV2,
} from "./verify.js";
