/**
 * bench:mpi under stress (issue #17): legitimate calls at concurrency 8 from a buyer process of their
 * own (bench/mpi-load-client.ts) against the contributor's server (in this process, so its
 * event-loop delay is measured) while
 *  1. two prover processes of the proving pool prove the shape's module back to back, and
 *  2. abusive clients hit it: 1,100 idle sockets, slow headers, slow bodies, 100 MB bodies (declared
 *     and chunked) and wrong content types.
 * Reports latency (p50/p99), the event-loop delay, and what each abuser got. Used by bench/mpi.ts.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { Wallet } from "ethers";
import { saveDealContext } from "../src/mpi/index.js";
import type { CommitSecrets, DealContext } from "../src/mpi/index.js";
import { ProvingPool } from "../src/zk/pool.js";
import { loraProduct } from "../src/zk/statement.js";
import { buildShapeKey, foldEntry, v2CircuitInput, v2PublicInputs } from "../src/zk/v2/index.js";
import { matrix } from "./common.js";

const LOAD_CLIENT = fileURLToPath(new URL("./mpi-load-client.ts", import.meta.url));

/** The p99 latency goal at concurrency 8 under abusive clients (ms). */
export const STRESS_P99_GOAL_MS = 50;

const round = (v: number, d = 2) => Math.round(v * 10 ** d) / 10 ** d;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return round(s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))]);
}

export interface StressRun {
  calls: number;
  concurrency: number;
  latencyMs: { p50: number; p99: number; max: number };
  callsPerSecond: number;
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  /**
   * CPU time of this process (the server: all its threads, the database writer included) per call,
   * over the load client's life (its warm-up calls counted; abusers, when present, too).
   */
  serverCpuMsPerCall: number;
}

/**
 * `calls` one-row calls from `concurrency` clients, each with one call in flight, sent by a buyer
 * process of their own (bench/mpi-load-client.ts); this process's event-loop delay (the server's)
 * is measured meanwhile.
 */
async function callsAt(
  url: string,
  dealFile: string,
  buyer: Wallet,
  concurrency: number,
  calls: number,
  seed: number,
): Promise<StressRun> {
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const cpu0 = process.cpuUsage();
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      LOAD_CLIENT,
      url,
      dealFile,
      buyer.privateKey,
      String(concurrency),
      String(calls),
      String(seed),
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.on("exit", r));
  const cpu = process.cpuUsage(cpu0);
  loop.disable();
  if (code !== 0) throw new Error(`the load client exited with ${code}`);
  const { lat, wallS } = JSON.parse(out.trim().split("\n").pop()!) as { lat: number[]; wallS: number };
  return {
    calls: lat.length,
    concurrency,
    latencyMs: { p50: pct(lat, 50), p99: pct(lat, 99), max: round(Math.max(...lat)) },
    callsPerSecond: round(lat.length / wallS, 1),
    eventLoopDelayMs: {
      p50: round(loop.percentile(50) / 1e6),
      p99: round(loop.percentile(99) / 1e6),
      max: round(loop.max / 1e6),
    },
    serverCpuMsPerCall: round((cpu.user + cpu.system) / 1000 / (lat.length + concurrency), 3),
  };
}

/** What a raw HTTP exchange ended with: the status line's code, or how the socket ended. */
function rawExchange(
  port: number,
  send: (s: Socket) => void,
  timeoutMs: number,
): { socket: Socket; outcome: Promise<string> } {
  const socket = connect(port, "127.0.0.1");
  const outcome = new Promise<string>((resolve) => {
    let data = "";
    const done = () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      resolve(m ? m[1] : "closed without answer");
    };
    let connected = false;
    const timer = setTimeout(() => {
      resolve(connected ? "still open" : "not connected yet");
      socket.destroy();
    }, timeoutMs);
    socket.on("connect", () => {
      connected = true;
      send(socket);
    });
    socket.on("data", (d: Buffer) => {
      data += d.toString("latin1");
      if (/^HTTP\/1\.1 \d{3}/.test(data)) {
        clearTimeout(timer);
        done();
        socket.destroy();
      }
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      done();
    });
  });
  return { socket, outcome };
}

function tally(outcomes: string[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const o of outcomes) t[o] = (t[o] ?? 0) + 1;
  return t;
}

/** Keeps two prover processes busy with real proofs of the deal's module until `stop()`. */
async function busyProvers(
  deal: DealContext,
  secrets: CommitSecrets,
): Promise<{ stop: () => Promise<number> }> {
  const mod = deal.manifest.modules[0];
  const key = await buildShapeKey({ DIN: mod.DIN, R: mod.R, DOUT: mod.DOUT });
  const opening = secrets.modules[0];
  const X = matrix(4, mod.DIN, 77, 4096);
  const Y = loraProduct(X, opening.A, opening.B);
  const fold = await foldEntry(key, X, Y, {
    chainId: deal.chainId,
    escrow: deal.escrow,
    dealId: deal.dealId,
    module: 0n,
  });
  const input = v2CircuitInput(key, fold, opening);
  const expected = v2PublicInputs(key, fold, opening);
  const pool = new ProvingPool({ maxWorkers: 2 });
  let running = true;
  let proofs = 0;
  const loops = [0, 1].map(async () => {
    while (running) {
      await pool.proveInput({ name: key.name, wasm: key.wasm, zkey: key.zkey }, input, expected);
      proofs++;
    }
  });
  // wait for the first proof so that the provers are warm when the measured calls start
  while (proofs === 0) await new Promise((r) => setTimeout(r, 50));
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      await pool.close();
      return proofs;
    },
  };
}

