/**
 * JSON form of a module's public delivery: every number a decimal string, a version field, and a
 * strict parser (shape, decimal strings, field elements below p, coordinates below q) that throws
 * DeliveryFormatError. Parsing says nothing about validity: run checkModuleDelivery.
 */
import { P } from "../field.js";
import type { Groth16Proof } from "../verifier.js";
import type { G1Point } from "../v2/key.js";
import { DeliveryFormatError } from "./errors.js";
import type { ModuleDelivery } from "./module.js";

/** The version tag of the JSON form. */
export const DELIVERY_JSON_VERSION = "zklora-delivery-v2/1";

/** The base-field modulus q of BN254 (G1 coordinates are below it). */
const Q = 21888242871839275222246405745257275088696311157297823662689037894645226208583n;

type Pt = [string, string];

/** The JSON form of {@link ModuleDelivery}. */
export interface ModuleDeliveryJson {
  version: typeof DELIVERY_JSON_VERSION;
  bits: number;
  plan: { N: number; cap: number; chunks: number };
  hK: string;
  chunks: { nonce: number; ct: string[]; Wc: Pt; proof: Groth16Proof }[];
  link: { T: Pt; Tc: Pt[]; z: string[]; zs: string; zc: string[] };
}

const pt = (p: G1Point): Pt => [p[0].toString(), p[1].toString()];

/** A module delivery as JSON (decimal strings). */
export function moduleDeliveryToJson(d: ModuleDelivery): ModuleDeliveryJson {
  return {
    version: DELIVERY_JSON_VERSION,
    bits: d.bits,
    plan: { N: d.plan.N, cap: d.plan.cap, chunks: d.plan.chunks },
    hK: d.hK.toString(),
    chunks: d.chunks.map((c) => ({
      nonce: c.nonce,
      ct: c.ct.map((v) => v.toString()),
      Wc: pt(c.Wc),
      proof: {
        pi_a: [...c.proof.pi_a],
        pi_b: [[...c.proof.pi_b[0]], [...c.proof.pi_b[1]], [...c.proof.pi_b[2]]],
        pi_c: [...c.proof.pi_c],
        protocol: "groth16",
        curve: "bn128",
      },
    })),
    link: {
      T: pt(d.link.T),
      Tc: d.link.Tc.map(pt),
      z: d.link.z.map((v) => v.toString()),
      zs: d.link.zs.toString(),
      zc: d.link.zc.map((v) => v.toString()),
    },
  };
}

const DEC = /^(0|[1-9][0-9]{0,77})$/;

function bad(path: string, what: string): never {
  throw new DeliveryFormatError(`${path}: ${what}`);
}

function obj(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) bad(path, "must be an object");
  return v as Record<string, unknown>;
}

function arr(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) bad(path, "must be an array");
  return v;
}

function int(v: unknown, path: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) bad(path, "must be a non-negative integer");
  return v;
}

function num(v: unknown, path: string, below: bigint, what: string): bigint {
  if (typeof v !== "string" || !DEC.test(v)) bad(path, "must be a decimal string");
  const n = BigInt(v);
  if (n >= below) bad(path, `must be ${what}`);
  return n;
}

const fe = (v: unknown, path: string) => num(v, path, P, "a field element (below p)");
const co = (v: unknown, path: string) => num(v, path, Q, "a base-field coordinate (below q)");

function point(v: unknown, path: string): G1Point {
  const a = arr(v, path);
  if (a.length !== 2) bad(path, "must be a pair of coordinates");
  return [co(a[0], `${path}[0]`), co(a[1], `${path}[1]`)];
}

function proof(v: unknown, path: string): Groth16Proof {
  const p = obj(v, path);
  if (p.protocol !== "groth16" || p.curve !== "bn128") bad(path, 'must be a "groth16" proof on "bn128"');
  const coords = (x: unknown, n: number, at: string): string[] => {
    const a = arr(x, at);
    if (a.length !== n) bad(at, `must have ${n} coordinates`);
    return a.map((c, i) => (co(c, `${at}[${i}]`), c as string));
  };
  const b = arr(p.pi_b, `${path}.pi_b`);
  if (b.length !== 3) bad(`${path}.pi_b`, "must have 3 pairs");
  return {
    pi_a: coords(p.pi_a, 3, `${path}.pi_a`) as Groth16Proof["pi_a"],
    pi_b: b.map((x, i) => coords(x, 2, `${path}.pi_b[${i}]`)) as Groth16Proof["pi_b"],
    pi_c: coords(p.pi_c, 3, `${path}.pi_c`) as Groth16Proof["pi_c"],
    protocol: "groth16",
    curve: "bn128",
  };
}

/** Parses the JSON form (an object or its text); throws DeliveryFormatError naming the first bad field. */
export function moduleDeliveryFromJson(input: unknown): ModuleDelivery {
  let v = input;
  if (typeof v === "string") {
    try {
      v = JSON.parse(v) as unknown;
    } catch (err) {
      bad("delivery", `not JSON (${(err as Error).message})`);
    }
  }
  const j = obj(v, "delivery");
  if (j.version !== DELIVERY_JSON_VERSION) bad("delivery.version", `must be "${DELIVERY_JSON_VERSION}"`);
  const plan = obj(j.plan, "delivery.plan");
  const link = obj(j.link, "delivery.link");
  return {
    bits: int(j.bits, "delivery.bits"),
    plan: {
      N: int(plan.N, "delivery.plan.N"),
      cap: int(plan.cap, "delivery.plan.cap"),
      chunks: int(plan.chunks, "delivery.plan.chunks"),
    },
    hK: fe(j.hK, "delivery.hK"),
    chunks: arr(j.chunks, "delivery.chunks").map((x, i) => {
      const at = `delivery.chunks[${i}]`;
      const c = obj(x, at);
      return {
        nonce: int(c.nonce, `${at}.nonce`),
        ct: arr(c.ct, `${at}.ct`).map((e, k) => fe(e, `${at}.ct[${k}]`)),
        Wc: point(c.Wc, `${at}.Wc`),
        proof: proof(c.proof, `${at}.proof`),
      };
    }),
    link: {
      T: point(link.T, "delivery.link.T"),
      Tc: arr(link.Tc, "delivery.link.Tc").map((x, i) => point(x, `delivery.link.Tc[${i}]`)),
      z: arr(link.z, "delivery.link.z").map((x, i) => fe(x, `delivery.link.z[${i}]`)),
      zs: fe(link.zs, "delivery.link.zs"),
      zc: arr(link.zc, "delivery.link.zc").map((x, i) => fe(x, `delivery.link.zc[${i}]`)),
    },
  };
}
