/**
 * A module's whole delivery: the contributor's side (encrypt, one proof per chunk, the link) and
 * the buyer's check before funding (every chunk proof under the checked ceremony key, chunk count
 * and nonces 0..n−1, the link to the module's W_m, and hK against the one stored for the module).
 */
import type { Groth16Proof } from "../verifier.js";
import { randomFieldElement, type PokContext } from "../v2/commit.js";
import { weightCount, type G1Point, type G2Point, type ShapeKey } from "../v2/key.js";
import { deltaOf } from "../v2/delta.js";
import { deliveryKeyHash, encryptModuleWeights, randomDeliveryKey } from "./cipher.js";
import { DeliveryCheckError } from "./errors.js";
import type { DeliveryKey } from "./key.js";
import { checkDeliveryLink, proveDeliveryLink, type DeliveryLink } from "./link.js";
import {
  DeliveryVerifier,
  proveDeliveryChunk,
  type DeliveryStatement,
  type ProveDeliveryOptions,
} from "./prove.js";
import {
  chunkRange,
  deliveryLayout,
  deliveryPlan,
  validateDeliveryPlan,
  type DeliveryPlan,
} from "./shape.js";

/** One delivered chunk: nonce, ciphertext, W'_c and its proof. */
export interface DeliveredChunk {
  nonce: number;
  ct: bigint[];
  Wc: G1Point;
  proof: Groth16Proof;
}

/** The public delivery of one module. */
export interface ModuleDelivery {
  bits: number;
  plan: DeliveryPlan;
  hK: bigint;
  chunks: DeliveredChunk[];
  link: DeliveryLink;
}

/** What the contributor keeps: k (revealed to the buyer at settlement only) and the salts'. */
export interface ModuleDeliverySecrets {
  k: bigint;
  saltPrimes: bigint[];
}

/**
 * The contributor's delivery of one module: encrypts the N weights (`weightVector` order) under k
 * (fresh unless given), proves every chunk with the ceremony key (fresh salt' each) and the link
 * to W_m. The plan is the delivery key's: chunks of CAP = dkey.shape.CAP weights. `onChunk` is
 * called as each chunk's proof is done (e.g. for a progress bar).
 */
export async function deliverModule(
  key: ShapeKey,
  dkey: DeliveryKey,
  ceremonyZkey: string,
  ctx: PokContext,
  opening: { w: readonly bigint[]; salt: bigint; W: G1Point },
  opts: ProveDeliveryOptions & { k?: bigint; onChunk?: (nonce: number) => void } = {},
): Promise<{ delivery: ModuleDelivery; secrets: ModuleDeliverySecrets }> {
  const { BITS, CAP } = dkey.shape;
  const plan = deliveryPlan(weightCount(key.shape), BITS, { cap: CAP });
  const k = opts.k ?? randomDeliveryKey();
  const hK = deliveryKeyHash(k);
  const cts = encryptModuleWeights(opening.w, BITS, plan, k);
  const saltPrimes = Array.from({ length: plan.chunks }, () => randomFieldElement());
  const proveChunk = async (c: number): Promise<DeliveredChunk> => {
    const { start, end } = chunkRange(plan, c);
    const r = await proveDeliveryChunk(
      dkey,
      ceremonyZkey,
      { k, w: opening.w.slice(start, end), saltPrime: saltPrimes[c], nonce: c, ct: cts[c].ct },
      opts,
    );
    opts.onChunk?.(c);
    return { nonce: c, ct: cts[c].ct, Wc: r.Wc, proof: r.proof };
  };
  // With a proving pool the chunks go to its prover processes side by side (each in its own memory);
  // without, one at a time here.
  const chunks: DeliveredChunk[] = [];
  if (opts.pool !== undefined)
    chunks.push(...(await Promise.all(Array.from({ length: plan.chunks }, (_, c) => proveChunk(c)))));
  else for (let c = 0; c < plan.chunks; c++) chunks.push(await proveChunk(c));
  const link = await proveDeliveryLink(
    key,
    dkey,
    plan,
    ctx,
    { w: opening.w, salt: opening.salt, saltPrimes },
    { W: opening.W, Wc: chunks.map((ch) => ch.Wc), hK },
  );
  return { delivery: { bits: BITS, plan, hK, chunks, link }, secrets: { k, saltPrimes } };
}

