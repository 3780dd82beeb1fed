import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isOcipatchError, OcipatchError } from "../../errors.js";
import { ownedPrefix, release, removeOnExit } from "../../util/owned-temp.js";
import { openSqlite } from "../../util/sqlite.js";
import { parseHeaderBlob, type RpmHeader } from "./header.js";

/**
 * The SQLite rpm database (`rpmdb.sqlite`, rpm ≥ 4.16: RHEL/UBI 9+, Fedora, Azure Linux,
 * Amazon Linux 2023). Headers live in `Packages(hnum INTEGER PRIMARY KEY, blob BLOB)`; the other
 * tables are indexes rpm rebuilds from them. The image's bytes are copied to a private
 * temporary directory (with the `-wal` file when the image has one, so changes not yet
 * checkpointed are seen) and read there: the image itself is never opened for writing.
 */

/** One installed header and its row number (rpm's "header number", needed to rewrite it). */
export interface RpmdbRecord {
  readonly hnum: number;
  readonly header: RpmHeader;
  /** The header as the database stores it (what `header` was parsed from). */
  readonly blob: Buffer;
}

/** Read every header of an rpmdb.sqlite given as bytes; `what` names it in errors. */
export function readRpmdbSqlite(db: Buffer, what: string, wal?: Buffer): RpmdbRecord[] {
  const dir = mkdtempSync(join(tmpdir(), ownedPrefix()));
  removeOnExit(dir);
  try {
    const file = join(dir, "rpmdb.sqlite");
    writeFileSync(file, db);
    if (wal !== undefined && wal.length > 0) writeFileSync(`${file}-wal`, wal);
    return readFile(file, what);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    release(dir);
  }
}

function readFile(file: string, what: string): RpmdbRecord[] {
  let rows: unknown[];
  try {
    const sqlite = openSqlite(file, { fileMustExist: true });
    try {
      rows = sqlite.prepare("SELECT hnum, blob FROM Packages ORDER BY hnum").all();
    } finally {
      sqlite.close();
    }
  } catch (e) {
    if (isOcipatchError(e)) throw e;
    const msg = (e instanceof Error ? e.message : String(e)).split("\n")[0];
    throw new OcipatchError("INVALID_FORMAT", `${what}: not a readable rpm sqlite database (${msg})`, {
      cause: e,
    });
  }
  return rows.map((row) => {
    const r = row as { hnum?: unknown; blob?: unknown };
    if (typeof r.hnum !== "number" && typeof r.hnum !== "bigint")
      throw new OcipatchError("INVALID_FORMAT", `${what}: Packages row without a header number`);
    const hnum = Number(r.hnum);
    const blob = asBuffer(r.blob);
    if (blob === undefined)
      throw new OcipatchError("INVALID_FORMAT", `${what}: Packages row ${hnum} holds no header blob`);
    return { hnum, header: parseHeaderBlob(blob, `${what} (header ${hnum})`), blob };
  });
}

/** A BLOB column as a Buffer (the binding returns an ArrayBuffer or a typed array); undefined for other values. */
function asBuffer(v: unknown): Buffer | undefined {
  if (ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (Object.prototype.toString.call(v) === "[object ArrayBuffer]") return Buffer.from(v as ArrayBuffer);
  return undefined;
}
