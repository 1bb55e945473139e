/**
 * Root hooks for the whole mocha run.
 *
 * snarkjs (through ffjavascript) builds the BN254 curve once per process with worker threads
 * and keeps it in `globalThis.curve_bn128`; those workers keep the process alive, so mocha
 * would hang after the last test. Terminate the curve once every suite is done, and close the
 * shared proving pool (its prover processes would leave on their own, this makes it explicit).
 */
import { closeSharedProvingPool } from "../src/mpi/prover.js";

after(async () => {
  await closeSharedProvingPool();
  const g = globalThis as { curve_bn128?: { terminate(): Promise<void> } | null };
  if (g.curve_bn128 != null) {
    await g.curve_bn128.terminate();
    delete g.curve_bn128;
  }
});
