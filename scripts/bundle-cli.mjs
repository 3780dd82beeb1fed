// Bundles the CLI (src/cli/main.ts and everything it imports, npm dependencies included) into
// dist/cli-bundle/: one small entry file plus a chunk per command, loaded when that command runs.
// Start-up then reads a few files instead of resolving and compiling hundreds of modules.
// Packages with native binaries stay outside and are required at run time from node_modules.
import { readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = join(root, "dist/cli-bundle");
const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { main: "src/cli/main.ts" },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // native bindings, and @cyclonedx/cyclonedx-library (it reads its schemas relative to __dirname)
  external: ["libsql", "lzma-native", "fzstd", "@cyclonedx/cyclonedx-library"],
  define: { __OCIPATCH_VERSION__: JSON.stringify(version) },
  // CommonJS dependencies call require() for Node's built-ins
  banner: {
    js: 'import { createRequire as __ocipatchRequire } from "node:module"; const require = __ocipatchRequire(import.meta.url);',
  },
  chunkNames: "chunks/[name]-[hash]",
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
  sourcemap: false,
  logLevel: "warning",
});
