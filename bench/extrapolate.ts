/**
 * Extrapolations and models of the benchmark (bench/index.ts). Every number here is derived from
 * the measured rows and the exact constraint model (src/zk/cost.ts); none is a measurement, and
 * every field says which it is.
 */
import {
  chunkProofsModel,
  constraintModel,
  packedHashModel,
  type ChunkModel,
  type ConstraintBreakdown,
  type PackedModel,
} from "../src/zk/cost.js";
import type { CompileMeasurement } from "./compile-measure.js";
import { RECORDED_SETUP, ZKLORA_PUBLISHED, type BenchShape } from "./shapes.js";

/** Largest ptau power the v1 benchmark sets up (the development ptau is generated up to 2^20, but v1 setups past 2^16 take hours here). */
export const AVAILABLE_PTAU_POWER = 16;
/** circom2 is a wasm32 program: its linear memory cannot exceed 4 GiB. */
export const CIRCOM2_WASM_LIMIT_MIB = 4096;

/** Witness, prove and verify of one committed shape (measured, in a child process). */
export interface ProveMeasurement {
  reps: number;
  witnessMs: number[];
  proveMs: number[];
  verifyMs: number[];
  witnessMedianMs: number;
  proveMedianMs: number;
  verifyMedianMs: number;
  /** maxRSS of the proving process (zkey load, witness, prove, verify). */
  peakRssMiB: number;
  loadavgBefore: number[];
  loadavgAfter: number[];
}

/** One committed shape, measured. */
export interface MeasuredRow {
  shape: string;
  T: number;
  DIN: number;
  R: number;
  DOUT: number;
  constraints: number;
  breakdown: ConstraintBreakdown;
  ptauPower: number;
  zkeyBytes: number;
  compile?: CompileMeasurement;
  prove: ProveMeasurement;
}

/** What the extrapolations scale from. */
export interface ExtrapolationBase {
  /** The largest measured shape. */
  from: string;
  fromConstraints: number;
  /** fromConstraints / its best prove time of --reps (this machine, this load). */
  constraintsPerSecond: number;
  /** fromConstraints / its median prove time. */
  constraintsPerSecondMedian: number;
  zkeyBytesPerConstraint: number;
  /** Median of the shapes' median verify times: Groth16 verification does not grow with the circuit. */
  verifyMs: number;
  /** Prover RSS = a + b · constraints through the smallest and largest measured shape. */
  proveRss: { interceptMiB: number; miBPerConstraint: number };
  /** The largest successful compile. */
  compileFrom?: string;
  /** Compile time per constraint, from the largest successful compile. */
  compileMsPerConstraint?: number;
  /** Compiler peak RSS = a + b · constraints (least squares); where it meets circom2's 4 GiB. */
  compileRss?: { interceptMiB: number; miBPerConstraint: number; constraintsAt4GiB: number; points: number };
  method: string;
}

function line(x0: number, y0: number, x1: number, y1: number): { intercept: number; slope: number } {
  const slope = x1 === x0 ? 0 : (y1 - y0) / (x1 - x0);
  return { intercept: y0 - slope * x0, slope };
}

/** One successful compile, for the compile extrapolations. */
export interface CompilePoint {
  shape: string;
  constraints: number;
  wallMs: number;
  peakRssMiB: number;
  flags: string;
}

/** Compiles below this size peak in circom2's fixed witness-generator overhead (~0.5 GiB), not in the r1cs. */
export const COMPILE_FIT_MIN_CONSTRAINTS = 10_000;
/** The compile-RSS fit needs its largest point at least this many times its smallest. */
export const COMPILE_FIT_MIN_SPREAD = 2;

function leastSquares(pts: readonly { x: number; y: number }[]): { intercept: number; slope: number } {
  const n = pts.length;
  const mx = pts.reduce((a, p) => a + p.x, 0) / n;
  const my = pts.reduce((a, p) => a + p.y, 0) / n;
  const sxx = pts.reduce((a, p) => a + (p.x - mx) ** 2, 0);
  const sxy = pts.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0);
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return { intercept: my - slope * mx, slope };
}

/**
 * The extrapolation base from the measured rows (at least one) and every successful compile
 * (committed shapes with `--wasm`, `--compile-big` shapes r1cs only).
 */
