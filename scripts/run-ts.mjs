#!/usr/bin/env node
// Runs a TypeScript script (ESM, type-only syntax) through Vite's module runner, which vitest
// already brings along: `node scripts/run-ts.mjs scripts/foo.ts [args...]`.
import { resolve } from "node:path";
import { runnerImport } from "vite";

const [script, ...rest] = process.argv.slice(2);
if (!script) {
  console.error("usage: node scripts/run-ts.mjs SCRIPT.ts [ARGS...]");
  process.exit(2);
}
process.argv = [process.argv[0], resolve(script), ...rest];
await runnerImport(resolve(script));
