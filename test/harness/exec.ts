/**
 * Running the real tools the harness drives (mmdebstrap, umoci, skopeo, dpkg, apt, chroot):
 * argv only (never a shell string), output captured, and a failure reported as ONE error that
 * says what ran and shows the tail of its output or log file.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";

export class HarnessError extends Error {
  override readonly name = "HarnessError";
}

export interface RunOptions {
  readonly cwd?: string;
  /** Environment; defaults to process.env (plus LC_ALL=C.UTF-8). */
  readonly env?: NodeJS.ProcessEnv;
  /** Data written to stdin. */
  readonly input?: string | Buffer;
  /** Read stdin from this file. */
  readonly stdinFile?: string;
  /** Write stdout to this file instead of capturing it. */
  readonly stdoutFile?: string;
  /** Append stdout and stderr to this file instead of capturing them (shown on failure). */
  readonly logFile?: string;
  /** Exit codes that count as success (default [0]). */
  readonly okCodes?: readonly number[];
  /** Kill the process after this many ms. */
  readonly timeoutMs?: number;
  /** Lines of output shown in the error message on failure (default 30). */
  readonly tailLines?: number;
}

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function tail(text: string, lines = 30): string {
  const all = text.replace(/\s+$/, "").split("\n");
  return all.slice(-lines).join("\n");
}

function describeCommand(cmd: string, args: readonly string[]): string {
  const q = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);
  const full = [cmd, ...args].map(q).join(" ");
  return full.length > 300 ? `${full.slice(0, 300)}...` : full;
}

/** Runs cmd with args; resolves with its output, rejects with a HarnessError on failure. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const env = { ...(opts.env ?? process.env), LC_ALL: "C.UTF-8" };
  const fds: number[] = [];
  const openFd = (path: string, flags: string): number => {
    const fd = openSync(path, flags);
    fds.push(fd);
    return fd;
  };
  const stdin = opts.stdinFile ? openFd(opts.stdinFile, "r") : opts.input !== undefined ? "pipe" : "ignore";
  const logFd = opts.logFile ? openFd(opts.logFile, "a") : undefined;
  const stdout = opts.stdoutFile ? openFd(opts.stdoutFile, "w") : (logFd ?? "pipe");
  const stderr = logFd ?? "pipe";
  const what = describeCommand(cmd, args);
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(cmd, [...args], { cwd: opts.cwd, env, stdio: [stdin, stdout, stderr] });
    for (const fd of fds) closeSync(fd);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on("data", (b: Buffer) => out.push(b));
    child.stderr?.on("data", (b: Buffer) => err.push(b));
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    let timedOut = false;
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          child.kill("SIGKILL");
        }, opts.timeoutMs)
      : undefined;
    child.on("error", (e) => {
      if (timer) clearTimeout(timer);
      reject(new HarnessError(`cannot run ${cmd}: ${e.message}`, { cause: e }));
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      const result = {
        code: code ?? -1,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      };
      if ((opts.okCodes ?? [0]).includes(result.code) && !timedOut) {
        resolve(result);
        return;
      }
      const why = timedOut
        ? `timed out after ${opts.timeoutMs} ms`
        : signal
          ? `killed by ${signal}`
          : `exit ${code}`;
      let shown = `${result.stderr}\n${result.stdout}`;
      if (opts.logFile && existsSync(opts.logFile)) shown = readFileSync(opts.logFile, "utf8");
      const t = tail(shown, opts.tailLines ?? 30);
      const where = opts.logFile ? ` (log: ${opts.logFile})` : "";
      reject(new HarnessError(`${what} failed (${why})${where}${t ? `:\n${t}` : ""}`));
    });
  });
}

/** Runs and returns stdout (trailing newline removed). */
export async function output(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  return (await run(cmd, args, opts)).stdout.replace(/\n$/, "");
}

/** Progress lines of the harness (builds, waits for locks), on stderr so they show in CI logs. */
export function log(message: string): void {
  const t = new Date().toISOString().slice(11, 19);
  process.stderr.write(`[harness ${t}] ${message}\n`);
}

/** Wall-clock timer: `const t = timer(); ...; t()` → seconds (2 decimals). */
export function timer(): () => number {
  const start = process.hrtime.bigint();
  return () => Math.round(Number(process.hrtime.bigint() - start) / 1e7) / 100;
}
