/**
 * The bundled CLI (dist/cli-bundle, scripts/bundle-cli.mjs): `--version` loads only a small
 * entry and what it imports statically, each command still runs from its own chunk, and the
 * bundle prints the package's version.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, REPO_ROOT, runBin } from "../harness/cli.js";

const ENTRY = join(REPO_ROOT, "dist/cli-bundle/main.js");
const { version } = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string };

/** Files loaded by importing `file`, following static `import ... from "./x.js"` only. */
function staticClosure(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  const src = readFileSync(file, "utf8");
  for (const m of src.matchAll(
    /(?:^|[;}\n])\s*(?:import|export)\s*(?:[^"'();]*?\sfrom\s*)?["'](\.[^"']+)["']/g,
  )) {
    staticClosure(resolve(dirname(file), m[1]!), seen);
  }
  return seen;
}

beforeAll(async () => {
  await ensureBuilt();
}, 600_000);

describe("bundled CLI start-up", () => {
  it("`--version` loads a few small files, none of a command's code", () => {
    const files = [...staticClosure(ENTRY)];
    const bytes = files.reduce((n, f) => n + statSync(f).size, 0);
    expect(files.length).toBeLessThanOrEqual(8);
    expect(bytes).toBeLessThan(150_000);
    // commands are dynamic imports of their own chunks
    const entry = readFileSync(ENTRY, "utf8");
    for (const cmd of ["patch", "scan", "sbom", "db", "copy", "inspect"]) {
      expect(entry).toMatch(new RegExp(`import\\("\\./chunks/${cmd}-[A-Z0-9]+\\.js"\\)`));
      expect(files.some((f) => f.includes(`/${cmd}-`))).toBe(false);
    }
  });

  it("no command loads OpenPGP before it reads a key or signature (its own chunk, imported then)", () => {
    const chunks = join(REPO_ROOT, "dist/cli-bundle/chunks");
    const openpgp = readdirSync(chunks).filter((f) => /^openpgp-[A-Z0-9]+\.js$/.test(f));
    expect(openpgp).toHaveLength(1);
    for (const cmd of ["patch", "scan", "sbom", "db", "copy", "inspect"]) {
      const chunk = readdirSync(chunks).find((f) => f.startsWith(`${cmd}-`));
      expect(chunk, cmd).toBeDefined();
      const files = [...staticClosure(join(chunks, chunk!))].map((f) => basename(f));
      expect({ cmd, files }).not.toEqual({ cmd, files: expect.arrayContaining(openpgp) });
    }
  });

  it("prints the package's version", async () => {
    const r = await runBin(["--version"]);
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(r.stdout.trim()).toBe(version);
  });

  it("every command loads from the bundle (its --help runs)", async () => {
    for (const cmd of ["patch", "scan", "sbom", "db", "copy", "inspect"]) {
      const r = await runBin([cmd, "--help"]);
      expect({ cmd, code: r.code, stderr: r.stderr }).toEqual({ cmd, code: 0, stderr: "" });
      expect(r.stdout).toContain(`Usage: ocipatch ${cmd}`);
    }
  });
});
