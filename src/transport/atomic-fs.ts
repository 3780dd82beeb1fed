import { createReadStream } from "node:fs";
import {
  lstat,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readlink,
  realpath,
  rename,
  rm,
  rmdir,
} from "node:fs/promises";
import { basename, dirname, join, relative, resolve } from "node:path";
import { OcipatchError } from "../errors.js";
import { LOCK_BREAK_SUFFIX } from "../util/file-lock.js";
import { MOUNT_POINT_RENAME_CODES, replaceInPlace } from "../util/fs.js";
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
 * Put the finished file `staged` (next to `target`, same file system) in place at `target`,
 * renamed over it atomically. A `target` that is a mount point (a bind-mounted file, as a
 * container volume) cannot be renamed over: its content is then replaced in place, as skopeo
 * writes an archive, and a failure while doing so leaves it empty rather than half-written.
 * `what` names the content in messages ("OCI archive").
 */
export async function replaceFile(
  staged: string,
  target: string,
  shown: string,
  what: string,
): Promise<void> {
  try {
    await rename(staged, target);
    return;
  } catch (e) {
    if (!MOUNT_POINT_RENAME_CODES.has((e as NodeJS.ErrnoException).code ?? "")) {
      throw ioError(`cannot move the new ${what} into place at ${shown}`, e);
    }
  }
  await replaceInPlace(target, async (fh) => {
    for await (const chunk of createReadStream(staged)) {
      const b = chunk as Buffer;
      for (let done = 0; done < b.length; ) done += (await fh.write(b, done, b.length - done)).bytesWritten;
    }
  }).catch((e: unknown) => {
    throw ioError(
      `cannot write the new ${what} into ${shown} (a mount point, so written in place; it is left empty)`,
      e,
    );
  });
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
    await removeCreatedParents(abs, createdParent);
    throw ioError(`cannot create a temporary directory next to ${target}`, e);
  }
}

/**
 * After a failure: remove the parent directories of `target` up to `createdParent` (what
 * `siblingTempDir` created), each only while it is empty, so that nothing another run put
 * there meanwhile is removed with it.
 */
export async function removeCreatedParents(target: string, createdParent: string | undefined): Promise<void> {
  if (createdParent === undefined) return;
  const top = resolve(createdParent);
  let dir = dirname(resolve(target));
  for (;;) {
    const rel = relative(top, dir);
    if (rel.startsWith("..") || resolve(top, rel) !== dir) return; // not below createdParent
    try {
      await rmdir(dir);
    } catch {
      return; // not empty (or gone): what is above stays too
    }
    if (dir === top) return;
    dir = dirname(dir);
  }
}

/**
 * The path an output named `target` is written to: an existing symlink (the last component
 * or one on the way, dangling or not) is followed, so the output is written through it as
 * skopeo does, and staged next to the file or directory it points at.
 */
export async function resolveTarget(target: string, shown: string): Promise<string> {
  let abs = resolve(target);
  for (let hops = 0; hops < 40; hops++) {
    try {
      return await realpath(abs);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw ioError(`cannot access ${shown}`, e);
    }
    // missing: a dangling symlink is followed to where it points, anything else stays as it is
    const st = await lstat(abs).catch(() => undefined); // unreadable: not followed, the write fails on it
    if (!st?.isSymbolicLink()) {
      const parent = await realpath(dirname(abs)).catch(() => undefined); // the write reports a bad parent
      return parent === undefined ? abs : join(parent, basename(abs));
    }
    abs = resolve(dirname(abs), await readlink(abs));
  }
  throw new OcipatchError("IO", `cannot access ${shown}: too many levels of symbolic links`);
}

/** A staging directory inside an existing target directory (`.ocipatch-<pid>-XXXXXX`). */
const INNER_STAGE_RE = /^\.ocipatch-\d+-[A-Za-z0-9]{6}$/;

/**
 * The lock file (`util/file-lock.ts`) of a directory written in place: an OCI layout's `index.json`
 * lock, also held by a run moving its staged entries into an existing empty directory (an OCI
 * layout or a root filesystem), so that runs writing one directory at once take turns and a
 * reader can wait for a layout being moved in.
 */
export const DIRECTORY_LOCK = ".index.json.lock";

/**
 * Names ocipatch itself puts in an output directory for a while (staging directories, partial
 * files, the directory's lock and its break file); a directory holding only these counts as empty.
 */
export function isTransientEntry(name: string): boolean {
  return (
    name === DIRECTORY_LOCK ||
    name === `${DIRECTORY_LOCK}${LOCK_BREAK_SUFFIX}` ||
    INNER_STAGE_RE.test(name) ||
    /^\..+\.ocipatch-\d+-[0-9a-f]+\.tmp$/.test(name)
  );
}

/**
 * Create a temporary directory INSIDE the existing directory `target`: a new output for an
 * existing empty directory is staged there and its entries moved up at the end
 * (`moveEntriesUp`), since a mount point cannot be renamed over or removed. Staging
 * directories of killed runs are removed first.
 */
export async function innerTempDir(target: string, shown: string): Promise<string> {
  try {
    await sweepDeadOwners(target, INNER_STAGE_RE);
    const dir = await mkdtemp(join(target, `.${ownedPrefix()}`));
    removeOnExit(dir);
    return dir;
  } catch (e) {
    throw ioError(`cannot create a temporary directory in ${shown}`, e);
  }
}

/**
 * Move every entry of `staged` into `target` (same file system), the names in `last` after
 * all others (in that order), then run `finish` (its error passed on as it is), then remove
 * `staged`. On a failure the entries already moved are removed again, so `target` is left as it was.
 */
export async function moveEntriesUp(
  staged: string,
  target: string,
  shown: string,
  last: readonly string[] = [],
  finish?: () => Promise<void>,
): Promise<void> {
  const names = await readdir(staged).catch((e: unknown) => {
    throw ioError(`cannot read ${staged}`, e);
  });
  const ordered = [
    ...names.filter((n) => !last.includes(n)).sort(),
    ...last.filter((n) => names.includes(n)),
  ];
  const moved: string[] = [];
  const rollBack = async () => {
    for (const name of moved) await rm(join(target, name), { recursive: true, force: true }).catch(() => {});
  };
  try {
    for (const name of ordered) {
      await rename(join(staged, name), join(target, name));
      moved.push(name);
    }
  } catch (e) {
    await rollBack();
    throw ioError(`cannot move the new content into place in ${shown}`, e);
  }
  try {
    await finish?.();
  } catch (e) {
    await rollBack();
    throw e;
  }
  await removeQuietly(staged);
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
