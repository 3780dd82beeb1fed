import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MemoryLayer } from "../../../rootfs/__tests__/synthetic.js";
import { LayeredFs } from "../../../rootfs/index.js";
import { openSqlite } from "../../../util/sqlite.js";
import {
  FILE_FLAG,
  type RpmFile,
  type RpmHeader,
  readHeaderTags,
  TAG,
  type TagValue,
  TYPE,
} from "../header.js";
import { configFate, digestOf } from "../layer/config-files.js";
import { indexRows, richDependencyNames } from "../layer/index-rows.js";
import { INSTALL_TAG, installedHeaderBlob } from "../layer/installed-header.js";
import { RpmOwners } from "../layer/owners.js";
import { rewriteRpmdbSqlite } from "../layer/rpmdb-write.js";
import { classifyScript, rpmScriptReport } from "../layer/scripts.js";
import type { RpmPackageFile } from "../package/rpm-file.js";
import { SIGTAG } from "../package/rpm-file.js";

const strings = (...values: string[]): TagValue => ({ type: "string", values });
const ints = (...values: number[]): TagValue => ({ type: "int", values });

describe("index rows", () => {
  it("finds the names inside rich dependencies", () => {
    expect(richDependencyNames("(hello or basesh)")).toEqual(["hello", "basesh"]);
    expect(richDependencyNames("(a >= 1.0 with (b < 2 or c)) ")).toEqual(["a", "b", "c"]);
    expect(richDependencyNames("(foo if bar else baz)")).toEqual(["foo", "bar", "baz"]);
  });

  it("leaves install-only prerequisites out of Requirename, indexes rich components at the same idx", () => {
    const tags = new Map<number, TagValue>([
      [
        1049,
        strings(
          "(a or b)",
          "rpmlib(CompressedFileNames)",
          "/bin/sh",
          "/bin/sh",
          "post-only",
          "pre-and-preun",
        ),
      ],
      [1048, ints(0, 1 << 24, 0, 0, 1 << 10, (1 << 9) | (1 << 11))],
    ]);
    expect(indexRows("Requirename", tags)).toEqual([
      { key: "(a or b)", idx: 0 },
      { key: "a", idx: 0 },
      { key: "b", idx: 0 },
      { key: "/bin/sh", idx: 2 },
      { key: "/bin/sh", idx: 3 },
      { key: "pre-and-preun", idx: 5 },
    ]);
  });

  it("indexes a trigger name once, Installtid in host byte order, Group by its first value", () => {
    const tags = new Map<number, TagValue>([
      [1066, strings("basesh", "basesh", "other")],
      [INSTALL_TAG.INSTALLTID, ints(0x6b1149be)],
      [1016, strings("Unspecified", "Unbestimmt")],
      [INSTALL_TAG.SIGMD5, { type: "bin", value: Buffer.from("0123456789abcdef") }],
    ]);
    expect(indexRows("Triggername", tags)).toEqual([
      { key: "basesh", idx: 0 },
      { key: "other", idx: 2 },
    ]);
    expect(indexRows("Installtid", tags)).toEqual([{ key: Buffer.from([0xbe, 0x49, 0x11, 0x6b]), idx: 0 }]);
    expect(indexRows("Group", tags)).toEqual([{ key: "Unspecified", idx: 0 }]);
    expect(indexRows("Sigmd5", tags)).toEqual([{ key: Buffer.from("0123456789abcdef"), idx: 0 }]);
    expect(indexRows("Name", tags)).toEqual([]);
  });
});

/** A package header (magic included) with an immutable region around NAME and FILEMODES. */
function packageHeader(): Buffer {
  const data = Buffer.concat([Buffer.from("pkg\0"), Buffer.from([0x81, 0xa4]), Buffer.alloc(2)]);
  const trailer = Buffer.alloc(16);
  trailer.writeUInt32BE(TAG.HEADERIMMUTABLE, 0);
  trailer.writeUInt32BE(TYPE.BIN, 4);
  trailer.writeInt32BE(-3 * 16, 8);
  trailer.writeUInt32BE(16, 12);
  const store = Buffer.concat([data, trailer]);
  const entry = (tag: number, type: number, offset: number, count: number) => {
    const e = Buffer.alloc(16);
    e.writeUInt32BE(tag, 0);
    e.writeUInt32BE(type, 4);
    e.writeInt32BE(offset, 8);
    e.writeUInt32BE(count, 12);
    return e;
  };
  const head = Buffer.from([0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0]);
  head.writeUInt32BE(store.length, 12);
  return Buffer.concat([
    head,
    entry(TAG.HEADERIMMUTABLE, TYPE.BIN, data.length, 16),
    entry(TAG.NAME, TYPE.STRING, 0, 1),
    entry(TAG.FILEMODES, TYPE.INT16, 4, 1),
    store,
  ]);
}

