/**
 * Delivery keys (PROTOCOL.md, "Weights delivered with the payment" and "Keys").
 *
 * The initial key of a delivery shape is snarkjs's `newZKey` of the chunk circuit from the ptau:
 * deterministic (δ = 1), cached by content, recomputed by everyone who checks a key, never used
 * to prove for value. It splits into
 * - the verifying part: α, β, γ, IC_0, IC'[hK], IC'[nonce], IC'[ct_0..ct_NCT-1];
 * - the commitment bases IC'[w_0..w_CAP-1], IC'[salt], over which W'_c is formed;
 * - `keyHash`, one keccak over the shape, the r1cs and ptau sha256 and every point.
 *
 * The PROVING key of delivery proofs is a phase-2 ceremony key started from that initial key
 * (snarkjs `zkey contribute` / `zkey beacon`, i.e. delta.ts's contributeDelta and applyBeacon).
 * With a δ one party knows, A = [α]₁, B = [β]₂, C = −vk_x/δ "proves" any ciphertext: the buyer
 * runs {@link checkDeliveryKey} (the full δ-ratio check against its own initial key and the
 * contribution chain) and looks for a contribution it trusts (its own) before funding.
 * {@link devDeliveryCeremonyKey} is the development setting: only a public beacon, so δ is
 * public and the key is FORGEABLE (tests, demo, benchmarks).
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { AbiCoder, keccak256, toUtf8Bytes } from "ethers";
import { PROJECT_ROOT, cached, type KeyPart } from "../../common/cache.js";
import { TOOL_VERSIONS, compileMain, type CompiledCircuit } from "../compile.js";
import type { ProgressFn } from "../progress.js";
import { applyBeacon, checkDeltaUpdate, verifyContributions, type ContributionRecord } from "../v2/delta.js";
import {
  g1FromLem,
  g2FromLem,
  pointsHash,
  type G1Point,
  type G2Point,
  type CircuitKey,
  circuitKeyFields,
  initialKey,
} from "../v2/key.js";
import { DeliveryKeyError } from "./errors.js";
import {
  DELIVERY_CIRCUITS_DIR,
  DELIVERY_VARIANT,
  deliveryLayout,
  deliveryMainSource,
  deliveryPublicInputCount,
  deliveryShapeId,
  deliveryShapeName,
  validateDeliveryShape,
  type DeliveryShape,
} from "./shape.js";

const CIRCOMLIB_DIR = path.join(PROJECT_ROOT, "node_modules", "circomlib", "circuits");
const ZKKIT_DIR = path.join(PROJECT_ROOT, "node_modules", "@zk-kit", "circuits", "circom");
/** Every template file the chunk circuit includes (part of the compile cache key). */
const TEMPLATES = [
  path.join(DELIVERY_CIRCUITS_DIR, "delivery_v2.circom"),
  path.join(ZKKIT_DIR, "poseidon-cipher.circom"),
  path.join(ZKKIT_DIR, "utils", "poseidonConstants_old.circom"),
  ...[
    "poseidon_old",
    "poseidon_constants",
    "comparators",
    "bitify",
    "binsum",
    "aliascheck",
    "compconstant",
  ].map((f) => path.join(CIRCOMLIB_DIR, `${f}.circom`)),
];

/** The verifying part of a delivery key. */
export interface DeliveryVk {
  alpha1: G1Point;
  beta2: G2Point;
  gamma2: G2Point;
  ic0: G1Point;
  icHK: G1Point;
  icNonce: G1Point;
  /** IC'[ct_0..ct_NCT-1]. */
  icCt: G1Point[];
}

/** A delivery shape's key: circuit files, the initial zkey (δ = 1) and what it splits into. */
export interface DeliveryKey extends CircuitKey {
  shape: DeliveryShape;
  shapeId: string;
  vk: DeliveryVk;
  /** IC'[ct_0..ct_NCT-1] in ffjavascript's LEM form (64 bytes each), for the verifier's MSM. */
  ctBases: Uint8Array;
  /** IC'[w_0..w_CAP-1], IC'[salt] in LEM form: the bases of W'_c. */
  bases: Uint8Array;
  /** keccak256 over the uncompressed coordinates of IC'[ct_j]. */
  ctBasesHash: string;
  /** keccak256 over the uncompressed coordinates of the commitment bases. */
  basesHash: string;
  /** The hash binding the shape, the r1cs, the ptau and every point. */
  keyHash: string;
}

/** The base index of w_i and salt inside {@link DeliveryKey.bases}. */
export function deliveryBaseIndex(s: DeliveryShape, which: "w" | "salt", i = 0): number {
  return which === "w" ? i : s.CAP;
}

