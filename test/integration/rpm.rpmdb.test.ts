/**
 * The RPM backend's readers against rpm itself: real packages built with rpmbuild, a repository
 * from createrepo_c, a root installed by Debian's dnf (sqlite rpmdb, plus an imported key);
 * every header, dependency and file list read by ocipatch is compared with `rpm --root -qa`.
 * The backend then reads the same root as an OCI image (one umoci layer).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readRpmInventory, rpmBackend } from "../../src/backends/rpm/backend.js";
import { parseHeaderWithMagic, type RpmHeader, readHeaderTags } from "../../src/backends/rpm/header.js";
import { rpmRecord, toInstalled } from "../../src/backends/rpm/record.js";
import { readRpmdbBdb } from "../../src/backends/rpm/rpmdb-bdb.js";
import { readRpmdbSqlite } from "../../src/backends/rpm/rpmdb-sqlite.js";
import { OcipatchError } from "../../src/errors.js";
import { LayeredFs } from "../../src/rootfs/index.js";
import { openImage } from "../../src/transport/index.js";
import { openSqlite } from "../../src/util/sqlite.js";
import { run } from "../harness/exec.js";
import { makeBdbPackages } from "../harness/rpm/bdb.js";
import { buildRpmWorld, QA_FORMAT, type RpmWorld, rpmQueryAll, rpmQueryFile } from "../harness/rpm/repo.js";

const work = mkdtempSync(join(tmpdir(), "ocipatch-rpmdb-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let world: RpmWorld;
beforeAll(async () => {
  world = await buildRpmWorld(join(work, "world"), { importKey: true });
}, 600_000);

const none = (v: string | number | undefined): string => (v === undefined ? "(none)" : String(v));

/** A header in QA_FORMAT, as rpm prints it. */
const qa = (h: RpmHeader): string =>
  `${h.name} ${none(h.epoch)}:${h.version}-${h.release} ${none(h.arch)} ${none(h.sourceRpm)}`;

/** Dependencies and files in the query format DETAIL_FORMAT prints. */
function detail(h: RpmHeader): string[] {
  const lines: string[] = [];
  for (const [kind, deps] of [
    ["P", h.provides],
    ["R", h.requires],
    ["C", h.conflicts],
    ["O", h.obsoletes],
  ] as const) {
    for (const d of deps) lines.push([h.name, kind, d.name, d.flags, d.version].join("\t"));
  }
  for (const f of h.files)
    lines.push(
      [h.name, "F", f.path, f.mode, f.flags, f.digest, f.size, f.linkTo, f.user, f.group].join("\t"),
    );
  return lines;
}
const DETAIL_FORMAT = [
  ...["P:PROVIDE", "R:REQUIRE", "C:CONFLICT", "O:OBSOLETE"].map((kt) => {
    const [k, t] = kt.split(":");
    return `[%{=NAME}\t${k}\t%{${t}NAME}\t%{${t}FLAGS}\t%{${t}VERSION}\n]`;
  }),
  "[%{=NAME}\tF\t%{FILENAMES}\t%{FILEMODES}\t%{FILEFLAGS}\t%{FILEDIGESTS}\t%{FILESIZES}\t%{FILELINKTOS}\t%{FILEUSERNAME}\t%{FILEGROUPNAME}\n]",
].join("");

function readDb(root: string): ReturnType<typeof readRpmdbSqlite> {
  const file = join(root, "var/lib/rpm/rpmdb.sqlite");
  const wal = existsSync(`${file}-wal`) ? readFileSync(`${file}-wal`) : undefined;
  return readRpmdbSqlite(readFileSync(file), "rpmdb.sqlite", wal);
}

