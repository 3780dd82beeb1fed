/**
 * Scanning REAL dpkg inventories against the real tracker subset: a bullseye
 * rootfs built from bullseye main (11.11, so later DSAs/DLAs fixed many of its
 * packages) and the host's own bookworm database. The expected findings are
 * computed here from the JSON with `dpkg --compare-versions`, not by ocipatch.
 */
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scanInventory } from "../../src/scan/index.js";
import { updateDatabase, VulnDatabase } from "../../src/vulndb/index.js";
import {
  bullseyeDpkgDb,
  dpkgQuery,
  type ExpectedFinding,
  expectedFromTracker,
  inventoryFromDpkg,
  readOsRelease,
  TRACKER_SUBSET,
  tempDir,
} from "./vulndb.fixtures.js";

let dbDir: string;
let db: VulnDatabase;

beforeAll(async () => {
  dbDir = tempDir();
  const r = await updateDatabase({ dbDir, locations: { debian: [TRACKER_SUBSET] } });
  expect(r.failures).toEqual([]);
  db = VulnDatabase.open(r.path);
});

afterAll(() => {
  db?.close();
  rmSync(dbDir, { recursive: true, force: true });
});

const key = (f: { id: string; package: string; architecture: string }): string =>
  `${f.id} ${f.package}:${f.architecture}`;

function compare(result: ReturnType<typeof scanInventory>, expected: readonly ExpectedFinding[]): void {
  const got = new Map(result.findings.map((f) => [key(f), f]));
  const want = new Map(expected.map((f) => [key(f), f]));
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [k, w] of want) {
    const g = got.get(k)!;
    expect({
      k,
      installed: g.installedVersion,
      fixed: g.fixedVersion,
      source: g.sourceName,
      state: g.fixState,
    }).toEqual({
      k,
      installed: w.installedVersion,
      fixed: w.fixedVersion,
      source: w.sourceName,
      state: "fixed",
    });
  }
  const ids = new Set(expected.map((f) => f.id));
  expect(result.summary.total).toBe(ids.size);
  expect(result.summary.fixable).toBe(ids.size);
  expect(result.summary.findings).toBe(expected.length);
}

describe("bullseye (11.11, main only) rootfs built with mmdebstrap", () => {
  it("reports exactly the tracker's fixable CVEs, by binary package, with the DSA/DLA fixed versions", () => {
    const { admindir, osRelease } = bullseyeDpkgDb();
    const os = readOsRelease(osRelease);
    expect(os.versionId).toBe("11");
    const rows = dpkgQuery(admindir);
    const inventory = inventoryFromDpkg(admindir, osRelease);
    const expected = expectedFromTracker(TRACKER_SUBSET, rows, "bullseye");
    // the image has real fixable CVEs in openssl, glibc and curl (not a vacuous comparison)
    for (const src of ["openssl", "glibc", "curl"]) {
      expect(
        expected.some((f) => f.sourceName === src),
        src,
      ).toBe(true);
    }
    const result = scanInventory(inventory, db);
    expect(result.namespace).toBe("debian:bullseye");
    expect(result.warnings).toEqual([]);
    compare(result, expected);
    // binNMU'd binaries are matched through their source version (e.g. coreutils 8.32-4+b1 → source 8.32-4)
    const binnmu = rows.filter((r) => r.version !== r.sourceVersion && r.version.startsWith(r.sourceVersion));
    expect(binnmu.length).toBeGreaterThan(0);
  });

  it("--only-fixed keeps the same findings (all are fixable) and an unknown release warns instead of failing", () => {
    const { admindir, osRelease } = bullseyeDpkgDb();
    const inventory = inventoryFromDpkg(admindir, osRelease);
    const all = scanInventory(inventory, db);
    const fixed = scanInventory(inventory, db, { onlyFixed: true });
    expect(fixed.summary).toEqual(all.summary);
    const alien = scanInventory(
      {
        ...inventory,
        os: { ...inventory.os, id: "gentoo", versionId: "2.15", codename: undefined, prettyName: undefined },
      },
      db,
    );
    expect(alien.findings).toEqual([]);
    expect(alien.namespace).toBeUndefined();
    expect(alien.warnings.join("\n")).toMatch(/unsupported operating system gentoo 2\.15/);
  });
});

describe("the host's own dpkg database (bookworm)", () => {
  it("matches the independently computed findings", () => {
    const os = readOsRelease("/etc/os-release");
    if (os.id !== "debian" || os.versionId !== "12") {
      // the test machines are Debian 12; elsewhere there is nothing to compare against
      expect(os.id).toBeDefined();
      return;
    }
    const rows = dpkgQuery("/var/lib/dpkg");
    const inventory = inventoryFromDpkg("/var/lib/dpkg", "/etc/os-release");
    const expected = expectedFromTracker(TRACKER_SUBSET, rows, "bookworm");
    const result = scanInventory(inventory, db);
    expect(result.namespace).toBe("debian:bookworm");
    compare(result, expected);
  });
});
