import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  buildApk,
  makeTestKey,
  type PackageSpec,
  repositorySpecs,
} from "../../../../test/harness/apk/build.js";
import { installedRecordOf } from "../installed-record.js";
import { type ApkDataEntry, type ApkPackage, readApkPackage } from "../package.js";
import { parseApkKey } from "../signature.js";

const key = makeTestKey();
const keys = [parseApkKey(key.name, key.publicPem, "test key")];
const musl = repositorySpecs("fixes").find((p) => p.name === "musl") as PackageSpec;

function recordOf(spec: PackageSpec) {
  const built = buildApk(spec, key);
  return installedRecordOf(readApkPackage(built.bytes, { keys, source: "musl.apk" }), built.bytes.length);
}

describe("apk installed record of a package", () => {
  it("a file at the root is written under an empty F: and read back", () => {
    const rec = recordOf({
      ...musl,
      files: [...musl.files, { path: "/rootfile", content: Buffer.from("x") }],
    });
    const root = rec.dirs.find((d) => d.name === "");
    expect(root?.files.map((f) => f.path)).toEqual(["/rootfile"]);
  });

  it("T:, U:, L: are written even when empty (apk_pkg_write_index_header)", () => {
    const rec = recordOf({ ...musl, url: "" });
    expect(rec.lines.map((l) => l.key).slice(0, 9)).toEqual(["C", "P", "V", "A", "S", "I", "T", "U", "L"]);
    expect(rec.lines.find((l) => l.key === "U")?.value).toBe("");
  });

  describe("as apk-tools 3 writes it (src/database.c apk_db_install_file, apk_db_fdb_write)", () => {
    const entry = (
      path: string,
      type: ApkDataEntry["type"],
      extra: Partial<ApkDataEntry> = {},
    ): ApkDataEntry => {
      const content = Buffer.from(type === "file" ? path : "");
      return {
        path,
        type,
        mode: type === "directory" ? 0o755 : 0o644,
        uid: 0,
        gid: 0,
        size: content.length,
        linkTarget: undefined,
        sha1: undefined,
        content,
        ...extra,
      };
    };
    /** A package whose data tarball is not in name order. */
    const pkg: ApkPackage = {
      pkginfo: {
        pkgname: ["x"],
        pkgver: ["1.0-r0"],
        arch: ["x86_64"],
        size: ["3"],
        builddate: ["0"],
        provider_priority: ["0"],
        replaces: ["y"],
        replaces_priority: ["0"],
      },
      name: "x",
      version: "1.0-r0",
      architecture: "x86_64",
      checksum: "Q12jmj7l5rSw0yVb/vlWAYkK/YBwk=",
      dataHash: "",
      signedBy: "",
      scripts: new Map(),
      entries: [
        entry("/usr", "directory"),
        entry("/usr/bin", "directory"),
        entry("/usr/bin/zz", "file"),
        entry("/usr/bin/aa", "file"),
        entry("/usr/bin/mm", "hardlink", { linkTarget: "/usr/bin/zz", content: Buffer.from("/usr/bin/zz") }),
        entry("/etc", "directory", { mode: 0o700 }),
        entry("/etc/conf", "file"),
      ],
    };
    const dbLines = (generation: 2 | 3) =>
      installedRecordOf(pkg, 10, generation)
        .lines.filter((l) => !"CPVASITUL".includes(l.key))
        .map((l) => `${l.key}:${l.value}`);

    it("files sorted in each directory (files_qsort_cmp), directories in creation order; t: k: q: 0 not written", () => {
      const z = (p: string) => `Z:Q1${createHash("sha1").update(p).digest("base64")}`;
      expect(dbLines(3)).toEqual([
        "r:y",
        "F:usr",
        "F:usr/bin",
        "R:aa",
        z("/usr/bin/aa"),
        "R:mm",
        z("/usr/bin/zz"),
        "R:zz",
        z("/usr/bin/zz"),
        "F:etc",
        "M:0:0:700",
        "R:conf",
        z("/etc/conf"),
      ]);
      // apk-tools 2 as before: the archive's order, the fields as .PKGINFO has them
      expect(dbLines(2)).toEqual([
        "t:0",
        "k:0",
        "r:y",
        "q:0",
        "F:usr",
        "F:usr/bin",
        "R:zz",
        z("/usr/bin/zz"),
        "R:aa",
        z("/usr/bin/aa"),
        "R:mm",
        z("/usr/bin/zz"),
        "F:etc",
        "M:0:0:700",
        "R:conf",
        z("/etc/conf"),
      ]);
    });
  });
});
