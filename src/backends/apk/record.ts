import { isOcipatchError } from "../../errors.js";
import type { InstalledPackage } from "../../inventory/types.js";
import type { RecordCodec } from "../types.js";
import { type ApkInstalledRecord, parseApkInstalledDb, serializeApkInstalledDb } from "./installed-db.js";
import { packagesOf } from "./inventory.js";

/** The apk record of a package read by the apk backend (its `native`). */
export function apkRecord(pkg: InstalledPackage): ApkInstalledRecord {
  return pkg.native as ApkInstalledRecord;
}

/**
 * A package's record as `/lib/apk/db/installed` stores it, and back. A held name (`world`) is
 * not part of the record: a decoded package is not held.
 */
export const apkRecordCodec: RecordCodec = {
  encode(pkg) {
    return serializeApkInstalledDb({
      records: [{ ...apkRecord(pkg), newlinesBefore: 0 }],
      trailingNewlines: 1,
    });
  },
  decode(text, dbPath) {
    try {
      const db = parseApkInstalledDb(text, dbPath);
      return db.records.length === 1 ? packagesOf(db, dbPath, new Set())[0] : undefined;
    } catch (e) {
      if (isOcipatchError(e, "INVALID_FORMAT")) return undefined;
      throw e;
    }
  },
};
