/**
 * Keys anyone can forge never reach a public chain. The development ptau (src/zk/devptau.ts) and
 * the development phase 2 are public strings: with α·β (and δ) anyone proves anything. They serve
 * local chains only; deploying them, or funding a deal on them, elsewhere needs an explicit flag.
 */
import { UsageError } from "./errors.js";

/** Chain ids of local development chains (Hardhat's embedded network and `hardhat node`; 1337). */
export const LOCAL_CHAIN_IDS: ReadonlySet<bigint> = new Set([31337n, 1337n]);

/** The flag that allows forgeable keys on another chain (named loudly on purpose). */
export const FORGEABLE_FLAG = "--forgeable-keys";

/** Whether a chain id is a local development chain. */
export function isLocalChain(chainId: bigint): boolean {
  return LOCAL_CHAIN_IDS.has(chainId);
}

/** Names of the shapes (deployment record or manifest shapes) whose keys come from the development ptau. */
export function forgeableShapes(shapes: readonly { name: string; ptau: string }[]): string[] {
  return [...new Set(shapes.filter((s) => s.ptau === "dev").map((s) => s.name))];
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
      "come from the FORGEABLE development ptau, so anyone can forge proofs for them; use keys from a " +
      `public ceremony file (--ptau powersOfTau28_hez_final_NN.ptau), or pass ${FORGEABLE_FLAG} for a throwaway test`,
  );
}