/**
 * The buyer's check of one module's delivery before funding, against the module's W_m and the
 * delivery key's ceremony key (its file, or its [δ]₂; the ceremony key itself is checked once with
 * checkDeliveryKey). Checks: BITS and the plan match the keys, hK is `opts.expectedHK` (the value
 * stored for the module) when given, the chunks are n = plan.chunks with nonces 0..n−1 and
 * well-formed ciphertexts, every chunk proof verifies, and the link holds. Throws
 * DeliveryCheckError naming the module (ctx.module) and, when one is at fault, the chunk.
 */
export async function checkModuleDelivery(
  key: ShapeKey,
  dkey: DeliveryKey,
  ceremony: string | G2Point,
  ctx: PokContext,
  W: G1Point,
  d: ModuleDelivery,
  opts: { expectedHK?: bigint } = {},
): Promise<void> {
  const m = ctx.module;
  const fail = (msg: string, chunk?: number): never => {
    const where = chunk === undefined ? `module ${m}` : `module ${m}, chunk ${chunk}`;
    throw new DeliveryCheckError(`${where} (${key.name}, ${dkey.name}): ${msg}`, m, chunk);
  };
  if (d?.bits !== dkey.shape.BITS) fail(`BITS = ${d?.bits}, the delivery key is for ${dkey.shape.BITS}`);
  let plan: DeliveryPlan;
  try {
    plan = validateDeliveryPlan(d.plan, d.bits);
  } catch (err) {
    return fail(`bad plan: ${(err as Error).message}`);
  }
  if (plan.N !== weightCount(key.shape))
    fail(`the plan is for ${plan.N} weights, the module has ${weightCount(key.shape)}`);
  if (plan.cap !== dkey.shape.CAP)
    fail(`chunks of ${plan.cap} weights, the delivery key is for ${dkey.shape.CAP}`);
  if (opts.expectedHK !== undefined && d.hK !== opts.expectedHK)
    fail("hK is not the one stored for the module");
  if (!Array.isArray(d.chunks) || d.chunks.length !== plan.chunks)
    fail(`${d.chunks?.length} chunks, the plan has ${plan.chunks}`);
  const { NCT } = deliveryLayout(dkey.shape);
  const sts: DeliveryStatement[] = [];
  for (let c = 0; c < plan.chunks; c++) {
    const ch = d.chunks[c];
    if (ch?.nonce !== c) fail(`nonce ${ch?.nonce}, expected ${c}`, c);
    if (!Array.isArray(ch.ct) || ch.ct.length !== NCT) fail(`the ciphertext must have ${NCT} elements`, c);
    sts.push({ hK: d.hK, nonce: c, ct: ch.ct, Wc: ch.Wc });
  }
  const delta2 = typeof ceremony === "string" ? (await deltaOf(ceremony)).delta2 : ceremony;
  const v = await DeliveryVerifier.create(dkey, delta2);
  const proofs = d.chunks.map((ch) => ch.proof);
  if (!(plan.chunks > 1 && (await v.verifyBatch(proofs, sts)))) {
    for (let c = 0; c < plan.chunks; c++) {
      const r = await v.check(proofs[c], sts[c]);
      if (!r.ok) fail(`the delivery proof does not verify: ${r.reason}`, c);
    }
  }
  const link = await checkDeliveryLink(
    key,
    dkey,
    plan,
    ctx,
    { W, Wc: sts.map((s) => s.Wc), hK: d.hK },
    d.link,
  );
  if (!link.ok) fail(`the delivery link: ${link.reason}`);
}
