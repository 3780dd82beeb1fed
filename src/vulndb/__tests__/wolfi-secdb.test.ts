import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { namespaceForEcosystem, schemeOf } from "../namespace.js";
import { FEEDS, feedByName } from "../sources/index.js";
import { VULNDATA } from "./shared-data.js";
import { CollectingSink } from "./sink.js";

const SAMPLE = join(VULNDATA, "alpine/format-samples/vunnel_wolfi_security.json");
const tmp = mkdtempSync(join(tmpdir(), "ocipatch-wolfi-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface WolfiDoc {
  packages: Array<{ pkg: { name: string; secfixes?: Record<string, string[]> } }>;
}

async function parse(path: string): Promise<CollectingSink> {
  const sink = new CollectingSink();
  await feedByName("wolfi").parse({ path, location: path }, sink);
  return sink;
}

describe("Wolfi security feed (feed `wolfi`)", () => {
  it("is a known feed fetched by default from packages.wolfi.dev", () => {
    expect(FEEDS.wolfi.name).toBe("wolfi");
    expect(FEEDS.wolfi.defaultLocations).toEqual(["https://packages.wolfi.dev/os/security.json"]);
    expect(FEEDS.wolfi.enabledByDefault).toBe(true);
  });

  it("reads the real feed sample: every secfix in namespace wolfi:rolling, `0` = never affected", async () => {
    const doc = JSON.parse(readFileSync(SAMPLE, "utf8")) as WolfiDoc;
    const triples: string[] = [];
    let zero = 0;
    for (const { pkg } of doc.packages)
      for (const [v, ids] of Object.entries(pkg.secfixes ?? {}))
        for (const id of ids) {
          if (v === "0") zero++;
          else triples.push(`wolfi:rolling ${pkg.name} ${v} ${id}`);
        }
    const sink = await parse(SAMPLE);
    expect(sink.skipped).toEqual([]);
    expect(sink.records.map((r) => `${r.namespace} ${r.package} ${r.fixed} ${r.vulnId}`).sort()).toEqual(
      [...new Set(triples)].sort(),
    );
    expect(triples.length).toBeGreaterThan(40);
    expect(sink.notAffectedCount).toBe(zero);
    expect(zero).toBeGreaterThan(0); // coreutils "0": CVE-2016-2781
    expect(sink.records).toContainEqual(
      expect.objectContaining({ package: "curl", fixed: "7.86.0-r0", vulnId: "CVE-2022-42916" }),
    );
  });

  it("ignores a distroversion (Wolfi is rolling) and refuses a document that is not JSON", async () => {
    const p = join(tmp, "with-version.json");
    writeFileSync(
      p,
      JSON.stringify({
        distroversion: "v3.21",
        packages: [{ pkg: { name: "x", secfixes: { "1-r1": ["CVE-2030-1"] } } }],
      }),
    );
    expect((await parse(p)).records.map((r) => r.namespace)).toEqual(["wolfi:rolling"]);
    const bad = join(tmp, "bad.json");
    writeFileSync(bad, "{ not json");
    // a broken document throws, so that `db update` keeps the previous data
    await expect(parse(bad)).rejects.toThrow(/^Wolfi security feed \S+bad\.json: invalid JSON/);
  });

  it("wolfi versions use apk rules; OSV's `Wolfi` ecosystem is the same namespace", () => {
    expect(schemeOf("wolfi:rolling")).toBe("apk");
    expect(namespaceForEcosystem("Wolfi")).toEqual({ namespace: "wolfi:rolling", channel: undefined });
  });
});
