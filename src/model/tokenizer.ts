/** GPT-2's byte-level BPE tokenizer (vocabulary 50257), from gpt-tokenizer. */
import { decode, encode, vocabularySize } from "gpt-tokenizer/encoding/gpt2";

export interface Tokenizer {
  vocabSize: number;
  /** Encodes text; special-token markup such as "<|endoftext|>" is encoded as plain text. */
  encode(text: string): number[];
  decode(ids: number[]): string;
}

/** The GPT-2 tokenizer; `eos` (50256, "<|endoftext|>") is the only special token. */
export function gpt2Tokenizer(): Tokenizer & { eos: number } {
  return {
    vocabSize: vocabularySize,
    eos: 50256,
    encode: (text) => encode(text, { disallowedSpecial: new Set() }),
    decode: (ids) => decode(ids),
  };
}
