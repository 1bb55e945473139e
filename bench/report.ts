/** The short Markdown report of `npm run bench` (bench/index.ts). */
import type { CompileMeasurement } from "./compile-measure.js";
import type { BigRow, CompilePoint, Comparison, ExtrapolationBase, MeasuredRow } from "./extrapolate.js";

/** What bench/index.ts writes (the JSON file) and this report reads. */
export interface BenchResult {
  environment: {
    date: string;
    cpus: number;
    cpuModel?: string;
    memGiB: number;
    node: string;
    tools: { circom2: string; circomlib: string; snarkjs: string };
    loadavgStart: number[];
    loadavgEnd: number[];
    wallS: number;
    argv?: string[];
  };
  formulaChecks: { shape: string; source: string; match: boolean }[];
  measured: MeasuredRow[];
  compilePoints: CompilePoint[];
  gas: {
    shape: string;
    ok: boolean;
    gas?: Record<string, string | number>;
    error?: string;
    loadavgBefore: number[];
  }[];
  previousGas?: { file: string; date: string; gas: Record<string, string> };
  batch?: { file: string; data: unknown };
  extrapolationBase: ExtrapolationBase;
  bigShapes: BigRow[];
  comparisons: Comparison[];
}

const int = (x: number) => Math.round(x).toLocaleString("en-US");
const fix = (x: number, d: number) => x.toFixed(d);
const s = (ms: number) => (ms >= 10_000 ? fix(ms / 1000, 1) : fix(ms / 1000, 2));
const mb = (b: number) => (b >= 1e9 ? `${fix(b / 1e9, 1)} GB` : `${fix(b / 1e6, 1)} MB`);
const gib = (m: number) => (m >= 1024 ? `${fix(m / 1024, 1)} GiB` : `${int(m)} MiB`);
const la = (l: number[]) => l.map((x) => fix(x, 1)).join(" / ");
const dur = (sec: number) =>
  sec >= 3600
    ? `${fix(sec / 3600, 1)} h`
    : sec >= 120
      ? `${fix(sec / 60, 1)} min`
      : sec >= 1
        ? `${fix(sec, 1)} s`
        : `${fix(sec * 1000, 0)} ms`;
const pct = (part: number, total: number) => `${Math.round((100 * part) / total)}`;

function compileCell(
  c: CompileMeasurement | undefined,
  skipped?: string,
  e?: BigRow["extrapolated"],
): string {
  // Without a memory fit (no --compile-big data) a compile-time estimate could hide an out-of-memory.
  if (c === undefined && e?.compileS !== undefined && e.compilePeakMiB !== undefined) {
    const mem = e.compilePeakMiB;
    const est = mem > 4096 ? `*E* OOM (${gib(mem)})` : `*E* ${dur(e.compileS)}, ${gib(mem)}`;
    return `${est}${skipped !== undefined ? " (skipped)" : ""}`;
  }
  if (skipped !== undefined) return "skipped (smaller shape OOM)";
  if (c === undefined) return "—";
  const mem = c.peakRssMiB !== undefined ? `, ${gib(c.peakRssMiB)}` : "";
  if (c.ok) return `${dur(c.wallMs / 1000)}${mem}`;
  return `**${c.failure}** after ${dur(c.wallMs / 1000)}${mem}`;
}

/** H3's bench/batch.ts rows (gas as decimal strings), read defensively. */
export function batchRows(
  batch: BenchResult["batch"],
): { n: number; perModule: number; submitManyPerModule?: number }[] {
  const rows = (batch?.data as { rows?: unknown } | undefined)?.rows;
  if (!Array.isArray(rows)) return [];
  return rows
    .map((r: Record<string, unknown>) => ({
      n: Number(r.n),
      perModule: Number(r.submitBatch_perModule),
      submitManyPerModule: r.submitMany_perModule !== undefined ? Number(r.submitMany_perModule) : undefined,
    }))
    .filter((r) => Number.isFinite(r.n) && Number.isFinite(r.perModule));
}

