/**
 * `ocipatch scan` of Alpine-like images built by the apk harness, against the real Alpine 3.21
 * secdb data: the findings are the secdb entries newer than each package's version, keyed by
 * origin. The expected fix versions below were picked by reading the secdb JSON, not by ocipatch.
 */
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { updateDatabase } from "../../src/vulndb/index.js";
import { type ApkFixtures, buildApkFixtures } from "../harness/apk/build.js";
import { buildAlpineImage } from "../harness/apk/image.js";
import { runCli, tempDir, VULNDATA } from "./vulndb.fixtures.js";

const SECDB = join(VULNDATA, "alpine/vuln-list-v3.21-main");
/** Secdb fix versions newer than the release state's versions (musl 1.2.5-r8, busybox 1.37.0-r12, zlib 1.3.1-r2, openssl 3.3.6-r0). */
const NEWER: Record<string, readonly string[]> = {
  musl: ["1.2.5-r9", "1.2.5-r10", "1.2.5-r11"],
  busybox: ["1.37.0-r14"],
  zlib: ["1.3.2-r0", "1.3.2-r1"],
  openssl: ["3.3.7-r0", "3.3.7-r1", "3.3.7-r2"],
};

let tmp: string;
let dbDir: string;
let layout: string;
let fx: ApkFixtures;

beforeAll(async () => {
  tmp = tempDir("ocipatch-scan-apk-");
  dbDir = join(tmp, "db");
  const r = await updateDatabase({ dbDir, locations: { alpine: [SECDB] } });
  expect(r.failures).toEqual([]);
  fx = buildApkFixtures();
  layout = join(tmp, "layout");
  const base = { key: fx.key, osId: "alpine", versionId: "3.21.3" };
  await buildAlpineImage(layout, "alpine", {
    ...base,
    packages: fx.release.packages,
    repositories: ["http://127.0.0.1:1/release/main"],
  });
  await buildAlpineImage(layout, "distroless", { ...base, packages: fx.release.packages, distroless: true });
  await buildAlpineImage(layout, "fixed", { ...base, packages: fx.fixes.packages });
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

interface Finding {
  id: string;
  package: string;
  installedVersion: string;
  fixedVersion: string | null;
  sourceName: string;
}

/** `CVE package fixedVersion` lines expected for the release image, from the secdb JSON. */
function expectedReleaseFindings(): string[] {
  const out: string[] = [];
  for (const p of fx.release.packages) {
    const origin = p.spec.origin;
    const secfixes = (
      JSON.parse(readFileSync(join(SECDB, `${origin}.json`), "utf8")) as {
        secfixes: Record<string, string[]>;
      }
    ).secfixes;
    for (const v of NEWER[origin] ?? []) {
      for (const id of secfixes[v] ?? []) out.push(`${id} ${p.spec.name} ${v}`);
    }
  }
  return out.sort();
}

async function scan(tag: string): Promise<{ findings: Finding[]; total: number }> {
  const r = await runCli([
    "scan",
    "--image",
    `oci:${layout}:${tag}`,
    "--format",
    "json",
    "--offline",
    "--db-dir",
    dbDir,
  ]);
  expect(r.stderr).not.toMatch(/\[error\]/);
  expect(r.code).toBe(0);
  const doc = JSON.parse(r.stdout) as {
    findings: Finding[];
    summary: { total: number };
    packages: number | null;
    namespace: string | null;
    warnings: string[];
  };
  // every image holds the six packages of one repository state, read from its apk database
  expect({ packages: doc.packages, namespace: doc.namespace, warnings: doc.warnings }).toEqual({
    packages: 6,
    namespace: "alpine:3.21",
    warnings: [],
  });
  return { findings: doc.findings, total: doc.summary.total };
}

describe("ocipatch scan of Alpine images (apk backend)", () => {
  it("lists the secdb CVEs of every package, by origin, with the smallest fixing version", async () => {
    const r = await scan("alpine");
    // one finding per CVE and binary package; the fixed version is the secdb entry that names it
    const got = r.findings.map((f) => `${f.id} ${f.package} ${f.fixedVersion}`).sort();
    expect(got).toEqual(expectedReleaseFindings());
    const ssl = r.findings.find((f) => f.package === "libssl3");
    expect(ssl).toMatchObject({ sourceName: "openssl", installedVersion: "3.3.6-r0" });
  });

  it("reads a distroless Alpine image (no apk, no /etc/apk) the same way", async () => {
    const a = await scan("alpine");
    const d = await scan("distroless");
    expect(d.findings.map((f) => `${f.id} ${f.package}`).sort()).toEqual(
      a.findings.map((f) => `${f.id} ${f.package}`).sort(),
    );
  });

  it("an image with the fixed versions has no fixable finding", async () => {
    const r = await scan("fixed");
    expect(r.findings.filter((f) => f.fixedVersion !== null)).toEqual([]);
    expect(r.total).toBe(r.findings.length);
  });
});
