/**
 * A test wallet for the browser tests: an EIP-1193 `window.ethereum` injected into the page before
 * its scripts run (`evaluateOnNewDocument`) whose `request` goes to this process through
 * `exposeFunction`, which answers accounts itself and forwards everything else to a `hardhat node`
 * over JSON-RPC. Transactions are `eth_sendTransaction` from one of the node's unlocked accounts:
 * the node signs. `setAccount` switches the account and emits `accountsChanged`, like a wallet.
 */
import type { Page } from "puppeteer-core";

interface RpcError {
  code: number;
  message: string;
  data?: unknown;
}

type Answer = { result: unknown } | { error: RpcError };

/** Runs in the page: the provider object, forwarding to the exposed function. */
function installProvider(): void {
  type Listener = (...args: unknown[]) => void;
  const listeners = new Map<string, Listener[]>();
  const w = window as unknown as {
    __zkloraWallet(method: string, params: string): Promise<string>;
    ethereum?: unknown;
  };
  const ethereum = {
    isZkloraTestWallet: true,
    async request(args: { method: string; params?: unknown[] }): Promise<unknown> {
      const answer = JSON.parse(await w.__zkloraWallet(args.method, JSON.stringify(args.params ?? []))) as
        { result: unknown } | { error: { code: number; message: string; data?: unknown } };
      if ("error" in answer) {
        const err = new Error(answer.error.message) as Error & { code?: number; data?: unknown };
        err.code = answer.error.code;
        err.data = answer.error.data;
        throw err;
      }
      return answer.result;
    },
    on(event: string, fn: Listener): void {
      listeners.set(event, [...(listeners.get(event) ?? []), fn]);
    },
    removeListener(event: string, fn: Listener): void {
      listeners.set(
        event,
        (listeners.get(event) ?? []).filter((f) => f !== fn),
      );
    },
    emit(event: string, ...args: unknown[]): void {
      for (const fn of listeners.get(event) ?? []) fn(...args);
    },
  };
  w.ethereum = ethereum;
}

/** The test wallet of one page. */
export class TestWallet {
  /** JSON-RPC requests the page made, by method (for assertions and debugging). */
  readonly calls = new Map<string, number>();
  private nextId = 1;

  private constructor(
    readonly page: Page,
    readonly rpc: string,
    private account: string | null,
  ) {}

  /** Injects the wallet into `page` (before navigating), connected to `account` (null: not connected). */
  static async inject(page: Page, rpc: string, account: string | null): Promise<TestWallet> {
    const wallet = new TestWallet(page, rpc, account);
    await page.exposeFunction("__zkloraWallet", (method: string, params: string) =>
      wallet.handle(method, JSON.parse(params) as unknown[]).then((a) => JSON.stringify(a)),
    );
    await page.evaluateOnNewDocument(installProvider);
    return wallet;
  }

  /** Switches the wallet's account (null: disconnects) and tells the page. */
  async setAccount(account: string | null): Promise<void> {
    this.account = account;
    await this.page.evaluate((a) => {
      (window as unknown as { ethereum: { emit(e: string, v: unknown): void } }).ethereum.emit(
        "accountsChanged",
        a === null ? [] : [a],
      );
    }, account);
  }

  private async forward(method: string, params: unknown[]): Promise<Answer> {
    const res = await fetch(this.rpc, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: this.nextId++, method, params }),
    });
    const body = (await res.json()) as { result?: unknown; error?: RpcError };
    return body.error !== undefined ? { error: body.error } : { result: body.result ?? null };
  }

  private async handle(method: string, params: unknown[]): Promise<Answer> {
    this.calls.set(method, (this.calls.get(method) ?? 0) + 1);
    switch (method) {
      case "eth_accounts":
      case "eth_requestAccounts":
        return { result: this.account === null ? [] : [this.account] };
      case "wallet_switchEthereumChain":
        return { error: { code: 4902, message: "the test wallet knows one chain only" } };
      case "eth_sendTransaction": {
        const tx = params[0] as { from?: string };
        if (this.account === null || tx.from?.toLowerCase() !== this.account.toLowerCase()) {
          return { error: { code: 4100, message: `the test wallet is not connected to ${tx.from}` } };
        }
        return this.forward(method, params);
      }
      default:
        return this.forward(method, params);
    }
  }
}
