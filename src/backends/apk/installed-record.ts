/**
 * The `/lib/apk/db/installed` record of a package as apk-tools writes it after installing it
 * (src/database.c `apk_db_fdb_write`, src/package.c index entry): the index fields
 * `C P V A S I T U L o m t c k D p i`, then `r:` `q:`, then per directory (in the order of the
 * data tarball) `F:` (+ `M:uid:gid:mode` unless root:root 0755) and per file `R:`
 * (+ `a:uid:gid:mode` unless root:root 0644) and `Z:` (`Q1` + base64 SHA-1 of the content, of
 * the target for a symlink).
 *
 * apk-tools 3 (src/database.c apk_db_fdb_write, src/package.c apk_pkg_write_index_header) writes
 * `t:`, `k:` and `q:` only when not zero, and orders the file database as `v3-db.ts` describes:
 * directories in apk_db_diri_get's order, each one's files sorted by name.
 */
import { createHash } from "node:crypto";
import type { ApkToolsGeneration } from "./generation.js";
import type { ApkDbLine, ApkInstalledRecord } from "./installed-db.js";
import { parseApkInstalledDb } from "./installed-db.js";
import type { ApkDataEntry, ApkPackage } from "./package.js";
import { apkBlobSort, apkV3DirectoryOrder } from "./v3-db.js";

/** `Z:` of a file or symlink: its verified SHA-1 record, else the SHA-1 of its content (link target). */
function q1OfEntry(e: ApkDataEntry): string {
  if (e.sha1 !== undefined) return `Q1${Buffer.from(e.sha1, "hex").toString("base64")}`;
  const data = e.type === "symlink" ? Buffer.from(e.linkTarget ?? "") : e.content;
  return `Q1${createHash("sha1").update(data).digest("base64")}`;
}

/** The record lines of `pkg` (whose .apk file is `fileSize` bytes). */
function installedRecordLines(
  pkg: ApkPackage,
  fileSize: number,
  generation: ApkToolsGeneration,
): ApkDbLine[] {
  const one = (k: string): string | undefined => pkg.pkginfo[k]?.[0];
  const all = (k: string): string[] => [...(pkg.pkginfo[k] ?? [])];
  const lines: ApkDbLine[] = [];
  const add = (key: string, value: string | undefined) => {
    if (value !== undefined && value !== "") lines.push({ key, value });
  };
  // apk-tools 3 keeps these as numbers and writes them only when not zero
  const addNumber = (key: string, value: string | undefined) =>
    add(key, generation === 3 && value !== undefined && Number(value) === 0 ? undefined : value);
  lines.push({ key: "C", value: pkg.checksum });
  add("P", pkg.name);
  add("V", pkg.version);
  add("A", pkg.architecture);
  add("S", String(fileSize));
  add("I", one("size") ?? "0");
  // apk_pkg_write_index_header writes T:, U:, L: unconditionally (empty when .PKGINFO has none)
  lines.push({ key: "T", value: one("pkgdesc") ?? "" });
  lines.push({ key: "U", value: one("url") ?? "" });
  lines.push({ key: "L", value: one("license") ?? "" });
  add("o", one("origin"));
  add("m", one("maintainer"));
  addNumber("t", one("builddate"));
  add("c", one("commit"));
  addNumber("k", one("provider_priority"));
  add("D", all("depend").join(" "));
  add("p", all("provides").join(" "));
  add("i", all("install_if").join(" "));
  add("r", all("replaces").join(" "));
  addNumber("q", one("replaces_priority"));

  // a hard link gets its target's checksum (apk_db_install_file: "Hardlinks need special care");
  // readApkPackage made sure the target comes earlier in the archive
  const checksums = new Map<string, string>();
  const dirs = new Map<string, { acl: string | undefined; files: ApkDbLine[] }>();
  const dirOf = (name: string) => {
    let d = dirs.get(name);
    if (!d) {
      d = { acl: undefined, files: [] };
      dirs.set(name, d);
    }
    return d;
  };
  // apk-tools 3: the directory lookups apk_db_install_file makes, for their order
  const lookups: Array<{ op: "dir" | "file" | "link"; dir: string }> = [];
  const parentOf = (rel: string) => (rel.lastIndexOf("/") < 0 ? "" : rel.slice(0, rel.lastIndexOf("/")));
  for (const e of pkg.entries) {
    const rel = e.path.replace(/^\/+/, "");
    if (e.type === "directory") {
      const d = dirOf(rel);
      if (e.uid !== 0 || e.gid !== 0 || e.mode !== 0o755) d.acl = `${e.uid}:${e.gid}:${e.mode.toString(8)}`;
      lookups.push({ op: "dir", dir: rel });
      continue;
    }
    if (e.type !== "file" && e.type !== "symlink" && e.type !== "hardlink") continue;
    lookups.push({ op: "file", dir: parentOf(rel) });
    if (e.type === "hardlink")
      lookups.push({ op: "link", dir: parentOf((e.linkTarget ?? "").replace(/^\/+/, "")) });
    const slash = rel.lastIndexOf("/");
    const d = dirOf(slash < 0 ? "" : rel.slice(0, slash));
    d.files.push({ key: "R", value: rel.slice(slash + 1) });
    const mode = e.type === "symlink" ? 0o777 : e.mode;
    if (e.uid !== 0 || e.gid !== 0 || mode !== 0o644)
      d.files.push({ key: "a", value: `${e.uid}:${e.gid}:${mode.toString(8)}` });
    const z = e.type === "hardlink" ? checksums.get(e.linkTarget ?? "") : q1OfEntry(e);
    if (z === undefined) throw new Error(`unreachable: ${e.path}: hard link target not read`);
    checksums.set(e.path, z);
    d.files.push({ key: "Z", value: z });
  }
  const order = generation === 3 ? apkV3DirectoryOrder(lookups) : [...dirs.keys()];
  for (const name of order) {
    const d = dirs.get(name);
    if (!d || (name === "" && d.files.length === 0)) continue;
    lines.push({ key: "F", value: name });
    if (d.acl) lines.push({ key: "M", value: d.acl });
    lines.push(...(generation === 3 ? sortedFiles(d.files) : d.files));
  }
  return lines;
}

/** `R:` lines with their `a:` and `Z:` sorted by file name (apk-tools 3: files_qsort_cmp). */
function sortedFiles(lines: readonly ApkDbLine[]): ApkDbLine[] {
  const files: ApkDbLine[][] = [];
  for (const l of lines) {
    if (l.key === "R") files.push([l]);
    else files[files.length - 1]?.push(l);
  }
  return files.sort((a, b) => apkBlobSort(a[0]?.value ?? "", b[0]?.value ?? "")).flat();
}

/** The record as the database reader sees it (for the rewritten database). */
export function installedRecordOf(
  pkg: ApkPackage,
  fileSize: number,
  generation: ApkToolsGeneration = 2,
): ApkInstalledRecord {
  const lines = installedRecordLines(pkg, fileSize, generation);
  const text = `${lines.map((l) => `${l.key}:${l.value}`).join("\n")}\n`;
  const rec = parseApkInstalledDb(text, `${pkg.name}-${pkg.version}.apk`).records[0];
  if (!rec) throw new Error("unreachable: empty record");
  return rec;
}
