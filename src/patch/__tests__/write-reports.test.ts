import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { emptyPlan } from "../../../test/harness/plans.js";
import { trivyStretch } from "../../report/__tests__/fixtures.js";
import type { Digest } from "../../util/digest.js";
import type { PatchResult, PlatformResult } from "../patch-image.js";
import { writePatchReports } from "../write-reports.js";

const DIGEST = `sha256:${"ab".repeat(32)}` as Digest;
const SOURCE = `sha256:${"cd".repeat(32)}` as Digest;

/** A patched platform whose re-scan no longer has the fixable findings (CVE-2019-5094). */
function result(source: string, destination: string): PatchResult {
  const before = trivyStretch();
  const after = { ...before, findings: before.findings.filter((f) => f.fixState !== "fixed") };
  const platform = {
    platform: "linux/amd64",
    sourceDigest: SOURCE,
    baseDigest: SOURCE,
    replacedPreviousLayer: false,
    status: "patched",
    before,
    after,
    plan: emptyPlan({ mode: "targets" }),
    patchedDigest: DIGEST,
    indexBytes: 10,
    download: { bytes: 5, fromCache: 0, files: 1 },
  } as unknown as PlatformResult;
  return {
    status: "patched",
    source,
    sourceDigest: SOURCE,
    destination,
    written: { digest: DIGEST },
    platforms: [platform],
  } as unknown as PatchResult;
}

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe("writePatchReports: the OpenVEX document for every kind of destination", () => {
  it.each([
    // no tag/arch qualifiers (scanners' image purls have none); no registry: name and digest only
    ["oci:/tmp/in:1.0", "oci:/tmp/Out-Layout:patched", `pkg:oci/out-layout@${DIGEST}`],
    ["oci:/tmp/in", "docker-archive:/tmp/img.tar", `pkg:oci/img@${DIGEST}`],
    [
      "oci:/tmp/in",
      "docker-archive:/tmp/img.tar:example.com/team/app:2",
      `pkg:oci/app@${DIGEST}?repository_url=example.com%2Fteam%2Fapp`,
    ],
  ])("%s → %s: a VEX document with product %s", async (src, dst, product) => {
    const dir = await mkdtemp(join(tmpdir(), "ocipatch-reports-"));
    dirs.push(dir);
    await writePatchReports(dir, result(src, dst));
    const vexFile = readdirSync(dir).find((f) => f.endsWith("-vex.json"));
    expect(vexFile, readdirSync(dir).join(", ")).toBeDefined();
    const vex = JSON.parse(readFileSync(join(dir, vexFile!), "utf8")) as {
      statements: Array<{ vulnerability: { name: string }; products: Array<{ "@id": string }> }>;
    };
    expect(vex.statements.map((s) => s.vulnerability.name)).toEqual(["CVE-2019-5094"]);
    expect(vex.statements[0]!.products[0]!["@id"]).toBe(product);
    const report = JSON.parse(
      readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith("-report.json"))!), "utf8"),
    ) as { download: unknown };
    expect(report.download).toEqual({
      bytes: 15,
      indexBytes: 10,
      packageBytes: 5,
      neededBytes: 0,
      fromCache: 0,
      files: 1,
    });
  });
});