describe("installedHeaderBlob", () => {
  const headerBytes = packageHeader();
  const pkg = {
    path: "pkg.rpm",
    headerBytes,
    header: { files: [{ path: "/x" }] } as unknown as RpmHeader,
    signature: new Map<number, TagValue>([
      [SIGTAG.SIZE, ints(1234)],
      [SIGTAG.MD5, { type: "bin", value: Buffer.alloc(16, 7) }],
      [SIGTAG.SHA256HEADER, strings("ab".repeat(32))],
      [SIGTAG.PAYLOADSIZE, ints(99)],
      [1008, { type: "bin", value: Buffer.alloc(8) }],
    ]),
  } as unknown as RpmPackageFile;

  it("keeps the region byte for byte and appends signatures and install tags sorted by tag", () => {
    const blob = installedHeaderBlob(pkg, { time: 1700000000, color: 3 });
    const il = headerBytes.readUInt32BE(8);
    // region index entries and data unchanged, at the start
    expect(blob.subarray(8, 8 + 16 * il)).toEqual(headerBytes.subarray(16, 16 + 16 * il));
    const tagsInOrder = Array.from({ length: blob.readUInt32BE(0) }, (_, i) => blob.readUInt32BE(8 + 16 * i));
    expect(tagsInOrder).toEqual([63, 1000, 1030, 257, 261, 273, 1008, 1029, 1046, 1127, 1128]);
    const { tags } = readHeaderTags(blob, "blob", { exact: true });
    expect(tags.get(257)).toEqual(ints(1234));
    expect(tags.get(INSTALL_TAG.INSTALLTIME)).toEqual(ints(1700000000));
    expect(tags.get(INSTALL_TAG.INSTALLTID)).toEqual(ints(1700000000));
    expect(tags.get(INSTALL_TAG.INSTALLCOLOR)).toEqual(ints(3));
    expect(tags.get(INSTALL_TAG.ARCHIVESIZE)).toEqual(ints(99));
    expect(tags.get(INSTALL_TAG.FILESTATES)).toEqual(ints(0));
    expect(tags.get(273)).toEqual(strings("ab".repeat(32)));
  });

  it("refuses a header without an immutable region", () => {
    const broken = Buffer.from(headerBytes);
    broken.writeUInt32BE(TAG.NAME, 16);
    expect(() => installedHeaderBlob({ ...pkg, headerBytes: broken }, { time: 0, color: 0 })).toThrow(
      /no immutable header region/,
    );
  });
});

describe("configFate (rpm's rpmfilesDecideFate)", () => {
  const file = (content: string, flags: number = FILE_FLAG.CONFIG): RpmFile => ({
    path: "/etc/x.conf",
    mode: 0o100644,
    flags,
    digest: digestOf(8, Buffer.from(content))!,
    size: content.length,
    linkTo: "",
    user: "root",
    group: "root",
  });
  const disk = (content: string) => ({
    type: "file",
    digest: async (algo: number) => digestOf(algo, Buffer.from(content)),
  });
  const noreplace = FILE_FLAG.CONFIG | FILE_FLAG.NOREPLACE;

  it("decides as rpm does", async () => {
    expect(await configFate(file("new"), 8, file("old"), 8, undefined)).toBe("create");
    expect(await configFate(file("new"), 8, file("old"), 8, disk("old"))).toBe("create");
    expect(await configFate(file("same"), 8, file("same"), 8, disk("local"))).toBe("keep");
    expect(await configFate(file("new", noreplace), 8, file("old", noreplace), 8, disk("local"))).toBe(
      "rpmnew",
    );
    expect(await configFate(file("new"), 8, file("old"), 8, disk("local"))).toBe("rpmsave");
    expect(await configFate(file("new"), 8, undefined, 8, disk("new"))).toBe("create");
    expect(await configFate(file("new"), 8, undefined, 8, disk("local"))).toBe("rpmorig");
    expect(await configFate(file("new", noreplace), 8, undefined, 8, disk("local"))).toBe("rpmnew");
  });
});

describe("RpmOwners", () => {
  it("maps names through the image's passwd and group, unknown names to root with one warning", async () => {
    const fs = new LayeredFs(
      [
        await MemoryLayer.of([
          { name: "etc/passwd", content: "root:x:0:0::/root:/bin/sh\n#x\napache:x:48:48::/:/sbin/nologin\n" },
          { name: "etc/group", content: "root:x:0:\napache:x:48:\nwheel:x:10:\n" },
        ]),
      ],
      "test image",
    );
    const o = await RpmOwners.of(fs);
    expect([o.uid("apache"), o.gid("apache"), o.gid("wheel"), o.uid("root")]).toEqual([48, 48, 10, 0]);
    expect([o.uid("nobody"), o.uid("nobody"), o.gid("nogroup")]).toEqual([0, 0, 0]);
    expect(o.warnings).toEqual([
      "user nobody does not exist in the image - using root",
      "group nogroup does not exist in the image - using root",
    ]);
  });
});

