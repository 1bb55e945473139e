/**
 * A typed ethers v6 client for a zklora deployment (protocol v2: LoraEscrowV2 + ShapeRegistryV2),
 * for Node and for browser dApps alike: it imports only ethers, the committed TypeChain types
 * (generated from the compiled ABIs by `npm run abi`) and pure helpers. File I/O for deployment
 * records lives in ./deployments.ts (lazy node imports) and is not needed here.
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
import {
  IERC20Metadata__factory,
  LoraEscrowV2__factory,
  LoraKeyWrapVerifierV2__factory,
  LoraModuleVerifierV2__factory,
  ShapeRegistryV2__factory,
  type LoraEscrowV2,
  type ShapeRegistryV2,
} from "./typechain/index.js";

/** A G1 point [x, y]. */
export type G1 = readonly [bigint, bigint];
/** A G2 point in EIP-197 order [x_im, x_re, y_im, y_re]. */
export type G2 = readonly [bigint, bigint, bigint, bigint];

/** What the client needs to find a deployment. */
export interface ZkloraAddresses {
  chainId: number;
  escrow: string;
  registry: string;
}

/** The addresses of a deployment record. */
export function addressesOf(record: DeploymentRecord): ZkloraAddresses {
  return {
    chainId: record.chainId,
    escrow: record.contracts.LoraEscrowV2.address,
    registry: record.contracts.ShapeRegistryV2.address,
  };
}

/** A deal as the escrow stores it. */
export interface DealView {
  dealId: bigint;
  contributor: string;
  /** null for an open deal before funding. */
  buyer: string | null;
  /** null for ETH. */
  token: string | null;
  price: bigint;
  baseModelHash: string;
  status: DealStatusName;
  modules: number;
  proven: number;
  /** Proving window in seconds. */
  window: bigint;
  /** End of the proving window (unix seconds); null before funding. */
  deadline: bigint | null;
  /** A delivery deal: settled only with the delivery keys wrapped for the buyer (`settleWithKeys`). */
  delivery: boolean;
}

/** The buyer's key-wrap key of a delivery deal: a Baby Jubjub public key and its δ' of the key-wrap circuit. */
export interface WrapKeyInput {
  pk: readonly [bigint, bigint];
  delta: G2;
}

/** The buyer's key-wrap key at funding, with the subgroup certificate of its public key (8·pkRoot = pk). */
export interface WrapFundInput extends WrapKeyInput {
  pkRoot: readonly [bigint, bigint];
}

/** What `settleWithKeys` takes besides the deal id. */
export interface SettleWithKeysInput {
  wrap: WrapKeyInput;
  /** hK_m of every module, as proposed. */
  keyHashes: readonly bigint[];
  /** E = e·G (Baby Jubjub). */
  e: readonly [bigint, bigint];
  /** R_m of every module. */
  wrapped: readonly bigint[];
  /** One key-wrap proof per group of the verifier's SLOTS modules. */
  proofs: readonly ProofInput[];
}

/** The delivery keys a settled delivery deal published, wrapped for its buyer. */
export interface DeliveredKeys {
  e: [bigint, bigint];
  wrapped: bigint[];
}

/** A module of a deal (from its ModuleCommitted event) and its proof state. */
export interface ModuleView {
  index: number;
  shapeId: string;
  wM: G1;
  proven: boolean;
}

/** The buyer's entry of a module (from its EntryRegistered event). */
export interface EntryView {
  module: number;
  hX: string;
  hY: string;
  rho: bigint;
  fY: bigint;
  dX: G1;
}

/** A module at propose. */
export interface ModuleInput {
  shapeId: string;
  wM: G1;
}

/** The buyer's entry of a module at funding. */
export interface EntryInput {
  hX: string;
  hY: string;
  dX: G1;
  fY: bigint;
}

/** The buyer's δ' of one shape of the deal. */
export interface DealKeyInput {
  shapeId: string;
  delta: G2;
}

