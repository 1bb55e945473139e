/**
 * The zklora dApp: the deals of a deployment and one deal's page, with the transactions that need
 * no local files (the buyer's approve and refund, the contributor's settle of a plain deal and
 * cancel of a proposed one) sent through the injected wallet, the buyer's funding from the file
 * `zklora:fund --prepare` wrote (its entries and deal keys come from the buyer's machine), and the
 * task command for the steps that need local files (preparing the funding and uploading its keys,
 * proving, settling a delivery deal).
 *
 * URL: `?network=NAME` (default localhost) picks `/deployments/NAME.json`; `?deployment=URL` takes
 * the record from elsewhere; `?rpc=URL` reads the chain through that JSON-RPC endpoint instead of
 * the wallet. Routes: `#/` the deals, `#/deal/ID` one deal.
 */
import { BrowserProvider, JsonRpcProvider, Network, type Provider } from "ethers";
import {
  ChainError,
  IERC20Metadata__factory,
  ZkloraClient,
  addressesOf,
  checkFundRequest,
  parseFundRequestText,
  toChainError,
  type DealKeyInput,
  type DealView,
  type DeliveredKeys,
  type DeploymentRecord,
  type EntryView,
  type EscrowEvent,
  type ModuleView,
  type TokenInfo,
  type TxResult,
} from "../../src/chain/index.js";
import { checkRecord } from "./record.js";
import { h } from "./dom.js";
import { countdown, formatAmount, formatDuration, isoTime, shortHex, shortNum } from "./format.js";
import {
  ChainClock,
  fundUploadCommand,
  planDeal,
  roleOf,
  summarizeDeals,
  type PageAction,
  type Role,
} from "./model.js";
import {
  currentAccounts,
  injected,
  requestAccounts,
  switchChain,
  walletChainId,
  watchWallet,
  type InjectedProvider,
} from "./wallet.js";

const params = new URLSearchParams(location.search);
const NETWORK = params.get("network") ?? "localhost";
const DEPLOYMENT_URL = params.get("deployment") ?? `/deployments/${encodeURIComponent(NETWORK)}.json`;
const RPC = params.get("rpc");
/** Reads without a wallet on a local chain go to the node of the README's walkthrough. */
const LOCAL_RPC = "http://127.0.0.1:8545";
const LOCAL_CHAINS = new Set([31337, 1337]);

interface Notice {
  kind: "ok" | "error" | "info";
  text: string;
  /** A command to run next, shown under the text. */
  command?: string;
}

const app = {
  record: null as DeploymentRecord | null,
  reader: null as ZkloraClient | null,
  provider: null as Provider | null,
  wallet: injected() as InjectedProvider | undefined,
  account: null as string | null,
  walletChain: null as bigint | null,
  /** Why nothing can be shown (no record, wrong chain, no node). */
  fatal: null as string | null,
  /** The action being sent. */
  busy: null as string | null,
  notice: null as Notice | null,
  lastBlock: -1,
  clock: new ChainClock(0),
  rendering: 0,
};

const root = document.getElementById("app") as HTMLElement;
const walletBox = document.getElementById("wallet") as HTMLElement;
const networkBox = document.getElementById("network") as HTMLElement;

function messageOf(err: unknown, action: string): string {
  return (err instanceof ChainError ? err : toChainError(err, action)).message;
}

// ------------------------------------------------------------------ connection

async function loadRecord(): Promise<DeploymentRecord> {
  let res: Response;
  try {
    res = await fetch(DEPLOYMENT_URL, { cache: "no-store" });
  } catch (err) {
    throw new Error(`cannot fetch the deployment record ${DEPLOYMENT_URL}: ${String(err)}`, { cause: err });
  }
  const body = (await res.json().catch(() => null)) as { error?: string } | null;
  if (!res.ok) {
    throw new Error(
      body?.error ??
        `no deployment record at ${DEPLOYMENT_URL} (HTTP ${res.status}): run \`npx hardhat zklora:deploy --network ${NETWORK}\``,
    );
  }
  return checkRecord(body);
}