describe("scriptlet reports", () => {
  it("classifies what the scripts would have done", () => {
    expect(classifyScript("/sbin/ldconfig\nsystemctl daemon-reload\n", "/bin/sh").map((a) => a.kind)).toEqual(
      ["ldconfig", "systemd"],
    );
    expect(classifyScript("", "/sbin/ldconfig")).toEqual([{ kind: "ldconfig", detail: "/sbin/ldconfig" }]);
    expect(classifyScript("getent group tss >/dev/null || groupadd -r tss\nexit 0\n", "/bin/sh")).toEqual([
      { kind: "users-groups", detail: "getent group tss >/dev/null || groupadd -r tss" },
    ]);
  });

  it("reports the new version's install scripts and the old version's erase scripts with rpm's arguments", () => {
    const header = (tags: Array<[number, TagValue]>) => ({ tags: new Map(tags) }) as unknown as RpmHeader;
    const r = rpmScriptReport(
      "p",
      header([
        [1024, strings("/sbin/ldconfig")],
        [1086, strings("/bin/sh")],
        [1065, strings("update-alternatives --auto x")],
        [1066, strings("basesh")],
      ]),
      header([
        [1026, strings("")],
        [1088, strings("/sbin/ldconfig")],
      ]),
      "1-1",
      "2-1",
    );
    expect(r.findings.map((f) => [f.version, f.invocation])).toEqual([
      ["new", "%post 2"],
      ["old", "%postun 1 (/sbin/ldconfig)"],
      ["new", "%trigger on basesh"],
    ]);
    expect(r.kinds).toEqual(["ldconfig", "triggers", "alternatives"]);
    expect(r.wouldHaveDoneSomething).toBe(true);
  });
});

describe("rewriteRpmdbSqlite", () => {
  const schema = [
    "CREATE TABLE IF NOT EXISTS 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT,blob BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS 'Name' (key 'TEXT' NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS 'Sigmd5' (key 'BLOB' NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL)",
  ];
  /** A header blob with NAME and SIGMD5. */
  const blob = (name: string) => {
    const data = Buffer.concat([Buffer.from(`${name}\0`), Buffer.alloc(16, name.length)]);
    const e = Buffer.alloc(40);
    e.writeUInt32BE(2, 0);
    e.writeUInt32BE(data.length, 4);
    e.writeUInt32BE(TAG.NAME, 8);
    e.writeUInt32BE(TYPE.STRING, 12);
    e.writeUInt32BE(0, 16);
    e.writeUInt32BE(1, 20);
    e.writeUInt32BE(INSTALL_TAG.SIGMD5, 24);
    e.writeUInt32BE(TYPE.BIN, 28);
    e.writeUInt32BE(name.length + 1, 32);
    e.writeUInt32BE(16, 36);
    return Buffer.concat([e, data]);
  };
  const makeDb = (extra: string[] = []) => {
    const dir = mkdtempSync(join(tmpdir(), "ocipatch-rpmdb-write-"));
    const file = join(dir, "rpmdb.sqlite");
    const db = openSqlite(file);
    db.pragma("journal_mode = WAL");
    for (const sql of [...schema, ...extra]) db.exec(sql);
    const put = db.prepare("INSERT INTO Packages (blob) VALUES (?)");
    for (const n of ["a", "bb"]) {
      const hnum = Number(put.run(blob(n)).lastInsertRowid);
      db.prepare("INSERT INTO Name (key, hnum, idx) VALUES (?, ?, 0)").run(n, hnum);
    }
    // the rows stay in the -wal file until a checkpoint, as rpm leaves its database: both are handed over
    const bytes = readFileSync(file);
    const wal = readFileSync(`${file}-wal`);
    db.close();
    rmSync(dir, { recursive: true, force: true });
    return [bytes, wal] as const;
  };

  it("replaces headers and their index rows in one self-contained file", () => {
    const out = rewriteRpmdbSqlite(...makeDb(), { remove: [1], add: [blob("ccc")] }, "test");
    expect(out.hnums).toEqual([3]);
    const dir = mkdtempSync(join(tmpdir(), "ocipatch-rpmdb-read-"));
    try {
      writeFileSync(join(dir, "db"), out.bytes);
      const db = openSqlite(join(dir, "db"), { readonly: true });
      try {
        expect(db.prepare("SELECT key, hnum FROM Name ORDER BY hnum").all()).toEqual([
          expect.objectContaining({ key: "bb", hnum: 2 }),
          expect.objectContaining({ key: "ccc", hnum: 3 }),
        ]);
        const md5 = db.prepare("SELECT key, hnum FROM Sigmd5").all() as Array<{
          key: Uint8Array;
          hnum: number;
        }>;
        expect(md5.map((r) => [Buffer.from(r.key).toString("hex"), r.hnum])).toEqual([["03".repeat(16), 3]]);
      } finally {
        db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a database with an index table it does not know, and a header that is not there", () => {
    const [db, wal] = makeDb([
      "CREATE TABLE 'Futurename' (key 'TEXT' NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL)",
    ]);
    expect(() => rewriteRpmdbSqlite(db, wal, { remove: [1], add: [] }, "test")).toThrow(
      /rpm index table Futurename is not known/,
    );
    expect(() => rewriteRpmdbSqlite(...makeDb(), { remove: [9], add: [] }, "test")).toThrow(
      /no header 9 to replace/,
    );
  });
});
