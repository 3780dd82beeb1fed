// Bundles the CLI (src/cli/main.ts and everything it imports, npm dependencies included) into
// dist/cli-bundle/: one small entry file plus a chunk per command, loaded when that command runs.
// Start-up then reads a few files instead of resolving and compiling hundreds of modules.
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
  entryPoints: { main: "src/cli/main.ts" },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // native bindings, and @cyclonedx/cyclonedx-library (it reads its schemas relative to __dirname)
  external: ["libsql", "lzma-native", "koffi", "fzstd", "@cyclonedx/cyclonedx-library"],
  define: {
    __OCIPATCH_VERSION__: JSON.stringify(version),
    __OCIPATCH_BUILD_ID__: JSON.stringify(buildId()),
  },
  // CommonJS dependencies call require() for Node's built-ins
  banner: {
    js: 'import { createRequire as __ocipatchRequire } from "node:module"; const require = __ocipatchRequire(import.meta.url);',
  },
  plugins: [lean],
  chunkNames: "chunks/[name]-[hash]",
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
  sourcemap: false,
  logLevel: "warning",
});
