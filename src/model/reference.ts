/**
 * A plain float64 forward pass with naive loops, independent of the ONNX graphs: the reference
 * the ONNX forward is tested against. Slow; for small models and short sequences only.
 */
import type { ModelWeights } from "./config.js";

type Mat = Float64Array; // row-major

/** y[T, dout] = x[T, din] · W, W given as [dout, din] (nn.Linear) or [din, dout] (Conv1D). */
function linear(
  x: Mat,
  T: number,
  din: number,
  dout: number,
  w: Float32Array,
  layout: "out_in" | "in_out",
  bias?: Float32Array,
): Mat {
  const y = new Float64Array(T * dout);
  for (let t = 0; t < T; t++)
    for (let o = 0; o < dout; o++) {
      let s = bias ? bias[o] : 0;
      for (let i = 0; i < din; i++)
        s += x[t * din + i] * (layout === "out_in" ? w[o * din + i] : w[i * dout + o]);
      y[t * dout + o] = s;
    }
  return y;
}

function layerNorm(x: Mat, T: number, H: number, w: Float32Array, b: Float32Array, eps: number): Mat {
  const y = new Float64Array(T * H);
  for (let t = 0; t < T; t++) {
    let m = 0;
    for (let i = 0; i < H; i++) m += x[t * H + i];
    m /= H;
    let v = 0;
    for (let i = 0; i < H; i++) v += (x[t * H + i] - m) ** 2;
    v /= H;
    const r = 1 / Math.sqrt(v + eps);
    for (let i = 0; i < H; i++) y[t * H + i] = (x[t * H + i] - m) * r * w[i] + b[i];
  }
  return y;
}

function rmsNorm(x: Mat, T: number, H: number, w: Float32Array, eps: number): Mat {
  const y = new Float64Array(T * H);
  for (let t = 0; t < T; t++) {
    let s = 0;
    for (let i = 0; i < H; i++) s += x[t * H + i] ** 2;
    const r = 1 / Math.sqrt(s / H + eps);
    for (let i = 0; i < H; i++) y[t * H + i] = x[t * H + i] * r * w[i];
  }
  return y;
}

/** Causal attention; q [T, nh*d], k/v [T, nkv*d]; head h uses kv head floor(h / (nh/nkv)). */
function attend(q: Mat, k: Mat, v: Mat, T: number, nh: number, nkv: number, d: number, scale: number): Mat {
  const out = new Float64Array(T * nh * d);
  const rep = nh / nkv;
  const s = new Float64Array(T);
  for (let h = 0; h < nh; h++) {
    const g = Math.floor(h / rep);
    for (let t = 0; t < T; t++) {
      let mx = -Infinity;
      for (let u = 0; u <= t; u++) {
        let dot = 0;
        for (let i = 0; i < d; i++) dot += q[t * nh * d + h * d + i] * k[u * nkv * d + g * d + i];
        s[u] = dot * scale;
        if (s[u] > mx) mx = s[u];
      }
      let z = 0;
      for (let u = 0; u <= t; u++) z += s[u] = Math.exp(s[u] - mx);
      for (let u = 0; u <= t; u++)
        for (let i = 0; i < d; i++) out[t * nh * d + h * d + i] += (s[u] / z) * v[u * nkv * d + g * d + i];
    }
  }
  return out;
}

/** Rotary embedding in Hugging Face's rotate-half convention, in place; x [T, n*d]. */
function rope(x: Mat, T: number, n: number, d: number, theta: number) {
  for (let t = 0; t < T; t++)
    for (let h = 0; h < n; h++)
      for (let i = 0; i < d / 2; i++) {
        const a = t * Math.pow(theta, -(2 * i) / d);
        const c = Math.cos(a);
        const s = Math.sin(a);
        const o = t * n * d + h * d;
        const x1 = x[o + i];
        const x2 = x[o + i + d / 2];
        x[o + i] = x1 * c - x2 * s;
        x[o + i + d / 2] = x2 * c + x1 * s;
      }
}

function addInPlace(a: Mat, b: Mat) {
  for (let i = 0; i < a.length; i++) a[i] += b[i];
}

