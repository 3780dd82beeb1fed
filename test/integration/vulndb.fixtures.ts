/**
 * Test fixtures for the vulnerability database and scanner: REAL dpkg inventories
 * (the host's, and a bullseye rootfs built with mmdebstrap from the mirror) and
 * expectations computed independently of ocipatch (JSON.parse of the tracker
 * data and `dpkg --compare-versions`).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Paragraph } from "../../src/backends/dpkg/debian/deb822.js";
import type { InstalledPackage, Inventory } from "../../src/inventory/types.js";
import type { OsInfo } from "../../src/os/types.js";

const REPO = join(import.meta.dirname, "../..");
/** ../shared of the checkout (worktrees live one level deeper), or $OCIPATCH_SHARED. */
const SHARED =
  [process.env["OCIPATCH_SHARED"], join(REPO, "../shared"), join(REPO, "../../shared"), "/work/shared"].find(
    (p): p is string => p !== undefined && existsSync(join(p, "vulndata")),
  ) ?? join(REPO, "../shared");
export const VULNDATA = join(SHARED, "vulndata");
export const TRACKER_SUBSET = join(VULNDATA, "debian/tracker-subset.json");
const CACHE = join(process.env["OCIPATCH_TEST_CACHE"] ?? "/var/cache/ocipatch-test", "vulndb");

export function tempDir(prefix = "ocipatch-vulndb-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** The host's Debian mirror, from its own apt sources (tests may read them; src/ never does). */
function hostDebianMirror(): string {
  const uris: string[] = [];
  const dir = "/etc/apt/sources.list.d";
  if (existsSync(dir)) {
    for (const f of readdirSync(dir)) {
      if (!f.endsWith(".sources")) continue;
      for (const m of readFileSync(join(dir, f), "utf8").matchAll(/^URIs:\s*(\S+)/gm)) uris.push(m[1]!);
    }
  }
  if (existsSync("/etc/apt/sources.list")) {
    for (const m of readFileSync("/etc/apt/sources.list", "utf8").matchAll(
      /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)/gm,
    )) {
      uris.push(m[1]!);
    }
  }
  const mirror = uris.find((u) => /\/debian\/?$/.test(u));
  if (!mirror) throw new Error("no Debian mirror in the host's apt sources");
  return mirror.replace(/\/$/, "");
}

/** os-release → OsInfo (test-side parser, independent of the image reader). */
export function readOsRelease(path: string): OsInfo {
  const fields = new Map<string, string>();
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) fields.set(m[1]!, m[2]!.replace(/^"(.*)"$/, "$1"));
  }
  return {
    id: fields.get("ID") ?? "unknown",
    idLike: (fields.get("ID_LIKE") ?? "").split(/\s+/).filter(Boolean),
    versionId: fields.get("VERSION_ID"),
    codename: fields.get("VERSION_CODENAME"),
    prettyName: fields.get("PRETTY_NAME"),
    family: "debian",
    source: path,
  };
}

interface DpkgRow {
  name: string;
  version: string;
  sourceName: string;
  sourceVersion: string;
  architecture: string;
}

const DPKG_FIELDS = [
  "Package",
  "Version",
  "source:Package",
  "source:Version",
  "Architecture",
  "db:Status-Abbrev",
];

