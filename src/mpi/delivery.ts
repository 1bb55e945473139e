/**
 * Weight delivery off-chain (zero-knowledge contingent payment; circuits/README.md "Delivery"):
 *
 * - contributor: `prepareDeliveries` draws a fresh key per module, encrypts the committed weights
 *   (`A || B || salt`), proves each delivery and returns the PUBLIC delivery files (ciphertext,
 *   `hK`, `hC`, proof) and the PRIVATE keys; `saveDeliveries` writes them into the deal workspace
 *   (`deliveries/module-<m>.json`, `delivery-keys.json` with mode 0600).
 * - buyer: `checkDelivery` checks a published ciphertext against the `C_m`, `hK`, `hC` the escrow
 *   holds (before funding); after settlement `decryptDeliveries` decrypts with the revealed keys,
 *   checks every module against its `C_m`, and `deliveredAdapter` de-quantizes into a PEFT adapter.
 */
import { chmod, mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import type { PeftAdapter, PeftModule } from "../model/index.js";
import {
  P,
  ciphertextHash,
  decryptWeights,
  deliveryLength,
  findDeliveryShape,
  proveDelivery,
  randomDeliveryKey,
  toSolidityProof,
  weightCommitment,
  type DeliveryArtifacts,
  type DeliveryShape,
  type Groth16Proof,
  type ModuleWeights,
} from "../zk/index.js";
import type { CommitManifest, CommitSecrets } from "./types.js";
import { writeJsonAtomic } from "./types.js";

/** A delivery check or decryption failed; `code` is stable. */
export class DeliveryError extends Error {
  override name = "DeliveryError";
  constructor(
    readonly code:
      | "bad_file"
      | "hc_mismatch"
      | "commitment_mismatch"
      | "hk_mismatch"
      | "shape_mismatch"
      | "key_mismatch"
      | "missing",
    message: string,
  ) {
    super(message);
  }
}

/** The PUBLIC delivery of one module: what the contributor publishes and submits. */
export interface ModuleDelivery {
  version: 1;
  module: number;
  target: string;
  DIN: number;
  R: number;
  DOUT: number;
  /** The delivery shape (circuits/delivery-shapes.json) the proof is for. */
  shape: string;
  C_m: bigint;
  hK: bigint;
  hC: bigint;
  /** The ciphertext, DIN·R + R·DOUT + 1 field elements. */
  ciphertext: bigint[];
  proof: Groth16Proof;
}

/** `submitDelivery`'s proof arguments of a delivery. */
export function deliveryCallArgs(d: ModuleDelivery): {
  module: number;
  hK: bigint;
  hC: bigint;
  a: [bigint, bigint];
  b: [[bigint, bigint], [bigint, bigint]];
  c: [bigint, bigint];
} {
  const s = toSolidityProof(d.proof);
  return { module: d.module, hK: d.hK, hC: d.hC, a: s.a, b: s.b, c: s.c };
}

/** JSON form of a delivery (decimal strings). */
export function deliveryToJson(d: ModuleDelivery): unknown {
  return {
    ...d,
    C_m: d.C_m.toString(),
    hK: d.hK.toString(),
    hC: d.hC.toString(),
    ciphertext: d.ciphertext.map(String),
  };
}

const DEC = /^(0|[1-9][0-9]*)$/;
function field(v: unknown, what: string): bigint {
  if (typeof v !== "string" || !DEC.test(v) || BigInt(v) >= P)
    throw new DeliveryError("bad_file", `${what} must be a decimal field element string`);
  return BigInt(v);
}
function dim(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1)
    throw new DeliveryError("bad_file", `${what} must be a positive integer`);
  return v;
}