function batchLines(batch: BenchResult["batch"]): string[] {
  if (batch === undefined) return [];
  const rows = batchRows(batch);
  if (rows.length === 0)
    return [`Batch verification: ${batch.file} (format not recognised; see the file).`, ""];
  const date = (batch.data as { date?: string }).date ?? "";
  return [
    `**Batch verification** (measured by \`bench/batch.ts\`, ${batch.file}, ${date}): submitBatch gas per module — ` +
      rows
        .map(
          (r) =>
            `n = ${r.n}: ${int(r.perModule)}` +
            (r.submitManyPerModule !== undefined ? ` (submitMany ${int(r.submitManyPerModule)})` : ""),
        )
        .join("; ") +
      ".",
    "",
  ];
}

/** Renders the report. */
export function markdownReport(r: BenchResult): string {
  const e = r.environment;
  const base = r.extrapolationBase;
  const checks = r.formulaChecks;
  const out: string[] = [];
  const cmd = ["npm run bench", ...(e.argv !== undefined && e.argv.length > 0 ? ["--", ...e.argv] : [])].join(
    " ",
  );
  out.push(`### Benchmark ${e.date.slice(0, 16).replace("T", " ")} UTC (\`${cmd}\`)`, "");
  out.push(
    `${e.cpus} × ${e.cpuModel ?? "cpu"}, ${e.memGiB} GiB, Node ${e.node}, snarkjs ${e.tools.snarkjs}, circom2 ` +
      `${e.tools.circom2}. Load average (1/5/15 min) ${la(e.loadavgStart)} at start, ${la(e.loadavgEnd)} at end: ` +
      `other jobs shared the cores, so times are pessimistic; run took ${dur(e.wallS)}. Constraint model \`src/zk/cost.ts\` = r1cs in ` +
      `${checks.filter((c) => c.match).length}/${checks.length} checks.`,
    "",
  );
  out.push(
    "**Measured** (committed shapes; compile = fresh `--O2 --r1cs --wasm` into a temp dir; prove = median):",
    "",
    "| shape | T, DIN, R, DOUT | constraints | weights / inputs / fingerprint | ptau | compile (peak RSS) | witness | prove | verify | prover peak RSS | zkey | load before prove |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
  );
  for (const m of r.measured) {
    const b = m.breakdown;
    out.push(
      `| \`${m.shape}\` | ${m.T}, ${m.DIN}, ${m.R}, ${m.DOUT} | ${int(m.constraints)} | ` +
        `${pct(b.weightHash, b.total)} / ${pct(b.inputHash, b.total)} / ${pct(b.fingerprint, b.total)} % | 2^${m.ptauPower} | ` +
        `${compileCell(m.compile)} | ${s(m.prove.witnessMedianMs)} s | ${s(m.prove.proveMedianMs)} s (×${m.prove.reps}) | ` +
        `${fix(m.prove.verifyMedianMs, 0)} ms | ${gib(m.prove.peakRssMiB)} | ${mb(m.zkeyBytes)} | ${fix(m.prove.loadavgBefore[0], 1)} |`,
    );
  }
  out.push("");
  for (const g of r.gas) {
    if (g.ok && g.gas !== undefined) {
      out.push(
        `**Gas** (measured, \`bench/gas.ts\`, ${g.shape}, real proofs through the escrow on Hardhat EDR; a Groth16 ` +
          `verifier with 4 public inputs costs the same at every shape): submit ${int(Number(g.gas.submit))}, ` +
          `submitMany ${int(Number(g.gas.submitMany_perProof))} per proof, bare verifyProof call ${int(Number(g.gas.verifyProof_call_estimate))}.`,
        "",
      );
    } else out.push(`**Gas** (${g.shape}): bench/gas.ts failed — see the JSON.`, "");
  }
  const pg = r.previousGas;
  if (pg !== undefined) {
    out.push(
      `Gas from an EARLIER run (${pg.file}, ${pg.date}): submit ${int(Number(pg.gas.submit))}, submitMany ` +
        `${int(Number(pg.gas.submitMany_perProof))} per proof.`,
      "",
    );
  }
  out.push(...batchLines(r.batch));
  out.push(
    `**Real shapes and ladder** (T 15, R 8). Constraints are exact (validated model). *E* = extrapolated from ` +
      `\`${base.from}\` (${int(base.constraintsPerSecond)} constraints/s = its best proof, ${int(base.constraintsPerSecondMedian)} at the median; ` +
      `${int(base.zkeyBytesPerConstraint)} zkey bytes/constraint; linear, so an underestimate). *M* = model of a circuit ` +
      `not in this repo. Compile: measured (\`--compile-big\`, \`--O2 --r1cs\` into a temp dir) or *E*.`,
    "",
    "| shape | DIN → DOUT | constraints | weights / inputs / fp | ptau | prove (E) | zkey (E) | prover RSS (E) | setup (E) | compile | 16-bit pack (M) | 8-bit pack (M) | 2^16 chunks (M) | chunk gas (M) |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  );
  for (const b of r.bigShapes) {
    const x = b.extrapolated;
    const k = b.model.chunks16;
    out.push(
      `| ${b.name} | ${b.DIN} → ${b.DOUT} | ${int(b.breakdown.total)} | ${pct(b.breakdown.weightHash, b.breakdown.total)} / ` +
        `${pct(b.breakdown.inputHash, b.breakdown.total)} / ${pct(b.breakdown.fingerprint, b.breakdown.total)} % | ` +
        `2^${b.breakdown.ptauPower}${b.ptauAvailable ? "" : " (absent)"} | ${dur(x.proveS)} | ${mb(x.zkeyBytes)} | ${gib(x.proveRssMiB)} | ` +
        `${dur(x.setupS[0])}–${dur(x.setupS[1])} | ${compileCell(b.compile, b.compileSkipped, x)} | ` +
        `${int(b.model.packed16.total)} (2^${b.model.packed16.ptauPower}) | ${int(b.model.packed8.total)} (2^${b.model.packed8.ptauPower}) | ` +
        `${k.chunks} | ${k.submitManyGas !== undefined ? `${fix(k.submitManyGas / 1e6, 1)} M` : "—"}` +
        `${k.submitBatchGas !== undefined ? ` (batched: ${fix(k.submitBatchGas / 1e6, 1)} M)` : ""} |`,
    );
  }
  out.push("");
  if (base.compileRss !== undefined) {
    out.push(
      `circom2 is wasm32 (4 GiB linear memory). Compiler peak RSS grows by ` +
        `${fix(base.compileRss.miBPerConstraint * 1000, 2)} MiB per 1k constraints (least squares over ${base.compileRss.points} ` +
        `compiles of ≥ 10k constraints), reaching 4 GiB near ${int(base.compileRss.constraintsAt4GiB)} constraints (*E*).`,
      "",
    );
  }
  out.push(
    "**vs ZKLoRA** (published per-module figures, hardware unreported; ratio = ours / ZKLoRA, > 1 = slower here):",
    "",
    "| shape | metric | ours | kind | ZKLoRA | ratio |",
    "|---|---|---|---|---|---|",
  );
  for (const c of r.comparisons) {
    const ours = Array.isArray(c.oursS) ? `${dur(c.oursS[0])}–${dur(c.oursS[1])}` : dur(c.oursS);
    const ratio = Array.isArray(c.ratio)
      ? `${fix(c.ratio[0], 0)}–${fix(c.ratio[1], 0)}×`
      : `${c.ratio >= 10 ? fix(c.ratio, 0) : fix(c.ratio, 2)}×`;
    out.push(`| ${c.shape} | ${c.metric} | ${ours} | ${c.oursKind} | ${dur(c.zkloraS)} | ${ratio} |`);
  }
  out.push("");
  return out.join("\n");
}