/** Installed packages of a dpkg database, as dpkg-query itself reports them. */
export function dpkgQuery(admindir: string): DpkgRow[] {
  const out = execFileSync(
    "dpkg-query",
    [`--admindir=${admindir}`, "-W", `-f=${DPKG_FIELDS.map((f) => `\${${f}}`).join("\\t")}\\n`],
    { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
  );
  const rows: DpkgRow[] = [];
  for (const line of out.split("\n")) {
    if (!line) continue;
    const [name, version, sourceName, sourceVersion, architecture, status] = line.split("\t");
    if (status?.[1] !== "i") continue; // installed only
    rows.push({
      name: name!,
      version: version!,
      sourceName: sourceName!,
      sourceVersion: sourceVersion!,
      architecture: architecture!,
    });
  }
  return rows;
}

export function inventoryFromDpkg(admindir: string, osReleasePath: string): Inventory {
  const packages: InstalledPackage[] = dpkgQuery(admindir).map((r) => {
    const record = new Paragraph();
    record.set("Package", r.name);
    record.set("Version", r.version);
    record.set("Architecture", r.architecture);
    return {
      name: r.name,
      version: r.version,
      architecture: r.architecture,
      sourceName: r.sourceName,
      sourceVersion: r.sourceVersion,
      held: false,
      dbPath: "/var/lib/dpkg/status",
      native: { backend: "dpkg", selection: "install", multiArch: undefined, paragraph: record },
    };
  });
  return {
    os: readOsRelease(osReleasePath),
    packageManager: "dpkg",
    distroless: false,
    packages,
    warnings: [],
  };
}

/** `dpkg --compare-versions a lt b` for many pairs in one shell (real dpkg). */
function dpkgLessThan(pairs: ReadonlyArray<readonly [string, string]>): boolean[] {
  if (pairs.length === 0) return [];
  // many binaries share a source: ask dpkg once per distinct pair
  const distinct = [...new Set(pairs.map(([a, b]) => `${a} ${b}`))];
  const answers = new Map<string, boolean>();
  const results = dpkgLessThanDistinct(distinct);
  for (const [i, p] of distinct.entries()) answers.set(p, results[i]!);
  return pairs.map(([a, b]) => answers.get(`${a} ${b}`)!);
}

function dpkgLessThanDistinct(pairs: readonly string[]): boolean[] {
  const input = pairs.join("\n");
  const script =
    'while read -r a b; do if dpkg --compare-versions "$a" lt "$b"; then echo 1; else echo 0; fi; done';
  const r = spawnSync("bash", ["-c", script], {
    input: `${input}\n`,
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`dpkg --compare-versions failed: ${r.stderr}`);
  const out = r.stdout.trim().split("\n");
  if (out.length !== pairs.length) throw new Error(`expected ${pairs.length} answers, got ${out.length}`);
  return out.map((x) => x === "1");
}

/** A finding as the test computes it. */
export interface ExpectedFinding {
  id: string;
  package: string;
  architecture: string;
  installedVersion: string;
  fixedVersion: string;
  sourceName: string;
}

type Tracker = Record<
  string,
  Record<string, { releases: Record<string, { status: string; fixed_version?: string }> | unknown[] }>
>;

/**
 * Expected findings of a dpkg inventory against tracker JSON data: every
 * (source package, CVE) whose release entry is `resolved` with a fixed version
 * other than "0" and `dpkg --compare-versions <source version> lt <fixed>`.
 * (tracker-subset.json has only resolved entries.)
 */
export function expectedFromTracker(
  trackerPath: string,
  rows: readonly DpkgRow[],
  release: string,
): ExpectedFinding[] {
  const tracker = JSON.parse(readFileSync(trackerPath, "utf8")) as Tracker;
  const candidates: Array<{ row: DpkgRow; id: string; fixed: string }> = [];
  for (const row of rows) {
    const entries = Object.hasOwn(tracker, row.sourceName) ? tracker[row.sourceName]! : undefined;
    if (!entries) continue;
    for (const [id, entry] of Object.entries(entries)) {
      if (Array.isArray(entry.releases)) continue;
      const rel = (entry.releases as Record<string, { status: string; fixed_version?: string }>)[release];
      if (rel?.status !== "resolved" || !rel.fixed_version || rel.fixed_version === "0") continue;
      candidates.push({ row, id, fixed: rel.fixed_version });
    }
  }
  const lt = dpkgLessThan(candidates.map((c) => [c.row.sourceVersion, c.fixed] as const));
  return candidates
    .filter((_, i) => lt[i])
    .map((c) => ({
      id: c.id,
      package: c.row.name,
      architecture: c.row.architecture,
      installedVersion: c.row.version,
      fixedVersion: c.fixed,
      sourceName: c.row.sourceName,
    }));
}

/**
 * A bullseye rootfs's dpkg database (bullseye MAIN only, as of 11.11), built once with
 * mmdebstrap from the host's mirror and cached: returns {admindir, osRelease}.
 */
export function bullseyeDpkgDb(): { admindir: string; osRelease: string } {
  const dir = join(CACHE, "bullseye-minbase-openssl-curl");
  const admindir = join(dir, "dpkg");
  const osRelease = join(dir, "os-release");
  if (existsSync(join(admindir, "status")) && existsSync(osRelease)) return { admindir, osRelease };
  const work = tempDir("ocipatch-mmdebstrap-");
  const rootfs = join(work, "rootfs");
  try {
    execFileSync(
      "mmdebstrap",
      [
        "--variant=minbase",
        "--include=openssl,curl,ca-certificates",
        "bullseye",
        rootfs,
        `deb ${hostDebianMirror()} bullseye main`,
      ],
      { stdio: ["ignore", "ignore", "pipe"], timeout: 15 * 60_000 },
    );
    mkdirSync(admindir, { recursive: true });
    copyFileSync(join(rootfs, "var/lib/dpkg/status"), join(admindir, "status"));
    copyFileSync(join(rootfs, "etc/os-release"), osRelease);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { admindir, osRelease };
}

/** Run jq (an independent JSON tool) and parse its output. */
export function jq(filter: string, file: string): unknown {
  return JSON.parse(
    execFileSync("jq", ["-c", filter, file], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 }),
  );
}

/** Run the CLI in-process with captured output. */
export async function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { main } = await import("../../src/cli/main.js");
  const { PassThrough } = await import("node:stream");
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
  out.on("data", (c: Buffer) => chunks.out.push(c));
  err.on("data", (c: Buffer) => chunks.err.push(c));
  const code = await main(args, { stdout: out, stderr: err, env: { ...process.env, ...env } });
  return {
    code,
    stdout: Buffer.concat(chunks.out).toString("utf8"),
    stderr: Buffer.concat(chunks.err).toString("utf8"),
  };
}
