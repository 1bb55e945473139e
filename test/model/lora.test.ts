import { expect } from "chai";
import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import {
  STORIES260K_DIR,
  floatLoraHook,
  loadBaseModel,
  loadPeftAdapter,
  mergeAdapter,
  savePeftAdapter,
  writeRandomAdapter,
  writeTinyGpt2,
  writeTinyLlama,
  writeSafetensors,
  type LoraTarget,
  type TensorMap,
  type PeftAdapter,
} from "../../src/model/index.js";
import { expectModelError, maxAbsDiff, someTokens, tempDir } from "./helpers.js";

/** Hooked forward (base + float LoRA delta at the cuts) vs the forward of the merged model. */
async function hookedVsMerged(
  baseDir: string,
  adapterDir: string,
  mergedDir: string,
  targetModules: string[],
  tokens: number[],
  opts: { r: number; alpha: number; seed: number },
): Promise<{ diff: number; effect: number; adapter: PeftAdapter; targets: LoraTarget[] }> {
  const adapter = await writeRandomAdapter(baseDir, adapterDir, { ...opts, targetModules });
  await mergeAdapter(baseDir, adapter, mergedDir);
  const base = await loadBaseModel(baseDir);
  const merged = await loadBaseModel(mergedDir);
  try {
    const targets = base.targets(targetModules);
    const hooked = await base.forward(tokens, { targets, hook: floatLoraHook(adapter) });
    const plain = await base.forward(tokens);
    const mergedOut = await merged.forward(tokens);
    return {
      diff: maxAbsDiff(hooked.logits, mergedOut.logits),
      effect: maxAbsDiff(hooked.logits, plain.logits),
      adapter,
      targets,
    };
  } finally {
    await base.close();
    await merged.close();
  }
}

