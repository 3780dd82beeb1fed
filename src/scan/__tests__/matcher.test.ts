import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Paragraph } from "../../debian/deb822.js";
import type { InstalledPackage, Inventory } from "../../inventory/types.js";
import type { OsInfo } from "../../os/types.js";
import { VULNDATA } from "../../vulndb/__tests__/shared-data.js";
import { updateDatabase, VulnDatabase } from "../../vulndb/index.js";
import { type Finding, scanInventory } from "../index.js";

const TRACKER_SAMPLE = join(VULNDATA, "debian/tracker-format-samples/vunnel_debian_tracker.json");
let dir: string;
let db: VulnDatabase;

const SYNTHETIC_OSV = [
  {
    id: "DEBIAN-CVE-2031-0001",
    affected: [
      {
        package: { ecosystem: "Debian:12", name: "foo" },
        ranges: [
          {
            type: "ECOSYSTEM",
            events: [{ introduced: "0" }, { fixed: "1.2-1" }, { introduced: "1.5-1" }, { fixed: "2.0-1" }],
          },
        ],
      },
      {
        package: { ecosystem: "Debian:13", name: "foo" },
        ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { last_affected: "3.0-2" }] }],
      },
      { package: { ecosystem: "Debian:11", name: "foo" }, versions: ["1.0-1", "1.0-2"] },
    ],
  },
  {
    // a second feed saying the same CVE is fixed later than the tracker says
    id: "DEBIAN-CVE-2008-7220",
    affected: [
      { package: { ecosystem: "Debian:unstable", name: "prototypejs" }, ranges: [] },
      {
        package: { ecosystem: "Debian:sid", name: "prototypejs" },
        ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "1.7.0-1" }] }],
      },
    ],
  },
];

const TRACKER_EDGE = {
  bar: {
    "CVE-2031-1000": {
      releases: {
        bookworm: { status: "undetermined", urgency: "not yet assigned" },
        trixie: { status: "open", urgency: "low", nodsa: "Minor issue", nodsa_reason: "ignored" },
      },
    },
    "CVE-2031-1001": { releases: { bookworm: { status: "open", urgency: "unimportant" } } },
  },
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "ocipatch-matcher-"));
  writeFileSync(join(dir, "synthetic-osv.json"), JSON.stringify(SYNTHETIC_OSV));
  writeFileSync(join(dir, "tracker-edge.json"), JSON.stringify(TRACKER_EDGE));
  const r = await updateDatabase({
    dbDir: join(dir, "db"),
    locations: {
      debian: [TRACKER_SAMPLE, join(dir, "tracker-edge.json")],
      ubuntu: [
        join(VULNDATA, "ubuntu/osv-samples/vunnel/osv"),
        join(VULNDATA, "ubuntu/osv-samples/vunnel/osv-esm-cases"),
      ],
      alpine: [join(VULNDATA, "alpine/vuln-list-v3.21-main")],
      osv: [join(dir, "synthetic-osv.json")],
    },
  });
  expect(r.results.filter((x) => x.outcome !== "imported")).toEqual([]);
  db = VulnDatabase.open(r.path);
});