/** The stress runs of one server (url) and its hosted deal. */
export async function stress(
  url: string,
  deal: DealContext,
  secrets: CommitSecrets,
  buyer: Wallet,
  calls = 800,
): Promise<unknown> {
  const port = Number(new URL(url).port);
  const dir = await mkdtemp(path.join(os.tmpdir(), "zklora-stress-"));
  const dealFile = path.join(dir, "deal.json");
  await saveDealContext(dealFile, deal);
  try {
    return await stressRuns(url, port, dealFile, deal, secrets, buyer, calls);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function stressRuns(
  url: string,
  port: number,
  dealFile: string,
  deal: DealContext,
  secrets: CommitSecrets,
  buyer: Wallet,
  calls: number,
): Promise<unknown> {
  const baseline = await callsAt(url, dealFile, buyer, 8, calls, 10_000);
  console.log(
    `stress: baseline x8 p99 ${baseline.latencyMs.p99} ms, loop p99 ${baseline.eventLoopDelayMs.p99} ms, server CPU ${baseline.serverCpuMsPerCall} ms per call`,
  );

  const provers = await busyProvers(deal, secrets);
  const t0 = performance.now();
  const withProofs = await callsAt(url, dealFile, buyer, 8, calls, 20_000);
  const proofsDuring = await provers.stop();
  const proofSeconds = (performance.now() - t0) / 1000;
  console.log(
    `stress: with 2 provers busy x8 p99 ${withProofs.latencyMs.p99} ms, loop p99 ${withProofs.eventLoopDelayMs.p99} ms (${proofsDuring} proofs)`,
  );

  // the abusers, all at once
  const WAIT = 30_000; // beyond the server's 10 s header and 15 s body timeouts
  const idle = Array.from({ length: 1100 }, () => rawExchange(port, () => {}, WAIT));
  const slowHeaders = Array.from({ length: 16 }, () =>
    rawExchange(
      port,
      (s) => {
        s.write("GET /v2/health HTTP/1.1\r\n");
        const t = setInterval(() => (s.writable ? s.write("x-slow: 1\r\n") : clearInterval(t)), 500);
        s.on("close", () => clearInterval(t));
      },
      WAIT,
    ),
  );
  const slowBodies = Array.from({ length: 8 }, () =>
    rawExchange(
      port,
      (s) => {
        s.write(
          `POST /v2/deals/${deal.dealId}/modules/0/infer HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 10000\r\n\r\n{`,
        );
        const t = setInterval(() => (s.writable ? s.write(" ") : clearInterval(t)), 1000);
        s.on("close", () => clearInterval(t));
      },
      WAIT,
    ),
  );
  const HUNDRED_MB = 100 * 2 ** 20;
  const chunk = Buffer.alloc(2 ** 20, 0x31);
  const bigBodies = [true, true, false, false].map((declared) =>
    rawExchange(
      port,
      (s) => {
        s.write(
          `POST /v2/deals/${deal.dealId}/modules/0/infer HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n` +
            (declared ? `content-length: ${HUNDRED_MB}\r\n\r\n` : "transfer-encoding: chunked\r\n\r\n"),
        );
        let sent = 0;
        const pump = () => {
          while (s.writable && sent < HUNDRED_MB) {
            sent += chunk.length;
            const piece = declared
              ? chunk
              : Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]);
            if (!s.write(piece)) return void s.once("drain", pump);
          }
          if (s.writable && !declared) s.write("0\r\n\r\n");
        };
        pump();
      },
      WAIT,
    ),
  );
  const wrongTypes = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
  ].flatMap((type) =>
    Array.from({ length: 7 }, () =>
      rawExchange(
        port,
        (s) => {
          const body = "X=1&hX=2";
          s.write(
            `POST /v2/deals/${deal.dealId}/modules/0/infer HTTP/1.1\r\nHost: x\r\ncontent-type: ${type}\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
          );
        },
        WAIT,
      ),
    ),
  );
  await new Promise((r) => setTimeout(r, 300)); // let the sockets connect
  const underAbuse = await callsAt(url, dealFile, buyer, 8, calls, 30_000);
  console.log(
    `stress: under abuse x8 p99 ${underAbuse.latencyMs.p99} ms (goal ≤ ${STRESS_P99_GOAL_MS}), loop p99 ${underAbuse.eventLoopDelayMs.p99} ms, server CPU ${underAbuse.serverCpuMsPerCall} ms per call`,
  );
  const outcomes = {
    idleSockets1100: tally(await Promise.all(idle.map((x) => x.outcome))),
    slowHeaders16: tally(await Promise.all(slowHeaders.map((x) => x.outcome))),
    slowBodies8: tally(await Promise.all(slowBodies.map((x) => x.outcome))),
    body100MB: {
      declaredLength: tally(await Promise.all(bigBodies.slice(0, 2).map((x) => x.outcome))),
      chunked: tally(await Promise.all(bigBodies.slice(2).map((x) => x.outcome))),
    },
    wrongContentType21: tally(await Promise.all(wrongTypes.map((x) => x.outcome))),
  };
  console.log(`stress: abusers got ${JSON.stringify(outcomes)}`);
  const after = await callsAt(url, dealFile, buyer, 8, 80, 40_000);
  return {
    baseline,
    withProofs: { ...withProofs, proversBusy: 2, proofsDuring, proofSeconds: round(proofSeconds, 1) },
    underAbuse,
    abusers: outcomes,
    afterAbuse: after,
    goal: {
      p99GoalMs: STRESS_P99_GOAL_MS,
      p99Ms: underAbuse.latencyMs.p99,
      met: underAbuse.latencyMs.p99 <= STRESS_P99_GOAL_MS,
    },
  };
}
