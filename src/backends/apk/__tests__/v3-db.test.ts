import { describe, expect, it } from "vitest";
import { parseApkInstalledDb } from "../installed-db.js";
import {
  apkHashHex,
  apkHashQ1,
  apkIdentityKey,
  apkV3DirectoryOrder,
  compareApkNamesForDisplay,
  compareApkPackagesForDisplay,
  normalizeV3FileDatabase,
  parseScriptEntryName,
  parseTriggersByIdentity,
  v3ScriptEntries,
  v3TriggersText,
} from "../v3-db.js";

// SHA-1 and SHA-256 of the empty string, in the encodings apk uses
const SHA1_Q1 = "Q12jmj7l5rSw0yVb/vlWAYkK/YBwk=";
const SHA1_X1 = "X1da39a3ee5e6b4b0d3255bfef95601890afd80709";
const SHA256_Q2 = "Q247DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

describe("apk-tools 3 database order and names", () => {
  // src/apk_database.h apk_name_cmp_display: strcasecmp(a, b) ?: strcmp(a, b)
  it("names in apk_name_cmp_display order: case-insensitive first, then by bytes", () => {
    const names = ["foo", "aB", "Abc", "a_b", "Foo", "abc"];
    expect([...names].sort(compareApkNamesForDisplay)).toEqual(["a_b", "aB", "Abc", "abc", "Foo", "foo"]);
    // not the byte order (which puts every capital first, and "aB" before "a_b")
    expect([...names].sort()).toEqual(["Abc", "Foo", "aB", "a_b", "abc", "foo"]);
  });

  // src/package.c apk_pkg_cmp_display: the name, then apk_version_compare
  it("packages of one name by version", () => {
    const pkgs = [
      { name: "zlib", version: "1.10-r0" },
      { name: "zlib", version: "1.9-r0" },
      { name: "musl", version: "2" },
    ];
    expect(pkgs.sort(compareApkPackagesForDisplay).map((p) => `${p.name}-${p.version}`)).toEqual([
      "musl-2",
      "zlib-1.9-r0",
      "zlib-1.10-r0",
    ]);
  });

  // src/blob.c apk_blob_push_hash ("Q1" + base64), apk_blob_push_hash_hex ("X1" + lower-case
  // hex), both of the 20 bytes apk_pkg_hash_blob gives (src/apk_package.h); apk_blob_pull_digest
  // reads Q1, Q2, X1, X2
  it("a package identity in Q1 and X1; a v3 package's SHA-256 identity is cut to 160 bits", () => {
    expect(apkIdentityKey(SHA1_Q1)).toBe(SHA1_X1.slice(2));
    expect(apkIdentityKey(SHA1_X1)).toBe(SHA1_X1.slice(2));
    expect(apkHashHex(SHA1_Q1)).toBe(SHA1_X1);
    expect(apkHashQ1(SHA1_X1)).toBe(SHA1_Q1);
    expect(apkHashHex(SHA256_Q2)).toBe("X1e3b0c44298fc1c149afbf4c8996fb92427ae41e4");
    expect(apkHashQ1(SHA256_Q2)).toBe("Q147DEQpj8HBSa+/TImW+5JCeuQeQ=");
    expect(apkIdentityKey("Q1short")).toBeUndefined();
    expect(apkIdentityKey("md5:abc")).toBeUndefined();
  });

  // src/database.c apk_read_script_archive_entry: the type after the last dot, the identity
  // between the dot before it and that one; unknown types ignored
  it("scripts.tar entry names of either generation", () => {
    expect(parseScriptEntryName(`busybox-1.37.0-r14.${SHA1_Q1}.post-upgrade`)).toEqual({
      key: SHA1_X1.slice(2),
      type: "post-upgrade",
    });
    expect(parseScriptEntryName(`busybox-1.37.0-r14.${SHA1_X1}.trigger`)).toEqual({
      key: SHA1_X1.slice(2),
      type: "trigger",
    });
    expect(parseScriptEntryName(`busybox-1.37.0-r14.${SHA1_X1}.post-remove`)).toBeUndefined();
    expect(parseScriptEntryName("README")).toBeUndefined();
  });

  // src/database.c apk_db_diri_get / apk_db_diri_bsearch (struct apk_ipkg_creator)
  describe("a package's directories in the order apk-tools 3 creates them", () => {
    const dirs = (names: string[]) => names.map((dir) => ({ op: "dir" as const, dir }));
    it("creation order, also when some come out of order", () => {
      expect(apkV3DirectoryOrder(dirs(["usr", "usr/bin", "etc", "bin"]))).toEqual([
        "usr",
        "usr/bin",
        "etc",
        "bin",
      ]);
    });
    it("a directory named again is the same one; a file's directory missing is created", () => {
      expect(
        apkV3DirectoryOrder([
          ...dirs(["usr", "usr/lib"]),
          { op: "file", dir: "usr" },
          { op: "file", dir: "" },
          ...dirs(["usr/lib"]),
        ]),
      ).toEqual(["usr", "usr/lib", ""]);
    });
    it("sorted at the first lookup after more than 32 were created out of order", () => {
      const names = Array.from({ length: 34 }, (_, i) => `d${String(33 - i).padStart(2, "0")}`);
      // 33 out of order, then a lookup of another directory: sorted
      expect(apkV3DirectoryOrder([...dirs(names), { op: "link", dir: "d33" }])).toEqual([...names].sort());
      // 32 out of order: never sorted
      const fewer = names.slice(1);
      expect(apkV3DirectoryOrder([...dirs(fewer), { op: "link", dir: "d32" }])).toEqual(fewer);
      // the lookup of the current directory searches nothing
      expect(apkV3DirectoryOrder([...dirs(names), { op: "file", dir: "d00" }])).toEqual(names);
    });
  });

  // src/database.c apk_db_fdb_read (apk_db_diri_get per F:, apk_db_file_get per R:) and
  // apk_db_ipkg_commit_files (files_qsort_cmp, apk_blob_sort), then apk_db_fdb_write
  it("a record read and written back by apk-tools 3: files sorted in each directory, a repeated F: merged", () => {
    const rec = parseApkInstalledDb(
      [
        "C:Q12jmj7l5rSw0yVb/vlWAYkK/YBwk=",
        "P:x",
        "V:1-r0",
        "F:usr/bin",
        "R:zz",
        "a:0:0:755",
        "Z:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "R:a-b",
        "R:a",
        "F:etc",
        "M:0:0:700",
        "R:conf",
        "F:usr/bin",
        "R:b",
        "",
      ].join("\n"),
    ).records[0];
    if (!rec) throw new Error("no record");
    expect(normalizeV3FileDatabase(rec).map((l) => `${l.key}:${l.value}`)).toEqual([
      "C:Q12jmj7l5rSw0yVb/vlWAYkK/YBwk=",
      "P:x",
      "V:1-r0",
      "F:usr/bin",
      "R:a",
      "R:a-b",
      "R:b",
      "R:zz",
      "a:0:0:755",
      "Z:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
      "F:etc",
      "M:0:0:700",
      "R:conf",
    ]);
  });

  // src/database.c apk_db_scriptdb_write (name, mode 0755, mtime = build time) and
  // apk_db_triggers_write (apk_blob_push_hash, " " before each trigger)
  it("script names and trigger lines", () => {
    const pkgs = [
      {
        name: "busybox",
        version: "1.37.0-r14",
        checksum: SHA1_Q1,
        buildTime: 1735689600,
        scripts: new Map([
          ["trigger", Buffer.from("t")],
          ["post-upgrade", Buffer.from("u")],
        ]),
        triggers: ["/bin", "/usr/bin"],
      },
      {
        name: "musl",
        version: "1.2.5-r10",
        checksum: SHA256_Q2,
        buildTime: 0,
        scripts: new Map(),
        triggers: [],
      },
    ];
    const fallback = new Date(0);
    expect(v3ScriptEntries(pkgs, fallback)).toEqual([
      {
        name: `busybox-1.37.0-r14.${SHA1_X1}.post-upgrade`,
        data: Buffer.from("u"),
        mode: 0o755,
        mtime: new Date(1735689600_000),
      },
      {
        name: `busybox-1.37.0-r14.${SHA1_X1}.trigger`,
        data: Buffer.from("t"),
        mode: 0o755,
        mtime: new Date(1735689600_000),
      },
    ]);
    expect(v3TriggersText(pkgs)).toBe(`${SHA1_Q1} /bin /usr/bin\n`);
    // a triggers file read back: identities in either encoding, empty lines skipped
    expect(parseTriggersByIdentity(`${SHA1_X1} /a  /b\n\nQ1bad /c\n`)).toEqual(
      new Map([[SHA1_X1.slice(2), ["/a", "/b"]]]),
    );
  });
});
