/**
 * Builds the forward pass of a GPT-2 or Llama model as a chain of ONNX graphs ("segments") cut
 * at the LoRA insertion points.
 *
 * A segment ends where the input X of one or more targeted linear layers is known and their base
 * outputs have been computed (layers sharing an input share one cut, e.g. Llama q/k/v). It
 * outputs X, the base outputs and every value a later segment still needs (residual stream,
 * other projections). The runtime adds the LoRA delta to each base output and feeds the sum to
 * the next segment under the layer's "final" name. The last segment outputs `logits` [T, vocab].
 *
 * Activations are 2-D [T, features] (one sequence, no batch axis). Graph inputs besides the
 * carried values: `tokens` int64 [T], `mask` float [T, T] (0 / -inf causal), and `pos` int64 [T]
 * (GPT-2) or `cos`, `sin` float [T, head_dim] (Llama, HF rotate-half layout).
 */
import type { LoraTarget, ModelConfig, ModelWeights } from "./config.js";
import {
  DT_FLOAT,
  DT_INT64,
  encodeModel,
  type AttrValue,
  type Dim,
  type OnnxInitializer,
  type OnnxNode,
  type OnnxValueInfo,
} from "./onnx.js";

export interface CutEntry {
  target: LoraTarget;
  /** name of the base output (segment output) */
  base: string;
  /** name under which base + delta enters later segments */
  final: string;
}

export interface Cut {
  /** name of the shared input X [T, DIN] */
  x: string;
  entries: CutEntry[];
}

export interface Segment {
  /** serialised ONNX ModelProto */
  model: Uint8Array;
  inputs: string[];
  outputs: string[];
  /** the LoRA insertion point this segment ends at (absent for the last segment) */
  cut?: Cut;
}

interface Value {
  type: number;
  dims?: Dim[];
}

class ProgramBuilder {
  nodes: { node: OnnxNode; seg: number }[] = [];
  inits = new Map<string, OnnxInitializer>();
  values = new Map<string, Value>();
  cuts: Cut[] = [];
  seg = 0;
  private counter = 0;

  constructor(readonly globals: Record<string, Value>) {
    for (const [k, v] of Object.entries(globals)) this.values.set(k, v);
  }

  /** Adds a node; returns its (first) output name. */
  op(op: string, inputs: string[], attrs?: Record<string, AttrValue>, out?: string, dims?: Dim[]): string {
    const name = out ?? `v${this.counter++}_${op}`;
    this.nodes.push({ node: { op, inputs, outputs: [name], attrs }, seg: this.seg });
    this.values.set(name, { type: DT_FLOAT, dims });
    return name;
  }

  opMulti(op: string, inputs: string[], n: number, attrs?: Record<string, AttrValue>): string[] {
    const outs = Array.from({ length: n }, (_, i) => `v${this.counter++}_${op}${i}`);
    this.nodes.push({ node: { op, inputs, outputs: outs, attrs }, seg: this.seg });
    for (const o of outs) this.values.set(o, { type: DT_FLOAT });
    return outs;
  }

  weight(name: string, dims: number[], data: Float32Array): string {
    if (!this.inits.has(name)) this.inits.set(name, { name, dims, type: DT_FLOAT, data });
    return name;
  }

  scalar(v: number): string {
    const name = `c_f_${v}`;
    return this.weight(name, [], Float32Array.of(v));
  }

  ints(vs: number[]): string {
    const name = `c_i_${vs.join("_").replace(/-/g, "m")}`;
    if (!this.inits.has(name)) this.inits.set(name, { name, dims: [vs.length], type: DT_INT64, data: vs });
    return name;
  }

  /** Ends the current segment at a LoRA insertion point. */
  cut(x: string, entries: CutEntry[]) {
    this.cuts[this.seg] = { x, entries };
    for (const e of entries) this.values.set(e.final, { type: DT_FLOAT, dims: ["T", e.target.DOUT] });
    this.seg++;
  }

