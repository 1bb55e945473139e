/**
 * Root hooks for the whole mocha run.
 *
 * snarkjs (through ffjavascript) builds the BN254 curve with worker threads and keeps it in
 * `globalThis.curve_bn128`; those workers keep the process alive, so mocha would hang after the
 * last test. The curve is built once before any test: two snarkjs calls that start at the same
 * time with no curve yet would each build one, and only the last stays in `globalThis` (the other's
 * workers would be left running). It is terminated once every suite is done.
 *
 * Every copy of ffjavascript sets `globalThis.curve_bn128 = null` when its module is first loaded:
 * a copy first loaded later (a task's action imported in-process, after a curve was built) would
 * orphan the running curve. So both ES-module copies (ffjavascript's own and r1csfile's) are loaded
 * here, before any curve exists.
 */
import * as snarkjs from "snarkjs";

before(async () => {
  // dynamic imports: the ES-module builds (a static import here becomes a require of the CommonJS
  // build, which snarkjs has already loaded)
  for (const m of ["ffjavascript", "r1csfile"]) await import(m);
  await snarkjs.curves.getCurveFromName("bn128");
});

after(async () => {
  const g = globalThis as { curve_bn128?: { terminate(): Promise<void> } | null };
  if (g.curve_bn128 != null) {
    await g.curve_bn128.terminate();
    delete g.curve_bn128;
  }
});
