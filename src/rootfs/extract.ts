/**
 * Extract an image's root filesystem into a directory: its layers applied in order, as
 * `umoci unpack --rootless` does, with every path kept inside the directory.
 *
 * - Whiteouts (`.wh.NAME`) remove NAME from the layers below; an opaque marker
 *   (`.wh..wh..opq`) empties its directory of what the layers below put there. Entries of
 *   the same layer are kept whichever order they come in.
 * - Symlinks are created as links, never followed when they are the entry itself. A
 *   symlink in an entry's PARENT path is resolved inside the directory (an absolute target
 *   is relative to the image root, as in a container); one that climbs above the root
 *   (`../../etc`) is a hostile layer and the extraction stops.
 * - Hardlinks link to an entry already extracted (inside the directory, never a directory).
 * - Regular files, directories and symlinks get their mode (with setuid/setgid/sticky) and
 *   mtime; ownership (uid/gid) only when running as root. Directory modes and mtimes are
 *   applied last (deepest first), so a read-only directory can still be filled.
 * - Device nodes and FIFOs are skipped and counted (Node cannot mknod; a rootless umoci
 *   skips devices too). Extended attributes (file capabilities, SELinux labels) are not
 *   restored.
 */
import { createWriteStream } from "node:fs";
import {
  chmod,
  chown,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  readdir,
  readlink,
  rm,
  symlink,
  utimes,
} from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { OcipatchError } from "../errors.js";
import type { Layer } from "../image/image.js";
import { discard } from "../util/streams.js";
import { OPAQUE_MARKER, WHITEOUT_PREFIX } from "./layer-index.js";
import { DEFAULT_LIMITS } from "./options.js";
import { baseName, components, joinRel, normalizeTarName, parentOf } from "./path.js";
import { scanTar, skipEntry, type TarEntry } from "./tar-scan.js";

const MAX_SYMLINK_HOPS = 40;

interface ExtractOptions {
  readonly signal?: AbortSignal | undefined;
  /** Restore uid/gid (default: when running as root). */
  readonly ownership?: boolean | undefined;
}

export interface ExtractStats {
  files: number;
  directories: number;
  symlinks: number;
  hardlinks: number;
  whiteouts: number;
  /** Device nodes and FIFOs not created. */
  skippedSpecial: number;
}

interface DirMeta {
  readonly mode: number;
  readonly mtime: Date;
  readonly uid: number;
  readonly gid: number;
}

function hostile(what: string, message: string): OcipatchError {
  return new OcipatchError("HOSTILE_LAYER", `${what}: ${message}`);
}

function errnoCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

async function lstatOrUndefined(path: string) {
  try {
    return await lstat(path);
  } catch (e) {
    if (errnoCode(e) === "ENOENT") return undefined;
    throw e;
  }
}

