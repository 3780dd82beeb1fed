import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isOcipatchError } from "../../errors.js";
import { parseTrackerJson } from "../sources/debian-tracker.js";
import { VULNDATA } from "./shared-data.js";
import { CollectingSink } from "./sink.js";

type Release = { status: string; fixed_version?: string; urgency?: string };
type Tracker = Record<string, Record<string, { releases: Record<string, Release> | [] }>>;

const SAMPLE = join(VULNDATA, "debian/tracker-format-samples/vunnel_debian_tracker.json");
const SUBSET = join(VULNDATA, "debian/tracker-subset.json");
const tmp = mkdtempSync(join(tmpdir(), "ocipatch-tracker-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function parse(path: string): Promise<CollectingSink> {
  const sink = new CollectingSink();
  await parseTrackerJson({ path, location: path }, sink);
  return sink;
}

function writeJson(name: string, value: unknown): string {
  const p = join(tmp, name);
  writeFileSync(p, typeof value === "string" || Buffer.isBuffer(value) ? value : JSON.stringify(value));
  return p;
}

describe("Debian tracker JSON", () => {
  it("reads the real tracker sample: resolved, open (end-of-life), fixed_version 0, urgencies with **", async () => {
    const data = JSON.parse(readFileSync(SAMPLE, "utf8")) as Tracker;
    // expectation straight from the JSON
    const want: string[] = [];
    let zero = 0;
    for (const [pkg, entries] of Object.entries(data))
      for (const [id, e] of Object.entries(entries))
        for (const [rel, r] of Object.entries(e.releases)) {
          if (r.status === "resolved" && r.fixed_version === "0") zero++;
          else if (r.status === "resolved") want.push(`debian:${rel} ${pkg} ${id} fixed ${r.fixed_version}`);
          else if (r.status === "open")
            want.push(`debian:${rel} ${pkg} ${id} ${r.urgency === "end-of-life" ? "wont-fix" : "open"} -`);
        }
    const sink = await parse(SAMPLE);
    expect(sink.skipped).toEqual([]);
    expect(sink.notAffectedCount).toBe(zero);
    expect(zero).toBeGreaterThan(0);
    expect(
      sink.records.map((r) => `${r.namespace} ${r.package} ${r.vulnId} ${r.status} ${r.fixed ?? "-"}`).sort(),
    ).toEqual(want.sort());
    const eol = sink.records.find((r) => r.package === "chromium" && r.namespace === "debian:buster");
    expect(eol).toMatchObject({ status: "wont-fix", severity: "Negligible", urgency: "end-of-life" });
    const high = sink.records.find((r) => r.vulnId === "CVE-2008-7220" && r.namespace === "debian:sid");
    expect(high).toMatchObject({ status: "fixed", fixed: "1.6.0.2-1", severity: "High", urgency: "high**" });
    // `releases: []` (chromium-browser) yields nothing and is not an error
    expect(sink.records.some((r) => r.package === "chromium-browser")).toBe(false);
  });

  it("streams the whole real subset: one record per (package, CVE, release), none skipped", async () => {
    const data = JSON.parse(readFileSync(SUBSET, "utf8")) as Tracker;
    const want = new Map<string, string>();
    for (const [pkg, entries] of Object.entries(data))
      for (const [id, e] of Object.entries(entries))
        for (const [rel, r] of Object.entries(e.releases))
          want.set(`${rel}/${pkg}/${id}`, r.fixed_version ?? "");
    const sink = await parse(SUBSET);
    expect(sink.skipped).toEqual([]);
    expect(sink.records).toHaveLength(want.size);
    for (const r of sink.records) {
      expect(want.get(`${r.namespace.slice(7)}/${r.package}/${r.vulnId}`)).toBe(r.fixed);
    }
  });

  it("keeps semantics of open/undetermined/nodsa and skips and counts invalid records", async () => {
    const path = writeJson("edge.json", {
      pkg: {
        "CVE-2024-0001": {
          scope: "remote",
          newfield: { anything: [1, 2] },
          releases: {
            bookworm: {
              status: "open",
              urgency: "low",
              nodsa: "Minor issue",
              nodsa_reason: "ignored",
              repositories: {},
            },
            bullseye: {
              status: "open",
              urgency: "medium**",
              nodsa: "Minor issue",
              nodsa_reason: "postponed",
            },
            trixie: { status: "undetermined", urgency: "not yet assigned" },
            sid: { status: "resolved", fixed_version: "1.2-3", urgency: "unimportant" },
            forky: { status: "weird" },
            buster: { status: "resolved", fixed_version: "not a version!" },
            stretch: { status: "resolved" },
          },
        },
        "CVE-2024-0002": "not an object",
        "CVE-2024-0003": { releases: { bookworm: "nope" } },
        "CVE-2024-0004": { noreleases: true },
      },
      "bad package name!": { "CVE-1": { releases: {} } },
      arraypkg: [1, 2, 3],
    });
    const sink = await parse(path);
    const byRel = Object.fromEntries(sink.records.map((r) => [r.namespace, r]));
    expect(byRel["debian:bookworm"]).toMatchObject({ status: "wont-fix", severity: "Low" });
    expect(byRel["debian:bookworm"]?.notes).toContain("Minor issue");
    expect(byRel["debian:bullseye"]).toMatchObject({ status: "open", severity: "Medium" });
    expect(byRel["debian:trixie"]).toMatchObject({ status: "undetermined", severity: "Unknown" });
    expect(byRel["debian:sid"]).toMatchObject({ status: "fixed", fixed: "1.2-3", severity: "Negligible" });
    expect(sink.records).toHaveLength(4);
    // forky (status), buster (version), stretch (no fixed_version), 0002, 0003, 0004, bad name, arraypkg
    expect(sink.skipped).toHaveLength(8);
  });

  it("refuses truncated, non-JSON and wrongly shaped documents (so the previous data is kept)", async () => {
    const text = readFileSync(SAMPLE, "utf8");
    for (const [name, content, re] of [
      ["truncated.json", text.slice(0, Math.floor(text.length / 2)), /truncated|invalid JSON/],
      ["cut-in-number.json", '{"a": {"CVE-1": {"releases": {"sid": {"x": 12', /invalid JSON|truncated/],
      ["garbage.json", "<html>503 Service Unavailable</html>", /invalid JSON/],
      ["array.json", "[1, 2]", /expected an object/],
      ["empty.json", "", /empty JSON|expected a value/],
      ["binary.json", Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), /invalid UTF-8/],
    ] as const) {
      const p = writeJson(name, content);
      const err = await parse(p).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isOcipatchError(err, "INVALID_FORMAT"), `${name}: ${String(err)}`).toBe(true);
      expect((err as Error).message, name).toMatch(re);
      expect((err as Error).message).toContain(p);
    }
  });
});
