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
import { BaseWallet, getAddress, getBytes, id, keccak256, SigningKey, TypedDataEncoder } from "ethers";
import type { TypedDataDomain, TypedDataField } from "ethers";
import { createKeccak, type IHasher } from "hash-wasm";
import * as ecc from "tiny-secp256k1";

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

// ---------------------------------------------------------------------------------------------
// Digests. TypedDataEncoder.hash parses the types and the domain again on every call (~0.3 ms);
// these messages have fixed types and few domains, so the type hashes are computed once, the
// domain separator once per domain, and the struct is encoded by hand (uint256 and bytes32 words).
// Any value outside the canonical forms (a uint256 that is not a bigint in range, a bytes32 that is
// not 0x + 64 hex digits, a domain with other fields) goes through TypedDataEncoder.hash unchanged.
// keccak-256 is hash-wasm's (~10x ethers' JavaScript keccak on these 66..224 bytes) once loaded.

let wasmKeccak: IHasher | undefined;

/** Resolves once the WebAssembly keccak is loaded; until then (or if it fails) ethers' keccak256. */
export const eip712DigestsReady: Promise<void> = createKeccak(256).then(
  (h) => {
    wasmKeccak = h;
  },
  () => undefined,
);

/** keccak-256 of `bytes`, as 64 hex digits. */
function keccakOf(bytes: Uint8Array): string {
  if (wasmKeccak === undefined) return keccak256(bytes).slice(2);
  wasmKeccak.init();
  wasmKeccak.update(bytes);
  return wasmKeccak.digest("hex");
}

/** keccak-256 of the bytes of `hex` (no 0x), as 64 hex digits. */
function keccakHex(hex: string): string {
  return keccakOf(Buffer.from(hex, "hex"));
}

/** The EIP-55 checksummed address of an uncompressed public key 0x04 || x || y (= computeAddress). */
function addressOf(publicKey: Uint8Array): string {
  const lower = keccakOf(publicKey.subarray(1)).slice(24);
  const hash = keccakOf(Buffer.from(lower, "ascii"));
  let out = "0x";
  for (let i = 0; i < 40; i++) out += parseInt(hash[i], 16) >= 8 ? lower[i].toUpperCase() : lower[i];
  return out;
}

const STRUCTS = Object.fromEntries(
  (Object.keys(TYPES) as Kind[]).map((kind) => {
    const [primary] = Object.keys(TYPES[kind]);
    const typeHash = id(TypedDataEncoder.from(TYPES[kind]).encodeType(primary)).slice(2);
    return [kind, { fields: TYPES[kind][primary], typeHash }];
  }),
) as Record<Kind, { fields: TypedDataField[]; typeHash: string }>;

const DOMAIN_FIELDS = new Set(["name", "version", "chainId", "verifyingContract"]);
const MAX_DOMAINS = 1024;
/** JSON [name, version, chainId, verifyingContract] -> the domain separator (64 hex digits). */
const separators = new Map<string, string>();
const HEX_ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const HEX_BYTES32 = /^0x[0-9a-fA-F]{64}$/;
const UINT256_MAX = (1n << 256n) - 1n;

/** The separator of a domain of exactly {name, version, chainId (bigint), verifyingContract (hex)}. */
function domainSeparator(domain: TypedDataDomain): string | null {
  const { name, version, chainId, verifyingContract } = domain;
  if (
    typeof name !== "string" ||
    typeof version !== "string" ||
    typeof chainId !== "bigint" ||
    typeof verifyingContract !== "string" ||
    !HEX_ADDRESS.test(verifyingContract) ||
    Object.keys(domain).some((k) => !DOMAIN_FIELDS.has(k))
  ) {
    return null;
  }
  const key = JSON.stringify([name, version, chainId.toString(), verifyingContract]);
  let sep = separators.get(key);
  if (sep === undefined) {
    sep = TypedDataEncoder.hashDomain(domain).slice(2); // throws where ethers throws (bad checksum)
    if (separators.size >= MAX_DOMAINS) separators.clear();
    separators.set(key, sep);
  }
  return sep;
}

/** The EIP-712 digest from the precomputed parts, or null when a value is not in canonical form. */
function fastDigest(domain: TypedDataDomain, kind: Kind, msg: object): string | null {
  const sep = domainSeparator(domain);
  if (sep === null) return null;
  const { fields, typeHash } = STRUCTS[kind];
  const values = msg as Record<string, unknown>;
  let struct = typeHash;
  for (const f of fields) {
    const v = values[f.name];
    if (f.type === "uint256") {
      if (typeof v !== "bigint" || v < 0n || v > UINT256_MAX) return null;
      struct += v.toString(16).padStart(64, "0");
    } else {
      if (typeof v !== "string" || !HEX_BYTES32.test(v)) return null;
      struct += v.slice(2);
    }
  }
  return "0x" + keccakHex("1901" + sep + keccakHex(struct));
}

function typedDigest(domain: TypedDataDomain, kind: Kind, msg: object): string {
  return fastDigest(domain, kind, msg) ?? TypedDataEncoder.hash(domain, TYPES[kind], { ...msg });
}

/** The EIP-712 digest an InferenceRequest signature signs (= TypedDataEncoder.hash). */
export function inferenceRequestDigest(domain: TypedDataDomain, msg: InferenceRequestMessage): string {
  return typedDigest(domain, "request", msg);
}

