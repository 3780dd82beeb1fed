import { lstat, open, readFile, rm } from "node:fs/promises";
import { OcipatchError } from "../errors.js";
import { processExists } from "./owned-temp.js";

/**
 * Run `fn` holding an exclusive lock file (created with O_EXCL, holding the owner's pid).
 * A lock whose owner process is gone is taken over; a live one is waited for, up to
 * `timeoutMs`, then the call fails (CONFLICT-like IO error) without touching anything.
 */
export async function withFileLock<T>(
  lockPath: string,
  what: string,
  fn: () => Promise<T>,
  opts: { readonly timeoutMs?: number; readonly signal?: AbortSignal | undefined } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  let delay = 20;
  let ino: number;
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      const fh = await open(lockPath, "wx", 0o644);
      try {
        await fh.writeFile(String(process.pid));
        ino = (await fh.stat()).ino;
      } finally {
        await fh.close();
      }
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new OcipatchError("IO", `cannot lock ${what}: ${(e as NodeJS.ErrnoException).code ?? e}`, {
          cause: e,
        });
      }
      const owner = Number((await readFile(lockPath, "utf8").catch(() => "")).trim());
      if (Number.isSafeInteger(owner) && owner > 0 && !processExists(owner)) {
        await rm(lockPath, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new OcipatchError(
          "IO",
          `${what} is locked by another process${owner ? ` (pid ${owner})` : ""}; try again later`,
        );
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 500);
    }
  }
  try {
    return await fn();
  } finally {
    // only this lock file: a directory filled in place may have got a file of the same name from an image
    if ((await lstat(lockPath).catch(() => undefined))?.ino === ino) {
      await rm(lockPath, { force: true }).catch(() => {});
    }
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
    const text = await readFile(lockPath, "utf8").catch(() => undefined);
    if (text === undefined) return waited;
    const owner = Number(text.trim());
    // an empty file: its owner has just created it and not yet written its pid
    if (Number.isSafeInteger(owner) && owner > 0 && !processExists(owner)) return waited;
    if (Date.now() > deadline) {
      throw new OcipatchError(
        "IO",
        `${what} is locked by another process${owner ? ` (pid ${owner})` : ""}; try again later`,
      );
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 500);
  }
}
