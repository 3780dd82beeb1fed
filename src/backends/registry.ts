import { dpkgBackend } from "./dpkg/backend.js";
import type { BackendId, PackageBackend } from "./types.js";

/** Every package backend ocipatch has: ONE line per distribution family, in detection order. */
export const BACKENDS: readonly PackageBackend[] = [dpkgBackend];

/**
 * Package databases of formats without a backend yet (detected to say so, never read).
 * A backend's registration above replaces its entry here.
 */
export const UNSUPPORTED: readonly UnsupportedFormat[] = [
  {
    id: "apk",
    displayName: "Alpine apk",
    databases: ["/lib/apk/db/installed", "/usr/lib/apk/db/installed"],
    binaries: ["/sbin/apk", "/usr/sbin/apk", "/bin/apk"],
  },
  {
    id: "rpm",
    displayName: "RPM",
    databases: [
      "/var/lib/rpm/rpmdb.sqlite",
      "/var/lib/rpm/Packages",
      "/var/lib/rpm/Packages.db",
      "/usr/lib/sysimage/rpm/rpmdb.sqlite",
    ],
    binaries: ["/usr/bin/rpm", "/bin/rpm", "/usr/bin/dnf", "/usr/bin/microdnf", "/usr/bin/yum"],
  },
].filter((u) => !BACKENDS.some((b) => b.id === u.id)) as UnsupportedFormat[];

/** A package format recognised by its database, without a backend to read it. */
export type UnsupportedFormat = Pick<PackageBackend, "id" | "displayName" | "databases" | "binaries">;

/** The backend with this id. */
export function backendById(id: BackendId): PackageBackend | undefined {
  return BACKENDS.find((b) => b.id === id);
}

/** Capture globs of every backend: what a filesystem view keeps in memory for inventory and patch. */
export function backendCapturePatterns(): string[] {
  return [...new Set(BACKENDS.flatMap((b) => b.capturePatterns))];
}