describe("# LoRA at the cut points", () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  before(async () => {
    tmp = await tempDir("lora");
    await writeTinyGpt2(path.join(tmp.dir, "gpt2"), { seed: 31 });
    await writeTinyLlama(path.join(tmp.dir, "llama"), { seed: 32 });
  });
  after(async () => tmp.cleanup());
  const d = (name: string) => path.join(tmp.dir, name);

  it("Should equal the merged model on stories260k with q_proj/v_proj (64→64, 64→32), and change the logits", async () => {
    const { diff, effect, targets, adapter } = await hookedVsMerged(
      STORIES260K_DIR,
      d("a-stories"),
      d("m-stories"),
      ["q_proj", "v_proj"],
      [1, ...someTokens(15, 512, 7)],
      { r: 4, alpha: 8, seed: 41 },
    );
    expect(targets.map((t) => `${t.module}:${t.DIN}x${t.DOUT}`)).to.deep.equal(
      Array.from({ length: 5 }, () => ["q_proj:64x64", "v_proj:64x32"]).flat(),
    );
    expect(adapter.modules.map((m) => m.name)).to.deep.equal(targets.map((t) => t.name));
    expect(effect).to.be.greaterThan(0.05);
    expect(diff).to.be.lessThan(1e-4);
  });

  it("Should equal the merged model on GPT-2 c_attn (Conv1D, fan_in_fan_out)", async () => {
    const { diff, effect, adapter, targets } = await hookedVsMerged(
      d("gpt2"),
      d("a-gpt2"),
      d("m-gpt2"),
      ["c_attn"],
      someTokens(19, 97, 8),
      {
        r: 2,
        alpha: 4,
        seed: 42,
      },
    );
    expect(adapter.config.fan_in_fan_out).to.equal(true);
    expect(targets.map((t) => [t.name, t.DIN, t.DOUT])).to.deep.equal([
      ["transformer.h.0.attn.c_attn", 32, 96],
      ["transformer.h.1.attn.c_attn", 32, 96],
    ]);
    expect(effect).to.be.greaterThan(0.05);
    expect(diff).to.be.lessThan(1e-4);
  });

  it("Should equal the merged model with every GPT-2 linear targeted (attn and mlp c_proj, c_fc)", async () => {
    const { diff, effect, targets } = await hookedVsMerged(
      d("gpt2"),
      d("a-gpt2-all"),
      d("m-gpt2-all"),
      ["c_attn", "c_proj", "c_fc"],
      someTokens(9, 97, 9),
      {
        r: 3,
        alpha: 3,
        seed: 43,
      },
    );
    expect(targets).to.have.length(8);
    expect(effect).to.be.greaterThan(0.05);
    expect(diff).to.be.lessThan(1e-4);
  });

  it("Should equal the merged model with every Llama linear targeted (q, k, v, o, gate, up, down)", async () => {
    const mods = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
    const { diff, effect, targets } = await hookedVsMerged(
      d("llama"),
      d("a-llama-all"),
      d("m-llama-all"),
      mods,
      someTokens(13, 97, 10),
      {
        r: 2,
        alpha: 4,
        seed: 44,
      },
    );
    expect(targets).to.have.length(14);
    expect(effect).to.be.greaterThan(0.05);
    expect(diff).to.be.lessThan(1e-4);
  });

  it("Should call the hook once per target per forward, in canonical order, with X [T, DIN]", async () => {
    const m = await loadBaseModel(STORIES260K_DIR);
    try {
      const targets = m.targets(["v_proj", "q_proj"]);
      expect(targets.map((t) => t.index)).to.deep.equal(Array.from({ length: 10 }, (_, i) => i));
      expect(targets.map((t) => t.name).slice(0, 3)).to.deep.equal([
        "model.layers.0.self_attn.q_proj",
        "model.layers.0.self_attn.v_proj",
        "model.layers.1.self_attn.q_proj",
      ]);
      // q and v share their input: one cut per layer, so 5 cuts, 6 segments
      expect(await m.segmentCount(targets)).to.equal(6);
      const calls: { index: number; T: number; len: number; x: Float32Array }[] = [];
      const zero = async (t: LoraTarget, x: Float32Array, T: number) => {
        calls.push({ index: t.index, T, len: x.length, x });
        expect(x.length).to.equal(T * t.DIN);
        return new Float32Array(T * t.DOUT);
      };
      const tokens = [1, 5, 9, 300, 41, 7, 7];
      const hooked = await m.forward(tokens, { targets, hook: zero });
      expect(calls.map((c) => c.index)).to.deep.equal(targets.map((t) => t.index));
      expect(calls.every((c) => c.T === 7 && c.len === 7 * 64)).to.equal(true);
      // q and v of one layer see the same X; X differs between layers
      expect(maxAbsDiff(calls[0].x, calls[1].x)).to.equal(0);
      expect(maxAbsDiff(calls[0].x, calls[2].x)).to.be.greaterThan(0);
      const plain = await m.forward(tokens);
      expect(maxAbsDiff(hooked.logits, plain.logits)).to.be.lessThan(1e-6);
      // a second forward reuses the sessions and calls the hook again once per target
      calls.length = 0;
      await m.forward(tokens.slice(0, 3), { targets, hook: zero });
      expect(calls.map((c) => c.index)).to.deep.equal(targets.map((t) => t.index));
      // a subset of targets: only those are called
      calls.length = 0;
      const some = [targets[3], targets[8]];
      await m.forward(tokens, { targets: some, hook: zero });
      expect(calls.map((c) => c.index)).to.deep.equal([3, 8]);
      expect(await m.segmentCount(some)).to.equal(3);
    } finally {
      await m.close();
    }
  });

  it("Should feed X = the normed hidden state: the hook's delta equals the float reference delta", async () => {
    // With a nonzero hook on layer 0 only, the logits equal the merged model's, which also
    // shows X is exactly the input of q_proj (merged = W·x + s·B·A·x with the same x).
    const adapter = await writeRandomAdapter(STORIES260K_DIR, d("a-l0"), {
      r: 2,
      alpha: 2,
      targetModules: ["model.layers.0.self_attn.q_proj"],
      seed: 45,
    });
    await mergeAdapter(STORIES260K_DIR, adapter, d("m-l0"));
    const base = await loadBaseModel(STORIES260K_DIR);
    const merged = await loadBaseModel(d("m-l0"));
    try {
      const targets = base.targets(["model.layers.0.self_attn.q_proj"]);
      expect(targets).to.have.length(1);
      const tokens = [1, 99, 100, 101];
      const a = await base.forward(tokens, { targets, hook: floatLoraHook(adapter) });
      const b = await merged.forward(tokens);
      expect(maxAbsDiff(a.logits, b.logits)).to.be.lessThan(1e-4);
    } finally {
      await base.close();
      await merged.close();
    }
  });
});