/** What a module proof is checked against. */
export interface ClaimInput {
  module: number;
  shapeId: string;
  wM: G1;
  rho: bigint;
  fY: bigint;
  dX: G1;
}

/** A Groth16 proof as the v2 verifier takes it (b in EIP-197 order). */
export interface ProofInput {
  a: G1;
  b: G2;
  c: G1;
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
  /** bytes32 hash of the base model (e.g. 0x + sha256 of its weights). */
  baseModelHash: string;
  modules: readonly ModuleInput[];
  /** Seconds the contributor has after funding. */
  provingWindow: bigint | number;
  /** A delivery deal: hK_m = Poseidon(k_m) of every module's delivery key (`proposeDelivery`). */
  keyHashes?: readonly bigint[];
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
  | "DealCancelled"
  | "DealFunded"
  | "DealKeySet"
  | "EntryRegistered"
  | "ModuleProven"
  | "DealSettled"
  | "DealRefunded"
  | "DeliveryCommitted"
  | "WrapKeySet"
  | "KeysDelivered";

/** A decoded escrow event delivered to an `onEvent` listener. */
export interface EscrowEvent {
  name: EscrowEventName;
  /** The event's arguments, by position and by name (`args.dealId`). */
  args: Result;
  blockNumber: number;
  transactionHash: string;
}

function optionalAddress(a: string | null | undefined): string {
  return a === null || a === undefined || a === "" ? ZeroAddress : getAddress(a);
}

const g1 = (p: readonly bigint[]): G1 => [BigInt(p[0]), BigInt(p[1])];

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

const t2 = (p: G1): [bigint, bigint] => [p[0], p[1]];
const t4 = (p: G2): [bigint, bigint, bigint, bigint] => [p[0], p[1], p[2], p[3]];
const claimArg = (c: ClaimInput) => ({
  module: c.module,
  shapeId: c.shapeId,
  wM: t2(c.wM),
  rho: c.rho,
  fY: c.fY,
  dX: t2(c.dX),
});
const proofArg = (p: ProofInput) => ({ a: t2(p.a), b: t4(p.b), c: t2(p.c) });

/** The typed client of one deployment. */
export class ZkloraClient {
  private constructor(
    /** The typed escrow contract (TypeChain). */
    readonly escrow: LoraEscrowV2,
    /** The typed registry contract (TypeChain). */
    readonly registry: ShapeRegistryV2,
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
      LoraEscrowV2__factory.connect(escrowAddress, runner),
      ShapeRegistryV2__factory.connect(getAddress(addresses.registry), runner),
      addresses,
      runner,
    );
  }

  /** The same deployment with another signer or provider (no checks). */
  withRunner(runner: ContractRunner): ZkloraClient {
    return new ZkloraClient(
      this.escrow.connect(runner) as LoraEscrowV2,
      this.registry.connect(runner) as ShapeRegistryV2,
      this.addresses,
      runner,
    );
  }

  // ---------------------------------------------------------------- reads

  /** Ids of every deal proposed so far (1 .. dealCount). */
  async dealIds(): Promise<bigint[]> {
    const n = await view("dealCount", () => this.escrow.dealCount());
    const ids: bigint[] = [];
    for (let i = 1n; i <= n; i++) ids.push(i);
    return ids;
  }

  /** A deal; throws a ChainError when the escrow has none with this id. */
  async getDeal(dealId: BigNumberish): Promise<DealView> {
    const d = await view(`getDeal(${dealId})`, () => this.escrow.getDeal(dealId));
    if (Number(d.status) === 0) {
      throw new ChainError(
        `no deal ${dealId} on escrow ${this.addresses.escrow}; check --deal and the network`,
      );
    }
    return {
      dealId: BigInt(dealId),
      contributor: d.contributor,
      buyer: d.buyer === ZeroAddress ? null : d.buyer,
      token: d.token === ZeroAddress ? null : d.token,
      price: d.price,
      baseModelHash: d.baseModelHash,
      status: DEAL_STATUS[Number(d.status)] ?? "None",
      modules: Number(d.modules),
      proven: Number(d.proven),
      window: d.window,
      deadline: d.deadline === 0n ? null : d.deadline,
      delivery: d.delivery,
    };
  }

