import type { Paragraph } from "../debian/deb822.js";

import type { OsInfo, PackageManager } from "../os/types.js";

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
