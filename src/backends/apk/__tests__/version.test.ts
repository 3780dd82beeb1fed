import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { VULNDATA } from "../../../vulndb/__tests__/shared-data.js";
import { compareApkVersions, isValidApkVersion } from "../version.js";

const sign = (n: number): number => Math.sign(n);

describe("compareApkVersions", () => {
  // Orderings documented by apk-tools (suffix ranks, leading zeros, letters, revisions).
  const cases: Array<[string, "<" | "=" | ">", string]> = [
    ["1.1", ">", "1.1_alpha1"],
    ["0.1.0_alpha2", ">", "0.1.0_alpha"],
    ["0.1.0_alpha_pre2", "<", "0.1.0_alpha"],
    ["1.3_alpha2", "<", "1.3_alpha3"],
    ["0.8_beta1", "<", "0.8_beta2"],
    ["0.10.0", "<", "0.10.1_rc1"],
    ["2.0.0_rc3-r1", "<", "20040401"],
    ["3.1_p16", "<", "3.1_p17"],
    ["1.0_p10-r0", ">", "1.0_p9-r0"],
    ["4.5_p1-r1", ">", "4.5_p1"],
    ["1.8.5", "<", "1.8.5_p2"],
    ["1.3_pre1-r1", "<", "1.3.2"],
    ["2.9.11_pre20051101-r3", ">", "2.9.11_pre20051101"],
    ["1.0.0_pre20191002222144-r0", "<", "1.0.0_pre20210530193627-r0"],
    ["1.0.4-r3", "<", "1.0.4-r4"],
    ["1.2.2-r1", ">", "1.2.2"],
    ["1.3.5-r10", ">", "1.3.5-r8"],
    ["2.3.0b-r1", "<", "2.3.0b-r2"],
    ["1.7", "<", "1.7b"],
    ["2.5.1-r8", "<", "2.5.1a-r1"],
    ["1.2.1", ">", "1.2"],
    ["1.06-r6", "<", "006"],
    ["0.01", "<", "0.06"],
    ["1.2.07.8", "<", "1.2.12.04"],
    ["1.2.12.04", "<", "1.2.12.05"],
    ["7.0.17", "<", "7.0.174"],
    ["20060720", ">", "3.0.20060720"],
    ["0.2.0-r1", "=", "0.2.0-r1"],
    ["1.2.2_pre2-r0", "<", "1.2.2-r0"],
  ];
  for (const [a, op, b] of cases) {
    it(`${a} ${op} ${b}`, () => {
      const want = op === "<" ? -1 : op === "=" ? 0 : 1;
      expect(sign(compareApkVersions(a, b))).toBe(want);
      expect(sign(compareApkVersions(b, a))).toBe(want === 0 ? 0 : -want);
    });
  }

  it("agrees with dpkg --compare-versions on plain numeric versions (x.y.z-rN ~ x.y.z-N)", () => {
    const arb = fc.tuple(
      fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 4 }),
      fc.integer({ min: 0, max: 12 }),
    );
    const pairs = fc.sample(fc.tuple(arb, arb), { numRuns: 300, seed: 42 });
    // close pairs too: same prefix, different tail
    const head = pairs[0]![0];
    pairs.push([head, [[...head[0], 1], head[1]]], [head, [head[0], head[1] + 1]]);
    const apk = (v: [number[], number]): string => `${v[0].join(".")}-r${v[1]}`;
    const deb = (v: [number[], number]): string => `${v[0].join(".")}-${v[1]}`;
    const script =
      'while read -r a b; do if dpkg --compare-versions "$a" lt "$b"; then echo -1; elif dpkg --compare-versions "$a" eq "$b"; then echo 0; else echo 1; fi; done';
    const input = pairs.map(([a, b]) => `${deb(a)} ${deb(b)}`).join("\n");
    const r = spawnSync("bash", ["-c", script], { input: `${input}\n`, encoding: "utf8" });
    expect(r.status).toBe(0);
    const dpkg = r.stdout.trim().split("\n").map(Number);
    expect(dpkg).toHaveLength(pairs.length);
    pairs.forEach(([a, b], i) => {
      expect([apk(a), apk(b), sign(compareApkVersions(apk(a), apk(b)))]).toEqual([apk(a), apk(b), dpkg[i]]);
    });
  });

  it("is reflexive and antisymmetric on arbitrary apk-shaped versions", () => {
    const part = fc.integer({ min: 0, max: 999 }).map(String);
    const version = fc
      .tuple(
        fc.array(part, { minLength: 1, maxLength: 4 }),
        fc.constantFrom("", "a", "b", "z"),
        fc.constantFrom("", "_alpha", "_beta1", "_pre2", "_rc3", "_p1", "_git20240101", "_cvs"),
        fc.option(fc.integer({ min: 0, max: 30 })),
      )
      .map(([p, l, s, r]) => `${p.join(".")}${l}${s}${r === null ? "" : `-r${r}`}`);
    fc.assert(
      fc.property(version, version, (a, b) => {
        expect(isValidApkVersion(a)).toBe(true);
        expect(compareApkVersions(a, a)).toBe(0);
        expect(sign(compareApkVersions(a, b)) + sign(compareApkVersions(b, a))).toBe(0);
      }),
      { numRuns: 500, seed: 7 },
    );
  });

  it("orders every fixed finding of trivy's Alpine golden report after its installed version", () => {
    const report = JSON.parse(
      readFileSync(join(VULNDATA, "scanner-reports/trivy-golden/alpine-310.json.golden"), "utf8"),
    ) as { Results: Array<{ Vulnerabilities?: Array<{ InstalledVersion: string; FixedVersion?: string }> }> };
    const fixed = report.Results.flatMap((r) => r.Vulnerabilities ?? []).filter((v) => v.FixedVersion);
    expect(fixed.length).toBeGreaterThan(0);
    for (const v of fixed) expect(compareApkVersions(v.InstalledVersion, v.FixedVersion!)).toBeLessThan(0);
  });
});
