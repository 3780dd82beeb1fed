import { randomBytes } from "node:crypto";
import { lstat, open, readFile, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { OcipatchError } from "../errors.js";
import { processExists } from "./owned-temp.js";

/**
 * A lock file holds `<pid> <token> <host>`: the owner's pid, a token naming this one taking of the
 * lock, and the host name (a container has its own). Older ocipatch versions wrote the pid alone.
 */
interface LockOwner {
  readonly pid: number;
  readonly token?: string;
  readonly host?: string;
}

/** Tokens of the locks this process holds now. */
const held = new Set<string>();

/** An empty or unreadable lock file this old was left by a run that died while creating it. */
const UNWRITTEN_LOCK_MS = 10_000;

/** How long ago a file was last written; 0 when it is gone. */
async function ageMs(path: string): Promise<number> {
  return stat(path).then(
    (s) => Date.now() - s.mtimeMs,
    () => 0, // gone meanwhile: looked at again on the next round
  );
}

function parseOwner(text: string): LockOwner | undefined {
  const [pid, token, host] = text.trim().split(/\s+/);
  const n = Number(pid);
  if (!Number.isSafeInteger(n) || n <= 0) return undefined;
  return { pid: n, ...(token ? { token } : {}), ...(host ? { host } : {}) };
}

/**
 * Whether the lock's owner is gone. Another host's lock (a container sharing the volume) cannot
 * be judged: it is never taken to be gone. A lock naming this process's own pid is alive only
 * while this process holds it (a container's pid 1 meets the lock a killed pid 1 left).
 */
function ownerGone(o: LockOwner): boolean {
  if (o.host !== undefined && o.host !== hostname()) return false;
  if (o.pid === process.pid) return o.token === undefined || !held.has(o.token);
  return !processExists(o.pid);
}

/**
 * The lock's state: absent, held (by whom), or stale (its owner is gone; or the file stayed empty
 * or unreadable longer than a run takes to write it).
 */
type LockState =
  | { kind: "absent" }
  | { kind: "stale"; text: string }
  | { kind: "held"; owner: LockOwner | undefined };

async function lockState(lockPath: string): Promise<LockState> {
  let text: string;
  try {
    text = await readFile(lockPath, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { kind: "absent" };
    text = "";
  }
  const owner = parseOwner(text);
  if (owner) return ownerGone(owner) ? { kind: "stale", text } : { kind: "held", owner };
  return (await ageMs(lockPath)) > UNWRITTEN_LOCK_MS
    ? { kind: "stale", text }
    : { kind: "held", owner: undefined };
}

/** Beside a lock, the file a waiter holds while it removes that lock as stale. */
export const LOCK_BREAK_SUFFIX = ".break";

/**
 * Removes a lock judged stale, unless it changed since. Waiters take turns at this through a
 * second O_EXCL file (`<lock>.break`): two waiters that judged the same dead lock stale must not
 * both remove "it", or the second removes the lock the first has just taken. Returns false when
 * another waiter is at it (a break file left by a run killed right there is removed when old).
 */
async function removeStale(lockPath: string, what: string, judged: string): Promise<boolean> {
  const breaker = `${lockPath}${LOCK_BREAK_SUFFIX}`;
  try {
    await (await open(breaker, "wx", 0o644)).close();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw cannotLock(what, e);
    if ((await ageMs(breaker)) > UNWRITTEN_LOCK_MS) await rm(breaker, { force: true });
    return false;
  }
  try {
    const now = await lockState(lockPath);
    if (now.kind === "stale" && now.text === judged) await rm(lockPath, { force: true });
    return true;
  } finally {
    await rm(breaker, { force: true });
  }
}

/** A lock file that cannot be created or written (not: one that exists). */
function cannotLock(what: string, e: unknown): OcipatchError {
  return new OcipatchError("IO", `cannot lock ${what}: ${(e as NodeJS.ErrnoException).code ?? e}`, {
    cause: e,
  });
}

function lockedError(what: string, lockPath: string, owner: LockOwner | undefined): OcipatchError {
  const by = owner
    ? ` (pid ${owner.pid}${owner.host && owner.host !== hostname() ? ` on ${owner.host}` : ""})`
    : "";
  return new OcipatchError(
    "IO",
    `${what} is locked by another process${by}; try again later, or remove ${lockPath} if no other ocipatch run uses it`,
  );
}

/** Creates the lock file with its owner record; false when it exists. Never leaves an unwritten lock. */
async function tryCreate(lockPath: string, what: string, token: string): Promise<number | undefined> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(lockPath, "wx", 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return undefined;
    throw cannotLock(what, e);
  }
  let written = false;
  try {
    await fh.writeFile(`${process.pid} ${token} ${hostname()}\n`);
    const { ino } = await fh.stat();
    written = true;
    return ino;
  } catch (e) {
    throw cannotLock(what, e);
  } finally {
    await fh.close().catch(() => undefined); // a failed write is the error to report
    // best effort: an unwritten lock turns stale by itself
    if (!written) await rm(lockPath, { force: true }).catch(() => undefined);
  }
}

/**
 * Run `fn` holding an exclusive lock file (created with O_EXCL, holding the owner record).
 * A lock whose owner is gone is taken over; a live one is waited for, up to `timeoutMs`, then
 * the call fails (IO error naming the lock file) without touching anything.
 */
export async function withFileLock<T>(
  lockPath: string,
  what: string,
  fn: () => Promise<T>,
  opts: { readonly timeoutMs?: number; readonly signal?: AbortSignal | undefined } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  const token = randomBytes(8).toString("hex");
  let delay = 20;
  let ino: number;
  // held from before the file names it: another caller in this process reading the record
  // between its writing and our return from tryCreate must see it alive
  held.add(token);
  try {
    for (;;) {
      opts.signal?.throwIfAborted();
      const created = await tryCreate(lockPath, what, token);
      if (created !== undefined) {
        ino = created;
        break;
      }
      const state = await lockState(lockPath);
      if (state.kind === "absent") continue;
      if (state.kind === "stale" && (await removeStale(lockPath, what, state.text))) continue;
      if (Date.now() > deadline)
        throw lockedError(what, lockPath, state.kind === "held" ? state.owner : undefined);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 500);
    }
  } catch (e) {
    held.delete(token);
    throw e;
  }
  try {
    return await fn();
  } finally {
    held.delete(token);
    // only this lock file: a directory filled in place may have got a file of the same name from an image
    const now = await lstat(lockPath).catch(() => undefined); // gone: nothing to remove
    if (now?.ino === ino) await rm(lockPath, { force: true }).catch(() => {}); // left: stale once we exit
  }
}

/**
 * Wait while a live process holds the lock file `lockPath` (taken with `withFileLock`), without
 * taking it: for readers, which must not need to write where they read. Returns whether there
 * was a lock to wait for; a lock whose owner is gone is not waited for. After `timeoutMs` the
 * call fails as `withFileLock` does.
 */
export async function waitForUnlock(
  lockPath: string,
  what: string,
  opts: { readonly timeoutMs?: number; readonly signal?: AbortSignal | undefined } = {},
): Promise<boolean> {
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  let delay = 20;
  for (let waited = false; ; waited = true) {
    opts.signal?.throwIfAborted();
    const state = await lockState(lockPath);
    if (state.kind !== "held") return waited;
    if (Date.now() > deadline) throw lockedError(what, lockPath, state.owner);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 500);
  }
}
