import type { PackageContents } from "./contents.js";

interface RemovalInput {
  /** The old version's .list lines ("/.", "/usr", "/usr/bin/x"...). */
  readonly oldList: readonly string[];
  readonly newContents: PackageContents;
  /** Absolute paths of the new version's conffiles (incl. remove-on-upgrade ones, handled separately). */
  readonly newConffiles: readonly string[];
  /** Absolute paths of the old version's conffiles (obsolete ones stay: dpkg never deletes them). */
  readonly oldConffiles: readonly string[];
  /** True when another installed package lists this absolute path in its .list. */
  readonly ownedByOthers: (absPath: string) => boolean;
  /** Whether the path is a directory in the image (undefined: unknown → treated as a file). */
  readonly isDirectory?: (absPath: string) => boolean | undefined;
  /** Whether dpkg's path filters left this new package path (no leading slash) out of the unpack. */
  readonly filtered?: (path: string) => boolean;
}

export interface RemovalPlan {
  /** Non-directories the old version owned and the new one does not: remove (whiteout). */
  readonly files: string[];
  /**
   * Directories in the same situation. dpkg only rmdir()s them, so the engine
   * must remove one only when nothing else is left under it in the image.
   * Deepest first.
   */
  readonly directories: string[];
}

/**
 * The paths dpkg would delete when replacing the old version by the new one
 * (src/main/unpack.c pkg_remove_old_files): everything in the old .list that
 * the new package does not ship, except conffiles (old or new), the root, and
 * paths another installed package still owns (shared directories, and — more
 * careful than dpkg — shared files too). A path the filters (path-exclude) leave
 * out is not in the new archive for dpkg (src/main/archives.c tarobject): the old
 * version's copy goes.
 */
export function pathsToRemove(input: RemovalInput): RemovalPlan {
  const keep = new Set<string>(["/."]);
  for (const i of input.newContents.items) {
    if (!input.filtered?.(i.path)) keep.add(i.path === "." ? "/." : `/${i.path}`);
  }
  for (const c of input.newConffiles) keep.add(c);
  for (const c of input.oldConffiles) keep.add(c);
  const files: string[] = [];
  const directories: string[] = [];
  const seen = new Set<string>();
  for (const p of [...input.oldList].reverse()) {
    if (p === "" || keep.has(p) || seen.has(p)) continue;
    seen.add(p);
    if (input.ownedByOthers(p)) continue;
    if (input.isDirectory?.(p)) directories.push(p);
    else files.push(p);
  }
  directories.sort((a, b) => b.split("/").length - a.split("/").length || (a < b ? 1 : -1));
  return { files, directories };
}
