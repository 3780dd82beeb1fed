import { packageKey } from "../../../inventory/package-key.js";
import type { InstalledPackage } from "../../../inventory/types.js";
import { parseMultiArch } from "../apt/packages.js";
import { dpkgRecord } from "../db/record.js";
import { Paragraph } from "../debian/deb822.js";
import { formatStatusConffiles, type PackageContents, parseStatusConffiles } from "../dpkg-db/index.js";
import type { ImageDpkgDb } from "./image-db.js";

/** A package of the batch, as the takeovers see it once it is unpacked. */
export interface BatchPackage {
  readonly name: string;
  /** The key of the installed package it upgrades; undefined for a package new to the image. */
  readonly upgrades: string | undefined;
  /** What it unpacked: the files an installed package kept (`Replaced by files in...`) are not in it. */
  readonly contents: PackageContents;
  /** Package paths (no leading slash) dpkg's path filters left out of the unpack (`UnpackedPackage`). */
  readonly filtered: ReadonlySet<string>;
  /** Package paths of symlinks it left as existing directories (`UnpackedPackage.existingDirs`). */
  readonly existingDirs: ReadonlySet<string>;
  /** Its conffiles (absolute; remove-on-upgrade ones left out). */
  readonly conffiles: ReadonlySet<string>;
}

/** What the batch's files do to the installed packages outside it. */
export interface Takeovers {
  /** Packages that lost files to the batch (`Replacing files in old package`): the list dpkg leaves. */
  readonly lists: ReadonlyMap<string, { readonly installed: InstalledPackage; readonly list: string[] }>;
  /** Packages left with nothing of their own (`Noting disappearance of`): dpkg forgets them. */
  readonly disappeared: readonly { readonly installed: InstalledPackage; readonly by: string }[];
  /**
   * Records of the packages still installed whose conffiles the batch unpacked: their `Conffiles:`
   * entries for them marked `obsolete` (dpkg's conffile_mark_obsolete), the rest as it was.
   */
  readonly records: ReadonlyMap<string, { readonly installed: InstalledPackage; readonly record: Paragraph }>;
}

function multiArchSame(p: InstalledPackage): boolean {
  return parseMultiArch(dpkgRecord(p).paragraph.get("Multi-Arch")) === "same";
}

/**
 * The other installed packages' side of unpacking the batch, package by package as dpkg does
 * (src/main/unpack.c), fed one package at a time (`unpacked`) so that the file-conflict check of
 * the next one sees who lists a path at that point (`listers`). For each package: first
 * `pkg_disappear_others` — a package none of whose listed paths is "saved" disappears; a path
 * saves it when the package unpacked does not ship it and no third package lists it, or when it
 * is diverted by either of the two — then `pkg_remove_files_from_others`: every non-directory the
 * package unpacks (a symlink left as an existing directory is not one) leaves the lists of the
 * packages that also had it (not of the package diverting it, nor of another instance of the same
 * package), and a conffile among them is marked `obsolete` in their `Conffiles:`. A removed
 * package (`config-files`) loses such paths too, as dpkg has it, but never conflicts nor
 * disappears. The packages of the batch are left out: their lists are their new versions'. The
 * .md5sums of a package that lost files is left as it is, as dpkg does.
 */
export class BatchTakeovers {
  private readonly byKey: ReadonlyMap<string, InstalledPackage>;
  /** Keys of the removed (`config-files`) packages: they lose paths, never conflict or disappear. */
  private readonly removed: ReadonlySet<string>;
  /** Lists changed so far (key → paths still listed). */
  private readonly changed = new Map<string, Set<string>>();
  /** Packages that disappeared (key → the batch package they disappeared for). */
  private readonly gone = new Map<string, string>();
  /** Conffiles marked obsolete so far (key → absolute paths). */
  private readonly obsoleted = new Map<string, Set<string>>();
  /** Paths the batch's packages unpacked so far → their indices. */
  private readonly unpackedBy = new Map<string, number[]>();
  /** `key path` of files the installed version of a batch package lost before it was unpacked. */
  private readonly takenFromBatch = new Set<string>();
  /** Paths (not directories) the batch's packages unpacked so far list, filtered ones too → their indices. */
  private readonly listedBy = new Map<string, number[]>();
  private count = 0;

  /** `upgrading`: the keys of the installed packages the batch upgrades. */
  constructor(
    private readonly db: Pick<ImageDpkgDb, "owners" | "lists" | "diversions" | "removed">,
    installed: readonly InstalledPackage[],
    private readonly upgrading: ReadonlySet<string>,
  ) {
    const key = (p: InstalledPackage) => packageKey(p.name, p.architecture);
    this.byKey = new Map([...installed, ...db.removed].map((p) => [key(p), p]));
    this.removed = new Set(db.removed.map(key));
  }

  /**
   * The installed packages that list `path` (absolute) now (not the removed ones): those outside the
   * batch, and the installed versions of its packages not unpacked yet, as dpkg sees them, but for
   * `self` (the key of the installed package the package asking upgrades).
   */
  listers(path: string, self?: string): InstalledPackage[] {
    const out: InstalledPackage[] = [];
    for (const k of this.db.owners.get(path) ?? []) {
      const p = this.byKey.get(k);
      if (
        p &&
        k !== self &&
        !this.upgradedSoFar.has(k) &&
        !this.takenFromBatch.has(`${k} ${path}`) &&
        !this.removed.has(k) &&
        !this.gone.has(k) &&
        this.stillLists(k, path)
      )
        out.push(p);
    }
    return out;
  }

