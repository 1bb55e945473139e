/**
 * Root hooks for the whole mocha run.
 *
 * snarkjs (through ffjavascript) builds the BN254 curve once per process with worker threads
 * and keeps it in `globalThis.curve_bn128`; those workers keep the process alive, so mocha
 * would hang after the last test. Terminate the curve once every suite is done.
 */
after(async () => {
  const g = globalThis as { curve_bn128?: { terminate(): Promise<void> } | null };
  if (g.curve_bn128 != null) {
    await g.curve_bn128.terminate();
    delete g.curve_bn128;
  }
});
