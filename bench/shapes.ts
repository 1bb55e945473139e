/**
 * Shapes of the benchmark that are NOT committed circuits (issue #5): real LoRA modules and a
 * ladder between the test shapes and them. Only their constraint counts are exact (the validated
 * model of src/zk/cost.ts); `npm run bench -- --compile-big` compiles them into a temp dir.
 */
import type { ChunkedShape } from "../src/zk/chunk-build.js";
import { chooseChunkWidths, type ChunkConstraintModel } from "../src/zk/cost.js";
import type { Shape } from "../src/zk/shape.js";

/** A benchmark shape and where it comes from. */
export interface BenchShape extends Shape {
  kind: "ladder" | "real";
  note: string;
}

/** Rows of the activations block: the T = 15 (a 15-token window). */
export const BIG_T = 15;
/** LoRA rank of the real shapes. */
export const BIG_R = 8;

/** The real modules, smallest first. */
export const REAL_SHAPES: readonly BenchShape[] = [
  {
    name: "llama32_1b_v_proj",
    kind: "real",
    T: BIG_T,
    DIN: 2048,
    R: BIG_R,
    DOUT: 512,
    note: "Llama-3.2-1B v_proj (2048 -> 512, GQA)",
  },
  {
    name: "distilgpt2_c_attn",
    kind: "real",
    T: BIG_T,
    DIN: 768,
    R: BIG_R,
    DOUT: 2304,
    note: "distilgpt2 attn.c_attn (768 -> 3·768), ZKLoRA's published module",
  },
  {
    name: "llama32_1b_q_proj",
    kind: "real",
    T: BIG_T,
    DIN: 2048,
    R: BIG_R,
    DOUT: 2048,
    note: "Llama-3.2-1B q_proj (2048 -> 2048)",
  },
  {
    name: "llama31_8b_q_proj",
    kind: "real",
    T: BIG_T,
    DIN: 4096,
    R: BIG_R,
    DOUT: 4096,
    note: "Llama-3.1-8B q_proj (4096 -> 4096); ZKLoRA published per-module times for Llama-3.1-8B",
  },
];

/** T = 15, R = 8, DIN = DOUT doubling from 64. */
export const LADDER_SHAPES: readonly BenchShape[] = [64, 128, 256, 512, 1024].map((d) => ({
  name: `ladder_t${BIG_T}_i${d}_r${BIG_R}_o${d}`,
  kind: "ladder" as const,
  T: BIG_T,
  DIN: d,
  R: BIG_R,
  DOUT: d,
  note: `ladder: DIN = DOUT = ${d}`,
}));

/** ZKLoRA's published per-module figures (hardware unreported). */
export const ZKLORA_PUBLISHED = {
  source: "ZKLoRA (Roy et al., 2025), per-module figures as published; hardware unreported",
  distilgpt2_c_attn: { proveS: 31.6, setupS: 38, verifyS: 0.69 },
  llama31_8b_module: { proveS: 47.7, verifyS: 1.12 },
} as const;

/**
 * Groth16 setup time as RECORDED in circuits/README.md for the largest committed shape (development
 * ceremony on this machine, under load): `groth16 setup` alone, 5.7–8.1 min. The bench never runs a
 * cold ceremony (it would block the machine), so setup at big shapes is extrapolated from this.
 */
export const RECORDED_SETUP = {
  shape: "stories260k_q_t8_r4",
  constraints: 40_870,
  secondsMin: 342,
  secondsMax: 486,
  source: "circuits/README.md, 'Measured' table (groth16 setup, 2 cores shared with other jobs)",
} as const;

/**
 * A real shape of REAL_SHAPES as the chunked benchmarks build it: the largest chunk widths whose
 * chunk circuits fit 2^power (`chooseChunkWidths`), named `<shape>_a<WA>_b<WB>`.
 */
export function chunkedBenchShape(
  name: string,
  power = 16,
): { base: BenchShape; shape: ChunkedShape; model: ChunkConstraintModel } {
  const base = REAL_SHAPES.find((s) => s.name === name);
  if (base === undefined)
    throw new Error(`unknown shape ${name}; have ${REAL_SHAPES.map((s) => s.name).join(", ")}`);
  const { WA, WB, model } = chooseChunkWidths(base, power);
  const shape: ChunkedShape = {
    name: `${base.name}_a${WA}_b${WB}`,
    T: base.T,
    DIN: base.DIN,
    R: base.R,
    DOUT: base.DOUT,
    WA,
    WB,
  };
  return { base, shape, model };
}