/** Parses a delivery (JSON) strictly; throws DeliveryError("bad_file"). */
export function parseDelivery(raw: unknown): ModuleDelivery {
  const o = raw as Record<string, unknown> | null;
  if (o === null || typeof o !== "object" || o.version !== 1)
    throw new DeliveryError("bad_file", "a delivery must be a JSON object with version 1");
  const module = o.module;
  if (typeof module !== "number" || !Number.isInteger(module) || module < 0)
    throw new DeliveryError("bad_file", "module must be a non-negative integer");
  const DIN = dim(o.DIN, "DIN");
  const R = dim(o.R, "R");
  const DOUT = dim(o.DOUT, "DOUT");
  if (!Array.isArray(o.ciphertext) || o.ciphertext.length !== deliveryLength(DIN, R, DOUT))
    throw new DeliveryError(
      "bad_file",
      `ciphertext must hold DIN·R + R·DOUT + 1 = ${deliveryLength(DIN, R, DOUT)} elements`,
    );
  const proof = o.proof as Groth16Proof | undefined;
  if (proof === undefined || proof === null || typeof proof !== "object" || !Array.isArray(proof.pi_a))
    throw new DeliveryError("bad_file", "proof must be a snarkjs Groth16 proof");
  if (typeof o.target !== "string" || typeof o.shape !== "string")
    throw new DeliveryError("bad_file", "target and shape must be strings");
  return {
    version: 1,
    module,
    target: o.target,
    DIN,
    R,
    DOUT,
    shape: o.shape,
    C_m: field(o.C_m, "C_m"),
    hK: field(o.hK, "hK"),
    hC: field(o.hC, "hC"),
    ciphertext: o.ciphertext.map((c, i) => field(c, `ciphertext[${i}]`)),
    proof,
  };
}

/** The workspace files of deliveries. */
export function deliveryFiles(workspace: string): {
  dir: string;
  keys: string;
  module: (m: number) => string;
} {
  const dir = path.join(workspace, "deliveries");
  return {
    dir,
    keys: path.join(workspace, "delivery-keys.json"),
    module: (m: number) => path.join(dir, `module-${m}.json`),
  };
}

/** Options of `prepareDeliveries`. */
export interface PrepareDeliveriesOptions {
  manifest: CommitManifest;
  secrets: CommitSecrets;
  /** The delivery circuit of a weight shape (e.g. `buildDeliveryCircuit`). */
  artifacts: (shape: DeliveryShape) => Promise<DeliveryArtifacts>;
  /** Key source (tests may fix it); default a fresh random key per module. */
  key?: (module: number) => bigint;
  onProgress?: (message: string) => void;
}

/**
 * Contributor: per module a fresh key, the ciphertext of `A || B || salt` and its delivery proof.
 * Checks each module's secrets against the manifest's C_m first.
 */
