import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import AjvDraft04Module from "ajv-draft-04";
import addFormatsModule from "ajv-formats";
import { describe, expect, it } from "vitest";
import { isOcipatchError } from "../../errors.js";
import { grypeBeforeAfter } from "../../report/__tests__/fixtures.js";
import type { ScanResult } from "../../scan/types.js";
import type { Digest } from "../../util/digest.js";
import { formatPatchOutput, parsePatchOutputFormat } from "../output.js";
import type { PatchResult, PlatformResult } from "../patch-image.js";
import { checkSeverityThreshold, parseSeverityThreshold } from "../threshold.js";

const require = createRequire(import.meta.url);
const Ajv = AjvDraft04Module as unknown as typeof AjvDraft04Module.default;
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
addFormats(ajv);
const validateSarif = ajv.compile(
  JSON.parse(
    readFileSync(require.resolve("@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json"), "utf8"),
  ),
);

const DIGEST = `sha256:${"c".repeat(64)}` as Digest;

/** A patch result around real scans (the parts the output reads). */
function result(before: ScanResult, after: ScanResult | undefined, platforms = 1): PatchResult {
  const p = (platform: string): PlatformResult =>
    ({
      platform,
      sourceDigest: DIGEST,
      baseDigest: DIGEST,
      replacedPreviousLayer: false,
      status: after ? "patched" : "up-to-date",
      before,
      after,
      patchedDigest: after ? DIGEST : undefined,
      plan: { updates: [], newPackages: [], unresolved: [], warnings: [] },
      indexBytes: 0,
    }) as unknown as PlatformResult;
  return {
    status: after ? "patched" : "up-to-date",
    source: "registry.example/app:1",
    sourceDigest: DIGEST,
    destination: after ? "registry.example/app:1-patched" : undefined,
    written: undefined,
    platforms: ["linux/amd64", "linux/arm64"].slice(0, platforms).map(p),
  };
}

describe("patch output formats", () => {
  it.each([
    ["pretty", "pretty"],
    ["pretty-printer", "pretty"],
    ["table", "pretty"],
    ["JSON", "json"],
    ["sarif", "sarif"],
    ["xml", undefined],
    ["", undefined],
  ])("-f %j -> %j", (v, want) => {
    expect(parsePatchOutputFormat(v)).toBe(want);
  });

  it("sarif: the remaining findings of the patched image, one run per platform, schema-valid", () => {
    const { before, after } = grypeBeforeAfter(["CVE-2019-5094 e2fsprogs"]);
    for (const n of [1, 2]) {
      const log = JSON.parse(formatPatchOutput(result(before, after, n), "sarif")) as {
        runs: Array<{ results: unknown[] }>;
      };
      const ok = validateSarif(log);
      expect(validateSarif.errors ?? []).toEqual([]);
      expect(ok).toBe(true);
      expect(log.runs).toHaveLength(n);
      for (const run of log.runs) expect(run.results).toHaveLength(after.findings.length);
    }
  });

  it("pretty: the summary; -v adds the table of what remains", () => {
    const { before, after } = grypeBeforeAfter();
    const r = result(before, after);
    const plain = formatPatchOutput(r, "pretty");
    expect(plain).toContain("Vulnerability summary:");
    expect(plain).not.toContain("Remaining vulnerabilities");
    const verbose = formatPatchOutput(r, "pretty", { verbose: true });
    expect(verbose.startsWith(plain)).toBe(true);
    expect(verbose).toContain("Remaining vulnerabilities:");
    expect(verbose).toMatch(/VULNERABILITY\s+PACKAGE\s+INSTALLED/);
    const json = JSON.parse(formatPatchOutput(r, "json")) as { status: string };
    expect(json.status).toBe("patched");
  });
});

describe("--severity-threshold", () => {
  it.each(["negligible", "LOW", "Medium", "high", "critical"])("accepts %s", (v) => {
    expect(parseSeverityThreshold(v).toLowerCase()).toBe(v.toLowerCase());
  });

  it.each(["unknown", "severe", ""])("refuses %j with a usage error", (v) => {
    let err: unknown;
    try {
      parseSeverityThreshold(v);
    } catch (e) {
      err = e;
    }
    expect(isOcipatchError(err, "USAGE")).toBe(true);
  });

  it("counts what remains (the re-scan, else the image as it is) at or above the threshold; Unknown never", () => {
    const { before, after } = grypeBeforeAfter(["CVE-2019-5094 e2fsprogs"]);
    const patched = result(before, after);
    const ids = (sev: string[]) =>
      [...new Set(after.findings.filter((f) => sev.includes(f.severity)).map((f) => f.id))].sort();
    expect(checkSeverityThreshold(patched, "Critical").ids).toEqual(ids(["Critical"]));
    expect(checkSeverityThreshold(patched, "Medium").ids).toEqual(ids(["Critical", "High", "Medium"]));
    const all = checkSeverityThreshold(patched, "Negligible");
    expect(all.ids).toEqual(ids(["Critical", "High", "Medium", "Low", "Negligible"]));
    expect(all.exceeded).toBe(all.ids.length > 0);
    // nothing patched: the image as it is decides
    const unpatched = result(before, undefined);
    const beforeIds = [
      ...new Set(before.findings.filter((f) => f.severity !== "Unknown").map((f) => f.id)),
    ].sort();
    expect(checkSeverityThreshold(unpatched, "Negligible").ids).toEqual(beforeIds);
    expect(beforeIds.length).toBeGreaterThan(all.ids.length);
  });
});