export function extrapolationBase(
  rows: readonly MeasuredRow[],
  compiles: readonly CompilePoint[],
): ExtrapolationBase {
  const byC = [...rows].sort((a, b) => a.constraints - b.constraints);
  const lo = byC[0];
  const hi = byC[byC.length - 1];
  const verifies = rows.map((r) => r.prove.verifyMedianMs).sort((a, b) => a - b);
  const rss = line(lo.constraints, lo.prove.peakRssMiB, hi.constraints, hi.prove.peakRssMiB);
  const bestProveMs = Math.min(...hi.prove.proveMs);
  const byCompile = [...compiles].sort((a, b) => a.constraints - b.constraints);
  const largest = byCompile.at(-1);
  const fitPts = byCompile
    .filter((c) => c.constraints >= COMPILE_FIT_MIN_CONSTRAINTS)
    .map((c) => ({ x: c.constraints, y: c.peakRssMiB }));
  let compileRss: ExtrapolationBase["compileRss"];
  // Only a fit over a real spread of sizes means anything: two shapes of 36k and 41k constraints differ
  // by less than the run-to-run noise of the compiler's RSS (their slope can even come out negative).
  const spread = fitPts.length >= 2 && fitPts[fitPts.length - 1].x >= COMPILE_FIT_MIN_SPREAD * fitPts[0].x;
  const l = spread ? leastSquares(fitPts) : undefined;
  if (l !== undefined && l.slope > 0) {
    compileRss = {
      interceptMiB: l.intercept,
      miBPerConstraint: l.slope,
      constraintsAt4GiB: Math.floor((CIRCOM2_WASM_LIMIT_MIB - l.intercept) / l.slope),
      points: fitPts.length,
    };
  }
  return {
    from: hi.shape,
    fromConstraints: hi.constraints,
    constraintsPerSecond: hi.constraints / (bestProveMs / 1000),
    constraintsPerSecondMedian: hi.constraints / (hi.prove.proveMedianMs / 1000),
    zkeyBytesPerConstraint: hi.zkeyBytes / hi.constraints,
    verifyMs: verifies[verifies.length >> 1],
    proveRss: { interceptMiB: rss.intercept, miBPerConstraint: rss.slope },
    compileFrom: largest?.shape,
    compileMsPerConstraint: largest !== undefined ? largest.wallMs / largest.constraints : undefined,
    compileRss,
    method:
      "prove time: constraints / the rate of the largest measured shape's BEST of --reps proofs (other jobs " +
      "share this machine; the median rate is also recorded); zkey bytes: linear from the largest shape; " +
      "prover RSS: line through the smallest and largest shape; compile time: linear from the largest successful " +
      `compile; compile peak RSS: least squares over compiles of >= ${COMPILE_FIT_MIN_CONSTRAINTS} constraints ` +
      `spanning >= ${COMPILE_FIT_MIN_SPREAD}x in size (else none: run --compile-big). ` +
      "Groth16 proving is O(n log n) (FFTs) plus MSMs, so linear scaling UNDERESTIMATES big shapes; " +
      "snarkjs's own memory limits are not modelled.",
  };
}

/** One not-committed shape: exact constraints, extrapolations, models, optional compile attempt. */
export interface BigRow extends BenchShape {
  breakdown: ConstraintBreakdown;
  /** The ptau exists here (2^16 dev ptau at most), so a Groth16 setup would be possible. */
  ptauAvailable: boolean;
  extrapolated: {
    proveS: number;
    zkeyBytes: number;
    proveRssMiB: number;
    compileS?: number;
    compilePeakMiB?: number;
    /** `groth16 setup` only, from RECORDED_SETUP (range). */
    setupS: [number, number];
  };
  model: {
    packed16: PackedModel;
    packed8: PackedModel;
    chunks16: ChunkModel & {
      /** Σ chunk prove times: chunks × a full chunk (perChunk constraints) at the measured rate. */
      proveS: number;
      verifyS: number;
      submitGas?: number;
      submitManyGas?: number;
      /** chunks × the per-module gas of bench/batch.ts's largest batch (H3's results, when present). */
      submitBatchGas?: number;
      batchN?: number;
    };
  };
  compile?: CompileMeasurement;
  compileSkipped?: string;
}

/** The row of a big shape. */
export function bigRow(
  s: BenchShape,
  base: ExtrapolationBase,
  gas: { submitGas?: number; submitManyGas?: number; batch?: { n: number; perModule: number } },
): BigRow {
  const b = constraintModel(s);
  const n = b.total;
  const chunks = chunkProofsModel(n, AVAILABLE_PTAU_POWER);
  const perSetup = n / RECORDED_SETUP.constraints;
  return {
    ...s,
    breakdown: b,
    ptauAvailable: b.ptauPower <= AVAILABLE_PTAU_POWER,
    extrapolated: {
      proveS: n / base.constraintsPerSecond,
      zkeyBytes: Math.round(n * base.zkeyBytesPerConstraint),
      proveRssMiB: base.proveRss.interceptMiB + base.proveRss.miBPerConstraint * n,
      compileS:
        base.compileMsPerConstraint !== undefined ? (n * base.compileMsPerConstraint) / 1000 : undefined,
      compilePeakMiB:
        base.compileRss !== undefined
          ? base.compileRss.interceptMiB + base.compileRss.miBPerConstraint * n
          : undefined,
      setupS: [RECORDED_SETUP.secondsMin * perSetup, RECORDED_SETUP.secondsMax * perSetup],
    },
    model: {
      packed16: packedHashModel(s, 16),
      packed8: packedHashModel(s, 8),
      chunks16: {
        ...chunks,
        proveS: (chunks.chunks * chunks.perChunk) / base.constraintsPerSecond,
        verifyS: (chunks.chunks * base.verifyMs) / 1000,
        submitGas: gas.submitGas !== undefined ? chunks.chunks * gas.submitGas : undefined,
        submitManyGas: gas.submitManyGas !== undefined ? chunks.chunks * gas.submitManyGas : undefined,
        submitBatchGas: gas.batch !== undefined ? chunks.chunks * gas.batch.perModule : undefined,
        batchN: gas.batch?.n,
      },
    },
  };
}

