import { packageKey } from "../../../inventory/package-key.js";
import type { InstalledPackage } from "../../../inventory/types.js";
import { dpkgRecord } from "../db/record.js";
import { parseStatusConffiles } from "../dpkg-db/index.js";
import type { ImageDpkgDb } from "./image-db.js";

/**
 * dpkg's deb_parse_conffiles for a conffile the upgraded package's old version did not have: the
 * hash another installed or removed (`config-files`, `db.removed`) package that lists the path
 * records for it in its `Conffiles:` (obsolete or not), where the new version's configuration
 * starts from — a conffile taken over with `Replaces:` and unchanged since is replaced by the new
 * one, not kept beside it. Where several packages have it dpkg takes one of them; here the first
 * that lists it.
 */
export function othersConffileHash(
  db: Pick<ImageDpkgDb, "owners" | "removed">,
  installed: readonly InstalledPackage[],
): (path: string, self: string | undefined) => string | undefined {
  const byKey = new Map([...installed, ...db.removed].map((p) => [packageKey(p.name, p.architecture), p]));
  return (path, self) => {
    for (const k of db.owners.get(path) ?? []) {
      const p = k === self ? undefined : byKey.get(k);
      const c = p && parseStatusConffiles(dpkgRecord(p).paragraph).find((c) => c.path === path);
      if (c) return c.hash;
    }
    return undefined;
  };
}
