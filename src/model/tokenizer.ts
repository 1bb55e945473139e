/**
 * Text ↔ token ids for a base model folder.
 *
 * - A folder with a Hugging Face `tokenizer.json` (+ optional `tokenizer_config.json`) is tokenized by
 *   `@huggingface/tokenizers` (pure JavaScript, no network): Llama 1/2 SentencePiece-style BPE,
 *   Llama 3 / Qwen2 / GPT-2 byte-level BPE, Unigram and WordPiece models.
 * - A GPT-2 folder without it uses GPT-2's byte-level BPE from gpt-tokenizer (vocabulary 50257).
 * - Anything else is a ModelError MISSING_FILE that says to pass token ids instead.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { decode, encode, vocabularySize } from "gpt-tokenizer/encoding/gpt2";
import { loadConfig } from "./config.js";
import { ModelError } from "./errors.js";

export interface DecodeOptions {
  /** drop special tokens (BOS, EOS, padding, …) before decoding; default false */
  skipSpecialTokens?: boolean;
}

export interface Tokenizer {
  /** ids are in [0, vocabSize): the largest id the tokenizer can produce, plus one */
  vocabSize: number;
  /** begin-of-sequence id, where the tokenizer has one (whether `encode` adds it is the tokenizer's rule) */
  bos?: number;
  /** end-of-sequence id, where the tokenizer has one */
  eos?: number;
  /**
   * Encodes text with the tokenizer's own special tokens (Llama: BOS first). gpt-tokenizer (GPT-2
   * without tokenizer.json) encodes special-token markup such as "<|endoftext|>" as plain text;
   * a tokenizer.json tokenizer matches its added tokens in the text, as Hugging Face does.
   */
  encode(text: string): number[];
  decode(ids: number[], opts?: DecodeOptions): string;
}

/** The GPT-2 tokenizer; `eos` (50256, "<|endoftext|>", also GPT-2's BOS) is the only special token and never added. */
export function gpt2Tokenizer(): Tokenizer & { eos: number } {
  const eos = 50256;
  return {
    vocabSize: vocabularySize,
    bos: eos,
    eos,
    encode: (text) => encode(text, { disallowedSpecial: new Set() }),
    decode: (ids, opts) => decode(opts?.skipSpecialTokens ? ids.filter((i) => i !== eos) : ids),
  };
}

export const TOKENIZER_JSON = "tokenizer.json";
export const TOKENIZER_CONFIG_JSON = "tokenizer_config.json";

type Json = Record<string, unknown>;

async function readJson(file: string): Promise<Json> {
  let v: unknown;
  try {
    v = JSON.parse(await readFile(file, "utf8"));
  } catch (e) {
    throw new ModelError(
      "BAD_TOKENIZER",
      `${file} is not valid JSON (${(e as Error).message}); fix or replace it`,
    );
  }
  if (v === null || typeof v !== "object" || Array.isArray(v))
    throw new ModelError("BAD_TOKENIZER", `${file} is not a JSON object; fix or replace it`);
  return v as Json;
}

/** A special token of tokenizer_config.json: a string or a serialized AddedToken ({ content }). */
function tokenContent(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (v !== null && typeof v === "object" && typeof (v as Json).content === "string")
    return (v as Json).content as string;
  return undefined;
}

/**
 * Wraps a parsed tokenizer.json (+ tokenizer_config.json). BOS/EOS are added by the tokenizer.json
 * post-processor (TemplateProcessing), as the library and Hugging Face's Rust tokenizers do; an explicit
 * boolean `add_bos_token` / `add_eos_token` in tokenizer_config.json overrides it, as transformers'
 * LlamaTokenizerFast does when it rebuilds the post-processor from them.
 */