  /** The next package of the batch, unpacked. */
  unpacked(b: BatchPackage): void {
    const i = this.count++;
    /** dpkg's "in the new archive": what the package unpacks (filtered paths are not). */
    const inArchive = new Set<string>();
    const files: string[] = [];
    for (const item of b.contents.items) {
      const abs = item.path === "." ? "/." : `/${item.path}`;
      if (b.filtered.has(item.path)) continue;
      inArchive.add(abs);
      // dpkg elides from the other lists only what it writes: not a symlink left as an existing directory
      if (item.type !== "directory" && item.path !== "." && !b.existingDirs.has(item.path)) files.push(abs);
    }

    const listedByThird = (path: string, k: string, p: InstalledPackage): boolean => {
      for (const t of this.db.owners.get(path) ?? []) {
        if (t === k || t === b.upgrades || this.gone.has(t) || !this.stillLists(t, path)) continue;
        // an upgraded package lists what its new version ships (below), once it is unpacked
        if (this.upgrading.has(t) && this.upgradedSoFar.has(t)) continue;
        if (multiArchSame(p) && this.byKey.get(t)?.name === p.name) continue;
        return true;
      }
      return (this.unpackedBy.get(path) ?? []).some((j) => j !== i);
    };

    // 1. the packages the batch's package leaves with nothing of their own disappear
    for (const [k, p] of this.byKey) {
      // (another instance of the same package never disappears for it)
      if (this.upgrading.has(k) || this.removed.has(k) || this.gone.has(k) || p.name === b.name) continue;
      const list = this.lists(k);
      if (!list.some((l) => l !== "/.")) continue;
      const saves = (l: string): boolean => {
        const d = this.db.diversions.of(l);
        if (d?.by !== undefined && (d.by === p.name || d.by === b.name)) return true;
        if (inArchive.has(l)) return false;
        return !listedByThird(l, k, p);
      };
      if (!list.some(saves)) this.gone.set(k, b.name);
    }

    // 2. the files it unpacks leave the other packages' lists; its conffiles become obsolete there
    for (const f of files) {
      const d = this.db.diversions.of(f);
      if (d?.by === b.name) continue;
      for (const o of this.db.owners.get(f) ?? []) {
        const p = this.byKey.get(o);
        if (!p || this.gone.has(o) || p.name === b.name || d?.by === p.name) continue;
        if (this.upgrading.has(o)) {
          // a batch package's installed version loses it too, until its new version's list replaces it
          if (!this.upgradedSoFar.has(o)) this.takenFromBatch.add(`${o} ${f}`);
          continue;
        }
        if (b.conffiles.has(f)) this.obsoleted.set(o, new Set([...(this.obsoleted.get(o) ?? []), f]));
        let now = this.changed.get(o);
        if (!now) {
          now = new Set(this.db.lists.get(o) ?? []);
          this.changed.set(o, now);
        }
        now.delete(f);
      }
    }
    for (const abs of inArchive) this.unpackedBy.set(abs, [...(this.unpackedBy.get(abs) ?? []), i]);
    // what it lists, filtered paths too: dpkg checks the next packages against those before its filters
    for (const item of b.contents.items) {
      if (item.path === "." || item.type === "directory") continue;
      const abs = `/${item.path}`;
      this.listedBy.set(abs, [...(this.listedBy.get(abs) ?? []), i]);
    }
    if (b.upgrades !== undefined) this.upgradedSoFar.add(b.upgrades);
  }

  /**
   * The batch's packages unpacked so far that list `path` (absolute, not a directory), by index:
   * what they unpacked, and what dpkg's path filters left out of it.
   */
  listedBefore(path: string): readonly number[] {
    return this.listedBy.get(path) ?? [];
  }

  /** What the batch did to the packages outside it, once every package is unpacked. */
  result(): Takeovers {
    const lists = new Map<string, { installed: InstalledPackage; list: string[] }>();
    for (const k of this.changed.keys()) {
      if (!this.gone.has(k)) lists.set(k, { installed: this.byKey.get(k)!, list: [...this.lists(k)] });
    }
    const records = new Map<string, { installed: InstalledPackage; record: Paragraph }>();
    for (const [k, paths] of this.obsoleted) {
      if (this.gone.has(k)) continue;
      const installed = this.byKey.get(k)!;
      const record = withObsoleteConffiles(dpkgRecord(installed).paragraph, paths);
      if (record) records.set(k, { installed, record });
    }
    return {
      lists,
      disappeared: [...this.gone].map(([k, by]) => ({ installed: this.byKey.get(k)!, by })),
      records,
    };
  }

  /** Upgraded packages of the batch unpacked so far. */
  private readonly upgradedSoFar = new Set<string>();

  private lists(k: string): readonly string[] {
    const all = this.db.lists.get(k) ?? [];
    const now = this.changed.get(k);
    return now ? all.filter((l) => now.has(l)) : all;
  }

  private stillLists(k: string, path: string): boolean {
    return this.changed.get(k)?.has(path) ?? true;
  }
}

/**
 * A status record with the `Conffiles:` entries of `paths` marked obsolete (the other fields as
 * they were); undefined when none of them is one of its conffiles or all already are obsolete.
 */
function withObsoleteConffiles(record: Paragraph, paths: ReadonlySet<string>): Paragraph | undefined {
  const conffiles = parseStatusConffiles(record);
  if (!conffiles.some((c) => paths.has(c.path) && !c.obsolete)) return undefined;
  const out = new Paragraph();
  for (const [k, v] of record.fields) out.set(k, v);
  out.set(
    "Conffiles",
    formatStatusConffiles(conffiles.map((c) => (paths.has(c.path) ? { ...c, obsolete: true } : c))),
  );
  return out;
}
