/**
 * Cross-process exclusive locks for builds in the shared cache. vitest runs test files in parallel
 * processes: the second one that needs an image must wait for the first builder, not build twice.
 *
 * The lock is a kernel flock(2) held by a `flock` child process (util-linux) whose stdin is a pipe
 * from us: releasing = closing the pipe. If we are killed, the pipe closes and the kernel drops the
 * lock, so a lock can never outlive its holder (no stale lock files, no pid guessing).
 */
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { HarnessError, log } from "./exec.js";

interface LockOptions {
  /** Give up after this long (default 45 min: a cold build of the slowest image takes a few). */
  readonly timeoutMs?: number;
  /** What the lock protects, for messages. */
  readonly what?: string;
}

/** Runs fn while holding an exclusive lock on lockFile. */
export async function withLock<T>(
  lockFile: string,
  fn: () => Promise<T>,
  opts: LockOptions = {},
): Promise<T> {
  const release = await acquireLock(lockFile, opts);
  try {
    return await fn();
  } finally {
    await release();
  }
}

async function acquireLock(lockFile: string, opts: LockOptions = {}): Promise<() => Promise<void>> {
  mkdirSync(dirname(lockFile), { recursive: true });
  const timeoutS = Math.max(1, Math.round((opts.timeoutMs ?? 45 * 60_000) / 1000));
  const what = opts.what ?? lockFile;
  // flock opens lockFile, waits for the lock, then runs the shell: it announces "locked" and
  // keeps the lock until its stdin (our pipe) reaches EOF.
  const child = spawn(
    "flock",
    ["--exclusive", "--wait", String(timeoutS), lockFile, "sh", "-c", "echo locked; exec cat >/dev/null"],
    {
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => {
    stderr += b.toString();
  });
  const waiting = setTimeout(() => log(`waiting for ${what} (another process holds ${lockFile})`), 1000);
  try {
    await new Promise<void>((resolve, reject) => {
      child.once("error", (e) => reject(new HarnessError(`cannot run flock for ${lockFile}: ${e.message}`)));
      child.stdout.on("data", (b: Buffer) => {
        if (b.toString().includes("locked")) resolve();
      });
      void exited.then((code) =>
        reject(
          new HarnessError(
            code === 1
              ? `timed out after ${timeoutS}s waiting for the lock on ${what} (${lockFile})`
              : `flock on ${lockFile} failed (exit ${code}): ${stderr.trim()}`,
          ),
        ),
      );
    });
  } finally {
    clearTimeout(waiting);
  }
  try {
    writeFileSync(`${lockFile}.owner`, `${process.pid} ${new Date().toISOString()} ${what}\n`);
  } catch {
    // informational only
  }
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    child.stdin.end();
    await exited;
  };
}
