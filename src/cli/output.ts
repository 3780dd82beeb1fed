import cliProgress from "cli-progress";
import type { BlobAction, ProgressListener } from "../util/progress.js";
import type { CliContext } from "./context.js";

type ProgressMode = "auto" | "tty" | "plain" | "json" | "none";

export function humanBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

const short = (d: string): string => d.replace(/^sha256:/, "").slice(0, 12);
const name = (d: { digest: string; label?: string }): string => d.label ?? short(d.digest);

const ACTION_WORD: Record<BlobAction, string> = {
  download: "Downloading",
  upload: "Uploading",
  mount: "Mounted",
  exists: "Already present",
  write: "Writing",
};

/**
 * The CLI's voice: seed-style log lines (`[info] ...`, `[success] ...`) on stderr,
 * results on stdout, and progress rendered for the medium: bars on a terminal,
 * plain lines without one (CI), JSON lines on request.
 */
export class Output {
  readonly mode: Exclude<ProgressMode, "auto">;
  private bars: cliProgress.MultiBar | undefined;
  private readonly active = new Map<string, cliProgress.SingleBar>();

  constructor(
    private readonly ctx: CliContext,
    opts: { progress?: ProgressMode; quiet?: boolean; debug?: boolean } = {},
  ) {
    const want = opts.progress ?? "auto";
    if (opts.quiet) this.mode = "none";
    else if (want === "auto") this.mode = ctx.stderr.isTTY && !ctx.env["CI"] ? "tty" : "plain";
    else this.mode = want;
    this.debugEnabled = opts.debug ?? ctx.debug ?? false;
  }

  private readonly debugEnabled: boolean;

  private line(tag: string, msg: string): void {
    if (this.mode === "json") {
      this.ctx.stderr.write(`${JSON.stringify({ level: tag, message: msg })}\n`);
      return;
    }
    const text = `[${tag}] ${msg}\n`;
    if (this.bars) this.bars.log(text);
    else this.ctx.stderr.write(text);
  }

  info(msg: string): void {
    if (this.mode !== "none") this.line("info", msg);
  }
  success(msg: string): void {
    if (this.mode !== "none") this.line("success", msg);
  }
  warning(msg: string): void {
    this.line("warning", msg);
  }
  error(msg: string): void {
    this.line("error", msg);
  }
  /** Whether `debug` lines are shown (a line costly to make is made only then). */
  get debugging(): boolean {
    return this.debugEnabled;
  }
  debug(msg: string): void {
    if (this.debugEnabled) this.line("debug", msg);
  }

  /** Write a result to stdout (never decorated). */
  result(text: string): void {
    this.ctx.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  }

  /** A ProgressListener rendering transfers for this output's mode. */
  progress(): ProgressListener {
    switch (this.mode) {
      case "none":
        return {};
      case "json":
        return {
          phase: (name, total) => this.json({ event: "phase", name, total }),
          blobStart: (d, action) => this.json({ event: "blobStart", digest: d.digest, size: d.size, action }),
          blobDone: (d, action) => this.json({ event: "blobDone", digest: d.digest, size: d.size, action }),
          info: (message) => this.json({ event: "info", message }),
          warn: (message) => this.json({ event: "warning", message }),
        };
      case "plain":
        return {
          phase: (name) => this.info(name),
          blobStart: (d, action) => {
            if (action === "download" || action === "upload" || action === "write") {
              this.info(`${ACTION_WORD[action]} ${name(d)} (${humanBytes(d.size)})`);
            }
          },
          blobDone: (d, action) => {
            if (action === "mount" || action === "exists") this.info(`${ACTION_WORD[action]}: ${name(d)}`);
          },
          info: (m) => this.info(m),
          warn: (m) => this.warning(m),
        };
      case "tty":
        return {
          phase: (name) => this.info(name),
          blobStart: (d, action) => {
            if (action === "mount" || action === "exists") return;
            const bars = this.ensureBars();
            const bar = bars.create(Math.max(d.size, 1), 0, {
              label: `${ACTION_WORD[action]} ${name(d)}`,
            });
            this.active.set(d.digest, bar);
          },
          blobProgress: (d, done) => this.active.get(d.digest)?.update(done),
          blobDone: (d, action) => {
            const bar = this.active.get(d.digest);
            if (bar) {
              bar.update(Math.max(d.size, 1));
              bar.stop();
              this.bars?.remove(bar);
              this.active.delete(d.digest);
              this.line("info", `${ACTION_WORD[action]} ${name(d)} done (${humanBytes(d.size)})`);
            } else if (action === "mount" || action === "exists") {
              this.line("info", `${ACTION_WORD[action]}: ${name(d)}`);
            }
            if (this.active.size === 0) this.stopBars();
          },
          info: (m) => this.info(m),
          warn: (m) => this.warning(m),
        };
    }
  }

  private json(o: Record<string, unknown>): void {
    this.ctx.stderr.write(`${JSON.stringify(o)}\n`);
  }

  private ensureBars(): cliProgress.MultiBar {
    if (!this.bars) {
      this.bars = new cliProgress.MultiBar(
        {
          stream: this.ctx.stderr as NodeJS.WriteStream,
          format: " {label} [{bar}] {percentage}% | {value}/{total}",
          hideCursor: true,
          clearOnComplete: true,
          formatValue: (v, _o, type) => (type === "value" || type === "total" ? humanBytes(v) : String(v)),
        },
        cliProgress.Presets.shades_classic,
      );
    }
    return this.bars;
  }

  private stopBars(): void {
    this.bars?.stop();
    this.bars = undefined;
  }

  /** Stop any rendering (call before exiting). */
  close(): void {
    for (const b of this.active.values()) b.stop();
    this.active.clear();
    this.stopBars();
  }
}
