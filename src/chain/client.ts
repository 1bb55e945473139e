/**
 * A typed ethers v6 client for a zklora deployment (escrow + verifier registry), for Node and for
 * browser dApps alike: it imports only ethers, the committed TypeChain types (./types, generated
 * from the compiled ABIs by `npm run abi`) and pure helpers. File I/O for deployment records lives
 * in ./deployments.ts (lazy node imports) and is not needed here.
 *
 *   const client = await ZkloraClient.connect(signerOrProvider, addressesOf(record));
 *   const { dealId } = await client.propose({ price, baseModelHash, modules, provingWindow });
 *
 * Every failing call throws a ChainError; a contract revert becomes a ContractRevertError whose
 * message names the custom error and says what to do.
 */
import {
  ZeroAddress,
  getAddress,
  type BigNumberish,
  type ContractRunner,
  type ContractTransactionReceipt,
  type ContractTransactionResponse,
  type Log,
  type Provider,
  type Result,
} from "ethers";
import { ChainError, DEAL_STATUS, toChainError, type DealStatusName } from "./errors.js";
import type { DeploymentRecord } from "./deployments.js";
import { chunkCalldata, proofArgs, type ChunkProofInput } from "./chunked.js";
import {
  IERC20Metadata__factory,
  LoraEscrow__factory,
  VerifierRegistry__factory,
  type LoraEscrow,
  type VerifierRegistry,
} from "./typechain/index.js";
import type { TypedContractEvent, TypedEventLog, TypedListener } from "./typechain/common.js";

/** What the client needs to find a deployment. */
export interface ZkloraAddresses {
  escrow: string;
  registry: string;
  /** The chain the addresses are on; `connect` checks the runner's network against it. */
  chainId: bigint | number;
}

/** The addresses of a deployment record (deployments/<network>.json). */
export function addressesOf(record: DeploymentRecord): ZkloraAddresses {
  return {
    escrow: record.contracts.LoraEscrow.address,
    registry: record.contracts.VerifierRegistry.address,
    chainId: record.chainId,
  };
}

/** A deal as the escrow stores it, with readable fields. */
export interface DealView {
  dealId: bigint;
  contributor: string;
  /** The fixed buyer, or null for an open deal not funded yet. */
  buyer: string | null;
  /** The ERC-20 paid with, or null for ETH. */
  token: string | null;
  price: bigint;
  baseModelHash: string;
  status: DealStatusName;
  moduleCount: number;
  entryCount: number;
  unproven: number;
  /** Seconds between funding and the deadline. */
  provingWindow: bigint;
  /** End of the proving window (unix seconds, inclusive), or null before funding. */
  deadline: bigint | null;
}

/** A module of a deal. */
export interface ModuleView {
  index: number;
  target: string;
  shapeId: string;
  commitment: bigint;
  verifier: string;
}

/** A registered transcript entry of a deal. */
export interface EntryView {
  index: number;
  module: number;
  hX: bigint;
  hY: string;
  fY: bigint;
  proven: boolean;
}

/** A transcript entry to register at funding: `(m, hX, hY, fY)`. */
export interface EntryInput {
  module: number;
  hX: bigint;
  hY: string;
  fY: bigint;
}

/** A module as the contributor proposes it. */
export interface ModuleInput {
  target: string;
  shapeId: string;
  commitment: bigint;
}

/** A Groth16 proof in the Solidity verifier's argument order (pi_b pairs swapped). */
export interface SolidityProofArgs {
  a: readonly [BigNumberish, BigNumberish];
  b: readonly [readonly [BigNumberish, BigNumberish], readonly [BigNumberish, BigNumberish]];
  c: readonly [BigNumberish, BigNumberish];
}

/** A proof of one registered entry. */
export interface EntryProof extends SolidityProofArgs {
  entryIndex: number | bigint;
}

/** A mined transaction. */
export interface TxResult {
  hash: string;
  blockNumber: number;
  gasUsed: bigint;
  /** gasUsed * effective gas price, in wei. */
  fee: bigint;
  receipt: ContractTransactionReceipt;
}

