/**
 * Proving the key wrap (PROTOCOL.md, "Weights delivered with the payment", "Per deal"): the
 * contributor, holding e and every delivery key k_m, proves under the buyer's per-deal wrap key
 * (checked with checkDeltaUpdate) that R_m = k_m + Poseidon5(TAG, e·PK, dealId, m) with
 * Poseidon1(k_m) = hK_m and E = e·Base8, for the modules 0..M−1 in groups of WRAP_SLOTS
 * (group g: base = WRAP_SLOTS·g, count = min(WRAP_SLOTS, M − base)). Each proof is verified
 * locally against its public inputs under the deal key's δ' before it is returned.
 */
import * as snarkjs from "snarkjs";
import { ShapeError, WitnessError } from "../errors.js";
import { assertField } from "../field.js";
import type { ProvingPool } from "../pool.js";
import { timed, type ProgressFn } from "../progress.js";
import type { Groth16Proof } from "../verifier.js";
import { calculateWitness } from "../witness.js";
import { deltaOf } from "../v2/delta.js";
import {
  BABY_BASE8,
  assertBabyScalar,
  babyEq,
  babyMul,
  checkBuyerWrapKey,
  type BabyPoint,
} from "./babyjub.js";
import { WrapKeyError } from "./errors.js";
import { WRAP_SLOTS, type WrapKey } from "./key.js";
import { deliveryKeyHash, wrapDeliveryKey } from "./pad.js";
import { WrapVerifier, wrapPublicInputs, type WrapStatement } from "./verify.js";

/** The circuit's input object (decimal strings): the statement's public inputs, e and k (unused slots zero). */
export function wrapCircuitInput(
  st: WrapStatement,
  secret: { e: bigint; k: readonly bigint[] },
): Record<string, string | string[]> {
  const x = wrapPublicInputs(st);
  if (secret.k.length !== st.count) throw new ShapeError(`count ${st.count} but ${secret.k.length} keys`);
  const k = [...secret.k, ...new Array<bigint>(WRAP_SLOTS - secret.k.length).fill(0n)];
  k.forEach((v, i) => assertField(v, `k[${i}]`));
  assertField(secret.e, "e");
  const s = (v: bigint) => v.toString();
  const slots = (o: number) => x.slice(o, o + WRAP_SLOTS).map(s);
  return {
    pk: [s(x[0]), s(x[1])],
    E: [s(x[2]), s(x[3])],
    dealId: s(x[4]),
    base: s(x[5]),
    count: s(x[6]),
    hK: slots(7),
    R: slots(7 + WRAP_SLOTS),
    e: s(secret.e),
    k: k.map(s),
  };
}

/** One wrap proof, its statement and timings. */
export interface WrapProof {
  statement: WrapStatement;
  /** The full public inputs in circuit order (wrapPublicInputs(statement)). */
  publicInputs: bigint[];
  proof: Groth16Proof;
  witnessMs: number;
  proveMs: number;
  verifyMs: number;
}

/** Options of the wrap provers. */
export interface ProveWrapOptions {
  /** Prove in a prover process of this pool instead of this process. */
  pool?: ProvingPool;
  /** A verifier for the deal key's δ' (made from dealZkey when absent). */
  verifier?: WrapVerifier;
  onProgress?: ProgressFn;
}

/**
 * Proves one group (a statement and its witness) with the per-deal wrap key and verifies the proof
 * against the statement's public inputs under the deal key's δ'. Throws WitnessError when the
 * witness does not satisfy the circuit, and when the proof does not verify (never releases it).
 */
export async function proveWrapGroup(
  wrapKey: WrapKey,
  dealZkey: string,
  statement: WrapStatement,
  secret: { e: bigint; k: readonly bigint[] },
  opts: ProveWrapOptions = {},
): Promise<WrapProof> {
  const input = wrapCircuitInput(statement, secret);
  const publicInputs = wrapPublicInputs(statement);
  const label = `${wrapKey.name} [${statement.base}, ${statement.base + statement.count})`;
  let proof: Groth16Proof;
  let witnessMs: number;
  let proveMs: number;
  if (opts.pool !== undefined) {
    const r = await opts.pool.proveInput(
      { name: wrapKey.name, wasm: wrapKey.wasm, zkey: dealZkey },
      input,
      publicInputs,
    );
    proof = r.proof;
    witnessMs = r.witnessMs;
    proveMs = r.proveMs;
  } else {
    let t = performance.now();
    const wtns = await timed(opts.onProgress, `${label}: witness`, () => calculateWitness(wrapKey, input));
    witnessMs = performance.now() - t;
    t = performance.now();
    const out = await timed(opts.onProgress, `${label}: prove`, () =>
      snarkjs.groth16.prove(dealZkey, { type: "mem", data: wtns }),
    );
    proveMs = performance.now() - t;
    proof = out.proof as Groth16Proof;
  }
  const t = performance.now();
  const verifier =
    opts.verifier ?? (await WrapVerifier.create(wrapKey.onchain, (await deltaOf(dealZkey)).delta2));
  const ok = await verifier.check(proof, publicInputs);
  const verifyMs = performance.now() - t;
  if (!ok.ok)
    throw new WitnessError(
      `${label}: the proof does not verify against the statement (${ok.reason}); not released`,
    );
  return { statement, publicInputs, proof, witnessMs, proveMs, verifyMs };
}

/**
 * The contributor's wrap proofs for modules 0..M−1 (`modules[j].m` must be j): one per group of up
 * to WRAP_SLOTS modules, with R and hK recomputed from e, pk and the keys. `E` must be e·Base8 and
 * `pk` a valid buyer key (WrapKeyError otherwise). Every proof is verified locally before return.
 */
export async function proveKeyWrap(
  wrapKey: WrapKey,
  dealZkey: string,
  args: {
    pk: readonly bigint[];
    e: bigint;
    E: readonly bigint[];
    dealId: bigint;
    modules: readonly { m: number; k: bigint }[];
  },
  opts: ProveWrapOptions = {},
): Promise<WrapProof[]> {
  const pk = checkBuyerWrapKey(args.pk);
  const e = assertBabyScalar(args.e, "e");
  const E = babyMul(BABY_BASE8, e);
  if (args.E.length !== 2 || !babyEq(E, [args.E[0], args.E[1]])) throw new WrapKeyError("E is not e·Base8");
  assertField(args.dealId, "dealId");
  if (args.modules.length === 0) throw new ShapeError("no modules to wrap");
  args.modules.forEach((mod, j) => {
    if (mod.m !== j)
      throw new ShapeError(
        `modules must be 0..${args.modules.length - 1} in order; entry ${j} is module ${mod.m}`,
      );
  });
  const S: BabyPoint = babyMul(pk, e);
  const verifier =
    opts.verifier ?? (await WrapVerifier.create(wrapKey.onchain, (await deltaOf(dealZkey)).delta2));
  const out: WrapProof[] = [];
  for (let base = 0; base < args.modules.length; base += WRAP_SLOTS) {
    const group = args.modules.slice(base, base + WRAP_SLOTS);
    const k = group.map((mod) => assertField(mod.k, `delivery key of module ${mod.m}`));
    const statement: WrapStatement = {
      pk,
      E,
      dealId: args.dealId,
      base,
      count: group.length,
      hK: k.map(deliveryKeyHash),
      R: group.map((mod, i) => wrapDeliveryKey(S, args.dealId, mod.m, k[i])),
    };
    out.push(await proveWrapGroup(wrapKey, dealZkey, statement, { e, k }, { ...opts, verifier }));
  }
  return out;
}
