import type { ConffileEntry } from "../deb/index.js";
import type { Paragraph } from "../debian/deb822.js";

/** dpkg's hash placeholder for a conffile the old version did not have. */
const NEW_CONFFILE_HASH = "newconffile";

/** One line of a status `Conffiles:` field. */
export interface StatusConffile {
  readonly path: string;
  readonly hash: string;
  readonly obsolete: boolean;
  readonly removeOnUpgrade: boolean;
}

/** Parse the `Conffiles:` field of a status record. */
export function parseStatusConffiles(record: Paragraph | undefined): StatusConffile[] {
  const v = record?.get("Conffiles");
  if (!v) return [];
  const out: StatusConffile[] = [];
  for (const line of v.split("\n")) {
    const parts = line.trim().split(/\s+/);
    if (parts.length < 2 || !parts[0]!.startsWith("/")) continue;
    const flags = new Set(parts.slice(2));
    out.push({
      path: parts[0]!,
      hash: parts[1]!,
      obsolete: flags.has("obsolete"),
      removeOnUpgrade: flags.has("remove-on-upgrade"),
    });
  }
  return out;
}

/** Format a `Conffiles:` value (first line empty, one conffile per continuation line). */
export function formatStatusConffiles(list: readonly StatusConffile[]): string {
  return list
    .map(
      (c) =>
        `\n/${c.path.replace(/^\/+/, "")} ${c.hash}${c.obsolete ? " obsolete" : ""}${c.removeOnUpgrade ? " remove-on-upgrade" : ""}`,
    )
    .join("");
}

/**
 * What to do with one conffile of the new version, following dpkg's
 * configure logic under `--force-confold` (src/main/configure.c):
 * - `install`: write the new distributed file at `path` (dpkg copies the
 *   permissions and owner of an existing image file onto it: `copyPermsFromImage`).
 * - `keep`: leave the image's copy (or its absence) untouched.
 * - `keep-with-dist`: keep the image's copy AND write the new distributed
 *   version next to it as `<path>.dpkg-dist` (user and distributor both changed it).
 * - `remove`: remove-on-upgrade conffile, unmodified: delete it (whiteout).
 * - `remove-keep-old`: remove-on-upgrade conffile, modified: move the image's copy to `<path>.dpkg-old`.
 * - `none`: nothing to write (not shipped / already absent).
 */
export type ConffileAction = "install" | "keep" | "keep-with-dist" | "remove" | "remove-keep-old" | "none";

export interface ConffileDecision {
  readonly path: string;
  readonly action: ConffileAction;
  readonly copyPermsFromImage: boolean;
  /** Why, in words (for reports). */
  readonly reason: string;
}

interface ConffilePlanInput {
  /** Old status record's Conffiles (parseStatusConffiles). */
  readonly old: readonly StatusConffile[];
  /** The new package's conffiles (control `conffiles`). */
  readonly conffiles: readonly ConffileEntry[];
  /** md5 of each regular file shipped by the new package (path without leading slash). */
  readonly newMd5: (path: string) => string | undefined;
  /** md5 of the image's current file at an absolute path, undefined when it does not exist. */
  readonly imageMd5: (absPath: string) => string | undefined;
  /** Whether the new package ships this path in data.tar (no leading slash). */
  readonly shipped: (path: string) => boolean;
  /** Old .list (dpkg order), to order obsolete conffiles the way dpkg does. */
  readonly oldList?: readonly string[];
  /** Whether another installed package owns this absolute path (remove-on-upgrade is then ignored). */
  readonly ownedByOthers?: (absPath: string) => boolean;
  /**
   * The hash another installed package that lists the conffile records for it (absolute path):
   * dpkg starts from it for a conffile the old version did not have (a `Replaces:` takeover).
   */
  readonly othersHash?: (absPath: string) => string | undefined;
  /**
   * Whether an installed package that replaces this one kept the conffile (path without leading
   * slash; `Replaced by files in installed package`): not unpacked, recorded `obsolete`.
   */
  readonly kept?: (path: string) => boolean;
}

export interface ConffilePlan {
  /** The `Conffiles` entries to record in status, in dpkg's order. */
  readonly status: StatusConffile[];
  readonly decisions: ConffileDecision[];
  /** Old conffiles no longer in the package: kept on disk, recorded `obsolete`, appended to the .list. */
  readonly obsolete: string[];
}

const rel = (p: string): string => p.replace(/^\/+/, "");