/** Extract `layers` (bottom to top) into `root`, an existing empty directory. */
export async function extractLayers(
  layers: readonly Layer[],
  root: string,
  opts: ExtractOptions = {},
): Promise<ExtractStats> {
  const ownership = opts.ownership ?? process.getuid?.() === 0;
  const stats: ExtractStats = {
    files: 0,
    directories: 0,
    symlinks: 0,
    hardlinks: 0,
    whiteouts: 0,
    skippedSpecial: 0,
  };
  const dirs = new Map<string, DirMeta>();

  /**
   * Resolve a directory path (relative form) to a real directory inside root, following
   * symlinks inside root. Missing directories are created (as tar does for implicit parents)
   * and added to `created`; without `created` a missing directory gives undefined.
   */
  async function resolveDir(rel: string, what: string, created?: Set<string>): Promise<string | undefined> {
    let hops = 0;
    const pending = components(rel);
    const done: string[] = [];
    while (pending.length > 0) {
      const c = pending.shift()!;
      if (c === ".") continue;
      if (c === "..") {
        if (done.length === 0) throw hostile(what, `the path ${rel} climbs above the image root`);
        done.pop();
        continue;
      }
      const cur = [...done, c].join("/");
      const st = await lstatOrUndefined(join(root, cur));
      if (st === undefined) {
        // a missing parent: created (and owned by this layer) for an entry, nothing to do for a whiteout
        if (created === undefined) return undefined;
        await mkdir(join(root, cur), { mode: 0o755 });
        created.add(cur);
        done.push(c);
      } else if (st.isDirectory()) {
        done.push(c);
      } else if (st.isSymbolicLink()) {
        if (++hops > MAX_SYMLINK_HOPS) throw hostile(what, `too many symlinks resolving ${rel}`);
        const target = await readlink(join(root, cur));
        if (target.startsWith("/")) done.length = 0;
        // the target's components are resolved in turn (they may be symlinks themselves)
        const t = components(target);
        for (let i = 0, depth = done.length; i < t.length; i++) {
          if (t[i] === "..") depth--;
          else if (t[i] !== ".") depth++;
          if (depth < 0) {
            throw hostile(what, `symlink /${cur} -> ${target} points out of the image root`);
          }
        }
        pending.unshift(...t);
      } else {
        throw hostile(what, `/${cur} is not a directory but the layer puts entries under it`);
      }
    }
    return done.join("/");
  }

  /** Remove whatever is at `path` (a directory with its contents). */
  async function clear(path: string): Promise<void> {
    await rm(path, { recursive: true, force: true });
  }

  for (const [i, layer] of layers.entries()) {
    const what = `layer ${i + 1} (${layer.digest})`;
    opts.signal?.throwIfAborted();
    // paths this layer created: its own whiteouts and opaque markers do not remove them
    const created = new Set<string>();
    const opaque: string[] = [];
    const whiteouts: string[] = [];
    const stream = await layer.uncompressed({ signal: opts.signal });
    await scanTar(
      stream,
      what,
      { maxEntries: DEFAULT_LIMITS.maxEntriesPerLayer, maxBytes: DEFAULT_LIMITS.maxLayerBytes },
      async (entry: TarEntry): Promise<undefined> => {
        opts.signal?.throwIfAborted();
        const h = entry.header;
        const n = normalizeTarName(h.name);
        if ("problem" in n) {
          await skipEntry(entry);
          throw hostile(
            what,
            `entry "${h.name}" has ${n.problem === "empty" ? "an empty" : `an ${n.problem}`} name`,
          );
        }
        const rel = n.rel;
        const name = baseName(rel);
        if (rel === "") {
          // the root itself: its metadata only
          await skipEntry(entry);
          if (h.type === "directory") dirs.set("", meta(h));
          return;
        }
        if (name.startsWith(WHITEOUT_PREFIX)) {
          await skipEntry(entry);
          stats.whiteouts++;
          if (name === OPAQUE_MARKER) opaque.push(parentOf(rel));
          else whiteouts.push(joinRel(parentOf(rel), name.slice(WHITEOUT_PREFIX.length)));
          return;
        }
        const parent = (await resolveDir(parentOf(rel), what, created))!;
        const real = joinRel(parent, name);
        const path = join(root, real);
        created.add(real);
        const existing = await lstatOrUndefined(path);
        switch (h.type) {
          case "directory": {
            await skipEntry(entry);
            if (existing && !existing.isDirectory()) await clear(path);
            if (!existing?.isDirectory()) await mkdir(path, { mode: 0o700 });
            dirs.set(real, meta(h));
            stats.directories++;
            return;
          }
          case "file":
          case "contiguous-file": {
            if (existing) await clear(path);
            const out = createWriteStream(path, { flags: "wx", mode: 0o600 });
            // the caller removes the tree on a failure
            await pipeline(entry, out).catch(async (e: unknown) => {
              await discard(out);
              throw e;
            });
            if (ownership) await chown(path, h.uid ?? 0, h.gid ?? 0);
            await chmod(path, (h.mode ?? 0o644) & 0o7777);
            await utimes(path, h.mtime ?? new Date(0), h.mtime ?? new Date(0));
            stats.files++;
            return;
          }
          case "symlink": {
            await skipEntry(entry);
            if (existing) await clear(path);
            await symlink(h.linkname ?? "", path);
            if (ownership) await lchown(path, h.uid ?? 0, h.gid ?? 0);
            await lutimes(path, h.mtime ?? new Date(0), h.mtime ?? new Date(0));
            stats.symlinks++;
            return;
          }
          case "link": {
            await skipEntry(entry);
            const t = normalizeTarName(h.linkname ?? "");
            if ("problem" in t || t.rel === "") {
              throw hostile(what, `hardlink "${h.name}" has an invalid target "${h.linkname}"`);
            }
            const targetParent = await resolveDir(parentOf(t.rel), what);
            const target =
              targetParent === undefined ? undefined : join(root, joinRel(targetParent, baseName(t.rel)));
            const tst = target === undefined ? undefined : await lstatOrUndefined(target);
            if (target === undefined || tst === undefined || tst.isDirectory()) {
              throw hostile(
                what,
                `hardlink "${h.name}" -> "${h.linkname}": ${tst ? "the target is a directory" : "no such target in the image"}`,
              );
            }
            if (target === path) return;
            if (existing) await clear(path);
            await link(target, path);
            stats.hardlinks++;
            return;
          }
          case "character-device":
          case "block-device":
          case "fifo": {
            await skipEntry(entry);
            if (existing) await clear(path);
            stats.skippedSpecial++;
            return;
          }
          default:
            // pax/GNU metadata entries are consumed by the tar parser; anything else is skipped
            await skipEntry(entry);
            return;
        }
      },
    );
    // whiteouts apply to the layers below only
    for (const w of whiteouts) {
      const parent = await resolveDir(parentOf(w), what);
      if (parent === undefined) continue;
      const real = joinRel(parent, baseName(w));
      if (created.has(real)) continue;
      await clear(join(root, real));
      forgetDirs(real);
    }
    for (const d of opaque) {
      const real = await resolveDir(d, what);
      if (real !== undefined) await purgeLower(real, created);
    }
  }

  /** Forget the metadata of a removed directory and of everything under it. */
  function forgetDirs(real: string): void {
    for (const d of [...dirs.keys()]) if (d === real || d.startsWith(`${real}/`)) dirs.delete(d);
  }

  /** Remove what lower layers put under `real` (an opaque directory), keeping this layer's entries. */
  async function purgeLower(real: string, created: ReadonlySet<string>): Promise<void> {
    for (const child of await readdir(join(root, real))) {
      const c = joinRel(real, child);
      if (!created.has(c)) {
        await clear(join(root, c));
        forgetDirs(c);
      } else if ((await lstat(join(root, c))).isDirectory()) {
        await purgeLower(c, created);
      }
    }
  }

  // directory metadata last, deepest first: filling a directory changes its mtime
  const ordered = [...dirs.keys()].sort((a, b) => components(b).length - components(a).length);
  for (const d of ordered) {
    const m = dirs.get(d)!;
    const path = join(root, d);
    const st = await lstatOrUndefined(path);
    if (!st?.isDirectory()) continue;
    if (ownership) await chown(path, m.uid, m.gid);
    await chmod(path, m.mode);
    await utimes(path, m.mtime, m.mtime);
  }
  return stats;
}

function meta(h: TarEntry["header"]): DirMeta {
  return {
    mode: (h.mode ?? 0o755) & 0o7777,
    mtime: h.mtime ?? new Date(0),
    uid: h.uid ?? 0,
    gid: h.gid ?? 0,
  };
}
