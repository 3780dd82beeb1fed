import { OcipatchError } from "../../../errors.js";
import { packageKey } from "../../../inventory/package-key.js";
import type { InstalledPackage } from "../../../inventory/types.js";
import { parseMultiArch } from "../apt/packages.js";
import { dpkgRecord } from "../db/record.js";
import type { DataEntryType } from "../deb/index.js";
import { constraintAllows, parseRelations } from "../debian/relations.js";
import { parseStatusConffiles } from "../dpkg-db/index.js";
import { effectiveArch } from "../plan/model.js";
import type { Diversions } from "./diversions.js";

/** A package of the batch (its new version), as the file-conflict check sees it. */
export interface ClaimingPackage {
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
  readonly multiArch: string | undefined;
  /** Its `Replaces:` field. */
  readonly replaces: string | undefined;
}

/** A package of the batch unpacked before the one claiming: its new version, and the md5s it unpacked. */
export interface EarlierPackage extends ClaimingPackage {
  /** The md5 of a regular file it unpacked (absolute path), as its new `.md5sums` has it. */
  readonly md5: (path: string) => string | undefined;
}

/** What is on disk at a contested path, as far as the check asks. */
export interface DiskState {
  /** A directory (not through a symlink). */
  readonly directory: boolean;
  /** A symlink to a directory, with the very target the new symlink has. */
  readonly sameDirectoryLink: boolean;
  /** A regular file, through symlinks (dpkg follows them to a conffile). */
  readonly regularFile: boolean;
}

/**
 * Whether the entry is written, the file an installed package has is kept in its place, or it is
 * the file another instance of the same Multi-Arch: same package of the batch wrote already
 * (listed by both, written once).
 */
export type Claim = "unpack" | "keep" | "shared";

/** The version of a package a `Replaces:` names. */
interface Replaced {
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
}

/**
 * dpkg's does_replace: whether a `Replaces:` field names the package, its version within the
 * relation's bounds, its architecture the qualifier's (none, or `any`, for every architecture;
 * `all` counts as the native architecture on either side, as in dpkg's deparchsatisfied).
 */
export function doesReplace(
  field: string | undefined,
  context: string,
  replaced: Replaced,
  native: string,
): boolean {
  for (const [r] of parseRelations(field, { noAlternatives: true, context })) {
    if (r === undefined || r.name !== replaced.name) continue;
    if (!constraintAllows(r.constraint, replaced.version)) continue;
    const q = r.archQualifier;
    if (
      q !== undefined &&
      q !== "any" &&
      effectiveArch(q, native) !== effectiveArch(replaced.architecture, native)
    )
      continue;
    return true;
  }
  return false;
}

/**
 * The file-conflict check of dpkg's tarobject (src/main/archives.c) for ONE package of the batch,
 * entry by entry: a path it unpacks that an installed package outside the batch lists is
 * - shared, when both are instances of the same Multi-Arch: same package, or one of the two
 *   diverts it;
 * - taken over (`Replacing files in old package`), when the unpacked package's `Replaces:` names
 *   the installed version;
 * - taken without it when it is an obsolete conffile of the other package and a conffile of this
 *   one (a regular file on disk);
 * - left to the installed package (`Replaced by files in installed package`) when ITS `Replaces:`
 *   names the new version: the entry is not unpacked, not listed, and for a conffile recorded
 *   `obsolete`; once so, every later path the two share too;
 * - otherwise refused: dpkg stops with "trying to overwrite '…', which is also in package …" and
 *   leaves the package as it was (its `--force-overwrite` is not ocipatch's to give).
 * A path that is a directory on disk is left to the unpack's own rules (a symlink never replaces
 * a directory; a file replaces one only the upgraded package owns).
 * A path a package of the batch unpacked before (`earlier`) is checked against its new version the
 * same way, except that a takeover by this one's `Replaces:` fails (UNSUPPORTED): dpkg writes the
 * file again, and a layer holds one entry per path.
 */
export class FileClaims {
  /** Per installed package, what dpkg's replacingfilesandsaid says once a path was contested. */
  private readonly said = new Map<string, "replacing" | "replaced-by">();
  /** Packages that keep files of this package (key → the package and the paths). */
  readonly keptBy = new Map<
    string,
    { readonly by: { readonly name: string; readonly version: string }; readonly paths: string[] }
  >();

  constructor(
    private readonly pkg: ClaimingPackage,
    /** The installed packages outside the batch listing an absolute path now. */
    private readonly listers: (path: string) => readonly InstalledPackage[],
    private readonly diversions: Diversions,
    /** The image's native Debian architecture. */
    private readonly native: string,
    /** The batch's packages unpacked before this one that have an absolute path in their archive. */
    private readonly earlier: (path: string) => readonly EarlierPackage[] = () => [],
  ) {}

  /**
   * `by`'s `Replaces:` keeps this package's `path` (dpkg's "Replaced by files in installed
   * package"); once said for a package, it is said for every later path the two share.
   */
  private keepFor(k: string, by: { readonly name: string; readonly version: string }, path: string): void {
    if (this.said.get(k) === "replaced-by") this.keptBy.get(k)?.paths.push(path);
    else {
      this.said.set(k, "replaced-by");
      this.keptBy.set(k, { by, paths: [path] });
    }
  }

