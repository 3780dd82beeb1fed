import { describe, expect, it } from "vitest";
import { buildApkFixtures, installedDb } from "../../../../test/harness/apk/build.js";
import { isOcipatchError } from "../../../errors.js";
import {
  parseAlpineRelease,
  parseApkDependency,
  parseApkRepositories,
  parseApkWorld,
  pinnedNames,
} from "../config.js";
import { parseApkInstalledDb, serializeApkInstalledDb } from "../installed-db.js";

// Shaped like an Alpine 3.21 /lib/apk/db/installed (fields and order as apk-tools' database.c writes them).
const DB = `C:Q1SJZkBqXSbfKnLyc+JiI1bbvMsl0=
P:musl
V:1.2.5-r8
A:x86_64
S:411323
I:647168
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Natanael Copa <ncopa@alpinelinux.org>
t:1730000000
c:4d1ca8d4b3c7f2e1e4f6a0b9c8d7e6f5a4b3c2d1
p:so:libc.musl-x86_64.so.1=1
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1OHr0s6BxCJHvmLDxn5VXLzzm0Fo=
R:libc.musl-x86_64.so.1
a:0:0:777
Z:Q17yJ3JFNypA4mxhJJr0ou6CzsJVI=

C:Q1wWN0hCf2Sc6SgCUqu7m2fR3W6QU=
P:busybox-binsh
V:1.37.0-r12
A:x86_64
S:1544
I:1
T:busybox ash /bin/sh
U:https://busybox.net/
L:GPL-2.0-only
o:busybox
m:Sören Tempel <soeren+alpine@soeren-tempel.net>
t:1730000001
c:5e1ca8d4b3c7f2e1e4f6a0b9c8d7e6f5a4b3c2d1
k:100
D:busybox=1.37.0-r12
p:/bin/sh cmd:sh=1
r:busybox<1.30.1-r2
q:10
F:bin
R:sh
a:0:0:777
Z:Q1pcfTfDNEbNKQc2s1tia7da05M8Q=
F:var
M:0:0:1777

`;

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isOcipatchError(e) ? `${e.code}: ${e.message}` : String(e);
  }
  return undefined;
}

describe("apk installed database", () => {
  it("parses packages, files, permissions and checksums", () => {
    const db = parseApkInstalledDb(DB);
    expect(db.records.map((r) => `${r.name}=${r.version}/${r.architecture} (${r.origin})`)).toEqual([
      "musl=1.2.5-r8/x86_64 (musl)",
      "busybox-binsh=1.37.0-r12/x86_64 (busybox)",
    ]);
    const [musl, binsh] = db.records as [
      NonNullable<(typeof db.records)[0]>,
      NonNullable<(typeof db.records)[0]>,
    ];
    expect(musl.checksum).toBe("Q1SJZkBqXSbfKnLyc+JiI1bbvMsl0=");
    expect(musl.provides).toEqual(["so:libc.musl-x86_64.so.1=1"]);
    expect(musl.dirs[0]?.files.map((f) => [f.path, f.acl?.mode.toString(8), f.checksum])).toEqual([
      ["/lib/ld-musl-x86_64.so.1", "755", "Q1OHr0s6BxCJHvmLDxn5VXLzzm0Fo="],
      ["/lib/libc.musl-x86_64.so.1", "777", "Q17yJ3JFNypA4mxhJJr0ou6CzsJVI="],
    ]);
    expect(binsh.depends).toEqual(["busybox=1.37.0-r12"]);
    expect(binsh.provides).toEqual(["/bin/sh", "cmd:sh=1"]);
    expect(binsh.replaces).toEqual(["busybox<1.30.1-r2"]);
    expect(binsh.dirs.map((d) => [d.name, d.acl?.mode.toString(8)])).toEqual([
      ["bin", undefined],
      ["var", "1777"],
    ]);
    expect(binsh.line).toBe(23);
  });

  it("writes the database back byte for byte", () => {
    for (const text of [
      DB,
      DB.trimEnd(),
      `\n\n${DB}\n`,
      DB.replace("\n\nC:", "\n\n\n\nC:"),
      "",
      "\n",
      installedDb(buildApkFixtures().release.packages),
    ]) {
      expect(serializeApkInstalledDb(parseApkInstalledDb(text))).toBe(text);
    }
  });

  it("a record rewritten from its lines keeps its neighbours untouched", () => {
    const db = parseApkInstalledDb(DB);
    const [musl, binsh] = db.records as [
      NonNullable<(typeof db.records)[0]>,
      NonNullable<(typeof db.records)[0]>,
    ];
    const newer = {
      ...musl,
      lines: musl.lines.map((l) => (l.key === "V" ? { ...l, value: "1.2.5-r11" } : l)),
    };
    const out = serializeApkInstalledDb({ records: [newer, binsh], trailingNewlines: db.trailingNewlines });
    expect(out).toBe(DB.replace("V:1.2.5-r8", "V:1.2.5-r11"));
  });

  it("malformed databases: one line naming the path and line", () => {
    const p = "/lib/apk/db/installed";
    expect(code(() => parseApkInstalledDb("P:a\nV:1-r0\nxyz\n", p))).toBe(
      `INVALID_FORMAT: ${p}:3: not a "X:value" line`,
    );
    expect(code(() => parseApkInstalledDb("P:a\nV:1-r0\nR:file\n", p))).toBe(
      `INVALID_FORMAT: ${p}:3: R: before any F: line`,
    );
    expect(code(() => parseApkInstalledDb("P:a\nV:1-r0\nF:usr\nZ:Q1x\n", p))).toBe(
      `INVALID_FORMAT: ${p}:4: Z: before any R: line`,
    );
    expect(code(() => parseApkInstalledDb("P:a\nV:1-r0\nF:usr\nM:0:0:xyz\n", p))).toBe(
      `INVALID_FORMAT: ${p}:4: malformed permissions "0:0:xyz"`,
    );
    expect(code(() => parseApkInstalledDb("P:a\nV:1-r0\n\nV:2-r0\nA:x86_64\n", p))).toBe(
      `INVALID_FORMAT: ${p}:4: package record without a P: line`,
    );
    expect(code(() => parseApkInstalledDb("P:a\nA:x86_64\n", p))).toBe(
      `INVALID_FORMAT: ${p}:1: package a has no V: line`,
    );
    expect(code(() => parseApkInstalledDb("P:a\nV:1-r0\nF:/usr\n", p))).toBe(
      `INVALID_FORMAT: ${p}:3: malformed directory "/usr"`,
    );
  });

  it("an empty F: is the root directory (apk_db_fdb_write writes files at / so)", () => {
    const text =
      "C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\nP:x\nV:1-r0\nF:\nR:rootfile\nZ:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n";
    const db = parseApkInstalledDb(text);
    expect(db.records[0]?.dirs.map((d) => [d.name, d.files.map((f) => f.path)])).toEqual([
      ["", ["/rootfile"]],
    ]);
    expect(serializeApkInstalledDb(db)).toBe(text);
  });
});

