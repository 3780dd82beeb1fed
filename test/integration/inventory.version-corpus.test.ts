/**
 * Debian version comparison against dpkg itself, on real versions: the Packages
 * indices of bullseye, bookworm, trixie and their -security suites from the host's
 * mirror (cached under $OCIPATCH_TEST_CACHE). At least 10,000 pairs, with the tricky
 * classes (epochs, "~", "+", same upstream with different revisions, one package
 * across suites) represented; every pair is compared with `dpkg --compare-versions`.
 */
import { execFileSync, spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { compareDebianVersions, parseDebianVersion } from "../../src/backends/dpkg/debian/version.js";
import { cachedDownload, hostMirrors } from "./inventory.mirror.js";

const SUITES = ["bullseye", "bookworm", "trixie"];

/** Versions per package, per index (binary Version and Source versions). */
async function loadIndex(url: string): Promise<Map<string, Set<string>>> {
  const file = await cachedDownload(url, "version-corpus");
  const text = execFileSync("xz", ["-dc", file], { maxBuffer: 1024 * 1024 * 1024, encoding: "utf8" });
  const out = new Map<string, Set<string>>();
  const add = (p: string, v: string) => {
    const s = out.get(p);
    if (s) s.add(v);
    else out.set(p, new Set([v]));
  };
  let pkg = "";
  for (const line of text.split("\n")) {
    if (line.startsWith("Package: ")) pkg = line.slice(9).trim();
    else if (line.startsWith("Version: ")) add(pkg, line.slice(9).trim());
    else if (line.startsWith("Source: ")) {
      const m = /^Source: (\S+) \((\S+)\)/.exec(line);
      if (m) add(`src:${m[1]}`, m[2]!);
    }
  }
  return out;
}

/** Small deterministic PRNG (mulberry32) so the drawn pairs are the same on every run. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** dpkg's verdict for each pair: "<", "=" or ">" (parallel shells, one dpkg per test). */
async function dpkgCompare(pairs: Array<[string, string]>, workers = 4): Promise<string[]> {
  const script =
    'while IFS="\t" read -r a b; do if dpkg --compare-versions "$a" lt "$b"; then echo "<"; ' +
    'elif dpkg --compare-versions "$a" eq "$b"; then echo "="; else echo ">"; fi; done';
  const chunk = Math.ceil(pairs.length / workers);
  const parts = await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const slice = pairs.slice(w * chunk, (w + 1) * chunk);
      return new Promise<string[]>((resolve, reject) => {
        const p = spawn("bash", ["-c", script], { stdio: ["pipe", "pipe", "inherit"] });
        let out = "";
        p.stdout.setEncoding("utf8").on("data", (d: string) => {
          out += d;
        });
        p.on("error", reject);
        p.on("close", (code) => {
          const lines = out.split("\n").filter(Boolean);
          if (code !== 0 || lines.length !== slice.length)
            reject(new Error(`dpkg worker ${w}: exit ${code}, ${lines.length}/${slice.length} answers`));
          else resolve(lines);
        });
        p.stdin.end(slice.map(([a, b]) => `${a}\t${b}\n`).join(""));
      });
    }),
  );
  return parts.flat();
}

describe("compareDebianVersions against dpkg --compare-versions", () => {
  it("agrees on >= 10,000 real version pairs from bullseye, bookworm, trixie and -security", {
    timeout: 900_000,
  }, async () => {
    const m = hostMirrors();
    const urls = SUITES.flatMap((s) => [
      `${m.debian}/dists/${s}/main/binary-amd64/Packages.xz`,
      `${m.security}/dists/${s}-security/main/binary-amd64/Packages.xz`,
    ]);
    const indices = await Promise.all(urls.map(loadIndex));

    const byPackage = new Map<string, Set<string>>();
    for (const idx of indices)
      for (const [p, vs] of idx) {
        const s = byPackage.get(p) ?? new Set<string>();
        byPackage.set(p, s);
        for (const v of vs) s.add(v);
      }
    const all = [...new Set([...byPackage.values()].flatMap((s) => [...s]))].sort();
    expect(all.length).toBeGreaterThan(50_000);
    const random = rng(20240601);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;

    const pairs = new Map<string, [string, string]>();
    const classes: Record<string, number> = {};
    const add = (cls: string, a: string, b: string) => {
      const key = `${a}\t${b}`;
      if (a === b || pairs.has(key)) return;
      pairs.set(key, [a, b]);
      classes[cls] = (classes[cls] ?? 0) + 1;
    };

    // 1. the same package across suites (what a patcher compares: installed vs fixed)
    const multi = [...byPackage.entries()].filter(([, s]) => s.size > 1).map(([, s]) => [...s].sort());
    for (let i = 0; i < 5000; i++) {
      const vs = pick(multi);
      add("same-package", pick(vs), pick(vs));
    }
    // 2. epochs, against other versions of the same package and against anything
    const epoch = all.filter((v) => /^\d+:/.test(v));
    for (let i = 0; i < 1500; i++) add("epoch", pick(epoch), i % 2 ? pick(epoch) : pick(all));
    // 3. tildes: against the version with the ~part removed, and against neighbours
    const tilde = all.filter((v) => v.includes("~"));
    for (let i = 0; i < 1500; i++) {
      const v = pick(tilde);
      add("tilde", v, v.replace(/~[^-]*$/, "").replace(/~[^-]*(?=-)/, ""));
      add("tilde", v, pick(tilde));
    }
    // 4. plus signs (+debNuM, +dfsg, +b1 binNMUs)
    const plus = all.filter((v) => v.includes("+"));
    for (let i = 0; i < 1500; i++) add("plus", pick(plus), pick(plus));
    // 5. same upstream, different Debian revisions
    const byUpstream = new Map<string, string[]>();
    for (const v of all) {
      const u = `${parseDebianVersion(v).epoch}:${parseDebianVersion(v).upstream}`;
      const l = byUpstream.get(u);
      if (l) l.push(v);
      else byUpstream.set(u, [v]);
    }
    const revs = [...byUpstream.values()].filter((l) => l.length > 1);
    for (let i = 0; i < 1500; i++) {
      const l = pick(revs);
      add("same-upstream", pick(l), pick(l));
    }
    // 6. neighbours in our own order (near-equal versions) and fully random pairs
    const sample = Array.from({ length: 2000 }, () => pick(all));
    sample.sort(compareDebianVersions);
    for (let i = 1; i < sample.length; i++) add("neighbours", sample[i - 1]!, sample[i]!);
    for (let i = 0; i < 2000; i++) add("random", pick(all), pick(all));

    const list = [...pairs.values()];
    expect(list.length).toBeGreaterThanOrEqual(10_000);
    for (const cls of ["same-package", "epoch", "tilde", "plus", "same-upstream", "neighbours", "random"])
      expect(classes[cls] ?? 0, cls).toBeGreaterThan(500);

    const verdicts = await dpkgCompare(list);
    const mismatches: string[] = [];
    list.forEach(([a, b], i) => {
      const c = compareDebianVersions(a, b);
      const ours = c < 0 ? "<" : c === 0 ? "=" : ">";
      if (ours !== verdicts[i]) mismatches.push(`${a} ${verdicts[i]} ${b} (ocipatch said ${ours})`);
    });
    console.log(
      `version corpus: ${list.length} pairs (${JSON.stringify(classes)}), ${mismatches.length} mismatches`,
    );
    expect(mismatches).toEqual([]);
  });
});
