import type { Paragraph } from "../debian/deb822.js";

/** The distribution family decides which package database and vulnerability data apply. */
export type OsFamily = "debian" | "alpine" | "redhat" | "unknown";

/** What /etc/os-release (or a fallback) says about the image's OS. */
export interface OsInfo {
  /** `ID`: debian, ubuntu, alpine, ... */
  readonly id: string;
  readonly idLike: readonly string[];
  /** `VERSION_ID`: "11", "22.04"; undefined for Debian testing/sid. */
  readonly versionId: string | undefined;
  /** `VERSION_CODENAME`: bullseye, jammy, trixie, sid. */
  readonly codename: string | undefined;
  readonly prettyName: string | undefined;
  readonly family: OsFamily;
  /** The file the information came from (`/etc/os-release`, `/etc/debian_version`...). */
  readonly source: string;
}

export type PackageManager = "dpkg" | "apk" | "rpm" | "none";

/** One installed binary package. */
export interface InstalledPackage {
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
  /** Source package name (dpkg `Source:` or the binary name). */
  readonly sourceName: string;
  /** Source version (from `Source: name (version)` or the binary version). */
  readonly sourceVersion: string;
  readonly multiArch: string | undefined;
  /** dpkg selection state: install, hold, deinstall, purge. */
  readonly selection: string;
  /** Where the record lives: `/var/lib/dpkg/status` or `/var/lib/dpkg/status.d/<file>`. */
  readonly dbPath: string;
  /** The raw control paragraph (all fields), for rewriting the database. */
  readonly record: Paragraph;
}

/** What an image has installed, as read from its package database. */
export interface Inventory {
  readonly os: OsInfo;
  readonly packageManager: PackageManager;
  /** No package manager binary (dpkg/apt, apk...) in the image, e.g. distroless. */
  readonly distroless: boolean;
  readonly packages: readonly InstalledPackage[];
  /** Non-fatal problems met while reading (malformed records...). */
  readonly warnings: readonly string[];
}
