/**
 * A live progress line for long steps: `label  3/10  30%  12 s elapsed  ETA 28 s  note`.
 * On a terminal it rewrites one line; otherwise (CI, pipes) it prints one line per update.
 */

function secs(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}

export interface ProgressOptions {
  /** Where to write (default process.stderr). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** false: print nothing. */
  enabled?: boolean;
}

export class ProgressLine {
  private done = 0;
  private readonly t0 = performance.now();
  private readonly stream: NodeJS.WritableStream & { isTTY?: boolean };
  private readonly tty: boolean;
  private readonly enabled: boolean;

  constructor(
    private readonly label: string,
    private readonly total: number,
    opts: ProgressOptions = {},
  ) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = this.stream.isTTY === true;
    this.enabled = opts.enabled !== false;
    this.render("started");
  }

  /** The text of the line now. */
  text(note = ""): string {
    const elapsed = performance.now() - this.t0;
    const pct = this.total === 0 ? 100 : Math.floor((100 * this.done) / this.total);
    const eta =
      this.done === 0 || this.done >= this.total
        ? ""
        : `  ETA ${secs((elapsed / this.done) * (this.total - this.done))}`;
    return `${this.label}  ${this.done}/${this.total}  ${pct}%  ${secs(elapsed)} elapsed${eta}${note === "" ? "" : `  ${note}`}`;
  }

  /** Counts `n` more items done. */
  tick(note = "", n = 1): void {
    this.done += n;
    this.render(note);
  }

  /** Ends the line. */
  finish(note = "done"): void {
    if (!this.enabled) return;
    if (this.tty) this.stream.write(`\r\x1b[2K${this.text(note)}\n`);
    else this.stream.write(`${this.text(note)}\n`);
  }

  private render(note: string): void {
    if (!this.enabled) return;
    if (this.tty) this.stream.write(`\r\x1b[2K${this.text(note)}`);
    else this.stream.write(`${this.text(note)}\n`);
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
