import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isOcipatchError } from "../../errors.js";
import { osvRecords, parseOsv } from "../sources/osv.js";
import type { AffectedRecord } from "../types.js";
import { VULNDATA } from "./shared-data.js";
import { CollectingSink } from "./sink.js";

const UBUNTU = join(VULNDATA, "ubuntu/osv-samples");
const tmp = mkdtempSync(join(tmpdir(), "ocipatch-osv-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function jsonFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((f) => join(dir, f))
    .filter((f) => f.endsWith(".json") && statSync(f).isFile());
}

/** The Ubuntu OSV records of the shared samples (not the vunnel snapshots/VEX, which are other formats). */
function ubuntuRecordDir(): string {
  const dir = join(tmp, "ubuntu-osv");
  mkdirSync(dir, { recursive: true });
  const files = [
    ...jsonFiles(join(UBUNTU, "vunnel/osv")),
    ...jsonFiles(join(UBUNTU, "vunnel/osv-esm-cases")),
    join(UBUNTU, "osv.dev_UBUNTU-CVE-2025-38094.json"),
  ];
  for (const f of files) writeFileSync(join(dir, f.split("/").pop()!), readFileSync(f));
  return dir;
}

async function parse(path: string): Promise<CollectingSink> {
  const sink = new CollectingSink();
  await parseOsv({ path, location: path }, sink);
  return sink;
}

const line = (r: AffectedRecord): string =>
  `${r.namespace} ${r.package} ${r.vulnId} ${r.status} ${r.introduced ?? "0"}..${r.fixed ?? r.lastAffected ?? ""} ${r.channel ?? "public"}`;

interface OsvDoc {
  id: string;
  withdrawn?: string;
  upstream?: string[];
  affected?: Array<{
    package: { ecosystem: string; name: string };
    ranges?: Array<{ type: string; events: Array<Record<string, string>> }>;
  }>;
}

describe("OSV (Ubuntu)", () => {
  it("turns every non-withdrawn record into per-release ranges, Pro records in their own channel", async () => {
    const dir = ubuntuRecordDir();
    const want: string[] = [];
    for (const f of jsonFiles(dir)) {
      const doc = JSON.parse(readFileSync(f, "utf8")) as OsvDoc;
      if (doc.withdrawn) continue;
      const cve = (doc.upstream ?? [])
        .map((u) => u.replace(/^UBUNTU-/, ""))
        .find((u) => u.startsWith("CVE-"));
      const id = doc.id.startsWith("UBUNTU-CVE-") ? doc.id.slice(7) : (cve ?? doc.id);
      for (const a of doc.affected ?? []) {
        const parts = a.package.ecosystem.split(":");
        const version = parts.find((p) => /^\d+\.\d+$/.test(p))!;
        const channel = parts.includes("Pro") ? "ubuntu-pro" : "public";
        for (const r of a.ranges ?? []) {
          const fixed = r.events.find((e) => e["fixed"])?.["fixed"];
          want.push(
            `ubuntu:${version} ${a.package.name} ${id} ${fixed ? "fixed" : "open"} 0..${fixed ?? ""} ${channel}`,
          );
        }
      }
    }
    const sink = await parse(dir);
    expect(sink.skipped).toEqual([]);
    expect(sink.records.map(line).sort()).toEqual(want.sort());
    const unzip = sink.records.filter((r) => r.vulnId === "CVE-2014-9913");
    expect(unzip.find((r) => r.namespace === "ubuntu:16.04")).toMatchObject({
      fixed: "6.0-20ubuntu1.1",
      channel: undefined,
      severity: "Negligible",
    });
    const pro = unzip.find((r) => r.namespace === "ubuntu:14.04");
    expect(pro).toMatchObject({ fixed: "6.0-9ubuntu1.6", channel: "ubuntu-pro" });
    expect(pro?.notes).toMatch(/Ubuntu Pro/);
    expect(pro?.aliases).toEqual(expect.arrayContaining(["UBUNTU-CVE-2014-9913", "USN-4672-1"]));
    // USN records name UBUNTU-CVE ids: they merge on the CVE
    const usn = sink.records.filter((r) => r.aliases.includes("USN-5614-1"));
    expect(new Set(usn.map((r) => r.vulnId))).toEqual(new Set(["CVE-2021-3782"]));
    // withdrawn records give nothing
    for (const id of ["CVE-2014-2901", "CVE-2020-36325", "CVE-2013-2208"]) {
      expect(sink.records.some((r) => r.vulnId === id)).toBe(false);
    }
  });

  it("reads the same records from an all.zip (built with python's zipfile) as from the directory", async () => {
    const dir = ubuntuRecordDir();
    const zip = join(tmp, "all.zip");
    execFileSync("python3", [
      "-c",
      "import sys,zipfile,os\nwith zipfile.ZipFile(sys.argv[1],'w',zipfile.ZIP_DEFLATED) as z:\n  for f in sorted(os.listdir(sys.argv[2])): z.write(os.path.join(sys.argv[2],f), f)\n  z.writestr('README.txt','not a record')\n  z.writestr('broken.json','{\"id\": ')",
      zip,
      dir,
    ]);
    const fromDir = await parse(dir);
    const fromZip = await parse(zip);
    expect(fromZip.records.map(line).sort()).toEqual(fromDir.records.map(line).sort());
    expect(fromZip.skipped).toHaveLength(1); // broken.json; README.txt is not a record
    expect(fromZip.skipped[0]).toMatch(/broken\.json: not JSON/);
    const bytes = readFileSync(zip);
    const truncated = join(tmp, "truncated.zip");
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const err = await parse(truncated).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isOcipatchError(err, "INVALID_FORMAT")).toBe(true);
    expect((err as Error).message).toMatch(/zip/);
  });
});

