import type { TagValue } from "../header.js";
import { INSTALL_TAG } from "./installed-header.js";

/**
 * The rows rpm keeps for one header in the index tables of rpmdb.sqlite (`key`, `hnum`, `idx`):
 * one per value of the tag the table indexes, `idx` its position in the tag's array, as rpm's
 * rpmdb.c does it: install-only prerequisites (rpmlib(), %pre/%post-only requires) are not in
 * Requirename, a trigger name is indexed once, and a rich dependency `(a or b)` is indexed
 * with the names inside it too (same idx). Integer keys (Installtid) are stored in the host's
 * byte order (little-endian on every platform the images run on), binary keys (Sigmd5) as is.
 */

interface IndexRow {
  readonly key: string | Buffer;
  readonly idx: number;
}

/** Table name → header tag, for every index table rpm ≥ 4.16 creates. */
export const INDEX_TABLES: Readonly<Record<string, number>> = {
  Name: 1000,
  Basenames: 1117,
  Group: 1016,
  Requirename: 1049,
  Providename: 1047,
  Conflictname: 1054,
  Obsoletename: 1090,
  Triggername: 1066,
  Dirnames: 1118,
  Installtid: INSTALL_TAG.INSTALLTID,
  Sigmd5: INSTALL_TAG.SIGMD5,
  Sha1header: 269,
  Filetriggername: 5069,
  Transfiletriggername: 5079,
  Recommendname: 5046,
  Suggestname: 5049,
  Supplementname: 5052,
  Enhancename: 5055,
};

const REQUIREFLAGS = 1048;
/** rpmsenseFlags: RPMSENSE_PREREQ and the install-only / erase-only context bits. */
const PREREQ = 1 << 6;
const INSTALL_ONLY = ((1 << 9) | (1 << 10) | (1 << 24) | (1 << 26) | (1 << 7) | (1 << 5)) & ~PREREQ;
const ERASE_ONLY = ((1 << 11) | (1 << 12)) & ~PREREQ;

const RICH_TAGS = new Set([1049, 1054, 5046, 5049, 5052, 5055]);
const RICH_OPS = new Set(["and", "or", "if", "else", "unless", "with", "without"]);
const COMPARE = new Set(["<", ">", "=", "<=", ">=", "=>", "=<", "<>"]);

/** The package names inside a rich dependency "(a >= 1 or (b and c))": a, b, c. */
export function richDependencyNames(dep: string): string[] {
  const tokens = dep
    .replace(/[()]/g, " $& ")
    .split(/\s+/)
    .filter((t) => t !== "");
  const out: string[] = [];
  let expectName = true;
  let skipVersion = false;
  for (const t of tokens) {
    if (t === "(" || t === ")") {
      expectName = t === "(";
      continue;
    }
    if (skipVersion) {
      skipVersion = false;
      continue;
    }
    if (RICH_OPS.has(t)) {
      expectName = true;
      continue;
    }
    if (COMPARE.has(t)) {
      skipVersion = true;
      continue;
    }
    if (expectName) {
      out.push(t);
      expectName = false;
    }
  }
  return out;
}

/** The rows of one index table for a header's tags. */
export function indexRows(table: string, tags: ReadonlyMap<number, TagValue>): IndexRow[] {
  const tag = INDEX_TABLES[table];
  if (tag === undefined) return [];
  const v = tags.get(tag);
  if (v === undefined) return [];
  if (v.type === "bin") return [{ key: v.value, idx: 0 }];
  if (v.type === "int") {
    return v.values.map((x, idx) => {
      const key = Buffer.alloc(4);
      key.writeUInt32LE(x >>> 0);
      return { key, idx };
    });
  }
  if (v.type !== "string") return [];
  // an i18n string (Group) is indexed by its first (untranslated) value
  const values = table === "Group" ? v.values.slice(0, 1) : v.values;
  const flags = tags.get(REQUIREFLAGS);
  const rows: IndexRow[] = [];
  values.forEach((key, idx) => {
    if (key === "") return;
    if (tag === 1049 && flags?.type === "int") {
      const f = flags.values[idx] ?? 0;
      if (f & INSTALL_ONLY && !(f & ERASE_ONLY)) return;
    }
    if (tag === 1066 && values.indexOf(key) < idx) return;
    rows.push({ key, idx });
    if (RICH_TAGS.has(tag) && key.startsWith("("))
      for (const name of richDependencyNames(key)) rows.push({ key: name, idx });
  });
  return rows;
}