/** The EIP-712 digest an InferenceResponse signature signs (= TypedDataEncoder.hash). */
export function inferenceResponseDigest(domain: TypedDataDomain, msg: InferenceResponseMessage): string {
  return typedDigest(domain, "response", msg);
}

/** The EIP-712 digest a DealKeyUpload signature signs (= TypedDataEncoder.hash). */
export function dealKeyUploadDigest(domain: TypedDataDomain, msg: DealKeyUploadMessage): string {
  return typedDigest(domain, "key", msg);
}

// ---------------------------------------------------------------------------------------------
// Signing and checking run on libsecp256k1 (tiny-secp256k1's WebAssembly build): about 3.5x faster
// than ethers' JavaScript curve when signing and 6x when recovering (bench:mpi partsMs); with
// ethers' curve they were most of the server's CPU per call. An ethers Wallet (BaseWallet, its own signTypedData) signs the digest
// computed above with its private key, with the same bytes as wallet.signTypedData (RFC 6979,
// low s), without parsing the types again. Any other signer (a Hardhat signer, a remote one)
// signs the typed data itself.

async function signTyped(
  signer: TypedDataSigner,
  domain: TypedDataDomain,
  kind: Kind,
  msg: object,
): Promise<string> {
  if (signer instanceof BaseWallet && signer.signTypedData === BaseWallet.prototype.signTypedData) {
    const digest = fastDigest(domain, kind, msg);
    if (digest !== null) return signDigest(signer.signingKey, digest);
  }
  return signer.signTypedData(domain, TYPES[kind], { ...msg });
}

/** r || s || v (v = 27 + recovery id) of `key` over the 32-byte `digest`, as SigningKey.sign(digest).serialized. */
function signDigest(key: SigningKey, digest: string): string {
  const { signature, recoveryId } = ecc.signRecoverable(getBytes(digest), getBytes(key.privateKey));
  return "0x" + Buffer.from(signature).toString("hex") + (27 + recoveryId).toString(16);
}

/** The buyer signs an InferenceRequest. */
export function signInferenceRequest(
  signer: TypedDataSigner,
  domain: TypedDataDomain,
  msg: InferenceRequestMessage,
): Promise<string> {
  return signTyped(signer, domain, "request", msg);
}

/** The contributor signs an InferenceResponse. */
export function signInferenceResponse(
  signer: TypedDataSigner,
  domain: TypedDataDomain,
  msg: InferenceResponseMessage,
): Promise<string> {
  return signTyped(signer, domain, "response", msg);
}

/** The buyer signs the upload of its deal key of one shape. */
export function signDealKeyUpload(
  signer: TypedDataSigner,
  domain: TypedDataDomain,
  msg: DealKeyUploadMessage,
): Promise<string> {
  return signTyped(signer, domain, "key", msg);
}

// A signature is well formed when it is 0x + 65 bytes r || s || v with 1 <= r < n,
// 1 <= s <= n/2 (low s: the malleable twin n - s is refused) and v in {27, 28}; anything else is
// refused before any curve arithmetic. The signer is the address of the key recovered from it.

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const HALF_N = N >> 1n;
const HEX_SIGNATURE = /^0x[0-9a-fA-F]{130}$/;

/**
 * The address that signed the 32-byte `digest`, or null when `signature` is not well formed or
 * does not recover.
 */
export function recoverSigner(digest: string, signature: string): string | null {
  if (typeof signature !== "string" || !HEX_SIGNATURE.test(signature) || !HEX_BYTES32.test(digest))
    return null;
  const v = parseInt(signature.slice(130), 16);
  if (v !== 27 && v !== 28) return null;
  const r = BigInt("0x" + signature.slice(2, 66));
  const s = BigInt("0x" + signature.slice(66, 130));
  if (r === 0n || r >= N || s === 0n || s > HALF_N) return null;
  let publicKey: Uint8Array | null;
  try {
    // throws when r is not the x of a curve point
    publicKey = ecc.recover(getBytes(digest), getBytes(signature.slice(0, 130)), (v - 27) as 0 | 1, false);
  } catch {
    return null;
  }
  return publicKey === null ? null : addressOf(publicKey);
}

/**
 * The address that signed a request, or null when `signature` is not a well-formed 65-byte
 * secp256k1 signature (wrong length, r or s out of range, s in the upper half, v not 27/28).
 */
export function recoverInferenceRequest(
  domain: TypedDataDomain,
  msg: InferenceRequestMessage,
  signature: string,
): string | null {
  return recoverSigner(inferenceRequestDigest(domain, msg), signature);
}

/** The address that signed a response, or null when the signature is malformed. */
export function recoverInferenceResponse(
  domain: TypedDataDomain,
  msg: InferenceResponseMessage,
  signature: string,
): string | null {
  return recoverSigner(inferenceResponseDigest(domain, msg), signature);
}

/** The address that signed a deal key upload, or null when the signature is malformed. */
export function recoverDealKeyUpload(
  domain: TypedDataDomain,
  msg: DealKeyUploadMessage,
  signature: string,
): string | null {
  return recoverSigner(dealKeyUploadDigest(domain, msg), signature);
}