  /** Paths shared with another instance of this Multi-Arch: same package: that instance. */
  private readonly sharedWith = new Map<string, EarlierPackage>();

  /**
   * A shared regular file must be what the other instance unpacked (md5), as dpkg checks it; throws
   * RESOLVE where it is not.
   */
  checkShared(path: string, md5: string | undefined): void {
    const other = this.sharedWith.get(path);
    const theirs = other?.md5(path);
    if (other === undefined || theirs === undefined || md5 === undefined || theirs === md5) return;
    const me = this.pkg;
    throw new OcipatchError(
      "RESOLVE",
      `${me.name} ${me.version}: trying to overwrite shared '${path}', which is different from other instances of package ${me.name}:${me.architecture}`,
      { details: conflictDetails(me, path, other) },
    );
  }

  /** Whether `path` (absolute) is listed by an installed package or an earlier one of the batch: `claim` decides. */
  contested(path: string): boolean {
    return this.listers(path).length > 0 || this.earlier(path).length > 0;
  }

  /** The fate of a contested entry (not a directory); throws RESOLVE where dpkg refuses it. */
  claim(path: string, type: DataEntryType, newConffile: boolean, disk: DiskState): Claim {
    if (type === "directory" || disk.directory || (type === "symlink" && disk.sameDirectoryLink))
      return "unpack";
    const me = this.pkg;
    const meSame = parseMultiArch(me.multiArch) === "same";
    const divertedBy = this.diversions.of(path)?.by;
    /** A diversion by either package shares the path (each writes its own place). */
    const diverted = (other: string) =>
      divertedBy !== undefined && (divertedBy === other || divertedBy === me.name);
    let keep = false;
    for (const other of this.listers(path)) {
      const otherSame = parseMultiArch(dpkgRecord(other).paragraph.get("Multi-Arch")) === "same";
      if (other.name === me.name && otherSame && meSame) continue;
      if (diverted(other.name)) continue;
      const k = packageKey(other.name, other.architecture);
      const said = this.said.get(k);
      if (said === "replaced-by") {
        this.keepFor(k, other, path);
        keep = true;
        continue;
      }
      if (said === "replacing") continue;
      if (newConffile && disk.regularFile && obsoleteConffile(other, path)) continue;
      if (doesReplace(me.replaces, `${me.name} ${me.version}: Replaces`, other, this.native)) {
        this.said.set(k, "replacing");
        continue;
      }
      const otherReplaces = dpkgRecord(other).paragraph.get("Replaces");
      if (doesReplace(otherReplaces, `${other.dbPath}: ${other.name}: Replaces`, me, this.native)) {
        this.keepFor(k, other, path);
        keep = true;
        continue;
      }
      throw overwriting(me, path, other);
    }
    let shared = false;
    for (const other of this.earlier(path)) {
      // dpkg checks the new archive against the package unpacked before it, as against an installed one
      if (other.name === me.name && parseMultiArch(other.multiArch) === "same" && meSame) {
        shared = true;
        this.sharedWith.set(path, other);
        continue;
      }
      if (diverted(other.name)) continue;
      const k = `batch ${packageKey(other.name, other.architecture)}`;
      if (this.said.get(k) === "replaced-by") {
        this.keepFor(k, other, path);
        keep = true;
        continue;
      }
      // as dpkg asks: this package's Replaces: first, then the other's
      if (doesReplace(me.replaces, `${me.name} ${me.version}: Replaces`, other, this.native)) {
        // dpkg writes the file again over the earlier package's: a layer holds one entry per path
        throw new OcipatchError(
          "UNSUPPORTED",
          `${me.name} ${me.version}: takes over '${path}' (Replaces:) from ${other.name} ${other.version}, which this patch unpacked before it; a layer cannot hold the path twice, and ocipatch does not reorder dpkg's unpacks`,
          { details: conflictDetails(me, path, other) },
        );
      }
      if (doesReplace(other.replaces, `${other.name} ${other.version}: Replaces`, me, this.native)) {
        this.keepFor(k, other, path);
        keep = true;
        continue;
      }
      throw overwriting(me, path, other);
    }
    if (keep) return "keep";
    return shared ? "shared" : "unpack";
  }
}

/** dpkg's refusal of a file another package has, neither package's Replaces: covering the other. */
function overwriting(
  me: ClaimingPackage,
  path: string,
  other: { readonly name: string; readonly version: string },
): OcipatchError {
  return new OcipatchError(
    "RESOLVE",
    `${me.name} ${me.version}: trying to overwrite '${path}', which is also in package ${other.name} ${other.version} (neither package's Replaces: covers the other)`,
    { details: conflictDetails(me, path, other) },
  );
}

/** The details of a file-conflict error: the path, the package unpacked and the one that has it. */
function conflictDetails(
  me: ClaimingPackage,
  path: string,
  other: { readonly name: string; readonly version: string },
): Record<string, string> {
  return { path, package: me.name, version: me.version, owner: other.name, ownerVersion: other.version };
}

function obsoleteConffile(p: InstalledPackage, path: string): boolean {
  return parseStatusConffiles(dpkgRecord(p).paragraph).some((c) => c.path === path && c.obsolete);
}
