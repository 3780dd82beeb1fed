/**
 * Test helper: real .debs from the host's Debian mirror (and Ubuntu's official
 * archive), resolved through the suite's Packages index and cached on disk
 * (`$OCIPATCH_TEST_CACHE`, default /var/cache/ocipatch-test). Tests only.
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import type { FetchedPackage } from "../../src/backends/types.js";
import type { Inventory } from "../../src/inventory/types.js";

const CACHE_DIR = process.env["OCIPATCH_TEST_CACHE"] ?? "/var/cache/ocipatch-test";
const DEB_CACHE = join(CACHE_DIR, "debs");
const UBUNTU_ARCHIVE = "http://archive.ubuntu.com/ubuntu";

/** The mirror URIs this machine's apt uses: { debian, security }. */
function hostMirrors(): { debian: string; security: string } {
  const uris: string[] = [];
  const dir = "/etc/apt/sources.list.d";
  for (const f of existsSync(dir) ? readdirSync(dir) : []) {
    if (!f.endsWith(".sources")) continue;
    for (const m of readFileSync(join(dir, f), "utf8").matchAll(/^URIs:\s*(\S+)/gm)) uris.push(m[1]!);
  }
  if (existsSync("/etc/apt/sources.list")) {
    for (const m of readFileSync("/etc/apt/sources.list", "utf8").matchAll(
      /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)/gm,
    )) {
      uris.push(m[1]!);
    }
  }
  const debian = uris.find((u) => /\/debian\/?$/.test(u));
  const security = uris.find((u) => /-security\/?$/.test(u));
  if (!debian || !security) throw new Error("cannot find the Debian mirror in /etc/apt sources");
  return { debian: debian.replace(/\/$/, ""), security: security.replace(/\/$/, "") };
}

function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, "_");
}

function download(url: string, dest: string): void {
  // unique per download: test files running in parallel may fetch the same file at once, and a
  // shared temporary name would let one curl write into the file another has already renamed
  const tmp = `${dest}.${process.pid}.${randomBytes(4).toString("hex")}.part`;
  execFileSync("curl", ["-fsSL", "--retry", "3", "-o", tmp, url], { stdio: ["ignore", "ignore", "pipe"] });
  renameSync(tmp, dest);
}

interface PackageRecord {
  readonly name: string;
  readonly version: string;
  readonly filename: string;
  readonly sha256: string;
  readonly size: number;
  /** The raw paragraph text from the index. */
  readonly text: string;
}

const indexCache = new Map<string, string>();

/** The uncompressed Packages index of base/dists/suite/component/binary-arch (cached). */
function packagesIndex(base: string, suite: string, component = "main", arch = "amd64"): string {
  const key = `${base} ${suite} ${component} ${arch}`;
  const hit = indexCache.get(key);
  if (hit) return hit;
  const dir = join(CACHE_DIR, "indices");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, slug(`${base}_${suite}_${component}_${arch}_Packages`));
  if (!existsSync(file)) {
    const xz = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.xz`;
    download(`${base}/dists/${suite}/${component}/binary-${arch}/Packages.xz`, xz);
    execFileSync("sh", ["-c", `xz -dc "$1" > "$1.txt" && mv "$1.txt" "$2" && rm -f "$1"`, "sh", xz, file]);
  }
  const text = readFileSync(file, "utf8");
  indexCache.set(key, text);
  return text;
}

function field(text: string, name: string): string | undefined {
  const m = new RegExp(`^${name}: (.*)$`, "m").exec(text);
  return m?.[1];
}

/** Every record for a package in an index (usually one). */
function findRecords(index: string, name: string): PackageRecord[] {
  const out: PackageRecord[] = [];
  for (const text of index.split("\n\n")) {
    if (!text.startsWith(`Package: ${name}\n`)) continue;
    out.push({
      name,
      version: field(text, "Version")!,
      filename: field(text, "Filename")!,
      sha256: field(text, "SHA256")!,
      size: Number(field(text, "Size")),
      text,
    });
  }
  return out;
}

export interface CachedDeb extends PackageRecord {
  readonly path: string;
}

/** Download (once) and return a .deb from base/suite, its hash checked independently. */
function fetchDeb(base: string, suite: string, name: string, component = "main", arch = "amd64"): CachedDeb {
  const recs = findRecords(packagesIndex(base, suite, component, arch), name);
  const rec = recs[recs.length - 1];
  if (!rec) throw new Error(`${name} not found in ${base} ${suite}/${component}`);
  mkdirSync(DEB_CACHE, { recursive: true });
  const path = join(DEB_CACHE, slug(rec.filename.split("/").pop()!));
  const ok = (): boolean =>
    existsSync(path) && createHash("sha256").update(readFileSync(path)).digest("hex") === rec.sha256;
  if (!ok()) {
    download(`${base}/${rec.filename}`, path);
    if (!ok()) throw new Error(`downloaded ${rec.filename} does not match the index`);
  }
  return { ...rec, path };
}

/** A Debian package from the host mirror: suite "bookworm", "bullseye", "bookworm-security"... */
export function debianDeb(suite: string, name: string): CachedDeb {
  const m = hostMirrors();
  return fetchDeb(suite.endsWith("-security") ? m.security : m.debian, suite, name);
}

/** A package from Ubuntu's official amd64 archive (zstd-compressed members since 21.10). */
export function ubuntuDeb(suite: string, name: string): CachedDeb {
  return fetchDeb(UBUNTU_ARCHIVE, suite, name);
}

/**
 * A minimal Debian chroot (mmdebstrap minbase) as a tarball, built once from
 * the host mirror and cached. Extract it per test to get a real dpkg to compare with.
 */
export function chrootTarball(suite = "bookworm"): string {
  const tarball = join(CACHE_DIR, `chroot-${suite}-minbase.tar`);
  if (existsSync(tarball)) return tarball;
  mkdirSync(CACHE_DIR, { recursive: true });
  const partial = join(
    CACHE_DIR,
    `chroot-${suite}-minbase.${process.pid}.${randomBytes(4).toString("hex")}.partial.tar`,
  );
  execFileSync(
    "mmdebstrap",
    [
      "--variant=minbase",
      "--mode=root",
      "--quiet",
      suite,
      partial,
      `deb ${hostMirrors().debian} ${suite} main`,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  renameSync(partial, tarball);
  return tarball;
}

/**
 * The patch layer builder's input for a downloaded .deb: it upgrades the image's copy of the package
 * when the inventory has one (with that copy's architecture), else it is a new package (amd64).
 */
export function fetchedDeb(inventory: Inventory, deb: Pick<CachedDeb, "name" | "path">): FetchedPackage {
  const installed = inventory.packages.find((p) => p.name === deb.name);
  return { package: deb.name, architecture: installed?.architecture ?? "amd64", path: deb.path, installed };
}
