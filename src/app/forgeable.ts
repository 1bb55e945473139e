/**
 * Keys anyone can forge never reach a public chain. The development ptau (src/zk/devptau.ts) and
 * the development phase 2 are public strings: with α·β (and δ) anyone proves anything. They serve
 * local chains only; deploying them, or funding a deal on them, elsewhere needs an explicit flag.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { PROJECT_ROOT } from "../common/cache.js";
import { UsageError } from "./errors.js";

/** Chain ids of local development chains (Hardhat's embedded network and `hardhat node`; 1337). */
export const LOCAL_CHAIN_IDS: ReadonlySet<bigint> = new Set([31337n, 1337n]);

/** The flag that allows forgeable keys on another chain (named loudly on purpose). */
export const FORGEABLE_FLAG = "--forgeable-keys";

/** Whether a chain id is a local development chain. */
export function isLocalChain(chainId: bigint): boolean {
  return LOCAL_CHAIN_IDS.has(chainId);
}

/**
 * Names of the committed shapes (circuits/*manifest.json) whose keys anyone can forge: a
 * development ptau or a development ceremony.
 */
export async function forgeableShapes(circuitsDir = path.join(PROJECT_ROOT, "circuits")): Promise<string[]> {
  const out: string[] = [];
  for (const f of ["manifest.json", "chunk-manifest.json", "delivery-manifest.json"]) {
    let m: { shapes?: { name: string; ptau?: { source?: string }; ceremony?: { mode?: string } }[] };
    try {
      m = JSON.parse(await readFile(path.join(circuitsDir, f), "utf8")) as typeof m;
    } catch {
      continue;
    }
    for (const s of m.shapes ?? []) {
      if (s.ptau?.source !== "public" || s.ceremony?.mode !== "production") out.push(s.name);
    }
  }
  return out;
}

/**
 * Throws a UsageError when forgeable keys would go to a chain that is not local and the caller did
 * not pass {@link FORGEABLE_FLAG}.
 */
export function refuseForgeableKeys(opts: {
  chainId: bigint;
  network: string;
  forgeable: readonly string[];
  allow: boolean;
  action: string;
}): void {
  if (opts.forgeable.length === 0 || opts.allow || isLocalChain(opts.chainId)) return;
  throw new UsageError(
    `refusing to ${opts.action} on ${opts.network} (chain ${opts.chainId}): the keys of ${opts.forgeable.join(", ")} ` +
      "come from the FORGEABLE development ptau or ceremony, so anyone can forge proofs for them; use keys from a " +
      `public ceremony file (--ptau powersOfTau28_hez_final_NN.ptau), or pass ${FORGEABLE_FLAG} for a throwaway test`,
  );
}
