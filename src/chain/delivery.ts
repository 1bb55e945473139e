/**
 * Weight delivery on-chain (zero-knowledge contingent payment): typed helpers over a
 * `ZkloraClient` for `proposeWithDelivery`, `submitDelivery`, `getDeliveries`, `settleWithKeys`
 * and the revealed keys (`KeysRevealed`). Browser-safe: ethers and the committed types only.
 */
import type { BigNumberish, ContractTransactionReceipt, ContractTransactionResponse } from "ethers";
import { ZeroAddress, getAddress } from "ethers";
import type { ProposeParams, SolidityProofArgs, TxResult, ZkloraClient } from "./client.js";
import { ChainError, toChainError } from "./errors.js";

/** A module's delivery as the escrow holds it. */
export interface DeliveryView {
  module: number;
  /** The delivery verifier copied from the registry at proposal. */
  verifier: string;
  proven: boolean;
  hK: bigint;
  hC: bigint;
}

async function mined(action: string, send: () => Promise<ContractTransactionResponse>): Promise<TxResult> {
  let tx: ContractTransactionResponse;
  let receipt: ContractTransactionReceipt | null;
  try {
    tx = await send();
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

const opt = (a: string | null | undefined) =>
  a === null || a === undefined || a === "" ? ZeroAddress : getAddress(a);

/** Proposes a deal that delivers its weights (the runner is the contributor); returns its id. */
export async function proposeWithDelivery(
  client: ZkloraClient,
  p: ProposeParams,
): Promise<{ dealId: bigint; tx: TxResult }> {
  const modules = p.modules.map((m) => ({ target: m.target, shapeId: m.shapeId, commitment: m.commitment }));
  const tx = await mined("proposeWithDelivery", () =>
    client.escrow.proposeWithDelivery(
      p.price,
      opt(p.token),
      opt(p.buyer),
      p.baseModelHash,
      modules,
      p.provingWindow,
    ),
  );
  for (const log of tx.receipt.logs) {
    const parsed = client.escrow.interface.parseLog(log);
    if (parsed?.name === "DealProposed") return { dealId: parsed.args[0] as bigint, tx };
  }
  throw new ChainError(`proposeWithDelivery: transaction ${tx.hash} emitted no DealProposed event`);
}

/** Whether a deal requires weight delivery. */
export async function deliveryRequired(client: ZkloraClient, dealId: BigNumberish): Promise<boolean> {
  return view(`deliveryRequired(${dealId})`, () => client.escrow.deliveryRequired(dealId));
}

/** A delivery deal's per-module deliveries (empty for a deal without delivery). */
export async function getDeliveries(client: ZkloraClient, dealId: BigNumberish): Promise<DeliveryView[]> {
  const list = await view(`getDeliveries(${dealId})`, () => client.escrow.getDeliveries(dealId));
  return list.map((d, module) => ({
    module,
    verifier: getAddress(d.verifier),
    proven: d.proven,
    hK: d.hK,
    hC: d.hC,
  }));
}

/** Submits a module's delivery proof (contributor, before funding). */
export async function submitDelivery(
  client: ZkloraClient,
  dealId: BigNumberish,
  d: { module: number; hK: BigNumberish; hC: BigNumberish } & SolidityProofArgs,
): Promise<TxResult> {
  return mined(`submitDelivery(${dealId}, module ${d.module})`, () =>
    client.escrow.submitDelivery(
      dealId,
      d.module,
      d.hK,
      d.hC,
      [d.a[0], d.a[1]],
      [
        [d.b[0][0], d.b[0][1]],
        [d.b[1][0], d.b[1][1]],
      ],
      [d.c[0], d.c[1]],
    ),
  );
}

/** Reveals the keys and pays the contributor in one transaction (anyone holding the keys). */
export async function settleWithKeys(
  client: ZkloraClient,
  dealId: BigNumberish,
  keys: readonly BigNumberish[],
): Promise<TxResult> {
  return mined(`settleWithKeys(${dealId})`, () => client.escrow.settleWithKeys(dealId, [...keys]));
}

/** The keys revealed by a settled delivery deal (from its KeysRevealed event), or undefined. */
export async function revealedKeys(
  client: ZkloraClient,
  dealId: BigNumberish,
  opts: { fromBlock?: number } = {},
): Promise<{ keys: bigint[]; blockNumber: number; transactionHash: string } | undefined> {
  const logs = await view("querying KeysRevealed", () =>
    client.escrow.queryFilter(client.escrow.filters.KeysRevealed(dealId), opts.fromBlock ?? 0, "latest"),
  );
  const log = logs[0];
  if (log === undefined) return undefined;
  return {
    // By position: `keys` is also the name of an Array method on ethers' Result.
    keys: [...(log.args[1] as readonly bigint[])].map((k) => BigInt(k)),
    blockNumber: log.blockNumber,
    transactionHash: log.transactionHash,
  };
}