/** One line of the ZKLoRA comparison: ratio = ours / ZKLoRA (> 1: slower here). */
export interface Comparison {
  shape: string;
  metric: string;
  oursS: number | [number, number];
  oursKind: "measured" | "extrapolated" | "model";
  zkloraS: number;
  ratio: number | [number, number];
  note: string;
}

/** Ratios to ZKLoRA's published per-module figures at the shapes it published. */
export function comparisons(
  big: readonly BigRow[],
  base: ExtrapolationBase,
  measured: readonly MeasuredRow[],
): Comparison[] {
  const out: Comparison[] = [];
  const z = ZKLORA_PUBLISHED;
  const verifyS = base.verifyMs / 1000;
  const verifyNote = `median Groth16 verify over ${measured.length} committed shapes (independent of circuit size)`;
  const c = big.find((r) => r.name === "distilgpt2_c_attn");
  if (c !== undefined) {
    const zp = z.distilgpt2_c_attn;
    out.push(
      {
        shape: c.name,
        metric: "prove (one Groth16 proof)",
        oursS: c.extrapolated.proveS,
        oursKind: "extrapolated",
        zkloraS: zp.proveS,
        ratio: c.extrapolated.proveS / zp.proveS,
        note: `needs ptau 2^${c.breakdown.ptauPower}; ${Math.round(base.constraintsPerSecond)} constraints/s`,
      },
      {
        shape: c.name,
        metric: `prove, 8-bit packing (model)`,
        oursS: c.model.packed8.total / base.constraintsPerSecond,
        oursKind: "model",
        zkloraS: zp.proveS,
        ratio: c.model.packed8.total / base.constraintsPerSecond / zp.proveS,
        note: `${c.model.packed8.total} constraints, ptau 2^${c.model.packed8.ptauPower}`,
      },
      {
        shape: c.name,
        metric: `prove as ${c.model.chunks16.chunks} chunk proofs of 2^16 (model)`,
        oursS: c.model.chunks16.proveS,
        oursKind: "model",
        zkloraS: zp.proveS,
        ratio: c.model.chunks16.proveS / zp.proveS,
        note: "sum over chunks; chunks are independent, so they parallelise across machines",
      },
      {
        shape: c.name,
        metric: "setup (groth16 setup only)",
        oursS: c.extrapolated.setupS,
        oursKind: "extrapolated",
        zkloraS: zp.setupS,
        ratio: [c.extrapolated.setupS[0] / zp.setupS, c.extrapolated.setupS[1] / zp.setupS],
        note: "from the setup time recorded in circuits/README.md, linear in constraints; once per shape",
      },
      {
        shape: c.name,
        metric: "verify (one proof)",
        oursS: verifyS,
        oursKind: "measured",
        zkloraS: zp.verifyS,
        ratio: verifyS / zp.verifyS,
        note: verifyNote,
      },
      {
        shape: c.name,
        metric: `verify ${c.model.chunks16.chunks} chunk proofs (model)`,
        oursS: c.model.chunks16.verifyS,
        oursKind: "model",
        zkloraS: zp.verifyS,
        ratio: c.model.chunks16.verifyS / zp.verifyS,
        note: "chunks × the measured verify time",
      },
    );
  }
  const l = big.find((r) => r.name === "llama31_8b_q_proj");
  if (l !== undefined) {
    const zl = z.llama31_8b_module;
    out.push(
      {
        shape: l.name,
        metric: "prove (one Groth16 proof)",
        oursS: l.extrapolated.proveS,
        oursKind: "extrapolated",
        zkloraS: zl.proveS,
        ratio: l.extrapolated.proveS / zl.proveS,
        note: `needs ptau 2^${l.breakdown.ptauPower}; compared with q_proj 4096 → 4096 at rank ${l.R} (ZKLoRA's figure is per Llama-3.1-8B module)`,
      },
      {
        shape: l.name,
        metric: "verify (one proof)",
        oursS: verifyS,
        oursKind: "measured",
        zkloraS: zl.verifyS,
        ratio: verifyS / zl.verifyS,
        note: verifyNote,
      },
    );
  }
  return out;
}
