/** Shared helpers of the zk tests: a reproducible PRNG, random integer matrices, rejections. */

/** A deterministic PRNG (xorshift64*) so failures reproduce. */
export function rng(seed: number): (lo: number, hi: number) => bigint {
  let s = BigInt(seed) * 0x9e3779b97f4a7c15n + 1n;
  const M = (1n << 64n) - 1n;
  return (lo, hi) => {
    s ^= s >> 12n;
    s ^= (s << 25n) & M;
    s ^= s >> 27n;
    const r = (s * 0x2545f4914f6cdd1dn) & M;
    return BigInt(lo) + (r % BigInt(hi - lo + 1));
  };
}

/** A rows x cols matrix of integers in [-bound, bound] drawn from `r`. */
export function randomMatrix(
  r: ReturnType<typeof rng>,
  rows: number,
  cols: number,
  bound: number,
): bigint[][] {
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => r(-bound, bound)));
}

/** The error `p` rejects with (fails the test when `p` resolves). */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a rejection");
}
