/**
 * The progress component (src/app/progress.ts): plain lines off a terminal (start, every tenth of a
 * bar, every `everyMs` while a line runs, end), an ETA on bars, the zk layer's `timed` steps as task
 * lines or notes, snarkjs's raw logger lines only with `verbose` (the tasks' --verbose), redrawn
 * lines on a terminal, and nothing left running after close().
 */
import { expect } from "chai";
import { Writable } from "node:stream";
import { Progress, formatDuration } from "../../src/app/progress.js";
import { progressLogger, timed } from "../../src/zk/progress.js";
import { runTask } from "../../tasks/actions/lib.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A Progress writing plain lines into an array. */
function collect(opts: { verbose?: boolean; everyMs?: number } = {}) {
  const lines: string[] = [];
  const progress = new Progress({ write: (l) => lines.push(l), ...opts });
  return { lines, progress };
}

/** A stream that says it is (or is not) a terminal, keeping what is written. */
class FakeStream extends Writable {
  text = "";
  constructor(
    readonly isTTY: boolean,
    readonly columns = 100,
  ) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

describe("# progress component", function () {
  it("Should print a task's start and end as plain lines, and its elapsed time while it runs", async function () {
    const { lines, progress } = collect({ everyMs: 40 });
    const out = await progress.run("groth16 setup", async () => {
      await sleep(150);
      return 7;
    });
    expect(out).to.equal(7);
    expect(lines[0]).to.equal("groth16 setup ...");
    expect(lines.slice(1, -1).length, lines.join("\n")).to.be.greaterThan(0);
    for (const l of lines.slice(1, -1)) expect(l).to.match(/^groth16 setup \.\.\. \d+\.\d s elapsed$/);
    expect(lines.at(-1)).to.match(/^groth16 setup done in \d+\.\d s$/);
    progress.close();
  });

  it("Should end a task that throws as failed, and rethrow", async function () {
    const { lines, progress } = collect();
    let thrown: unknown;
    try {
      await progress.run("contribution", async () => {
        throw new Error("boom");
      });
    } catch (err) {
      thrown = err;
    }
    expect((thrown as Error).message).to.equal("boom");
    expect(lines).to.deep.equal(["contribution ...", lines[1]]);
    expect(lines[1]).to.match(/^contribution failed after \d+\.\d s$/);
  });

  it("Should print a bar at its start, at every tenth of its total with count, percent and ETA, and at its end", async function () {
    const { lines, progress } = collect({ everyMs: 60_000 });
    const bar = progress.bar("proofs", 20);
    for (let i = 0; i < 20; i++) {
      await sleep(2);
      bar.tick(`module ${i}`);
    }
    bar.done();
    expect(lines[0]).to.equal("proofs  0/20 ...");
    const middle = lines.slice(1, -1);
    // 2/20, 4/20, ..., 18/20: one line per tenth (the last one is the done line)
    expect(middle.map((l) => /^proofs {2}(\d+)\/20/.exec(l)?.[1])).to.deep.equal(
      ["2", "4", "6", "8", "10", "12", "14", "16", "18"],
      lines.join("\n"),
    );
    for (const l of middle) {
      expect(l).to.match(/^proofs {2}\d+\/20 {2}\d+% {2}\d+\.\d s elapsed {2}ETA \d+\.\d s {2}module \d+$/);
    }
    expect(middle[4]).to.match(/ 50% /);
    expect(lines.at(-1)).to.match(/^proofs {2}20\/20 {2}done in \d+\.\d s$/);
  });

  it("Should estimate the time left from the rate so far", async function () {
    const { progress } = collect();
    const bar = progress.bar("chunks", 4);
    expect(bar.etaMs(), "no ETA before the first item").to.equal(undefined);
    await sleep(100);
    bar.tick();
    const eta = bar.etaMs()!;
    // one item in ≥ 100 ms, three left: about 300 ms
    expect(eta).to.be.greaterThan(250);
    expect(eta).to.be.lessThan(3 * bar.elapsedMs + 50);
    expect(bar.runningText()).to.match(/ETA /);
    bar.tick(undefined, 3);
    expect(bar.etaMs()).to.equal(undefined);
    bar.done();
  });

  it("Should report a long bar every `everyMs` even between items", async function () {
    const { lines, progress } = collect({ everyMs: 40 });
    const bar = progress.bar("chunk proofs", 2);
    await sleep(150);
    bar.tick("chunk 0");
    bar.tick("chunk 1");
    bar.done();
    const waiting = lines.filter((l) => /^chunk proofs {2}0\/2 {2}0% {2}\d+\.\d s elapsed$/.test(l));
    expect(waiting.length, lines.join("\n")).to.be.greaterThan(0);
  });

  it("Should show the zk layer's timed steps as task lines and snarkjs's raw lines only with verbose", async function () {
    for (const verbose of [false, true]) {
      const { lines, progress } = collect({ verbose });
      const zk = progress.zk();
      zk("v2_i8_r2_o8: 120 constraints, 5 public inputs, needs ptau 2^8");
      await timed(zk, "v2_i8_r2_o8: groth16 setup (newZKey, δ = 1)", async () => {
        const logger = progressLogger(zk, "v2_i8_r2_o8", 0)!;
        logger.info("Reading r1cs");
        logger.debug("Processing constraints: 10/120");
        logger.warn("a warning");
      });
      const raw = ["v2_i8_r2_o8: Reading r1cs", "v2_i8_r2_o8: Processing constraints: 10/120"];
      expect(lines[0]).to.equal("v2_i8_r2_o8: 120 constraints, 5 public inputs, needs ptau 2^8");
      expect(lines[1]).to.equal("v2_i8_r2_o8: groth16 setup (newZKey, δ = 1) ...");
      expect(lines.at(-1)).to.match(/^v2_i8_r2_o8: groth16 setup \(newZKey, δ = 1\) done in \d+\.\d s$/);
      // warnings always show; snarkjs's own info/debug lines only with --verbose
      expect(lines).to.include("v2_i8_r2_o8: warning: a warning");
      for (const r of raw) expect(lines.includes(r), `${r} with verbose ${verbose}`).to.equal(verbose);
      expect(lines).to.have.length(verbose ? 6 : 4);
      progress.close();
    }
  });

  it("Should end the zk layer's task line as failed when its step throws", async function () {
    const { lines, progress } = collect();
    let failed = false;
    try {
      await timed(progress.zk(), "wrap: prove", async () => {
        throw new Error("no");
      });
    } catch {
      failed = true;
    }
    expect(failed).to.equal(true);
    expect(lines[0]).to.equal("wrap: prove ...");
    expect(lines[1]).to.match(/^wrap: prove failed after \d+\.\d s$/);
  });

  it("Should turn timed steps inside a line into its note, and gate raw lines there too", async function () {
    for (const verbose of [false, true]) {
      const { lines, progress } = collect({ verbose, everyMs: 30 });
      await progress.run("key-wrap proof", async (task) => {
        const zk = task.zk();
        await timed(zk, "wrap_v2: witness", async () => {
          progressLogger(zk, "prove")!.info("raw snarkjs line");
          await sleep(100);
        });
      });
      expect(lines[0]).to.equal("key-wrap proof ...");
      expect(
        lines.some((l) => /^key-wrap proof \.\.\. \d+\.\d s elapsed {2}wrap_v2: witness$/.test(l)),
      ).to.equal(true, lines.join("\n"));
      expect(lines.at(-1)).to.match(/^key-wrap proof done in \d+\.\d s$/);
      expect(lines.includes("prove: raw snarkjs line")).to.equal(verbose);
      expect(
        lines.filter((l) => l.includes("wrap_v2: witness ...") || l.includes("witness done")),
      ).to.have.length(0);
    }
  });

  it("Should indent a child's lines and share its output", async function () {
    const { lines, progress } = collect();
    const sub = progress.child("      ");
    progress.log("[1/12] deploy");
    sub.log("deal 1");
    await sub.run("setup", async () => undefined);
    expect(lines[0]).to.equal("[1/12] deploy");
    expect(lines[1]).to.equal("      deal 1");
    expect(lines[2]).to.equal("      setup ...");
    expect(lines[3]).to.match(/^ {6}setup done in/);
  });

  it("Should write plain lines to a stream that is not a terminal, and redraw on one", async function () {
    const pipe = new FakeStream(false);
    const plain = new Progress({ stream: pipe });
    expect(plain.live).to.equal(false);
    const b1 = plain.bar("proofs", 2);
    b1.tick("m0");
    b1.tick("m1");
    b1.done();
    plain.close();
    expect(pipe.text).to.not.include("\x1b[");
    expect(pipe.text.split("\n").filter((l) => l !== "")).to.have.length(3);

    const tty = new FakeStream(true, 120);
    const live = new Progress({ stream: tty });
    expect(live.live).to.equal(true);
    const b2 = live.bar("proofs", 2);
    live.log("a line above the bar");
    await sleep(300);
    b2.tick("m0");
    await sleep(300);
    b2.tick("m1");
    b2.done();
    await live.run("setup", async () => sleep(300));
    live.close();
    expect(tty.text).to.include("\x1b["); // cursor movements: redrawn in place
    expect(tty.text).to.include("a line above the bar\n");
    expect(tty.text).to.match(/proofs .*1\/2 {2}50%/);
    expect(tty.text).to.match(/proofs {2}2\/2 {2}done in \d+\.\d s\n/);
    expect(tty.text).to.match(/setup done in \d+\.\d s\n/);
    // never touches the terminal's state: no hidden cursor, no line wrapping switched off
    expect(tty.text).to.not.include("\x1b[?25l");
    expect(tty.text).to.not.include("\x1b[?7l");
  });

  it("Should end the lines still open on close(), as stopped", async function () {
    const { lines, progress } = collect({ everyMs: 10 });
    progress.task("prove");
    progress.bar("chunks", 3).tick();
    progress.close();
    const n = lines.length;
    await sleep(50);
    expect(lines.length, "no line after close").to.equal(n);
    expect(lines.filter((l) => /failed after .* stopped$/.test(l))).to.have.length(2);
  });

  it("Should follow a step's options: its progress, plain lines to its log, the log only, or nothing", function () {
    const p = Progress.silent();
    expect(Progress.of({ progress: p })).to.equal(p);
    const lines: string[] = [];
    const viaLog = Progress.of({ log: (l) => lines.push(l) });
    viaLog.task("setup").done();
    viaLog.log("a line");
    expect(lines[0]).to.equal("setup ...");
    expect(lines.at(-1)).to.equal("a line");
    const logOnly: string[] = [];
    const noSteps = Progress.of({ log: (l) => logOnly.push(l), progress: false });
    noSteps.bar("proofs", 1).tick();
    noSteps.log("checking");
    expect(logOnly).to.deep.equal(["checking"]);
    const none = Progress.of({});
    none.log("nothing");
    none.task("x").done();
  });

  it("Should give the tasks' body the component, verbose only with --verbose", async function () {
    expect(await runTask("zklora:x", async (p) => p.verbose)).to.equal(false);
    expect(await runTask({ name: "zklora:x", verbose: false }, async (p) => p.verbose)).to.equal(false);
    expect(await runTask({ name: "zklora:x", verbose: true }, async (p) => p.verbose)).to.equal(true);
  });

  it("Should format durations", function () {
    expect(formatDuration(3210)).to.equal("3.2 s");
    expect(formatDuration(42_400)).to.equal("42 s");
    expect(formatDuration(125_000)).to.equal("2 min 5 s");
    expect(formatDuration(3_780_000)).to.equal("1 h 3 min");
  });
});