/**
 * Providers poll every 500 ms (a transaction's receipt shows up fast on a local node) and cache
 * nothing: the redraw right after a transaction must not get the answers from before it.
 */
const PROVIDER_OPTIONS = (staticNetwork?: Network) => ({
  pollingInterval: 500,
  cacheTimeout: -1,
  staticNetwork,
});

/** The provider the page reads through: ?rpc=, else the wallet, else the local node. */
function readProvider(record: DeploymentRecord): Provider {
  if (RPC !== null || app.wallet === undefined) {
    const url = RPC ?? (LOCAL_CHAINS.has(record.chainId) ? LOCAL_RPC : null);
    if (url === null) {
      throw new Error(
        `no wallet in this browser: install one (MetaMask, Rabby, Frame) or pass ?rpc=URL to read chain ${record.chainId}`,
      );
    }
    const net = Network.from(record.chainId);
    return new JsonRpcProvider(url, net, PROVIDER_OPTIONS(net));
  }
  return new BrowserProvider(app.wallet, undefined, PROVIDER_OPTIONS());
}

async function connect(): Promise<void> {
  app.fatal = null;
  try {
    app.record ??= await loadRecord();
    const record = app.record;
    if (app.wallet !== undefined) {
      const accounts = await currentAccounts(app.wallet);
      app.account = accounts[0] ?? null;
      app.walletChain = await walletChainId(app.wallet);
    }
    (app.provider as { destroy?: () => void } | null)?.destroy?.();
    app.provider = readProvider(record);
    app.reader = await ZkloraClient.connect(app.provider, addressesOf(record));
    const block = await app.provider.getBlock("latest");
    app.lastBlock = block?.number ?? 0;
    app.clock = new ChainClock(block?.timestamp ?? 0);
  } catch (err) {
    app.reader = null;
    app.fatal = err instanceof Error ? err.message : String(err);
  }
}

/** A client that signs with the connected account. */
async function signingClient(): Promise<{ client: ZkloraClient; provider: BrowserProvider }> {
  const record = app.record;
  if (app.wallet === undefined || app.account === null || app.reader === null || record === null) {
    throw new ChainError("connect a wallet first");
  }
  const chain = await walletChainId(app.wallet);
  if (chain !== BigInt(record.chainId)) {
    throw new ChainError(
      `the wallet is on chain ${chain} but the deployment is on chain ${record.chainId}: switch the wallet's network`,
    );
  }
  const provider = new BrowserProvider(app.wallet, undefined, PROVIDER_OPTIONS());
  const signer = await provider.getSigner(app.account);
  return { client: app.reader.withRunner(signer), provider };
}

// ------------------------------------------------------------------ header

function renderHeader(): void {
  const r = app.record;
  networkBox.replaceChildren(
    r === null
      ? h("span", {}, `deployment ${DEPLOYMENT_URL}`)
      : h(
          "span",
          { title: `registry ${r.contracts.ShapeRegistryV2.address}` },
          `${r.network} · chain ${r.chainId} · escrow `,
          h("code", {}, shortHex(r.contracts.LoraEscrowV2.address)),
        ),
  );
  const parts: (Node | string)[] = [];
  if (app.wallet === undefined) {
    parts.push(h("span", { class: "muted" }, "no wallet (read-only)"));
  } else if (app.account === null) {
    parts.push(
      h(
        "button",
        {
          id: "connect",
          onclick: () => {
            void requestAccounts(app.wallet as InjectedProvider).then(refresh, (err: unknown) => {
              app.notice = { kind: "error", text: messageOf(err, "connecting the wallet") };
              void refresh();
            });
          },
        },
        "Connect wallet",
      ),
    );
  } else {
    parts.push(h("span", { id: "account", title: app.account }, `account ${shortHex(app.account, 8, 6)}`));
    if (r !== null && app.walletChain !== null && app.walletChain !== BigInt(r.chainId)) {
      parts.push(
        h(
          "button",
          {
            id: "switch-chain",
            onclick: () => {
              void switchChain(app.wallet as InjectedProvider, r.chainId).catch((err: unknown) => {
                app.notice = { kind: "error", text: messageOf(err, "switching the network") };
                void refresh();
              });
            },
          },
          `Switch wallet to chain ${r.chainId}`,
        ),
      );
    }
  }
  walletBox.replaceChildren(...parts);
}

