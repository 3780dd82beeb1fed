import { randomBytes } from "node:crypto";
import { type FileHandle, mkdir, open, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { OcipatchError } from "../errors.js";

/** A temporary sibling path of `path` (same directory, so a rename is atomic). */
export function tempSibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`);
}

/**
 * Where a download or a fetched index is written before it is verified and renamed to `path`:
 * `<path>.<pid>.<hex>.part` (unique per writer, so parallel runs sharing a cache never write into
 * each other's file; the `.part` suffix tells an unfinished file).
 */
export function partialSibling(path: string): string {
  return `${path}.${process.pid}.${randomBytes(4).toString("hex")}.part`;
}

/** What a rename onto a file answers when that file is a mount point (a bind-mounted file). */
export const MOUNT_POINT_RENAME_CODES: ReadonlySet<string> = new Set(["EBUSY", "EXDEV"]);

/**
 * Write a file atomically: temp file in the same directory, then rename. A `path` that is a mount
 * point (a bind-mounted file, as a container volume: `-v ./report.json:/out/report.json`) cannot
 * be renamed over; its content is then replaced in place (left empty if that fails midway).
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode?: number): Promise<void> {
  const tmp = tempSibling(path);
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(tmp, data, mode === undefined ? {} : { mode });
    try {
      await rename(tmp, path);
    } catch (e) {
      if (!MOUNT_POINT_RENAME_CODES.has((e as NodeJS.ErrnoException).code ?? "")) throw e;
      await replaceInPlace(path, (fh) => fh.writeFile(data));
    }
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
    throw new OcipatchError("IO", `cannot write ${path}: ${why}`, { cause: e });
  } finally {
    await rm(tmp, { force: true });
  }
}

/**
 * Replace the content of the existing file `path` in place, for a file that cannot be renamed over
 * (a mount point): truncated, filled by `write` from offset 0, synced. A failure leaves it empty
 * rather than half-written, and is thrown as it came.
 */
export async function replaceInPlace(path: string, write: (fh: FileHandle) => Promise<void>): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, "r+");
    await fh.truncate(0);
    await write(fh);
    await fh.sync();
  } catch (e) {
    await fh?.truncate(0).catch(() => undefined); // the write's own error is the one to tell
    throw e;
  } finally {
    await fh?.close().catch(() => undefined); // written and synced, or already failing
  }
}
