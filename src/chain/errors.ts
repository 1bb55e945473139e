/**
 * Typed errors of the chain client: a contract's custom-error revert is decoded against the
 * escrow's, the registry's and ERC-20 ABIs and turned into a sentence that says what happened and
 * what to do. Pure (ethers only): bundles for a browser.
 */
import { Interface, formatUnits, isCallException, type ErrorDescription } from "ethers";
import {
  ChunkedModuleVerifier__factory,
  IERC20Metadata__factory,
  Groth16BatchVerifier__factory,
  LoraEscrow__factory,
  VerifierRegistry__factory,
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
  LoraEscrow__factory.createInterface(),
  VerifierRegistry__factory.createInterface(),
  IERC20Metadata__factory.createInterface(),
  Groth16BatchVerifier__factory.createInterface(),
  ChunkedModuleVerifier__factory.createInterface(),
  SOLIDITY_ERRORS,
];

const status = (v: unknown) => DEAL_STATUS[Number(v)] ?? `status ${String(v)}`;
const when = (v: unknown) => new Date(Number(v) * 1000).toISOString();

/** A readable sentence per custom error: what went wrong and what to do. */
const EXPLAIN: Record<string, (a: readonly unknown[]) => string> = {
  ZeroPrice: () => "the price must be positive",
  InvalidModuleCount: (a) => `a deal needs between 1 and ${a[1]} modules, got ${a[0]}`,
  InvalidProvingWindow: (a) => `the proving window must be 1..${a[1]} seconds, got ${a[0]}`,
  TokenHasNoCode: (a) => `the payment token ${a[0]} is not a contract on this chain; use its address or ETH`,
  UnregisteredShape: (a) =>
    `module ${a[0]}'s shape ${a[1]} has no verifier in the registry: deploy its verifier (zklora:deploy) or use a registered shape`,
  NotAFieldElement: (a) => `${a[0]} is not a BN254 field element (must be below p)`,
  UnknownDeal: (a) => `no deal ${a[0]} on this escrow; check --deal and the network`,
  WrongStatus: (a) => `deal ${a[0]} is ${status(a[1])}, this needs it ${status(a[2])}`,
  NotContributor: (a) => `only deal ${a[0]}'s contributor may do this, not ${a[1]}`,
  NotBuyer: (a) => `deal ${a[0]} can only be funded by its buyer ${a[2]}, not ${a[1]}`,
  WrongPayment: (a) => `the payment must be exactly ${a[0]} wei, got ${a[1]}`,
  TransferAmountMismatch: (a) =>
    `the escrow received ${a[2]} instead of ${a[1]} of token ${a[0]} (fee-on-transfer tokens are not supported)`,
  TooManyEntries: (a) => `at most ${a[1]} entries per deal, got ${a[0]}`,
  MissingEntryForModule: (a) => `no transcript entry for module ${a[0]}: every module needs at least one`,
  ModuleOutOfRange: (a) => `entry ${a[0]} names module ${a[1]}, the deal has ${a[2]}`,
  EntriesNotSorted: (a) => `entries must be sorted by (module, hX) without duplicates; entry ${a[0]} is not`,
  UnknownEntry: (a) => `deal ${a[0]} has no entry ${a[1]}`,
  EntryAlreadyProven: (a) => `entry ${a[1]} of deal ${a[0]} is already proven`,
  InvalidProof: (a) =>
    `the proof of entry ${a[1]} of deal ${a[0]} does not verify: it is for other weights, inputs or outputs, or corrupt`,
  NoProofs: () => "no proofs to submit",
  NoBatchVerifier: (a) =>
    `module ${a[1]} of deal ${a[0]} has no batch verifier (its shape had none when the deal was proposed): use submit / submitMany`,
  InvalidBatchProof: (a) =>
    `the batch of ${a[2]} proofs checked by ${a[1]} for deal ${a[0]} does not verify: at least one proof is for other weights, inputs or outputs, or corrupt (submit them one by one to find it)`,
  EmptyBatch: () => "the batch has no proofs",
  SignalNotInField: (a) =>
    `public signal ${a[1]} of proof ${a[0]} is ${a[2]}, not below the BN254 scalar field modulus`,
  CoordinateNotInField: (a) =>
    `a coordinate of proof ${a[0]} is ${a[1]}, not below the BN254 base field modulus`,
  PointNotOnCurve: (a) =>
    `point ${a[1] === true ? "C" : "A"} of proof ${a[0]} is not on the BN254 curve: corrupt proof`,
  PrecompileFailed: () => "an elliptic-curve precompile ran out of gas: raise the gas limit",
  InvalidBase: (a) =>
    `the base point (${a[0]}, ${a[1]}) is not a curve point below q: pass signalBase(x0) of the same verifier`,
  EntryStoreFailed: (a) =>
    `creating the deal's entry store failed (expected at ${a[0]}, got ${a[1]}): raise the gas limit of fund`,
  NotChunkedModule: (a) =>
    `module ${a[1]} of deal ${a[0]} is not of a chunked shape: submit its proofs with submit / submitMany / submitBatch`,
  WrongChunkCount: (a) =>
    `the chain has ${a[1]} A and ${a[3]} B chunk proofs; the shape needs ${a[0]} and ${a[2]}: submit the whole chain of proveChunkedModule`,
  ChunkCommitmentMismatch: (a) =>
    `the chunks' weight hashes give C_m ${a[1]}, the module commits to ${a[0]}: the chain proves other weights (or chunks are out of order)`,
  ChunkActivationHashMismatch: (a) =>
    `the chunks' activation hashes give hX ${a[1]}, the entry registered ${a[0]}: the chain is for other activations`,
  InvalidChunkProof: (a) =>
    `the proof of ${a[0] === true ? "B" : "A"} chunk ${a[1]} does not verify with the signals the chain gives it: another rho or fY, a link of another proving run, or corrupt`,
  ChunkedStatement: () => "a chunked shape's statement is a chain of chunk proofs: use submitChunked",
  ChunkVerifierHasNoCode: (a) => `the chunk verifier ${a[0]} has no code`,
  InvalidChunkCounts: (a) => `a chunked shape needs at least one A and one B chunk, got ${a[0]} and ${a[1]}`,
  LinkStartNotInField: (a) => `the link start ${a[0]} is not a BN254 field element`,
  InvalidVerificationKey: (a) =>
    `word ${a[0]} of the batch verification key is not a valid coordinate or point: regenerate src/chain/verifierKeys.ts (npm run abi)`,
  BatchVerifierAlreadyRegistered: (a) => `shape ${a[0]} already has the batch verifier ${a[1]}`,
  ProvingWindowClosed: (a) => `deal ${a[0]}'s proving window closed at ${when(a[1])}`,
  ProvingWindowOpen: (a) =>
    `deal ${a[0]}'s proving window is open until ${when(a[1])}; a refund is possible only after it`,
  EntriesUnproven: (a) => `deal ${a[0]} still has ${a[1]} unproven entries: prove and submit them first`,
  AllEntriesProven: (a) => `every entry of deal ${a[0]} is proven: it can only be settled, not refunded`,
  EthTransferFailed: (a) => `sending ${formatUnits(a[1] as bigint, 18)} ETH to ${a[0]} failed`,
  RegistryHasNoCode: (a) => `the registry ${a[0]} has no code`,
  ShapeAlreadyRegistered: (a) => `shape ${a[0]} is already registered to ${a[1]}`,
  ZeroVerifier: () => "the verifier address is zero",
  VerifierHasNoCode: (a) => `the verifier ${a[0]} has no code`,
  InvalidShape: () => "the shape has a zero dimension or variant",
  UnknownShape: (a) => `shape ${a[0]} is not registered`,
  OwnableUnauthorizedAccount: (a) => `${a[0]} is not the owner`,
  SafeERC20FailedOperation: (a) => `the token ${a[0]} refused the transfer (balance or allowance too low?)`,
  ERC20InsufficientBalance: (a) => `${a[0]} has ${a[1]} tokens, ${a[2]} are needed`,
  ERC20InsufficientAllowance: (a) =>
    `the escrow ${a[0]} may spend ${a[1]} tokens, ${a[2]} are needed: approve the price first`,
  ReentrancyGuardReentrantCall: () => "reentrant call refused",
  KeyHasherHasNoCode: (a) =>
    `the key hasher ${a[0]} has no code: deploy circomlib's Poseidon(1) (zklora:deploy)`,
  UnregisteredDeliveryShape: (a) =>
    `module ${a[0]}'s weight shape ${a[1]} has no delivery verifier in the registry: add it to circuits/delivery-shapes.json, npm run circuits:delivery, redeploy`,
  DeliveryNotRequired: (a) => `deal ${a[0]} was proposed without weight delivery`,
  KeysRequired: (a) =>
    `deal ${a[0]} delivers weights: settle it with the delivery keys (the contributor runs zklora:reveal: settleWithKeys)`,
  UnknownModule: (a) => `deal ${a[0]} has no module ${a[1]}`,
  DeliveryAlreadyProven: (a) =>
    `module ${a[1]} of deal ${a[0]} already has a proven delivery (it cannot be replaced)`,
  InvalidDeliveryProof: (a) =>
    `the delivery proof of module ${a[1]} of deal ${a[0]} does not verify: other weights than C_m, another key or ciphertext, or corrupt`,
  DeliveriesMissing: (a) =>
    `deal ${a[0]} still lacks ${a[1]} proven deliveries: the contributor must run zklora:deliver before it can be funded`,
  KeyCountMismatch: (a) => `deal ${a[0]} needs ${a[1]} keys (one per module), got ${a[2]}`,
  WrongKey: (a) => `the key of module ${a[1]} of deal ${a[0]} does not hash to its proven hK`,
  DeliveryShapeAlreadyRegistered: (a) => `weight shape ${a[0]} already has the delivery verifier ${a[1]}`,
  InvalidDeliveryShape: () => "the weight shape has a zero dimension",
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
