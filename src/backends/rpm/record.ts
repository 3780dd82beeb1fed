/**
 * What the rpm backend keeps of an installed package, and how a header becomes an
 * `InstalledPackage`: shared by the inventory reader, the planner and the layer builder.
 */
import { isOcipatchError, OcipatchError } from "../../errors.js";
import type { InstalledPackage } from "../../inventory/types.js";
import type { RecordCodec } from "../types.js";
import { parseHeaderBlob, type RpmHeader, sourceRpmName, sourceRpmVersion } from "./header.js";
import type { RpmdbRecord } from "./rpmdb-sqlite.js";

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
  /** The header as the database stores it. */
  readonly blob: Buffer;
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

/** A header's architecture as the inventory names it (`noarch` for a header without one). */
export const headerArch = (h: Pick<RpmHeader, "arch">): string => h.arch ?? "noarch";

/** Pseudo-packages rpm keeps in its database for imported keys: not software, not scanned. */
export const PSEUDO_PACKAGES: ReadonlySet<string> = new Set(["gpg-pubkey", "gpg-pubkey-release"]);

/** The inventory record of one installed header (as readInventory makes it). */
export function toInstalled({ header, hnum, blob }: RpmdbRecord, dbPath: string): InstalledPackage {
  const version = headerEvr(header);
  const srcName = header.sourceRpm === undefined ? undefined : sourceRpmName(header.sourceRpm);
  const srcVr = header.sourceRpm === undefined ? undefined : sourceRpmVersion(header.sourceRpm);
  const native: RpmNative = { backend: "rpm", header, hnum, blob };
  return {
    name: header.name,
    version,
    architecture: headerArch(header),
    sourceName: srcName ?? header.name,
    // a source rpm carries the epoch of its binaries (the file name just does not show it)
    sourceVersion:
      srcVr === undefined ? version : `${header.epoch === undefined ? "" : `${header.epoch}:`}${srcVr}`,
    held: false,
    dbPath,
    native,
  };
}

/** `<hnum> <header blob in base64>`: the row a record has in the database, and its header. */
const RECORD_TEXT = /^(\d{1,10}) ([A-Za-z0-9+/]+={0,2})$/;

/**
 * An installed package as its database row: the header number and the header blob (base64), and
 * back; a text that is not one such row, or a header that does not parse, reads as no package.
 */
export const rpmRecordCodec: RecordCodec = {
  encode(pkg) {
    const { hnum, blob } = rpmRecord(pkg);
    return `${hnum} ${blob.toString("base64")}`;
  },
  decode(text, dbPath) {
    const m = RECORD_TEXT.exec(text);
    if (!m) return undefined;
    const hnum = Number(m[1]);
    const blob = Buffer.from(m[2]!, "base64");
    // Buffer.from skips what is not base64: only a text that is exactly the blob's encoding is one
    if (blob.toString("base64") !== m[2]) return undefined;
    try {
      const header = parseHeaderBlob(blob, `${dbPath} (stored header ${hnum})`);
      return PSEUDO_PACKAGES.has(header.name) ? undefined : toInstalled({ header, hnum, blob }, dbPath);
    } catch (e) {
      if (isOcipatchError(e, "INVALID_FORMAT")) return undefined;
      throw e;
    }
  },
};
