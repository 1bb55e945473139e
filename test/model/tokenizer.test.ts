import { expect } from "chai";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import {
  STORIES260K_DIR,
  crossEntropy,
  greedyContinue,
  hfTokenizer,
  loadBaseModel,
  loadTokenizer,
  tokenizeText,
  writeTinyGpt2,
  writeTinyLlama,
  writeTinyTokenizer,
} from "../../src/model/index.js";
import { expectModelError, tempDir } from "./helpers.js";

type Json = Record<string, unknown>;

async function readJson(file: string): Promise<Json> {
  return JSON.parse(await readFile(file, "utf8")) as Json;
}

async function editJson(file: string, edit: (j: Json) => void): Promise<void> {
  const j = await readJson(file);
  edit(j);
  await writeFile(file, JSON.stringify(j));
}

const TEXTS = [
  "Once upon a time, Lily saw a big red ball.",
  "Tom's frog: é 😀 42\n",
  "  two  spaces,\ttabs\nand 中文 naïve ß Ω",
  "",
];

describe("# tokenizer.json (@huggingface/tokenizers)", () => {
  let root: string;
  let cleanup: () => Promise<void>;
  before(async () => {
    ({ dir: root, cleanup } = await tempDir("tok"));
  });
  after(async () => cleanup());

  describe("Llama 1/2 style (SentencePiece BPE, byte fallback)", () => {
    let dir: string;
    before(async () => {
      dir = path.join(root, "llama");
      await writeTinyLlama(dir, {
        seed: 81,
        layers: 1,
        hidden: 16,
        heads: 2,
        kvHeads: 1,
        vocab: 512,
        tokenizer: true,
      });
    });

    it("Should encode exactly as Hugging Face's Rust tokenizers do", async () => {
      const tok = await loadTokenizer(dir);
      expect(tok.vocabSize).to.equal(512);
      expect(tok.bos).to.equal(1);
      expect(tok.eos).to.equal(2);
      // ids from the Rust `tokenizers` 0.23.2 (Tokenizer.from_file(...).encode(text).ids) on this fixture
      expect(tok.encode("Once upon a time, Lily saw a big red ball.")).to.deep.equal([
        1, 455, 427, 416, 359, 311, 310, 390, 428, 351, 345, 305, 311, 318, 292, 290, 337, 314, 466, 263,
      ]);
      // ▁Tom 's ▁fr og : ▁ é as bytes ▁ 😀 as bytes ▁ 4 (byte) 2 \n (byte)
      expect(tok.encode("Tom's frog: é 😀 42\n")).to.deep.equal([
        1, 380, 419, 344, 374, 267, 308, 198, 172, 308, 243, 162, 155, 131, 308, 55, 265, 13,
      ]);
    });

    it("Should round-trip text through encode/decode, BOS first", async () => {
      const tok = await loadTokenizer(dir);
      for (const text of TEXTS) {
        const ids = tok.encode(text);
        expect(ids[0]).to.equal(1);
        expect(ids.every((i) => Number.isInteger(i) && i >= 0 && i < 512)).to.equal(true);
        expect(tok.decode(ids, { skipSpecialTokens: true })).to.equal(text);
      }
      // Hugging Face's decode keeps special tokens unless asked: "<s> Hello" for Llama
      expect(tok.decode(tok.encode("Lily ran."))).to.equal("<s> Lily ran.");
      expect(tok.decode([])).to.equal("");
      // added tokens in the text are matched, as in Hugging Face
      expect(tok.encode("<s>Lily</s>").slice(0, 2)).to.deep.equal([1, 1]);
      expect(tok.encode("<s>Lily</s>").at(-1)).to.equal(2);
    });

    it("Should follow tokenizer_config.json's add_bos_token / add_eos_token over the post-processor", async () => {
      const json = await readJson(path.join(dir, "tokenizer.json"));
      const cfg = await readJson(path.join(dir, "tokenizer_config.json"));
      const text = "Lily ran.";
      const body = hfTokenizer(json, cfg).encode(text).slice(1);
      // the template adds BOS; add_bos_token false removes it, add_eos_token true appends EOS
      expect(hfTokenizer(json, { ...cfg, add_bos_token: false }).encode(text)).to.deep.equal(body);
      expect(hfTokenizer(json, { ...cfg, add_eos_token: true }).encode(text)).to.deep.equal([1, ...body, 2]);
      // no post-processor: add_bos_token true still puts BOS first; without the key the template rules
      const bare = { ...json, post_processor: null };
      expect(hfTokenizer(bare, cfg).encode(text)).to.deep.equal([1, ...body]);
      expect(hfTokenizer(bare, { bos_token: "<s>" }).encode(text)).to.deep.equal(body);
      expect(hfTokenizer(json, {}).encode(text)).to.deep.equal([1, ...body]);
      // BOS typed by the user is text, not the template's: add_bos_token false keeps it
      expect(hfTokenizer(json, { ...cfg, add_bos_token: false }).encode("<s>" + text)).to.deep.equal([
        1,
        ...body,
      ]);
      // serialized AddedToken form of bos_token (older tokenizer_config.json files)
      const old = { ...cfg, bos_token: { __type: "AddedToken", content: "<s>", special: true } };
      expect(hfTokenizer(json, old).bos).to.equal(1);
      // a fixture written without BOS
      const nb = path.join(root, "llama-nobos");
      await writeTinyLlama(nb, {
        layers: 1,
        hidden: 16,
        heads: 2,
        kvHeads: 1,
        vocab: 512,
        tokenizer: { addBos: false },
      });
      expect((await loadTokenizer(nb)).encode(text)).to.deep.equal(body);
    });

    it("Should run the model's forward on tokenized text (text → ids → logits)", async () => {
      const m = await loadBaseModel(dir);
      try {
        const ids = await tokenizeText(m, "Lily and Tom played in the park with a big red ball.");
        expect(ids[0]).to.equal(1);
        const { logits, T } = await m.forward(ids);
        expect(T).to.equal(ids.length);
        expect(logits.length).to.equal(T * 512);
        const { loss, perplexity } = crossEntropy(logits, T, 512, ids);
        expect(Number.isFinite(loss)).to.equal(true);
        expect(perplexity).to.be.greaterThan(1);
        const tok = await loadTokenizer(dir);
        const cont = await greedyContinue(m, ids, 4);
        expect(tok.decode([...ids, ...cont], { skipSpecialTokens: true })).to.match(/^Lily and Tom played/);
      } finally {
        await m.close();
      }
    });
  });

  describe("Llama 3 style (byte-level BPE, BOS as an added token)", () => {
    let dir: string;
    before(async () => {
      dir = path.join(root, "llama3");
      await writeTinyLlama(dir, {
        seed: 82,
        layers: 1,
        hidden: 16,
        heads: 2,
        kvHeads: 1,
        vocab: 512,
        tokenizer: { style: "bytelevel" },
      });
    });

    it("Should encode as the Rust tokenizers do and round-trip", async () => {
      const tok = await loadTokenizer(dir);
      expect(tok.vocabSize).to.equal(512);
      expect([tok.bos, tok.eos]).to.deep.equal([510, 511]);
      const cfg = await readJson(path.join(dir, "config.json"));
      expect([cfg.bos_token_id, cfg.eos_token_id]).to.deep.equal([510, 511]);
      expect(tok.encode("Once upon a time, Lily saw a big red ball.")).to.deep.equal([
        510, 443, 362, 303, 258, 257, 487, 44, 306, 291, 119, 258, 265, 484, 284, 261, 407, 46,
      ]);
      expect(tok.encode("Tom's frog: é 😀 42\n")).to.deep.equal([
        510, 316, 365, 290, 321, 58, 32, 195, 169, 32, 240, 159, 152, 128, 32, 52, 50, 10,
      ]);
      for (const text of TEXTS) {
        const ids = tok.encode(text);
        expect(ids[0]).to.equal(510);
        expect(tok.decode(ids, { skipSpecialTokens: true })).to.equal(text);
      }
      expect(tok.decode(tok.encode("Hi"))).to.equal("<|begin_of_text|>Hi");
      const m = await loadBaseModel(dir);
      try {
        const ids = await tokenizeText(m, "The frogs are sailing!");
        expect((await m.forward(ids)).T).to.equal(ids.length);
      } finally {
        await m.close();
      }
    });

    it("Should use a GPT-2 folder's own tokenizer.json instead of gpt-tokenizer", async () => {
      const g = path.join(root, "gpt2-own");
      await writeTinyGpt2(g, { layers: 1, hidden: 8, heads: 2, vocab: 320, ctx: 32 });
      await writeTinyTokenizer(g, { vocab: 320, style: "bytelevel", addBos: false });
      const tok = await loadTokenizer(g);
      expect(tok.vocabSize).to.equal(320);
      const ids = tok.encode("Lily saw a big red ball.");
      expect(ids).to.not.include(318);
      expect(tok.decode(ids)).to.equal("Lily saw a big red ball.");
    });
  });

  describe("errors", () => {
    it("Should say what to pass instead when a Llama folder has no tokenizer.json", async () => {
      const d = path.join(root, "no-tok");
      await writeTinyLlama(d, { layers: 1, hidden: 16, heads: 2, kvHeads: 1 });
      await expectModelError(
        loadTokenizer(d),
        "MISSING_FILE",
        d,
        "no tokenizer.json",
        "--tokens FILE or --greedy N",
      );
      await expectModelError(
        tokenizeText({ dir: STORIES260K_DIR }, "Once"),
        "MISSING_FILE",
        "no tokenizer.json",
      );
      await writeFile(path.join(d, "tokenizer.model"), "");
      await expectModelError(
        loadTokenizer(d),
        "MISSING_FILE",
        "tokenizer.model",
        "save_pretrained",
        "--greedy N",
      );
    });

    it("Should refuse a tokenizer whose ids exceed config.json's vocab_size and accept a padded model", async () => {
      const d = path.join(root, "mismatch");
      await writeTinyLlama(d, { layers: 1, hidden: 16, heads: 2, kvHeads: 1, vocab: 400 });
      await writeTinyTokenizer(d, { vocab: 512 });
      await expectModelError(
        loadTokenizer(d),
        "BAD_TOKENIZER",
        "ids up to 511",
        "vocab_size 400",
        "tokenizer.json",
      );
      // a model with more embeddings than the tokenizer has ids (padded vocabulary) is fine
      await writeTinyTokenizer(d, { vocab: 384 });
      expect((await loadTokenizer(d)).vocabSize).to.equal(384);
      // GPT-2 without tokenizer.json: gpt-tokenizer needs the 50257 vocabulary
      const g = path.join(root, "gpt2-small-vocab");
      await writeTinyGpt2(g, { layers: 1, hidden: 8, heads: 2, vocab: 97, ctx: 32 });
      await expectModelError(
        loadTokenizer(g),
        "BAD_TOKENIZER",
        "gpt-tokenizer",
        "ids up to 50256",
        "vocab_size 97",
      );
    });

    it("Should use gpt-tokenizer for a GPT-2 folder without tokenizer.json", async () => {
      const g = path.join(root, "gpt2");
      await writeTinyGpt2(g, { layers: 1, hidden: 8, heads: 2, vocab: 50257, ctx: 32 });
      const tok = await loadTokenizer(g);
      expect(tok.vocabSize).to.equal(50257);
      expect(tok.encode("Hello world")).to.deep.equal([15496, 995]);
      expect(tok.decode([15496, 995, 50256], { skipSpecialTokens: true })).to.equal("Hello world");
    });

    it("Should report unreadable, malformed and unsupported tokenizer.json files", async () => {
      const d = path.join(root, "broken");
      await writeTinyLlama(d, { layers: 1, hidden: 16, heads: 2, kvHeads: 1, vocab: 320, tokenizer: true });
      const file = path.join(d, "tokenizer.json");
      const good = await readFile(file, "utf8");
      await writeFile(file, good.slice(0, 100));
      await expectModelError(loadTokenizer(d), "BAD_TOKENIZER", file, "not valid JSON");
      await writeFile(file, "[]");
      await expectModelError(loadTokenizer(d), "BAD_TOKENIZER", "not a JSON object");
      await writeFile(file, "{}");
      await expectModelError(loadTokenizer(d), "BAD_TOKENIZER", 'no "model"');
      await writeFile(file, good);
      await editJson(file, (j) => {
        j.normalizer = { type: "NoSuchNormalizer" };
      });
      await expectModelError(loadTokenizer(d), "UNSUPPORTED", "NoSuchNormalizer", "--tokens FILE");
      await writeFile(file, good);
      await editJson(path.join(d, "tokenizer_config.json"), (j) => {
        j.add_bos_token = false;
      });
      expect((await loadTokenizer(d)).encode("Lily")[0]).to.not.equal(1);
      // a byte-level tokenizer without unk_token drops nothing: every byte has an id
      const b = hfTokenizer(await readJson(path.join(root, "llama3", "tokenizer.json")));
      expect(b.decode(b.encode("\u0000\u0001 \uffff"), { skipSpecialTokens: true })).to.equal(
        "\u0000\u0001 \uffff",
      );
    });
  });
});
