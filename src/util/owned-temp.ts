import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";

/**
 * Temporary files and directories owned by this process.
 *
 * Every temporary name ocipatch creates next to user data (work dirs, staging dirs of
 * local outputs, partial blobs) carries the owner's pid as `ocipatch-<pid>-`. Three
 * layers of clean-up use it:
 *  1. the code that creates a temporary path removes it on failure (finally blocks);
 *  2. paths registered here are removed synchronously when the process exits for any
 *     reason Node still controls (an error, an uncaught exception, a signal handled by
 *     the CLI) — `rmSync` in an `exit` handler;
 *  3. a later run sweeps what a run killed with SIGKILL left behind: names whose owner
 *     pid no longer exists (`sweepDeadOwners`).
 */

/** `ocipatch-<pid>-<hex>`: the marker in every temporary name. */
export function ownedTag(): string {
  return `ocipatch-${process.pid}-${randomBytes(6).toString("hex")}`;
}

/** The prefix a `mkdtemp` template gets, ending in `ocipatch-<pid>-`. */
export function ownedPrefix(): string {
  return `ocipatch-${process.pid}-`;
}

/** The owner pid in a name that carries `ocipatch-<pid>-`, or undefined. */
function ownerPid(name: string): number | undefined {
  const m = /ocipatch-(\d+)-/.exec(name);
  if (!m) return undefined;
  const pid = Number(m[1]);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
export function processExists(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

const registered = new Set<string>();
let hooked = false;

/** Remove `path` (recursively) when the process exits, unless `release`d before. */
export function removeOnExit(path: string): void {
  registered.add(path);
  if (!hooked) {
    hooked = true;
    process.on("exit", () => {
      for (const p of registered) {
        try {
          rmSync(p, { recursive: true, force: true });
        } catch {
          // nothing more can be done while exiting
        }
      }
    });
  }
}

/** Forget a path registered with `removeOnExit` (it was renamed into place or removed). */
export function release(path: string): void {
  registered.delete(path);
}

/**
 * Remove the entries of `dir` whose names match `pattern` and carry the pid of a process
 * that no longer exists. Best effort: returns the names removed; errors are ignored.
 */
export async function sweepDeadOwners(dir: string, pattern: RegExp): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!pattern.test(name)) continue;
    const pid = ownerPid(name);
    if (pid === undefined || processExists(pid)) continue;
    try {
      await rm(join(dir, name), { recursive: true, force: true });
      removed.push(name);
    } catch {
      // someone else's, or already gone
    }
  }
  return removed;
}
