import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isOcipatchError, OcipatchError } from "../../../errors.js";
import { ownedPrefix, release, removeOnExit } from "../../../util/owned-temp.js";
import { openSqlite } from "../../../util/sqlite.js";
import { readHeaderTags } from "../header.js";
import { INDEX_TABLES, indexRows } from "./index-rows.js";

/**
 * A changed copy of an image's rpmdb.sqlite: the image's bytes (and its `-wal`, whose changes
 * are part of the database) copied to a private directory, the replaced headers deleted from
 * `Packages` and from every index table, the new headers inserted (rpm's AUTOINCREMENT gives
 * them new header numbers, as an upgrade does) with their index rows, all in one transaction;
 * then checkpointed and closed, so the result is one self-contained file (no `-wal`). An index
 * table this code does not know is refused: a database half-indexed would mislead rpm.
 */

interface RpmdbChange {
  /** Header numbers to delete. */
  readonly remove: readonly number[];
  /** Installed header blobs to insert, in order. */
  readonly add: readonly Buffer[];
}

interface RewrittenRpmdb {
  /** The database file, checkpointed. */
  readonly bytes: Buffer;
  /** Header numbers given to `add`, in order. */
  readonly hnums: number[];
}

const NOT_INDEXES = new Set(["Packages", "sqlite_sequence", "sqlite_stat1"]);

export function rewriteRpmdbSqlite(
  db: Buffer,
  wal: Buffer | undefined,
  change: RpmdbChange,
  what: string,
): RewrittenRpmdb {
  const dir = mkdtempSync(join(tmpdir(), ownedPrefix()));
  removeOnExit(dir);
  try {
    const file = join(dir, "rpmdb.sqlite");
    writeFileSync(file, db, { mode: 0o600 });
    if (wal !== undefined && wal.length > 0) writeFileSync(`${file}-wal`, wal, { mode: 0o600 });
    const hnums: number[] = [];
    try {
      const sqlite = openSqlite(file, { fileMustExist: true });
      try {
        const tables = (
          sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{
            name: string;
          }>
        )
          .map((t) => t.name)
          .filter((n) => !NOT_INDEXES.has(n));
        const unknown = tables.filter((t) => INDEX_TABLES[t] === undefined);
        if (unknown.length > 0)
          throw new OcipatchError(
            "UNSUPPORTED",
            `${what}: rpm index table ${unknown.join(", ")} is not known to ocipatch: the database is not changed`,
          );
        sqlite.transaction(() => {
          for (const hnum of change.remove) {
            for (const t of tables) sqlite.prepare(`DELETE FROM "${t}" WHERE hnum = ?`).run(hnum);
            const r = sqlite.prepare("DELETE FROM Packages WHERE hnum = ?").run(hnum);
            if (r.changes !== 1)
              throw new OcipatchError("INVALID_FORMAT", `${what}: no header ${hnum} to replace`);
          }
          const insert = sqlite.prepare("INSERT INTO Packages (blob) VALUES (?)");
          for (const blob of change.add) {
            const hnum = Number(insert.run(blob).lastInsertRowid);
            hnums.push(hnum);
            const { tags } = readHeaderTags(blob, `${what} (new header ${hnum})`, { exact: true });
            for (const t of tables) {
              const put = sqlite.prepare(`INSERT INTO "${t}" (key, hnum, idx) VALUES (?, ?, ?)`);
              for (const row of indexRows(t, tags)) put.run(row.key, hnum, row.idx);
            }
          }
        });
        sqlite.pragma("wal_checkpoint(TRUNCATE)");
      } finally {
        sqlite.close();
      }
    } catch (e) {
      if (isOcipatchError(e)) throw e;
      const msg = (e instanceof Error ? e.message : String(e)).split("\n")[0];
      throw new OcipatchError("INVALID_FORMAT", `${what}: cannot update the rpm sqlite database (${msg})`, {
        cause: e,
      });
    }
    if (existsSync(`${file}-wal`) && statSync(`${file}-wal`).size > 0)
      throw new OcipatchError("INTERNAL", `${what}: the database kept changes in its -wal file`);
    return { bytes: readFileSync(file), hnums };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    release(dir);
  }
}
