/**
 * Text formatting of the page. Amounts and durations come from src/chain/format.ts, the same
 * functions the tasks print with.
 */
import { formatDuration } from "../../src/chain/format.js";

export { formatAmount, formatDuration } from "../../src/chain/format.js";

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