/** Compiles a delivery shape's circuit with circom2 (cached by content). */
export async function compileDelivery(s: DeliveryShape, onProgress?: ProgressFn): Promise<CompiledCircuit> {
  const name = deliveryShapeName(s);
  const src = deliveryMainSource(s);
  const mainDir = (
    await cached("zk-delivery-main", [src], async (out) => writeFile(path.join(out, `${name}.circom`), src))
  ).dir;
  const parts: KeyPart[] = [`delivery:${name}`, src];
  for (const f of TEMPLATES) parts.push(path.relative(PROJECT_ROOT, f), { file: f });
  return compileMain(name, path.join(mainDir, `${name}.circom`), parts, onProgress, [
    DELIVERY_CIRCUITS_DIR,
    CIRCOMLIB_DIR,
    ZKKIT_DIR,
  ]);
}

/**
 * `keyHash = keccak256(abi.encode(bytes32 DELIVERY_VARIANT, uint256 CAP, uint256 BITS, bytes32
 * r1csSha256, bytes32 ptauSha256, uint256[2] alpha1, uint256[4] beta2, uint256[4] gamma2,
 * uint256[2] ic0, uint256[2] icHK, uint256[2] icNonce, bytes32 ctBasesHash, bytes32 basesHash))`.
 */
export function computeDeliveryKeyHash(
  shape: DeliveryShape,
  r1csSha256: string,
  ptauSha256: string,
  vk: DeliveryVk,
  ctBasesHash: string,
  basesHash: string,
): string {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(
      [
        "bytes32",
        "uint256",
        "uint256",
        "bytes32",
        "bytes32",
        "uint256[2]",
        "uint256[4]",
        "uint256[4]",
        "uint256[2]",
        "uint256[2]",
        "uint256[2]",
        "bytes32",
        "bytes32",
      ],
      [
        DELIVERY_VARIANT,
        shape.CAP,
        shape.BITS,
        "0x" + r1csSha256,
        "0x" + ptauSha256,
        vk.alpha1,
        vk.beta2,
        vk.gamma2,
        vk.ic0,
        vk.icHK,
        vk.icNonce,
        ctBasesHash,
        basesHash,
      ],
    ),
  );
}

/** Options of {@link buildDeliveryKey}. */
export interface DeliveryKeyOptions {
  /** A public ceremony powers-of-tau file (see selectPtau). Default: the FORGEABLE development ptau. */
  ptau?: string;
  onProgress?: ProgressFn;
}

const keyMemo = new Map<string, Promise<DeliveryKey>>();

/**
 * Compiles a delivery shape, runs `newZKey` from the ptau (cached by content: deterministic) and
 * splits the key. Memoized per process.
 */
export function buildDeliveryKey(
  shapeIn: DeliveryShape,
  opts: DeliveryKeyOptions = {},
): Promise<DeliveryKey> {
  const shape = validateDeliveryShape(shapeIn);
  const memo = JSON.stringify([shape, opts.ptau ?? null]);
  let p = keyMemo.get(memo);
  if (p === undefined) {
    p = buildDeliveryKeyUncached(shape, opts);
    p.catch(() => keyMemo.delete(memo));
    keyMemo.set(memo, p);
  }
  return p;
}

async function buildDeliveryKeyUncached(
  shape: DeliveryShape,
  opts: DeliveryKeyOptions,
): Promise<DeliveryKey> {
  const name = deliveryShapeName(shape);
  const compiled = await compileDelivery(shape, opts.onProgress);
  const nPublic = deliveryPublicInputCount(shape);
  const k = await initialKey(name, compiled, nPublic, {
    ptau: opts.ptau,
    onProgress: opts.onProgress,
    cacheNs: "zk-delivery-key",
  });
  const { r1csSha256, ptau, sec2, hdr, ic } = k;
  const { NCT } = deliveryLayout(shape);
  const g1At = (o: number) => g1FromLem(ic.slice(o * 64, o * 64 + 64));
  const ctBases = ic.slice(3 * 64, (3 + NCT) * 64);
  const icCt: G1Point[] = [];
  for (let j = 0; j < NCT; j++) icCt.push(await g1At(3 + j));
  const vk: DeliveryVk = {
    alpha1: await g1FromLem(sec2.slice(hdr.at.alpha1, hdr.at.alpha1 + 64)),
    beta2: await g2FromLem(sec2.slice(hdr.at.beta2, hdr.at.beta2 + 128)),
    gamma2: await g2FromLem(sec2.slice(hdr.at.gamma2, hdr.at.gamma2 + 128)),
    ic0: await g1At(0),
    icHK: await g1At(1),
    icNonce: await g1At(2),
    icCt,
  };
  const bases = ic.slice((3 + NCT) * 64);
  const ctBasesHash = await pointsHash(ctBases);
  const basesHash = await pointsHash(bases);
  return {
    ...circuitKeyFields(name, compiled, k),
    shape,
    shapeId: deliveryShapeId(shape),
    vk,
    ctBases,
    bases,
    ctBasesHash,
    basesHash,
    keyHash: computeDeliveryKeyHash(shape, r1csSha256, ptau.sha256, vk, ctBasesHash, basesHash),
  };
}

