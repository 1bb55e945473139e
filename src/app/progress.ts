/**
 * The one progress component of the tasks and the demo (built on cli-progress):
 *
 * - `progress.task(label)` / `progress.run(label, fn)`: a single long step (a key setup, a
 *   contribution, a δ check, a proof): a spinner with the elapsed time, then "label done in X s";
 * - `progress.bar(label, total)`: countable work (proofs, chunks, modules) with its count, percent,
 *   elapsed time and ETA;
 * - `progress.log(line)`: a line of text (above the live lines on a terminal);
 * - `progress.zk()` / `line.zk()`: adapts the zk layer's `ProgressFn` lines (src/zk keeps no
 *   dependency on this): a `timed` step becomes a task line (or the note of the enclosing line),
 *   snarkjs's own logger lines are printed only with `verbose` (the tasks' --verbose).
 *
 * On a terminal the live lines are redrawn in place (cli-progress's MultiBar). Otherwise (CI, tests,
 * pipes, or a `write` function) each line prints plain lines: its start, a bar at every tenth of
 * its total, any line at least every `everyMs` while it runs, and its end.
 */
import cliProgress from "cli-progress";
import type { ProgressFn, ProgressKind } from "../zk/progress.js";

export type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

export interface ProgressOptions {
  /** Where the lines go (default process.stderr). */
  stream?: ProgressStream;
  /** Plain lines to this function instead of a stream (never redrawn). */
  write?: (line: string) => void;
  /** Redraw live lines in place (default: the stream is a terminal and `write` is not given). */
  live?: boolean;
  /** Print snarkjs's raw logger lines (the tasks' --verbose); default false. */
  verbose?: boolean;
  /** false: print nothing at all. */
  enabled?: boolean;
  /** false: print log lines only, no task or bar lines (default true). */
  steps?: boolean;
  /** Plain lines: a running task or bar reports at least this often (default 30 s). */
  everyMs?: number;
}

