import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareRpmVersions, formatEvr, parseEvr, rpmvercmp } from "../version.js";

const sign = (n: number): number => Math.sign(n);

/** `rpm.vercmp(a, b)` of the real rpm for every pair, in ONE rpm invocation. */
function rpmOracle(pairs: ReadonlyArray<readonly [string, string]>): number[] {
  const dir = mkdtempSync(join(tmpdir(), "ocipatch-rpmvercmp-"));
  try {
    const file = join(dir, "pairs");
    writeFileSync(file, pairs.map(([a, b]) => `${a}\t${b}\n`).join(""));
    const lua = `%{lua: for line in io.lines("${file}") do local a, b = line:match("^(.-)\\t(.*)$"); io.write(rpm.vercmp(a, b), "\\n") end}`;
    const r = spawnSync("rpm", ["--eval", lua], { encoding: "utf8", maxBuffer: 64 << 20 });
    expect(r.error).toBeUndefined();
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const out = r.stdout.split("\n").filter((l) => l !== "");
    expect(out).toHaveLength(pairs.length);
    return out.map(Number);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("rpmvercmp", () => {
  // Orderings from rpm's own test-suite descriptions of the algorithm.
  const cases: Array<[string, "<" | "=" | ">", string]> = [
    ["1.0", "=", "1.0"],
    ["1.0", "<", "2.0"],
    ["2.0.1", ">", "2.0"],
    ["5.5p1", "<", "5.5p2"],
    ["5.5p10", ">", "5.5p1"],
    ["10xyz", "<", "10.1xyz"],
    ["xyz10", "<", "xyz10.1"],
    ["1.0aa", ">", "1.0a"],
    ["10b2", ">", "10a1"],
    ["1.0", ">", "1.0~rc1"],
    ["1.0~rc1", "<", "1.0~rc2"],
    ["1.0~rc1~git123", "<", "1.0~rc1"],
    ["1.0^", ">", "1.0"],
    ["1.0^git1", "<", "1.0.1"],
    ["1.0^git1~pre", "<", "1.0^git1"],
    ["1.0^20160101", ">", "1.0"],
    ["1.0^", ">", "1.0~"],
    ["010", "=", "10"],
    ["1_0", "=", "1.0"],
    ["a", "<", "1"],
    ["2a", "<", "2.0"],
  ];
  for (const [a, op, b] of cases) {
    it(`${a} ${op} ${b}`, () => {
      const want = op === "<" ? -1 : op === "=" ? 0 : 1;
      expect(sign(rpmvercmp(a, b))).toBe(want);
      expect(sign(rpmvercmp(b, a))).toBe(want === 0 ? 0 : -want);
    });
  }
});

describe("EVR", () => {
  it("splits epoch, version and release as rpm does", () => {
    expect(parseEvr("1:2.3-4.el9")).toEqual({ epoch: "1", version: "2.3", release: "4.el9" });
    expect(parseEvr("2.3")).toEqual({ epoch: undefined, version: "2.3", release: undefined });
    expect(parseEvr(":2-1-1")).toEqual({ epoch: "0", version: "2-1", release: "1" });
    expect(parseEvr("a:1")).toEqual({ epoch: undefined, version: "a:1", release: undefined });
    expect(formatEvr(parseEvr("3:1.0-1"))).toBe("3:1.0-1");
  });

  it("orders epoch before version before release", () => {
    expect(compareRpmVersions("1:1.0-1", "2.0-1")).toBeGreaterThan(0);
    expect(compareRpmVersions("0:1.0-1", "1.0-1")).toBe(0);
    expect(compareRpmVersions("1.0-2.el9", "1.0-10.el9")).toBeLessThan(0);
    expect(compareRpmVersions("1.0", "1.0-1")).toBeLessThan(0);
  });
});

describe("agrees with the real rpm (rpm.vercmp)", () => {
  // Pieces that exercise every branch: numbers (with leading zeros), letters, separators,
  // tilde, caret, and the EVR delimiters ':' and '-'.
  const piece = fc.constantFrom(
    "0",
    "00",
    "1",
    "01",
    "2",
    "9",
    "10",
    "123456789012345678901234567890",
    "a",
    "b",
    "Z",
    "rc",
    "el9",
    "git",
    ".",
    "_",
    "+",
    "~",
    "^",
    "-",
    ":",
    "é",
  );
  const version = fc.array(piece, { minLength: 1, maxLength: 8 }).map((p) => p.join(""));
  const mutate = (v: string, k: number, extra: string): string => v.slice(0, k % (v.length + 1)) + extra;

  it("on a generated corpus of 3000 pairs, including near-equal ones", () => {
    const pairs: Array<[string, string]> = fc.sample(fc.tuple(version, version), {
      numRuns: 1500,
      seed: 1404,
    });
    // Near pairs: a shared prefix with different tails decides most real comparisons.
    const near = fc.sample(fc.tuple(version, fc.nat(), fc.array(piece, { maxLength: 3 })), {
      numRuns: 1500,
      seed: 1405,
    });
    for (const [v, k, tail] of near) pairs.push([v, mutate(v, k, tail.join(""))]);
    const usable = pairs.filter(([a, b]) => a !== "" && b !== "");
    const want = rpmOracle(usable);
    const got = usable.map(([a, b]) => sign(compareRpmVersions(a, b)));
    const diffs = usable.map((p, i) => [...p, got[i], want[i]]).filter((d) => d[2] !== d[3]);
    expect(diffs).toEqual([]);
  });
});
