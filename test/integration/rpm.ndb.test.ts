/**
 * The NDB rpm database (`Packages.db`, SUSE) against the same headers read from the sqlite rpmdb
 * dnf made and against `rpm --root R -qa` of that root. No tool here can write NDB (Debian's rpm is
 * sqlite-only), so the container is written by the harness (test/harness/rpm/ndb.ts, which follows
 * rpm's rpmpkg.c step by step) around the REAL header blobs: the headers are real, the container is
 * the format under test. Then an openSUSE Leap 15.5 image whose only database is that file is
 * scanned with `ocipatch scan` against an openSUSE-shaped OSV record.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readRpmInventory } from "../../src/backends/rpm/backend.js";
import type { RpmHeader } from "../../src/backends/rpm/header.js";
import { adler32, readRpmdbNdb } from "../../src/backends/rpm/rpmdb-ndb.js";
import { type RpmdbRecord, readRpmdbSqlite } from "../../src/backends/rpm/rpmdb-sqlite.js";
import { OcipatchError } from "../../src/errors.js";
import { LayeredFs } from "../../src/rootfs/index.js";
import { openImage } from "../../src/transport/index.js";
import { updateDatabase } from "../../src/vulndb/index.js";
import { buildRpmImage, OPENSUSE_LEAP_15_5 } from "../harness/rpm/image.js";
import { makeNdbPackages, NdbWriter, sqliteHeaderBlobs } from "../harness/rpm/ndb.js";
import { buildRpmWorld, QA_FORMAT, type RpmWorld, rpmQueryAll } from "../harness/rpm/repo.js";
import { runCli } from "./vulndb.fixtures.js";

const OSV = join(import.meta.dirname, "fixtures/osv-opensuse");
const work = mkdtempSync(join(tmpdir(), "ocipatch-rpmndb-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let world: RpmWorld;
let sqlitePath: string;
let sqliteRecords: RpmdbRecord[];
let rawBlobs: Map<number, Buffer>;
beforeAll(async () => {
  world = await buildRpmWorld(join(work, "world"), { importKey: true });
  sqlitePath = join(world.root, "var/lib/rpm/rpmdb.sqlite");
  sqliteRecords = readRpmdbSqlite(readFileSync(sqlitePath), "rpmdb.sqlite");
  rawBlobs = new Map(sqliteHeaderBlobs(sqlitePath).map((r) => [r.hnum, r.blob]));
}, 600_000);

const none = (v: string | number | undefined): string => (v === undefined ? "(none)" : String(v));
const qa = (h: RpmHeader): string =>
  `${h.name} ${none(h.epoch)}:${h.version}-${h.release} ${none(h.arch)} ${none(h.sourceRpm)}`;
const DETAIL_FORMAT =
  "[%{=NAME}\tP\t%{PROVIDENAME}\t%{PROVIDEFLAGS}\t%{PROVIDEVERSION}\n][%{=NAME}\tR\t%{REQUIRENAME}\t%{REQUIREFLAGS}\t%{REQUIREVERSION}\n][%{=NAME}\tF\t%{FILENAMES}\t%{FILEMODES}\t%{FILEFLAGS}\t%{FILEDIGESTS}\t%{FILESIZES}\n]";
const detail = (h: RpmHeader): string[] => [
  ...h.provides.map((d) => [h.name, "P", d.name, d.flags, d.version].join("\t")),
  ...h.requires.map((d) => [h.name, "R", d.name, d.flags, d.version].join("\t")),
  ...h.files.map((f) => [h.name, "F", f.path, f.mode, f.flags, f.digest, f.size].join("\t")),
];

function ndbFile(name: string, opts: Parameters<typeof makeNdbPackages>[2] = {}) {
  const file = join(work, `${name}.Packages.db`);
  const writer = makeNdbPackages(sqlitePath, file, opts);
  return { file, bytes: readFileSync(file), writer };
}

/** `fn` throws one INVALID_FORMAT line containing `text`. */
function invalid(fn: () => unknown, text = ""): void {
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
}

