/** Text formatting shared by the tasks and the demo report. */
import { formatAmount, formatDuration } from "../chain/format.js";
import type { DealStatusReport } from "./steps.js";

export { formatAmount, formatDuration };

/** The deal's status as text lines. */
export function formatStatus(
  r: DealStatusReport,
  shapeNames: ReadonlyMap<string, string> = new Map(),
): string[] {
  const d = r.deal;
  const lines = [
    `deal ${r.dealId}: ${d.status}`,
    `  contributor ${d.contributor}`,
    `  buyer       ${d.buyer ?? "open (whoever funds it)"}`,
    `  price       ${formatAmount(d.price, r.token)}${r.token.address === null ? "" : ` (${r.token.address})`}`,
    `  base model  ${d.baseModelHash}`,
  ];
  if (d.deadline === null) lines.push(`  proving window ${formatDuration(d.window)} (starts at funding)`);
  else {
    const left = d.deadline - r.now;
    lines.push(
      `  deadline    ${new Date(Number(d.deadline) * 1000).toISOString()} (${left >= 0n ? `${formatDuration(left)} left` : `closed ${formatDuration(-left)} ago`})`,
    );
  }
  lines.push(`  modules (${r.modules.length}, ${d.proven} proven):`);
  for (const m of r.modules) {
    const e = r.entries.find((x) => x.module === m.index);
    lines.push(
      `    #${m.index} shape ${shapeNames.get(m.shapeId.toLowerCase()) ?? `${m.shapeId.slice(0, 10)}…`}  W_m ${m.wM[0].toString().slice(0, 12)}…  ` +
        (e === undefined
          ? "no entry yet"
          : `entry hX ${e.hX.slice(0, 12)}… rho ${e.rho.toString().slice(0, 12)}…`) +
        `  ${m.proven ? "proven" : "pending"}`,
    );
  }
  return lines;
}

/** Replaces every bigint in a nested array/object by its decimal string (JSON-safe). */
export function decimalStrings(v: unknown): unknown {
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return v.map(decimalStrings);
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decimalStrings(x)]));
  }
  return v;
}
