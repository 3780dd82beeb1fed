/**
 * The Alpine (apk) backend: reads the installed database without apk-tools, so images without
 * an apk binary and without /etc/apk (distroless Alpine, Wolfi images built with apko) are read too.
 */

import type { BackendFiles, InventoryRead, PackageBackend } from "../types.js";
import { pinnedNames, readApkWorld, readIfFile } from "./config.js";
import { APK_INSTALLED_DB, APK_INSTALLED_DB_USR, parseApkInstalledDb } from "./installed-db.js";
import { packagesOf } from "./inventory.js";
import { apkPatcher } from "./patcher.js";
import { apkRecord, apkRecordCodec } from "./record.js";
import { compareApkVersions, isValidApkVersion } from "./version.js";

export { apkRecord };

async function readApkInventory(fs: BackendFiles): Promise<InventoryRead | undefined> {
  let dbPath: string | undefined;
  let bytes: Buffer | undefined;
  for (const p of [APK_INSTALLED_DB, APK_INSTALLED_DB_USR]) {
    bytes = await readIfFile(fs, p);
    if (bytes) {
      dbPath = p;
      break;
    }
  }
  if (!bytes || !dbPath) return undefined;
  const warnings: string[] = [];
  const db = parseApkInstalledDb(bytes.toString("utf8"), dbPath);
  const pinned = pinnedNames(await readApkWorld(fs));
  const packages = packagesOf(db, dbPath, pinned);
  if (packages.length === 0)
    warnings.push(`${fs.description}: the apk database ${dbPath} lists no installed package`);
  return { packages, warnings };
}

export const apkBackend: PackageBackend = {
  id: "apk",
  displayName: "Alpine apk",
  databases: [APK_INSTALLED_DB, APK_INSTALLED_DB_USR],
  binaries: ["/sbin/apk", "/usr/sbin/apk", "/bin/apk", "/usr/bin/apk"],
  capturePatterns: [
    "lib/apk/db/installed",
    "usr/lib/apk/db/installed",
    "lib/apk/db/triggers",
    "lib/apk/db/scripts.tar",
    "lib/apk/db/scripts.tar.gz",
    "etc/apk/world",
    "etc/apk/repositories",
    "etc/apk/keys/*",
    "etc/alpine-release",
  ],
  readInventory: readApkInventory,
  compareVersions: compareApkVersions,
  isValidVersion: isValidApkVersion,
  namespaces: ["alpine", "wolfi"],
  purlType: "apk",
  fallbackNamespace: "alpine",
  properties(pkg) {
    const r = apkRecord(pkg);
    const out: Record<string, string> = {};
    if (r.origin) out["apk:origin"] = r.origin;
    if (r.checksum) out["apk:checksum"] = r.checksum;
    return out;
  },
  records: apkRecordCodec,
  patcher: apkPatcher,
};
