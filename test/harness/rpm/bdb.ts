/**
 * A Berkeley DB `Packages` (hash) database as RHEL 8 / CentOS 7 / Amazon Linux 2 images carry it,
 * made from the headers of a sqlite rpmdb with Berkeley DB's own `db5.3_load` (Debian's rpm can
 * read such a database with `_db_backend bdb_ro` but cannot write one). Keys are header numbers in
 * the host's byte order; record 0 holds the next header number, as rpm's bdb backend kept it.
 */
import { writeFileSync } from "node:fs";
import { openSqlite } from "../../../src/util/sqlite.js";
import { run } from "../exec.js";

/**
 * Write `out` from the headers of `sqlitePath`; `copies` > 1 stores every header that many times
 * under new header numbers (more keys: bucket splits and several hash pages).
 */
export async function makeBdbPackages(
  sqlitePath: string,
  out: string,
  pageSize = 4096,
  copies = 1,
): Promise<void> {
  const db = openSqlite(sqlitePath, { readonly: true, fileMustExist: true });
  const rows = db.prepare("SELECT hnum, blob FROM Packages ORDER BY hnum").all() as Array<{
    hnum: number;
    blob: ArrayBuffer | Uint8Array;
  }>;
  db.close();
  const u32 = (n: number): string => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b.toString("hex");
  };
  const blob = (v: ArrayBuffer | Uint8Array): Buffer =>
    ArrayBuffer.isView(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : Buffer.from(v);
  const lines = ["VERSION=3", "format=bytevalue", "type=hash", `db_pagesize=${pageSize}`, "HEADER=END"];
  let next = 1;
  const records: string[] = [];
  for (let c = 0; c < copies; c++) {
    for (const r of rows) records.push(` ${u32(next++)}`, ` ${blob(r.blob).toString("hex")}`);
  }
  lines.push(` ${u32(0)}`, ` ${u32(next)}`, ...records);
  lines.push("DATA=END", "");
  const dump = `${out}.dump`;
  writeFileSync(dump, lines.join("\n"));
  await run("db5.3_load", ["-f", dump, out]);
}
