/** Witness calculation (circom's witness generator) and the witness check against the r1cs. */
import * as snarkjs from "snarkjs";
import { WitnessError } from "./errors.js";

/**
 * Computes the witness for a circuit input (in memory). Throws WitnessError when the input does
 * not satisfy the circuit (circom's witness generator checks every `===`).
 */
export async function calculateWitness(
  art: { wasm: string },
  input: Record<string, unknown>,
): Promise<Uint8Array> {
  const wtns: { type: "mem"; data?: Uint8Array } = { type: "mem" };
  try {
    await snarkjs.wtns.calculate(input, art.wasm, wtns);
  } catch (err) {
    throw new WitnessError(
      `the inputs do not satisfy the circuit: ${(err as Error).message.split("\n")[0]}`,
      {
        cause: err,
      },
    );
  }
  if (wtns.data === undefined) throw new WitnessError("witness calculation produced no data");
  return wtns.data;
}

/** Checks a witness (wtns bytes) against the circuit's r1cs constraint by constraint. */
export async function checkWitness(art: { r1cs: string }, wtns: Uint8Array): Promise<boolean> {
  const silent = { log: () => {}, debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
  return snarkjs.wtns.check(art.r1cs, { type: "mem", data: wtns }, silent);
}