/** A duration: "3.2 s", "42 s", "2 min 5 s", "1 h 3 min". */
export function formatDuration(ms: number): string {
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)} s`;
  const r = Math.round(s);
  if (r < 120) return `${r} s`;
  if (r < 3600) return `${Math.floor(r / 60)} min ${r % 60} s`;
  return `${Math.floor(r / 3600)} h ${Math.floor((r % 3600) / 60)} min`;
}

const SPINNER = ["-", "\\", "|", "/"];

/** The output shared by a Progress and its children: live (cli-progress) or plain lines (internal). */
export class ProgressOutput {
  private multi: cliProgress.MultiBar | undefined;
  private readonly liveBars = new Map<Line, cliProgress.SingleBar>();
  private readonly plain = new Set<Line>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly stream: ProgressStream,
    private readonly write: ((line: string) => void) | undefined,
    readonly live: boolean,
    readonly enabled: boolean,
    readonly steps: boolean,
    readonly everyMs: number,
  ) {}

  /** Prints one line (above the live lines while there are any). */
  print(text: string): void {
    if (!this.enabled) return;
    if (this.multi !== undefined) this.above(text);
    else if (this.write !== undefined) this.write(text);
    else this.stream.write(`${text}\n`);
  }

  start(line: Line): void {
    if (!this.enabled || !this.steps) return;
    if (this.live) {
      if (this.multi === undefined) {
        this.multi = new cliProgress.MultiBar({
          stream: this.stream,
          format: (options, params, payload: { line: Line }) =>
            this.fit(payload.line.liveText(cliProgress.Format.BarFormat(params.progress, options))),
          barsize: 20,
          barCompleteChar: "█",
          barIncompleteChar: "░",
          fps: 8,
          // Never touch the terminal's state (cursor, line wrapping): a Ctrl-C leaves it as it was.
          hideCursor: false,
          linewrap: true,
          clearOnComplete: true,
        });
        // cli-progress redraws from a timer; unref it so that a line left open never keeps the
        // process alive (its internals: the `timer` field, re-armed at every redraw).
        const unref = () =>
          (this.multi as unknown as { timer?: NodeJS.Timeout | null } | undefined)?.timer?.unref?.();
        this.multi.on("start", unref);
        this.multi.on("update-post", unref);
      }
      this.liveBars.set(line, this.multi.create(line.total, line.count, { line }));
      return;
    }
    this.plain.add(line);
    this.print(line.startText());
    line.printedAt = performance.now();
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.heartbeat(), Math.max(20, Math.min(1000, this.everyMs / 4)));
      this.timer.unref();
    }
  }

  /** A line changed (count or note); plain lines report a bar at every tenth of its total. */
  changed(line: Line, crossedTenth: boolean): void {
    if (!this.enabled || !this.steps) return;
    const bar = this.liveBars.get(line);
    if (bar !== undefined) bar.update(line.count);
    else if (this.plain.has(line) && crossedTenth) {
      this.print(line.runningText());
      line.printedAt = performance.now();
    }
  }

  finish(line: Line, text: string): void {
    if (!this.enabled || !this.steps) return;
    const bar = this.liveBars.get(line);
    if (bar !== undefined && this.multi !== undefined) {
      this.liveBars.delete(line);
      this.above(text);
      this.multi.remove(bar);
      if (this.liveBars.size === 0) {
        this.multi.stop();
        this.multi = undefined;
      }
      return;
    }
    if (!this.plain.delete(line)) return;
    this.print(text);
    if (this.plain.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** Ends every open line as stopped (e.g. after an error) and the timers. */
  close(): void {
    for (const line of [...this.liveBars.keys(), ...this.plain]) line.fail("stopped");
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.multi?.stop();
    this.multi = undefined;
  }

  /**
   * A line above the live lines, at their next redraw. Each clears its row first: cli-progress
   * clears only the first row it writes its log lines over (the others may hold an old live line).
   */
  private above(text: string): void {
    this.multi?.log(`\x1b[2K${text}\n`);
  }

  private heartbeat(): void {
    const now = performance.now();
    for (const line of this.plain) {
      if (now - line.printedAt >= this.everyMs) {
        this.print(line.runningText());
        line.printedAt = now;
      }
    }
  }

  private fit(text: string): string {
    const width = Math.max(20, (this.stream.columns || 80) - 1);
    return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
  }
}

/** A live line: a task (one long step) or a bar (countable work). */
abstract class Line {
  protected readonly t0 = performance.now();
  protected noteText = "";
  protected ended = false;
  /** When this line last printed a plain line. */
  printedAt = 0;
  /** The work done and to do (a task: 0 of 1). */
  count = 0;
  abstract readonly total: number;

  constructor(
    protected readonly out: ProgressOutput,
    readonly label: string,
    private readonly progress: Progress,
  ) {}

  /** Milliseconds since the line started. */
  get elapsedMs(): number {
    return performance.now() - this.t0;
  }

  /** Whether done() or fail() was called. */
  get finished(): boolean {
    return this.ended;
  }

  /** Sets the note shown after the line's numbers ("" for none). */
  note(text: string): void {
    this.noteText = text;
    this.out.changed(this, false);
  }

  /** Ends the line: "label done in X s". */
  done(note = ""): void {
    if (this.ended) return;
    this.ended = true;
    this.out.finish(this, this.endText(`done in ${formatDuration(this.elapsedMs)}`, note));
  }

  /** Ends the line as failed: "label failed after X s". */
  fail(note = ""): void {
    if (this.ended) return;
    this.ended = true;
    this.out.finish(this, this.endText(`failed after ${formatDuration(this.elapsedMs)}`, note));
  }

  /**
   * A ProgressFn for the zk layer's lines of work inside this line: a `timed` step becomes this
   * line's note while it runs, snarkjs's own lines print only with `verbose`, other lines print.
   */
  zk(): ProgressFn {
    return (msg: string, kind?: ProgressKind) => {
      if (kind === "start") this.note(msg.replace(/ \.\.\.$/, ""));
      else if (kind === "done" || kind === "fail") this.note("");
      else if (kind === "raw") this.progress.raw(msg);
      else this.progress.log(msg);
    };
  }

  protected suffix(note = this.noteText): string {
    return note === "" ? "" : `  ${note}`;
  }

  abstract startText(): string;
  /** The plain line while it runs. */
  abstract runningText(): string;
  /** The redrawn line on a terminal (`bar`: cli-progress's bar of the line's fraction). */
  abstract liveText(bar: string): string;
  protected abstract endText(how: string, note: string): string;
}

/** One long step: a spinner with its elapsed time, then "label done in X s". */
export class ProgressTask extends Line {
  readonly total = 1;

  startText(): string {
    return `${this.label} ...`;
  }

  runningText(): string {
    return `${this.label} ... ${formatDuration(this.elapsedMs)} elapsed${this.suffix()}`;
  }

  liveText(): string {
    const spin = SPINNER[Math.floor(this.elapsedMs / 250) % SPINNER.length];
    return `${spin} ${this.label}  ${formatDuration(this.elapsedMs)} elapsed${this.suffix()}`;
  }

  protected endText(how: string, note: string): string {
    return `${this.label} ${how}${this.suffix(note)}`;
  }
}

/** Countable work: "label  3/10  30%  12 s elapsed  ETA 28 s  note". */
export class ProgressBar extends Line {
  constructor(
    out: ProgressOutput,
    label: string,
    progress: Progress,
    readonly total: number,
  ) {
    super(out, label, progress);
  }

  /** Counts `n` more items done; `note` (e.g. the item's name) replaces the note. */
  tick(note?: string, n = 1): void {
    const before = this.tenth();
    this.count = Math.min(this.total, this.count + n);
    if (note !== undefined) this.noteText = note;
    this.out.changed(this, this.tenth() > before && this.count < this.total);
  }

  /** The estimated time left, in ms (undefined before the first item or after the last). */
  etaMs(): number | undefined {
    if (this.count === 0 || this.count >= this.total) return undefined;
    return (this.elapsedMs / this.count) * (this.total - this.count);
  }

  private tenth(): number {
    return this.total === 0 ? 10 : Math.floor((10 * this.count) / this.total);
  }

  private numbers(): string {
    const pct = this.total === 0 ? 100 : Math.floor((100 * this.count) / this.total);
    const eta = this.etaMs();
    return (
      `${this.count}/${this.total}  ${pct}%  ${formatDuration(this.elapsedMs)} elapsed` +
      (eta === undefined ? "" : `  ETA ${formatDuration(eta)}`)
    );
  }

  startText(): string {
    return `${this.label}  0/${this.total} ...`;
  }

  runningText(): string {
    return `${this.label}  ${this.numbers()}${this.suffix()}`;
  }

  liveText(bar: string): string {
    return `${this.label} ${bar} ${this.numbers()}${this.suffix()}`;
  }

  protected endText(how: string, note: string): string {
    return `${this.label}  ${this.count}/${this.total}  ${how}${this.suffix(note)}`;
  }
}

/** The progress component (see the module comment). */
export class Progress {
  /** Prints snarkjs's raw logger lines. */
  readonly verbose: boolean;
  private readonly out: ProgressOutput;
  private readonly indent: string;
  /** The zk layer's `timed` steps running as task lines of `zk()`, by label. */
  private readonly zkTasks = new Map<string, ProgressTask[]>();

  constructor(opts: ProgressOptions = {}, shared?: { out: ProgressOutput; indent: string }) {
    this.verbose = opts.verbose === true;
    this.indent = shared?.indent ?? "";
    this.out =
      shared?.out ??
      (() => {
        const stream = opts.stream ?? process.stderr;
        return new ProgressOutput(
          stream,
          opts.write,
          opts.live ?? (opts.write === undefined && stream.isTTY === true),
          opts.enabled !== false,
          opts.steps !== false,
          opts.everyMs ?? 30_000,
        );
      })();
  }

  /** Prints nothing. */
  static silent(): Progress {
    return new Progress({ enabled: false });
  }

  /**
   * The progress of a library step: its `progress` option, else plain lines to its `log` (nothing
   * without one); `false`: only the log lines, no task or bar lines.
   */
  static of(o: { progress?: Progress | false; log?: (line: string) => void }): Progress {
    if (o.progress instanceof Progress) return o.progress;
    return new Progress({ write: o.log, enabled: o.log !== undefined, steps: o.progress !== false });
  }

  /** Whether lines are redrawn in place (a terminal). */
  get live(): boolean {
    return this.out.live;
  }

  /** The same output, with every label and line indented by `indent` more. */
  child(indent: string): Progress {
    return new Progress({ verbose: this.verbose }, { out: this.out, indent: this.indent + indent });
  }

  /** Prints a line. */
  log(line: string): void {
    this.out.print(`${this.indent}${line}`);
  }

  /** Prints a raw line of snarkjs's logger, only with `verbose`. */
  raw(line: string): void {
    if (this.verbose) this.log(line);
  }

  /** Starts a task line; end it with done() or fail(). */
  task(label: string): ProgressTask {
    const t = new ProgressTask(this.out, `${this.indent}${label}`, this);
    this.out.start(t);
    return t;
  }

  /** Runs `fn` as a task line: done when it returns, failed when it throws. */
  async run<T>(label: string, fn: (task: ProgressTask) => Promise<T>): Promise<T> {
    const t = this.task(label);
    try {
      const out = await fn(t);
      t.done();
      return out;
    } catch (err) {
      t.fail();
      throw err;
    }
  }

  /** Starts a bar over `total` items; tick() each, then done() (or fail()). */
  bar(label: string, total: number): ProgressBar {
    const b = new ProgressBar(this.out, `${this.indent}${label}`, this, total);
    this.out.start(b);
    return b;
  }

  /**
   * A ProgressFn for the zk layer: each `timed` step is a task line ("label done in X s"),
   * snarkjs's own logger lines print only with `verbose`, other lines print.
   */
  zk(): ProgressFn {
    return (msg: string, kind?: ProgressKind) => {
      if (kind === "start") {
        const label = msg.replace(/ \.\.\.$/, "");
        this.zkTasks.set(label, [...(this.zkTasks.get(label) ?? []), this.task(label)]);
      } else if (kind === "done" || kind === "fail") {
        for (const [label, tasks] of this.zkTasks) {
          if (!msg.startsWith(`${label} ${kind === "done" ? "done in" : "failed after"} `)) continue;
          const t = tasks.shift();
          if (tasks.length === 0) this.zkTasks.delete(label);
          if (kind === "done") t?.done();
          else t?.fail();
          return;
        }
      } else if (kind === "raw") this.raw(msg);
      else this.log(msg);
    };
  }

  /** Ends every line still open (as stopped) and the timers: call it when the command ends. */
  close(): void {
    this.out.close();
  }
}

/** Runs `worker` over `items` with at most `concurrency` at a time, in order of start. */
export async function pool<T, R>(
  items: readonly T[],
  concurrency: number,
  worker: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await worker(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, run));
  return out;
}
