import { isOcipatchError } from "../errors.js";
import { DPKG_STATUS, DPKG_STATUS_D } from "../pkg/dpkg/paths.js";
import type { LayeredFs } from "../rootfs/index.js";
import type { PackageManager } from "./types.js";

/** The subset of the filesystem view package-manager detection needs. */
export type PackageManagerFiles = Pick<LayeredFs, "stat">;

/** Package databases, by manager, at their usual paths. */
export const PACKAGE_DATABASES: Readonly<Record<Exclude<PackageManager, "none">, readonly string[]>> = {
  dpkg: [DPKG_STATUS, DPKG_STATUS_D],
  apk: ["/lib/apk/db/installed", "/usr/lib/apk/db/installed"],
  rpm: [
    "/var/lib/rpm/rpmdb.sqlite",
    "/var/lib/rpm/Packages",
    "/var/lib/rpm/Packages.db",
    "/usr/lib/sysimage/rpm/rpmdb.sqlite",
  ],
};

/** Package manager programs; an image without any of them is "distroless". */
export const PACKAGE_MANAGER_BINARIES: readonly string[] = [
  "/usr/bin/dpkg",
  "/bin/dpkg",
  "/usr/bin/apt-get",
  "/bin/apt-get",
  "/usr/bin/apt",
  "/sbin/apk",
  "/usr/sbin/apk",
  "/bin/apk",
  "/usr/bin/rpm",
  "/bin/rpm",
  "/usr/bin/dnf",
  "/usr/bin/microdnf",
  "/usr/bin/yum",
];

export interface PackageManagerInfo {
  /** The manager whose database is present (dpkg first), or "none". */
  readonly packageManager: PackageManager;
  /** Database paths found (files or directories). */
  readonly databases: readonly string[];
  /** Package manager programs found (after resolving symlinks such as /bin -> usr/bin). */
  readonly binaries: readonly string[];
  /** A package database but no package manager program (e.g. Google distroless). */
  readonly distroless: boolean;
}

/** Find the package database and whether any package manager program is installed. */
export async function detectPackageManager(fs: PackageManagerFiles): Promise<PackageManagerInfo> {
  let packageManager: PackageManager = "none";
  const databases: string[] = [];
  for (const [pm, paths] of Object.entries(PACKAGE_DATABASES) as Array<[PackageManager, readonly string[]]>) {
    for (const p of paths) {
      const st = await statOrUndefined(fs, p);
      if (!st) continue;
      databases.push(p);
      if (packageManager === "none") packageManager = pm;
    }
  }
  const binaries: string[] = [];
  for (const p of PACKAGE_MANAGER_BINARIES) {
    const st = await statOrUndefined(fs, p);
    if (st?.type === "file" && !binaries.includes(st.path)) binaries.push(st.path);
  }
  return { packageManager, databases, binaries, distroless: binaries.length === 0 };
}

/** stat that treats unresolvable paths (symlink loops) as missing. */
async function statOrUndefined(fs: PackageManagerFiles, p: string) {
  try {
    return await fs.stat(p);
  } catch (e) {
    if (isOcipatchError(e, "NOT_FOUND")) return undefined;
    throw e;
  }
}
