import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/**
 * The library never names CLI flags: it throws typed errors with `details.option` (an API
 * name) and the CLI turns option names into flags (src/cli/option-flags.ts). This scans every
 * string the library can show (all string and template literals outside src/cli/ and tests)
 * for flag spellings. Arguments the library passes to a host tool it runs (xz, zstd) are not
 * shown to anyone and are skipped.
 */
const SRC = join(import.meta.dirname, "..");
/** `--flag` anywhere, or a short `-x` standing as a word (`-t `, `(-r)`, `or -r;`). */
const FLAG = /(?:^|[\s("'`[])(--[a-z][a-z0-9-]+|-[a-zA-Z](?=$|[\s,;:.)\]/]))/;
/** Calls whose array arguments are a host tool's argv. */
const SPAWNS = new Set(["hostFilter", "spawn", "spawnSync", "execFile", "execFileSync"]);

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== "__tests__" && relative(SRC, p) !== "cli") out.push(...sourceFiles(p));
    } else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

function isHostToolArgv(node: ts.Node): boolean {
  for (let n: ts.Node | undefined = node.parent; n; n = n.parent) {
    if (ts.isCallExpression(n)) {
      const callee = ts.isPropertyAccessExpression(n.expression) ? n.expression.name : n.expression;
      if (ts.isIdentifier(callee) && SPAWNS.has(callee.text)) return true;
    }
    if (ts.isFunctionLike(n) || ts.isSourceFile(n)) return false;
  }
  return false;
}

/** Every `file:line: text` of a literal in `file` that names a flag. */
function flagSpellings(file: string, text: string): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const hits: string[] = [];
  const visit = (node: ts.Node): void => {
    let literal: string | undefined;
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) literal = node.text;
    else if (ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) {
      literal = node.text;
    }
    if (
      literal !== undefined &&
      !ts.isImportDeclaration(node.parent) &&
      !ts.isExportDeclaration(node.parent)
    ) {
      const m = FLAG.exec(literal);
      if (m && !isHostToolArgv(node)) {
        const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
        hits.push(`${relative(SRC, file)}:${line}: ${m[1]} in ${JSON.stringify(literal)}`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return hits;
}

describe("the library never names CLI flags", () => {
  it("finds flag spellings where they are (the scanner itself)", () => {
    const sample = [
      'throw new OcipatchError("USAGE", "bad value (use --timeout)");',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the source text of a template literal
      "const m = `choose one with -t ${x}`;",
      'hostFilter("xz", ["--decompress", "-c"], "what");',
      'const ok = "a well-known name, not -- a flag";',
    ].join("\n");
    const hits = flagSpellings(join(SRC, "sample.ts"), sample);
    expect(hits.map((h) => h.replace(/^.*?: /, ""))).toEqual([
      '--timeout in "bad value (use --timeout)"',
      '-t in "choose one with -t "',
    ]);
  });

  it("no string outside src/cli/ spells a flag", () => {
    const hits = sourceFiles(SRC).flatMap((f) => flagSpellings(f, readFileSync(f, "utf8")));
    expect(hits).toEqual([]);
  });
});
