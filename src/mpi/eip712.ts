/**
 * EIP-712 messages of multi-party inference (ARCHITECTURE.md "EIP-712"):
 * domain `{ name: "zklora-escrow", version: "1", chainId, verifyingContract: escrow }`,
 * `InferenceRequest(uint256 dealId,uint256 module,uint256 hX,uint256 nonce)` signed by the buyer,
 * `InferenceResponse(uint256 dealId,uint256 module,uint256 hX,bytes32 hY,uint256 fY)` signed by
 * the contributor.
 */
import { getAddress, recoverAddress, Signature, TypedDataEncoder } from "ethers";
import type { TypedDataDomain, TypedDataField } from "ethers";

export const EIP712_NAME = "zklora-escrow";
export const EIP712_VERSION = "1";

export const INFERENCE_REQUEST_TYPES: Record<string, TypedDataField[]> = {
  InferenceRequest: [
    { name: "dealId", type: "uint256" },
    { name: "module", type: "uint256" },
    { name: "hX", type: "uint256" },
    { name: "nonce", type: "uint256" },
  ],
};

export const INFERENCE_RESPONSE_TYPES: Record<string, TypedDataField[]> = {
  InferenceResponse: [
    { name: "dealId", type: "uint256" },
    { name: "module", type: "uint256" },
    { name: "hX", type: "uint256" },
    { name: "hY", type: "bytes32" },
    { name: "fY", type: "uint256" },
  ],
};

export interface InferenceRequestMessage {
  dealId: bigint;
  module: bigint;
  hX: bigint;
  nonce: bigint;
}

export interface InferenceResponseMessage {
  dealId: bigint;
  module: bigint;
  hX: bigint;
  /** bytes32 hex. */
  hY: string;
  fY: bigint;
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

/** EIP-712 digest of an InferenceRequest. */
export function inferenceRequestDigest(domain: TypedDataDomain, msg: InferenceRequestMessage): string {
  return TypedDataEncoder.hash(domain, INFERENCE_REQUEST_TYPES, { ...msg });
}

/** EIP-712 digest of an InferenceResponse. */
export function inferenceResponseDigest(domain: TypedDataDomain, msg: InferenceResponseMessage): string {
  return TypedDataEncoder.hash(domain, INFERENCE_RESPONSE_TYPES, { ...msg });
}

/** The buyer signs an InferenceRequest. */
export function signInferenceRequest(
  signer: TypedDataSigner,
  domain: TypedDataDomain,
  msg: InferenceRequestMessage,
): Promise<string> {
  return signer.signTypedData(domain, INFERENCE_REQUEST_TYPES, { ...msg });
}

/** The contributor signs an InferenceResponse. */
export function signInferenceResponse(
  signer: TypedDataSigner,
  domain: TypedDataDomain,
  msg: InferenceResponseMessage,
): Promise<string> {
  return signer.signTypedData(domain, INFERENCE_RESPONSE_TYPES, { ...msg });
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
  return recover(inferenceRequestDigest(domain, msg), signature);
}

/** The address that signed a response, or null when the signature is malformed. */
export function recoverInferenceResponse(
  domain: TypedDataDomain,
  msg: InferenceResponseMessage,
  signature: string,
): string | null {
  return recover(inferenceResponseDigest(domain, msg), signature);
}

function recover(digest: string, signature: string): string | null {
  if (typeof signature !== "string" || !/^0x[0-9a-fA-F]{130}$/.test(signature)) return null;
  try {
    return recoverAddress(digest, Signature.from(signature));
  } catch {
    return null;
  }
}