describe("rpmdb.sqlite reader", () => {
  it("reads every header as rpm -qa prints it (epochs, tilde/caret versions, subpackages, gpg-pubkey)", async () => {
    const records = readDb(world.root);
    const ours = records.map((r) => qa(r.header)).sort();
    expect(ours).toEqual(await rpmQueryAll(world));
    expect(ours.map((l) => l.split(" ")[0])).toEqual(["basesh", "gpg-pubkey", "hello", "hello-libs", "tool"]);
    expect(new Set(records.map((r) => r.hnum)).size).toBe(records.length);
  });

  it("reads provides, requires, conflicts, obsoletes and file lists (modes, flags, digests, links) as rpm does", async () => {
    const ours = readDb(world.root)
      .flatMap((r) => detail(r.header))
      .sort();
    const theirs = await rpmQueryAll(world, DETAIL_FORMAT);
    expect(ours).toEqual(theirs);
    // the corpus covers what the later stages need: noreplace config, ghost, symlink, setuid, rich dep
    expect(theirs.some((l) => l.includes("/etc/hello.conf\t33188\t17\t"))).toBe(true);
    expect(theirs.some((l) => l.includes("/var/lib/hello/state\t"))).toBe(true);
    expect(theirs.some((l) => l.includes("\tlibhello.so.1\troot"))).toBe(true);
    expect(theirs.some((l) => l.includes("/usr/bin/tool\t35309\t"))).toBe(true);
    expect(theirs.some((l) => l.includes("(hello or basesh)"))).toBe(true);
    expect(theirs.some((l) => l.includes("\tO\toldtool\t"))).toBe(true);
  });

  it("reads the headers of the package files (lead, signature header, main header) as rpm -qp does", async () => {
    for (const file of world.rpms) {
      const buf = readFileSync(file);
      const sig = readHeaderTags(buf.subarray(96), file, { magic: true });
      const mainAt = 96 + sig.length + ((8 - (sig.length % 8)) % 8);
      const { header } = parseHeaderWithMagic(buf.subarray(mainAt), file);
      expect(qa(header)).toBe(await rpmQueryFile(world, file, QA_FORMAT.replace("\\n", "")));
      expect(detail(header).join("\n")).toBe(await rpmQueryFile(world, file, DETAIL_FORMAT));
    }
  });

  it("fails a corrupt database or header with one INVALID_FORMAT line", () => {
    const bad = (fn: () => unknown, text: string): void => {
      let err: unknown;
      try {
        fn();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(OcipatchError);
      expect((err as OcipatchError).code).toBe("INVALID_FORMAT");
      expect((err as OcipatchError).message).toContain(text);
      expect((err as OcipatchError).message).not.toContain("\n");
    };
    bad(
      () => readRpmdbSqlite(Buffer.from("not a database at all, just text".repeat(100)), "garbage"),
      "garbage",
    );
    // a real database with one header cut short
    const copy = join(work, "cut.sqlite");
    writeFileSync(copy, readFileSync(join(world.root, "var/lib/rpm/rpmdb.sqlite")));
    const db = openSqlite(copy);
    db.prepare("UPDATE Packages SET blob = substr(blob, 1, 100) WHERE hnum = 2").run();
    db.close();
    // the change sits in the -wal file (rpm keeps its database in WAL mode): unseen without it
    expect(existsSync(`${copy}-wal`)).toBe(true);
    expect(readRpmdbSqlite(readFileSync(copy), "cut")).toHaveLength(readDb(world.root).length);
    bad(
      () => readRpmdbSqlite(readFileSync(copy), "cut", readFileSync(`${copy}-wal`)),
      "cut (header 2): invalid rpm header: truncated",
    );
    // a database of something else
    const other = join(work, "other.sqlite");
    const o = openSqlite(other);
    o.exec("CREATE TABLE t (x)");
    o.close();
    bad(() => readRpmdbSqlite(readFileSync(other), "other"), "no such table: Packages");
  });
});

/** An OCI image whose one layer is `dir` (tar of its contents, added verbatim by umoci). */
async function imageOf(dir: string, name: string): Promise<LayeredFs> {
  const layout = join(work, `layout-${name}`);
  const layer = join(work, `layer-${name}.tar`);
  await run("tar", ["-C", dir, "-cf", layer, "."]);
  await run("umoci", ["init", "--layout", layout]);
  await run("umoci", ["new", "--image", `${layout}:t`]);
  await run("umoci", ["raw", "add-layer", "--image", `${layout}:t`, layer]);
  return LayeredFs.open(await openImage(`oci:${layout}:t`));
}

describe("rpm backend", () => {
  it("reads the inventory of an image made from the dnf root, gpg-pubkey left out", async () => {
    const fs = await imageOf(world.root, "dnf");
    try {
      const inv = await readRpmInventory(fs);
      expect(inv?.warnings).toEqual([]);
      const ours = inv!.packages.map((p) => `${p.name} ${p.version} ${p.architecture}`).sort();
      const theirs = await rpmQueryAll(world, "%{NAME} %|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE} %{ARCH}\\n");
      expect(ours).toEqual(theirs.filter((l) => !l.startsWith("gpg-pubkey ")));
      const libs = inv!.packages.find((p) => p.name === "hello-libs")!;
      expect([libs.sourceName, libs.sourceVersion, libs.dbPath, libs.held]).toEqual([
        "hello",
        "2:1.0~rc1-1.el9",
        "/var/lib/rpm/rpmdb.sqlite",
        false,
      ]);
      expect(rpmRecord(libs).header.files.map((f) => f.path)).toEqual([
        "/usr/lib64/libhello.so",
        "/usr/lib64/libhello.so.1",
      ]);
      expect(() => rpmRecord({ name: "x", native: { backend: "dpkg" } })).toThrow(
        /not read from an rpm database/,
      );
      const tool = inv!.packages.find((p) => p.name === "tool")!;
      expect([tool.sourceName, tool.sourceVersion]).toEqual(["tool", "1.2^git20240101.abc-3.el9"]);
      expect(rpmBackend.properties?.(libs)).toEqual({
        "rpm:sourceRpm": "hello-1.0~rc1-1.el9.src.rpm",
        "rpm:epoch": "2",
      });
      expect(rpmBackend.compareVersions(libs.version, "2:1.0-1.el9")).toBeLessThan(0);
      expect(rpmBackend.compareVersions(tool.version, "1.2-3.el9")).toBeGreaterThan(0);
    } finally {
      await fs.close();
    }
  });

  it("has no inventory without an rpm database, and reads Packages.db as NDB (rpm.ndb.test.ts)", async () => {
    const plain = join(work, "plain");
    mkdirSync(join(plain, "etc"), { recursive: true });
    writeFileSync(join(plain, "etc/os-release"), "ID=test\n");
    const fs1 = await imageOf(plain, "plain");
    try {
      expect(await readRpmInventory(fs1)).toBeUndefined();
    } finally {
      await fs1.close();
    }
    // a file with only the magic: read as NDB, and refused as truncated
    const ndb = join(work, "ndb");
    mkdirSync(join(ndb, "usr/lib/sysimage/rpm"), { recursive: true });
    writeFileSync(join(ndb, "usr/lib/sysimage/rpm/Packages.db"), "RpmP");
    const fs2 = await imageOf(ndb, "ndb");
    try {
      await expect(readRpmInventory(fs2)).rejects.toMatchObject({
        code: "INVALID_FORMAT",
        message: expect.stringContaining(
          "/usr/lib/sysimage/rpm/Packages.db: invalid NDB rpm database: truncated (4 bytes)",
        ),
      });
    } finally {
      await fs2.close();
    }
  });

  it("keeps each record as its database row (the layer cache's codec): read back, the same package; anything else, none", () => {
    const codec = rpmBackend.records!;
    const dbPath = "/var/lib/rpm/rpmdb.sqlite";
    const records = readDb(world.root).filter((r) => r.header.name !== "gpg-pubkey");
    expect(records.length).toBeGreaterThan(3);
    for (const r of records) {
      const p = toInstalled(r, dbPath);
      const text = codec.encode(p);
      const back = codec.decode(text, dbPath)!;
      expect({ ...back, native: undefined }).toEqual({ ...p, native: undefined });
      expect(rpmRecord(back).hnum).toBe(r.hnum);
      expect(rpmRecord(back).blob.equals(r.blob)).toBe(true);
      expect(detail(rpmRecord(back).header)).toEqual(detail(r.header));
      // a damaged row: another header length, a character that is not base64, no number
      const [hnum, b64] = text.split(" ") as [string, string];
      expect(codec.decode(`${hnum} ${b64.slice(8)}`, dbPath)).toBeUndefined();
      expect(codec.decode(`${hnum} ${b64.slice(0, 20)}!${b64.slice(21)}`, dbPath)).toBeUndefined();
      expect(codec.decode(b64, dbPath)).toBeUndefined();
    }
    // the imported key's pseudo-package is not an installed package
    const key = readDb(world.root).find((r) => r.header.name === "gpg-pubkey")!;
    expect(codec.decode(`${key.hnum} ${key.blob.toString("base64")}`, dbPath)).toBeUndefined();
  });
});

describe("Berkeley DB Packages reader", () => {
  /** A root whose only database is a Berkeley DB Packages made from the dnf root's headers. */
  async function bdbRoot(name: string, pageSize: number, copies: number): Promise<string> {
    const root = join(work, name);
    mkdirSync(join(root, "var/lib/rpm"), { recursive: true });
    await makeBdbPackages(
      join(world.root, "var/lib/rpm/rpmdb.sqlite"),
      join(root, "var/lib/rpm/Packages"),
      pageSize,
      copies,
    );
    return root;
  }
  const readBdb = (root: string): ReturnType<typeof readRpmdbBdb> =>
    readRpmdbBdb(readFileSync(join(root, "var/lib/rpm/Packages")), "Packages");

  it("reads every header, dependency and file as rpm's bdb_ro backend does", async () => {
    const root = await bdbRoot("bdb-4k", 4096, 1);
    const records = readBdb(root);
    expect(records.map((r) => qa(r.header)).sort()).toEqual(await rpmQueryAll(world, QA_FORMAT, root));
    expect(records.flatMap((r) => detail(r.header)).sort()).toEqual(
      await rpmQueryAll(world, DETAIL_FORMAT, root),
    );
    expect(records.map((r) => qa(r.header)).sort()).toEqual(
      readDb(world.root)
        .map((r) => qa(r.header))
        .sort(),
    );
  });

  it("follows long overflow chains and many hash pages (512-byte pages, 200 headers)", async () => {
    const root = await bdbRoot("bdb-512", 512, 40);
    const records = readBdb(root);
    expect(records).toHaveLength(readDb(world.root).length * 40);
    expect(records.map((r) => qa(r.header)).sort()).toEqual(await rpmQueryAll(world, QA_FORMAT, root));
  });

  it("is read by the backend from an image", async () => {
    const root = await bdbRoot("bdb-image", 4096, 1);
    const fs = await imageOf(root, "bdb");
    try {
      const inv = await readRpmInventory(fs);
      expect(inv!.packages.map((p) => `${p.name} ${p.version} ${p.sourceName} ${p.dbPath}`).sort()).toEqual([
        "basesh 3-1 basesh /var/lib/rpm/Packages",
        "hello 2:1.0~rc1-1.el9 hello /var/lib/rpm/Packages",
        "hello-libs 2:1.0~rc1-1.el9 hello /var/lib/rpm/Packages",
        "tool 1.2^git20240101.abc-3.el9 tool /var/lib/rpm/Packages",
      ]);
    } finally {
      await fs.close();
    }
  });

  it("fails truncated, corrupt and looping databases with one INVALID_FORMAT line", async () => {
    const root = await bdbRoot("bdb-bad", 512, 2);
    const good = readFileSync(join(root, "var/lib/rpm/Packages"));
    const invalid = (b: Buffer): void => {
      try {
        readRpmdbBdb(b, "bad");
      } catch (e) {
        if (!(e instanceof OcipatchError) || e.code !== "INVALID_FORMAT") throw e;
        expect(e.message).not.toContain("\n");
        return;
      }
      throw new Error("parsed");
    };
    for (let n = 0; n < good.length; n += 512) invalid(good.subarray(0, n));
    // an overflow page that points back at itself
    const looped = Buffer.from(good);
    let patched = 0;
    for (let p = 1; p * 512 < looped.length; p++) {
      if (looped[p * 512 + 25] === 7 && looped.readUInt32LE(p * 512 + 16) !== 0) {
        looped.writeUInt32LE(p, p * 512 + 16);
        patched++;
      }
    }
    expect(patched).toBeGreaterThan(0);
    invalid(looped);
    // random corruption: it parses or fails with INVALID_FORMAT, never anything else
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: good.length - 1 }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 6,
        }),
        (flips) => {
          const b = Buffer.from(good);
          for (const [at, v] of flips) b[at] = v;
          try {
            readRpmdbBdb(b, "bad");
          } catch (e) {
            if (!(e instanceof OcipatchError) || e.code !== "INVALID_FORMAT") throw e;
          }
        },
      ),
      { numRuns: 2000, seed: 8 },
    );
  });
});
