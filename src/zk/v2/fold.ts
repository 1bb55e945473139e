/**
 * Activations and outputs of a deal's module in protocol v2 (PROTOCOL.md, "Challenge, fold and
 * fingerprint"): the row digests hX and hY, the challenge rho, the buyer's fold x and fingerprint
 * fY, the commitment D_X, and the contributor's check of what the buyer posted.
 *
 * Row digest (injective, length-prefixed):
 *   h = keccak256(abi.encodePacked(bytes32 tag, uint256 rows, uint256 cols, int256 v[0][0], …,
 *                                  int256 v[rows-1][cols-1]))
 * with tag bytes32("zklora.v2.X") for X (T x DIN) and bytes32("zklora.v2.Y") for Y (T x DOUT),
 * each entry a 32-byte two's-complement big-endian word, all T rows of the deal's calls to the
 * module in call order. Every entry must satisfy |v| < (p − 1)/2 (the proof is mod p: a larger
 * |Y| could stand for another integer).
 *
 * Fold: σ = rho^DOUT, x = Σ_t σ^t·X[t] (DIN field elements), fY = Σ_{t,j} rho^(t·DOUT+j)·Y[t][j].
 * Then fY = x·A·(B·s) with s_j = rho^j exactly when Y = X·A·B (up to probability T·DOUT/p).
 * D_X = Σ_i x_i·IC[x_i].
 */
import { encodeBytes32String } from "ethers";
import { createKeccak, type IHasher } from "hash-wasm";
import { FieldError, ShapeError, ZkError } from "../errors.js";
import { P, toField } from "../field.js";
import { computeRho, type RhoInputs } from "../statement.js";
import { baseIndex, g1Coords, type G1Point, type ShapeKey } from "./key.js";
import { msmField } from "./msm.js";

export { computeRho, type RhoInputs };

/** Largest |entry| of X or Y: (p − 1)/2 − 1. */
export const MAX_ABS_ENTRY = (P - 1n) / 2n - 1n;

const TAG_X = encodeBytes32String("zklora.v2.X");
const TAG_Y = encodeBytes32String("zklora.v2.Y");

/** The contributor's recomputation disagrees with what the buyer posted. */
export class FoldMismatchError extends ZkError {
  constructor(message: string) {
    super("FOLD_MISMATCH", message);
  }
}

/** Checks a matrix of signed integers (rows >= 1, every row `cols` wide, |v| < (p−1)/2). */
export function checkRows(M: readonly (readonly bigint[])[], cols: number, what: string): void {
  if (!Array.isArray(M) || M.length === 0) throw new ShapeError(`${what} has no rows`);
  for (let t = 0; t < M.length; t++) {
    const row = M[t];
    if (!Array.isArray(row) || row.length !== cols) {
      throw new ShapeError(`${what} row ${t} has ${row?.length} entries, expected ${cols}`);
    }
    for (let j = 0; j < cols; j++) {
      const v = row[j];
      if (typeof v !== "bigint") throw new FieldError(`${what}[${t}][${j}] is not an integer`);
      if (v > MAX_ABS_ENTRY || -v > MAX_ABS_ENTRY) {
        throw new FieldError(`${what}[${t}][${j}] = ${v}: |${what}| must stay below (p-1)/2`);
      }
    }
  }
}

let keccakWasm: Promise<IHasher> | undefined;

/**
 * keccak-256 of hash-wasm (WebAssembly, ~20x ethers' JavaScript keccak on megabytes of rows). One
 * instance, used synchronously between init and digest, so concurrent callers never interleave.
 */
function keccakHasher(): Promise<IHasher> {
  keccakWasm ??= createKeccak(256);
  return keccakWasm;
}

async function rowsDigest(
  tag: string,
  M: readonly (readonly bigint[])[],
  cols: number,
  what: string,
): Promise<string> {
  checkRows(M, cols, what);
  const k = await keccakHasher();
  k.init();
  const head = Buffer.alloc(96);
  Buffer.from(tag.slice(2), "hex").copy(head, 0);
  head.writeBigUInt64BE(BigInt(M.length), 56);
  head.writeBigUInt64BE(BigInt(cols), 88);
  k.update(head);
  const buf = Buffer.alloc(32 * cols);
  const I64_MIN = -(1n << 63n);
  const I64_MAX = (1n << 63n) - 1n;
  for (const row of M) {
    buf.fill(0);
    for (let j = 0; j < cols; j++) {
      const v = row[j];
      const o = 32 * j;
      if (v >= I64_MIN && v <= I64_MAX) {
        // Two's complement: sign-extend the 64-bit big-endian value over the 32-byte word.
        if (v < 0n) buf.fill(0xff, o, o + 24);
        buf.writeBigInt64BE(v, o + 24);
      } else {
        Buffer.from(BigInt.asUintN(256, v).toString(16).padStart(64, "0"), "hex").copy(buf, o);
      }
    }
    k.update(buf);
  }
  return "0x" + k.digest("hex");
}

/** hX over all T rows of X (T x DIN). */
export function activationDigest(X: readonly (readonly bigint[])[], DIN: number): Promise<string> {
  return rowsDigest(TAG_X, X, DIN, "X");
}

