/**
 * Call data of a chunked module proof (`ChunkedModuleVerifier.verifyChunked`, `LoraEscrow.submitChunked`):
 * the chain of chunk proofs a prover made (src/zk `proveChunkedModule`) reduced to what the contract
 * cannot derive from the chain itself. Pure: ethers types only, bundles for a browser.
 */
import type { BigNumberish } from "ethers";
import type { SolidityProofArgs } from "./client.js";

/** The number of public signals of an A chunk proof: `[hA, hX, rho, Lin, Lout]`. */
export const CHUNK_A_SIGNAL_COUNT = 5;
/** The number of public signals of a B chunk proof: `[hB, rho, Lin, Lout, fIn, fOut]`. */
export const CHUNK_B_SIGNAL_COUNT = 6;

/** A Groth16 proof in the Solidity verifier's argument order (pi_b pairs swapped). */
export type ChunkSolidityProof = SolidityProofArgs;

/** One chunk proof as the prover made it, with its public signals in circuit order. */
export interface ChunkProofInput {
  kind: "A" | "B";
  /** The chunk's index among the chunks of its kind. */
  index: number;
  proof: ChunkSolidityProof;
  publicSignals: readonly BigNumberish[];
}

type Point = [bigint, bigint];
type G2 = [[bigint, bigint], [bigint, bigint]];

/** `IChunkedModuleVerifier.ChunkA`. */
export interface ChunkAArgs {
  a: Point;
  b: G2;
  c: Point;
  hA: bigint;
  hX: bigint;
  lout: bigint;
}

/** `IChunkedModuleVerifier.ChunkB`. */
export interface ChunkBArgs {
  a: Point;
  b: G2;
  c: Point;
  hB: bigint;
  lout: bigint;
  fOut: bigint;
}

/** A chunk list that cannot be a chain (wrong kinds, order or signal counts). */
export class ChunkCalldataError extends Error {
  override name = "ChunkCalldataError";
}

/** A proof's points as the contracts' argument types (bigints). */
export function proofArgs(p: SolidityProofArgs): { a: Point; b: G2; c: Point } {
  const n = (v: BigNumberish) => BigInt(v);
  return {
    a: [n(p.a[0]), n(p.a[1])],
    b: [
      [n(p.b[0][0]), n(p.b[0][1])],
      [n(p.b[1][0]), n(p.b[1][1])],
    ],
    c: [n(p.c[0]), n(p.c[1])],
  };
}

/**
 * Splits a chain (A chunks 0..KA-1, then B chunks 0..KB-1, as `proveChunkedModule` returns it) into the
 * two argument arrays of `verifyChunked` / `submitChunked`. Throws ChunkCalldataError when the list is
 * not in that order or a proof has the wrong number of public signals; the links, hashes and partial
 * fingerprints themselves are the contract's to check.
 */
export function chunkCalldata(chunks: readonly ChunkProofInput[]): {
  chunksA: ChunkAArgs[];
  chunksB: ChunkBArgs[];
} {
  const chunksA: ChunkAArgs[] = [];
  const chunksB: ChunkBArgs[] = [];
  for (const [i, ch] of chunks.entries()) {
    const s = ch.publicSignals.map((v) => BigInt(v));
    if (ch.kind === "A") {
      if (chunksB.length > 0) throw new ChunkCalldataError(`chunk ${i} is an A chunk after a B chunk`);
      if (ch.index !== chunksA.length)
        throw new ChunkCalldataError(`chunk ${i} is A${ch.index}, expected A${chunksA.length}`);
      if (s.length !== CHUNK_A_SIGNAL_COUNT)
        throw new ChunkCalldataError(
          `A chunk ${ch.index} has ${s.length} public signals, not ${CHUNK_A_SIGNAL_COUNT}`,
        );
      chunksA.push({ ...proofArgs(ch.proof), hA: s[0], hX: s[1], lout: s[4] });
    } else if (ch.kind === "B") {
      if (ch.index !== chunksB.length)
        throw new ChunkCalldataError(`chunk ${i} is B${ch.index}, expected B${chunksB.length}`);
      if (s.length !== CHUNK_B_SIGNAL_COUNT)
        throw new ChunkCalldataError(
          `B chunk ${ch.index} has ${s.length} public signals, not ${CHUNK_B_SIGNAL_COUNT}`,
        );
      chunksB.push({ ...proofArgs(ch.proof), hB: s[0], lout: s[3], fOut: s[5] });
    } else {
      throw new ChunkCalldataError(
        `chunk ${i} has kind ${String((ch as { kind: unknown }).kind)}, not A or B`,
      );
    }
  }
  if (chunksA.length === 0 || chunksB.length === 0)
    throw new ChunkCalldataError(
      `a chain needs A and B chunks, got ${chunksA.length} A and ${chunksB.length} B`,
    );
  return { chunksA, chunksB };
}
