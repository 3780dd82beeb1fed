import type { InstalledPackage } from "../../inventory/types.js";
import type { ApkInstalledDb } from "./installed-db.js";

/** The installed packages of an apk database; `pinned` names are held (`name=version` in world). */
export function packagesOf(
  db: Pick<ApkInstalledDb, "records">,
  dbPath: string,
  pinned: ReadonlySet<string>,
): InstalledPackage[] {
  return db.records.map(
    (r): InstalledPackage => ({
      name: r.name,
      version: r.version,
      architecture: r.architecture,
      sourceName: r.origin ?? r.name,
      sourceVersion: r.version,
      held: pinned.has(r.name),
      dbPath,
      native: r,
    }),
  );
}
