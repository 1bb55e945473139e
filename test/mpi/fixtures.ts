/**
 * Shared fixtures of the src/mpi tests: fixed keys, a deal context, a deterministic adapter on
 * the tiny test shape, and a tampering proxy that sits between the buyer and the server.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Wallet } from "ethers";
import type { PeftAdapter } from "../../src/model/index.js";
import { commitAdapter } from "../../src/mpi/index.js";
import type { CommitOptions, CommitResult, DealContext, ShapeRef } from "../../src/mpi/index.js";
import { STORIES260K_DIR } from "../../src/model/index.js";

export const CHAIN_ID = 31337n;
export const ESCROW = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
export const buyer = new Wallet("0x" + "11".repeat(32));
export const contributor = new Wallet("0x" + "22".repeat(32));
export const stranger = new Wallet("0x" + "33".repeat(32));

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

/** The tiny circuit shape of circuits/shapes.json (T 2, DIN 8, R 2, DOUT 8). */
export const TINY: ShapeRef = { name: "t2_i8_r2_o8", T: 2, DIN: 8, R: 2, DOUT: 8 };

/**
 * A commit of a random rank-2 adapter on two 8 -> 8 layers of a stand-in target list (the
 * protocol tests need the server's checks, not a model). Module 0 and 1 use the tiny shape unless
 * `opts` (passed to commitAdapter) say otherwise.
 */
export async function tinyCommit(seed = 7, opts: Partial<CommitOptions> = {}): Promise<CommitResult> {
  const rnd = prng(seed);
  const names = ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj"];
  const { DIN, R, DOUT } = TINY;
  const adapter: PeftAdapter = {
    config: { r: R, lora_alpha: 4, target_modules: ["q_proj", "v_proj"], fan_in_fan_out: false },
    scaling: 2,
    modules: names.map((name) => ({
      name,
      R,
      DIN,
      DOUT,
      loraA: Float32Array.from({ length: R * DIN }, () => rnd() * 0.5),
      loraB: Float32Array.from({ length: DOUT * R }, () => rnd() * 0.5),
    })),
  } as unknown as PeftAdapter;
  const model = {
    dir: STORIES260K_DIR,
    sha256: "stand-in",
    targets: () =>
      names.map((name, index) => ({ index, name, layer: 0, module: name.split(".").pop()!, DIN, DOUT })),
  };
  return commitAdapter({ model, adapter, shapes: [TINY], ...opts });
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
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
