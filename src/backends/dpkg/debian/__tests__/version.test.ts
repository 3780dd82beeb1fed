import { execFileSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  compareDebianVersions,
  isValidDebianVersion,
  parseDebianVersion,
  satisfiesRelation,
} from "../version.js";

/** dpkg's verdicts for many pairs in one shell ("<", "=", ">"). */
function dpkg(pairs: Array<[string, string]>): string[] {
  const script =
    'while IFS="\t" read -r a b; do if dpkg --compare-versions "$a" lt "$b"; then echo "<"; ' +
    'elif dpkg --compare-versions "$a" eq "$b"; then echo "="; else echo ">"; fi; done';
  return execFileSync("bash", ["-c", script], {
    input: pairs.map(([a, b]) => `${a}\t${b}\n`).join(""),
    encoding: "utf8",
    stdio: ["pipe", "pipe", "ignore"],
  })
    .split("\n")
    .filter(Boolean);
}

const sign = (c: number) => (c < 0 ? "<" : c === 0 ? "=" : ">");

describe("compareDebianVersions", () => {
  const table: Array<[string, string]> = [
    ["1.0", "1.0-0"],
    ["1.0~rc1", "1.0"],
    ["1.0~~", "1.0~"],
    ["1.0~", "1.0"],
    ["1.0", "1.0+b1"],
    ["1.0-1", "1.0-1+deb11u1"],
    ["1.0-1+deb11u1", "1.0-1+deb12u1"],
    ["1.1.1n-0+deb11u4", "1.1.1n-0+deb11u5"],
    ["1:1.0", "2.0"],
    ["0:1.0", "1.0"],
    ["1.0a", "1.0"],
    ["1.0.", "1.0"],
    ["1.00", "1.0"],
    ["1.010", "1.9"],
    ["2.36-9+deb12u4", "2.36-9+deb12u10"],
    ["3.0.11-1~deb12u2", "3.0.11-1"],
    ["1.2.3-1ubuntu0.1", "1.2.3-1"],
    ["1.2.3-1ubuntu0.22.04.1", "1.2.3-1ubuntu0.20.04.1"],
    ["7.88.1-10+deb12u5", "7.88.1-10+deb12u12"],
    ["1:9.18.24-1", "1:9.18.28-1~deb12u2"],
  ];
  it("matches dpkg on a table of tricky pairs", () => {
    const verdicts = dpkg(table);
    table.forEach(([a, b], i) => {
      expect(`${a} ${sign(compareDebianVersions(a, b))} ${b}`).toBe(`${a} ${verdicts[i]} ${b}`);
    });
  });

  it("matches dpkg on random versions built from the policy alphabet", () => {
    const part = fc.stringMatching(/^[0-9][0-9a-z.+~]{0,6}$/);
    const rev = fc.stringMatching(/^[0-9a-z.+~]{1,5}$/);
    const version = fc
      .tuple(fc.option(fc.constantFrom("0", "1", "2", "10")), part, fc.option(rev))
      .map(([e, u, r]) => `${e === null ? "" : `${e}:`}${u}${r === null ? "" : `-${r}`}`);
    const pairs = fc.sample(fc.tuple(version, version), { numRuns: 400, seed: 42 });
    // include near-equal pairs: a version against a small mutation of itself
    for (const [a] of pairs.slice(0, 100)) pairs.push([a, `${a}~`], [a, `${a}.0`], [a, `${a}+`]);
    const verdicts = dpkg(pairs);
    const bad = pairs.filter(([a, b], i) => sign(compareDebianVersions(a, b)) !== verdicts[i]);
    expect(bad).toEqual([]);
  });

  it("is antisymmetric and reflexive", () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[0-9][0-9A-Za-z.+~]{0,8}(-[0-9A-Za-z.+~]{1,6})?$/),
        fc.stringMatching(/^[0-9][0-9A-Za-z.+~]{0,8}$/),
        (a, b) => {
          expect(compareDebianVersions(a, a)).toBe(0);
          // `+ 0` folds -0 into 0: equal versions give 0 both ways, and Object.is(0, -0) is false
          expect(Math.sign(compareDebianVersions(a, b)) + 0).toBe(
            -Math.sign(compareDebianVersions(b, a)) + 0,
          );
        },
      ),
    );
  });

  it("parses epoch, upstream and revision", () => {
    expect(parseDebianVersion("1:2.3-4-5")).toEqual({ epoch: 1, upstream: "2.3-4", revision: "5" });
    expect(parseDebianVersion("2.3")).toEqual({ epoch: 0, upstream: "2.3", revision: "" });
    expect(() => parseDebianVersion("a:1")).toThrow(/epoch/);
    expect(() => parseDebianVersion("1 2")).toThrow(/invalid/);
    expect(isValidDebianVersion("1:2.3-4")).toBe(true);
    expect(satisfiesRelation("1.0-1", ">=", "1.0~rc1")).toBe(true);
    expect(satisfiesRelation("1.0-1", "<<", "1.0-1")).toBe(false);
  });
});