  /** A deal's modules, in order, with their proof state. */
  async getModules(dealId: BigNumberish): Promise<ModuleView[]> {
    const logs = await view(`ModuleCommitted(${dealId})`, () =>
      this.escrow.queryFilter(this.escrow.filters.ModuleCommitted(dealId)),
    );
    const mods = logs
      .map((l) => ({
        index: Number(l.args.module),
        shapeId: l.args.shapeId,
        wM: g1(l.args.wM),
        proven: false,
      }))
      .sort((a, b) => a.index - b.index);
    for (const m of mods) m.proven = await view("isProven", () => this.escrow.isProven(dealId, m.index));
    return mods;
  }

  /** The buyer's entries (empty before funding), in module order. */
  async getEntries(dealId: BigNumberish): Promise<EntryView[]> {
    const logs = await view(`EntryRegistered(${dealId})`, () =>
      this.escrow.queryFilter(this.escrow.filters.EntryRegistered(dealId)),
    );
    return logs
      .map((l) => ({
        module: Number(l.args.module),
        hX: l.args.hX,
        hY: l.args.hY,
        rho: l.args.rho,
        fY: l.args.fY,
        dX: g1(l.args.dX),
      }))
      .sort((a, b) => a.module - b.module);
  }

  /** The buyer's δ' per shape (empty before funding). */
  async getDealKeys(dealId: BigNumberish): Promise<DealKeyInput[]> {
    const logs = await view(`DealKeySet(${dealId})`, () =>
      this.escrow.queryFilter(this.escrow.filters.DealKeySet(dealId)),
    );
    return logs.map((l) => {
      const d = l.args.delta;
      return { shapeId: l.args.shapeId, delta: [d[0], d[1], d[2], d[3]] as G2 };
    });
  }

  /** A delivery deal's hK_m per module (from its DeliveryCommitted event); null for other deals. */
  async getKeyHashes(dealId: BigNumberish): Promise<bigint[] | null> {
    const logs = await view(`DeliveryCommitted(${dealId})`, () =>
      this.escrow.queryFilter(this.escrow.filters.DeliveryCommitted(dealId)),
    );
    return logs.length === 0 ? null : logs[0].args.keyHashes.map((v) => BigInt(v));
  }

  /** The buyer's key-wrap key of a funded delivery deal (from WrapKeySet); null otherwise. */
  async getWrapKey(dealId: BigNumberish): Promise<WrapKeyInput | null> {
    const logs = await view(`WrapKeySet(${dealId})`, () =>
      this.escrow.queryFilter(this.escrow.filters.WrapKeySet(dealId)),
    );
    if (logs.length === 0) return null;
    const { pk, delta } = logs[0].args;
    return { pk: [pk[0], pk[1]], delta: [delta[0], delta[1], delta[2], delta[3]] };
  }

  /** The wrapped delivery keys of a settled delivery deal (from KeysDelivered); null before. */
  async getDeliveredKeys(dealId: BigNumberish): Promise<DeliveredKeys | null> {
    const logs = await view(`KeysDelivered(${dealId})`, () =>
      this.escrow.queryFilter(this.escrow.filters.KeysDelivered(dealId)),
    );
    if (logs.length === 0) return null;
    const { e, wrapped } = logs[0].args;
    return { e: [e[0], e[1]], wrapped: wrapped.map((v) => BigInt(v)) };
  }

