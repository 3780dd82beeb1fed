/**
 * The package database as apk-tools 3 writes it (src/database.c, read for this module in the
 * version with `struct apk_ipkg_creator` and `scripts.tar.gz` support):
 *
 * - apk_db_write_layers walks apk_db_sorted_installed_packages — every installed package sorted
 *   by apk_pkg_cmp_display (name: strcasecmp, then strcmp; then version) — and for each writes
 *   its `installed` record (apk_db_fdb_write), its scripts (apk_db_scriptdb_write) and its
 *   trigger line (apk_db_triggers_write). The three files are rewritten whole on every commit.
 * - A record's directories are those of the package in the order apk_db_diri_get created them
 *   (sorted once more than 32 were added out of order), and each directory's files sorted by
 *   name (apk_db_ipkg_commit_files, files_qsort_cmp → apk_blob_sort). Reading a record back
 *   (apk_db_fdb_read) goes through the same functions, so a record apk-tools 3 rewrites has its
 *   files sorted too.
 * - Script names are `<name>-<version>.X1<hex>.<type>` (apk_blob_push_hash_hex of
 *   apk_pkg_hash_blob: `X1` and the lower-case hex of the first 20 bytes of the package
 *   identity — the SHA-1 of a v2 package, the first 160 bits of a v3 package's SHA-256), mode
 *   0755, mtime the package's build time. Existing entries are attached to packages by that
 *   identity in either encoding (apk_read_script_archive_entry → apk_blob_pull_digest: `Q1`
 *   base64 or `X1` hex); entries of packages no longer installed are dropped.
 * - A trigger line is `Q1<base64 of the same 20 bytes>` and the package's triggers, one space
 *   before each (apk_blob_push_hash).
 * - The scripts are kept in `scripts.tar` when that file exists, else in `scripts.tar.gz`
 *   (apk_db_read_layer sets scripts_tar; apk_db_write_layers gzips otherwise).
 */
import { gzipSync } from "node:zlib";
import type { ApkDbLine, ApkInstalledRecord } from "./installed-db.js";
import { APK_SCRIPT_TYPES } from "./scripts-tar.js";
import { compareApkVersions } from "./version.js";

/** Bytes a C string comparison sees. */
const bytes = (s: string): Buffer => Buffer.from(s, "utf8");

/** musl's tolower: ASCII letters only. */
const lower = (c: number): number => (c >= 0x41 && c <= 0x5a ? c + 0x20 : c);

/** strcasecmp over unsigned bytes. */
function strcasecmp(a: string, b: string): number {
  const x = bytes(a);
  const y = bytes(b);
  for (let i = 0; ; i++) {
    const c = i < x.length ? lower(x[i] as number) : 0;
    const d = i < y.length ? lower(y[i] as number) : 0;
    if (c !== d || c === 0) return c - d;
  }
}

/** apk_name_cmp_display: strcasecmp, then strcmp. */
export function compareApkNamesForDisplay(a: string, b: string): number {
  return strcasecmp(a, b) || Buffer.compare(bytes(a), bytes(b));
}

/** apk_pkg_cmp_display: by name, then by version. */
export function compareApkPackagesForDisplay(
  a: { readonly name: string; readonly version: string },
  b: { readonly name: string; readonly version: string },
): number {
  if (a.name !== b.name) return compareApkNamesForDisplay(a.name, b.name);
  return Math.sign(compareApkVersions(a.version, b.version));
}

/** apk_blob_sort: memcmp over the shorter length, then the shorter first. */
export const apkBlobSort = (a: string, b: string): number => Buffer.compare(bytes(a), bytes(b));

/**
 * The first 20 bytes of a digest as apk_blob_pull_digest reads it (`Q1`/`Q2` base64, `X1`/`X2`
 * hex): what apk_db_get_pkg looks packages up by. Undefined when it is not one.
 */
