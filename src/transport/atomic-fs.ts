import { mkdir, mkdtemp, open, rename, rm } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { OcipatchError } from "../errors.js";
import { ownedPrefix, ownedTag, release, removeOnExit, sweepDeadOwners } from "../util/owned-temp.js";

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

/**
 * A unique temporary file name in `dir` (hidden, never a valid blob name), carrying this
 * process's pid so that a later run can remove it if this one is killed.
 */
export function tempName(dir: string, hint: string): string {
  return join(dir, `.${hint}.${ownedTag()}.tmp`);
}

/** Hidden temporary files (`tempName`) in `dir` left by processes that no longer exist. */
export function sweepTempFiles(dir: string): Promise<string[]> {
  return sweepDeadOwners(dir, /^\..+\.ocipatch-\d+-[0-9a-f]+\.tmp$/);
}

/** Staging directories (`siblingTempDir`) of `target` left by processes that no longer exist. */
export function sweepSiblingTempDirs(target: string): Promise<string[]> {
  const abs = resolve(target);
  const name = basename(abs).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return sweepDeadOwners(dirname(abs), new RegExp(`^\\.${name}\\.ocipatch-\\d+-`));
}

/** Write bytes to `path` atomically: temp file in the same directory, fsync, rename. */
export async function writeFileAtomic(path: string, data: Uint8Array): Promise<void> {
  const tmp = tempName(dirname(path), basename(path));
  removeOnExit(tmp);
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
  } finally {
    release(tmp);
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
    await sweepSiblingTempDirs(abs);
    const dir = await mkdtemp(join(parent, `.${basename(abs)}.${ownedPrefix()}`));
    removeOnExit(dir);
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
  release(path);
}

/** A staging directory was renamed into place: it is no longer ours to remove on exit. */
export function keepStaged(dir: string): void {
  release(dir);
}