export async function prepareDeliveries(
  opts: PrepareDeliveriesOptions,
): Promise<{ deliveries: ModuleDelivery[]; keys: bigint[] }> {
  const deliveries: ModuleDelivery[] = [];
  const keys: bigint[] = [];
  for (const m of opts.manifest.modules) {
    const s = opts.secrets.modules[m.index];
    if (s === undefined || s.index !== m.index)
      throw new DeliveryError("missing", `the secrets have no module ${m.index} (${m.target})`);
    const C_m = await weightCommitment(s.A, s.B, s.salt);
    if (C_m.toString() !== m.C_m)
      throw new DeliveryError(
        "commitment_mismatch",
        `module ${m.index}: the secrets do not open the manifest's C_m (wrong secrets.json?)`,
      );
    const shape = await findDeliveryShape({ DIN: m.DIN, R: m.R, DOUT: m.DOUT });
    const art = await opts.artifacts(shape);
    const k = opts.key?.(m.index) ?? randomDeliveryKey();
    const t0 = performance.now();
    const r = await proveDelivery(art, { A: s.A, B: s.B, salt: s.salt }, k);
    opts.onProgress?.(
      `module ${m.index} (${m.target}): delivery proved in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    deliveries.push({
      version: 1,
      module: m.index,
      target: m.target,
      DIN: m.DIN,
      R: m.R,
      DOUT: m.DOUT,
      shape: shape.name,
      C_m: r.publicSignals[0],
      hK: r.publicSignals[1],
      hC: r.publicSignals[2],
      ciphertext: r.ciphertext,
      proof: r.proof,
    });
    keys.push(k);
  }
  return { deliveries, keys };
}

/** Writes the public deliveries and the private keys (mode 0600) into a deal workspace. */
export async function saveDeliveries(
  workspace: string,
  deliveries: readonly ModuleDelivery[],
  keys: readonly bigint[],
): Promise<void> {
  const f = deliveryFiles(workspace);
  await mkdir(f.dir, { recursive: true });
  for (const d of deliveries) await writeJsonAtomic(f.module(d.module), deliveryToJson(d));
  await writeJsonAtomic(f.keys, { version: 1, keys: keys.map(String) }, 0o600);
  await chmod(f.keys, 0o600);
}

/** Reads `deliveries/module-<m>.json` of a workspace. */
export async function loadDelivery(workspace: string, module: number): Promise<ModuleDelivery> {
  const file = deliveryFiles(workspace).module(module);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new DeliveryError(
      "missing",
      `no delivery file ${file}: run zklora:deliver (contributor) or fetch it`,
    );
  }
  return parseDelivery(JSON.parse(text));
}

/** Reads the contributor's private delivery keys. */
export async function loadDeliveryKeys(workspace: string): Promise<bigint[]> {
  const file = deliveryFiles(workspace).keys;
  let raw: { version?: unknown; keys?: unknown };
  try {
    raw = JSON.parse(await readFile(file, "utf8")) as typeof raw;
  } catch {
    throw new DeliveryError("missing", `no delivery keys ${file}: run zklora:deliver first`);
  }
  if (raw.version !== 1 || !Array.isArray(raw.keys))
    throw new DeliveryError("bad_file", `${file}: expected { version: 1, keys: [...] }`);
  return raw.keys.map((k, i) => field(k, `keys[${i}]`));
}

/**
 * Buyer, before funding: the published ciphertext hashes to the `hC` the escrow holds, and the
 * file's `C_m`, `hK`, shape agree with the deal. Throws DeliveryError naming the mismatch.
 */
export async function checkDelivery(
  d: ModuleDelivery,
  onchain: { module: number; C_m: bigint; hK: bigint; hC: bigint; DIN: number; R: number; DOUT: number },
): Promise<void> {
  if (d.module !== onchain.module)
    throw new DeliveryError("bad_file", `delivery file is for module ${d.module}, not ${onchain.module}`);
  if (d.DIN !== onchain.DIN || d.R !== onchain.R || d.DOUT !== onchain.DOUT)
    throw new DeliveryError(
      "shape_mismatch",
      `module ${d.module}: the delivery is ${d.DIN}x${d.R}x${d.DOUT}, the deal's module ${onchain.DIN}x${onchain.R}x${onchain.DOUT}`,
    );
  if (d.C_m !== onchain.C_m)
    throw new DeliveryError(
      "commitment_mismatch",
      `module ${d.module}: the delivery's C_m is not the deal's`,
    );
  if (d.hK !== onchain.hK)
    throw new DeliveryError("hk_mismatch", `module ${d.module}: the delivery's hK is not the proven one`);
  const hC = await ciphertextHash(d.ciphertext);
  if (hC !== onchain.hC || d.hC !== onchain.hC)
    throw new DeliveryError(
      "hc_mismatch",
      `module ${d.module}: the ciphertext hashes to ${hC}, the escrow holds hC = ${onchain.hC}: do not fund`,
    );
}

/**
 * Buyer, after settlement: decrypts each module with its revealed key and checks the plaintext
 * against the module's C_m (which alone proves the weights are the committed ones; the ciphertext
 * was checked against the proven hC before funding, by `checkDelivery`). Returns the
 * quantized weights.
 */
export async function decryptDeliveries(
  deliveries: readonly ModuleDelivery[],
  keys: readonly bigint[],
  commitments: readonly bigint[],
): Promise<ModuleWeights[]> {
  if (keys.length !== deliveries.length || commitments.length !== deliveries.length)
    throw new DeliveryError(
      "missing",
      `${deliveries.length} deliveries, ${keys.length} keys, ${commitments.length} commitments: one of each per module`,
    );
  const out: ModuleWeights[] = [];
  for (const [i, d] of deliveries.entries()) {
    if (d.module !== i) throw new DeliveryError("bad_file", `delivery ${i} is for module ${d.module}`);
    const w = await decryptWeights(d.ciphertext, keys[i], d.DIN, d.R, d.DOUT);
    if ((await weightCommitment(w.A, w.B, w.salt)) !== commitments[i])
      throw new DeliveryError(
        "key_mismatch",
        `module ${i}: the decrypted weights do not open C_m (wrong key or a ciphertext other than the proven one)`,
      );
    out.push(w);
  }
  return out;
}

/**
 * De-quantizes delivered weights into a PEFT adapter (`lora_A[k][i] = A[i][k] / 2^fa`,
 * `lora_B[j][k] = B[k][j] / 2^fb`), with the manifest's adapter config. `fanInFanOut` defaults to
 * true for GPT-2 targets (`transformer.h.N.…`, Conv1D) and false otherwise.
 */
export function deliveredAdapter(
  manifest: CommitManifest,
  weights: readonly ModuleWeights[],
  opts: { fanInFanOut?: boolean; baseModelNameOrPath?: string } = {},
): PeftAdapter {
  if (weights.length !== manifest.modules.length)
    throw new DeliveryError(
      "missing",
      `${weights.length} modules of weights for ${manifest.modules.length} in the manifest`,
    );
  const modules: PeftModule[] = manifest.modules.map((m, i) => {
    const { A, B } = weights[i];
    if (A.length !== m.DIN || A[0]?.length !== m.R || B.length !== m.R || B[0]?.length !== m.DOUT)
      throw new DeliveryError("shape_mismatch", `module ${i}: weights do not have the manifest's shape`);
    const sa = 2 ** m.scales.fa;
    const sb = 2 ** m.scales.fb;
    const loraA = new Float32Array(m.R * m.DIN);
    for (let k = 0; k < m.R; k++) for (let c = 0; c < m.DIN; c++) loraA[k * m.DIN + c] = Number(A[c][k]) / sa;
    const loraB = new Float32Array(m.DOUT * m.R);
    for (let j = 0; j < m.DOUT; j++) for (let k = 0; k < m.R; k++) loraB[j * m.R + k] = Number(B[k][j]) / sb;
    return { name: m.target, R: m.R, DIN: m.DIN, DOUT: m.DOUT, loraA, loraB };
  });
  const fanInFanOut =
    opts.fanInFanOut ?? manifest.modules.some((m) => /^transformer\.h\.\d+\./.test(m.target));
  const scaling = manifest.modules[0]?.scaling ?? manifest.adapter.lora_alpha / manifest.adapter.r;
  return {
    config: {
      r: manifest.adapter.r,
      lora_alpha: manifest.adapter.lora_alpha,
      target_modules: [...manifest.adapter.target_modules],
      fan_in_fan_out: fanInFanOut,
      ...(opts.baseModelNameOrPath === undefined
        ? {}
        : { base_model_name_or_path: opts.baseModelNameOrPath }),
    },
    scaling,
    modules,
  };
}

/** Buyer: fetches a module's published delivery from the contributor's server (`GET …/ciphertexts/:m`). */
export async function fetchDelivery(
  serverUrl: string,
  dealId: bigint,
  module: number,
): Promise<ModuleDelivery> {
  const url = `${serverUrl.replace(/\/+$/, "")}/v1/deals/${dealId}/ciphertexts/${module}`;
  const res = await fetch(url);
  const body = (await res.json().catch(() => undefined)) as unknown;
  if (!res.ok) {
    const reason = (body as { reason?: string } | undefined)?.reason ?? res.statusText;
    throw new DeliveryError("missing", `GET ${url}: ${res.status} ${reason}`);
  }
  return parseDelivery(body);
}
