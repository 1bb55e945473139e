/**
 * The exact integer LoRA product `Y = X·A·B` and the challenge rho (PROTOCOL.md; src/zk/v2/fold.ts
 * derives rho from the activation and output digests with {@link computeRho}).
 */
import { AbiCoder, getAddress, keccak256 } from "ethers";
import { ShapeError } from "./errors.js";
import { P } from "./field.js";

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
