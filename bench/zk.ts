/**
 * ZK benchmark (`npm run bench:zk [-- shape,shape]`): per shape of circuits/shapes.json, the
 * constraint count, build (compile + development ceremony) time or cache hit, witness time,
 * prove time, verify time, peak RSS of a proving process and zkey size. Writes
 * bench/results/zk-<date>.json.
 *
 * Proving runs in a child process per shape so that its peak RSS is its own (not the setup's).
 */
import { stat } from "node:fs/promises";
import os from "node:os";
import { fileURLToPath } from "node:url";
import * as snarkjs from "snarkjs";
import {
  buildCircuit,
  calculateWitness,
  circuitInput,
  findShape,
  loadShapes,
  moduleStatement,
  verifyModule,
  type Groth16Proof,
} from "../src/zk/index.js";
import { benchWitness, childResult, emitResult, runBench, writeBenchResult } from "./common.js";

const SCRIPT = fileURLToPath(import.meta.url);

interface ProveResult {
  witnessMs: number[];
  proveMs: number[];
  verifyMs: number;
  verified: boolean;
  peakRssMiB: number;
}

async function child(name: string): Promise<void> {
  const art = await buildCircuit(await findShape(name));
  const w = benchWitness(art.shape);
  const pub = await moduleStatement(w);
  const input = circuitInput(w, pub);
  const witnessMs: number[] = [];
  const proveMs: number[] = [];
  let proof: Groth16Proof | undefined;
  let signals: string[] = [];
  for (let i = 0; i < 2; i++) {
    let t = performance.now();
    const wtns = await calculateWitness(art, input);
    witnessMs.push(performance.now() - t);
    t = performance.now();
    const out = await snarkjs.groth16.prove(art.zkey, { type: "mem", data: wtns });
    proveMs.push(performance.now() - t);
    proof = out.proof as Groth16Proof;
    signals = out.publicSignals;
  }
  const t = performance.now();
  const verified = await verifyModule(art.vkey, proof as Groth16Proof, signals);
  const verifyMs = performance.now() - t;
  const result: ProveResult = {
    witnessMs,
    proveMs,
    verifyMs,
    verified,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  };
  emitResult(result);
}

function runChild(name: string): Promise<ProveResult> {
  return childResult<ProveResult>([SCRIPT, "--child", name], `proving child for ${name}`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === "--child") return child(args[1]);
  const names = args[0] !== undefined ? args[0].split(",") : (await loadShapes()).map((s) => s.name);
  const rows: Record<string, unknown>[] = [];
  for (const name of names) {
    const shape = await findShape(name);
    const t0 = performance.now();
    const art = await buildCircuit(shape, { onProgress: (m) => console.error(`  ${m}`) });
    const buildMs = performance.now() - t0;
    const r = await runChild(name);
    const row = {
      shape: name,
      T: shape.T,
      DIN: shape.DIN,
      R: shape.R,
      DOUT: shape.DOUT,
      constraints: art.constraints,
      ptau: art.ptau.file,
      buildMs: Math.round(buildMs),
      buildNote:
        buildMs < 5000
          ? "cache hit (see the pipeline log for setup times)"
          : "compile + setup + ceremony + verify",
      witnessMs: r.witnessMs.map(Math.round),
      proveMs: r.proveMs.map(Math.round),
      verifyMs: Math.round(r.verifyMs),
      verified: r.verified,
      peakRssMiB: Math.round(r.peakRssMiB),
      zkeyBytes: (await stat(art.zkey)).size,
    };
    console.log(JSON.stringify(row));
    rows.push(row);
  }
  const out = {
    date: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
    },
    results: rows,
  };
  await writeBenchResult(`zk-${out.date.replace(/[:.]/g, "-")}`, out);
}

await runBench(main);
