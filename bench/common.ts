/** Shared benchmark helpers. */
import type { ContractTransactionResponse } from "ethers";
import { randomSalt, type ModuleWitness, type Shape } from "../src/zk/index.js";

/**
 * Benchmark inputs: a module witness of any shape with small pseudo-random integer weights and
 * activations in [-1000, 1000] (a 64-bit LCG from `seed`, so runs are comparable), fresh salt and rho.
 */
export function benchWitness(shape: Pick<Shape, "T" | "DIN" | "R" | "DOUT">, seed = 12345n): ModuleWitness {
  let s = seed;
  const r = () => {
    s = (s * 6364136223846793005n + 1442695040888963407n) % 2n ** 64n;
    return ((s >> 20n) % 2001n) - 1000n;
  };
  const mat = (a: number, b: number) => Array.from({ length: a }, () => Array.from({ length: b }, r));
  return {
    A: mat(shape.DIN, shape.R),
    B: mat(shape.R, shape.DOUT),
    X: mat(shape.T, shape.DIN),
    salt: randomSalt(),
    rho: randomSalt(),
  };
}

/** A rows x cols matrix of integers in [-range, range] from a 32-bit LCG seeded with `seed`. */
export function matrix(rows: number, cols: number, seed: number, range: number): bigint[][] {
  let s = seed >>> 0 || 1;
  const next = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return BigInt((s >>> 8) % (2 * range + 1)) - BigInt(range);
  };
  return Array.from({ length: rows }, () => Array.from({ length: cols }, next));
}

/** The gas a transaction used; throws when it failed. */
export async function gasOf(tx: Promise<ContractTransactionResponse>): Promise<bigint> {
  const receipt = await (await tx).wait();
  if (receipt === null || receipt.status !== 1) throw new Error("transaction failed");
  return receipt.gasUsed;
}