function noticeBox(): HTMLElement | null {
  const n = app.notice;
  if (n === null) return null;
  return h(
    "div",
    { id: "notice", class: `notice ${n.kind}`, role: n.kind === "error" ? "alert" : "status" },
    h(
      "div",
      {},
      h("span", {}, n.text),
      n.command === undefined ? null : h("pre", { id: "notice-command", class: "command" }, n.command),
    ),
    h(
      "button",
      {
        class: "link",
        title: "dismiss",
        onclick: () => {
          app.notice = null;
          void refresh();
        },
      },
      "×",
    ),
  );
}

// ------------------------------------------------------------------ deal list

async function tokenInfos(tokens: (string | null)[]): Promise<Map<string, TokenInfo>> {
  const out = new Map<string, TokenInfo>();
  for (const t of new Set(tokens)) {
    const info = await (app.reader as ZkloraClient).tokenInfo(t).catch(() => null);
    out.set(String(t), info ?? { address: t, symbol: "?", decimals: 18 });
  }
  return out;
}

function statusBadge(status: string): HTMLElement {
  return h("span", { class: `badge ${status.toLowerCase()}` }, status);
}

function party(addr: string | null, label = "open"): HTMLElement {
  if (addr === null) return h("span", { class: "muted" }, label);
  const you = app.account !== null && addr.toLowerCase() === app.account.toLowerCase();
  return h("code", { title: addr }, shortHex(addr, 8, 4), you ? h("span", { class: "you" }, " (you)") : null);
}

async function renderList(): Promise<HTMLElement> {
  const reader = app.reader as ZkloraClient;
  const record = app.record as DeploymentRecord;
  const deals = summarizeDeals(await reader.events({ fromBlock: record.blockNumber }));
  const tokens = await tokenInfos(deals.map((d) => d.token));
  const rows = deals.map((d) => {
    const token = tokens.get(String(d.token)) as TokenInfo;
    return h(
      "tr",
      { "data-deal": String(d.dealId) },
      h("td", {}, h("a", { href: `#/deal/${d.dealId}` }, `deal ${d.dealId}`)),
      h("td", {}, statusBadge(d.status)),
      h("td", {}, formatAmount(d.price, token)),
      h("td", {}, `${d.proven} / ${d.modules}`),
      h("td", {}, party(d.contributor)),
      h("td", {}, party(d.buyer)),
      h("td", {}, d.delivery ? "delivery" : "plain"),
    );
  });
  return h(
    "section",
    { id: "deal-list" },
    h("h2", {}, `Deals (${deals.length})`),
    deals.length === 0
      ? h(
          "p",
          { class: "muted" },
          "No deal yet: a contributor proposes one with `npx hardhat zklora:propose`.",
        )
      : h(
          "table",
          {},
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["Deal", "Status", "Price", "Proven", "Contributor", "Buyer", "Kind"].map((c) =>
                h("th", {}, c),
              ),
            ),
          ),
          h("tbody", {}, rows),
        ),
  );
}

// ------------------------------------------------------------------ one deal

interface DealPage {
  deal: DealView;
  token: TokenInfo;
  modules: ModuleView[];
  entries: EntryView[];
  dealKeys: DealKeyInput[];
  events: EscrowEvent[];
  keyHashes: bigint[] | null;
  wrapKeySet: boolean;
  delivered: DeliveredKeys | null;
  allowance: bigint | null;
}

