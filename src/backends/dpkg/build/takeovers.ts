import { packageKey } from "../../../inventory/package-key.js";
import type { InstalledPackage } from "../../../inventory/types.js";
import { dpkgRecord } from "../db/record.js";
import type { PackageContents } from "../dpkg-db/index.js";
import type { ImageDpkgDb } from "./image-db.js";

/** A package of the batch, as the takeovers see it. */
export interface BatchPackage {
  readonly name: string;
  /** The key of the installed package it upgrades; undefined for a package new to the image. */
  readonly upgrades: string | undefined;
  readonly contents: PackageContents;
  /** Package paths (no leading slash) dpkg's path filters left out of the unpack (`UnpackedPackage`). */
  readonly filtered: ReadonlySet<string>;
}

/** What the batch's files do to the installed packages outside it. */
export interface Takeovers {
  /** Packages that lost files to the batch (`Replacing files in old package`): the list dpkg leaves. */
  readonly lists: ReadonlyMap<string, { readonly installed: InstalledPackage; readonly list: string[] }>;
  /** Packages left with nothing of their own (`Noting disappearance of`): dpkg forgets them. */
  readonly disappeared: readonly { readonly installed: InstalledPackage; readonly by: string }[];
}

function multiArchSame(p: InstalledPackage): boolean {
  return (dpkgRecord(p).paragraph.get("Multi-Arch") ?? "").toLowerCase() === "same";
}

/**
 * The other installed packages' side of unpacking the batch, package by package as dpkg does
 * (src/main/unpack.c): first `pkg_disappear_others` — a package none of whose listed paths is
 * "saved" disappears; a path saves it when the package unpacked does not ship it and no third
 * package lists it, or when it is diverted by either of the two — then `pkg_remove_files_from_others`:
 * every non-directory the package unpacks leaves the lists of the packages that also had it
 * (not of the package diverting it, nor of another instance of the same package). The packages of
 * the batch are left out: their lists are their new versions'. The .md5sums of a package that
 * lost files is left as it is, as dpkg does.
 */
export function takeovers(
  db: Pick<ImageDpkgDb, "owners" | "lists" | "diversions">,
  installed: readonly InstalledPackage[],
  batch: readonly BatchPackage[],
): Takeovers {
  const byKey = new Map(installed.map((p) => [packageKey(p.name, p.architecture), p]));
  const upgraded = new Set(batch.flatMap((b) => (b.upgrades ? [b.upgrades] : [])));
  /** Lists changed so far (key → paths still listed). */
  const changed = new Map<string, Set<string>>();
  const gone = new Map<string, string>();
  /** Paths the batch's packages unpacked so far → their indices. */
  const unpacked = new Map<string, number[]>();
  const lists = (k: string): readonly string[] => {
    const all = db.lists.get(k) ?? [];
    const now = changed.get(k);
    return now ? all.filter((l) => now.has(l)) : all;
  };
  const stillLists = (k: string, path: string): boolean => changed.get(k)?.has(path) ?? true;

  for (const [i, b] of batch.entries()) {
    /** dpkg's "in the new archive": what the package unpacks (filtered paths are not). */
    const inArchive = new Set<string>();
    const files: string[] = [];
    for (const item of b.contents.items) {
      const abs = item.path === "." ? "/." : `/${item.path}`;
      if (b.filtered.has(item.path)) continue;
      inArchive.add(abs);
      if (item.type !== "directory" && item.path !== ".") files.push(abs);
    }

    const listedByThird = (path: string, k: string, p: InstalledPackage): boolean => {
      for (const t of db.owners.get(path) ?? []) {
        if (t === k || t === b.upgrades || gone.has(t) || !stillLists(t, path)) continue;
        // an upgraded package lists what its new version ships (below), once it is unpacked
        if (upgraded.has(t) && batch.some((x, j) => j < i && x.upgrades === t)) continue;
        if (multiArchSame(p) && byKey.get(t)?.name === p.name) continue;
        return true;
      }
      return (unpacked.get(path) ?? []).some((j) => j !== i);
    };

    // 1. the packages the batch's package leaves with nothing of their own disappear
    for (const [k, p] of byKey) {
      // (another instance of the same package never disappears for it)
      if (upgraded.has(k) || gone.has(k) || p.name === b.name) continue;
      const list = lists(k);
      if (!list.some((l) => l !== "/.")) continue;
      const saves = (l: string): boolean => {
        const d = db.diversions.of(l);
        if (d?.by !== undefined && (d.by === p.name || d.by === b.name)) return true;
        if (inArchive.has(l)) return false;
        return !listedByThird(l, k, p);
      };
      if (!list.some(saves)) gone.set(k, b.name);
    }

    // 2. the files it unpacks leave the other packages' lists
    for (const f of files) {
      const d = db.diversions.of(f);
      if (d?.by === b.name) continue;
      for (const o of db.owners.get(f) ?? []) {
        const p = byKey.get(o);
        if (!p || upgraded.has(o) || gone.has(o) || p.name === b.name || d?.by === p.name) continue;
        let now = changed.get(o);
        if (!now) {
          now = new Set(db.lists.get(o) ?? []);
          changed.set(o, now);
        }
        now.delete(f);
      }
    }
    for (const abs of inArchive) unpacked.set(abs, [...(unpacked.get(abs) ?? []), i]);
  }

  const out = new Map<string, { installed: InstalledPackage; list: string[] }>();
  for (const k of changed.keys()) {
    if (!gone.has(k)) out.set(k, { installed: byKey.get(k)!, list: [...lists(k)] });
  }
  return {
    lists: out,
    disappeared: [...gone].map(([k, by]) => ({ installed: byKey.get(k)!, by })),
  };
}
