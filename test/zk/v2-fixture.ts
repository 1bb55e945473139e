/**
 * Shared fixture of the protocol-v2 tests: the tiny shape's key (compiled and set up once, cached by
 * content), a deal key made by a real phase-2 contribution, a random module opening, rows the
 * buyer evaluated, and the buyer's folded entry — all computed with the project's own code.
 */
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  buildShapeKey,
  commitWeights,
  contributeDelta,
  deltaOf,
  foldEntry,
  randomFieldElement,
  type FoldedEntry,
  type G1Point,
  type G2Point,
  type ModuleOpening,
  type PokContext,
  type ShapeKey,
  type V2Shape,
  type WeightPok,
} from "../../src/zk/v2/index.js";
import { loraProduct } from "../../src/zk/index.js";
import { randomMatrix, rng } from "./helpers.js";

/** The tiny v2 test shape: DIN 8, R 2, DOUT 6 (N = 28). */
export const TINY_V2: V2Shape = { DIN: 8, R: 2, DOUT: 6 };
/** Another shape with the same N (= 28) and the same number of public inputs, other bases. */
export const TWIN_V2: V2Shape = { DIN: 6, R: 2, DOUT: 8 };

export const CTX: PokContext = {
  chainId: 31337n,
  escrow: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  contributor: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
  module: 0,
};
export const RHO_CTX = { chainId: 31337n, escrow: CTX.escrow, dealId: 1n, module: 0n };

/** A random opening with signed weights |A|, |B| < 2^15. */
export function randomOpening(shape: V2Shape, seed: number): ModuleOpening {
  const r = rng(seed);
  return {
    A: randomMatrix(r, shape.DIN, shape.R, 2 ** 15),
    B: randomMatrix(r, shape.R, shape.DOUT, 2 ** 15),
    salt: randomFieldElement(),
  };
}

/** T random activation rows (|X| < 2^20). */
export function randomRows(DIN: number, T: number, seed: number): bigint[][] {
  return randomMatrix(rng(seed), T, DIN, 2 ** 20);
}

export interface V2Fixture {
  key: ShapeKey;
  dealZkey: string;
  delta2: G2Point;
  opening: ModuleOpening;
  W: G1Point;
  pok: WeightPok;
  X: bigint[][];
  Y: bigint[][];
  entry: FoldedEntry;
}

let fixture: Promise<V2Fixture> | undefined;

/** The memoized fixture (one key build and one contribution per test process). */
export function v2Fixture(): Promise<V2Fixture> {
  fixture ??= (async () => {
    const key = await buildShapeKey(TINY_V2);
    const dir = await mkdtemp(path.join(os.tmpdir(), "zklora-v2-"));
    const dealZkey = path.join(dir, "deal.zkey");
    await contributeDelta(key.zkey, dealZkey);
    const opening = randomOpening(TINY_V2, 7);
    const { W, pok } = await commitWeights(key, opening, CTX);
    const X = randomRows(TINY_V2.DIN, 3, 11);
    const Y = loraProduct(X, opening.A as bigint[][], opening.B as bigint[][]);
    const entry = await foldEntry(key, X, Y, RHO_CTX);
    return { key, dealZkey, delta2: (await deltaOf(dealZkey)).delta2, opening, W, pok, X, Y, entry };
  })();
  return fixture;
}
