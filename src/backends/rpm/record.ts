/**
 * What the rpm backend keeps of an installed package, and how a header becomes an
 * `InstalledPackage`: shared by the inventory reader, the planner and the layer builder.
 */
import { OcipatchError } from "../../errors.js";
import type { InstalledPackage } from "../../inventory/types.js";
import { type RpmHeader, sourceRpmName, sourceRpmVersion } from "./header.js";

/**
 * Database directories in the order rpm distributions configure `%_dbpath`: /usr/lib/sysimage/rpm
 * (Fedora ≥ 36, SUSE) before /var/lib/rpm (RHEL/UBI, Azure Linux, Amazon Linux).
 */
export const RPMDB_DIRS = ["/usr/lib/sysimage/rpm", "/var/lib/rpm"] as const;

/** What the rpm backend keeps of each installed package (InstalledPackage.native). */
export interface RpmNative {
  readonly backend: "rpm";
  readonly header: RpmHeader;
  /** Row of the header in the database (`Packages.hnum`). */
  readonly hnum: number;
}

/** The rpm record of an installed package (read from an rpm database). */
export function rpmRecord(p: Pick<InstalledPackage, "name" | "native">): RpmNative {
  const n = p.native as Partial<RpmNative> | undefined;
  if (n?.backend !== "rpm")
    throw new OcipatchError("INTERNAL", `package ${p.name} was not read from an rpm database`);
  return n as RpmNative;
}

/** `[E:]V-R` of a header (epoch left out when the header has none, as rpm prints it). */
export function headerEvr(h: Pick<RpmHeader, "epoch" | "version" | "release">): string {
  return `${h.epoch === undefined ? "" : `${h.epoch}:`}${h.version}-${h.release}`;
}

/** Pseudo-packages rpm keeps in its database for imported keys: not software, not scanned. */
export const PSEUDO_PACKAGES: ReadonlySet<string> = new Set(["gpg-pubkey", "gpg-pubkey-release"]);

/** The inventory record of one installed header (as readInventory makes it). */
export function toInstalled(header: RpmHeader, hnum: number, dbPath: string): InstalledPackage {
  const version = headerEvr(header);
  const srcName = header.sourceRpm === undefined ? undefined : sourceRpmName(header.sourceRpm);
  const srcVr = header.sourceRpm === undefined ? undefined : sourceRpmVersion(header.sourceRpm);
  const native: RpmNative = { backend: "rpm", header, hnum };
  return {
    name: header.name,
    version,
    architecture: header.arch ?? "noarch",
    sourceName: srcName ?? header.name,
    // a source rpm carries the epoch of its binaries (the file name just does not show it)
    sourceVersion:
      srcVr === undefined ? version : `${header.epoch === undefined ? "" : `${header.epoch}:`}${srcVr}`,
    held: false,
    dbPath,
    native,
  };
}