/** Parameters of `propose`. */
export interface ProposeParams {
  /** In wei (ETH) or token base units. */
  price: bigint;
  /** ERC-20 address, or null/undefined for ETH. */
  token?: string | null;
  /** Fixed buyer, or null/undefined for an open deal. */
  buyer?: string | null;
  /** bytes32 hash of the base model (e.g. 0x + sha256 of model.safetensors). */
  baseModelHash: string;
  modules: readonly ModuleInput[];
  /** Seconds the contributor has after funding. */
  provingWindow: bigint | number;
}

/** Payment token info (ETH for the zero address). */
export interface TokenInfo {
  address: string | null;
  symbol: string;
  decimals: number;
}

/** Event names of the escrow. */
export type EscrowEventName =
  | "DealProposed"
  | "ModuleCommitted"
  | "ModuleBatchVerifier"
  | "DealCancelled"
  | "DealFunded"
  | "EntryRegistered"
  | "EntryProven"
  | "DealSettled"
  | "DealRefunded";

/** A decoded escrow event delivered to an `onEvent` listener. */
export interface EscrowEvent {
  name: EscrowEventName;
  /** The event's arguments, by position and by name (`args.dealId`). */
  args: Result;
  blockNumber: number;
  transactionHash: string;
}

/** The `(m, hX)` order `fund` requires, without duplicates (first occurrence kept). */
export function sortEntries(entries: readonly EntryInput[]): EntryInput[] {
  const seen = new Set<string>();
  const out: EntryInput[] = [];
  for (const e of entries) {
    const key = `${e.module}:${e.hX}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ module: e.module, hX: BigInt(e.hX), hY: e.hY, fY: BigInt(e.fY) });
  }
  return out.sort((x, y) =>
    x.module !== y.module ? x.module - y.module : x.hX < y.hX ? -1 : x.hX > y.hX ? 1 : 0,
  );
}

function optionalAddress(a: string | null | undefined): string {
  return a === null || a === undefined || a === "" ? ZeroAddress : getAddress(a);
}

async function mined(action: string, send: () => Promise<ContractTransactionResponse>): Promise<TxResult> {
  let tx: ContractTransactionResponse;
  try {
    tx = await send();
  } catch (err) {
    throw toChainError(err, action);
  }
  let receipt: ContractTransactionReceipt | null;
  try {
    receipt = await tx.wait();
  } catch (err) {
    throw toChainError(err, action);
  }
  if (receipt === null) throw new ChainError(`${action}: transaction ${tx.hash} was dropped`);
  return {
    hash: receipt.hash,
    blockNumber: receipt.blockNumber,
    gasUsed: receipt.gasUsed,
    fee: receipt.gasUsed * receipt.gasPrice,
    receipt,
  };
}

async function view<T>(action: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw toChainError(err, action);
  }
}

/** The typed client of one deployment. */
export class ZkloraClient {
  private constructor(
    /** The typed escrow contract (TypeChain). */
    readonly escrow: LoraEscrow,
    /** The typed registry contract (TypeChain). */
    readonly registry: VerifierRegistry,
    readonly addresses: ZkloraAddresses,
    readonly runner: ContractRunner,
  ) {}

  /**
   * Connects to a deployment with a signer (to send transactions) or a provider (read-only).
   * Checks that the runner's chain is the deployment's and that the escrow has code there.
   */
  static async connect(runner: ContractRunner, addresses: ZkloraAddresses): Promise<ZkloraClient> {
    const provider = runner.provider ?? (runner as Provider);
    if (provider === null || typeof provider.getNetwork !== "function") {
      throw new ChainError("the runner has no provider: pass a signer with a provider, or a provider");
    }
    const net = await view("reading the network", () => provider.getNetwork());
    if (net.chainId !== BigInt(addresses.chainId)) {
      throw new ChainError(
        `the deployment is on chain ${addresses.chainId} but the provider is on chain ${net.chainId}: pick the matching --network / deployments file`,
      );
    }
    const escrowAddress = getAddress(addresses.escrow);
    const code = await view("reading the escrow's code", () => provider.getCode(escrowAddress));
    if (code === "0x") {
      throw new ChainError(
        `no contract at the escrow address ${escrowAddress} on chain ${net.chainId}: the chain was reset or the deployments file is stale; run zklora:deploy`,
      );
    }
    return new ZkloraClient(
      LoraEscrow__factory.connect(escrowAddress, runner),
      VerifierRegistry__factory.connect(getAddress(addresses.registry), runner),
      addresses,
      runner,
    );
  }

  /** The same deployment with another signer or provider (no checks). */
  withRunner(runner: ContractRunner): ZkloraClient {
    return new ZkloraClient(
      this.escrow.connect(runner) as LoraEscrow,
      this.registry.connect(runner) as VerifierRegistry,
      this.addresses,
      runner,
    );
  }

  // ---------------------------------------------------------------- reads

  /** Ids of every deal proposed so far (1 .. nextDealId-1). */
  async dealIds(): Promise<bigint[]> {
    const next = await view("nextDealId", () => this.escrow.nextDealId());
    const ids: bigint[] = [];
    for (let i = 1n; i < next; i++) ids.push(i);
    return ids;
  }

  /** A deal; throws ContractRevertError UnknownDeal when there is none. */
  async getDeal(dealId: BigNumberish): Promise<DealView> {
    const d = await view(`getDeal(${dealId})`, () => this.escrow.getDeal(dealId));
    return {
      dealId: BigInt(dealId),
      contributor: d.contributor,
      buyer: d.buyer === ZeroAddress ? null : d.buyer,
      token: d.token === ZeroAddress ? null : d.token,
      price: d.price,
      baseModelHash: d.baseModelHash,
      status: DEAL_STATUS[Number(d.status)] ?? "None",
      moduleCount: Number(d.moduleCount),
      entryCount: Number(d.entryCount),
      unproven: Number(d.unproven),
      provingWindow: d.provingWindow,
      deadline: d.deadline === 0n ? null : d.deadline,
    };
  }

  /** A deal's modules, in order. */
  async getModules(dealId: BigNumberish): Promise<ModuleView[]> {
    const ms = await view(`getModules(${dealId})`, () => this.escrow.getModules(dealId));
    return ms.map((m, index) => ({
      index,
      target: m.target,
      shapeId: m.shapeId,
      commitment: m.commitment,
      verifier: m.verifier,
    }));
  }

  /** A deal's registered entries with their proof state (empty before funding). */
  async getEntries(dealId: BigNumberish): Promise<EntryView[]> {
    const es = await view(`getEntries(${dealId})`, () => this.escrow.getEntries(dealId));
    return es.map((e, index) => ({
      index,
      module: Number(e.module),
      hX: e.hX,
      hY: e.hY,
      fY: e.fY,
      proven: Number(e.state) === 2,
    }));
  }

  /** The challenge rho of a registered entry, as the escrow computes it. */
  async rhoOf(dealId: BigNumberish, entryIndex: BigNumberish): Promise<bigint> {
    return view(`rhoOf(${dealId}, ${entryIndex})`, () => this.escrow.rhoOf(dealId, entryIndex));
  }

  /** The public signals `[C_m, hX, rho, fY]` an entry's proof must verify against. */
  async publicSignalsOf(dealId: BigNumberish, entryIndex: BigNumberish): Promise<bigint[]> {
    const s = await view(`publicSignalsOf(${dealId}, ${entryIndex})`, () =>
      this.escrow.publicSignalsOf(dealId, entryIndex),
    );
    return [...s];
  }

  /** Symbol and decimals of a payment token (ETH, 18, for null). */
  async tokenInfo(token: string | null): Promise<TokenInfo> {
    if (token === null || token === ZeroAddress) return { address: null, symbol: "ETH", decimals: 18 };
    const erc20 = IERC20Metadata__factory.connect(getAddress(token), this.runner);
    const [symbol, decimals] = await view(`reading token ${token}`, () =>
      Promise.all([erc20.symbol(), erc20.decimals()]),
    );
    return { address: getAddress(token), symbol, decimals: Number(decimals) };
  }

  /** The verifier registered for a shape id (null when none). */
  async verifierOf(shapeId: string): Promise<string | null> {
    const v = await view(`verifierOf(${shapeId})`, () => this.registry.verifierOf(shapeId));
    return v === ZeroAddress ? null : v;
  }

  // ---------------------------------------------------------------- writes

  /** Proposes a deal (the runner is the contributor); returns its id from the DealProposed event. */
  async propose(p: ProposeParams): Promise<{ dealId: bigint; tx: TxResult }> {
    const modules = p.modules.map((m) => ({
      target: m.target,
      shapeId: m.shapeId,
      commitment: m.commitment,
    }));
    const tx = await mined("propose", () =>
      this.escrow.propose(
        p.price,
        optionalAddress(p.token),
        optionalAddress(p.buyer),
        p.baseModelHash,
        modules,
        p.provingWindow,
      ),
    );
    for (const log of tx.receipt.logs) {
      const parsed = this.escrow.interface.parseLog(log);
      if (parsed?.name === "DealProposed") return { dealId: parsed.args[0] as bigint, tx };
    }
    throw new ChainError(`propose: transaction ${tx.hash} emitted no DealProposed event`);
  }

  /**
   * Funds a deal with exactly its price and registers `entries` (sorted and deduplicated here).
   * ETH deals send the price as value; token deals first approve the escrow for the price when
   * the allowance is short (`approve: false` skips that).
   */
  async fund(
    dealId: BigNumberish,
    entries: readonly EntryInput[],
    opts: { approve?: boolean } = {},
  ): Promise<{ tx: TxResult; approveTx?: TxResult; entries: EntryInput[] }> {
    const deal = await this.getDeal(dealId);
    const sorted = sortEntries(entries);
    const args = sorted.map((e) => ({ module: e.module, hX: e.hX, hY: e.hY, fY: e.fY }));
    if (deal.token === null) {
      const tx = await mined(`fund(${dealId})`, () => this.escrow.fund(dealId, args, { value: deal.price }));
      return { tx, entries: sorted };
    }
    let approveTx: TxResult | undefined;
    if (opts.approve !== false) {
      const signer = this.runner as { getAddress?: () => Promise<string> };
      if (typeof signer.getAddress !== "function")
        throw new ChainError("fund needs a signer, not a provider");
      const owner = await signer.getAddress();
      const erc20 = IERC20Metadata__factory.connect(deal.token, this.runner);
      const allowance = await view("allowance", () => erc20.allowance(owner, this.escrow.target as string));
      if (allowance < deal.price) {
        approveTx = await mined(`approve(${deal.token})`, () =>
          erc20.approve(this.escrow.target as string, deal.price),
        );
      }
    }
    const tx = await mined(`fund(${dealId})`, () => this.escrow.fund(dealId, args));
    return { tx, approveTx, entries: sorted };
  }

  /** Submits the proof of one entry. */
  async submit(dealId: BigNumberish, proof: EntryProof): Promise<TxResult> {
    return mined(`submit(${dealId}, entry ${proof.entryIndex})`, () =>
      this.escrow.submit(
        dealId,
        proof.entryIndex,
        proofArgs(proof).a,
        proofArgs(proof).b,
        proofArgs(proof).c,
      ),
    );
  }

  /** Submits several proofs of one deal in one transaction (all or nothing). */
  async submitMany(dealId: BigNumberish, proofs: readonly EntryProof[]): Promise<TxResult> {
    const list = proofs.map((p) => ({ entryIndex: p.entryIndex, ...proofArgs(p) }));
    return mined(`submitMany(${dealId}, ${proofs.length} proofs)`, () =>
      this.escrow.submitMany(dealId, list),
    );
  }

  /**
   * Submits several proofs of one deal checked together by the modules' batch verifiers (one pairing
   * check per module shape: n + 3 pairings instead of 4n); all or nothing. Every entry's module needs a
   * batch verifier (`batchVerifiersOf`), else use `submitMany`.
   */
  async submitBatch(dealId: BigNumberish, proofs: readonly EntryProof[]): Promise<TxResult> {
    const list = proofs.map((p) => ({ entryIndex: p.entryIndex, ...proofArgs(p) }));
    return mined(`submitBatch(${dealId}, ${proofs.length} proofs)`, () =>
      this.escrow.submitBatch(dealId, list),
    );
  }

  /**
   * Submits the proof of one entry of a chunked module: its whole chain of chunk proofs (A chunks, then
   * B chunks, as src/zk `proveChunkedModule` returns them, with Solidity-ordered proof points), checked
   * by the module's `ChunkedModuleVerifier`.
   */
  async submitChunked(
    dealId: BigNumberish,
    entryIndex: number | bigint,
    chunks: readonly ChunkProofInput[],
  ): Promise<TxResult> {
    const { chunksA, chunksB } = chunkCalldata(chunks);
    return mined(`submitChunked(${dealId}, entry ${entryIndex}, ${chunks.length} chunk proofs)`, () =>
      this.escrow.submitChunked(dealId, entryIndex, chunksA, chunksB),
    );
  }

  /**
   * The batch verifier of each module of a deal (copied at proposal), or null where the module's shape
   * had none (then only `submit` / `submitMany` prove its entries).
   */
  async batchVerifiersOf(dealId: BigNumberish): Promise<(string | null)[]> {
    const deal = await this.getDeal(dealId);
    const out: (string | null)[] = [];
    for (let m = 0; m < Number(deal.moduleCount); m++) {
      const a = await view(`batchVerifierOf(${dealId}, ${m})`, () => this.escrow.batchVerifierOf(dealId, m));
      out.push(a === ZeroAddress ? null : a);
    }
    return out;
  }

  /** Pays the contributor once every entry is proven (anyone may call). */
  async settle(dealId: BigNumberish): Promise<TxResult> {
    return mined(`settle(${dealId})`, () => this.escrow.settle(dealId));
  }

  /** Returns the deposit to the buyer after the proving window ended unproven (anyone may call). */
  async refund(dealId: BigNumberish): Promise<TxResult> {
    return mined(`refund(${dealId})`, () => this.escrow.refund(dealId));
  }

  /** Cancels an unfunded deal (contributor only). */
  async cancel(dealId: BigNumberish): Promise<TxResult> {
    return mined(`cancel(${dealId})`, () => this.escrow.cancel(dealId));
  }

  // ---------------------------------------------------------------- events

  /**
   * The escrow's logs of one event, optionally for one deal (every event's first indexed
   * argument is the deal id), between two blocks (default: all).
   */
  async queryEvents<N extends EscrowEventName>(
    name: N,
    opts: { dealId?: BigNumberish; fromBlock?: number; toBlock?: number | "latest" } = {},
  ): Promise<TypedEventLog<ReturnType<LoraEscrow["getEvent"]> & TypedContractEvent>[]> {
    const filter = this.escrow.filters[name as "DealProposed"](opts.dealId);
    const logs = await view(`querying ${name}`, () =>
      this.escrow.queryFilter(filter, opts.fromBlock ?? 0, opts.toBlock ?? "latest"),
    );
    return logs as unknown as TypedEventLog<ReturnType<LoraEscrow["getEvent"]> & TypedContractEvent>[];
  }

  /**
   * Subscribes to an escrow event (optionally one deal's). The listener gets the decoded event
   * (name, arguments by name and position, block, transaction). Returns the unsubscribe function.
   */
  async onEvent(
    name: EscrowEventName,
    listener: (event: EscrowEvent) => void,
    opts: { dealId?: BigNumberish } = {},
  ): Promise<() => Promise<void>> {
    const filter = this.escrow.filters[name as "DealProposed"](opts.dealId);
    const wrapped = (...raw: unknown[]) => {
      const payload = raw[raw.length - 1] as { log?: Log } | undefined;
      const log = payload?.log;
      if (log === undefined) return;
      const parsed = this.escrow.interface.parseLog(log);
      if (parsed === null) return;
      listener({
        name: parsed.name as EscrowEventName,
        args: parsed.args,
        blockNumber: log.blockNumber,
        transactionHash: log.transactionHash,
      });
    };
    const typed = wrapped as unknown as TypedListener<
      ReturnType<LoraEscrow["getEvent"]> & TypedContractEvent
    >;
    await this.escrow.on(filter, typed);
    return async () => {
      await this.escrow.off(filter, typed);
    };
  }
}