  /** The registry's key-wrap verifier (null when none is registered), its key hash and slots per proof. */
  async wrapVerifier(): Promise<{ address: string; keyHash: string; slots: number } | null> {
    const v = await view("wrapVerifier", () => this.registry.wrapVerifier());
    if (v === ZeroAddress) return null;
    const w = LoraKeyWrapVerifierV2__factory.connect(v, this.runner);
    const [keyHash, slots] = await Promise.all([
      view("keyHash", () => w.keyHash()),
      view("SLOTS", () => w.SLOTS()),
    ]);
    return { address: v, keyHash, slots: Number(slots) };
  }

  /** The registered verifier of a shape, or null. */
  async verifierOf(shapeId: string): Promise<string | null> {
    const v = await view(`verifierOf(${shapeId})`, () => this.registry.verifierOf(shapeId));
    return v === ZeroAddress ? null : v;
  }

  /** The key hash of a registered verifier. */
  async keyHashOf(verifier: string): Promise<string> {
    return view("keyHash", () => LoraModuleVerifierV2__factory.connect(verifier, this.runner).keyHash());
  }

  /** Symbol and decimals of the payment token (ETH for null). */
  async tokenInfo(token: string | null): Promise<TokenInfo> {
    if (token === null) return { address: null, symbol: "ETH", decimals: 18 };
    const erc20 = IERC20Metadata__factory.connect(token, this.runner);
    const [symbol, decimals] = await Promise.all([
      view("symbol", () => erc20.symbol()),
      view("decimals", () => erc20.decimals()),
    ]);
    return { address: getAddress(token), symbol, decimals: Number(decimals) };
  }

  // ---------------------------------------------------------------- transactions

  /** Proposes a deal (the signer is the contributor). */
  async propose(p: ProposeParams): Promise<{ dealId: bigint; tx: TxResult }> {
    const modules = p.modules.map((m) => ({ shapeId: m.shapeId, wM: t2(m.wM) }));
    const args = [
      optionalAddress(p.buyer),
      optionalAddress(p.token),
      p.price,
      p.baseModelHash,
      p.provingWindow,
    ] as const;
    const keyHashes = p.keyHashes;
    const tx =
      keyHashes === undefined
        ? await mined("propose", () => this.escrow.propose(...args, modules))
        : await mined("proposeDelivery", () => this.escrow.proposeDelivery(...args, modules, [...keyHashes]));
    for (const log of tx.receipt.logs) {
      const parsed = this.escrow.interface.parseLog(log);
      if (parsed?.name === "DealProposed") return { dealId: parsed.args.dealId as bigint, tx };
    }
    throw new ChainError(`propose: transaction ${tx.hash} emitted no DealProposed event`);
  }

  /**
   * Funds a deal with exactly its price, the δ' of each of its shapes (in the deal's shape order)
   * and one entry per module. Token deals first approve the escrow for the price when the
   * allowance is short (`approve: false` skips that). A delivery deal also takes the buyer's
   * key-wrap key (`opts.wrap`; `fundDelivery`).
   */
  async fund(
    dealId: BigNumberish,
    keys: readonly DealKeyInput[],
    entries: readonly EntryInput[],
    opts: { approve?: boolean; wrap?: WrapFundInput } = {},
  ): Promise<{ tx: TxResult; approveTx?: TxResult }> {
    const deal = await this.getDeal(dealId);
    const k = keys.map((x) => ({ shapeId: x.shapeId, delta: t4(x.delta) }));
    const e = entries.map((x) => ({ hX: x.hX, hY: x.hY, dX: t2(x.dX), fY: x.fY }));
    const w = opts.wrap;
    const send = (value?: bigint) => {
      const o = value === undefined ? {} : { value };
      return w === undefined
        ? this.escrow.fund(dealId, k, e, o)
        : this.escrow.fundDelivery(dealId, k, e, { pk: t2(w.pk), delta: t4(w.delta) }, t2(w.pkRoot), o);
    };
    if (deal.token === null) {
      const tx = await mined(`fund(${dealId})`, () => send(deal.price));
      return { tx };
    }
    let approveTx: TxResult | undefined;
    if (opts.approve !== false) {
      const signer = this.runner as { getAddress?: () => Promise<string> };
      if (typeof signer.getAddress !== "function")
        throw new ChainError("fund needs a signer, not a provider");
      const owner = await signer.getAddress();
      const erc20 = IERC20Metadata__factory.connect(deal.token, this.runner);
      const spender = this.escrow.target as string;
      const allowance = await view("allowance", () => erc20.allowance(owner, spender));
      if (allowance < deal.price) {
        approveTx = await mined(`approve(${deal.token})`, () => erc20.approve(spender, deal.price));
      }
    }
    const tx = await mined(`fund(${dealId})`, () => send());
    return { tx, approveTx };
  }

