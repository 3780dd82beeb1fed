import { describe, expect, it } from "vitest";
import { buildApkFixtures, installedDb } from "../../../../test/harness/apk/build.js";
import { isOcipatchError } from "../../../errors.js";
import { type EntrySpec, MemoryLayer } from "../../../rootfs/__tests__/synthetic.js";
import { LayeredFs } from "../../../rootfs/index.js";
import { apkBackend, apkRecord } from "../backend.js";

async function view(...layers: EntrySpec[][]): Promise<LayeredFs> {
  return new LayeredFs(await Promise.all(layers.map((l) => MemoryLayer.of(l))), "test image");
}

const fx = buildApkFixtures();
const DB = installedDb(fx.release.packages);

describe("apk backend: inventory", () => {
  it("reads an Alpine-like image: packages, origins, pins from world", async () => {
    const fs = await view([
      { name: "etc/alpine-release", content: "3.21.3\n" },
      { name: "etc/os-release", content: 'ID=alpine\nVERSION_ID=3.21.3\nPRETTY_NAME="Alpine Linux v3.21"\n' },
      { name: "etc/apk/world", content: "busybox=1.37.0-r12\nlibssl3\nzlib\n" },
      { name: "etc/apk/repositories", content: "http://127.0.0.1:1/release/main\n" },
      { name: "sbin/apk", content: "#!/bin/true\n", mode: 0o755 },
      { name: "lib/apk/db/installed", content: DB },
    ]);
    const inv = await apkBackend.readInventory(fs);
    expect(inv?.warnings).toEqual([]);
    expect(
      inv?.packages.map((p) => `${p.name} ${p.version} ${p.architecture} ${p.sourceName} ${p.held}`),
    ).toEqual([
      "musl 1.2.5-r8 x86_64 musl false",
      "busybox 1.37.0-r12 x86_64 busybox true",
      "busybox-binsh 1.37.0-r12 x86_64 busybox false",
      "zlib 1.3.1-r2 x86_64 zlib false",
      "libcrypto3 3.3.6-r0 x86_64 openssl false",
      "libssl3 3.3.6-r0 x86_64 openssl false",
    ]);
    const ssl = inv?.packages.find((p) => p.name === "libssl3");
    expect(ssl?.sourceVersion).toBe("3.3.6-r0");
    expect(ssl?.dbPath).toBe("/lib/apk/db/installed");
    expect(ssl && apkRecord(ssl).depends).toEqual(["so:libc.musl-x86_64.so.1", "so:libcrypto.so.3"]);
    expect(ssl && apkBackend.properties?.(ssl)).toEqual({
      "apk:origin": "openssl",
      "apk:checksum": fx.release.packages.find((p) => p.spec.name === "libssl3")?.checksum,
    });
  });

  it("reads distroless Alpine (no apk, no /etc/apk) and Wolfi-like images", async () => {
    const distroless = await view([
      { name: "etc/os-release", content: "ID=alpine\n" },
      { name: "lib/apk/db/installed", content: DB },
    ]);
    expect((await apkBackend.readInventory(distroless))?.packages).toHaveLength(6);
    // apk-tools 3 on a usr-merged root keeps its database under /usr/lib/apk
    const wolfi = await view([
      { name: "etc/os-release", content: "ID=wolfi\nNAME=Wolfi\n" },
      { name: "usr/lib/apk/db/installed", content: DB },
    ]);
    const inv = await apkBackend.readInventory(wolfi);
    expect(inv?.packages[0]?.dbPath).toBe("/usr/lib/apk/db/installed");
    expect(inv?.packages.every((p) => !p.held)).toBe(true);
  });

  it("reads the database from the top layer (whiteouts and rewrites of lower layers)", async () => {
    const upper = installedDb(fx.fixes.packages);
    const fs = await view(
      [{ name: "lib/apk/db/installed", content: DB }],
      [{ name: "lib/apk/db/installed", content: upper }],
    );
    const inv = await apkBackend.readInventory(fs);
    expect(inv?.packages.find((p) => p.name === "zlib")?.version).toBe("1.3.2-r1");
  });

  it("no database: undefined; empty database: a warning; malformed: one-line INVALID_FORMAT", async () => {
    expect(
      await apkBackend.readInventory(await view([{ name: "etc/os-release", content: "ID=alpine\n" }])),
    ).toBe(undefined);
    const empty = await apkBackend.readInventory(await view([{ name: "lib/apk/db/installed", content: "" }]));
    expect(empty?.warnings).toEqual([
      "test image: the apk database /lib/apk/db/installed lists no installed package",
    ]);
    const bad = await view([{ name: "lib/apk/db/installed", content: "P:zlib\nV:1.3.1-r2\nR:libz.so.1\n" }]);
    const err = await apkBackend.readInventory(bad).catch((e: unknown) => e);
    expect(isOcipatchError(err, "INVALID_FORMAT")).toBe(true);
    expect((err as Error).message).toBe("/lib/apk/db/installed:3: R: before any F: line");
  });
});

describe("apk backend: versions and identity", () => {
  it("compares apk versions like apk version -t", () => {
    const cmp = (a: string, b: string) => Math.sign(apkBackend.compareVersions(a, b));
    expect(cmp("1.37.0-r12", "1.37.0-r14")).toBe(-1);
    expect(cmp("3.3.7-r2", "3.3.7-r10")).toBe(-1);
    expect(cmp("1.1.1k-r0", "1.1.1j-r9")).toBe(1);
    expect(cmp("1.2.2_pre2-r0", "1.2.2-r0")).toBe(-1);
    expect(cmp("1.0_p1-r0", "1.0-r0")).toBe(1);
    expect(cmp("1.3.2-r1", "1.3.2-r1")).toBe(0);
  });

  it("declares its database, programs, purl type and captured files", () => {
    expect(apkBackend.id).toBe("apk");
    expect(apkBackend.purlType).toBe("apk");
    expect(apkBackend.fallbackNamespace).toBe("alpine");
    expect(apkBackend.databases).toContain("/lib/apk/db/installed");
    expect(apkBackend.binaries).toContain("/sbin/apk");
    expect(apkBackend.capturePatterns).toEqual(
      expect.arrayContaining(["lib/apk/db/installed", "etc/apk/keys/*"]),
    );
  });
});
