/**
 * Typed errors of the chain client: a contract's custom-error revert is decoded against the
 * escrow's, the registry's and ERC-20 ABIs and turned into a sentence that says what happened and
 * what to do. Pure (ethers only): bundles for a browser.
 */
import { Interface, isCallException, type ErrorDescription } from "ethers";
import {
  IERC20Metadata__factory,
  LoraEscrowV2__factory,
  LoraKeyWrapVerifierV2__factory,
  LoraModuleVerifierV2__factory,
  ShapeRegistryV2__factory,
} from "./typechain/index.js";

/** Deal status names, by the escrow's `Status` enum value. */
export const DEAL_STATUS = ["None", "Proposed", "Funded", "Settled", "Refunded", "Cancelled"] as const;
export type DealStatusName = (typeof DEAL_STATUS)[number];

/** Any failure of the chain client. */
export class ChainError extends Error {
  override name = "ChainError";
  constructor(
    message: string,
    /** The decoded custom error's name, when the failure is a contract revert. */
    readonly revertName?: string,
    /** The decoded arguments of the custom error. */
    readonly revertArgs?: readonly unknown[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A transaction or call reverted with a known custom error. */
export class ContractRevertError extends ChainError {
  override name = "ContractRevertError";
}

const SOLIDITY_ERRORS = new Interface([
  "error Error(string)",
  "error Panic(uint256)",
  // OpenZeppelin 5 (SafeERC20, IERC6093)
  "error SafeERC20FailedOperation(address token)",
  "error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed)",
  "error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed)",
  "error ReentrancyGuardReentrantCall()",
  "error OwnableUnauthorizedAccount(address account)",
]);

const INTERFACES: Interface[] = [
  LoraEscrowV2__factory.createInterface(),
  LoraModuleVerifierV2__factory.createInterface(),
  LoraKeyWrapVerifierV2__factory.createInterface(),
  ShapeRegistryV2__factory.createInterface(),
  IERC20Metadata__factory.createInterface(),
  SOLIDITY_ERRORS,
];

const status = (v: unknown) => DEAL_STATUS[Number(v)] ?? `status ${String(v)}`;
const when = (v: unknown) => new Date(Number(v) * 1000).toISOString();

/** A readable sentence per custom error: what went wrong and what to do. */
const EXPLAIN: Record<string, (a: readonly unknown[]) => string> = {
  // LoraEscrowV2
  ZeroRegistry: () => "the escrow needs a registry address",
  DealNotFound: (a) => `no deal ${a[0]} on this escrow; check --deal and the network`,
  WrongStatus: (a) =>
    `deal ${a[0]} is ${status(a[1])}: this step needs another status (zklora:status shows it)`,
  NotContributor: (a) => `only the deal's contributor may do this, not ${a[0]}`,
  NotBuyer: (a) => `only the deal's buyer may fund it, not ${a[0]}`,
  ZeroPrice: () => "the price must be positive",
  WindowOutOfRange: (a) => `the proving window must be 1 hour..90 days, got ${a[0]} seconds`,
  ModuleCountOutOfRange: (a) => `a deal needs 1..1024 modules, got ${a[0]}`,
  NotAToken: (a) => `the payment token ${a[0]} is not a contract on this chain; use its address or ETH`,
  UnknownShape: (a) =>
    `shape ${a[0]} has no verifier in the registry: the registry owner registers it (zklora:deploy --adapter / --shapes)`,
  InvalidCommitment: (a) => `module ${a[0]}'s W_m is not a point of the curve (or is the identity)`,
  WrongEntryCount: (a) => `the deal needs ${a[0]} entries (one per module), got ${a[1]}`,
  InvalidEntry: (a) => `module ${a[0]}'s entry has fY >= p or a D_X off the curve`,
  WrongDealKeys: (a) => `the deal needs ${a[0]} keys δ' (one per shape), got ${a[1]}`,
  DealKeyShapeMismatch: (a) => `key ${a[0]} must be for shape ${a[1]} (the deal's shape order), got ${a[2]}`,
  InvalidDealKey: (a) => `δ' of shape ${a[0]} is not a valid G2 point of the right order`,
  DealKeyReused: (a) => `δ' of shape ${a[0]} equals another shape's: make a fresh key per shape`,
  WrongDeposit: (a) => `the deposit must be exactly ${a[0]}, got ${a[1]}`,
  ModuleOutOfRange: (a) => `the deal has no module ${a[0]}`,
  ClaimMismatch: (a) =>
    `the claim of module ${a[0]} is not what the deal stores (another W_m, rho, fY or D_X): prove the entry on-chain`,
  DealKeyMismatch: (a) => `the δ' passed for shape ${a[0]} is not the deal's`,
  AlreadyProven: (a) => `module ${a[0]} is already proven`,
  ProofRejected: (a) =>
    `the proof of module ${a[0]} does not verify: other weights, entry or deal key, or a corrupt proof`,
  BatchRejected: () =>
    "the batch does not verify: at least one proof is for other weights, entries or keys (submit them one by one to find it)",
  LengthMismatch: (a) => `${a[0]} claims but ${a[1]} proofs`,
  ClaimShapeMismatch: (a) => `claim ${a[0]} is of another shape than the batch`,
  ProvingWindowOver: (a) => `the proving window closed at ${when(a[0])}`,
  ProvingWindowOpen: (a) =>
    `the proving window is open until ${when(a[0])}; a refund is possible only after it`,
  NotAllProven: (a) => `${a[0]} of ${a[1]} modules are proven: prove and submit the rest first`,
  AllProven: (a) => `every module of deal ${a[0]} is proven: it can only be settled, not refunded`,
  PaymentFailed: (a) => `sending the payment to ${a[0]} failed`,
  NoWrapVerifier: () =>
    "the registry has no key-wrap verifier, so delivery deals are impossible: the registry owner runs zklora:deploy",
  WrongKeyHashCount: (a) => `a delivery deal needs ${a[0]} delivery-key hashes (one per module), got ${a[1]}`,
  InvalidKeyHash: (a) => `module ${a[0]}'s delivery-key hash is zero or not below p`,
  NotADeliveryDeal: (a) =>
    `deal ${a[0]} is not a delivery deal: fund it with zklora:fund and settle with zklora:settle`,
  DeliveryDeal: (a) =>
    `deal ${a[0]} delivers its weights: it is funded with a key-wrap key and settled with the wrapped keys (zklora:settle does both)`,
  InvalidWrapKey: () =>
    "the key-wrap key is invalid: the Baby Jubjub public key must be in the prime-order subgroup and not the identity, and δ' a G2 point",
  WrapKeyReused: () => "the key-wrap δ' equals a module key's δ': make a fresh key per circuit",
  WrapKeyMismatch: () => "the key-wrap key passed is not the one the buyer funded the deal with",
  KeyHashesMismatch: () => "the delivery-key hashes passed are not the ones the deal was proposed with",
  WrongWrappedCount: (a) => `the deal needs ${a[0]} wrapped keys (one per module), got ${a[1]}`,
  WrongWrapProofCount: (a) => `the deal needs ${a[0]} key-wrap proofs, got ${a[1]}`,
  InvalidWrappedKey: (a) => `module ${a[0]}'s wrapped key is not below p`,
  WrapProofRejected: (a) =>
    `key-wrap proof ${a[0]} does not verify: other keys, another buyer key or deal, or a proof under another δ'`,
  // LoraModuleVerifierV2
  InvalidShapeKey: (a) => `word ${a[0]} of the shape key is not a valid point`,
  ScalarNotInField: (a) => `scalar ${a[0]} of the statement is not below the BN254 scalar field modulus`,
  CoordinateNotInField: (a) => `coordinate ${a[0]} is not below the BN254 base field modulus`,
  PointNotOnCurve: (a) => `point ${a[0]} is not on the BN254 curve: corrupt proof or statement`,
  EmptyBatch: () => "the batch has no proofs",
  // LoraKeyWrapVerifierV2
  InvalidWrapKeyConstant: (a) => `constant ${a[0]} of the key-wrap key is not valid`,
  WrongInputCount: (a) => `the key-wrap verifier takes ${a[0]} public inputs, got ${a[1]}`,
  InputNotInField: (a) => `key-wrap public input ${a[0]} is not below p`,
  DataStoreFailed: () => "writing the key-wrap verifier's IC points failed (out of gas?)",
  PrecompileFailed: () => "an elliptic-curve precompile failed or ran out of gas: raise the gas limit",
  // ShapeRegistryV2
  ShapeAlreadyRegistered: (a) => `shape ${a[0]} is already registered (the registry is append-only)`,
  WrapVerifierAlreadyRegistered: (a) => `the key-wrap verifier is already registered at ${a[0]} (permanent)`,
  NotAContract: (a) => `${a[0]} is not a contract`,
  OwnableUnauthorizedAccount: (a) => `${a[0]} is not the registry's owner`,
  // OpenZeppelin
  SafeERC20FailedOperation: (a) => `the token ${a[0]} refused the transfer (balance or allowance too low?)`,
  ERC20InsufficientBalance: (a) => `${a[0]} has ${a[1]} tokens, ${a[2]} are needed`,
  ERC20InsufficientAllowance: (a) =>
    `the escrow ${a[0]} may spend ${a[1]} tokens, ${a[2]} are needed: approve the price first`,
  ReentrancyGuardReentrantCall: () => "reentrant call refused",
  Error: (a) => String(a[0]),
  Panic: (a) => `panic code ${a[0]}`,
};

/** Decodes revert data against the known ABIs (undefined when unknown). */
export function decodeRevertData(data: string | null | undefined): ErrorDescription | undefined {
  if (typeof data !== "string" || data.length < 10) return undefined;
  for (const iface of INTERFACES) {
    try {
      const d = iface.parseError(data);
      if (d !== null) return d;
    } catch {
      // not this interface
    }
  }
  return undefined;
}

function findRevertData(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 6 && e !== null && typeof e === "object"; depth++) {
    const o = e as { data?: unknown; error?: unknown; info?: { error?: unknown }; cause?: unknown };
    if (typeof o.data === "string" && o.data.startsWith("0x") && o.data.length >= 10) return o.data;
    if (typeof o.data === "object" && o.data !== null) {
      const inner = (o.data as { data?: unknown }).data;
      if (typeof inner === "string" && inner.startsWith("0x")) return inner;
    }
    e = o.error ?? o.info?.error ?? o.cause;
  }
  return undefined;
}

/**
 * Turns any error from a contract call or transaction into a ChainError: custom errors of the
 * escrow, registry and ERC-20s become a ContractRevertError with a readable message; other
 * failures keep their message.
 */
export function toChainError(err: unknown, action: string): ChainError {
  if (err instanceof ChainError) return err;
  const decoded = decodeRevertData(findRevertData(err));
  if (decoded !== undefined) {
    const args = [...decoded.args];
    const explain = EXPLAIN[decoded.name];
    const text = explain !== undefined ? explain(args) : `${decoded.name}(${args.map(String).join(", ")})`;
    return new ContractRevertError(`${action} reverted: ${decoded.name}: ${text}`, decoded.name, args, {
      cause: err,
    });
  }
  if (isCallException(err)) {
    return new ChainError(`${action} reverted: ${err.shortMessage}`, undefined, undefined, { cause: err });
  }
  const msg = (err as { shortMessage?: string; message?: string })?.shortMessage ?? String(err);
  return new ChainError(`${action} failed: ${msg}`, undefined, undefined, { cause: err });
}
