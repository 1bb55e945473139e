/**
 * The injected wallet (EIP-1193 `window.ethereum`: MetaMask, Rabby, Frame, or the browser tests'
 * provider): accounts, chain, events.
 */
import type { Eip1193Provider } from "ethers";

/** An EIP-1193 provider with the event methods wallets implement. */
export interface InjectedProvider extends Eip1193Provider {
  on?(event: string, listener: (...args: unknown[]) => void): void;
  removeListener?(event: string, listener: (...args: unknown[]) => void): void;
}

declare global {
  interface Window {
    ethereum?: InjectedProvider;
  }
}

/** The injected provider, if any. */
export function injected(): InjectedProvider | undefined {
  return typeof window === "undefined" ? undefined : window.ethereum;
}

/** The accounts the wallet already exposes to this page (no prompt). */
export async function currentAccounts(w: InjectedProvider): Promise<string[]> {
  return ((await w.request({ method: "eth_accounts" })) as string[] | null) ?? [];
}

/** Asks the wallet to connect (it may prompt the user). */
export async function requestAccounts(w: InjectedProvider): Promise<string[]> {
  return ((await w.request({ method: "eth_requestAccounts" })) as string[] | null) ?? [];
}

/** The wallet's chain id. */
export async function walletChainId(w: InjectedProvider): Promise<bigint> {
  return BigInt((await w.request({ method: "eth_chainId" })) as string);
}

/** Asks the wallet to switch to `chainId` (EIP-3326). */
export async function switchChain(w: InjectedProvider, chainId: number): Promise<void> {
  await w.request({
    method: "wallet_switchEthereumChain",
    params: [{ chainId: `0x${chainId.toString(16)}` }],
  });
}

/** Calls `onChange` on the wallet's accountsChanged and chainChanged events. */
export function watchWallet(w: InjectedProvider, onChange: () => void): void {
  w.on?.("accountsChanged", onChange);
  w.on?.("chainChanged", onChange);
}
