import type { DebPackage } from "../deb/index.js";
import type { Paragraph } from "../debian/deb822.js";
import { type ConffilePlan, parseStatusConffiles, planConffiles } from "./conffiles.js";
import type { PackageContents } from "./contents.js";
import { type InfoFile, infoBaseName, infoFiles, obsoleteInfoFiles, packageInfoFiles } from "./info-files.js";
import { pathsToRemove, type RemovalPlan } from "./removal.js";
import { statusRecord } from "./status-record.js";

interface UpgradeDbInput {
  /** The installed version's status record. */
  readonly old: Paragraph;
  /** The new .deb (its control part; entries already consumed into `contents`). */
  readonly deb: Pick<DebPackage, "control" | "controlMembers" | "conffiles">;
  readonly contents: PackageContents;
  /** The installed version's .list lines. */
  readonly oldList: readonly string[];
  /** Every path under var/lib/dpkg/info in the image (to find the old version's info files). */
  readonly infoDirListing?: readonly string[];
  /** md5 of the image's file at an absolute path; undefined when absent. */
  readonly imageMd5: (absPath: string) => string | undefined;
  /** True when another installed package's .list has this absolute path. */
  readonly ownedByOthers: (absPath: string) => boolean;
  readonly isDirectory?: (absPath: string) => boolean | undefined;
  /**
   * Whether dpkg's path filters (path-exclude) left this package path (no leading slash) out of
   * the unpack: no new copy of it, so a filtered conffile keeps its old hash (or `newconffile`).
   */
  readonly filtered?: (path: string) => boolean;
  /** A conffile's hash in another installed package that lists it (absolute path; planConffiles). */
  readonly othersConffileHash?: (absPath: string) => string | undefined;
  /**
   * Whether an installed package that replaces this one kept this package path (no leading slash)
   * in its place (`Replaced by files in installed package`): a conffile of it is then `obsolete`.
   */
  readonly kept?: (path: string) => boolean;
}

export interface UpgradeDbChanges {
  /** The new status record (for /var/lib/dpkg/status or status.d). */
  readonly record: Paragraph;
  readonly conffiles: ConffilePlan;
  /** Files to write under var/lib/dpkg/info. */
  readonly infoFiles: InfoFile[];
  /** Old info files to remove (whiteouts). */
  readonly removeInfoFiles: string[];
  /** Package paths to remove (whiteouts). */
  readonly remove: RemovalPlan;
}

/** Everything dpkg would change in its database (and which old paths it would delete) for one upgrade. */
export function upgradeDbChanges(input: UpgradeDbInput): UpgradeDbChanges {
  const oldConffiles = parseStatusConffiles(input.old);
  const conffiles = planConffiles({
    old: oldConffiles,
    conffiles: input.deb.conffiles,
    newMd5: (p) => (input.filtered?.(p) ? undefined : input.contents.md5(p)),
    imageMd5: input.imageMd5,
    shipped: (p) => input.contents.has(p),
    oldList: input.oldList,
    ownedByOthers: input.ownedByOthers,
    ...(input.othersConffileHash ? { othersHash: input.othersConffileHash } : {}),
    ...(input.kept ? { kept: input.kept } : {}),
  });
  const record = statusRecord({ old: input.old, control: input.deb.control, conffiles: conffiles.status });
  const files = infoFiles({
    control: input.deb.control,
    members: input.deb.controlMembers,
    contents: input.contents,
    obsoleteConffiles: conffiles.obsolete,
  });
  const oldInfo = input.infoDirListing ? packageInfoFiles(input.infoDirListing, infoBaseName(input.old)) : [];
  const remove = pathsToRemove({
    oldList: input.oldList,
    newContents: input.contents,
    newConffiles: input.deb.conffiles.map((c) => c.path),
    oldConffiles: oldConffiles.map((c) => c.path),
    ownedByOthers: input.ownedByOthers,
    ...(input.isDirectory ? { isDirectory: input.isDirectory } : {}),
    ...(input.filtered ? { filtered: input.filtered } : {}),
  });
  return { record, conffiles, infoFiles: files, removeInfoFiles: obsoleteInfoFiles(oldInfo, files), remove };
}