async function loadDeal(dealId: bigint): Promise<DealPage> {
  const reader = app.reader as ZkloraClient;
  const record = app.record as DeploymentRecord;
  const deal = await reader.getDeal(dealId);
  const [token, modules, entries, dealKeys, events] = await Promise.all([
    reader.tokenInfo(deal.token),
    reader.getModules(dealId),
    reader.getEntries(dealId),
    reader.getDealKeys(dealId),
    reader.events({ dealId, fromBlock: record.blockNumber }),
  ]);
  const [keyHashes, wrapKey, delivered] = deal.delivery
    ? await Promise.all([
        reader.getKeyHashes(dealId),
        reader.getWrapKey(dealId),
        reader.getDeliveredKeys(dealId),
      ])
    : [null, null, null];
  let allowance: bigint | null = null;
  if (deal.token !== null && app.account !== null) {
    const erc20 = IERC20Metadata__factory.connect(deal.token, app.provider);
    allowance = await erc20.allowance(app.account, reader.addresses.escrow).catch(() => null);
  }
  return {
    deal,
    token,
    modules,
    entries,
    dealKeys,
    events,
    keyHashes,
    wrapKeySet: wrapKey !== null,
    delivered,
    allowance,
  };
}

function field(label: string, ...value: (Node | string)[]): HTMLElement[] {
  return [h("dt", {}, label), h("dd", {}, ...value)];
}

const roleText: Record<Role, string> = {
  contributor: "you are the contributor",
  buyer: "you are the buyer",
  "open-buyer": "an open deal: you may fund it",
  viewer: "you are neither party",
  disconnected: "connect a wallet to act",
};

