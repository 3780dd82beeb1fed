#!/usr/bin/env node
/**
 * Start-up of the CLI: `ocipatch --version` (the bundled bin/ocipatch) against `node -e 0`, both
 * spawned alternately in the same run, median of N each. Prints the load average beside the
 * numbers: on a busy machine both grow, the difference is what ocipatch adds.
 *
 *   npm run build && node bench/startup.mjs [--runs 10]
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const i = process.argv.indexOf("--runs");
const runs = i === -1 ? 10 : Number(process.argv[i + 1]);
if (!existsSync(join(repo, "dist/cli-bundle/main.cjs"))) throw new Error("run `npm run build` first");
const { version } = JSON.parse(readFileSync(join(repo, "package.json"), "utf8"));

function time(args) {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd: repo, encoding: "utf8" });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) throw new Error(`${args.join(" ")} failed: ${r.stderr}`);
  return { s, out: r.stdout.trim() };
}
const median = (xs) => {
  const a = [...xs].sort((x, y) => x - y);
  return a.length % 2 ? a[(a.length - 1) / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
};

const load = loadavg()
  .map((x) => x.toFixed(2))
  .join(" ");
const node = [];
const cli = [];
for (let k = 0; k < runs; k++) {
  node.push(time(["-e", "0"]).s);
  const v = time([join(repo, "bin/ocipatch"), "--version"]);
  if (v.out !== version) throw new Error(`--version printed "${v.out}", expected ${version}`);
  cli.push(v.s);
}
const n = median(node);
const c = median(cli);
console.log(`| \`node -e 0\` | ${n.toFixed(3)} s |`);
console.log(
  `| \`ocipatch --version\` | ${c.toFixed(3)} s (+${(c - n).toFixed(3)} s, ${(c / n).toFixed(2)}×) |`,
);
console.log(`median of ${runs} each, alternating; load average ${load} (2 cores)`);
