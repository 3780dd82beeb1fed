import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * `.catch(() => undefined)` and `.catch(() => {})` swallow every failure. They are allowed only
 * for clean-up (removing or closing something after the real error, draining a body) or with a
 * comment on the same line saying where the failure is observed. Everything else that means
 * "absent is fine" uses `.catch(undefinedIfNotFound)` (src/errors.ts), which re-throws the rest.
 */
const SRC = join(import.meta.dirname, "..");
const SWALLOW = /\.catch\(\(\) => (?:undefined|\{\})\)/;
/** The call being caught is clean-up: `rm(...)`, `fh.close()`, `res.body.dump()`, `it.return(...)`. */
const CLEANUP =
  /\b(?:rm|unlink|close|dump|return|destroy)\((?:[^()]|\([^()]*\))*\)\s*\.catch\(\(\) => (?:undefined|\{\})\)/;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === "__tests__" ? [] : sourceFiles(p);
    return e.name.endsWith(".ts") ? [p] : [];
  });
}

/** `file:line: text` of each swallowing catch that is neither clean-up nor explained. */
function unexplained(file: string, text: string): string[] {
  return text.split("\n").flatMap((line, i) => {
    if (!SWALLOW.test(line) || CLEANUP.test(line) || /\/\/ ./.test(line)) return [];
    return [`${relative(SRC, file)}:${i + 1}: ${line.trim()}`];
  });
}

describe("no catch swallows more than clean-up", () => {
  it("tells clean-up and explained catches from the rest (the check itself)", () => {
    const sample = [
      "await rm(tmp, { force: true }).catch(() => {});",
      "await fh.close().catch(() => undefined);",
      "p.catch(() => undefined); // observed when its turn comes",
      "const st = await stat(target).catch(() => undefined);",
      "const e = await fs.stat(path).catch(undefinedIfNotFound);",
    ].join("\n");
    expect(unexplained(join(SRC, "x.ts"), sample)).toEqual([
      "x.ts:4: const st = await stat(target).catch(() => undefined);",
    ]);
  });

  it("every swallowing catch in src/ is clean-up or says where the failure goes", () => {
    const hits = sourceFiles(SRC).flatMap((f) => unexplained(f, readFileSync(f, "utf8")));
    expect(hits).toEqual([]);
  });
});
