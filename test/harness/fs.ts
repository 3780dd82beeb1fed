/**
 * Temporary directories and removal that never crosses into a mount: the harness mounts /proc and
 * a tmpfs /dev under rootfs copies, and a stray `rm -rf` through a live /proc (or a bind mount)
 * must be impossible. Temp dirs carry the owner's pid, so leftovers of killed processes can be
 * found and cleaned up by the next run (sweepStaleTempDirs).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { HarnessError, run } from "./exec.js";

const TEMP_PREFIX = "ocipatch-h-";

/** Root of the test-image cache: $OCIPATCH_TEST_CACHE or /var/cache/ocipatch-test. */
export function cacheRoot(): string {
  const dir = resolve(process.env["OCIPATCH_TEST_CACHE"] || "/var/cache/ocipatch-test");
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A new empty temp dir named after this process (`<tmp>/ocipatch-h-<pid>-<label>-XXXXXX`). */
export function makeTempDir(label: string, parent = tmpdir()): string {
  mkdirSync(parent, { recursive: true });
  return mkdtempSync(join(parent, `${TEMP_PREFIX}${process.pid}-${label.replace(/[^\w.-]/g, "_")}-`));
}

/** Runs fn with a fresh temp dir that is always removed afterwards (mounts below it first). */
export async function withTempDir<T>(label: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = makeTempDir(label);
  try {
    return await fn(dir);
  } finally {
    await safeRemove(dir);
  }
}

/** Mount points at or below dir, deepest first (from /proc/self/mountinfo). */
export function mountsUnder(dir: string): string[] {
  const base = dir.replace(/\/+$/, "");
  const decode = (s: string) =>
    s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
  const points = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((p): p is string => p !== undefined)
    .map(decode)
    .filter((p) => p === base || p.startsWith(`${base}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Unmounts everything at or below dir (lazily if busy). Synchronous so it can run in exit handlers. */
export function unmountAllSync(dir: string): void {
  for (const m of mountsUnder(dir)) {
    try {
      execFileSync("umount", [m], { stdio: "ignore" });
    } catch {
      try {
        execFileSync("umount", ["-l", m], { stdio: "ignore" });
      } catch {
        // reported by the caller's mountsUnder check
      }
    }
  }
}

const PROTECTED = new Set([
  "/",
  "/usr",
  "/etc",
  "/dev",
  "/proc",
  "/sys",
  "/tmp",
  "/var",
  "/var/cache",
  "/root",
  "/home",
]);

/** rm -rf that first unmounts anything below the path and never crosses file systems. */
export async function safeRemove(path: string): Promise<void> {
  if (!existsSync(path)) return;
  const real = realpathSync(path);
  if (PROTECTED.has(real) || real === resolve(tmpdir()) || real === cacheRootNoCreate()) {
    throw new HarnessError(`refusing to remove ${real}`);
  }
  unmountAllSync(real);
  const left = mountsUnder(real);
  if (left.length > 0) throw new HarnessError(`cannot remove ${real}: still mounted: ${left.join(", ")}`);
  await run("rm", ["-rf", "--one-file-system", real]);
}

function cacheRootNoCreate(): string {
  return resolve(process.env["OCIPATCH_TEST_CACHE"] || "/var/cache/ocipatch-test");
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes harness temp dirs (under tmpdir() and the cache's tmp/) whose owning process is gone,
 * unmounting anything a killed process left mounted below them.
 */
export async function sweepStaleTempDirs(extraParents: readonly string[] = []): Promise<string[]> {
  const removed: string[] = [];
  for (const parent of [tmpdir(), ...extraParents]) {
    if (!existsSync(parent)) continue;
    for (const name of readdirSync(parent)) {
      const m = /^ocipatch-h-(\d+)-/.exec(name);
      if (!m || pidAlive(Number(m[1]))) continue;
      const dir = join(parent, name);
      try {
        await safeRemove(dir);
        removed.push(dir);
      } catch {
        // another sweeper got there first, or it is not ours to remove
      }
    }
  }
  return removed;
}
