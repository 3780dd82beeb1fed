import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cvss3BaseScore, parseSeverityName, severityFromScore, severityFromUrgency } from "../severity.js";
import { VULNDATA } from "./shared-data.js";

describe("severityFromUrgency (Debian tracker urgencies)", () => {
  it("maps every urgency found in the real tracker sample, `**` included", () => {
    const sample = JSON.parse(
      readFileSync(join(VULNDATA, "debian/tracker-format-samples/vunnel_debian_tracker.json"), "utf8"),
    ) as Record<string, Record<string, { releases: Record<string, { urgency?: string }> }>>;
    const urgencies = new Set<string>();
    for (const pkg of Object.values(sample))
      for (const e of Object.values(pkg))
        for (const r of Object.values(e.releases ?? {})) if (r.urgency) urgencies.add(r.urgency);
    expect([...urgencies].sort()).toEqual([
      "end-of-life",
      "high**",
      "low**",
      "medium",
      "not yet assigned",
      "unimportant",
    ]);
    expect(Object.fromEntries([...urgencies].sort().map((u) => [u, severityFromUrgency(u)]))).toEqual({
      "end-of-life": "Negligible",
      "high**": "High",
      "low**": "Low",
      medium: "Medium",
      "not yet assigned": "Unknown",
      unimportant: "Negligible",
    });
  });

  it("parses scanner severity names in any case", () => {
    expect(
      ["CRITICAL", "high", "Medium", "LOW", "Negligible", "UNKNOWN", "", "bogus"].map(parseSeverityName),
    ).toEqual(["Critical", "High", "Medium", "Low", "Negligible", "Unknown", "Unknown", "Unknown"]);
  });
});

describe("cvss3BaseScore", () => {
  /** Every (vector, NVD base score) pair in the real trivy reports: the scores were computed by NVD. */
  function nvdPairs(): Array<[string, number]> {
    const out: Array<[string, number]> = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === "object") {
        const o = v as Record<string, unknown>;
        if (typeof o["V3Vector"] === "string" && typeof o["V3Score"] === "number") {
          out.push([o["V3Vector"] as string, o["V3Score"] as number]);
        }
        Object.values(o).forEach(walk);
      }
    };
    for (const dir of ["defectdojo", "trivy-golden"]) {
      for (const f of readdirSync(join(VULNDATA, "scanner-reports", dir))) {
        if (!/^trivy|\.golden$/.test(f)) continue;
        walk(JSON.parse(readFileSync(join(VULNDATA, "scanner-reports", dir, f), "utf8")));
      }
    }
    return out;
  }

  it("reproduces the published base score of every CVSS 3.x vector in the real reports", () => {
    const pairs = nvdPairs();
    expect(pairs.length).toBeGreaterThan(50);
    const mismatches = pairs.filter(([v, s]) => cvss3BaseScore(v) !== s);
    expect(mismatches).toEqual([]);
  });

  it("rejects incomplete or non-v3 vectors, and rates scores like the CVSS specification", () => {
    expect(cvss3BaseScore("AV:N/AC:M/Au:N/C:P/I:N/A:N")).toBeUndefined();
    expect(cvss3BaseScore("CVSS:3.1/AV:N/AC:L")).toBeUndefined();
    expect([0, 0.1, 3.9, 4, 6.9, 7, 8.9, 9, 10].map(severityFromScore)).toEqual([
      "Negligible",
      "Low",
      "Low",
      "Medium",
      "Medium",
      "High",
      "High",
      "Critical",
      "Critical",
    ]);
  });
});
