import { createHash } from "node:crypto";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { apkBackend } from "../../backends/apk/backend.js";
import { parseApkInstalledDb } from "../../backends/apk/installed-db.js";
import { packagesOf } from "../../backends/apk/inventory.js";
import { dpkgRecord, dpkgRecordCodec } from "../../backends/dpkg/db/record.js";
import { parseDpkgStatus } from "../../backends/dpkg/db/status.js";
import type { PatchLayer } from "../../backends/types.js";
import { FileLayer } from "../../image/file-layer.js";
import { MediaTypes } from "../../image/media-types.js";
import type { InstalledPackage } from "../../inventory/types.js";
import { type Digest, sha256 } from "../../util/digest.js";
import { BuiltLayerCache } from "../built-layer-cache.js";

const dir = mkdtempSync(join(tmpdir(), "ocipatch-layer-cache-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const STATUS = `Package: libssl1.1
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 4125
Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>
Architecture: amd64
Multi-Arch: same
Source: openssl
Version: 1.1.1w-0+deb11u8
Depends: libc6 (>= 2.25), debconf (>= 0.5) | debconf-2.0
Description: Secure Sockets Layer toolkit - shared libraries
 This package is part of the OpenSSL project's implementation of the SSL and
 TLS cryptographic protocols.

Package: tzdata
Status: hold ok installed
Architecture: all
Version: 2026b-0+deb11u1
Description: time zone and daylight-saving time data
`;

/** A layer file of `bytes` random-ish bytes, as a build would have left it. */
async function builtLayer(bytes: number, installed?: InstalledPackage[]): Promise<PatchLayer> {
  const path = join(await mkdtemp(join(dir, "build-")), "layer.tar");
  const data = Buffer.alloc(bytes, 7);
  writeFileSync(path, data);
  const digest = sha256(data);
  return {
    layer: new FileLayer(
      path,
      { mediaType: MediaTypes.ociLayerGzip, digest, size: bytes },
      sha256("tar") as Digest,
      "gzip",
    ),
    uncompressedSize: bytes * 3,
    entries: 2,
    paths: new Set(["usr/lib/x", "etc/.wh.gone"]),
    packages: [
      {
        package: "libssl1.1",
        architecture: "amd64",
        fromVersion: "1.1.1n-0+deb11u3",
        toVersion: "1.1.1w-0+deb11u8",
      },
      { package: "newdep", architecture: "amd64", fromVersion: undefined, toVersion: "1" },
    ],
    installed,
    keptConffiles: [{ package: "libssl1.1", path: "/etc/ssl/openssl.cnf" }],
    removed: ["/etc/gone"],
    scripts: {
      package: "libssl1.1",
      fromVersion: "1.1.1n-0+deb11u3",
      toVersion: "1.1.1w-0+deb11u8",
      wouldHaveDoneSomething: true,
      findings: [
        {
          script: "postinst",
          version: "new",
          invocation: "configure",
          actions: [{ kind: "ldconfig", detail: "ldconfig" }],
        },
      ],
      kinds: ["ldconfig"],
    },
    maintainerEffects: [
      {
        package: "libssl1.1",
        effect: "ldconfig",
        status: "applied natively",
        detail: "cache",
        paths: ["/etc/ld.so.cache"],
      },
    ],
    osFiles: new Map([
      ["/etc/os-release", 'ID=debian\nVERSION_ID="11"\n'],
      ["/etc/debian_version", "11.9\n"],
    ]),
    warnings: ["a warning"],
  };
}

const sha = (s: string) => createHash("sha256").update(s).digest("hex");
/** An entry's directory name: the build's tag, the key's hash. */
const entryName = (build: string, key: string) => `${sha(build).slice(0, 12)}-${sha(key)}`;

describe("BuiltLayerCache", () => {
  it("gives back what was stored, with the blob verified into the run's file and the records read back", async () => {
    const cache = new BuiltLayerCache(join(dir, "c1"), "build-1");
    const installed = parseDpkgStatus(STATUS, "/var/lib/dpkg/status").packages;
    const built = await builtLayer(1000, installed);
    const key = cache.key({ layers: ["sha256:a"], packages: [["libssl1.1", "x"]] });
    const out = join(await mkdtemp(join(dir, "run-")), "layer.tar");
    expect((await cache.get(key, dpkgRecordCodec, out)).layer).toBeUndefined();
    await cache.put(key, dpkgRecordCodec, built);

    const got = (await cache.get(key, dpkgRecordCodec, out)).layer!;
    expect(readFileSync(out)).toEqual(readFileSync(built.layer.path));
    expect(got.layer.path).toBe(out);
    expect([got.layer.digest, got.layer.diffId, got.layer.size, got.layer.mediaType]).toEqual([
      built.layer.digest,
      built.layer.diffId,
      built.layer.size,
      built.layer.mediaType,
    ]);
    const { layer: _a, installed: i1, ...rest } = got;
    const { layer: _b, installed: i2, ...expected } = built;
    expect(rest).toEqual(expected);
    // the dpkg records: the same packages, and the paragraphs the backend reads (held kept)
    expect(i1!.map(({ native: _, ...p }) => p)).toEqual(i2!.map(({ native: _, ...p }) => p));
    expect(i1!.map((p) => dpkgRecord(p).paragraph.toString())).toEqual(
      i2!.map((p) => dpkgRecord(p).paragraph.toString()),
    );
    expect(i1!.map((p) => dpkgRecord(p).multiArch)).toEqual(["same", undefined]);
    expect(i1![1]!.held).toBe(true);

    // another key, another build of ocipatch: misses
    expect(
      (await cache.get(cache.key({ layers: ["sha256:b"] }), dpkgRecordCodec, `${out}.2`)).layer,
    ).toBeUndefined();
    const other = new BuiltLayerCache(join(dir, "c1"), "build-2");
    expect(
      (
        await other.get(
          other.key({ layers: ["sha256:a"], packages: [["libssl1.1", "x"]] }),
          dpkgRecordCodec,
          `${out}.3`,
        )
      ).layer,
    ).toBeUndefined();
  });

  it("drops an entry whose blob or description is damaged, and the run builds", async () => {
    const root = join(dir, "c2");
    const cache = new BuiltLayerCache(root, "b");
    const key = cache.key({ k: 1 });
    await cache.put(key, dpkgRecordCodec, await builtLayer(500));
    const [entry] = readdirSync(root);
    const blob = join(root, entry!, "layer");
    const bytes = readFileSync(blob);
    bytes[10] = bytes[10]! ^ 0xff;
    writeFileSync(blob, bytes);
    const out = join(await mkdtemp(join(dir, "run-")), "layer.tar");
    const bad = await cache.get(key, dpkgRecordCodec, out);
    expect(bad.layer).toBeUndefined();
    expect(bad.problem).toMatch(/does not match its digest; removed/);
    expect(readdirSync(root)).toEqual([]);
    expect(readdirSync(join(out, ".."))).toEqual([]);

    await cache.put(key, dpkgRecordCodec, await builtLayer(500));
    writeFileSync(join(root, readdirSync(root)[0]!, "entry.json"), '{"format":1}');
    expect((await cache.get(key, dpkgRecordCodec, out)).problem).toMatch(/description is not valid/);
    expect(readdirSync(root)).toEqual([]);
  });

  it("keeps the blobs under its limit, the least recently used removed first", async () => {
    const root = join(dir, "c3");
    const cache = new BuiltLayerCache(root, "b", 2500);
    const keys = ["a", "b", "c"].map((k) => cache.key(k));
    await cache.put(keys[0]!, dpkgRecordCodec, await builtLayer(1000));
    await cache.put(keys[1]!, dpkgRecordCodec, await builtLayer(1001));
    // "a" used again: "b" is now the least recently used (their times set apart, whatever the clock's grain)
    for (const [k, t] of [
      [keys[0]!, 1000],
      [keys[1]!, 2000],
    ] as const)
      utimesSync(join(root, entryName("b", k), "entry.json"), t, t);
    expect(
      (await cache.get(keys[0]!, dpkgRecordCodec, join(await mkdtemp(join(dir, "run-")), "l"))).layer,
    ).toBeDefined();
    // a run killed while storing an entry left this (pid 2^22+1: above Linux's pid_max, never alive)
    const orphan = join(root, `.${entryName("b", "x")}.ocipatch-4194305-00aa11bb22cc.tmp`);
    mkdirSync(orphan);
    await cache.put(keys[2]!, dpkgRecordCodec, await builtLayer(1002));
    expect(readdirSync(root).sort()).toEqual([entryName("b", keys[0]!), entryName("b", keys[2]!)].sort());
  });

  it("removes another build's entries once unused for a day, and keeps them before", async () => {
    const root = join(dir, "c5");
    const old = new BuiltLayerCache(root, "old-build");
    await old.put(old.key("a"), dpkgRecordCodec, await builtLayer(100));
    await old.put(old.key("b"), dpkgRecordCodec, await builtLayer(101));
    const day = 24 * 3600;
    const stale = entryName("old-build", old.key("a"));
    utimesSync(join(root, stale, "entry.json"), Date.now() / 1000 - day - 60, Date.now() / 1000 - day - 60);
    const cache = new BuiltLayerCache(root, "new-build");
    await cache.put(cache.key("a"), dpkgRecordCodec, await builtLayer(102));
    expect(readdirSync(root).sort()).toEqual(
      [entryName("old-build", old.key("b")), entryName("new-build", cache.key("a"))].sort(),
    );
  });

  it("an entry half removed (by a run killed while pruning) is a miss, removed, and stored again whole", async () => {
    const root = join(dir, "c4");
    const cache = new BuiltLayerCache(root, "b");
    const key = cache.key("k");
    await cache.put(key, dpkgRecordCodec, await builtLayer(300));
    const [entry] = readdirSync(root);
    rmSync(join(root, entry!, "layer"));
    const out = join(await mkdtemp(join(dir, "run-")), "layer.tar");
    expect(await cache.get(key, dpkgRecordCodec, out)).toEqual({ layer: undefined });
    expect(readdirSync(root)).toEqual([]);

    // the other half: a directory with the blob only, which put replaces and prune would remove
    mkdirSync(join(root, entry!));
    writeFileSync(join(root, entry!, "layer"), "x");
    await cache.put(key, dpkgRecordCodec, await builtLayer(300));
    expect((await cache.get(key, dpkgRecordCodec, out)).layer?.layer.size).toBe(300);
    const half = entryName("b", "half");
    mkdirSync(join(root, half));
    await cache.put(cache.key("k2"), dpkgRecordCodec, await builtLayer(301));
    expect(readdirSync(root)).not.toContain(half);
  });
});

describe("record codecs", () => {
  it("dpkg: a record reads back as the inventory reads it; a record that is not one installed package does not", () => {
    for (const p of parseDpkgStatus(STATUS, "/var/lib/dpkg/status").packages) {
      const back = dpkgRecordCodec.decode(dpkgRecordCodec.encode(p), p.dbPath)!;
      expect({ ...back, native: undefined }).toEqual({ ...p, native: undefined });
      expect(dpkgRecord(back).paragraph.fields).toEqual(dpkgRecord(p).paragraph.fields);
    }
    expect(dpkgRecordCodec.decode(STATUS, "/var/lib/dpkg/status")).toBeUndefined();
    expect(dpkgRecordCodec.decode("Package: x\nStatus: purge ok not-installed\n", "s")).toBeUndefined();
    expect(dpkgRecordCodec.decode("no colon here\n", "s")).toBeUndefined();
  });

  it("apk: a record reads back line for line", () => {
    const text =
      "C:Q1SJZkBqXSbfKnLyc+JiI1bbvMsl0=\nP:musl\nV:1.2.5-r8\nA:x86_64\no:musl\nF:lib\nR:ld-musl-x86_64.so.1\na:0:0:755\nZ:Q1OHr0s6BxCJHvmLDxn5VXLzzm0Fo=\n\nP:zlib\nV:1.3.1-r2\nA:x86_64\n";
    const db = parseApkInstalledDb(text, "/lib/apk/db/installed");
    const codec = apkBackend.records!;
    for (const p of packagesOf(db, db.path, new Set())) {
      const back = codec.decode(codec.encode(p), p.dbPath)!;
      expect(back.name).toBe(p.name);
      expect((back.native as { lines: unknown }).lines).toEqual((p.native as { lines: unknown }).lines);
    }
    expect(codec.decode(text, "/lib/apk/db/installed")).toBeUndefined();
    expect(codec.decode("not a record", "/lib/apk/db/installed")).toBeUndefined();
  });
});
