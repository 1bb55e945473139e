/**
 * EIP-712 messages of multi-party inference (protocol v2):
 * domain `{ name: "zklora-escrow", version: "2", chainId, verifyingContract: escrow }`;
 * `InferenceRequest(uint256 dealId,uint256 module,uint256 rows,bytes32 hX,uint256 nonce)` signed by
 * the buyer (rows are covered: a replay with other rows does not verify);
 * `InferenceResponse(uint256 dealId,uint256 module,uint256 nonce,uint256 seq,bytes32 hX,bytes32 hY)` signed by
 * the contributor; `DealKeyUpload(uint256 dealId,bytes32 shapeId,bytes32 zkeyHash)` signed by the
 * buyer when it hands its deal key of one shape to the contributor's server. hX and hY are the row
 * digests of src/zk/v2/fold.ts over the call's rows.
 */
import { getAddress, recoverAddress, Signature, TypedDataEncoder } from "ethers";
import type { TypedDataDomain, TypedDataField } from "ethers";

export const EIP712_NAME = "zklora-escrow";
export const EIP712_VERSION = "2";

export const INFERENCE_REQUEST_TYPES: Record<string, TypedDataField[]> = {
  InferenceRequest: [
    { name: "dealId", type: "uint256" },
    { name: "module", type: "uint256" },
    { name: "rows", type: "uint256" },
    { name: "hX", type: "bytes32" },
    { name: "nonce", type: "uint256" },
  ],
};

export const INFERENCE_RESPONSE_TYPES: Record<string, TypedDataField[]> = {
  InferenceResponse: [
    { name: "dealId", type: "uint256" },
    { name: "module", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "seq", type: "uint256" },
    { name: "hX", type: "bytes32" },
    { name: "hY", type: "bytes32" },
  ],
};

export const DEAL_KEY_UPLOAD_TYPES: Record<string, TypedDataField[]> = {
  DealKeyUpload: [
    { name: "dealId", type: "uint256" },
    { name: "shapeId", type: "bytes32" },
    { name: "zkeyHash", type: "bytes32" },
  ],
};

export interface InferenceRequestMessage {
  dealId: bigint;
  module: bigint;
  rows: bigint;
  /** bytes32 hex: activationDigest of the call's rows. */
  hX: string;
  nonce: bigint;
}

export interface InferenceResponseMessage {
  dealId: bigint;
  module: bigint;
  nonce: bigint;
  /** The call's sequence number in the deal's module (orders the rows of hX_m, hY_m). */
  seq: bigint;
  /** bytes32 hex. */
  hX: string;
  /** bytes32 hex: outputDigestV2 of the call's Y. */
  hY: string;
}

export interface DealKeyUploadMessage {
  dealId: bigint;
  /** bytes32 hex. */
  shapeId: string;
  /** bytes32 hex: keccak256 of the zkey file. */
  zkeyHash: string;
}

/** Anything that signs EIP-712 data (an ethers v6 Signer / Wallet / HardhatEthersSigner). */
export interface TypedDataSigner {
  getAddress(): Promise<string>;
  signTypedData(
    domain: TypedDataDomain,
    types: Record<string, TypedDataField[]>,
    value: Record<string, unknown>,
  ): Promise<string>;
}

/** The EIP-712 domain of one escrow on one chain. */
export function eip712Domain(chainId: bigint, escrow: string): TypedDataDomain {
  return { name: EIP712_NAME, version: EIP712_VERSION, chainId, verifyingContract: getAddress(escrow) };
}

type Kind = "request" | "response" | "key";
const TYPES: Record<Kind, Record<string, TypedDataField[]>> = {
  request: INFERENCE_REQUEST_TYPES,
  response: INFERENCE_RESPONSE_TYPES,
  key: DEAL_KEY_UPLOAD_TYPES,
};

/** The buyer signs an InferenceRequest. */
export function signInferenceRequest(
  signer: TypedDataSigner,
  domain: TypedDataDomain,
  msg: InferenceRequestMessage,
): Promise<string> {
  return signer.signTypedData(domain, TYPES.request, { ...msg });
}

/** The contributor signs an InferenceResponse. */
export function signInferenceResponse(
  signer: TypedDataSigner,
  domain: TypedDataDomain,
  msg: InferenceResponseMessage,
): Promise<string> {
  return signer.signTypedData(domain, TYPES.response, { ...msg });
}

/** The buyer signs the upload of its deal key of one shape. */
export function signDealKeyUpload(
  signer: TypedDataSigner,
  domain: TypedDataDomain,
  msg: DealKeyUploadMessage,
): Promise<string> {
  return signer.signTypedData(domain, TYPES.key, { ...msg });
}

/**
 * The address that signed a request, or null when `signature` is not a well-formed 65-byte
 * secp256k1 signature (wrong length, s in the upper half, v not 27/28).
 */
export function recoverInferenceRequest(
  domain: TypedDataDomain,
  msg: InferenceRequestMessage,
  signature: string,
): string | null {
  return recover(TypedDataEncoder.hash(domain, TYPES.request, { ...msg }), signature);
}

/** The address that signed a response, or null when the signature is malformed. */
export function recoverInferenceResponse(
  domain: TypedDataDomain,
  msg: InferenceResponseMessage,
  signature: string,
): string | null {
  return recover(TypedDataEncoder.hash(domain, TYPES.response, { ...msg }), signature);
}

/** The address that signed a deal key upload, or null when the signature is malformed. */
export function recoverDealKeyUpload(
  domain: TypedDataDomain,
  msg: DealKeyUploadMessage,
  signature: string,
): string | null {
  return recover(TypedDataEncoder.hash(domain, TYPES.key, { ...msg }), signature);
}

function recover(digest: string, signature: string): string | null {
  if (typeof signature !== "string" || !/^0x[0-9a-fA-F]{130}$/.test(signature)) return null;
  try {
    return recoverAddress(digest, Signature.from(signature));
  } catch {
    return null;
  }
}