async function renderDeal(dealId: bigint): Promise<HTMLElement> {
  const p = await loadDeal(dealId);
  const record = app.record as DeploymentRecord;
  const { deal, token } = p;
  const shapes = new Map(record.shapes.map((s) => [s.shapeId.toLowerCase(), s]));
  const now = app.clock.now();
  const plan = planDeal(deal, {
    account: app.account,
    network: record.network,
    now,
    token,
    allowance: p.allowance,
  });
  const role = roleOf(deal, app.account);

  const window =
    deal.deadline === null
      ? h("span", {}, `${formatDuration(deal.window)} from funding`)
      : deal.status === "Funded"
        ? h(
            "span",
            { id: "countdown", "data-deadline": String(deal.deadline) },
            countdown(deal.deadline, now),
          )
        : h("span", {}, `${formatDuration(deal.window)}, until ${isoTime(deal.deadline)}`);

  const facts = h(
    "dl",
    { class: "facts" },
    field("Status", statusBadge(deal.status), ` ${plan.summary}`),
    field("Price", h("strong", { id: "price" }, formatAmount(deal.price, token))),
    field(
      "Token",
      token.address === null
        ? "ETH (native)"
        : h("code", { title: token.address }, `${token.symbol} ${token.address}`),
    ),
    field("Contributor", party(deal.contributor)),
    field("Buyer", party(deal.buyer, "open: whoever funds it")),
    field("Base model", h("code", { title: deal.baseModelHash }, shortHex(deal.baseModelHash, 18, 6))),
    field("Proving window", window),
    field(
      "Delivery",
      h(
        "span",
        { id: "delivery" },
        deal.delivery
          ? `delivery deal: the adapter's weights are delivered at settlement, their keys wrapped for the buyer ${
              p.delivered !== null
                ? "(keys delivered: the buyer runs zklora:decrypt)"
                : `(settled with zklora:settle, which makes the key-wrap proof; not from this page)${
                    p.wrapKeySet ? "; the buyer's key-wrap key is set" : ""
                  }`
            }`
          : "plain deal: proofs only, no weights delivered",
      ),
    ),
    field("Proven", h("span", { id: "proven" }, `${deal.proven} of ${deal.modules} modules`)),
  );

  const moduleRows = p.modules.map((m) => {
    const s = shapes.get(m.shapeId.toLowerCase());
    return h(
      "tr",
      { class: m.proven ? "proven" : "" },
      h("td", {}, String(m.index)),
      h("td", { title: m.shapeId }, s === undefined ? shortHex(m.shapeId) : s.name),
      h("td", {}, s === undefined ? "?" : `${s.DIN} × ${s.R} × ${s.DOUT}`),
      h(
        "td",
        { title: `(${m.wM[0]}, ${m.wM[1]})` },
        h("code", {}, `(${shortNum(m.wM[0])}, ${shortNum(m.wM[1])})`),
      ),
      h(
        "td",
        { class: m.proven ? "ok" : "pending" },
        m.proven ? "✓ proven" : deal.status === "Funded" ? "… awaiting proof" : "not proven",
      ),
    );
  });
  const modulesTable = h(
    "section",
    {},
    h("h3", {}, `Modules (${p.modules.length})`),
    h(
      "table",
      { id: "modules" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["#", "Shape", "d_in × r × d_out", "W_m", "Proof"].map((c) => h("th", {}, c)),
        ),
      ),
      h("tbody", {}, moduleRows),
    ),
  );

  const entriesTable = h(
    "section",
    {},
    h("h3", {}, `Buyer's entries (${p.entries.length})`),
    p.entries.length === 0
      ? h("p", { class: "muted" }, "None yet: the buyer registers one per module when funding.")
      : h(
          "table",
          { id: "entries" },
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["Module", "hX", "hY", "rho", "fY", "D_X"].map((c) => h("th", {}, c)),
            ),
          ),
          h(
            "tbody",
            {},
            p.entries.map((e) =>
              h(
                "tr",
                {},
                h("td", {}, String(e.module)),
                h("td", { title: e.hX }, h("code", {}, shortHex(e.hX))),
                h("td", { title: e.hY }, h("code", {}, shortHex(e.hY))),
                h("td", { title: String(e.rho) }, h("code", {}, shortNum(e.rho))),
                h("td", { title: String(e.fY) }, h("code", {}, shortNum(e.fY))),
                h("td", { title: `(${e.dX[0]}, ${e.dX[1]})` }, h("code", {}, `(${shortNum(e.dX[0])}, …)`)),
              ),
            ),
          ),
        ),
    p.dealKeys.length === 0
      ? null
      : h(
          "p",
          { class: "muted" },
          `Deal keys δ': ${p.dealKeys
            .map((k) => shapes.get(k.shapeId.toLowerCase())?.name ?? shortHex(k.shapeId))
            .join(", ")}`,
        ),
    p.keyHashes === null
      ? null
      : h("p", { class: "muted" }, `Delivery-key hashes hK_m: ${p.keyHashes.length}`),
  );

  const actionButton = (a: PageAction) =>
    h(
      "div",
      { class: "action" },
      h(
        "button",
        {
          id: `action-${a.kind}`,
          class: a.kind === "cancel" ? "secondary" : "primary",
          disabled: app.busy !== null,
          onclick: () => void act(a.kind, p),
        },
        app.busy === a.kind ? `${a.label}…` : a.label,
      ),
      a.warning === undefined ? null : h("span", { class: "warning" }, a.warning),
    );
  const fundFile = plan.fundFromFile
    ? h(
        "div",
        { class: "action" },
        h(
          "label",
          { for: "fund-file" },
          h("strong", {}, app.busy === "fund" ? "Funding…" : "Fund from a prepared file"),
          ` (the fund request of zklora:fund --prepare; your wallet sends ${formatAmount(deal.price, token)}${
            deal.token === null ? "" : ", approving the escrow first when needed"
          })`,
        ),
        h(
          "div",
          {},
          h("input", {
            id: "fund-file",
            type: "file",
            accept: ".json,application/json",
            disabled: app.busy !== null,
            onchange: (ev: Event) => {
              const file = (ev.target as HTMLInputElement).files?.[0];
              if (file !== undefined) void fundFromFile(file, p);
            },
          }),
        ),
      )
    : null;
  const actions = h(
    "section",
    { id: "actions", class: "panel" },
    h("h3", {}, "What you can do"),
    h("p", { id: "role", class: "muted" }, roleText[role]),
    plan.actions.map(actionButton),
    plan.steps.map((s) =>
      h(
        "div",
        { class: "step" },
        h("strong", {}, s.title),
        h("pre", { class: "command" }, s.command),
        h("p", { class: "muted" }, s.why),
      ),
    ),
    fundFile,
    plan.actions.length === 0 && plan.steps.length === 0 && !plan.fundFromFile
      ? h("p", { class: "muted" }, "Nothing to do.")
      : null,
  );

  const events = h(
    "section",
    {},
    h("h3", {}, `Events (${p.events.length})`),
    h(
      "ol",
      { id: "events", class: "events" },
      p.events.map((e) =>
        h(
          "li",
          {},
          h("span", { class: "muted" }, `block ${e.blockNumber} `),
          h("strong", {}, e.name),
          e.name === "ModuleProven" || e.name === "EntryRegistered" ? ` module ${e.args.module}` : "",
          " ",
          h("code", { title: e.transactionHash, class: "muted" }, shortHex(e.transactionHash)),
        ),
      ),
    ),
  );

  return h(
    "section",
    { id: "deal", "data-deal": String(dealId), "data-status": deal.status },
    h("p", {}, h("a", { href: "#/" }, "← all deals")),
    h(
      "h2",
      {},
      `Deal ${dealId} `,
      statusBadge(deal.status),
      deal.delivery ? h("span", { class: "badge delivery" }, "delivery") : null,
    ),
    h("div", { class: "columns" }, h("div", {}, facts), actions),
    modulesTable,
    entriesTable,
    events,
  );
}