/** Decide every conffile of an upgrade and compute the new `Conffiles` field. */
export function planConffiles(input: ConffilePlanInput): ConffilePlan {
  const oldBy = new Map(input.old.map((c) => [c.path, c]));
  const status: StatusConffile[] = [];
  const decisions: ConffileDecision[] = [];
  const newPaths = new Set(input.conffiles.map((c) => c.path));

  for (const c of input.conffiles) {
    const prev = oldBy.get(c.path);
    // dpkg's deb_parse_conffiles: the package's own hash, else one of another package that has it
    const oldHash = prev?.hash ?? input.othersHash?.(c.path) ?? NEW_CONFFILE_HASH;
    const current = input.imageMd5(c.path);
    if (c.removeOnUpgrade) {
      status.push({ path: c.path, hash: oldHash, obsolete: false, removeOnUpgrade: true });
      let action: ConffileAction = "none";
      let reason = "already absent";
      if (input.ownedByOthers?.(c.path)) reason = "owned by another package";
      else if (current !== undefined && current === oldHash) {
        action = "remove";
        reason = "remove-on-upgrade, unmodified";
      } else if (current !== undefined) {
        action = "remove-keep-old";
        reason = "remove-on-upgrade, modified: saved as .dpkg-old";
      }
      decisions.push({ path: c.path, action, copyPermsFromImage: false, reason });
      continue;
    }
    if (input.kept?.(rel(c.path))) {
      // left to the installed package that replaces this one: dpkg marks it obsolete here
      status.push({ path: c.path, hash: oldHash, obsolete: true, removeOnUpgrade: false });
      decisions.push({
        path: c.path,
        action: "none",
        copyPermsFromImage: false,
        reason: "kept by an installed package that replaces this one",
      });
      continue;
    }
    const dist = input.newMd5(rel(c.path));
    if (dist === undefined) {
      // no .dpkg-new was unpacked: dpkg leaves the hash as it was
      status.push({ path: c.path, hash: oldHash, obsolete: false, removeOnUpgrade: false });
      decisions.push({
        path: c.path,
        action: "none",
        copyPermsFromImage: false,
        reason: "not shipped as a file",
      });
      continue;
    }
    status.push({ path: c.path, hash: dist, obsolete: false, removeOnUpgrade: false });
    let action: ConffileAction;
    let reason: string;
    if (current === dist) {
      action = "keep";
      reason = "identical to the new version";
    } else if (oldHash === NEW_CONFFILE_HASH) {
      if (current === undefined) {
        action = "install";
        reason = "new conffile";
      } else {
        action = "keep-with-dist";
        reason = "new conffile already present in the image: kept, new version as .dpkg-dist";
      }
    } else {
      const userEdited = current !== oldHash;
      const distEdited = dist !== oldHash;
      if (!userEdited) {
        action = distEdited ? "install" : "keep";
        reason = distEdited ? "unmodified: new version installed" : "unchanged";
      } else if (!distEdited) {
        action = "keep";
        reason =
          current === undefined ? "deleted in the image: stays deleted" : "modified in the image: kept";
      } else {
        action = "keep-with-dist";
        reason =
          current === undefined
            ? "deleted in the image and changed by the package: stays deleted, new version as .dpkg-dist"
            : "modified in the image and changed by the package: kept, new version as .dpkg-dist";
      }
    }
    decisions.push({
      path: c.path,
      action,
      copyPermsFromImage: action === "install" && current !== undefined,
      reason,
    });
  }

  // Old conffiles that disappear: dpkg keeps them (if still on disk) as obsolete,
  // in reverse order of the old file list.
  const obsolete: string[] = [];
  const order = new Map((input.oldList ?? []).map((p, i) => [p, i]));
  const candidates = input.old.filter(
    (c) =>
      !newPaths.has(c.path) &&
      !c.removeOnUpgrade &&
      !input.shipped(rel(c.path)) &&
      (input.oldList === undefined || order.has(c.path)),
  );
  candidates.sort((a, b) => (order.get(b.path) ?? -1) - (order.get(a.path) ?? -1));
  for (const c of candidates) {
    if (input.imageMd5(c.path) === undefined) continue; // gone from disk: dpkg forgets it
    obsolete.push(c.path);
    status.push({ path: c.path, hash: c.hash, obsolete: true, removeOnUpgrade: false });
  }
  return { status, decisions, obsolete };
}