export function apkIdentityKey(digest: string): string | undefined {
  const m = /^([QX])([12])(.*)$/s.exec(digest);
  if (!m) return undefined;
  const [, enc, , rest = ""] = m;
  if (enc === "X") {
    if (!/^[0-9a-fA-F]{40}/.test(rest)) return undefined;
    return rest.slice(0, 40).toLowerCase();
  }
  if (!/^[A-Za-z0-9+/]{27}[A-Za-z0-9+/=]/.test(rest)) return undefined;
  const raw = Buffer.from(rest.slice(0, 28), "base64");
  return raw.length >= 20 ? raw.subarray(0, 20).toString("hex") : undefined;
}

/** `X1` + lower-case hex of the identity's first 20 bytes (apk_blob_push_hash_hex). */
export function apkHashHex(digest: string): string | undefined {
  const key = apkIdentityKey(digest);
  return key === undefined ? undefined : `X1${key}`;
}

/** `Q1` + base64 of the identity's first 20 bytes (apk_blob_push_hash). */
export function apkHashQ1(digest: string): string | undefined {
  const key = apkIdentityKey(digest);
  return key === undefined ? undefined : `Q1${Buffer.from(key, "hex").toString("base64")}`;
}

/**
 * The package identity and script type of a scripts.tar entry name, as
 * apk_read_script_archive_entry splits it: the type after the last dot, the identity between
 * the dot before it and that one. Undefined when apk ignores the entry.
 */
export function parseScriptEntryName(name: string): { key: string; type: string } | undefined {
  const last = name.lastIndexOf(".");
  if (last <= 0) return undefined;
  const prev = name.lastIndexOf(".", last - 2);
  if (prev < 0) return undefined;
  const type = name.slice(last + 1);
  if (!(APK_SCRIPT_TYPES as readonly string[]).includes(type)) return undefined;
  const key = apkIdentityKey(name.slice(prev + 1, last));
  return key === undefined ? undefined : { key, type };
}

/**
 * The order in which apk-tools 3 creates a package's directory instances while it reads the
 * package (apk_db_install_file) or its record (apk_db_fdb_read). `events` are the lookups in
 * turn: `dir` a directory entry or an `F:` line (apk_db_diri_get: created when missing),
 * `file` the directory of a file (apk_db_diri_query, then apk_db_diri_select, or
 * apk_db_diri_get when missing), `link` the directory of a hard link's target
 * (apk_db_ipkg_find_file: apk_db_diri_query only). The array stays in creation order until a
 * lookup finds more than 32 created out of order, when it is sorted (apk_db_diri_bsearch).
 */
export function apkV3DirectoryOrder(
  events: ReadonlyArray<{ readonly op: "dir" | "file" | "link"; readonly dir: string }>,
): string[] {
  const diris: string[] = [];
  let unsorted = 0;
  let current: string | undefined;
  const search = (dir: string): string | undefined => {
    if (unsorted > 32) {
      diris.sort(apkBlobSort);
      unsorted = 0;
    }
    return diris.find((d) => d === dir);
  };
  const get = (dir: string) => {
    let res = 1;
    if (current !== undefined) {
      res = apkBlobSort(dir, current);
      if (res === 0) return;
    }
    if (search(dir) === undefined) {
      const last = diris[diris.length - 1];
      if (unsorted > 0) res = -1;
      else if (last !== undefined && current !== last) res = apkBlobSort(dir, last);
      if (res < 0) unsorted++;
      diris.push(dir);
    }
    current = dir;
  };
  for (const { op, dir } of events) {
    if (op === "dir") get(dir);
    else if (current !== dir) {
      const found = search(dir) !== undefined;
      if (op === "file") {
        if (found) current = dir;
        else get(dir);
      }
    }
  }
  return diris;
}

/**
 * A record's file database as apk-tools 3 writes it back after reading it: directories in the
 * order apk_db_fdb_read creates them, a directory named twice merged, each directory's files
 * sorted by name. The index fields before the first `F:` are kept as they are.
 */
