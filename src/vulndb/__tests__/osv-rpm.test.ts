import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { namespaceForEcosystem, schemeOf } from "../namespace.js";
import { osvRecords, parseOsv } from "../sources/osv.js";
import type { AffectedRecord } from "../types.js";
import { comparatorFor } from "../versioning/index.js";
import { CollectingSink } from "./sink.js";

/** The AlmaLinux/Rocky-shaped fixture of the scan test (README there). */
const FIXTURE = join(import.meta.dirname, "../../../test/integration/fixtures/osv-almalinux");

const line = (r: AffectedRecord): string =>
  `${r.namespace} ${r.package} ${r.vulnId} ${r.status} ${r.fixed ?? ""} ${r.severity} ${r.urgency ?? "-"} [${r.aliases.join(" ")}]`;

describe("OSV records of RPM distributions", () => {
  it("maps the RPM ecosystems to namespaces, ordered by rpmvercmp", () => {
    const ns = (e: string) => namespaceForEcosystem(e)?.namespace;
    expect(ns("AlmaLinux:9")).toBe("almalinux:9");
    expect(ns("AlmaLinux:8")).toBe("almalinux:8");
    expect(ns("Rocky Linux:9")).toBe("rocky:9");
    expect(ns("Red Hat:enterprise_linux:9::appstream")).toBe("rhel:9");
    expect(ns("Red Hat:enterprise_linux:8::baseos")).toBe("rhel:8");
    expect(ns("Red Hat:rhel_aus:8.2::appstream")).toBeUndefined();
    expect(ns("openSUSE:Leap 15.5")).toBe("opensuse-leap:15.5");
    expect(ns("SUSE:Linux Enterprise Server 15 SP5")).toBe("sles:15.5");
    expect(ns("SUSE:Linux Enterprise Server 12")).toBe("sles:12.0");
    expect(ns("SUSE:Linux Enterprise Micro 5.5")).toBeUndefined();
    expect(ns("AlmaLinux:nine")).toBeUndefined();
    for (const n of ["almalinux:9", "rocky:9", "rhel:9", "opensuse-leap:15.5", "sles:15.5"])
      expect(schemeOf(n)).toBe("rpm");
    expect(schemeOf("debian:bookworm")).toBe("dpkg");
    const rpm = comparatorFor("almalinux:9");
    expect(rpm.compare("2:1.0~rc1-1.el9", "2:1.0-1.el9")).toBeLessThan(0);
    expect(rpm.compare("3-1", "0:3-1")).toBe(0);
    expect(rpm.compare("2:1.0~rc1-1.el9", "1:9.9-1.el9")).toBeGreaterThan(0);
    expect(rpm.compare("1.2^git1-3.el9", "1.2-3.el9")).toBeGreaterThan(0);
    for (const v of ["1:3.0.1-47.el9_1", "0:4.9.3-2.el9_8.1", "1.2^git20240101.abc-4.el9", "5.14.0"])
      expect(rpm.isValid(v)).toBe(true);
    for (const v of ["", "1.0 -1", "x:1.0-1", ":1.0", "-1"]) expect(rpm.isValid(v)).toBe(false);
  });

  it("expands ALSA advisories into the CVEs of `related`, per binary rpm, severity from the summary", async () => {
    const sink = new CollectingSink();
    await parseOsv({ path: FIXTURE, location: FIXTURE }, sink);
    expect(sink.skipped).toEqual([]);
    expect(sink.records.map(line).sort()).toEqual([
      "almalinux:8 hello CVE-2026-10001 fixed 2:1.0-1.el8 High Important [ALSA-2026:0101 CVE-2026-10002 RHSA-2026:0101]",
      "almalinux:8 hello CVE-2026-10002 fixed 2:1.0-1.el8 High Important [ALSA-2026:0101 CVE-2026-10001 RHSA-2026:0101]",
      "almalinux:9 basesh CVE-2026-10004 fixed 0:3-1 Low Low [ALSA-2026:0103]",
      "almalinux:9 hello CVE-2026-10001 fixed 2:1.0-1.el9 High Important [ALSA-2026:0101 CVE-2026-10002 RHSA-2026:0101]",
      "almalinux:9 hello CVE-2026-10002 fixed 2:1.0-1.el9 High Important [ALSA-2026:0101 CVE-2026-10001 RHSA-2026:0101]",
      "almalinux:9 hello CVE-2026-10004 fixed 1:9.9-1.el9 Low Low [ALSA-2026:0103]",
      "almalinux:9 hello-libs CVE-2026-10001 fixed 2:1.0-1.el9 High Important [ALSA-2026:0101 CVE-2026-10002 RHSA-2026:0101]",
      "almalinux:9 hello-libs CVE-2026-10002 fixed 2:1.0-1.el9 High Important [ALSA-2026:0101 CVE-2026-10001 RHSA-2026:0101]",
      "almalinux:9 hello-libs CVE-2026-10006 fixed 2:1.0-1.el9 Medium Moderate [ALSA-2026:0104]",
      "almalinux:9 tool CVE-2026-10003 fixed 1.2^git20240101.abc-4.el9 Medium Moderate [ALSA-2026:0102 RHSA-2026:0102]",
      "rocky:9 hello CVE-2026-10005 fixed 2:1.0-1.el9 Critical Critical [RLSA-2026:0201]",
    ]);
  });

  it("keeps a record without CVEs under its advisory id; `related` of a CVE record is not expanded", () => {
    const sink = new CollectingSink();
    const affected = [
      {
        package: { ecosystem: "Rocky Linux:8", name: "bash" },
        ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "4.4.20-4.el8_6" }] }],
      },
    ];
    osvRecords({ id: "RLSA-2022:7089", summary: "bash bug fix update", affected }, sink);
    osvRecords({ id: "CVE-2026-1", related: ["CVE-2026-2", "RLSA-2026:1"], affected }, sink);
    osvRecords(
      {
        id: "ALSA-2026:9",
        related: ["CVE-2026-3"],
        affected: [
          {
            ...affected[0],
            ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, { fixed: "not an evr" }] }],
          },
        ],
      },
      sink,
    );
    expect(sink.records.map(line)).toEqual([
      "rocky:8 bash RLSA-2022:7089 fixed 4.4.20-4.el8_6 Unknown - []",
      "rocky:8 bash CVE-2026-1 fixed 4.4.20-4.el8_6 Unknown - [CVE-2026-2 RLSA-2026:1]",
    ]);
    expect(sink.skipped).toEqual(['record bash: invalid version "not an evr" in range']);
  });
});
