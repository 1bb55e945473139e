/**
 * Proof-job fixture of the tests of src/mpi/jobs*.ts: the tiny v2 shape's key, a deal key made by a
 * real contribution in a keys folder, one opening, and per module fresh rows folded by the buyer's
 * code into a real job payload (every job is a real proof); `until` (polling) and `resultVerifies`.
 */
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { verifyClaimOffchain } from "../../src/app/v2.js";
import { keccakFile, proofJobId, type ProofJobPayload, type ProofJobResult } from "../../src/mpi/jobs.js";
import { loraProduct } from "../../src/zk/index.js";
import {
  buildShapeKey,
  commitWeights,
  contributeDelta,
  deltaOf,
  foldEntry,
  type G1Point,
  type G2Point,
  type ModuleOpening,
  type ShapeKey,
} from "../../src/zk/v2/index.js";
import { CTX, TINY_V2, randomOpening, randomRows } from "../zk/v2-fixture.js";

export const ESCROW = CTX.escrow;
export const DEAL_KEY_FILE = "deal-tiny.zkey";

export interface JobsFixture {
  key: ShapeKey;
  /** The folder holding the deal key (`DEAL_KEY_FILE`), what a worker gets as --keys. */
  keysDir: string;
  dealZkey: string;
  keccak: string;
  delta2: G2Point;
  opening: ModuleOpening;
  W: G1Point;
}

let fixture: Promise<JobsFixture> | undefined;

/** The memoized fixture (one key build and one contribution per test process). */
export function jobsFixture(): Promise<JobsFixture> {
  fixture ??= (async () => {
    const key = await buildShapeKey(TINY_V2);
    const keysDir = await mkdtemp(path.join(os.tmpdir(), "zklora-jobs-keys-"));
    const dealZkey = path.join(keysDir, DEAL_KEY_FILE);
    await contributeDelta(key.zkey, dealZkey);
    const opening = randomOpening(TINY_V2, 7);
    const { W } = await commitWeights(key, opening, CTX);
    return {
      key,
      keysDir,
      dealZkey,
      keccak: await keccakFile(dealZkey),
      delta2: (await deltaOf(dealZkey)).delta2,
      opening,
      W,
    };
  })();
  return fixture;
}

/** The job of module `m` of deal `dealId`: 2 fresh rows, folded as the buyer does. */
export async function jobPayload(f: JobsFixture, m: number, dealId = 1n): Promise<ProofJobPayload> {
  const X = randomRows(TINY_V2.DIN, 2, 100 + m);
  const Y = loraProduct(X, f.opening.A as bigint[][], f.opening.B as bigint[][]);
  const e = await foldEntry(f.key, X, Y, {
    chainId: CTX.chainId,
    escrow: ESCROW,
    dealId,
    module: BigInt(m),
  });
  const s = (x: bigint) => x.toString();
  return {
    id: proofJobId({ chainId: CTX.chainId, escrow: ESCROW, dealId, module: m }),
    chainId: s(CTX.chainId),
    escrow: ESCROW,
    dealId: s(dealId),
    module: m,
    shape: { name: f.key.name, ...TINY_V2, ptau: "dev" },
    shapeId: f.key.shapeId,
    keyHash: f.key.keyHash,
    dealKey: { file: DEAL_KEY_FILE, keccak: f.keccak },
    wM: [s(f.W[0]), s(f.W[1])],
    fold: { rho: s(e.rho), fY: s(e.fY), x: e.x.map(s), dX: [s(e.D_X[0]), s(e.D_X[1])] },
    opening: {
      A: f.opening.A.map((r) => r.map(s)),
      B: f.opening.B.map((r) => r.map(s)),
      salt: s(f.opening.salt),
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 20 ms until it holds (or fails the test after `ms`). */
export async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) expect.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Whether a job's result is a proof of its payload's statement that verifies under the deal's δ'. */
export async function resultVerifies(
  f: JobsFixture,
  p: ProofJobPayload,
  r: ProofJobResult,
): Promise<boolean> {
  const b = (x: string) => BigInt(x);
  if (r.claim.rho !== p.fold.rho || r.claim.fY !== p.fold.fY || r.claim.module !== p.module) return false;
  return verifyClaimOffchain(
    f.key,
    f.delta2,
    {
      rho: b(r.claim.rho),
      fY: b(r.claim.fY),
      dX: [b(p.fold.dX[0]), b(p.fold.dX[1])],
      wM: [b(p.wM[0]), b(p.wM[1])],
    },
    {
      a: [b(r.proof.a[0]), b(r.proof.a[1])],
      b: [b(r.proof.b[0]), b(r.proof.b[1]), b(r.proof.b[2]), b(r.proof.b[3])],
      c: [b(r.proof.c[0]), b(r.proof.c[1])],
    },
  );
}