export function normalizeV3FileDatabase(record: ApkInstalledRecord): ApkDbLine[] {
  const firstF = record.lines.findIndex((l) => l.key === "F");
  if (firstF < 0) return [...record.lines];
  const head = record.lines.slice(0, firstF);
  const dirs = new Map<string, { meta: ApkDbLine[]; files: Array<{ name: string; lines: ApkDbLine[] }> }>();
  const order: string[] = [];
  let dir: ReturnType<typeof dirs.get>;
  let file: { name: string; lines: ApkDbLine[] } | undefined;
  for (const l of record.lines.slice(firstF)) {
    if (l.key === "F") {
      order.push(l.value);
      dir = dirs.get(l.value);
      if (!dir) {
        dir = { meta: [], files: [] };
        dirs.set(l.value, dir);
      }
      file = undefined;
    } else if (l.key === "R") {
      file = { name: l.value, lines: [l] };
      dir?.files.push(file);
    } else if (file) file.lines.push(l);
    else dir?.meta.push(l);
  }
  const out = [...head];
  for (const name of apkV3DirectoryOrder(order.map((d) => ({ op: "dir" as const, dir: d })))) {
    const d = dirs.get(name);
    if (!d) continue;
    out.push({ key: "F", value: name }, ...d.meta);
    for (const f of [...d.files].sort((a, b) => apkBlobSort(a.name, b.name))) out.push(...f.lines);
  }
  return out;
}

/** One package's part of the scripts store and trigger list. */
export interface ApkV3PackageState {
  readonly name: string;
  readonly version: string;
  /** `C:` of the record. */
  readonly checksum: string;
  /** Build time (`t:`), seconds; 0 when unknown. */
  readonly buildTime: number;
  /** Script type → body. */
  readonly scripts: ReadonlyMap<string, Buffer>;
  readonly triggers: readonly string[];
}

/** The scripts store entries apk_db_scriptdb_write writes for `pkgs` (already in db order). */
export function v3ScriptEntries(
  pkgs: readonly ApkV3PackageState[],
  fallbackTime: Date,
): Array<{ name: string; data: Buffer; mode: number; mtime: Date }> {
  return pkgs.flatMap((p) => {
    const hex = apkHashHex(p.checksum);
    if (hex === undefined) return [];
    const mtime = p.buildTime > 0 ? new Date(p.buildTime * 1000) : fallbackTime;
    return APK_SCRIPT_TYPES.flatMap((type) => {
      const data = p.scripts.get(type);
      return data === undefined
        ? []
        : [{ name: `${p.name}-${p.version}.${hex}.${type}`, data, mode: 0o755, mtime }];
    });
  });
}

/** The `triggers` file apk_db_triggers_write writes for `pkgs` (already in db order). */
export function v3TriggersText(pkgs: readonly ApkV3PackageState[]): string {
  return pkgs
    .flatMap((p) => {
      const q1 = apkHashQ1(p.checksum);
      return q1 === undefined || p.triggers.length === 0
        ? []
        : [`${q1}${p.triggers.map((t) => ` ${t}`).join("")}\n`];
    })
    .join("");
}

/** The trigger lines of a `triggers` file by package identity (apk_db_add_trigger). */
export function parseTriggersByIdentity(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const sp = line.indexOf(" ");
    const key = apkIdentityKey(sp < 0 ? line : line.slice(0, sp));
    if (key === undefined) continue;
    const words =
      sp < 0
        ? []
        : line
            .slice(sp + 1)
            .split(" ")
            .filter((w) => w !== "");
    out.set(key, [...(out.get(key) ?? []), ...words]);
  }
  return out;
}

/** gzip for scripts.tar.gz (apk_ostream_gzip). */
export const gzipScripts = (tar: Buffer): Buffer => gzipSync(tar);
