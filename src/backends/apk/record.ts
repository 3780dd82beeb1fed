import type { InstalledPackage } from "../../inventory/types.js";
import type { ApkInstalledRecord } from "./installed-db.js";

/** The apk record of a package read by the apk backend (its `native`). */
export function apkRecord(pkg: InstalledPackage): ApkInstalledRecord {
  return pkg.native as ApkInstalledRecord;
}
