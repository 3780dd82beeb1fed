import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import type { CliContext } from "../cli/context.js";
import { exitCodesHelp } from "../cli/exit-codes.js";
import { main } from "../cli/main.js";
import { type ErrorCode, EXIT, EXIT_CODES, exitCodeFor, OcipatchError } from "../errors.js";

const ROOT = join(import.meta.dirname, "..", "..");

/** `| 3 | ... | `NOT_FOUND`, `PLATFORM_NOT_FOUND` |` rows of README's "Exit codes" table: code → exit codes. */
function readmeTable(): Map<string, Set<number>> {
  const text = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = text.slice(text.indexOf("## Exit codes"));
  const table = section.slice(0, section.indexOf("\n\n", section.indexOf("\n|")));
  const out = new Map<string, Set<number>>();
  for (const row of table.split("\n").filter((l) => /^\|\s*\d+\s*\|/.test(l))) {
    const cells = row.split("|").map((c) => c.trim());
    const exit = Number(cells[1]);
    for (const [, code] of (cells[3] ?? "").matchAll(/`([A-Z_]+)`/g)) {
      if (!out.has(code!)) out.set(code!, new Set());
      out.get(code!)!.add(exit);
    }
  }
  return out;
}

/** A CLI context whose output is collected. */
function capture(): { ctx: CliContext; stdout: () => string; stderr: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = new PassThrough().on("data", (c: Buffer) => out.push(c.toString()));
  const stderr = new PassThrough().on("data", (c: Buffer) => err.push(c.toString()));
  return { ctx: { env: {}, stdout, stderr }, stdout: () => out.join(""), stderr: () => err.join("") };
}

describe("exit codes", () => {
  it("the classes are the documented ones", () => {
    const byExit = new Map<number, ErrorCode[]>();
    for (const [code, exit] of Object.entries(EXIT_CODES) as [ErrorCode, number][]) {
      byExit.set(exit, [...(byExit.get(exit) ?? []), code]);
    }
    expect(Object.fromEntries([...byExit].map(([k, v]) => [k, v.sort()]))).toEqual({
      1: ["CANCELLED"],
      2: ["REFERENCE_INVALID", "TRANSPORT_UNKNOWN", "USAGE"],
      3: ["NOT_FOUND", "PLATFORM_NOT_FOUND"],
      4: ["AUTH_FAILED"],
      5: ["ENGINE", "NETWORK", "REGISTRY", "TIMEOUT"],
      6: ["DIGEST_MISMATCH", "HOSTILE_LAYER", "INVALID_FORMAT", "SIGNATURE"],
      7: ["RESOLVE"],
      8: ["INTERNAL"],
      9: ["UNSUPPORTED"],
      10: ["IO"],
    });
  });

  it("signals: 130/143 for a run cancelled by SIGINT/SIGTERM, 1 for a cancellation without one", () => {
    const cancelled = (signal?: string) =>
      new OcipatchError("CANCELLED", "x", signal === undefined ? undefined : { details: { signal } });
    expect(exitCodeFor(cancelled("SIGINT"))).toBe(130);
    expect(exitCodeFor(cancelled("SIGTERM"))).toBe(143);
    expect(exitCodeFor(cancelled("SIGHUP"))).toBe(1);
    expect(exitCodeFor(cancelled())).toBe(1);
  });

  it("anything that is not an OcipatchError is 1", () => {
    expect(exitCodeFor(new TypeError("x"))).toBe(1);
    expect(exitCodeFor("x")).toBe(1);
    expect(exitCodeFor(Object.assign(new Error("x"), { code: "USAGE" }))).toBe(1);
  });

  it("README's table lists every error code at its exit code", () => {
    const readme = readmeTable();
    const expected = new Map<string, Set<number>>(
      (Object.entries(EXIT_CODES) as [ErrorCode, number][]).map(([code, exit]) => [code, new Set([exit])]),
    );
    expected.set("CANCELLED", new Set([EXIT.FAILURE, EXIT.SIGINT, EXIT.SIGTERM]));
    expect(readme).toEqual(expected);
  });

  it("--help (root and patch) ends with every exit code", async () => {
    const codes = new Set<number>([...Object.values(EXIT_CODES), ...Object.values(EXIT)]);
    const listed = [...exitCodesHelp().matchAll(/^\s+(\d+)\s/gm)].map((m) => Number(m[1]));
    expect(new Set(listed)).toEqual(codes);
    for (const argv of [["--help"], ["patch", "--help"]]) {
      const c = capture();
      expect(await main(argv, c.ctx)).toBe(0);
      expect(c.stdout()).toContain(exitCodesHelp());
    }
  });

  it("a usage error in the CLI exits 2", async () => {
    const c = capture();
    expect(await main(["patch", "-i", "x", "-s", "severe"], c.ctx)).toBe(2);
    expect(c.stderr()).toBe(
      '[error] the severity threshold must be one of negligible, low, medium, high, critical, got "severe" (--severity-threshold)\n',
    );
  });
});