describe("apk configuration files", () => {
  it("alpine-release", () => {
    expect(parseAlpineRelease("3.21.3\n")).toBe("3.21.3");
    expect(parseAlpineRelease("\n")).toBeUndefined();
  });

  it("world: atoms, pins", () => {
    const world = parseApkWorld(
      "alpine-baselayout\nbusybox=1.37.0-r12 ca-certificates-bundle>=20240705\n!curl zlib@edge\n",
    );
    expect(world.map((d) => [d.name, d.op, d.version, d.tag, d.conflict])).toEqual([
      ["alpine-baselayout", undefined, undefined, undefined, false],
      ["busybox", "=", "1.37.0-r12", undefined, false],
      ["ca-certificates-bundle", ">=", "20240705", undefined, false],
      ["curl", undefined, undefined, undefined, true],
      ["zlib", undefined, undefined, "edge", false],
    ]);
    expect([...pinnedNames(world)]).toEqual(["busybox"]);
    expect(parseApkDependency("so:libc.musl-x86_64.so.1", "D").name).toBe("so:libc.musl-x86_64.so.1");
    expect(code(() => parseApkWorld("a==", "/etc/apk/world"))).toBe(
      'INVALID_FORMAT: /etc/apk/world: malformed dependency "a=="',
    );
  });

  it("repositories: comments, tags, one URL per line", () => {
    const repos = parseApkRepositories(
      "# main\nhttps://dl-cdn.alpinelinux.org/alpine/v3.21/main\n\n@edge https://dl-cdn.alpinelinux.org/alpine/edge/main\n  /media/cdrom/apks  \n",
    );
    expect(repos).toEqual([
      { tag: undefined, url: "https://dl-cdn.alpinelinux.org/alpine/v3.21/main", line: 2 },
      { tag: "edge", url: "https://dl-cdn.alpinelinux.org/alpine/edge/main", line: 4 },
      { tag: undefined, url: "/media/cdrom/apks", line: 5 },
    ]);
    expect(code(() => parseApkRepositories("a b\n"))).toBe(
      'INVALID_FORMAT: /etc/apk/repositories:1: expected "[@tag] URL", got "a b"',
    );
  });
});
