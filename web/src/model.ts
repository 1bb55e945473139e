/**
 * What the page shows and offers, as pure functions of chain data: the deal list from the escrow's
 * events, the viewer's role in a deal, and the actions and task commands a deal offers that role.
 * No DOM and no network: test/web/model.test.ts runs them in Node.
 */
import type { DealStatusName, DealView, EscrowEvent } from "../../src/chain/index.js";
import { formatAmount } from "./format.js";

/** One row of the deal list, folded from the deal's events. */
export interface DealSummary {
  dealId: bigint;
  contributor: string;
  /** null: an open deal not funded yet. */
  buyer: string | null;
  /** null for ETH. */
  token: string | null;
  price: bigint;
  modules: number;
  proven: number;
  status: DealStatusName;
  delivery: boolean;
  /** Block of the deal's last event. */
  lastBlock: number;
}

const ZERO = "0x0000000000000000000000000000000000000000";

/** The deals of an escrow from its events (`ZkloraClient.events()`), newest first. */
export function summarizeDeals(events: readonly EscrowEvent[]): DealSummary[] {
  const deals = new Map<bigint, DealSummary>();
  for (const e of events) {
    const dealId = BigInt(e.args[0] as bigint);
    if (e.name === "DealProposed") {
      const buyer = String(e.args.buyer);
      const token = String(e.args.token);
      deals.set(dealId, {
        dealId,
        contributor: String(e.args.contributor),
        buyer: buyer === ZERO ? null : buyer,
        token: token === ZERO ? null : token,
        price: BigInt(e.args.price as bigint),
        modules: Number(e.args.modules),
        proven: 0,
        status: "Proposed",
        delivery: false,
        lastBlock: e.blockNumber,
      });
      continue;
    }
    const d = deals.get(dealId);
    if (d === undefined) continue;
    d.lastBlock = e.blockNumber;
    switch (e.name) {
      case "DeliveryCommitted":
        d.delivery = true;
        break;
      case "DealFunded":
        d.status = "Funded";
        d.buyer = String(e.args.buyer);
        break;
      case "ModuleProven":
        d.proven++;
        break;
      case "DealSettled":
        d.status = "Settled";
        break;
      case "DealRefunded":
        d.status = "Refunded";
        break;
      case "DealCancelled":
        d.status = "Cancelled";
        break;
      default:
        break;
    }
  }
  return [...deals.values()].sort((a, b) => (a.dealId < b.dealId ? 1 : -1));
}

/** The connected account's part in a deal. */
export type Role = "contributor" | "buyer" | "open-buyer" | "viewer" | "disconnected";

/**
 * The role of `account` in a deal: its contributor, its buyer, a possible buyer of an open deal
 * (anyone but the contributor may fund it), someone else, or no wallet connected.
 */
export function roleOf(deal: Pick<DealView, "contributor" | "buyer">, account: string | null): Role {
  if (account === null) return "disconnected";
  const a = account.toLowerCase();
  if (a === deal.contributor.toLowerCase()) return "contributor";
  if (deal.buyer !== null) return a === deal.buyer.toLowerCase() ? "buyer" : "viewer";
  return "open-buyer";
}

/** A transaction the page sends from the connected account. */
export interface PageAction {
  kind: "settle" | "refund" | "cancel" | "approve";
  label: string;
  /** A warning when the chain will likely refuse it now (the button still sends: the escrow decides). */
  warning?: string;
}

/** A step that needs the tasks (local files): the command to run. */
export interface TaskStep {
  title: string;
  command: string;
  why: string;
}

/** What a deal offers the viewer. */
export interface DealPlan {
  actions: PageAction[];
  steps: TaskStep[];
  /**
   * Whether the page offers "Fund from a prepared file" (a proposed deal, the connected account its
   * buyer or anyone but the contributor for an open deal): the file of `zklora:fund --prepare`.
   */
  fundFromFile: boolean;
  /** One line on where the deal stands, for everyone. */
  summary: string;
}

/** The buyer's workspace in the commands the page shows (as in the README's walkthrough). */
const BUYER_WORKSPACE = "deals/b1";

/** The command that writes the fund request the page funds from (read-only: no --from). */
export function fundPrepareCommand(network: string): string {
  return `npx hardhat zklora:fund --network ${network} --workspace ${BUYER_WORKSPACE} --prepare fund-request.json`;
}

/** The command that hands the deal keys to the contributor after the page funded the deal. */
export function fundUploadCommand(network: string, account: string | null): string {
  const from = account === null ? "" : ` --from ${account}`;
  return `npx hardhat zklora:fund --network ${network} --workspace ${BUYER_WORKSPACE} --upload --url <contributor's server URL>${from}`;
}

/** What `planDeal` needs besides the deal. */
export interface PlanContext {
  account: string | null;
  /** The deployment's Hardhat network name, for the task commands. */
  network: string;
  /** Chain time now (unix seconds). */
  now: bigint;
  token: { symbol: string; decimals: number };
  /** The connected account's allowance for the escrow (ERC-20 deals; null for ETH or unknown). */
  allowance: bigint | null;
}