async function act(kind: PageAction["kind"], p: DealPage): Promise<void> {
  const { deal, token } = p;
  const id = deal.dealId;
  const price = formatAmount(deal.price, token);
  app.busy = kind;
  app.notice = { kind: "info", text: `${kind}: confirm in your wallet…` };
  await refresh();
  try {
    const { client, provider } = await signingClient();
    let tx: TxResult;
    let done: string;
    switch (kind) {
      case "settle":
        tx = await client.settle(id);
        done = `settled deal ${id}: paid ${price} to ${deal.contributor}`;
        break;
      case "refund":
        tx = await client.refund(id);
        done = `refunded deal ${id}: returned ${price} to ${deal.buyer}`;
        break;
      case "cancel":
        tx = await client.cancel(id);
        done = `cancelled deal ${id}`;
        break;
      case "approve": {
        const erc20 = IERC20Metadata__factory.connect(
          deal.token as string,
          await provider.getSigner(app.account ?? undefined),
        );
        const action = `approve(${deal.token})`;
        let receipt;
        try {
          receipt = await (await erc20.approve(client.addresses.escrow, deal.price)).wait();
        } catch (err) {
          throw toChainError(err, action);
        }
        if (receipt === null) throw new ChainError(`${action}: the transaction was dropped`);
        tx = {
          hash: receipt.hash,
          blockNumber: receipt.blockNumber,
          gasUsed: receipt.gasUsed,
          fee: receipt.gasUsed * receipt.gasPrice,
          receipt,
        };
        done = `approved the escrow for ${price}`;
        break;
      }
    }
    app.notice = { kind: "ok", text: `${done}; tx ${tx.hash} (block ${tx.blockNumber}, gas ${tx.gasUsed})` };
  } catch (err) {
    app.notice = { kind: "error", text: messageOf(err, kind) };
  } finally {
    app.busy = null;
  }
  await refresh();
}

/**
 * Funds the deal from a fund request file (`zklora:fund --prepare`): parsed and checked against the
 * deal shown (chain, escrow, deal id, price, token, modules, key-wrap key), then sent through
 * `ZkloraClient.fund`, which approves the escrow first when a token's allowance is short. Then the
 * buyer hands its deal keys over with `zklora:fund --upload`: the notice shows the command.
 */