describe("NDB Packages.db reader", () => {
  it("adler32 is RFC 1950's (the values of Python's zlib.adler32)", () => {
    expect(adler32(Buffer.from("Wikipedia"))).toBe(0x11e60398);
    expect(adler32(Buffer.alloc(0))).toBe(1);
    // past the 5552-byte reduction window
    expect(adler32(Buffer.alloc(100_000, 0xff))).toBe(0x149a302c);
  });

  it("reads every header as the sqlite rpmdb and rpm -qa of the same root, under the same header numbers", async () => {
    const { bytes } = ndbFile("plain");
    const records = readRpmdbNdb(bytes, "Packages.db");
    expect(records.map((r) => r.hnum)).toEqual(sqliteRecords.map((r) => r.hnum));
    expect(records).toEqual(sqliteRecords);
    expect(records.map((r) => qa(r.header)).sort()).toEqual(await rpmQueryAll(world, QA_FORMAT));
    expect(records.flatMap((r) => detail(r.header)).sort()).toEqual(await rpmQueryAll(world, DETAIL_FORMAT));
    expect(records.map((r) => r.header.name)).toContain("gpg-pubkey");
  });

  it("skips free slots and the zeroed blocks of deleted packages; the blob order does not matter", () => {
    // a package written in the middle: its slot is free between used ones
    const libs = sqliteRecords[Math.floor(sqliteRecords.length / 2)]!.hnum;
    const first = sqliteRecords[0]!.hnum;
    // written last-to-first, so the deleted package's slot is free BEFORE used slots
    const before = ndbFile("undeleted", { reverse: true }).writer.slotOf(libs);
    const { bytes, writer } = ndbFile("deleted", { reverse: true, deleted: [libs] });
    expect(bytes.subarray(before.slotno * 16 + 4, before.slotno * 16 + 16).every((x) => x === 0)).toBe(true);
    const hole = bytes.subarray(before.blkoff * 16, (before.blkoff + before.blkcnt) * 16);
    expect(hole.length).toBeGreaterThan(0);
    expect(hole.every((x) => x === 0)).toBe(true);
    const usedSlots = sqliteRecords.filter((r) => r.hnum !== libs).map((r) => writer.slotOf(r.hnum).slotno);
    // the free slot (blkoff 0) lies between used ones, and its old blob is all zeros
    const freeSlots: number[] = [];
    for (let at = 32; at < 4096; at += 16) if (bytes.readUInt32LE(at + 8) === 0) freeSlots.push(at / 16);
    expect(freeSlots[0]).toBeLessThan(Math.max(...usedSlots));
    expect(usedSlots).not.toContain(freeSlots[0]);
    expect(writer.slotOf(first).blkoff).toBeGreaterThan(writer.slotOf(sqliteRecords.at(-1)!.hnum).blkoff);
    const records = readRpmdbNdb(bytes, "Packages.db");
    expect(records).toEqual(sqliteRecords.filter((r) => r.hnum !== libs));
  });

  it("reads more packages than one slot page holds (blobs moved out of the second slot page, as rpm does)", () => {
    const { bytes } = ndbFile("many", { copies: 60 });
    expect(bytes.readUInt32LE(12)).toBe(2); // slotnpages
    const records = readRpmdbNdb(bytes, "Packages.db");
    expect(records).toHaveLength(sqliteRecords.length * 60);
    expect(new Set(records.map((r) => r.hnum)).size).toBe(records.length);
    const want = sqliteRecords.map((r) => qa(r.header));
    expect(records.map((r) => qa(r.header)).sort()).toEqual(
      Array.from({ length: 60 }, () => want)
        .flat()
        .sort(),
    );
    expect(records.slice(0, sqliteRecords.length)).toEqual(sqliteRecords);
  });

  it("reads what any sequence of rpm's puts and deletes leaves (gaps reused, blobs moved for new slot pages)", () => {
    let manyPages = 0;
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            { arbitrary: fc.nat({ max: sqliteRecords.length - 1 }), weight: 4 },
            { arbitrary: fc.constant(-1), weight: 1 },
          ),
          { maxLength: 600, size: "max" },
        ),
        (ops) => {
          const w = new NdbWriter();
          const model = new Map<number, RpmdbRecord>();
          for (const op of ops) {
            if (op === -1 && model.size > 0) {
              // delete the oldest package still there
              const [hnum] = model.keys();
              w.del(hnum as number);
              model.delete(hnum as number);
            } else if (op >= 0) {
              const r = sqliteRecords[op]!;
              const blob = Buffer.from(rawBlobs.get(r.hnum)!);
              const hnum = w.put(blob);
              model.set(hnum, { hnum, header: r.header, blob });
            }
          }
          const bytes = w.bytes();
          if (bytes.readUInt32LE(12) > 1) manyPages++;
          const got = readRpmdbNdb(bytes, "Packages.db");
          expect(got).toEqual([...model.values()].sort((a, b) => a.hnum - b.hnum));
        },
      ),
      { numRuns: 40, seed: 141 },
    );
    // some sequences outgrew the first slot page
    expect(manyPages).toBeGreaterThan(0);
  });

  it("fails a corrupt checksum, a truncated file and hostile slots with one INVALID_FORMAT line", () => {
    const { bytes: good, writer } = ndbFile("bad");
    const hello = sqliteRecords.find((r) => r.header.name === "hello")!.hnum;
    const s = writer.slotOf(hello);
    const slotAt = s.slotno * 16;
    const blobAt = s.blkoff * 16;
    const edit = (fn: (b: Buffer) => void): Buffer => {
      const b = Buffer.from(good);
      fn(b);
      return b;
    };
    const read = (b: Buffer) => () => readRpmdbNdb(b, "Packages.db");
    const flip = (at: number, bit: number) => (b: Buffer) => b.writeUInt8(b.readUInt8(at) ^ bit, at);
    // one byte of a header blob: the checksum rpm keeps catches it
    invalid(
      read(edit(flip(blobAt + 16 + 100, 1))),
      `Packages.db: invalid NDB rpm database: package ${hello}: ADLER-32 mismatch`,
    );
    // the last byte before the tail (padding or blob) and the head's generation count too
    invalid(read(edit(flip(blobAt + s.blkcnt * 16 - 13, 0x80))), "ADLER-32 mismatch");
    invalid(read(edit(flip(blobAt + 8, 1))), "ADLER-32 mismatch");
    // cut anywhere
    for (let n = 0; n < good.length; n += 16) invalid(read(good.subarray(0, n)));
    invalid(read(good.subarray(0, good.length - 3)), "not a multiple of 16");
    // hostile slots: past the end, inside the slot pages, enormous counts, duplicates, overlaps
    invalid(read(edit((b) => b.writeUInt32LE(0xfffffff0, slotAt + 8))), "past the end");
    invalid(read(edit((b) => b.writeUInt32LE(0xffffffff, slotAt + 12))), "past the end");
    invalid(read(edit((b) => b.writeUInt32LE(3, slotAt + 8))), "inside the slot pages");
    invalid(read(edit((b) => b.writeUInt32LE(0, slotAt + 4))), "package 0");
    invalid(read(edit((b) => b.writeUInt32LE(0xffffffff, 12))), "truncated");
    invalid(read(edit((b) => b.writeUInt32LE(1, 4))), "version 1");
    invalid(read(edit((b) => b.write("Slop", slotAt, "latin1"))), '"Slot" magic');
    const other = writer.slotOf(sqliteRecords.find((r) => r.hnum !== hello)!.hnum);
    invalid(read(edit((b) => b.writeUInt32LE(hello, other.slotno * 16 + 4))), `package ${hello} is in slots`);
    invalid(read(edit((b) => b.writeUInt32LE(s.blkoff + 1, other.slotno * 16 + 8))), "overlap");
    // a blob that names another package, a wrong length, a broken tail
    invalid(read(edit((b) => b.writeUInt32LE(hello + 100, blobAt + 4))), "belongs to package");
    invalid(read(edit((b) => b.writeUInt32LE(0xffffff00, blobAt + 12))), "bytes in");
    invalid(read(edit((b) => b.write("BlbX", blobAt + s.blkcnt * 16 - 4, "latin1"))), '"BlbE" magic');
    invalid(read(Buffer.from("RpmP")), "truncated");
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
            readRpmdbNdb(b, "bad");
          } catch (e) {
            if (!(e instanceof OcipatchError) || e.code !== "INVALID_FORMAT") throw e;
          }
        },
      ),
      { numRuns: 2000, seed: 14 },
    );
  });
});

