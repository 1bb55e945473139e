/**
 * Text formatting of the page. Amounts and durations read as the tasks print them
 * (src/app/format.ts; test/web/model.test.ts checks they agree), without importing the tasks'
 * Node-side modules into the browser bundle.
 */
import { formatUnits } from "ethers";

/** `1.5 ETH` / `100.0 USDC`, as the tasks print amounts. */
export function formatAmount(v: bigint, token: { symbol: string; decimals: number }): string {
  return `${formatUnits(v, token.decimals)} ${token.symbol}`;
}

/** Seconds as `1 h 2 min` / `35 s`, as the tasks print durations. */
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

/** `0x1234abcd…ef01` (the full value stays in the element's title). */
export function shortHex(hex: string, head = 10, tail = 4): string {
  return hex.length <= head + tail + 1 ? hex : `${hex.slice(0, head)}…${hex.slice(-tail)}`;
}

/** A field element or coordinate as short hex. */
export function shortNum(v: bigint): string {
  return shortHex(`0x${v.toString(16)}`, 8, 4);
}

/** A unix time (seconds) as ISO-8601, as the tasks and the revert messages print it. */
export function isoTime(unix: bigint | number): string {
  return new Date(Number(unix) * 1000).toISOString();
}

/** The proving-window line of a funded deal: time left, or how long ago it closed. */
export function countdown(deadline: bigint, now: bigint): string {
  const left = deadline - now;
  return left >= 0n
    ? `${formatDuration(left)} left (until ${isoTime(deadline)})`
    : `closed ${formatDuration(-left)} ago (at ${isoTime(deadline)})`;
}