describe("OSV (Debian advisories, other shapes)", () => {
  it("expands DSA records into their CVEs with the advisory as alias; empty advisories give nothing", async () => {
    const dsa = await parse(join(VULNDATA, "debian/tracker-format-samples/osv.dev_DSA-3029-1.json"));
    expect(dsa.records).toEqual([
      expect.objectContaining({
        namespace: "debian:wheezy",
        package: "nginx",
        vulnId: "CVE-2014-3616",
        aliases: ["DSA-3029-1"],
        status: "fixed",
        fixed: "1.2.1-2.2+wheezy3",
      }),
    ]);
    const dla = await parse(join(VULNDATA, "debian/tracker-format-samples/osv.dev_DLA-3623-1.json"));
    expect(dla.records).toEqual([]);
    expect(dla.skipped).toEqual([]);
  });

  it("handles last_affected, several and unsorted ranges, versions lists, Alpine, CVSS, and bad input", () => {
    const sink = new CollectingSink();
    osvRecords(
      {
        id: "DSA-9999-1",
        aliases: ["CVE-2030-0001", "CVE-2030-0002"],
        severity: [{ type: "CVSS_V3", score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H" }],
        future_field: { x: 1 },
        affected: [
          {
            package: { ecosystem: "Debian:12", name: "foo" },
            ranges: [
              {
                type: "ECOSYSTEM",
                events: [
                  { fixed: "2.0-1" },
                  { introduced: "1.5-1" },
                  { introduced: "0" },
                  { fixed: "1.2-1" },
                ],
              },
            ],
          },
          {
            package: { ecosystem: "Debian:13", name: "foo" },
            ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { last_affected: "3.0-2" }] }],
          },
          { package: { ecosystem: "Debian:11", name: "foo" }, versions: ["1.0-1", "1.0-2"] },
          {
            package: { ecosystem: "PyPI", name: "django" },
            ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }] }],
          },
          {
            package: { ecosystem: "Alpine:v3.21", name: "foo" },
            ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "1.2.3-r1" }] }],
          },
          {
            package: { ecosystem: "Debian:12", name: "bar" },
            ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "not valid!" }] }],
          },
          {
            package: { ecosystem: "Debian:12", name: "baz" },
            ranges: [{ type: "GIT", events: [{ introduced: "abc" }] }],
          },
        ],
      },
      sink,
    );
    const got = sink.records.map((r) => `${r.vulnId} ${line(r)} ${r.severity}`).sort();
    const per = (id: string): string[] => [
      `${id} alpine:3.21 foo ${id} fixed 0..1.2.3-r1 public Critical`,
      `${id} debian:bookworm foo ${id} fixed 0..1.2-1 public Critical`,
      `${id} debian:bookworm foo ${id} fixed 1.5-1..2.0-1 public Critical`,
      `${id} debian:bullseye foo ${id} exact 0.. public Critical`,
      `${id} debian:trixie foo ${id} last-affected 0..3.0-2 public Critical`,
    ];
    expect(got).toEqual([...per("CVE-2030-0001"), ...per("CVE-2030-0002")].sort());
    expect(sink.records.find((r) => r.status === "exact")?.versions).toEqual(["1.0-1", "1.0-2"]);
    expect(sink.records.every((r) => r.aliases.includes("DSA-9999-1"))).toBe(true);
    expect(sink.skipped).toHaveLength(2); // bar (invalid version), baz (no ECOSYSTEM range)
    osvRecords({ summary: "no id" }, sink, "noid.json");
    osvRecords({ id: "X", affected: "nope" }, sink, "bad.json");
    expect(sink.skipped).toHaveLength(4);
    expect(sink.skipped[2]).toMatch(/^noid\.json: id/);
  });
});