describe("an openSUSE Leap 15.5 image whose database is Packages.db", () => {
  let layout: string;
  let dbDir: string;
  beforeAll(async () => {
    // as SUSE has it: the database in /usr/lib/sysimage/rpm, /var/lib/rpm a symlink to it
    const root = join(work, "suse-root");
    mkdirSync(join(root, "usr/lib/sysimage/rpm"), { recursive: true });
    mkdirSync(join(root, "var/lib"), { recursive: true });
    symlinkSync("../../usr/lib/sysimage/rpm", join(root, "var/lib/rpm"));
    makeNdbPackages(sqlitePath, join(root, "usr/lib/sysimage/rpm/Packages.db"));
    writeFileSync(join(root, "usr/lib/sysimage/rpm/Index.db"), "");
    layout = join(work, "layout");
    await buildRpmImage(layout, "leap", root, OPENSUSE_LEAP_15_5);
    dbDir = join(work, "vulndb");
    const r = await updateDatabase({ dbDir, locations: { osv: [OSV] } });
    expect(r.failures).toEqual([]);
  }, 300_000);

  it("has the inventory rpm -qa prints for the same headers (gpg-pubkey left out)", async () => {
    const fs = await LayeredFs.open(await openImage(`oci:${layout}:leap`));
    try {
      const inv = await readRpmInventory(fs);
      expect(inv?.warnings).toEqual([]);
      const theirs = await rpmQueryAll(world, "%{NAME} %|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE} %{ARCH}\\n");
      expect(inv!.packages.map((p) => `${p.name} ${p.version} ${p.architecture}`).sort()).toEqual(
        theirs.filter((l) => !l.startsWith("gpg-pubkey ")),
      );
      expect(new Set(inv!.packages.map((p) => p.dbPath))).toEqual(
        new Set(["/usr/lib/sysimage/rpm/Packages.db"]),
      );
    } finally {
      await fs.close();
    }
  });

  it("ocipatch scan finds the openSUSE advisory's CVE for the binary rpms of Leap 15.5 only", async () => {
    const r = await runCli([
      "scan",
      "--image",
      `oci:${layout}:leap`,
      "--format",
      "json",
      "--offline",
      "--db-dir",
      dbDir,
    ]);
    expect(r.stderr).not.toMatch(/\[error\]/);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as {
      findings: Array<{ id: string; package: string; installedVersion: string; fixedVersion: string | null }>;
      packages: number;
      namespace: string | null;
      os: { id: string; versionId: string };
      warnings: string[];
    };
    expect({
      packages: doc.packages,
      namespace: doc.namespace,
      os: doc.os,
      warnings: doc.warnings,
    }).toMatchObject({
      packages: 4,
      namespace: "opensuse-leap:15.5",
      os: { id: "opensuse-leap", versionId: "15.5" },
      warnings: [],
    });
    expect(
      doc.findings.map((f) => `${f.id} ${f.package} ${f.installedVersion} -> ${f.fixedVersion}`).sort(),
    ).toEqual([
      "CVE-2026-20001 hello 2:1.0~rc1-1.el9 -> 2:1.0-1.el9",
      "CVE-2026-20001 hello-libs 2:1.0~rc1-1.el9 -> 2:1.0-1.el9",
    ]);
  });

  it("a Packages.db that is not an NDB database is one INVALID_FORMAT line", async () => {
    const root = join(work, "not-ndb");
    mkdirSync(join(root, "usr/lib/sysimage/rpm"), { recursive: true });
    writeFileSync(join(root, "usr/lib/sysimage/rpm/Packages.db"), "SQLite format 3\0".repeat(64));
    const l = join(work, "layout-bad");
    await buildRpmImage(l, "bad", root, OPENSUSE_LEAP_15_5);
    const fs = await LayeredFs.open(await openImage(`oci:${l}:bad`));
    try {
      await expect(readRpmInventory(fs)).rejects.toMatchObject({
        code: "INVALID_FORMAT",
        message: expect.stringMatching(/\/usr\/lib\/sysimage\/rpm\/Packages\.db: not an NDB rpm database$/),
      });
    } finally {
      await fs.close();
    }
  });
});
