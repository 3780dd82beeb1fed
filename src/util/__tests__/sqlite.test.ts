import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openSqlite } from "../sqlite.js";

const dir = mkdtempSync(join(tmpdir(), "ocipatch-sqlite-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("openSqlite", () => {
  it("binds one BLOB parameter positionally (libsql would take a lone Buffer as named parameters)", () => {
    const db = openSqlite(join(dir, "a.sqlite"));
    try {
      db.exec("CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)");
      const blob = Buffer.from([0, 1, 2, 0xff]);
      const r = db.prepare("INSERT INTO Packages (blob) VALUES (?)").run(blob);
      expect(r.changes).toBe(1);
      expect(Number(r.lastInsertRowid)).toBe(1);
      const row = db.prepare("SELECT blob FROM Packages WHERE blob = ?").get(new Uint8Array(blob)) as {
        blob: Uint8Array;
      };
      expect(Buffer.from(row.blob).equals(blob)).toBe(true);
      expect(db.prepare("SELECT hnum FROM Packages WHERE hnum = ? AND blob = ?").all(1, blob)).toHaveLength(
        1,
      );
    } finally {
      db.close();
    }
  });
});