  /** Splits the recorded program into encoded segment graphs; `finalOut` is the last output. */
  finish(finalOut: string): Segment[] {
    const nSeg = this.seg + 1;
    const producedIn = new Map<string, number>();
    for (const { node, seg } of this.nodes) for (const o of node.outputs) producedIn.set(o, seg);
    for (let s = 0; s < this.cuts.length; s++)
      for (const e of this.cuts[s].entries) producedIn.set(e.final, s);
    const usedLater = Array.from({ length: nSeg }, () => new Set<string>());
    const consumed = Array.from({ length: nSeg }, () => new Set<string>());
    for (const { node, seg } of this.nodes)
      for (const i of node.inputs) {
        if (i === "" || this.inits.has(i)) continue;
        consumed[seg].add(i);
        const p = producedIn.get(i);
        if (p !== undefined && p < seg) usedLater[p].add(i);
      }
    const segments: Segment[] = [];
    for (let s = 0; s < nSeg; s++) {
      const nodes = this.nodes.filter((n) => n.seg === s).map((n) => n.node);
      const inputs = [...consumed[s]].filter((i) => producedIn.get(i) !== s);
      const cut = this.cuts[s];
      const outs = new Set<string>();
      if (cut) {
        outs.add(cut.x);
        for (const e of cut.entries) outs.add(e.base);
      }
      for (const v of usedLater[s]) if (!this.isCutFinal(v, s)) outs.add(v);
      if (s === nSeg - 1) outs.add(finalOut);
      const usedInits = new Set<string>();
      for (const n of nodes) for (const i of n.inputs) if (this.inits.has(i)) usedInits.add(i);
      const vi = (name: string): OnnxValueInfo => {
        const v = this.values.get(name);
        if (v === undefined) throw new Error(`internal: unknown value ${name}`);
        return { name, type: v.type, dims: v.dims };
      };
      const outputs = [...outs];
      const model = encodeModel({
        name: `segment_${s}`,
        nodes,
        initializers: [...usedInits].map((n) => this.inits.get(n)!),
        inputs: inputs.map(vi),
        outputs: outputs.map(vi),
      });
      segments.push({ model, inputs, outputs, cut });
    }
    return segments;
  }

  private isCutFinal(name: string, s: number): boolean {
    return this.cuts[s]?.entries.some((e) => e.final === name) ?? false;
  }
}

/**
 * Emits the linear layers of one cut group. `linears` gives, per module, the target (when
 * targeted) and a function computing the base output under a given name. Returns each
 * module's final output name.
 */
function linearGroup(
  b: ProgramBuilder,
  x: string,
  linears: {
    module: string;
    target?: LoraTarget;
    emit: (out: string) => string;
    name: string;
    dout: number;
  }[],
): Record<string, string> {
  const result: Record<string, string> = {};
  const entries: CutEntry[] = [];
  for (const l of linears) {
    if (l.target) {
      const base = l.emit(`${l.name}.base`);
      b.values.set(base, { type: DT_FLOAT, dims: ["T", l.dout] });
      entries.push({ target: l.target, base, final: `${l.name}.out` });
      result[l.module] = `${l.name}.out`;
    } else {
      result[l.module] = l.emit(`${l.name}.out`);
      b.values.set(result[l.module], { type: DT_FLOAT, dims: ["T", l.dout] });
    }
  }
  if (entries.length > 0) {
    entries.sort((p, q) => p.target.index - q.target.index);
    b.cut(x, entries);
  }
  return result;
}

function attention(
  b: ProgramBuilder,
  q: string,
  k: string,
  v: string,
  heads: number,
  kvHeads: number,
  headDim: number,
  scale: number,
  rope: boolean,
): string {
  const split = (t: string, h: number, perm: number[]) =>
    b.op("Transpose", [b.op("Reshape", [t, b.ints([-1, h, headDim])])], { perm });
  const rotate = (t: string) => {
    if (!rope) return t;
    const [x1, x2] = b.opMulti("Split", [t, b.ints([headDim / 2, headDim / 2])], 2, { axis: -1 });
    const rot = b.op("Concat", [b.op("Neg", [x2]), x1], { axis: -1 });
    return b.op("Add", [b.op("Mul", [t, "cos"]), b.op("Mul", [rot, "sin"])]);
  };
  const qh = rotate(split(q, heads, [1, 0, 2])); // [H, T, d]
  let kh = rotate(split(k, kvHeads, [1, 0, 2])); // [Hkv, T, d]
  let vh = split(v, kvHeads, [1, 0, 2]);
  if (kvHeads !== heads) {
    const rep = heads / kvHeads;
    const repeat = (t: string) =>
      b.op("Reshape", [
        b.op("Expand", [b.op("Unsqueeze", [t, b.ints([1])]), b.ints([1, rep, 1, 1])]),
        b.ints([heads, -1, headDim]),
      ]);
    kh = repeat(kh);
    vh = repeat(vh);
  }
  const kt = b.op("Transpose", [kh], { perm: [0, 2, 1] });
  const scores = b.op("Add", [b.op("Mul", [b.op("MatMul", [qh, kt]), b.scalar(scale)]), "mask"]);
  const probs = b.op("Softmax", [scores], { axis: -1 });
  const o = b.op("MatMul", [probs, vh]); // [H, T, d]
  return b.op(
    "Reshape",
    [b.op("Transpose", [o], { perm: [1, 0, 2] }), b.ints([-1, heads * headDim])],
    undefined,
    undefined,
    ["T", heads * headDim],
  );
}