describe("# PEFT adapters", () => {
  let tmp: { dir: string; cleanup: () => Promise<void> };
  before(async () => {
    tmp = await tempDir("peft");
  });
  after(async () => tmp.cleanup());

  it("Should round-trip through save and load with PEFT key names and config", async () => {
    const src = path.join(tmp.dir, "a");
    const adapter = await writeRandomAdapter(STORIES260K_DIR, src, {
      r: 4,
      alpha: 16,
      targetModules: ["q_proj", "v_proj"],
      seed: 51,
    });
    expect(adapter.scaling).to.equal(4);
    expect(adapter.modules.every((m) => m.loraB.some((v) => v !== 0))).to.equal(true);
    const cfg = JSON.parse(await readFile(path.join(src, "adapter_config.json"), "utf8")) as Record<
      string,
      unknown
    >;
    expect(cfg).to.include({ peft_type: "LORA", r: 4, lora_alpha: 16, fan_in_fan_out: false });
    const raw = await readFile(path.join(src, "adapter_model.safetensors"));
    const header = raw.subarray(8, 8 + Number(raw.readBigUInt64LE(0))).toString();
    expect(header).to.contain('"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"');
    expect(header).to.contain(
      '"base_model.model.model.layers.4.self_attn.v_proj.lora_B.weight":{"dtype":"F32","shape":[32,4]',
    );
    const back = await loadPeftAdapter(src);
    expect(back.config).to.deep.equal(adapter.config);
    expect(back.scaling).to.equal(4);
    expect(back.modules.map((m) => [m.name, m.R, m.DIN, m.DOUT])).to.deep.equal(
      adapter.modules.map((m) => [m.name, m.R, m.DIN, m.DOUT]),
    );
    for (let i = 0; i < back.modules.length; i++) {
      expect(Array.from(back.modules[i].loraA)).to.deep.equal(Array.from(adapter.modules[i].loraA));
      expect(Array.from(back.modules[i].loraB)).to.deep.equal(Array.from(adapter.modules[i].loraB));
    }
    const again = path.join(tmp.dir, "b");
    await savePeftAdapter(again, back);
    expect(Buffer.compare(await readFile(path.join(again, "adapter_model.safetensors")), raw)).to.equal(0);
  });

  it("Should give adapters made on a bare GPT2Model / LlamaModel the causal-LM module paths", async () => {
    const dir = path.join(tmp.dir, "bare");
    const t: TensorMap = new Map();
    t.set("base_model.model.h.1.attn.c_attn.lora_A.weight", {
      shape: [2, 32],
      data: new Float32Array(64).fill(0.5),
    });
    t.set("base_model.model.h.1.attn.c_attn.lora_B.weight", {
      shape: [96, 2],
      data: new Float32Array(192).fill(0.25),
    });
    t.set("base_model.model.layers.0.self_attn.q_proj.lora_A.weight", {
      shape: [2, 32],
      data: new Float32Array(64),
    });
    t.set("base_model.model.layers.0.self_attn.q_proj.lora_B.weight", {
      shape: [32, 2],
      data: new Float32Array(64),
    });
    await savePeftAdapter(dir, {
      config: { r: 2, lora_alpha: 2, target_modules: ["c_attn", "q_proj"], fan_in_fan_out: true },
      scaling: 1,
      modules: [],
    });
    await writeSafetensors(path.join(dir, "adapter_model.safetensors"), t);
    const a = await loadPeftAdapter(dir);
    expect(a.modules.map((m) => m.name)).to.deep.equal([
      "model.layers.0.self_attn.q_proj",
      "transformer.h.1.attn.c_attn",
    ]);
    expect(a.modules[1].loraB[0]).to.equal(0.25);
  });

  it("Should read PEFT's other target forms: all-linear, a regular expression, layers_to_transform", async () => {
    const base = path.join(tmp.dir, "forms-base");
    await writeTinyLlama(base, { seed: 61, layers: 2 });
    const setConfig = async (dir: string, patch: Record<string, unknown>) => {
      const f = path.join(dir, "adapter_config.json");
      const cfg = JSON.parse(await readFile(f, "utf8")) as Record<string, unknown>;
      await writeFile(f, JSON.stringify({ ...cfg, ...patch }));
    };
    const model = await loadBaseModel(base);
    try {
      // all-linear: every linear layer of every block
      const all = path.join(tmp.dir, "all-linear");
      await writeRandomAdapter(base, all, {
        r: 2,
        alpha: 4,
        targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
      });
      await setConfig(all, { target_modules: "all-linear" });
      const a1 = await loadPeftAdapter(all);
      expect(a1.config.target_modules).to.have.length(14);
      expect(model.targets(a1.config.target_modules).map((t) => t.name)).to.deep.equal(
        a1.modules.map((m) => m.name),
      );
      // a regular expression (PEFT: full match on the module path)
      const rx = path.join(tmp.dir, "regex");
      await writeRandomAdapter(base, rx, { r: 2, alpha: 4, targetModules: ["q_proj", "v_proj"] });
      await setConfig(rx, { target_modules: String.raw`model\.layers\.\d+\.self_attn\.(q|v)_proj` });
      const a2 = await loadPeftAdapter(rx);
      expect(a2.config.target_modules).to.deep.equal([
        "model.layers.0.self_attn.q_proj",
        "model.layers.0.self_attn.v_proj",
        "model.layers.1.self_attn.q_proj",
        "model.layers.1.self_attn.v_proj",
      ]);
      await setConfig(rx, { target_modules: String.raw`.*\.k_proj` });
      await expectModelError(loadPeftAdapter(rx), "BAD_ADAPTER", "does not select");
      await setConfig(rx, { target_modules: "(" });
      await expectModelError(loadPeftAdapter(rx), "BAD_ADAPTER", "not a regular expression");
      // layers_to_transform: only layer 1 adapted
      const l1 = path.join(tmp.dir, "layer1");
      await writeRandomAdapter(base, l1, {
        r: 2,
        alpha: 4,
        targetModules: ["model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"],
      });
      await setConfig(l1, { target_modules: ["q_proj", "v_proj"], layers_to_transform: [1] });
      const a3 = await loadPeftAdapter(l1);
      expect(model.targets(a3.config.target_modules).map((t) => t.layer)).to.deep.equal([1, 1]);
      await mergeAdapter(base, a3, path.join(tmp.dir, "layer1-merged"));
      await setConfig(l1, { layers_to_transform: 0 });
      await expectModelError(loadPeftAdapter(l1), "BAD_ADAPTER", "outside layers_to_transform");
      await setConfig(l1, { layers_to_transform: ["x"] });
      await expectModelError(loadPeftAdapter(l1), "BAD_ADAPTER", "layers_to_transform must be");
    } finally {
      await model.close();
    }
  });

  it("Should reject missing files, bad configs, stray tensors and shape mismatches", async () => {
    const dir = path.join(tmp.dir, "bad");
    await writeRandomAdapter(STORIES260K_DIR, dir, { r: 2, alpha: 2, targetModules: ["q_proj"], seed: 52 });
    const cfgFile = path.join(dir, "adapter_config.json");
    const cfg = JSON.parse(await readFile(cfgFile, "utf8")) as Record<string, unknown>;
    await expectModelError(
      loadPeftAdapter(path.join(tmp.dir, "none")),
      "MISSING_FILE",
      "adapter_config.json",
    );
    await writeFile(cfgFile, JSON.stringify({ ...cfg, r: 0 }));
    await expectModelError(loadPeftAdapter(dir), "BAD_ADAPTER", "r = 0");
    await writeFile(cfgFile, JSON.stringify({ ...cfg, target_modules: "q_proj|v_proj" }));
    await expectModelError(loadPeftAdapter(dir), "BAD_ADAPTER", "target_modules");
    await writeFile(cfgFile, JSON.stringify({ ...cfg, peft_type: "IA3" }));
    await expectModelError(loadPeftAdapter(dir), "BAD_ADAPTER", "IA3");
    await writeFile(cfgFile, JSON.stringify({ ...cfg, r: 3 }));
    await expectModelError(loadPeftAdapter(dir), "BAD_SHAPE", "r=3");
    await writeFile(cfgFile, JSON.stringify(cfg));
    const ok = await loadPeftAdapter(dir);
    // a module whose shape does not fit the model
    const wrong: PeftAdapter = {
      ...ok,
      modules: ok.modules.map((m) => ({ ...m, name: m.name.replace("q_proj", "v_proj") })),
    };
    const m = await loadBaseModel(STORIES260K_DIR);
    try {
      const targets = m.targets(["model.layers.0.self_attn.v_proj"]);
      await expectModelError(
        m.forward([1, 2], { targets, hook: floatLoraHook(wrong) }),
        "BAD_SHAPE",
        "64x64",
        "64x32",
      );
      const other = m.targets(["k_proj"]);
      await expectModelError(
        m.forward([1, 2], { targets: other, hook: floatLoraHook(ok) }),
        "BAD_ADAPTER",
        "k_proj",
      );
    } finally {
      await m.close();
    }
    await expectModelError(
      mergeAdapter(STORIES260K_DIR, wrong, path.join(tmp.dir, "merged")),
      "BAD_SHAPE",
      "v_proj",
    );
    const stray: TensorMap = new Map();
    for (const x of ok.modules)
      stray.set(`base_model.model.${x.name}.lora_A.weight`, { shape: [x.R, x.DIN], data: x.loraA });
    stray.set("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", {
      shape: [64, 2],
      data: ok.modules[0].loraB,
    });
    stray.set("lm_head.weight", { shape: [1], data: Float32Array.of(1) });
    await writeSafetensors(path.join(dir, "adapter_model.safetensors"), stray);
    await expectModelError(loadPeftAdapter(dir), "BAD_ADAPTER", "lm_head.weight", "lora_A.weight");
    stray.delete("lm_head.weight");
    stray.delete("base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight");
    await writeSafetensors(path.join(dir, "adapter_model.safetensors"), stray);
    await expectModelError(loadPeftAdapter(dir), "BAD_ADAPTER", "lacks lora_B");
    await rm(path.join(dir, "adapter_model.safetensors"));
    await expectModelError(loadPeftAdapter(dir), "MISSING_FILE", "adapter_model.safetensors");
  });
});
