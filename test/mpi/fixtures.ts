/**
 * Shared fixtures of the src/mpi tests (protocol v2): fixed keys, the commit context, a deal
 * context, a deterministic adapter on the tiny shape (DIN 8, R 2, DOUT 8) committed with the real
 * shape key, signed request bodies, raw HTTP helpers, and a tampering proxy that sits between the
 * buyer and the server.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Wallet } from "ethers";
import { STORIES260K_DIR } from "../../src/model/index.js";
import type { PeftAdapter } from "../../src/model/index.js";
import { commitAdapter, eip712Domain, signInferenceRequest } from "../../src/mpi/index.js";
import type { CommitOptions, CommitResult, DealContext, InferRequestBody } from "../../src/mpi/index.js";
import { activationDigest, buildShapeKey, type ShapeKey, type V2Shape } from "../../src/zk/v2/index.js";
export { rejection } from "../zk/helpers.js";

export const CHAIN_ID = 31337n;
export const ESCROW = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
export const OTHER_ESCROW = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";
export const buyer = new Wallet("0x" + "11".repeat(32));
export const contributor = new Wallet("0x" + "22".repeat(32));
export const stranger = new Wallet("0x" + "33".repeat(32));

/** Where the tests' commitments are used (the proofs of knowledge are bound to it). */
export const CONTEXT = { chainId: CHAIN_ID, escrow: ESCROW, contributor: contributor.address };

/** The tiny v2 shape of the mpi tests (N = 32): the tiny Llama's q_proj and the stand-in layers. */
export const TINY: V2Shape = { DIN: 8, R: 2, DOUT: 8 };

/** The tiny shape's key (compiled and set up once per process, cached on disk by content). */
export function tinyKey(): Promise<ShapeKey> {
  return buildShapeKey(TINY);
}

/** Deterministic uniform floats in [-1, 1) (xorshift32). */
export function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s / 2 ** 32) * 2 - 1;
  };
}

/** The stand-in targets: q_proj and v_proj of layer 0, both 8 -> 8. */
export const STAND_IN_TARGETS = ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj"];

/** A random rank-2 PEFT adapter on the stand-in targets (the protocol tests need no model). */
export function standInAdapter(seed = 7): PeftAdapter {
  const rnd = prng(seed);
  const { DIN, R, DOUT } = TINY;
  return {
    config: { r: R, lora_alpha: 4, target_modules: ["q_proj", "v_proj"], fan_in_fan_out: false },
    scaling: 2,
    modules: STAND_IN_TARGETS.map((name) => ({
      name,
      R,
      DIN,
      DOUT,
      loraA: Float32Array.from({ length: R * DIN }, () => rnd() * 0.5),
      loraB: Float32Array.from({ length: DOUT * R }, () => rnd() * 0.5),
    })),
  } as unknown as PeftAdapter;
}

/** A stand-in base model: two 8 -> 8 targets, stories260k's config.json for the config hash. */
export const standInModel: CommitOptions["model"] = {
  dir: STORIES260K_DIR,
  sha256: "stand-in",
  targets: () =>
    STAND_IN_TARGETS.map((name, index) => ({
      index,
      name,
      layer: 0,
      module: name.split(".").pop()!,
      DIN: TINY.DIN,
      DOUT: TINY.DOUT,
    })),
};

/**
 * A commit of the stand-in adapter (two modules of the tiny shape) in {@link CONTEXT}, with the
 * real shape key; `opts` override commitAdapter's options.
 */
export function tinyCommit(seed = 7, opts: Partial<CommitOptions> = {}): Promise<CommitResult> {
  return commitAdapter({
    model: standInModel,
    adapter: standInAdapter(seed),
    context: CONTEXT,
    shapeKey: (s) => buildShapeKey(s),
    ...opts,
  });
}

export function dealOf(commit: CommitResult, dealId = 1n): DealContext {
  return {
    chainId: CHAIN_ID,
    escrow: ESCROW,
    dealId,
    buyer: buyer.address,
    contributor: contributor.address,
    manifest: commit.manifest,
  };
}

/** `rows` deterministic fixed-point activation rows of DIN entries in [-1000, 1000]. */
export function xRows(rows: number, seed: number, DIN = TINY.DIN): bigint[][] {
  return Array.from({ length: rows }, (_, t) =>
    Array.from({ length: DIN }, (_, i) => BigInt(((seed * 7919 + t * 131 + i * 13) % 2001) - 1000)),
  );
}

/** A signed infer body; `sign` overrides what the signature covers (a cheat signs other values). */
export async function signedBody(
  deal: DealContext,
  module: number,
  X: bigint[][],
  nonce: bigint,
  signer: Wallet = buyer,
  sign: Partial<{ rows: bigint; hX: string; module: bigint; dealId: bigint }> = {},
): Promise<InferRequestBody> {
  const hX = await activationDigest(X, X[0].length);
  const signature = await signInferenceRequest(signer, eip712Domain(deal.chainId, deal.escrow), {
    dealId: deal.dealId,
    module: BigInt(module),
    rows: BigInt(X.length),
    hX,
    nonce,
    ...sign,
  });
  return { X: X.map((r) => r.map(String)), hX, nonce: nonce.toString(), signature };
}

export function inferUrl(url: string, dealId: bigint, module: number): string {
  return `${url}/v2/deals/${dealId}/modules/${module}/infer`;
}

/** POSTs a body (JSON unless `raw`) and returns the status and the parsed JSON answer. */
export async function post(
  url: string,
  body: unknown,
  opts: { raw?: boolean; contentType?: string } = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": opts.contentType ?? "application/json" },
    body: opts.raw === true ? (body as string) : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/**
 * An HTTP proxy in front of `target` that rewrites the 200 JSON answers of routes matching `route`
 * (default: infer calls) with `tamper` (the man in the middle, or a cheating server, the buyer
 * must catch).
 */
export async function tamperingProxy(
  target: string,
  tamper: (body: Record<string, unknown>) => Promise<Record<string, unknown>> | Record<string, unknown>,
  route: RegExp = /\/infer$/,
): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      void (async () => {
        const up = await fetch(target + req.url, {
          method: req.method,
          headers: { "content-type": "application/json" },
          body: req.method === "POST" ? Buffer.concat(chunks) : undefined,
        });
        let text = await up.text();
        if (up.status === 200 && route.test(req.url ?? "")) {
          text = JSON.stringify(await tamper(JSON.parse(text) as Record<string, unknown>));
        }
        res.writeHead(up.status, { "content-type": "application/json" });
        res.end(text);
      })().catch((err: unknown) => {
        res.writeHead(502);
        res.end(String(err));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
