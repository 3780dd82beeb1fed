import { OcipatchError } from "../../../errors.js";
import { packageKey } from "../../../inventory/package-key.js";
import type { InstalledPackage, Inventory } from "../../../inventory/types.js";
import type { FsEntry, LayeredFs } from "../../../rootfs/index.js";
import { DPKG_STATUS, DPKG_STATUS_D, entryPath } from "../db/paths.js";
import { dpkgRecord } from "../db/record.js";
import { dpkgNative, parseStatusField } from "../db/status.js";
import { parseMd5sums } from "../deb/index.js";
import { type Paragraph, parseParagraphs } from "../debian/deb822.js";
import { DPKG_INFO_DIR, infoBaseName } from "../dpkg-db/index.js";
import { Diversions } from "./diversions.js";

/** The database paths as layer entries name them (no leading slash). */
export const STATUS_FILE = entryPath(DPKG_STATUS);
export const STATUS_D_DIR = entryPath(DPKG_STATUS_D);

/** Where the image keeps its dpkg database, and what is in it, read once. */
export interface ImageDpkgDb {
  /** `status`: a full dpkg database; `status.d`: distroless records, one file per package. */
  readonly layout: "status" | "status.d";
  /** The text of /var/lib/dpkg/status (status layout). */
  readonly statusText: string | undefined;
  readonly statusEntry: FsEntry | undefined;
  /** Every record of the status file, installed or not (status layout). */
  readonly statusRecords: readonly Paragraph[];
  /** Paths (no leading slash) under var/lib/dpkg/info. */
  readonly infoListing: readonly string[];
  /** Names in var/lib/dpkg/status.d (status.d layout). */
  readonly statusDNames: readonly string[];
  /**
   * Packages removed but not purged (`config-files`, status layout): their lists (the conffiles
   * left) count when the batch unpacks one of those paths, as dpkg counts them — the path leaves
   * the list and the conffile is marked obsolete — but never in a file conflict.
   */
  readonly removed: readonly InstalledPackage[];
  /**
   * Packages with files on disk that the inventory does not count as installed (status layout):
   * unpacked, half-configured, half-installed or awaiting triggers, or installed but selected for
   * removal. dpkg counts them as file owners as it counts installed ones (file conflicts,
   * `Replaces:` takeovers, their lists), so the build does too.
   */
  readonly unsettled: readonly InstalledPackage[];
  /** Absolute paths → keys of the installed (`unsettled` and `removed` too) packages that list them. */
  readonly owners: ReadonlyMap<string, ReadonlySet<string>>;
  /** The package's file list as dpkg keeps it (`.list`; for status.d, the files of `<file>.md5sums`). */
  readonly lists: ReadonlyMap<string, readonly string[]>;
  /** /var/lib/dpkg/diversions (none when the image has no such file). */
  readonly diversions: Diversions;
}

async function text(fs: LayeredFs, path: string): Promise<string | undefined> {
  return fs.readTextIfExists(`/${path}`);
}

async function listDir(fs: LayeredFs, path: string): Promise<string[]> {
  const st = await fs.lstat(`/${path}`);
  if (st?.type !== "directory") return [];
  return fs.readdir(`/${path}`);
}

/** The status.d file name of a record (`/var/lib/dpkg/status.d/libssl3` → `libssl3`). */
export function statusDName(pkg: InstalledPackage): string | undefined {
  const m = /^\/?var\/lib\/dpkg\/status\.d\/([^/]+)$/.exec(pkg.dbPath);
  return m?.[1];
}

/** Read what the layer builder needs from the image's dpkg database. */
export async function readImageDpkgDb(fs: LayeredFs, inventory: Inventory): Promise<ImageDpkgDb> {
  if (inventory.packageManager !== "dpkg") {
    throw new OcipatchError(
      "UNSUPPORTED",
      `${fs.description}: only dpkg-based images can be patched (found ${inventory.packageManager})`,
    );
  }
  const statusEntry = await fs.lstat(`/${STATUS_FILE}`);
  const layout = statusEntry?.type === "file" ? "status" : "status.d";
  const statusText = layout === "status" ? await text(fs, STATUS_FILE) : undefined;
  const statusRecords =
    statusText === undefined ? [] : parseParagraphs(statusText, { onError: () => undefined });
  const infoListing = (await listDir(fs, DPKG_INFO_DIR)).map((n) => `${DPKG_INFO_DIR}/${n}`);
  const statusDNames = layout === "status.d" ? await listDir(fs, STATUS_D_DIR) : [];
  const infoSet = new Set(infoListing);
  const statusDSet = new Set(statusDNames);

  const { removed, unsettled } = notInstalledPackages(statusRecords, inventory);
  const owners = new Map<string, Set<string>>();
  const lists = new Map<string, string[]>();
  for (const p of [...inventory.packages, ...unsettled, ...removed]) {
    const key = packageKey(p.name, p.architecture);
    let list: string[] = [];
    if (layout === "status") {
      const file = `${DPKG_INFO_DIR}/${infoBaseName(dpkgRecord(p).paragraph)}.list`;
      if (infoSet.has(file)) list = ((await text(fs, file)) ?? "").split("\n").filter((l) => l !== "");
    } else {
      const name = statusDName(p);
      if (name && statusDSet.has(`${name}.md5sums`)) {
        const md5 = (await text(fs, `${STATUS_D_DIR}/${name}.md5sums`)) ?? "";
        list = [...parseMd5sums(md5, `/${STATUS_D_DIR}/${name}.md5sums`).keys()].map((f) => `/${f}`);
      }
    }
    lists.set(key, list);
    for (const path of list) {
      let s = owners.get(path);
      if (!s) {
        s = new Set();
        owners.set(path, s);
      }
      s.add(key);
    }
  }
  const diversions = await Diversions.read(fs);
  return {
    layout,
    statusText,
    statusEntry,
    statusRecords,
    infoListing,
    statusDNames,
    removed,
    unsettled,
    owners,
    lists,
    diversions,
  };
}

/**
 * The status file's packages the inventory does not count as installed, as records the takeovers
 * can name: `removed` (`config-files`) and `unsettled` (every other state but `not-installed`). A
 * package of one name and architecture the inventory has installed is left out.
 */
function notInstalledPackages(
  records: readonly Paragraph[],
  inventory: Inventory,
): Pick<ImageDpkgDb, "removed" | "unsettled"> {
  const installed = new Set(inventory.packages.map((p) => packageKey(p.name, p.architecture)));
  const removed: InstalledPackage[] = [];
  const unsettled: InstalledPackage[] = [];
  for (const r of records) {
    const name = r.get("Package");
    const architecture = r.get("Architecture") ?? "";
    const status = parseStatusField(r.get("Status") ?? "");
    if (!name || !status || status.state === "not-installed" || installed.has(packageKey(name, architecture)))
      continue;
    const version = r.get("Version") ?? r.get("Config-Version") ?? "";
    (status.state === "config-files" ? removed : unsettled).push({
      name,
      version,
      architecture,
      sourceName: name,
      sourceVersion: version,
      held: false,
      dbPath: DPKG_STATUS,
      native: dpkgNative(r, status.want),
    });
  }
  return { removed, unsettled };
}
