import { OcipatchError } from "../../../errors.js";
import type { InstalledPackage } from "../../../inventory/types.js";
import type { RecordCodec } from "../../types.js";
import type { Paragraph } from "../debian/deb822.js";
import { parseDpkgStatus } from "./status.js";

/** dpkg's own part of an installed package (`InstalledPackage.native`). */
export interface DpkgRecord {
  readonly backend: "dpkg";
  /** Selection state: install, hold, deinstall, purge. */
  readonly selection: string;
  readonly multiArch: string | undefined;
  /** The raw control paragraph (all fields), for rewriting the database. */
  readonly paragraph: Paragraph;
}

/** The dpkg record of an installed package (read from a dpkg database). */
export function dpkgRecord(p: Pick<InstalledPackage, "name" | "native">): DpkgRecord {
  const n = p.native as Partial<DpkgRecord> | undefined;
  if (n?.backend !== "dpkg") {
    throw new OcipatchError("INTERNAL", `package ${p.name} was not read from a dpkg database`);
  }
  return n as DpkgRecord;
}

/**
 * A package's record as the dpkg database stores it (its control paragraph, `Status:` included
 * where the image's database has one), and back: read as `readInventory` reads a `status.d` file
 * (a record without `Status:` is installed).
 */
export const dpkgRecordCodec: RecordCodec = {
  encode(pkg) {
    return dpkgRecord(pkg).paragraph.toString();
  },
  decode(text, dbPath) {
    const read = parseDpkgStatus(text, dbPath, { assumeInstalled: true });
    return read.packages.length === 1 && read.warnings.length === 0 && read.notInstalled.length === 0
      ? read.packages[0]
      : undefined;
  },
};
