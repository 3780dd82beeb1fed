import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { OcipatchError } from "../errors.js";

/**
 * Small filesystem helpers for the local sinks (OCI layout, docker archive): every
 * output is first written under a temporary name on the same filesystem and then
 * renamed into place, so a failure never leaves half-written output.
 */

export function ioError(what: string, e: unknown): OcipatchError {
  if (e instanceof OcipatchError) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const why = code ? `${code}` : e instanceof Error ? e.message : String(e);
  return new OcipatchError("IO", `${what}: ${why}`, { cause: e });
}

/** A unique temporary file name in `dir` (hidden, never a valid blob name). */
export function tempName(dir: string, hint: string): string {
  return join(dir, `.${hint}.ocipatch-${randomBytes(6).toString("hex")}.tmp`);
}

/** Write bytes to `path` atomically: temp file in the same directory, fsync, rename. */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const tmp = tempName(dirname(path), basename(path));
  try {
    const fh = await open(tmp, "wx", 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => {});
    throw ioError(`cannot write ${path}`, e);
  }
}

/**
 * Create a temporary directory next to `target` (same filesystem, so it can be
 * renamed onto `target`). Missing parent directories are created; `created` is the
 * top-most directory that did not exist before (to remove it again on failure).
 */
export async function siblingTempDir(target: string): Promise<{ dir: string; createdParent?: string }> {
  const abs = resolve(target);
  const parent = dirname(abs);
  let createdParent: string | undefined;
  try {
    createdParent = await mkdir(parent, { recursive: true });
    const dir = await mkdtemp(join(parent, `.${basename(abs)}.ocipatch-`));
    return createdParent === undefined ? { dir } : { dir, createdParent };
  } catch (e) {
    if (createdParent) await rm(createdParent, { recursive: true, force: true }).catch(() => {});
    throw ioError(`cannot create a temporary directory next to ${target}`, e);
  }
}

/** Remove a path, ignoring errors (clean-up after a failure must not hide the failure). */
export async function removeQuietly(path: string | undefined): Promise<void> {
  if (path === undefined) return;
  await rm(path, { recursive: true, force: true }).catch(() => {});
}
