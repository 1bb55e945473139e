/**
 * Delivery benchmark (`npm run bench:delivery [-- name,name]`): per weight shape of
 * circuits/delivery-shapes.json, the constraint count, build time (compile + development ceremony,
 * or a cache hit), encryption time, prove time (witness + Groth16) and off-chain verify time of one
 * delivery. Writes bench/results/delivery-<date>.json.
 */
import { mkdir, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { PROJECT_ROOT } from "../src/common/cache.js";
import {
  buildDeliveryCircuit,
  encryptWeights,
  loadDeliveryShapes,
  proveDelivery,
  randomDeliveryKey,
  randomSalt,
  verifyDelivery,
} from "../src/zk/index.js";

const wanted = process.argv[2]?.split(",");
const shapes = (await loadDeliveryShapes()).filter((s) => wanted === undefined || wanted.includes(s.name));
const results: unknown[] = [];
for (const s of shapes) {
  let t = performance.now();
  const art = await buildDeliveryCircuit(s);
  const buildMs = performance.now() - t;
  let seed = 7;
  const next = () => BigInt(((seed = (seed * 1103515245 + 12345) % 2 ** 31) % 4001) - 2000);
  const A = Array.from({ length: s.DIN }, () => Array.from({ length: s.R }, next));
  const B = Array.from({ length: s.R }, () => Array.from({ length: s.DOUT }, next));
  const w = { A, B, salt: randomSalt() };
  const k = randomDeliveryKey();
  t = performance.now();
  await encryptWeights(A, B, w.salt, k);
  const encryptMs = performance.now() - t;
  t = performance.now();
  const r = await proveDelivery(art, w, k);
  const proveMs = performance.now() - t;
  t = performance.now();
  const verified = await verifyDelivery(art.vkey, r.proof, r.publicSignals);
  const verifyMs = performance.now() - t;
  const row = {
    shape: s.name,
    DIN: s.DIN,
    R: s.R,
    DOUT: s.DOUT,
    elements: s.DIN * s.R + s.R * s.DOUT + 1,
    constraints: art.constraints,
    ptauPower: art.ptau.power,
    buildMs: Math.round(buildMs),
    encryptMs: Math.round(encryptMs),
    proveMs: Math.round(proveMs),
    verifyMs: Math.round(verifyMs),
    verified,
  };
  console.log(JSON.stringify(row));
  results.push(row);
}
const dir = path.join(PROJECT_ROOT, "bench", "results");
await mkdir(dir, { recursive: true });
const file = path.join(dir, `delivery-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
await writeFile(
  file,
  JSON.stringify(
    { date: new Date().toISOString(), cpus: os.cpus().length, cpu: os.cpus()[0]?.model, results },
    null,
    2,
  ) + "\n",
);
console.log(`wrote ${path.relative(PROJECT_ROOT, file)}`);
await (globalThis as { curve_bn128?: { terminate(): Promise<void> } }).curve_bn128?.terminate();
