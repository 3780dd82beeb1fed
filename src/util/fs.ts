import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

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

/** Write a file atomically: temp file in the same directory, then rename. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, mode?: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempSibling(path);
  try {
    await writeFile(tmp, data, mode === undefined ? {} : { mode });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