  /** Submits the proof of one module under the deal's δ' of its shape. */
  async submit(dealId: BigNumberish, claim: ClaimInput, proof: ProofInput, delta: G2): Promise<TxResult> {
    return mined(`submit(${dealId}, module ${claim.module})`, () =>
      this.escrow.submit(dealId, claimArg(claim), proofArg(proof), t4(delta)),
    );
  }

  /**
   * Submits proofs of modules of one shape, batch-verified in one pairing check; modules already
   * proven are skipped (a proof copied ahead of the batch cannot make it fail).
   */
  async submitBatch(
    dealId: BigNumberish,
    shapeId: string,
    delta: G2,
    claims: readonly ClaimInput[],
    proofs: readonly ProofInput[],
  ): Promise<TxResult> {
    return mined(`submitBatch(${dealId}, ${claims.length} modules)`, () =>
      this.escrow.submitBatch(dealId, shapeId, t4(delta), claims.map(claimArg), proofs.map(proofArg)),
    );
  }

  /** Pays the contributor once every module is proven. */
  async settle(dealId: BigNumberish): Promise<TxResult> {
    return mined(`settle(${dealId})`, () => this.escrow.settle(dealId));
  }

  /** Pays the contributor of a delivery deal against its delivery keys wrapped for the buyer. */
  async settleWithKeys(dealId: BigNumberish, s: SettleWithKeysInput): Promise<TxResult> {
    return mined(`settleWithKeys(${dealId})`, () =>
      this.escrow.settleWithKeys(
        dealId,
        { pk: t2(s.wrap.pk), delta: t4(s.wrap.delta) },
        [...s.keyHashes],
        t2(s.e),
        [...s.wrapped],
        s.proofs.map(proofArg),
      ),
    );
  }

  /** Refunds the buyer after the proving window when a module is unproven (or a delivery deal is unsettled). */
  async refund(dealId: BigNumberish): Promise<TxResult> {
    return mined(`refund(${dealId})`, () => this.escrow.refund(dealId));
  }

  /** The contributor withdraws a proposed, unfunded deal. */
  async cancel(dealId: BigNumberish): Promise<TxResult> {
    return mined(`cancel(${dealId})`, () => this.escrow.cancel(dealId));
  }

  // ---------------------------------------------------------------- events

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
    await this.escrow.on(filter, wrapped);
    return async () => {
      await this.escrow.off(filter, wrapped);
    };
  }

  /** Every escrow event of a deal (or of all deals), in chain order. */
  async events(opts: { dealId?: BigNumberish; fromBlock?: number } = {}): Promise<EscrowEvent[]> {
    const logs = await view("querying events", () =>
      this.escrow.runner!.provider!.getLogs({
        address: this.escrow.target as string,
        fromBlock: opts.fromBlock ?? 0,
        toBlock: "latest",
      }),
    );
    const out: EscrowEvent[] = [];
    for (const log of logs) {
      const parsed = this.escrow.interface.parseLog(log);
      if (parsed === null) continue;
      if (opts.dealId !== undefined && parsed.args[0] !== BigInt(opts.dealId)) continue;
      out.push({
        name: parsed.name as EscrowEventName,
        args: parsed.args,
        blockNumber: log.blockNumber,
        transactionHash: log.transactionHash,
      });
    }
    return out;
  }
}
