import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseSecdb } from "../sources/alpine-secdb.js";
import { VULNDATA } from "./shared-data.js";
import { CollectingSink } from "./sink.js";

const DIR = join(VULNDATA, "alpine/vuln-list-v3.21-main");
const tmp = mkdtempSync(join(tmpdir(), "ocipatch-secdb-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface PkgFile {
  name: string;
  distroversion: string;
  secfixes: Record<string, string[]>;
}

function packageFiles(): PkgFile[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith(".json") && !f.startsWith("_"))
    .map((f) => JSON.parse(readFileSync(join(DIR, f), "utf8")) as PkgFile);
}

/** (package, fixed version, CVE) triples and "0" entries, straight from the files. */
function expected(files: PkgFile[]): { triples: string[]; zero: number } {
  const triples: string[] = [];
  let zero = 0;
  for (const p of files)
    for (const [v, ids] of Object.entries(p.secfixes))
      for (const id of ids) {
        if (v === "0") zero++;
        else triples.push(`alpine:3.21 ${p.name} ${v} ${id}`);
      }
  return { triples: [...new Set(triples)].sort(), zero };
}

async function parse(path: string): Promise<CollectingSink> {
  const sink = new CollectingSink();
  await parseSecdb({ path, location: path }, sink);
  return sink;
}

describe("Alpine secdb", () => {
  it("reads per-package secfixes (vuln-list layout): fixed versions, `0` = never affected", async () => {
    const files = packageFiles();
    const want = expected(files);
    const sink = await parse(DIR);
    expect(sink.records.map((r) => `${r.namespace} ${r.package} ${r.fixed} ${r.vulnId}`).sort()).toEqual(
      want.triples,
    );
    expect(sink.notAffectedCount).toBe(want.zero);
    expect(want.zero).toBeGreaterThan(0);
    expect(sink.records.every((r) => r.status === "fixed" && r.severity === "Unknown")).toBe(true);
    // _provenance.json is not a secdb document: skipped and counted
    expect(sink.skipped).toEqual([expect.stringMatching(/_provenance\.json/)]);
  });

  it("reads the official repository document (secdb.alpinelinux.org/<release>/main.json) the same way", async () => {
    const files = packageFiles();
    const official = {
      apkurl: "{{urlprefix}}/{{distroversion}}/{{reponame}}/{{arch}}/{{pkg.name}}-{{pkg.ver}}.apk",
      archs: ["x86_64"],
      reponame: "main",
      urlprefix: "https://dl-cdn.alpinelinux.org/alpine",
      distroversion: "v3.21",
      packages: [
        ...files.map((f) => ({ pkg: { name: f.name, secfixes: f.secfixes } })),
        {
          pkg: {
            name: "annotated",
            secfixes: { "1.0-r1": ["CVE-2030-1 CVE-2030-2", "CVE-2030-3 (backported)"] },
          },
        },
        { pkg: { name: "broken", secfixes: { "not a version": ["CVE-2030-4"] } } },
        { nopkg: true },
      ],
    };
    const path = join(tmp, "main.json");
    writeFileSync(path, JSON.stringify(official));
    const sink = await parse(path);
    const want = expected(files);
    const got = sink.records.map((r) => `${r.namespace} ${r.package} ${r.fixed} ${r.vulnId}`).sort();
    expect(got).toEqual(
      [
        ...want.triples,
        "alpine:3.21 annotated 1.0-r1 CVE-2030-1",
        "alpine:3.21 annotated 1.0-r1 CVE-2030-2",
        "alpine:3.21 annotated 1.0-r1 CVE-2030-3",
      ].sort(),
    );
    expect(sink.skipped).toHaveLength(2);
  });

  it("skips documents without a release (e.g. Wolfi's secdb) instead of guessing", async () => {
    const sink = await parse(join(VULNDATA, "alpine/format-samples/vunnel_wolfi_security.json"));
    expect(sink.records).toEqual([]);
    expect(sink.skipped).toEqual([expect.stringMatching(/distroversion/)]);
  });
});
