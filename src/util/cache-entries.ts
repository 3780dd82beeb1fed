import { mkdir, readdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { hexOf, sha256 } from "./digest.js";
import { ownedTag, release, removeOnExit, sweepDeadOwners } from "./owned-temp.js";

/** A cache's entries of other ocipatch builds unused this long are removed (this build can never use them). */
const OTHER_BUILD_KEPT_MS = 24 * 3600 * 1000;

/**
 * The tag that starts the names of a build's entries: the first 12 hex digits of the SHA-256 of
 * its build ID (the first group of `CacheDir.entry`).
 */
export function buildTagOf(buildId: string): string {
  return hexOf(sha256(buildId)).slice(0, 12);
}

/**
 * Store entry `name` (a file or a directory) in the cache directory `dir`: `write` makes it at a
 * temporary name beside it, owned by this process (`.<name>.ocipatch-<pid>-<hex>.tmp`, removed on
 * failure and on exit, swept by `pruneCacheDir` once the process is gone), then `place` renames it
 * into place, so that no reader sees half of one. `dir` is created owner-only.
 */
export async function storeBeside(
  dir: string,
  name: string,
  write: (tmp: string) => Promise<void>,
  place: (tmp: string, path: string) => Promise<void> = rename,
): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${name}.${ownedTag()}.tmp`);
  removeOnExit(tmp);
  try {
    await write(tmp);
    await place(tmp, join(dir, name));
  } finally {
    await rm(tmp, { recursive: true, force: true });
    release(tmp);
  }
}

/** Where a cache keeps its entries and how many bytes it may hold. */
export interface CacheDir {
  readonly dir: string;
  /** Names of the entries (files or directories); the first group is the tag of the build that wrote one. */
  readonly entry: RegExp;
  /** Names of entries being written (`ocipatch-<pid>-`: swept once that process is gone). */
  readonly temp: RegExp;
  /** This build's tag. */
  readonly buildTag: string;
  readonly maxBytes: number;
}

/** When an entry was last used and what it takes on disk; undefined for one half removed (it goes). */
export type EntryUse = (
  path: string,
) => Promise<{ readonly used: number; readonly bytes: number } | undefined>;

/**
 * Remove the entries used least recently until the others fit `maxBytes`, entries of other builds
 * unused for a day, half-removed ones, and what a run killed while storing one left.
 */
export async function pruneCacheDir(c: CacheDir, useOf: EntryUse): Promise<void> {
  await sweepDeadOwners(c.dir, c.temp);
  const entries: { path: string; used: number; bytes: number }[] = [];
  const now = Date.now();
  for (const name of await readdir(c.dir)) {
    const m = c.entry.exec(name);
    if (!m) continue;
    const path = join(c.dir, name);
    const use = await useOf(path);
    if (!use || (m[1] !== c.buildTag && now - use.used > OTHER_BUILD_KEPT_MS))
      await rm(path, { recursive: true, force: true });
    else entries.push({ path, ...use });
  }
  let total = 0;
  for (const e of entries.sort((a, b) => b.used - a.used)) {
    total += e.bytes;
    if (total > c.maxBytes) await rm(e.path, { recursive: true, force: true });
  }
}