// ------------------------------------------------------------------ ceremony keys

/**
 * DEVELOPMENT ONLY, FORGEABLE: the public beacon of {@link devDeliveryCeremonyKey}. Its value is
 * keccak256 of a fixed string, so anyone derives the beacon's secret and hence δ.
 */
export const DEV_DELIVERY_BEACON = {
  hash: keccak256(toUtf8Bytes("zklora-escrow development delivery beacon v1 (FORGEABLE)")),
  iterationsExp: 10,
  name: "zklora-escrow dev delivery beacon (FORGEABLE)",
} as const;

/**
 * DEVELOPMENT ONLY, FORGEABLE: the initial delivery key with {@link DEV_DELIVERY_BEACON} applied as
 * its only phase-2 contribution (cached by content). Its δ is public, so proofs under it prove
 * nothing to a buyer: {@link checkDeliveryKey} reports it as `forgeable`. A deployment runs a
 * public ceremony (contributeDelta per participant, the buyer's own included, then applyBeacon).
 */
export async function devDeliveryCeremonyKey(
  key: DeliveryKey,
  opts: { onProgress?: ProgressFn } = {},
): Promise<string> {
  const b = DEV_DELIVERY_BEACON;
  const { dir } = await cached(
    "zk-delivery-dev-ceremony",
    [
      `snarkjs@${TOOL_VERSIONS.snarkjs}`,
      "beacon",
      { file: key.zkey },
      b.hash,
      String(b.iterationsExp),
      b.name,
    ],
    async (out) => {
      await applyBeacon(key.zkey, path.join(out, "ceremony.zkey"), {
        beaconHash: b.hash,
        iterationsExp: b.iterationsExp,
        name: b.name,
        onProgress: opts.onProgress,
      });
    },
  );
  return path.join(dir, "ceremony.zkey");
}

/** What {@link checkDeliveryKey} found. */
export interface DeliveryKeyCheck {
  /** The ceremony's contributions, in order (each with the hash its contributor printed). */
  contributions: ContributionRecord[];
  /** True when no contribution has a secret: only public beacons (or none), so δ is public. */
  forgeable: boolean;
  /** The ceremony key's δ ([δ]₁, [δ]₂ in EIP-197 order): what verifiers use. */
  delta1: G1Point;
  delta2: G2Point;
}

/**
 * The buyer's check of a delivery proving key before funding: `ceremonyZkey` is a δ update of the
 * buyer's OWN initial key (checkDeltaUpdate: every other section byte-identical, δ consistent in
 * G1 and G2, L and H divided by the δ ratio) and its contribution chain verifies
 * (verifyContributions). Throws DeltaUpdateError when not; DeliveryKeyError when `trusted`
 * contribution hashes are given (hex, as `zkey contribute` prints them) and none of them is a
 * secret contribution of the chain (a beacon's secret is public: trusting one proves nothing).
 */
export async function checkDeliveryKey(
  key: DeliveryKey,
  ceremonyZkey: string,
  opts: { trusted?: readonly string[]; onProgress?: ProgressFn } = {},
): Promise<DeliveryKeyCheck> {
  const { delta1, delta2 } = await checkDeltaUpdate(key.zkey, ceremonyZkey, { onProgress: opts.onProgress });
  const contributions = await verifyContributions(ceremonyZkey);
  const forgeable = contributions.every((c) => c.beacon);
  if (opts.trusted !== undefined) {
    const norm = (h: string) => h.toLowerCase().replace(/^0x/, "").replace(/\s+/g, "");
    const trusted = new Set(opts.trusted.map(norm));
    if (!contributions.some((c) => !c.beacon && trusted.has(norm(c.hash)))) {
      throw new DeliveryKeyError(
        `${key.name}: none of the ${contributions.length} contributions of ${ceremonyZkey} is a trusted one (a public beacon never counts)`,
      );
    }
  }
  return { contributions, forgeable, delta1, delta2 };
}
