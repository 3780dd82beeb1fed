import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import AjvDraft04Module from "ajv-draft-04";
import addFormatsModule from "ajv-formats";
import { describe, expect, it } from "vitest";
import { formatSarif, sarifLevel, toSarif, vulnerabilityUri } from "../sarif.js";
import { grypeBeforeAfter, trivyStretch } from "./fixtures.js";

/** The OASIS SARIF 2.1.0 JSON schema (draft-04), as Microsoft's SARIF SDK ships it. */
const require = createRequire(import.meta.url);
// CommonJS default exports, typed as namespaces under NodeNext
const Ajv = AjvDraft04Module as unknown as typeof AjvDraft04Module.default;
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
const schema = JSON.parse(
  readFileSync(require.resolve("@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json"), "utf8"),
);
// the rtm.5 schema's `language` pattern has a stray "]" that the "u" flag refuses
const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
addFormats(ajv);
const validate = ajv.compile(schema);

function expectValidSarif(doc: unknown): void {
  const ok = validate(doc);
  expect(validate.errors ?? [], JSON.stringify(validate.errors?.slice(0, 3))).toEqual([]);
  expect(ok).toBe(true);
}

interface Log {
  version: string;
  runs: Array<{
    tool: {
      driver: {
        name: string;
        rules: Array<{
          id: string;
          defaultConfiguration: { level: string };
          properties: Record<string, unknown>;
        }>;
      };
    };
    results: Array<{
      ruleId: string;
      ruleIndex: number;
      level: string;
      message: { text: string };
      properties: Record<string, unknown>;
    }>;
  }>;
}

describe("SARIF of a scan", () => {
  it("validates against the SARIF 2.1.0 schema, with a rule per id and a result per finding", () => {
    const { before } = grypeBeforeAfter();
    const log = toSarif(before) as unknown as Log;
    expectValidSarif(log);
    expect(log.version).toBe("2.1.0");
    const run = log.runs[0]!;
    expect(run.tool.driver.name).toBe("ocipatch");
    const ids = [...new Set(before.findings.map((f) => f.id))].sort();
    expect(run.tool.driver.rules.map((r) => r.id)).toEqual(ids);
    expect(run.results).toHaveLength(before.findings.length);
    for (const [i, res] of run.results.entries()) {
      const f = before.findings[i]!;
      expect(res.ruleId).toBe(f.id);
      expect(run.tool.driver.rules[res.ruleIndex]!.id).toBe(f.id);
      expect(res.level).toBe(sarifLevel(f.severity));
      expect(res.properties["package"]).toBe(f.package);
      expect(res.properties["fixedVersion"]).toBe(f.fixedVersion ?? null);
      if (f.fixState === "fixed") expect(res.message.text).toContain(`fixed in ${f.fixedVersion}`);
    }
    // a rule's level is its id's worst severity
    const critical = before.findings.find((f) => f.severity === "Critical" || f.severity === "High");
    if (critical) {
      const rule = run.tool.driver.rules.find((r) => r.id === critical.id)!;
      expect(rule.defaultConfiguration.level).toBe("error");
    }
  });

  it("keeps only fixable findings on request; still valid", () => {
    const scan = trivyStretch();
    const log = toSarif(scan, { onlyFixable: true }) as unknown as Log;
    expectValidSarif(log);
    expect(log.runs[0]!.results.map((r) => r.properties["package"])).toEqual([
      "e2fslibs",
      "e2fsprogs",
      "libcomerr2",
      "libss2",
    ]);
    expect(log.runs[0]!.tool.driver.rules.map((r) => r.id)).toEqual(["CVE-2019-5094"]);
    expect(log.runs[0]!.results[0]!.message.text).toBe(
      "e2fslibs 1.43.4-2 (amd64) is affected by CVE-2019-5094 (Medium): fixed in 1.43.4-2+deb9u1",
    );
    expect(log.runs[0]!.results[0]!.level).toBe("warning");
  });

  it("a scan without findings is a valid, empty run", () => {
    const scan = { ...trivyStretch(), findings: [] };
    const log = toSarif(scan) as unknown as Log;
    expectValidSarif(log);
    expect(log.runs[0]!.results).toEqual([]);
  });

  it("the schema check is real: a broken log fails it", () => {
    const log = toSarif(trivyStretch()) as unknown as Log;
    const broken = structuredClone(log) as unknown as {
      runs: Array<{ results: Array<Record<string, unknown>> }>;
    };
    broken.runs[0]!.results[0]!["level"] = "fatal";
    expect(validate(broken)).toBe(false);
    expect(validate({ ...log, version: "2.0.0" })).toBe(false);
  });

  it("is deterministic", () => {
    const { before } = grypeBeforeAfter();
    expect(formatSarif(before)).toBe(formatSarif(before));
  });

  it("links vulnerabilities where they are described", () => {
    expect(
      vulnerabilityUri({ id: "CVE-2023-0286", namespace: "debian:bookworm", dataSource: "debian" }),
    ).toBe("https://security-tracker.debian.org/tracker/CVE-2023-0286");
    expect(vulnerabilityUri({ id: "CVE-2023-0286", namespace: "ubuntu:22.04", dataSource: "osv" })).toBe(
      "https://ubuntu.com/security/CVE-2023-0286",
    );
    expect(vulnerabilityUri({ id: "CVE-2023-0286", namespace: undefined, dataSource: "grype" })).toBe(
      "https://www.cve.org/CVERecord?id=CVE-2023-0286",
    );
    expect(vulnerabilityUri({ id: "SNYK-1", namespace: undefined, dataSource: "trivy" })).toBeUndefined();
  });
});
