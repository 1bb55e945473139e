import { expect } from "chai";
import path from "node:path";
import {
  STORIES260K_DIR,
  argmaxRow,
  crossEntropy,
  floatLoraHook,
  gpt2Tokenizer,
  greedyContinue,
  loadBaseModel,
  writeRandomAdapter,
  writeTinyGpt2,
  type BaseModel,
} from "../../src/model/index.js";
import { expectModelError, tempDir } from "./helpers.js";

describe("# stories260k (real trained Llama)", () => {
  let m: BaseModel;
  before(async () => {
    m = await loadBaseModel(STORIES260K_DIR);
  });
  after(async () => m.close());

  it("Should continue BOS greedily into a varied, confidently predicted token stream", async () => {
    const cont = await greedyContinue(m, [1], 64);
    expect(cont).to.have.length(64);
    // deterministic
    expect(await greedyContinue(m, [1], 8)).to.deep.equal(cont.slice(0, 8));
    const counts = new Map<number, number>();
    for (const t of cont) counts.set(t, (counts.get(t) ?? 0) + 1);
    expect(counts.size, `distinct tokens in ${cont.join(" ")}`).to.be.greaterThanOrEqual(20);
    expect(Math.max(...counts.values())).to.be.lessThan(32); // no token dominates
    const seq = [1, ...cont];
    const { logits, T } = await m.forward(seq);
    const { loss, perplexity } = crossEntropy(logits, T, 512, seq);
    // the model's own greedy stream is predictable (measured ~0.9 nats); a uniform model gives ln 512 = 6.24
    expect(loss).to.be.lessThan(1.5);
    expect(perplexity).to.be.lessThan(5);
    // each argmax of the full pass equals the greedy token (one pass == incremental decoding)
    for (let t = 0; t < T - 1; t++) expect(argmaxRow(logits, t, 512)).to.equal(seq[t + 1]);
  });

  it("Should score the model's own stream better than shuffled and random streams", async () => {
    const cont = [1, ...(await greedyContinue(m, [1], 48))];
    const own = crossEntropy((await m.forward(cont)).logits, cont.length, 512, cont).loss;
    const shuffled = [1, ...cont.slice(1).reverse()];
    const rev = crossEntropy((await m.forward(shuffled)).logits, shuffled.length, 512, shuffled).loss;
    const rnd = [1, ...cont.slice(1).map((t) => (t * 7919 + 13) % 512)];
    const rand = crossEntropy((await m.forward(rnd)).logits, rnd.length, 512, rnd).loss;
    expect(own + 1).to.be.lessThan(rev);
    expect(rev).to.be.lessThan(rand + 1);
  });

  it("Should change the loss when a LoRA adapter is attached to q_proj/v_proj", async () => {
    const { dir, cleanup } = await tempDir("stories-lora");
    try {
      const adapter = await writeRandomAdapter(STORIES260K_DIR, path.join(dir, "a"), {
        r: 4,
        alpha: 8,
        targetModules: ["q_proj", "v_proj"],
        seed: 61,
      });
      const seq = [1, ...(await greedyContinue(m, [1], 32))];
      const base = crossEntropy((await m.forward(seq)).logits, seq.length, 512, seq);
      const targets = m.targets(adapter.config.target_modules);
      const withLora = crossEntropy(
        (await m.forward(seq, { targets, hook: floatLoraHook(adapter) })).logits,
        seq.length,
        512,
        seq,
      );
      expect(Math.abs(withLora.loss - base.loss)).to.be.greaterThan(1e-3);
    } finally {
      await cleanup();
    }
  });
});

describe("# crossEntropy", () => {
  it("Should give ln(V) for uniform logits and the exact value for a hand case", () => {
    const u = crossEntropy(new Float32Array(3 * 5), 3, 5, [0, 1, 2]);
    expect(Math.abs(u.loss - Math.log(5))).to.be.at.most(1e-12);
    expect(Math.abs(u.perplexity - 5)).to.be.at.most(1e-9);
    // position 0 predicts token 1 with logits [0, ln 3] → p = 3/4; last row is ignored
    const h = crossEntropy(Float32Array.of(0, Math.log(3), 9, 9), 2, 2, [0, 1]);
    expect(Math.abs(h.loss - -Math.log(0.75))).to.be.at.most(1e-6);
  });

  it("Should reject wrong shapes and tokens", async () => {
    await expectModelError(() => crossEntropy(new Float32Array(4), 1, 4, [0]), "BAD_SHAPE", "T >= 2");
    await expectModelError(() => crossEntropy(new Float32Array(7), 2, 4, [0, 1]), "BAD_SHAPE", "2*4");
    await expectModelError(() => crossEntropy(new Float32Array(8), 2, 4, [0, 4]), "BAD_TOKEN", "[0, 3]");
  });
});

describe("# GPT-2 tokenizer path", () => {
  it("Should encode and decode GPT-2's vocabulary and run a GPT-2-vocab model on text", async () => {
    const tok = gpt2Tokenizer();
    expect(tok.vocabSize).to.equal(50257);
    expect(tok.encode("Hello world")).to.deep.equal([15496, 995]);
    const text = "The buyer evaluates the adapter on its own text. <|endoftext|>";
    const ids = tok.encode(text);
    expect(ids).to.not.include(tok.eos); // markup is plain text
    expect(tok.decode(ids)).to.equal(text);
    const { dir, cleanup } = await tempDir("tok");
    try {
      await writeTinyGpt2(dir, { seed: 71, layers: 1, hidden: 8, heads: 2, vocab: 50257, ctx: 32 });
      const g = await loadBaseModel(dir);
      try {
        const { logits, T } = await g.forward(ids);
        expect(T).to.equal(ids.length);
        const { perplexity } = crossEntropy(logits, T, 50257, ids);
        expect(perplexity).to.be.greaterThan(1).and.lessThan(1e7);
        await expectModelError(g.forward([50257]), "BAD_TOKEN", "50256");
      } finally {
        await g.close();
      }
    } finally {
      await cleanup();
    }
  });
});
