import { OcipatchError } from "../../errors.js";
import type { InstalledPackage } from "../../inventory/types.js";
import type { BackendFiles, InventoryRead, PackageBackend } from "../types.js";
import { sourceRpmName } from "./header.js";
import { rpmPatcher } from "./patcher.js";
import { PSEUDO_PACKAGES, RPMDB_DIRS, rpmRecord, rpmRecordCodec, toInstalled } from "./record.js";
import { isBdbHash, readRpmdbBdb } from "./rpmdb-bdb.js";
import { isNdbPackages, readRpmdbNdb } from "./rpmdb-ndb.js";
import { type RpmdbRecord, readRpmdbSqlite } from "./rpmdb-sqlite.js";
import { compareRpmVersions, formatEvr, parseEvr } from "./version.js";

/**
 * The RPM backend (scan part): the installed packages from the rpm database (sqlite, or
 * NDB / Berkeley DB read-only), compared with rpmvercmp. Database directories in the order rpm
 * distributions configure `%_dbpath`: /usr/lib/sysimage/rpm (Fedora ≥ 36, SUSE) before /var/lib/rpm (RHEL/UBI, Azure Linux,
 * Amazon Linux); when /var/lib/rpm is a symlink to the other, the view follows it.
 */
/** `[E:]V[-R]`: an optional numeric epoch, then a version starting with a letter or digit, no blanks. */
const RPM_EVR = /^(?:\d+:)?[A-Za-z0-9][^\s:]*$/;

async function kindOf(fs: BackendFiles, path: string): Promise<"file" | "other" | undefined> {
  try {
    const st = await fs.stat(path);
    if (st === undefined) return undefined;
    return st.type === "file" ? "file" : "other";
  } catch (e) {
    if (e instanceof OcipatchError && e.code === "NOT_FOUND") return undefined;
    throw e;
  }
}

/** The headers of the first database found, and its path; undefined when there is none. */
async function readDatabase(fs: BackendFiles): Promise<{ path: string; records: RpmdbRecord[] } | undefined> {
  for (const dir of RPMDB_DIRS) {
    const sqlitePath = `${dir}/rpmdb.sqlite`;
    if ((await kindOf(fs, sqlitePath)) === "file") {
      const db = await fs.readFile(sqlitePath);
      const walPath = `${sqlitePath}-wal`;
      const wal = (await kindOf(fs, walPath)) === "file" ? await fs.readFile(walPath) : undefined;
      return { path: sqlitePath, records: readRpmdbSqlite(db, `${fs.description}: ${sqlitePath}`, wal) };
    }
    // rpm's own order when no backend is configured: sqlite, ndb, bdb (lib/dbi.c backends[])
    const ndbPath = `${dir}/Packages.db`;
    if ((await kindOf(fs, ndbPath)) === "file") {
      const what = `${fs.description}: ${ndbPath}`;
      const db = await fs.readFile(ndbPath);
      if (!isNdbPackages(db)) throw new OcipatchError("INVALID_FORMAT", `${what}: not an NDB rpm database`);
      return { path: ndbPath, records: readRpmdbNdb(db, what) };
    }
    const bdbPath = `${dir}/Packages`;
    if ((await kindOf(fs, bdbPath)) === "file") {
      const what = `${fs.description}: ${bdbPath}`;
      const db = await fs.readFile(bdbPath);
      if (!isBdbHash(db))
        throw new OcipatchError("INVALID_FORMAT", `${what}: not a Berkeley DB hash database`);
      return { path: bdbPath, records: readRpmdbBdb(db, what) };
    }
  }
  return undefined;
}

/**
 * Read the inventory from the first database directory holding `rpmdb.sqlite`, an NDB
 * `Packages.db` (SUSE) or a Berkeley DB `Packages` (the last two read-only formats: patching such
 * an image is a later step).
 */
export async function readRpmInventory(fs: BackendFiles): Promise<InventoryRead | undefined> {
  const db = await readDatabase(fs);
  if (db === undefined) return undefined;
  const what = `${fs.description}: ${db.path}`;
  const warnings: string[] = [];
  const packages: InstalledPackage[] = [];
  for (const r of db.records) {
    if (PSEUDO_PACKAGES.has(r.header.name)) continue;
    if (r.header.sourceRpm !== undefined && sourceRpmName(r.header.sourceRpm) === undefined)
      warnings.push(
        `${what}: ${r.header.name}: source rpm "${r.header.sourceRpm}" is not NAME-VERSION-RELEASE.src.rpm`,
      );
    packages.push(toInstalled(r, db.path));
  }
  return { packages, warnings };
}

export const rpmBackend: PackageBackend = {
  id: "rpm",
  displayName: "RPM",
  databases: RPMDB_DIRS.flatMap((d) => [`${d}/rpmdb.sqlite`, `${d}/Packages`, `${d}/Packages.db`]),
  binaries: ["/usr/bin/rpm", "/usr/bin/dnf", "/usr/bin/microdnf", "/usr/bin/yum", "/usr/bin/tdnf"],
  capturePatterns: [
    ...RPMDB_DIRS.flatMap((d) => [`${d.slice(1)}/rpmdb.sqlite`, `${d.slice(1)}/rpmdb.sqlite-wal`]),
    // repositories and their keys (repo/repo-file.ts)
    "etc/yum.repos.d/*",
    "etc/dnf/dnf.conf",
    "etc/dnf/vars/*",
    "etc/yum.conf",
    "etc/yum/vars/*",
    "etc/pki/rpm-gpg/*",
  ],
  readInventory: readRpmInventory,
  records: rpmRecordCodec,
  patcher: rpmPatcher,
  compareVersions: compareRpmVersions,
  isValidVersion: (v) => RPM_EVR.test(v),
  namespaces: ["almalinux", "rocky", "rhel", "opensuse-leap", "sles"],
  purlType: "rpm",
  // rpm purls are namespaced by vendor (fedora, redhat...): none is guessed when the OS is unknown
  fallbackNamespace: "",
  // the purl spec keeps the epoch out of the version: pkg:rpm/almalinux/bind@9.16.23-18.el9?epoch=32
  purlVersion(pkg) {
    const evr = parseEvr(pkg.version);
    return evr.epoch === undefined
      ? { version: pkg.version }
      : { version: formatEvr({ ...evr, epoch: undefined }), qualifiers: { epoch: evr.epoch } };
  },
  properties(pkg) {
    const n = rpmRecord(pkg);
    const props: Record<string, string> = {};
    if (n.header.sourceRpm !== undefined) props["rpm:sourceRpm"] = n.header.sourceRpm;
    if (n.header.epoch !== undefined) props["rpm:epoch"] = String(n.header.epoch);
    return props;
  },
};
