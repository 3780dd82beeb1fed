import type { PackageBackend } from "../types.js";
import { readDpkgInventory } from "./db/database.js";
import { DEBCONF_CONFIG_DB, DPKG_STATUS, DPKG_STATUS_D, entryPath } from "./db/paths.js";
import { dpkgRecord, dpkgRecordCodec } from "./db/record.js";
import { compareDebianVersions, parseDebianVersion } from "./debian/version.js";
import { ELF_LIBRARY_SUMMARY } from "./maintainer-scripts/ldconfig/summary.js";
import { dpkgPatcher } from "./patcher.js";

/** Debian, Ubuntu and distroless Debian: the dpkg database, apt repositories, .deb packages. */
export const dpkgBackend: PackageBackend = {
  id: "dpkg",
  displayName: "dpkg",
  databases: [DPKG_STATUS, DPKG_STATUS_D],
  binaries: ["/usr/bin/dpkg", "/bin/dpkg", "/usr/bin/apt-get", "/bin/apt-get", "/usr/bin/apt"],
  // the debconf answers: read by the native ca-certificates configure (a layer re-read otherwise)
  capturePatterns: ["var/lib/dpkg/**", "etc/apt/**", "usr/share/keyrings/**", entryPath(DEBCONF_CONFIG_DB)],
  fileSummaries: [ELF_LIBRARY_SUMMARY],
  async readInventory(fs) {
    const db = await readDpkgInventory(fs);
    if (!db) return undefined;
    const warnings = [...db.warnings];
    if (db.packages.length === 0)
      warnings.push(`${fs.description}: the dpkg database lists no installed package`);
    return { packages: db.packages, warnings };
  },
  compareVersions: compareDebianVersions,
  isValidVersion(v) {
    try {
      parseDebianVersion(v);
      return /^[0-9]/.test(v.includes(":") ? v.slice(v.indexOf(":") + 1) : v);
    } catch {
      return false;
    }
  },
  namespaces: ["debian", "ubuntu"],
  purlType: "deb",
  fallbackNamespace: "debian",
  properties(pkg) {
    const multiArch = dpkgRecord(pkg).multiArch;
    const out: Record<string, string> = {};
    if (multiArch) out["multi-arch"] = multiArch;
    return out;
  },
  records: dpkgRecordCodec,
  patcher: dpkgPatcher,
};
