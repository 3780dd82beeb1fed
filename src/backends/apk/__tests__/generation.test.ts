import { describe, expect, it } from "vitest";
import { detectApkToolsGeneration } from "../generation.js";
import { parseApkInstalledDb } from "../installed-db.js";

/** An installed record with the index fields apk_pkg_write_index_header writes, and `extra` lines. */
const record = (name: string, version: string, extra: string[] = []) =>
  [
    "C:Q1SJZkBqXSbfKnLyc+JiI1bbvMsl0=",
    `P:${name}`,
    `V:${version}`,
    "A:x86_64",
    "S:1",
    "I:1",
    "T:t",
    "U:",
    "L:MIT",
    `o:${name}`,
    ...extra,
    "",
  ].join("\n");
const db = (...records: string[]) => parseApkInstalledDb(records.join("\n"));
const noFiles = { hasScriptsTar: true, hasScriptsTarGz: false };

describe("which apk-tools generation wrote the image's database", () => {
  it("the installed apk-tools package decides (Alpine 3.23 ships apk-tools 3, earlier releases 2)", () => {
    expect(
      detectApkToolsGeneration(db(record("musl", "1.2.5-r10"), record("apk-tools", "3.0.3-r1")), noFiles),
    ).toEqual({ generation: 3, evidence: "apk-tools-3.0.3-r1 is installed" });
    expect(detectApkToolsGeneration(db(record("apk-tools", "2.14.6-r3")), noFiles).generation).toBe(2);
    // the apk-tools package wins over the files (an image upgraded by apk-tools 2 to 3 keeps v2 names)
    expect(
      detectApkToolsGeneration(db(record("apk-tools", "2.14.6-r3")), {
        ...noFiles,
        scriptNames: [`busybox-1.37.0-r14.X1${"ab".repeat(20)}.post-install`],
      }).generation,
    ).toBe(2);
  });

  it("else a package providing cmd:apk=<version>", () => {
    const r = detectApkToolsGeneration(
      db(record("apk-tools-static", "3.0.3-r1", ["p:cmd:apk.static=3.0.3-r1 cmd:apk=3.0.3-r1"])),
      noFiles,
    );
    expect(r).toEqual({ generation: 3, evidence: "apk-tools-static-3.0.3-r1 provides cmd:apk=3.0.3-r1" });
  });

  // src/database.c apk_db_fdb_write: `f:` gets `S` for a sha256_160 package, `g:` lists the tags;
  // apk-tools 2 writes neither
  it("else the database lines only apk-tools 3 writes: f:S, g:", () => {
    expect(detectApkToolsGeneration(db(record("musl", "1.2.5-r10", ["f:S"])), noFiles).generation).toBe(3);
    expect(detectApkToolsGeneration(db(record("musl", "1.2.5-r10", ["g:base"])), noFiles).generation).toBe(3);
    expect(detectApkToolsGeneration(db(record("musl", "1.2.5-r10", ["f:f"])), noFiles).generation).toBe(2);
  });

  // src/database.c apk_db_scriptdb_write (apk_blob_push_hash_hex: "X1" + hex) and
  // apk_db_read_layer / apk_db_write_layers (scripts.tar.gz when there is no scripts.tar)
  it("else the scripts store: X1 names, or scripts.tar.gz without scripts.tar", () => {
    const musl = db(record("musl", "1.2.5-r10"));
    expect(
      detectApkToolsGeneration(musl, {
        ...noFiles,
        scriptNames: [`busybox-1.37.0-r14.X1${"0a".repeat(20)}.post-install`],
      }).generation,
    ).toBe(3);
    expect(
      detectApkToolsGeneration(musl, {
        ...noFiles,
        scriptNames: ["busybox-1.37.0-r14.Q1SJZkBqXSbfKnLyc+JiI1bbvMsl0=.post-install"],
      }).generation,
    ).toBe(2);
    expect(detectApkToolsGeneration(musl, { hasScriptsTar: false, hasScriptsTarGz: true }).generation).toBe(
      3,
    );
    expect(detectApkToolsGeneration(musl, { hasScriptsTar: false, hasScriptsTarGz: false })).toEqual({
      generation: 2,
      evidence: "no sign of apk-tools 3",
    });
  });
});
