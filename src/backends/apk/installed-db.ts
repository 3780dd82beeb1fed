/**
 * `/lib/apk/db/installed`: apk's database of installed packages (the index fields of
 * apk-package(5) plus the file database lines written by apk-tools' database.c: `F:` directory,
 * `M:` its uid:gid:mode, `R:` a file in it, `a:` the file's uid:gid:mode, `Z:` its checksum,
 * `r:` replaces, `q:` replaces priority, `s:` repository tag, `f:` broken flags).
 * Records are separated by blank lines. Every line is kept, in order, so that the database can
 * be written back byte for byte with only the records that changed replaced.
 */
import { OcipatchError } from "../../errors.js";

export const APK_INSTALLED_DB = "/lib/apk/db/installed";
/** Where apk-tools 3 on usr-merged systems keeps it. */
export const APK_INSTALLED_DB_USR = "/usr/lib/apk/db/installed";

export interface ApkDbLine {
  /** One character (`P`, `V`, `F`, `Z` …). */
  readonly key: string;
  readonly value: string;
}

/** uid:gid:mode[:xattr checksum] of an `M:` or `a:` line. */
interface ApkAcl {
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
  readonly xattrChecksum: string | undefined;
}

interface ApkDbFile {
  readonly name: string;
  /** Absolute path in the image. */
  readonly path: string;
  readonly acl: ApkAcl | undefined;
  /** `Z:` as stored (`Q1` + base64 SHA-1, or `Q2` + base64 SHA-256). */
  readonly checksum: string | undefined;
}

export interface ApkDbDir {
  /** As stored, relative to / without a leading slash ("usr/bin"; "" for the root directory). */
  readonly name: string;
  readonly acl: ApkAcl | undefined;
  readonly files: readonly ApkDbFile[];
}

/** One package of the installed database (the backend's native record). */
export interface ApkInstalledRecord {
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
  /** `C:` the package identity (`Q1` + base64 SHA-1 of its control segment). */
  readonly checksum: string | undefined;
  readonly origin: string | undefined;
  readonly depends: readonly string[];
  readonly provides: readonly string[];
  readonly installIf: readonly string[];
  readonly replaces: readonly string[];
  readonly dirs: readonly ApkDbDir[];
  /** Every line of the record, in order. */
  readonly lines: readonly ApkDbLine[];
  /** 1-based line number of the record's first line. */
  readonly line: number;
  /** Newlines between the previous record's last line (or the file start) and this record. */
  readonly newlinesBefore: number;
}

export interface ApkInstalledDb {
  readonly path: string;
  readonly records: readonly ApkInstalledRecord[];
  /** Newlines after the last record's last line. */
  readonly trailingNewlines: number;
}

function words(v: string): string[] {
  return v.split(/\s+/).filter((w) => w !== "");
}

function parseAcl(v: string, path: string, line: number): ApkAcl {
  const m = /^(\d+):(\d+):([0-7]+)(?::(\S+))?$/.exec(v);
  if (!m) throw new OcipatchError("INVALID_FORMAT", `${path}:${line}: malformed permissions "${v}"`);
  return { uid: Number(m[1]), gid: Number(m[2]), mode: Number.parseInt(m[3] ?? "", 8), xattrChecksum: m[4] };
}

interface MutableDir {
  name: string;
  acl: ApkAcl | undefined;
  files: Array<{ name: string; path: string; acl: ApkAcl | undefined; checksum: string | undefined }>;
}

