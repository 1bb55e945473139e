/** Shared helpers of the zk tests: random witnesses and expectPass / expectFail on the circuit. */
import { expect } from "chai";
import {
  WitnessError,
  calculateWitness,
  checkWitness,
  circuitInput,
  moduleStatement,
  randomSalt,
  type ModuleWitness,
  type PublicSignals,
  type Shape,
} from "../../src/zk/index.js";

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

/** A random witness of a shape with signed entries (|A|,|B| < 2^15, |X| < 2^20). */
export function randomWitness(shape: Shape, seed: number): ModuleWitness {
  const r = rng(seed);
  const mat = (rows: number, cols: number, bound: number) => randomMatrix(r, rows, cols, bound);
  return {
    A: mat(shape.DIN, shape.R, 2 ** 15),
    B: mat(shape.R, shape.DOUT, 2 ** 15),
    X: mat(shape.T, shape.DIN, 2 ** 20),
    salt: randomSalt(),
    rho: randomSalt(),
  };
}

/** A deep copy of a witness. */
export function cloneWitness(w: ModuleWitness): ModuleWitness {
  return {
    A: w.A.map((r) => [...r]),
    B: w.B.map((r) => [...r]),
    X: w.X.map((r) => [...r]),
    salt: w.salt,
    rho: w.rho,
  };
}

type Art = { wasm: string; r1cs: string };

/** Expects the circuit to accept (witness computes and satisfies the r1cs). Returns the witness. */
export async function expectPass(art: Art, w: ModuleWitness, pub?: PublicSignals): Promise<Uint8Array> {
  const p = pub ?? (await moduleStatement(w));
  const wtns = await calculateWitness(art, circuitInput(w, p));
  expect(await checkWitness(art, wtns)).to.equal(true);
  return wtns;
}

/** Expects the circuit to reject private inputs `w` against claimed public signals `pub`. */
export async function expectFail(art: Art, w: ModuleWitness, pub: PublicSignals): Promise<void> {
  let err: unknown;
  try {
    await calculateWitness(art, circuitInput(w, pub));
  } catch (e) {
    err = e;
  }
  expect(err, "the circuit accepted a false statement").to.be.instanceOf(WitnessError);
}

/** Sets wire `index` of a wtns file (bytes) to `value` (little-endian, standard form). */
export function setWire(wtns: Uint8Array, index: number, value: bigint): Uint8Array {
  const out = new Uint8Array(wtns);
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const nSections = dv.getUint32(8, true);
  let pos = 12;
  let n8 = 32;
  for (let s = 0; s < nSections; s++) {
    const type = dv.getUint32(pos, true);
    const size = Number(dv.getBigUint64(pos + 4, true));
    pos += 12;
    if (type === 1) n8 = dv.getUint32(pos, true);
    if (type === 2) {
      let v = value;
      for (let b = 0; b < n8; b++) {
        out[pos + index * n8 + b] = Number(v & 0xffn);
        v >>= 8n;
      }
      return out;
    }
    pos += size;
  }
  throw new Error("wtns has no witness section");
}

/** The error a promise rejects with, or undefined when it resolves. */
export async function rejects(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  return undefined;
}
