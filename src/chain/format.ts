/** Amounts and durations as the tasks, the demo and the web page print them (pure: ethers only). */
import { formatUnits } from "ethers";

/** `1.5 ETH` / `100.0 USDC`. */
export function formatAmount(v: bigint, token: { symbol: string; decimals: number }): string {
  return `${formatUnits(v, token.decimals)} ${token.symbol}`;
}

/** Seconds as `1 h 2 min` / `35 s`. */
export function formatDuration(seconds: bigint | number): string {
  let s = Number(seconds);
  const neg = s < 0;
  s = Math.abs(s);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const parts =
    d > 0
      ? [`${d} d`, `${h} h`]
      : h > 0
        ? [`${h} h`, `${m} min`]
        : m > 0
          ? [`${m} min`, `${s % 60} s`]
          : [`${s} s`];
  return (neg ? "-" : "") + parts.join(" ");
}
