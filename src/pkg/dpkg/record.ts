import type { Paragraph } from "../../debian/deb822.js";
import { OcipatchError } from "../../errors.js";
import type { InstalledPackage } from "../../inventory/types.js";

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