function buildRecord(
  lines: ApkDbLine[],
  firstLine: number,
  newlinesBefore: number,
  path: string,
): ApkInstalledRecord {
  const single: Record<string, string> = {};
  const depends: string[] = [];
  const provides: string[] = [];
  const installIf: string[] = [];
  const replaces: string[] = [];
  const dirs: MutableDir[] = [];
  let dir: MutableDir | undefined;
  let file: MutableDir["files"][number] | undefined;
  lines.forEach(({ key, value }, i) => {
    const n = firstLine + i;
    const fail = (what: string): never => {
      throw new OcipatchError("INVALID_FORMAT", `${path}:${n}: ${what}`);
    };
    switch (key) {
      case "D":
        depends.push(...words(value));
        break;
      case "p":
        provides.push(...words(value));
        break;
      case "i":
        installIf.push(...words(value));
        break;
      case "r":
        replaces.push(...words(value));
        break;
      case "F":
        // "" is the root directory: apk_db_fdb_write writes `F:` with the directory's name, empty
        // for files at /, and apk_db_fdb_read reads it back as such
        if (value.startsWith("/")) fail(`malformed directory "${value}"`);
        dir = { name: value, acl: undefined, files: [] };
        dirs.push(dir);
        file = undefined;
        break;
      case "M":
        if (!dir) fail("M: before any F: line");
        else dir.acl = parseAcl(value, path, n);
        break;
      case "R":
        if (!dir) fail("R: before any F: line");
        else {
          if (value === "" || value.includes("/")) fail(`malformed file name "${value}"`);
          file = {
            name: value,
            path: dir.name === "" ? `/${value}` : `/${dir.name}/${value}`,
            acl: undefined,
            checksum: undefined,
          };
          dir.files.push(file);
        }
        break;
      case "a":
        if (!file) fail("a: before any R: line");
        else file.acl = parseAcl(value, path, n);
        break;
      case "Z":
        if (!file) fail("Z: before any R: line");
        else file.checksum = value;
        break;
      default:
        if (!dir) single[key] ??= value;
    }
  });
  const name = single.P;
  const version = single.V;
  if (!name)
    throw new OcipatchError("INVALID_FORMAT", `${path}:${firstLine}: package record without a P: line`);
  if (!version)
    throw new OcipatchError("INVALID_FORMAT", `${path}:${firstLine}: package ${name} has no V: line`);
  return {
    name,
    version,
    architecture: single.A ?? "",
    checksum: single.C,
    origin: single.o,
    depends,
    provides,
    installIf,
    replaces,
    dirs,
    lines,
    line: firstLine,
    newlinesBefore,
  };
}

/** Parse the installed database. Malformed → INVALID_FORMAT naming the path and line. */
export function parseApkInstalledDb(text: string, path: string = APK_INSTALLED_DB): ApkInstalledDb {
  const tokens = text.split("\n");
  const records: ApkInstalledRecord[] = [];
  let current: ApkDbLine[] | undefined;
  let start = 0;
  let lastEnd = -1; // token index of the previous record's last line
  let before = 0;
  const finish = (endIndex: number) => {
    if (!current) return;
    records.push(buildRecord(current, start + 1, before, path));
    current = undefined;
    lastEnd = endIndex;
  };
  tokens.forEach((tok, i) => {
    if (tok === "") {
      finish(i - 1);
      return;
    }
    if (tok.length < 2 || tok[1] !== ":")
      throw new OcipatchError("INVALID_FORMAT", `${path}:${i + 1}: not a "X:value" line`);
    if (!current) {
      current = [];
      start = i;
      before = lastEnd < 0 ? i : i - lastEnd;
    }
    current.push({ key: tok[0] as string, value: tok.slice(2) });
  });
  finish(tokens.length - 1);
  const trailingNewlines = records.length === 0 ? tokens.length - 1 : tokens.length - 1 - lastEnd;
  return { path, records, trailingNewlines };
}

/** The database text: the inverse of `parseApkInstalledDb` (byte-identical for what it parsed). */
export function serializeApkInstalledDb(db: Pick<ApkInstalledDb, "records" | "trailingNewlines">): string {
  let out = "";
  for (const r of db.records) {
    out += "\n".repeat(r.newlinesBefore);
    out += r.lines.map((l) => `${l.key}:${l.value}`).join("\n");
  }
  return out + "\n".repeat(db.trailingNewlines);
}