afterAll(() => {
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

function os(id: string, versionId: string | undefined, codename?: string): OsInfo {
  return {
    id,
    idLike: [],
    versionId,
    codename,
    prettyName: undefined,
    family: id === "alpine" ? "alpine" : "debian",
    source: "/etc/os-release",
  };
}

function pkg(
  name: string,
  version: string,
  source = name,
  sourceVersion = version,
  arch = "amd64",
): InstalledPackage {
  return {
    name,
    version,
    architecture: arch,
    sourceName: source,
    sourceVersion,
    held: false,
    dbPath: "/var/lib/dpkg/status",
    native: { backend: "dpkg", selection: "install", multiArch: undefined, paragraph: new Paragraph() },
  };
}

function scan(o: OsInfo, packages: InstalledPackage[]): ReturnType<typeof scanInventory> {
  const inv: Inventory = {
    os: o,
    packageManager: o.id === "alpine" ? "apk" : "dpkg",
    distroless: false,
    packages,
    warnings: [],
  };
  return scanInventory(inv, db);
}

const brief = (f: Finding): string =>
  `${f.id} ${f.package} ${f.fixState} ${f.fixedVersion ?? "-"} ${f.severity}`;

/** dpkg --compare-versions a lt b (the real dpkg). */
function dpkgLt(a: string, b: string): boolean {
  return spawnSync("dpkg", ["--compare-versions", a, "lt", b]).status === 0;
}

describe("Debian tracker semantics (real format sample)", () => {
  type Entry = { releases: Record<string, { status: string; fixed_version?: string; urgency: string }> | [] };
  const sample = JSON.parse(readFileSync(TRACKER_SAMPLE, "utf8")) as Record<string, Record<string, Entry>>;

  /** Expected findings computed from the sample with dpkg: the README's rules. */
  function expected(release: string, source: string, binary: string, version: string): string[] {
    const out: string[] = [];
    for (const [id, e] of Object.entries(sample[source] ?? {})) {
      if (Array.isArray(e.releases)) continue;
      const r = e.releases[release];
      if (!r) continue;
      const sev = r.urgency.startsWith("high")
        ? "High"
        : r.urgency.startsWith("low")
          ? "Low"
          : r.urgency === "medium"
            ? "Medium"
            : ["unimportant", "end-of-life"].includes(r.urgency)
              ? "Negligible"
              : "Unknown";
      if (r.status === "resolved" && r.fixed_version !== "0" && dpkgLt(version, r.fixed_version!)) {
        out.push(`${id} ${binary} fixed ${r.fixed_version} ${sev}`);
      } else if (r.status === "open") {
        out.push(`${id} ${binary} ${r.urgency === "end-of-life" ? "wont-fix" : "not-fixed"} - ${sev}`);
      }
    }
    return out.sort();
  }

  const cases: Array<[string, string, string, string, string]> = [
    // release, VERSION_ID, source, binary, version
    ["buster", "10", "chromium", "chromium", "89.0.4389.114-1~deb10u1"],
    ["bullseye", "11", "chromium", "chromium", "90.0.4430.212-1"],
    ["bullseye", "11", "chromium", "chromium", "98.0.4758.102-1~deb11u1"],
    ["bookworm", "12", "sope", "libsope1", "5.8.0-1"],
    ["bookworm", "12", "sope", "libsope1", "5.8.0-1+deb12u1"],
    ["stretch", "9", "txt2man", "txt2man", "1.5.5-4"],
    ["buster", "10", "backupninja", "backupninja", "0.8-1"],
  ];
  for (const [release, versionId, source, binary, version] of cases) {
    it(`${release}: ${binary} ${version}`, () => {
      const r = scan(os("debian", versionId, release), [pkg(binary, version, source, version)]);
      expect(r.namespace).toBe(`debian:${release}`);
      expect(r.findings.map(brief).sort()).toEqual(expected(release, source, binary, version));
    });
  }

  it("open + end-of-life is wont-fix and Negligible; fixed_version 0 is never affected", () => {
    const eol = scan(os("debian", "10", "buster"), [pkg("chromium", "89.0.4389.114-1~deb10u1")]);
    expect(eol.findings.map(brief)).toEqual(["CVE-2022-0456 chromium wont-fix - Negligible"]);
    expect(eol.summary).toMatchObject({ total: 1, fixable: 0 });
    // sid has testing/unstable semantics: no VERSION_ID, codename decides
    const sid = scan(os("debian", undefined, "sid"), [
      pkg("libjs-prototype", "1.6.0.1-1", "prototypejs", "1.6.0.1-1"),
    ]);
    expect(sid.namespace).toBe("debian:sid");
    // CVE-2007-2383 (fixed_version "0", unimportant) is absent; CVE-2008-7220 merges tracker (1.6.0.2-1) and OSV (1.7.0-1)
    expect(sid.findings.map(brief)).toEqual(["CVE-2008-7220 libjs-prototype fixed 1.7.0-1 High"]);
    expect(sid.findings[0]?.dataSource).toBe("debian,osv");
    expect(sid.findings[0]?.urgency).toBe("high**");
  });

  it("undetermined → unknown, nodsa ignored → wont-fix, unimportant kept as Negligible", () => {
    const bookworm = scan(os("debian", "12", "bookworm"), [pkg("libbar1", "1.0-1", "bar", "1.0-1")]);
    expect(bookworm.findings.map(brief).sort()).toEqual([
      "CVE-2031-1000 libbar1 unknown - Unknown",
      "CVE-2031-1001 libbar1 not-fixed - Negligible",
    ]);
    const trixie = scan(os("debian", "13", "trixie"), [pkg("libbar1", "1.0-1", "bar", "1.0-1")]);
    expect(trixie.findings.map(brief)).toEqual(["CVE-2031-1000 libbar1 wont-fix - Low"]);
    expect(trixie.findings[0]?.notes).toMatch(/no DSA \(ignored\): Minor issue/);
    expect(bookworm.summary).toMatchObject({
      total: 2,
      fixable: 0,
      byFixState: { unknown: 1, "not-fixed": 1 },
    });
  });

  it("OSV ranges: two introduced/fixed ranges, last_affected, exact versions", () => {
    const at = (versionId: string, codename: string, v: string): string[] =>
      scan(os("debian", versionId, codename), [pkg("foo", v)]).findings.map(brief);
    expect(at("12", "bookworm", "1.0-1")).toEqual(["CVE-2031-0001 foo fixed 1.2-1 Unknown"]);
    expect(at("12", "bookworm", "1.3-1")).toEqual([]);
    expect(at("12", "bookworm", "1.6-1")).toEqual(["CVE-2031-0001 foo fixed 2.0-1 Unknown"]);
    expect(at("12", "bookworm", "2.0-1")).toEqual([]);
    expect(at("13", "trixie", "3.0-2")).toEqual(["CVE-2031-0001 foo not-fixed - Unknown"]);
    expect(at("13", "trixie", "3.0-2+deb13u1")).toEqual([]);
    expect(at("11", "bullseye", "1.0-2")).toEqual(["CVE-2031-0001 foo not-fixed - Unknown"]);
    expect(at("11", "bullseye", "1.0-3")).toEqual([]);
  });

  it("unknown releases warn and report nothing", () => {
    const r = scan(os("debian", "99"), [pkg("chromium", "1-1")]);
    expect(r.namespace).toBeUndefined();
    expect(r.findings).toEqual([]);
    expect(r.warnings.join()).toMatch(/unknown Debian release/);
    const noData = scan(os("debian", "14", "forky"), [pkg("chromium", "1-1")]);
    expect(noData.namespace).toBe("debian:forky");
    expect(noData.warnings.join()).toMatch(/no data for debian:forky/);
  });
});

describe("Ubuntu (real OSV samples)", () => {
  it("public fix on 16.04; on 14.04 the fix is Ubuntu Pro only → not fixable from the public archive", () => {
    const xenial = scan(os("ubuntu", "16.04", "xenial"), [pkg("unzip", "6.0-20ubuntu1")]);
    expect(xenial.namespace).toBe("ubuntu:16.04");
    expect(xenial.findings.map(brief)).toEqual(["CVE-2014-9913 unzip fixed 6.0-20ubuntu1.1 Negligible"]);
    const trusty = scan(os("ubuntu", "14.04", "trusty"), [pkg("unzip", "6.0-9ubuntu1.5")]);
    expect(trusty.findings.map(brief)).toEqual(["CVE-2014-9913 unzip not-fixed - Negligible"]);
    expect(trusty.findings[0]?.notes).toMatch(/6\.0-9ubuntu1\.6.*ubuntu-pro/);
    expect(trusty.summary).toMatchObject({ total: 1, fixable: 0 });
    const patched = scan(os("ubuntu", "16.04", "xenial"), [pkg("unzip", "6.0-20ubuntu1.1")]);
    expect(patched.findings).toEqual([]);
  });

  it("a USN and its UBUNTU-CVE record merge into one finding per binary", () => {
    const bionic = scan(os("ubuntu", "18.04", "bionic"), [
      pkg("libwayland-client0", "1.16.0-1ubuntu1.1~18.04.3", "wayland"),
      pkg("libwayland-server0", "1.16.0-1ubuntu1.1~18.04.3", "wayland"),
    ]);
    expect(bionic.findings.map(brief)).toEqual([
      "CVE-2021-3782 libwayland-client0 fixed 1.16.0-1ubuntu1.1~18.04.4 Medium",
      "CVE-2021-3782 libwayland-server0 fixed 1.16.0-1ubuntu1.1~18.04.4 Medium",
    ]);
    expect(bionic.findings[0]?.aliases).toEqual(
      expect.arrayContaining(["UBUNTU-CVE-2021-3782", "USN-5614-1"]),
    );
    expect(bionic.summary).toMatchObject({ total: 1, fixable: 1, findings: 2 });
  });
});

describe("Alpine (real secdb records)", () => {
  /** Independent order for the `x.y.z[letter]-rN` versions in these files. */
  function key(v: string): number[] {
    const m = /^(\d+)\.(\d+)(?:\.(\d+))?([a-z]?)(?:_[a-z]+\d*)?-r(\d+)$/.exec(v);
    if (!m) throw new Error(`unexpected version ${v}`);
    return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0), m[4] ? m[4].charCodeAt(0) : 0, Number(m[5])];
  }
  const newer = (a: string, b: string): boolean => {
    const x = key(a);
    const y = key(b);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i]! > y[i]!;
    return false;
  };

  for (const [origin, installed, binaries] of [
    ["openssl", "3.3.2-r4", ["libcrypto3", "libssl3"]],
    ["musl", "1.2.5-r8", ["musl", "musl-utils"]],
  ] as const) {
    it(`${origin} ${installed}: every secfix newer than the installed version, for each binary`, () => {
      const secfixes = (
        JSON.parse(readFileSync(join(VULNDATA, `alpine/vuln-list-v3.21-main/${origin}.json`), "utf8")) as {
          secfixes: Record<string, string[]>;
        }
      ).secfixes;
      const want: string[] = [];
      for (const [v, ids] of Object.entries(secfixes)) {
        if (v === "0" || !newer(v, installed)) continue;
        for (const id of ids) for (const b of binaries) want.push(`${id} ${b} fixed ${v} Unknown`);
      }
      expect(want.length).toBeGreaterThan(0);
      const r = scan(
        os("alpine", "3.21.3"),
        binaries.map((b) => pkg(b, installed, origin, installed, "x86_64")),
      );
      expect(r.namespace).toBe("alpine:3.21");
      expect(r.findings.map(brief).sort()).toEqual(want.sort());
    });
  }

  it("edge has its own namespace (no data here → warning)", () => {
    const r = scan(os("alpine", "3.22_alpha20250108"), [
      pkg("musl", "1.2.5-r8", "musl", "1.2.5-r8", "x86_64"),
    ]);
    expect(r.namespace).toBe("alpine:edge");
    expect(r.findings).toEqual([]);
    expect(r.warnings.join()).toMatch(/no data for alpine:edge/);
  });
});