export function hfTokenizer(
  tokenizerJson: Json,
  tokenizerConfig: Json = {},
  source = TOKENIZER_JSON,
): Tokenizer {
  const model = tokenizerJson.model as Json | undefined;
  if (model === undefined || model === null || typeof model !== "object")
    throw new ModelError(
      "BAD_TOKENIZER",
      `${source} has no "model" object; it is not a Hugging Face tokenizer.json`,
    );
  let tok: HfTokenizer;
  try {
    // The library expects every top-level component key; older files omit some.
    const full = {
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: null,
      added_tokens: [],
      ...tokenizerJson,
    };
    tok = new HfTokenizer(full, tokenizerConfig);
  } catch (e) {
    throw new ModelError(
      "UNSUPPORTED",
      `${source} uses a component @huggingface/tokenizers cannot build (${(e as Error).message}); pass token ids with --tokens FILE instead`,
    );
  }
  let maxId = -1;
  for (const id of tok.get_vocab(true).values()) if (id > maxId) maxId = id;
  const idOf = (key: string): number | undefined => {
    const content = tokenContent(tokenizerConfig[key]);
    return content === undefined ? undefined : tok.token_to_id(content);
  };
  const bos = idOf("bos_token");
  const eos = idOf("eos_token");
  const addBos = tokenizerConfig.add_bos_token;
  const addEos = tokenizerConfig.add_eos_token;
  return {
    vocabSize: maxId + 1,
    bos,
    eos,
    encode(text: string): number[] {
      let ids: (number | undefined)[];
      try {
        ids = tok.encode(text).ids as (number | undefined)[];
      } catch (e) {
        throw new ModelError(
          "BAD_TOKENIZER",
          `${source} failed to encode the text (${(e as Error).message})`,
        );
      }
      const bad = ids.findIndex((i) => typeof i !== "number");
      if (bad >= 0)
        throw new ModelError(
          "BAD_TOKEN",
          `${source} maps a piece of the text (token ${bad}) to no id and has no unk_token; remove the characters it cannot encode`,
        );
      const out = ids as number[];
      if (
        (bos !== undefined && typeof addBos === "boolean") ||
        (eos !== undefined && typeof addEos === "boolean")
      ) {
        // Which special tokens did the post-processor put around the text's own ids?
        const plain = tok.encode(text, { add_special_tokens: false }).ids;
        const same = (from: number) => plain.every((id: number, i: number) => out[from + i] === id);
        const n = plain.length;
        const templateBos = bos !== undefined && out.length > n && out[0] === bos && same(1);
        const templateEos =
          eos !== undefined && out.length > n && out.at(-1) === eos && same(out.length - 1 - n);
        if (typeof addEos === "boolean" && eos !== undefined) {
          if (addEos && !templateEos) out.push(eos);
          else if (!addEos && templateEos) out.pop();
        }
        if (typeof addBos === "boolean" && bos !== undefined) {
          if (addBos && !templateBos) out.unshift(bos);
          else if (!addBos && templateBos) out.shift();
        }
      }
      return out;
    },
    decode(ids: number[], opts?: DecodeOptions): string {
      if (ids.length === 0) return "";
      return tok.decode(ids, { skip_special_tokens: opts?.skipSpecialTokens ?? false });
    },
  };
}

/**
 * The tokenizer of the base model folder `dir`: its tokenizer.json (with tokenizer_config.json when
 * present) or, for a GPT-2 folder without one, gpt-tokenizer's GPT-2 BPE. The tokenizer's ids must fit
 * config.json's vocab_size (it may be larger: padded embeddings). Errors are ModelError: MISSING_FILE
 * (no tokenizer for a non-GPT-2 model), BAD_TOKENIZER (unreadable file, vocabulary larger than the
 * model's), UNSUPPORTED (a tokenizer.json component the library does not implement).
 */
export async function loadTokenizer(dir: string): Promise<Tokenizer> {
  const config = await loadConfig(dir);
  const file = path.join(dir, TOKENIZER_JSON);
  let tok: Tokenizer;
  if (existsSync(file)) {
    const cfgFile = path.join(dir, TOKENIZER_CONFIG_JSON);
    const cfg = existsSync(cfgFile) ? await readJson(cfgFile) : {};
    tok = hfTokenizer(await readJson(file), cfg, file);
  } else if (config.family === "gpt2") {
    tok = gpt2Tokenizer();
  } else {
    const spm = existsSync(path.join(dir, "tokenizer.model"))
      ? "; its tokenizer.model (SentencePiece/tiktoken) is not read here, transformers' AutoTokenizer.from_pretrained(dir).save_pretrained(dir) writes a tokenizer.json"
      : "";
    throw new ModelError(
      "MISSING_FILE",
      `${dir} has no ${TOKENIZER_JSON} (text input for ${config.family}-family models needs the Hugging Face tokenizer.json${spm}): pass --tokens FILE or --greedy N`,
    );
  }
  if (tok.vocabSize > config.vocab) {
    const what = existsSync(file) ? file : "GPT-2's tokenizer (gpt-tokenizer)";
    throw new ModelError(
      "BAD_TOKENIZER",
      `${what} has ids up to ${tok.vocabSize - 1} but ${path.join(dir, "config.json")} has vocab_size ${config.vocab}: the tokenizer does not belong to this model; add the model's own ${TOKENIZER_JSON} or pass --tokens FILE`,
    );
  }
  return tok;
}

/** Encodes `text` with the tokenizer of `model`'s folder (see loadTokenizer): the buyer's `--text`. */
export async function tokenizeText(model: { dir: string }, text: string): Promise<number[]> {
  return (await loadTokenizer(model.dir)).encode(text);
}