/** Builds the segment chain of `weights` with LoRA insertion points at `targets`. */
export function buildSegments(weights: ModelWeights, targets: readonly LoraTarget[]): Segment[] {
  const c: ModelConfig = weights.config;
  const byName = new Map(targets.map((t) => [t.name, t]));
  if (c.family === "gpt2") {
    const H = c.hidden;
    const b = new ProgramBuilder({
      tokens: { type: DT_INT64, dims: ["T"] },
      pos: { type: DT_INT64, dims: ["T"] },
      mask: { type: DT_FLOAT, dims: ["T", "T"] },
    });
    const W = (rel: string, shape: number[]) => b.weight(rel, shape, weights.get(rel, shape).data);
    const ln = (x: string, p: string) =>
      b.op(
        "LayerNormalization",
        [x, W(`${p}.weight`, [H]), W(`${p}.bias`, [H])],
        { axis: -1, epsilon: { float: c.eps } },
        undefined,
        ["T", H],
      );
    const conv = (x: string, p: string, din: number, dout: number) => (out: string) =>
      b.op("Gemm", [x, W(`${p}.weight`, [din, dout]), W(`${p}.bias`, [dout])], undefined, out);
    const tokEmb = b.op("Gather", [W("wte.weight", [c.vocab, H]), "tokens"]);
    const posEmb = b.op("Gather", [W("wpe.weight", [c.ctx, H]), "pos"]);
    let res = b.op("Add", [tokEmb, posEmb], undefined, undefined, ["T", H]);
    for (let l = 0; l < c.layers; l++) {
      const p = `h.${l}`;
      const tp = `transformer.h.${l}`;
      const h1 = ln(res, `${p}.ln_1`);
      const { c_attn: qkv } = linearGroup(b, h1, [
        {
          module: "c_attn",
          name: `${tp}.attn.c_attn`,
          target: byName.get(`${tp}.attn.c_attn`),
          emit: conv(h1, `${p}.attn.c_attn`, H, 3 * H),
          dout: 3 * H,
        },
      ]);
      const [q, k, v] = b.opMulti("Split", [qkv, b.ints([H, H, H])], 3, { axis: 1 });
      let scale = c.scaleAttnWeights ? 1 / Math.sqrt(c.headDim) : 1;
      if (c.scaleAttnByInverseLayerIdx) scale /= l + 1;
      const att = attention(b, q, k, v, c.heads, c.heads, c.headDim, scale, false);
      const { c_proj: ao } = linearGroup(b, att, [
        {
          module: "c_proj",
          name: `${tp}.attn.c_proj`,
          target: byName.get(`${tp}.attn.c_proj`),
          emit: conv(att, `${p}.attn.c_proj`, H, H),
          dout: H,
        },
      ]);
      res = b.op("Add", [res, ao], undefined, undefined, ["T", H]);
      const h2 = ln(res, `${p}.ln_2`);
      const { c_fc: fc } = linearGroup(b, h2, [
        {
          module: "c_fc",
          name: `${tp}.mlp.c_fc`,
          target: byName.get(`${tp}.mlp.c_fc`),
          emit: conv(h2, `${p}.mlp.c_fc`, H, c.inner),
          dout: c.inner,
        },
      ]);
      let act: string;
      if (c.activation === "relu") act = b.op("Relu", [fc]);
      else if (c.activation === "gelu")
        act = b.op("Mul", [
          b.op("Mul", [fc, b.scalar(0.5)]),
          b.op("Add", [b.scalar(1), b.op("Erf", [b.op("Mul", [fc, b.scalar(Math.SQRT1_2)])])]),
        ]);
      else {
        const cube = b.op("Mul", [b.op("Mul", [fc, fc]), fc]);
        const inner = b.op("Mul", [
          b.op("Add", [fc, b.op("Mul", [cube, b.scalar(0.044715)])]),
          b.scalar(Math.sqrt(2 / Math.PI)),
        ]);
        act = b.op("Mul", [
          b.op("Mul", [fc, b.scalar(0.5)]),
          b.op("Add", [b.scalar(1), b.op("Tanh", [inner])]),
        ]);
      }
      b.values.set(act, { type: DT_FLOAT, dims: ["T", c.inner] });
      const { c_proj: mo } = linearGroup(b, act, [
        {
          module: "c_proj",
          name: `${tp}.mlp.c_proj`,
          target: byName.get(`${tp}.mlp.c_proj`),
          emit: conv(act, `${p}.mlp.c_proj`, c.inner, H),
          dout: H,
        },
      ]);
      res = b.op("Add", [res, mo], undefined, undefined, ["T", H]);
    }
    const hf = ln(res, "ln_f");
    b.op("Gemm", [hf, W("wte.weight", [c.vocab, H])], { transB: 1 }, "logits", ["T", c.vocab]);
    return b.finish("logits");
  }

  const H = c.hidden;
  const hd = c.headDim;
  const b = new ProgramBuilder({
    tokens: { type: DT_INT64, dims: ["T"] },
    cos: { type: DT_FLOAT, dims: ["T", hd] },
    sin: { type: DT_FLOAT, dims: ["T", hd] },
    mask: { type: DT_FLOAT, dims: ["T", "T"] },
  });
  const W = (rel: string, shape: number[]) => b.weight(rel, shape, weights.get(rel, shape).data);
  const rms = (x: string, w: string) => {
    const ms = b.op("ReduceMean", [b.op("Mul", [x, x])], { axes: [-1], keepdims: 1 });
    const inv = b.op("Reciprocal", [b.op("Sqrt", [b.op("Add", [ms, b.scalar(c.eps)])])]);
    return b.op("Mul", [b.op("Mul", [x, inv]), W(w, [H])], undefined, undefined, ["T", H]);
  };
  const lin = (x: string, p: string, din: number, dout: number, bias: boolean) => (out: string) =>
    b.op(
      "Gemm",
      bias ? [x, W(`${p}.weight`, [dout, din]), W(`${p}.bias`, [dout])] : [x, W(`${p}.weight`, [dout, din])],
      { transB: 1 },
      out,
    );
  const Q = c.heads * hd;
  const KV = c.kvHeads * hd;
  const lm = weights.lmHead();
  let res = b.op("Gather", [W("embed_tokens.weight", [c.vocab, H]), "tokens"], undefined, undefined, [
    "T",
    H,
  ]);
  for (let l = 0; l < c.layers; l++) {
    const p = `layers.${l}`;
    const tp = `model.layers.${l}`;
    const h1 = rms(res, `${p}.input_layernorm.weight`);
    const mk = (sub: string, module: string, din: number, dout: number, bias: boolean, x: string) => ({
      module,
      name: `${tp}.${sub}.${module}`,
      target: byName.get(`${tp}.${sub}.${module}`),
      emit: lin(x, `${p}.${sub}.${module}`, din, dout, bias),
      dout,
    });
    const qkv = linearGroup(b, h1, [
      mk("self_attn", "q_proj", H, Q, c.qkvBias, h1),
      mk("self_attn", "k_proj", H, KV, c.qkvBias, h1),
      mk("self_attn", "v_proj", H, KV, c.qkvBias, h1),
    ]);
    const att = attention(
      b,
      qkv.q_proj,
      qkv.k_proj,
      qkv.v_proj,
      c.heads,
      c.kvHeads,
      hd,
      1 / Math.sqrt(hd),
      true,
    );
    const { o_proj } = linearGroup(b, att, [mk("self_attn", "o_proj", Q, H, c.oBias, att)]);
    res = b.op("Add", [res, o_proj], undefined, undefined, ["T", H]);
    const h2 = rms(res, `${p}.post_attention_layernorm.weight`);
    const gu = linearGroup(b, h2, [
      mk("mlp", "gate_proj", H, c.intermediate, c.mlpBias, h2),
      mk("mlp", "up_proj", H, c.intermediate, c.mlpBias, h2),
    ]);
    const act = b.op(
      "Mul",
      [b.op("Mul", [gu.gate_proj, b.op("Sigmoid", [gu.gate_proj])]), gu.up_proj],
      undefined,
      undefined,
      ["T", c.intermediate],
    );
    const { down_proj } = linearGroup(b, act, [mk("mlp", "down_proj", c.intermediate, H, c.mlpBias, act)]);
    res = b.op("Add", [res, down_proj], undefined, undefined, ["T", H]);
  }
  const hf = rms(res, "norm.weight");
  b.op("Gemm", [hf, b.weight("lm_head", [c.vocab, H], lm.data)], { transB: 1 }, "logits", ["T", c.vocab]);
  return b.finish("logits");
}
