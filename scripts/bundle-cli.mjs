// Bundles the CLI (src/cli/main.ts and everything it imports, npm dependencies included) into
// ONE CommonJS file, dist/cli-bundle/main.cjs, which bin/ocipatch compiles with V8's code cache
// (src/cli/code-cache.ts): start-up reads one file and, from the second run of a command on,
// neither parses it nor compiles the functions that command calls. A command's modules are still
// evaluated only when it runs (esbuild keeps each dynamic import a lazily run module).
// Packages with native binaries stay outside and are required at run time from node_modules.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = join(root, "dist/cli-bundle");
const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

/**
 * Only what the CLI uses of two dependencies whose entry points load much more: undici (see
 * scripts/undici-lean.cjs) and zod's error messages in every language (`z.locales`; English,
 * the one used, is imported by zod's schemas directly). Every run parses what is bundled.
 */
const lean = {
  name: "ocipatch-lean",
  setup(b) {
    b.onResolve({ filter: /^undici$/ }, () => ({ path: join(root, "scripts/undici-lean.cjs") }));
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) =>
      args.importer.includes("/node_modules/zod/")
        ? { path: "zod-locales", namespace: "ocipatch-lean" }
        : undefined,
    );
    b.onLoad({ filter: /^zod-locales$/, namespace: "ocipatch-lean" }, () => ({
      contents: 'export { default as en } from "zod/v4/locales/en.js";',
      resolveDir: root,
      loader: "js",
    }));
  },
};

/**
 * Names this build of the CLI: a hash of what the bundle is made of (the sources, the locked
 * dependencies, this script). The cache of built layers keeps a layer only for the build that made it.
 */
function buildId() {
  const files = ["package-lock.json", "scripts/bundle-cli.mjs", "scripts/undici-lean.cjs"];
  for (const e of readdirSync(join(root, "src"), { recursive: true, withFileTypes: true })) {
    const rel = join(e.parentPath.slice(root.length + 1), e.name);
    if (e.isFile() && rel.endsWith(".ts") && !rel.includes("__tests__")) files.push(rel);
  }
  const h = createHash("sha256");
  for (const f of files.sort())
    h.update(`${f}\0`)
      .update(readFileSync(join(root, f)))
      .update("\0");
  return h.digest("hex");
}

rmSync(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ["src/cli/main.ts"],
  outfile: join(outdir, "main.cjs"),
  bundle: true,
  format: "cjs",
  // every import() a require(): the bundle is compiled as a script, which has no module loader
  supported: { "dynamic-import": false },
  platform: "node",
  target: "node20",
  // native bindings, and @cyclonedx/cyclonedx-library (it reads its schemas relative to __dirname)
  external: ["libsql", "lzma-native", "koffi", "fzstd", "@cyclonedx/cyclonedx-library"],
  define: {
    __OCIPATCH_VERSION__: JSON.stringify(version),
    __OCIPATCH_BUILD_ID__: JSON.stringify(buildId()),
    // the sources are ES modules; in the bundle, their URL is the bundle's
    "import.meta.url": "__ocipatchModuleUrl",
  },
  // strict, as the ES modules it is made of are
  banner: {
    js: '"use strict";var __ocipatchModuleUrl=require("node:url").pathToFileURL(__filename).href;',
  },
  plugins: [lean],
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
  sourcemap: false,
  logLevel: "warning",
});