/** Reference logits [T, vocab] in float64. */
export function referenceForward(w: ModelWeights, tokens: readonly number[]): Float64Array {
  const c = w.config;
  const T = tokens.length;
  const H = c.hidden;
  const x = new Float64Array(T * H);
  if (c.family === "gpt2") {
    const wte = w.get("wte.weight", [c.vocab, H]).data;
    const wpe = w.get("wpe.weight", [c.ctx, H]).data;
    for (let t = 0; t < T; t++)
      for (let i = 0; i < H; i++) x[t * H + i] = wte[tokens[t] * H + i] + wpe[t * H + i];
    for (let l = 0; l < c.layers; l++) {
      const p = `h.${l}`;
      const g = (n: string, s: number[]) => w.get(`${p}.${n}`, s).data;
      const h1 = layerNorm(x, T, H, g("ln_1.weight", [H]), g("ln_1.bias", [H]), c.eps);
      const qkv = linear(
        h1,
        T,
        H,
        3 * H,
        g("attn.c_attn.weight", [H, 3 * H]),
        "in_out",
        g("attn.c_attn.bias", [3 * H]),
      );
      const q = new Float64Array(T * H);
      const k = new Float64Array(T * H);
      const v = new Float64Array(T * H);
      for (let t = 0; t < T; t++)
        for (let i = 0; i < H; i++) {
          q[t * H + i] = qkv[t * 3 * H + i];
          k[t * H + i] = qkv[t * 3 * H + H + i];
          v[t * H + i] = qkv[t * 3 * H + 2 * H + i];
        }
      let scale = c.scaleAttnWeights ? 1 / Math.sqrt(c.headDim) : 1;
      if (c.scaleAttnByInverseLayerIdx) scale /= l + 1;
      const a = attend(q, k, v, T, c.heads, c.heads, c.headDim, scale);
      addInPlace(
        x,
        linear(a, T, H, H, g("attn.c_proj.weight", [H, H]), "in_out", g("attn.c_proj.bias", [H])),
      );
      const h2 = layerNorm(x, T, H, g("ln_2.weight", [H]), g("ln_2.bias", [H]), c.eps);
      const f = linear(
        h2,
        T,
        H,
        c.inner,
        g("mlp.c_fc.weight", [H, c.inner]),
        "in_out",
        g("mlp.c_fc.bias", [c.inner]),
      );
      for (let i = 0; i < f.length; i++) {
        const z = f[i];
        if (c.activation === "relu") f[i] = Math.max(0, z);
        else if (c.activation === "gelu") f[i] = 0.5 * z * (1 + erf(z / Math.SQRT2));
        else f[i] = 0.5 * z * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (z + 0.044715 * z ** 3)));
      }
      addInPlace(
        x,
        linear(f, T, c.inner, H, g("mlp.c_proj.weight", [c.inner, H]), "in_out", g("mlp.c_proj.bias", [H])),
      );
    }
    const hf = layerNorm(x, T, H, w.get("ln_f.weight", [H]).data, w.get("ln_f.bias", [H]).data, c.eps);
    return linear(hf, T, H, c.vocab, wte, "out_in");
  }
  const emb = w.get("embed_tokens.weight", [c.vocab, H]).data;
  for (let t = 0; t < T; t++) for (let i = 0; i < H; i++) x[t * H + i] = emb[tokens[t] * H + i];
  const d = c.headDim;
  const Q = c.heads * d;
  const KV = c.kvHeads * d;
  for (let l = 0; l < c.layers; l++) {
    const p = `layers.${l}`;
    const g = (n: string, s: number[]) => w.get(`${p}.${n}`, s).data;
    const bias = (n: string, on: boolean, s: number) => (on ? g(`${n}.bias`, [s]) : undefined);
    const h1 = rmsNorm(x, T, H, g("input_layernorm.weight", [H]), c.eps);
    const q = linear(
      h1,
      T,
      H,
      Q,
      g("self_attn.q_proj.weight", [Q, H]),
      "out_in",
      bias("self_attn.q_proj", c.qkvBias, Q),
    );
    const k = linear(
      h1,
      T,
      H,
      KV,
      g("self_attn.k_proj.weight", [KV, H]),
      "out_in",
      bias("self_attn.k_proj", c.qkvBias, KV),
    );
    const v = linear(
      h1,
      T,
      H,
      KV,
      g("self_attn.v_proj.weight", [KV, H]),
      "out_in",
      bias("self_attn.v_proj", c.qkvBias, KV),
    );
    rope(q, T, c.heads, d, c.ropeTheta);
    rope(k, T, c.kvHeads, d, c.ropeTheta);
    const a = attend(q, k, v, T, c.heads, c.kvHeads, d, 1 / Math.sqrt(d));
    addInPlace(
      x,
      linear(
        a,
        T,
        Q,
        H,
        g("self_attn.o_proj.weight", [H, Q]),
        "out_in",
        bias("self_attn.o_proj", c.oBias, H),
      ),
    );
    const h2 = rmsNorm(x, T, H, g("post_attention_layernorm.weight", [H]), c.eps);
    const I = c.intermediate;
    const gate = linear(
      h2,
      T,
      H,
      I,
      g("mlp.gate_proj.weight", [I, H]),
      "out_in",
      bias("mlp.gate_proj", c.mlpBias, I),
    );
    const up = linear(
      h2,
      T,
      H,
      I,
      g("mlp.up_proj.weight", [I, H]),
      "out_in",
      bias("mlp.up_proj", c.mlpBias, I),
    );
    for (let i = 0; i < gate.length; i++) gate[i] = (gate[i] / (1 + Math.exp(-gate[i]))) * up[i];
    addInPlace(
      x,
      linear(gate, T, I, H, g("mlp.down_proj.weight", [H, I]), "out_in", bias("mlp.down_proj", c.mlpBias, H)),
    );
  }
  const hf = rmsNorm(x, T, H, w.get("norm.weight", [H]).data, c.eps);
  return linear(hf, T, H, c.vocab, w.lmHead().data, "out_in");
}

/** erf, Abramowitz–Stegun 7.1.26 is too coarse; use a series / continued fraction to ~1e-15. */
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // Taylor series
    let sum = 0;
    let term = ax;
    for (let n = 0; n < 60; n++) {
      sum += term / (2 * n + 1);
      term *= (-ax * ax) / (n + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // continued fraction for erfc
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}