async function fundFromFile(file: File, p: DealPage): Promise<void> {
  const { deal, token } = p;
  const id = deal.dealId;
  const price = formatAmount(deal.price, token);
  const record = app.record as DeploymentRecord;
  app.busy = "fund";
  app.notice = { kind: "info", text: `fund: checking ${file.name}…` };
  await refresh();
  try {
    const request = parseFundRequestText(await file.text());
    checkFundRequest(request, deal, addressesOf(record));
    const short = deal.token !== null && (p.allowance === null || p.allowance < deal.price);
    app.notice = {
      kind: "info",
      text: `fund: confirm ${short ? "the approve, then the funding," : "the funding"} in your wallet…`,
    };
    await refresh();
    const { client } = await signingClient();
    const { tx, approveTx } = await client.fund(request.dealId, request.keys, request.entries, {
      wrap: request.wrap,
    });
    const keys = `${request.keys.length} deal key(s)${request.wrap === undefined ? "" : " and the key-wrap key"}`;
    app.notice = {
      kind: "ok",
      text:
        `${approveTx === undefined ? "" : `approved the escrow for ${price} (tx ${approveTx.hash}); `}` +
        `funded deal ${id} with ${price}: ${request.entries.length} module entries, ${keys}; ` +
        `tx ${tx.hash} (block ${tx.blockNumber}, gas ${tx.gasUsed}). ` +
        "Now hand the deal keys to the contributor's server (the contributor cannot prove without them):",
      command: fundUploadCommand(record.network, app.account),
    };
  } catch (err) {
    app.notice = { kind: "error", text: messageOf(err, `fund(${id})`) };
  } finally {
    app.busy = null;
  }
  await refresh();
}

// ------------------------------------------------------------------ routing and refresh

function route(): { view: "list" } | { view: "deal"; dealId: bigint } {
  const m = /^#\/deal\/(\d+)$/.exec(location.hash);
  return m === null ? { view: "list" } : { view: "deal", dealId: BigInt(m[1]) };
}

/** Re-reads the chain and redraws the page (a later call wins over an earlier one still loading). */
async function refresh(): Promise<void> {
  const seq = ++app.rendering;
  renderHeader();
  let view: HTMLElement;
  if (app.reader === null) {
    view = h("section", { id: "fatal", class: "notice error" }, app.fatal ?? "not connected");
  } else {
    try {
      const r = route();
      view = r.view === "list" ? await renderList() : await renderDeal(r.dealId);
    } catch (err) {
      view = h("section", { id: "fatal", class: "notice error" }, messageOf(err, "reading the chain"));
    }
  }
  if (seq !== app.rendering) return;
  root.replaceChildren(...[noticeBox(), view].filter((x): x is HTMLElement => x !== null));
  document.body.dataset.ready = "true";
}

/** Redraws when a new block arrives (the tasks or another tab changed something). */
async function poll(): Promise<void> {
  if (app.provider === null || app.busy !== null) return;
  try {
    const block = await app.provider.getBlock("latest");
    if (block !== null && block.number !== app.lastBlock) {
      app.lastBlock = block.number;
      app.clock = new ChainClock(block.timestamp);
      await refresh();
    }
  } catch {
    // the node is gone for now; the next poll retries
  }
}

function tick(): void {
  const el = document.getElementById("countdown");
  const deadline = el?.dataset.deadline;
  if (el != null && deadline !== undefined) el.textContent = countdown(BigInt(deadline), app.clock.now());
}

async function main(): Promise<void> {
  await connect();
  if (app.wallet !== undefined) {
    watchWallet(app.wallet, () => {
      app.notice = null;
      void connect().then(refresh);
    });
  }
  window.addEventListener("hashchange", () => {
    app.notice = null;
    void refresh();
  });
  await refresh();
  setInterval(() => void poll(), 1500);
  setInterval(tick, 1000);
}

void main();