/** The actions and task commands of a deal for the connected account. */
export function planDeal(deal: DealView, ctx: PlanContext): DealPlan {
  const role = roleOf(deal, ctx.account);
  const price = formatAmount(deal.price, ctx.token);
  const net = `--network ${ctx.network}`;
  const actions: PageAction[] = [];
  const steps: TaskStep[] = [];
  let summary: string;
  let fundFromFile = false;
  const allProven = deal.proven === deal.modules;
  switch (deal.status) {
    case "Proposed": {
      summary = `proposed for ${price}; waiting for ${deal.buyer === null ? "a buyer" : "the buyer"} to evaluate and fund it`;
      if (role === "contributor") {
        actions.push({ kind: "cancel", label: "Cancel the deal" });
      }
      if (role !== "contributor") {
        const from = role === "buyer" || role === "open-buyer" ? ` --from ${ctx.account}` : "";
        steps.push({
          title: "Fund the deal (buyer)",
          command: `npx hardhat zklora:fund ${net} --workspace ${BUYER_WORKSPACE} --url <contributor's server URL>${from}`,
          why:
            "Funding registers the buyer's entries (the rows it evaluated, folded, from <workspace>/buyer-calls.jsonl of zklora:infer) " +
            "and a fresh deal key δ' per shape that zklora:fund makes locally: the page cannot compute them. " +
            "Run zklora:infer first, in a workspace holding the deal.json the contributor sent.",
        });
        if (role === "buyer" || role === "open-buyer") {
          fundFromFile = true;
          steps.push({
            title: "Or fund from this page (buyer)",
            command: fundPrepareCommand(ctx.network),
            why:
              "zklora:fund --prepare makes the entries and deal keys and checks the offer, but sends nothing: " +
              "choose the file it writes under Fund from a prepared file, and your wallet sends the deposit " +
              "(approving the token first when needed); then hand the deal keys over with zklora:fund --upload.",
          });
        }
        if (deal.token !== null && (role === "buyer" || role === "open-buyer")) {
          const enough = ctx.allowance !== null && ctx.allowance >= deal.price;
          actions.push({
            kind: "approve",
            label: `Approve ${price} for the escrow`,
            warning: enough
              ? `the escrow may already spend ${formatAmount(ctx.allowance ?? 0n, ctx.token)}`
              : undefined,
          });
        }
      }
      break;
    }
    case "Funded": {
      const deadline = deal.deadline ?? 0n;
      const open = ctx.now <= deadline;
      const next = allProven
        ? deal.delivery
          ? open
            ? "the contributor settles with the delivery keys (zklora:settle)"
            : "the window closed before the keys were delivered: the buyer may refund"
          : "the contributor settles"
        : open
          ? "the contributor proves the rest within the window"
          : "the window closed: the buyer may refund";
      summary = `funded: ${deal.proven} of ${deal.modules} modules proven; ${next}`;
      if (role === "contributor") {
        if (deal.delivery) {
          steps.push({
            title: "Settle (contributor)",
            command: `npx hardhat zklora:settle ${net} --workspace deals/d1 --from ${deal.contributor}`,
            why:
              "A delivery deal settles with the delivery keys wrapped for the buyer and a key-wrap proof, " +
              "made from the contributor's workspace (delivery-secrets.json, the buyer's key-wrap key): run zklora:settle.",
          });
        } else {
          actions.push({
            kind: "settle",
            label: `Settle: receive ${price}`,
            warning: allProven
              ? undefined
              : `${deal.proven} of ${deal.modules} modules are proven: prove and submit the rest first (zklora:prove, zklora:submit)`,
          });
        }
        if (!allProven) {
          steps.push({
            title: "Prove and submit (contributor)",
            command: `npx hardhat zklora:prove ${net} --workspace deals/d1 && npx hardhat zklora:submit ${net} --workspace deals/d1`,
            why: "Proofs are made from the contributor's secret weights and the buyer's deal keys.",
          });
        }
      }
      if (role === "buyer" && open && (!allProven || deal.delivery)) {
        steps.push({
          title: "Hand the deal keys to the contributor (buyer, after funding from this page)",
          command: fundUploadCommand(ctx.network, ctx.account),
          why:
            "The contributor proves with your deal keys (and settles a delivery deal with your key-wrap key), " +
            "which stay in your workspace until zklora:fund --upload checks them against the funding and uploads them " +
            "(zklora:fund --url did it already).",
        });
      }
      if (role === "buyer") {
        let warning: string | undefined;
        if (open)
          warning = `the proving window is open until ${new Date(Number(deadline) * 1000).toISOString()}`;
        else if (allProven && !deal.delivery)
          warning = "every module is proven: the deal can only be settled";
        actions.push({ kind: "refund", label: `Refund: get ${price} back`, warning });
      }
      break;
    }
    case "Settled":
      summary = `settled: the contributor was paid ${price}`;
      break;
    case "Refunded":
      summary = `refunded: the buyer got ${price} back`;
      break;
    case "Cancelled":
      summary = "cancelled by the contributor before funding";
      break;
    default:
      summary = deal.status;
  }
  return { actions, steps, fundFromFile, summary };
}

/**
 * The chain's clock: the latest block's time when it runs ahead of this computer (a local node
 * after evm_increaseTime), this computer's otherwise, advancing with this computer's.
 */
export class ChainClock {
  private readonly base: number;
  private readonly at: number;

  constructor(latestBlockTimestamp: number, wallMs: number = Date.now()) {
    this.base = Math.max(latestBlockTimestamp, Math.floor(wallMs / 1000));
    this.at = wallMs;
  }

  /** Chain time now (unix seconds). */
  now(wallMs: number = Date.now()): bigint {
    return BigInt(this.base + Math.floor((wallMs - this.at) / 1000));
  }
}
