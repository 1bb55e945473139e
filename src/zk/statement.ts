/**
 * The exact integer LoRA product, the output digest hY, the challenge rho and the output
 * fingerprint fY (ARCHITECTURE.md, "Output digest", "Challenge", "Fingerprint").
 */
import { AbiCoder, getAddress, keccak256, toBeHex, concat } from "ethers";
import { FieldError, ShapeError } from "./errors.js";
import { P, toField } from "./field.js";

function dims(M: readonly (readonly bigint[])[], what: string): [number, number] {
  const rows = M.length;
  if (rows === 0) throw new ShapeError(`${what} has no rows`);
  const cols = M[0].length;
  for (let r = 0; r < rows; r++) {
    if (M[r].length !== cols)
      throw new ShapeError(`${what} row ${r} has ${M[r].length} entries, expected ${cols}`);
  }
  return [rows, cols];
}

/** `Y = X · A · B` over the integers (exact). X is T x DIN, A is DIN x R, B is R x DOUT. */
export function loraProduct(
  X: readonly (readonly bigint[])[],
  A: readonly (readonly bigint[])[],
  B: readonly (readonly bigint[])[],
): bigint[][] {
  const [T, DIN] = dims(X, "X");
  const [aRows, R] = dims(A, "A");
  const [bRows, DOUT] = dims(B, "B");
  if (aRows !== DIN) throw new ShapeError(`A has ${aRows} rows but X has ${DIN} columns`);
  if (bRows !== R) throw new ShapeError(`B has ${bRows} rows but A has ${R} columns`);
  const Y: bigint[][] = [];
  for (let t = 0; t < T; t++) {
    const xa = new Array<bigint>(R).fill(0n);
    for (let i = 0; i < DIN; i++) {
      const x = X[t][i];
      if (x === 0n) continue;
      for (let k = 0; k < R; k++) xa[k] += x * A[i][k];
    }
    const y = new Array<bigint>(DOUT).fill(0n);
    for (let k = 0; k < R; k++) {
      const v = xa[k];
      if (v === 0n) continue;
      for (let j = 0; j < DOUT; j++) y[j] += v * B[k][j];
    }
    Y.push(y);
  }
  return Y;
}

const INT256_MIN = -(2n ** 255n);
const INT256_MAX = 2n ** 255n - 1n;

/**
 * `hY = keccak256(abi.encodePacked(int256[] Y row-major))`: each entry a 32-byte two's-complement
 * big-endian word. Returns a 0x-prefixed bytes32 hex string.
 */
export function outputDigest(Y: readonly (readonly bigint[])[]): string {
  const words: string[] = [];
  for (const row of Y) {
    for (const v of row) {
      if (v < INT256_MIN || v > INT256_MAX) throw new FieldError(`output value ${v} does not fit an int256`);
      words.push(toBeHex(BigInt.asUintN(256, v), 32));
    }
  }
  if (words.length === 0) throw new ShapeError("outputDigest: Y is empty");
  return keccak256(concat(words));
}

/** The inputs of the challenge rho. */
export interface RhoInputs {
  chainId: bigint;
  escrow: string;
  dealId: bigint;
  module: bigint;
  hX: bigint;
  hY: string;
}

/**
 * `rho = uint256(keccak256(abi.encode(uint256 chainId, address escrow, uint256 dealId, uint256 m,
 * uint256 hX, bytes32 hY))) mod p`.
 */
export function computeRho({ chainId, escrow, dealId, module, hX, hY }: RhoInputs): bigint {
  const enc = AbiCoder.defaultAbiCoder().encode(
    ["uint256", "address", "uint256", "uint256", "uint256", "bytes32"],
    [chainId, getAddress(escrow), dealId, module, hX, hY],
  );
  return BigInt(keccak256(enc)) % P;
}

/** `fY = sum_{t,j} rho^(t*DOUT + j) * Y[t][j] mod p` (Y entries signed, taken mod p). */
export function fingerprint(Y: readonly (readonly bigint[])[], rho: bigint): bigint {
  const r = toField(rho);
  let acc = 0n;
  let pw = 1n;
  for (const row of Y) {
    for (const v of row) {
      acc = (acc + pw * toField(v)) % P;
      pw = (pw * r) % P;
    }
  }
  return acc;
}