/** hY over all T rows of Y (T x DOUT). */
export function outputDigestV2(Y: readonly (readonly bigint[])[], DOUT: number): Promise<string> {
  return rowsDigest(TAG_Y, Y, DOUT, "Y");
}

/** The rho of a module entry (the contract computes the same). */
export function rhoV2(i: Omit<RhoInputs, "hX"> & { hX: string }): bigint {
  return computeRho({ ...i, hX: BigInt(i.hX) });
}

/** x = Σ_t σ^t·X[t] with σ = rho^DOUT (field elements). One reduction per column, not per term. */
export function foldRows(
  X: readonly (readonly bigint[])[],
  rho: bigint,
  DIN: number,
  DOUT: number,
): bigint[] {
  checkRows(X, DIN, "X");
  const r = toField(rho);
  let sigma = 1n;
  for (let j = 0; j < DOUT; j++) sigma = (sigma * r) % P;
  const x = new Array<bigint>(DIN).fill(0n);
  let pw = 1n;
  for (const row of X) {
    for (let i = 0; i < DIN; i++) if (row[i] !== 0n) x[i] += pw * row[i];
    pw = (pw * sigma) % P;
  }
  return x.map(toField);
}

/**
 * fY = Σ_{t,j} rho^(t·DOUT+j)·Y[t][j] mod p, computed as Σ_j rho^j·c_j with the column sums
 * c_j = Σ_t σ^t·Y[t][j] (σ = rho^DOUT), reduced once per column.
 */
export function fingerprintV2(Y: readonly (readonly bigint[])[], rho: bigint, DOUT: number): bigint {
  checkRows(Y, DOUT, "Y");
  const col = foldRows(Y, rho, DOUT, DOUT);
  const r = toField(rho);
  let acc = 0n;
  let pw = 1n;
  for (let j = 0; j < DOUT; j++) {
    acc += pw * col[j];
    pw = (pw * r) % P;
  }
  return acc % P;
}

/** D_X = Σ_i x_i·IC[x_i]. */
export async function foldCommitment(key: ShapeKey, x: readonly bigint[]): Promise<G1Point> {
  const { DIN } = key.shape;
  if (x.length !== DIN) throw new ShapeError(`the fold has ${x.length} entries, the shape DIN = ${DIN}`);
  const s = baseIndex(key.shape, "x");
  return g1Coords(await msmField(key.bases.subarray(s * 64, (s + DIN) * 64), x));
}

/** What the buyer posts for a module entry (with hX, hY) and keeps (x) to check the contributor's proof. */
export interface FoldedEntry {
  hX: string;
  hY: string;
  rho: bigint;
  x: bigint[];
  fY: bigint;
  D_X: G1Point;
}

/** The buyer's side: digests, rho, fold, fingerprint and D_X of all T rows of a module in a deal. */
export async function foldEntry(
  key: ShapeKey,
  X: readonly (readonly bigint[])[],
  Y: readonly (readonly bigint[])[],
  ctx: Omit<RhoInputs, "hX" | "hY">,
): Promise<FoldedEntry> {
  const { DIN, DOUT } = key.shape;
  if (X.length !== Y.length) throw new ShapeError(`X has ${X.length} rows but Y has ${Y.length}`);
  const hX = await activationDigest(X, DIN);
  const hY = await outputDigestV2(Y, DOUT);
  const rho = rhoV2({ ...ctx, hX, hY });
  const x = foldRows(X, rho, DIN, DOUT);
  return { hX, hY, rho, x, fY: fingerprintV2(Y, rho, DOUT), D_X: await foldCommitment(key, x) };
}

/**
 * The contributor's side: recomputes the entry from its own record of the rows and refuses (throws
 * FoldMismatchError naming the first difference) unless hX, hY, fY and D_X equal what was posted.
 * Returns the recomputed entry (its x is what the proof uses).
 */
export async function checkFoldedEntry(
  key: ShapeKey,
  X: readonly (readonly bigint[])[],
  Y: readonly (readonly bigint[])[],
  ctx: Omit<RhoInputs, "hX" | "hY">,
  posted: { hX: string; hY: string; fY: bigint; D_X: G1Point },
): Promise<FoldedEntry> {
  const mine = await foldEntry(key, X, Y, ctx);
  if (mine.hX.toLowerCase() !== posted.hX.toLowerCase())
    throw new FoldMismatchError(`hX posted ${posted.hX}, the recorded rows give ${mine.hX}`);
  if (mine.hY.toLowerCase() !== posted.hY.toLowerCase())
    throw new FoldMismatchError(`hY posted ${posted.hY}, the recorded rows give ${mine.hY}`);
  if (mine.fY !== posted.fY)
    throw new FoldMismatchError(`fY posted ${posted.fY}, the recorded rows give ${mine.fY}`);
  if (mine.D_X[0] !== posted.D_X[0] || mine.D_X[1] !== posted.D_X[1]) {
    throw new FoldMismatchError("D_X posted is not the commitment of the fold of the recorded rows");
  }
  return mine;
}
