import { expect } from "chai";
import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import {
  STORIES260K_DIR,
  loadBaseModel,
  loadWeights,
  referenceForward,
  writeTinyGpt2,
  writeTinyLlama,
  type BaseModel,
} from "../../src/model/index.js";
import { expectModelError, maxAbsDiff, someTokens, tempDir } from "./helpers.js";

/** ONNX forward vs the float64 reference: max abs logit difference. */
async function compare(dir: string, tokens: number[]): Promise<{ diff: number; scale: number }> {
  const model = await loadBaseModel(dir);
  try {
    const { logits, T } = await model.forward(tokens);
    expect(T).to.equal(tokens.length);
    expect(logits.length).to.equal(T * model.vocabSize);
    const ref = referenceForward(await loadWeights(dir), tokens);
    let scale = 0;
    for (const v of ref) scale = Math.max(scale, Math.abs(v));
    return { diff: maxAbsDiff(logits, ref), scale };
  } finally {
    await model.close();
  }
}

describe("# base model forward (ONNX segments vs float64 reference)", () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  before(async () => {
    tmp = await tempDir("fwd");
  });
  after(async () => tmp.cleanup());

  it("Should match the reference on a tiny GPT-2 (transformer.-prefixed keys) within 1e-4", async () => {
    const dir = path.join(tmp.dir, "gpt2");
    await writeTinyGpt2(dir, { seed: 11 });
    const { diff, scale } = await compare(dir, someTokens(20, 97));
    expect(scale).to.be.greaterThan(1); // logits are not trivially small
    expect(diff).to.be.lessThan(1e-4);
  });

  it("Should match the reference on a tiny GPT-2 with bare key names (the hub's gpt2 layout)", async () => {
    const dir = path.join(tmp.dir, "gpt2-bare");
    await writeTinyGpt2(dir, { seed: 12, prefixed: false, layers: 3, hidden: 24, heads: 3 });
    const { diff } = await compare(dir, someTokens(17, 97, 5));
    expect(diff).to.be.lessThan(1e-4);
  });

  it("Should match the reference on a tiny Llama (GQA 4/2, untied lm_head) within 1e-4", async () => {
    const dir = path.join(tmp.dir, "llama");
    await writeTinyLlama(dir, { seed: 13 });
    const { diff, scale } = await compare(dir, someTokens(23, 97, 2));
    expect(scale).to.be.greaterThan(1);
    expect(diff).to.be.lessThan(1e-4);
  });

  it("Should match the reference on a tiny Llama with tied embeddings and no GQA", async () => {
    const dir = path.join(tmp.dir, "llama-tied");
    await writeTinyLlama(dir, { seed: 14, tied: true, heads: 2, kvHeads: 2, ropeTheta: 500 });
    const { diff } = await compare(dir, someTokens(30, 97, 3));
    expect(diff).to.be.lessThan(1e-4);
  });

  it("Should run the Llama family: Qwen2 (q/k/v biases, no o_proj bias) and Mistral (sliding window) match the reference", async () => {
    const qwen = path.join(tmp.dir, "qwen2");
    await writeTinyLlama(qwen, { seed: 15, modelType: "qwen2" });
    const cq = (await loadWeights(qwen)).config;
    expect(cq.family === "llama" && [cq.modelType, cq.qkvBias, cq.oBias]).to.deep.equal([
      "qwen2",
      true,
      false,
    ]);
    expect((await compare(qwen, someTokens(20, 97, 5))).diff).to.be.lessThan(1e-4);
    const mistral = path.join(tmp.dir, "mistral");
    await writeTinyLlama(mistral, { seed: 16, modelType: "mistral", ctx: 64 });
    const raw = JSON.parse(await readFile(path.join(mistral, "config.json"), "utf8")) as Record<
      string,
      unknown
    >;
    await writeFile(path.join(mistral, "config.json"), JSON.stringify({ ...raw, sliding_window: 24 }));
    const cm = (await loadWeights(mistral)).config;
    expect(cm.family === "llama" && [cm.modelType, cm.ctx]).to.deep.equal(["mistral", 24]);
    expect((await compare(mistral, someTokens(24, 97, 7))).diff).to.be.lessThan(1e-4);
  });

  it("Should load a sharded checkpoint (model.safetensors.index.json) exactly like the single file, and refuse a wrong index", async () => {
    const one = path.join(tmp.dir, "one");
    const sharded = path.join(tmp.dir, "sharded");
    await writeTinyLlama(one, { seed: 17 });
    await writeTinyLlama(sharded, { seed: 17, shards: 3 });
    const toks = someTokens(10, 97, 8);
    const a = await loadBaseModel(one);
    const b = await loadBaseModel(sharded);
    try {
      expect(maxAbsDiff((await a.forward(toks)).logits, (await b.forward(toks)).logits)).to.equal(0);
      expect(b.sha256).to.match(/^[0-9a-f]{64}$/);
      expect(b.sha256).to.not.equal(a.sha256);
    } finally {
      await a.close();
      await b.close();
    }
    const index = path.join(sharded, "model.safetensors.index.json");
    const idx = JSON.parse(await readFile(index, "utf8")) as { weight_map: Record<string, string> };
    const [first] = Object.keys(idx.weight_map);
    const wrong = { weight_map: { ...idx.weight_map, [first]: "model-00002-of-00003.safetensors" } };
    await writeFile(index, JSON.stringify(wrong));
    await expectModelError(loadWeights(sharded), "BAD_CONFIG", first);
    await writeFile(
      index,
      JSON.stringify({ weight_map: { ...idx.weight_map, extra: idx.weight_map[first] } }),
    );
    await expectModelError(loadWeights(sharded), "BAD_CONFIG", "extra");
    await writeFile(index, JSON.stringify({ weight_map: { [first]: "../escape.safetensors" } }));
    await expectModelError(loadWeights(sharded), "BAD_CONFIG", "file name in the folder");
  });

  it("Should match the reference on stories260k within 1e-3 (T = 32)", async () => {
    const tokens = [1, ...someTokens(31, 512, 9)];
    const { diff } = await compare(STORIES260K_DIR, tokens);
    expect(diff).to.be.lessThan(1e-3);
  });

  it("Should give each position the logits of its prefix (causal mask) on both families", async () => {
    for (const writer of [writeTinyGpt2, writeTinyLlama]) {
      const dir = path.join(tmp.dir, `causal-${writer.name}`);
      await writer(dir, { seed: 21 });
      const m = await loadBaseModel(dir);
      try {
        const toks = someTokens(12, 97, 4);
        const full = await m.forward(toks);
        const pre = await m.forward(toks.slice(0, 5));
        expect(maxAbsDiff(full.logits.subarray(0, 5 * 97), pre.logits)).to.be.lessThan(1e-5);
        // a later token changes only later positions
        const changed = [...toks];
        changed[8] = (changed[8] + 1) % 97;
        const other = await m.forward(changed);
        expect(maxAbsDiff(full.logits.subarray(0, 8 * 97), other.logits.subarray(0, 8 * 97))).to.be.lessThan(
          1e-5,
        );
        expect(maxAbsDiff(full.logits.subarray(8 * 97), other.logits.subarray(8 * 97))).to.be.greaterThan(
          1e-3,
        );
      } finally {
        await m.close();
      }
    }
  });

  it("Should expose model facts: family, vocab, context, sha256 of model.safetensors", async () => {
    const m = await loadBaseModel(STORIES260K_DIR);
    try {
      expect(m.family).to.equal("llama");
      expect(m.vocabSize).to.equal(512);
      expect(m.contextLength).to.equal(512);
      expect(m.sha256).to.match(/^[0-9a-f]{64}$/);
      expect(m.config).to.include({ hidden: 64, layers: 5, heads: 8, kvHeads: 4, intermediate: 172 });
      expect(await m.segmentCount()).to.equal(1);
    } finally {
      await m.close();
    }
  });

  describe("## bad inputs", () => {
    let m: BaseModel;
    before(async () => {
      m = await loadBaseModel(STORIES260K_DIR);
    });
    after(async () => m.close());

    it("Should reject token ids out of range, non-integers, empty and over-long inputs", async () => {
      await expectModelError(m.forward([1, 512]), "BAD_TOKEN", "token 1 is 512", "[0, 511]");
      await expectModelError(m.forward([1, -1]), "BAD_TOKEN", "token 1 is -1");
      await expectModelError(m.forward([1, 2.5]), "BAD_TOKEN", "2.5");
      await expectModelError(m.forward([]), "BAD_TOKEN", "empty");
      await expectModelError(m.forward(new Array(513).fill(1)), "CONTEXT_TOO_LONG", "513", "512");
    });

    it("Should reject unknown or mis-shaped targets and targets without a hook", async () => {
      const [q] = m.targets(["q_proj"]);
      await expectModelError(m.forward([1, 2], { targets: [q] }), "BAD_TARGET", "hook");
      await expectModelError(
        m.forward([1, 2], { targets: [{ ...q, DOUT: 3 }], hook: async () => new Float32Array(6) }),
        "BAD_TARGET",
        "64x64",
      );
      await expectModelError(
        m.forward([1, 2], {
          targets: [{ ...q, name: "model.layers.9.self_attn.q_proj" }],
          hook: async () => new Float32Array(128),
        }),
        "BAD_TARGET",
        "layers.9",
      );
      await expectModelError(
        m.forward([1, 2], { targets: [q, q], hook: async () => new Float32Array(128) }),
        "BAD_TARGET",
        "twice",
      );
      await expectModelError(() => m.targets(["c_attn"]), "BAD_TARGET", "c_attn", "q_proj");
      await expectModelError(() => m.targets([]), "BAD_TARGET", "empty");
    });

    it("Should reject hooks returning the wrong length or non-finite values", async () => {
      const targets = m.targets(["v_proj"]);
      await expectModelError(
        m.forward([1, 2, 3], { targets, hook: async () => new Float32Array(5) }),
        "BAD_HOOK_OUTPUT",
        "3*32",
      );
      await expectModelError(
        m.forward([1, 2, 3], { targets, hook: async (_t, _x, T) => new Float32Array(T * 32).fill(NaN) }),
        "BAD_HOOK_OUTPUT",
        "non-finite",
      );
    });
  });

  describe("## bad model folders", () => {
    it("Should name missing files, unknown model types, bad configs and mismatched tensors", async () => {
      const { dir, cleanup } = await tempDir("badmodel");
      try {
        await expectModelError(loadBaseModel(path.join(dir, "nothing")), "MISSING_FILE", "config.json");
        await writeTinyLlama(dir, { seed: 3 });
        await rm(path.join(dir, "model.safetensors"));
        await expectModelError(loadBaseModel(dir), "MISSING_FILE", "model.safetensors.index.json");
        await writeTinyLlama(dir, { seed: 3 });
        const cfgFile = path.join(dir, "config.json");
        const cfg = JSON.parse(await readFile(cfgFile, "utf8")) as Record<string, unknown>;
        await writeFile(cfgFile, JSON.stringify({ ...cfg, model_type: "falcon" }));
        await expectModelError(loadBaseModel(dir), "UNKNOWN_MODEL_TYPE", "falcon", "gpt2", "llama", "qwen2");
        await writeFile(cfgFile, "{ not json");
        await expectModelError(loadBaseModel(dir), "BAD_CONFIG", "config.json");
        await writeFile(cfgFile, JSON.stringify({ ...cfg, hidden_size: undefined }));
        await expectModelError(loadBaseModel(dir), "BAD_CONFIG", "hidden_size");
        await writeFile(cfgFile, JSON.stringify({ ...cfg, rope_scaling: { type: "linear", factor: 2 } }));
        await expectModelError(loadBaseModel(dir), "UNSUPPORTED", "rope_scaling");
        // config says hidden 48, checkpoint holds 32: the first mismatched tensor is named
        await writeFile(cfgFile, JSON.stringify({ ...cfg, hidden_size: 48, num_attention_heads: 4 }));
        await expectModelError(
          loadBaseModel(dir),
          "BAD_SHAPE",
          "model.embed_tokens.weight",
          "[97,32]",
          "[97,48]",
        );
        await writeFile(cfgFile, JSON.stringify(cfg));
        await rm(path.join(dir, "model.safetensors"));
        await expectModelError(loadBaseModel(dir), "MISSING_FILE", "model.safetensors");
        await writeTinyGpt2(dir, { seed: 4, layers: 1 });
        await writeFile(
          cfgFile,
          JSON.stringify({ ...JSON.parse(await readFile(cfgFile, "utf8")), n_layer: 2 }),
        );
        await expectModelError(loadBaseModel(dir), "MISSING_TENSOR", "h.1.ln_1.weight");
      } finally {
        await cleanup();
      }
    });

    it("Should refuse to run after close()", async () => {
      const m = await loadBaseModel(STORIES260K_DIR);
      await m.forward([1, 2]);
      await m.close();
      await expectModelError(m.forward([1, 2]), "CLOSED");
    });
  });
});
