/**
 * The delivery benchmark (`npm run bench:delivery [-- options]`, issue 16): the once-per-adapter
 * cost of delivering a module's weights with the payment, and the per-deal key-wrap proof.
 *
 * Per module shape (random weights in the 16-bit delivery range, dev ptau): the delivery plan
 * (chunks of CAP weights, the chunk circuit's constraints and domain), the delivery key (compile +
 * `newZKey` + the dev beacon; cached by content, its cold time reported when it was built here),
 * encryption, every chunk proof (witness + prove + local verify) and the link to W_m, and the
 * buyer's full check of the module's delivery (every chunk proof batch-verified and the link). Then
 * the key-wrap proof of a deal (one proof per 16 modules) and its local verification. The gas of
 * proposeDelivery / fundDelivery / settleWithKeys is in `npm run bench:gas`.
 *
 * Options: --shapes a,b (default: every shape below). Writes bench/results/delivery-<ISO date>.json.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  buildDeliveryKey,
  checkModuleDelivery,
  deliverModule,
  deliveryConstraints,
  deliveryPlan,
  deliveryShapeName,
  deliveryShapeOf,
  devDeliveryCeremonyKey,
  randomDeliveryKey,
} from "../src/zk/delivery/index.js";
import {
  buildShapeKey,
  commitWeights,
  contributeDelta,
  deltaOf,
  randomFieldElement,
  weightCount,
  weightVector,
  type V2Shape,
} from "../src/zk/v2/index.js";
import {
  BABY_BASE8,
  WrapVerifier,
  babyMul,
  buildWrapKey,
  buyerWrapKeypair,
  proveKeyWrap,
  randomBabyScalar,
} from "../src/zk/wrap/index.js";
import { machineInfo, matrix, runBench, writeBenchResult } from "./common.js";

const SHAPES: readonly (V2Shape & { name: string; note: string })[] = [
  { name: "stories260k_q_proj", DIN: 64, R: 8, DOUT: 64, note: "stories260k q_proj (the demo's module)" },
  { name: "distilgpt2_c_attn", DIN: 768, R: 8, DOUT: 2304, note: "distilgpt2 attn.c_attn" },
];
/** The delivery range of the default scales (fa = fb = 12): 16-bit signed weights. */
const BITS = 16;
const CTX = { chainId: 31337n, escrow: "0x" + "11".repeat(20), contributor: "0x" + "22".repeat(20) };

const s = (ms: number) => Number((ms / 1000).toFixed(3));

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const only = argv.includes("--shapes") ? argv[argv.indexOf("--shapes") + 1].split(",") : undefined;
  const shapes = SHAPES.filter((x) => only === undefined || only.includes(x.name));
  const results: unknown[] = [];
  for (const shape of shapes) {
    console.log(`== ${shape.name} (${shape.DIN}x${shape.R}x${shape.DOUT})`);
    const key = await buildShapeKey(shape);
    const N = weightCount(shape);
    const plan = deliveryPlan(N, BITS);
    const dshape = deliveryShapeOf(plan, BITS);
    let t = performance.now();
    const dkey = await buildDeliveryKey(dshape, { onProgress: (m) => console.log(`  ${m}`) });
    const ceremony = await devDeliveryCeremonyKey(dkey);
    const keyMs = performance.now() - t;
    // Weights of a trained LoRA at 2^12 stay far inside ±2^15; the bench uses the range's middle half.
    const opening = {
      A: matrix(shape.DIN, shape.R, 1, 2 ** 14),
      B: matrix(shape.R, shape.DOUT, 2, 2 ** 14),
      salt: randomFieldElement(),
    };
    const ctx = { ...CTX, module: 0 };
    const { W } = await commitWeights(key, opening, ctx);
    const w = weightVector(shape, opening);
    t = performance.now();
    const r = await deliverModule(
      key,
      dkey,
      ceremony,
      ctx,
      { w, salt: opening.salt, W },
      { k: randomDeliveryKey() },
    );
    const deliverMs = performance.now() - t;
    t = performance.now();
    await checkModuleDelivery(key, dkey, ceremony, ctx, W, r.delivery, { expectedHK: r.delivery.hK });
    const checkMs = performance.now() - t;
    const out = {
      name: shape.name,
      note: shape.note,
      DIN: shape.DIN,
      R: shape.R,
      DOUT: shape.DOUT,
      weights: N,
      deliveryCircuit: deliveryShapeName(dshape),
      chunkCapacity: plan.cap,
      chunks: plan.chunks,
      constraintsPerChunk: deliveryConstraints(dshape),
      constraintsPerWeight: Number((deliveryConstraints(dshape) / plan.cap).toFixed(2)),
      domainSize: dkey.domainSize,
      keySeconds: s(keyMs),
      keyNote: "compile + newZKey + dev beacon; 0-ish when cached by content from an earlier run",
      deliverSeconds: s(deliverMs),
      deliverPerChunkSeconds: s(deliverMs / plan.chunks),
      buyerCheckSeconds: s(checkMs),
      load: os.loadavg().map((x) => Number(x.toFixed(2))),
    };
    console.log(JSON.stringify(out));
    results.push(out);
  }

  // The key-wrap proof of a deal: 6 and 24 modules (one proof per 16).
  const wrapKey = await buildWrapKey();
  const dir = await mkdtemp(path.join(os.tmpdir(), "zklora-bench-wrap-"));
  const wrapZkey = path.join(dir, "wrap.zkey");
  let t = performance.now();
  await contributeDelta(wrapKey.zkey, wrapZkey);
  const contributeMs = performance.now() - t;
  const wrap: Record<string, unknown> = {
    constraints: wrapKey.constraints,
    publicInputs: wrapKey.publicInputs,
    domainSize: wrapKey.domainSize,
    buyerContributionSeconds: s(contributeMs),
  };
  const verifier = await WrapVerifier.create(wrapKey.onchain, (await deltaOf(wrapZkey)).delta2);
  for (const n of [6, 24]) {
    const buyer = buyerWrapKeypair();
    const e = randomBabyScalar();
    t = performance.now();
    const proofs = await proveKeyWrap(wrapKey, wrapZkey, {
      pk: buyer.pk,
      e,
      E: babyMul(BABY_BASE8, e),
      dealId: 1n,
      modules: Array.from({ length: n }, (_, m) => ({ m, k: randomDeliveryKey() })),
    });
    const proveMs = performance.now() - t;
    t = performance.now();
    for (const p of proofs) await verifier.verify(p.proof, p.publicInputs);
    const verifyMs = performance.now() - t;
    wrap[`${n}modules`] = { proofs: proofs.length, proveSeconds: s(proveMs), verifySeconds: s(verifyMs) };
    console.log(
      `key wrap, ${n} modules: ${proofs.length} proof(s), ${s(proveMs)} s, verify ${s(verifyMs)} s`,
    );
  }
  await rm(dir, { recursive: true, force: true });

  const result = {
    date: new Date().toISOString(),
    bench: "delivery (protocol v2)",
    machine: machineInfo(),
    bits: BITS,
    note:
      "delivery proofs are made once per adapter module and reused for every deal; the key-wrap proof once per deal. " +
      "Times in-process with snarkjs on this machine; dev ptau (forgeable) keys.",
    modules: results,
    keyWrap: wrap,
  };
  await writeBenchResult(`delivery-${result.date.replace(/[:.]/g, "-")}`, result);
}

await runBench(main);
