/**
 * Transcripts of multi-party inference, as JSON files.
 *
 * - The contributor's server transcript keeps every answered call in full (X, Y and the hashes),
 *   so that the contributor can prove any entry later and restore row budgets and used nonces
 *   after a restart.
 * - The buyer's transcript keeps what the fund step registers on-chain per call:
 *   `(module, hX, hY, fY)` plus rho, rows and the contributor's signature.
 *
 * Writes are serialized and atomic (temporary file + rename).
 */
import { readJsonFile, writeJsonAtomic, dealToJson, dealFromJson } from "./types.js";
import type { DealContext, DealContextJson } from "./types.js";
import { FileFormatError } from "./errors.js";

/** One answered call, as the contributor's server records it. */
export interface ServerTranscriptEntry {
  chainId: string;
  escrow: string;
  dealId: string;
  module: number;
  target: string;
  shape: string;
  rows: number;
  nonce: string;
  /** Address that signed the request. */
  buyer: string;
  requestSignature: string;
  responseSignature: string;
  hX: string;
  hY: string;
  fY: string;
  rho: string;
  X: string[][];
  Y: string[][];
  /** ISO time the call was answered. */
  time: string;
}

export interface ServerTranscript {
  version: 1;
  contributor: string;
  entries: ServerTranscriptEntry[];
}

/** One call as the buyer records it (what the fund step registers). */
export interface BuyerTranscriptEntry {
  module: number;
  target: string;
  rows: number;
  nonce: string;
  hX: string;
  hY: string;
  fY: string;
  rho: string;
  contributorSignature: string;
}

export interface BuyerTranscript {
  version: 1;
  deal: DealContextJson;
  entries: BuyerTranscriptEntry[];
}

/** Serializes writes of one JSON file: at most one write runs, the last state always lands. */
export class JsonFileWriter {
  private running: Promise<void> | null = null;
  private dirty = false;

  constructor(
    readonly file: string,
    private readonly snapshot: () => unknown,
  ) {}

  /** Schedules a write of the current state; resolves once a write that includes it is done. */
  write(): Promise<void> {
    this.dirty = true;
    if (this.running === null) {
      this.running = this.loop().finally(() => {
        this.running = null;
      });
    }
    return this.running;
  }

  private async loop(): Promise<void> {
    while (this.dirty) {
      this.dirty = false;
      await writeJsonAtomic(this.file, this.snapshot());
    }
  }

  /** Waits for pending writes. */
  async flush(): Promise<void> {
    while (this.running !== null) await this.running;
  }
}

/** Reads a server transcript file. */
export async function loadServerTranscript(file: string): Promise<ServerTranscript> {
  const raw = (await readJsonFile(file)) as ServerTranscript;
  if (raw?.version !== 1 || !Array.isArray(raw.entries)) {
    throw new FileFormatError(`${file}: not a server transcript (version 1 with entries[])`);
  }
  return raw;
}

/** Reads a buyer transcript file; returns the deal context and the entries. */
export async function loadBuyerTranscript(
  file: string,
): Promise<{ deal: DealContext; entries: BuyerTranscriptEntry[] }> {
  const raw = (await readJsonFile(file)) as BuyerTranscript;
  if (raw?.version !== 1 || !Array.isArray(raw.entries)) {
    throw new FileFormatError(`${file}: not a buyer transcript (version 1 with deal and entries[])`);
  }
  return { deal: dealFromJson(raw.deal), entries: raw.entries };
}

/** The JSON form of a buyer transcript. */
export function buyerTranscriptJson(deal: DealContext, entries: BuyerTranscriptEntry[]): BuyerTranscript {
  return { version: 1, deal: dealToJson(deal), entries };
}
