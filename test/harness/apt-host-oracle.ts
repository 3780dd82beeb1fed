/**
 * apt itself as the planning oracle, run on the HOST without a chroot: apt-get reads a
 * REAL dpkg status file (from a rootfs built with mmdebstrap) and the same sources, and
 * simulates (`-s`) what it would install. Small on purpose: the image harness's chroot
 * oracle can replace it.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseParagraphs } from "../../src/backends/dpkg/debian/deb822.js";
import type { InstalledPackage, Inventory } from "../../src/inventory/types.js";
import type { OsInfo } from "../../src/os/types.js";
import { run, testCacheDir } from "./apt-support.js";

export interface AptSimulation {
  /** `name` (or `name:arch` for foreign packages) → version apt would install. */
  readonly installs: Map<string, string>;
  /** Packages apt would newly install (no `[old]` on the Inst line). */
  readonly newPackages: Set<string>;
  readonly removals: string[];
  /** apt refused the request (exit status non-zero). */
  readonly failed: boolean;
  readonly output: string;
}

/**
 * A rootfs's dpkg status file built with mmdebstrap from the host's mirror (release suite
 * only, like the bench images), cached under $OCIPATCH_TEST_CACHE.
 */
export async function ensureDpkgStatus(
  name: string,
  suite: string,
  mirror: string,
  include: readonly string[],
  keyring?: string,
): Promise<string> {
  const dir = join(testCacheDir(), "dpkg-status");
  const file = join(dir, `${name}.status`);
  if (existsSync(file)) return file;
  await mkdir(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const cmd = [
    "set -o pipefail;",
    "mmdebstrap --variant=minbase --format=tar --aptopt='Acquire::Languages \"none\"'",
    include.length > 0 ? `--include=${include.join(",")}` : "",
    keyring ? `--keyring=${keyring}` : "",
    `${suite} - "deb ${mirror} ${suite} main"`,
    `| tar -xO ./var/lib/dpkg/status > ${tmp}`,
  ].join(" ");
  await run("bash", ["-c", cmd], { maxBuffer: 64 << 20 });
  await rename(tmp, file);
  return file;
}

/** The installed packages of a dpkg status file, as the dpkg inventory reports them. */
export async function inventoryFromStatus(statusFile: string, os: OsInfo): Promise<Inventory> {
  const text = await readFile(statusFile, "utf8");
  const packages: InstalledPackage[] = [];
  for (const p of parseParagraphs(text, { source: statusFile })) {
    const status = (p.get("Status") ?? "").split(/\s+/);
    if (status[2] !== "installed") continue;
    const name = p.get("Package")!;
    const version = p.get("Version")!;
    const src = /^(\S+)(?:\s*\(([^)]+)\))?$/.exec(p.get("Source") ?? "");
    packages.push({
      name,
      version,
      architecture: p.get("Architecture") ?? "all",
      sourceName: src?.[1] ?? name,
      sourceVersion: src?.[2] ?? version,
      held: status[0] === "hold",
      dbPath: "/var/lib/dpkg/status",
      native: {
        backend: "dpkg",
        selection: status[0] ?? "install",
        multiArch: p.get("Multi-Arch"),
        paragraph: p,
      },
    });
  }
  return { os, packageManager: "dpkg", distroless: false, packages, warnings: [] };
}

export function debianOs(codename: string, versionId: string): OsInfo {
  return {
    id: "debian",
    idLike: [],
    versionId,
    codename,
    prettyName: `Debian GNU/Linux ${versionId} (${codename})`,
    family: "debian",
    source: "/etc/os-release",
  };
}

export function ubuntuOs(codename: string, versionId: string): OsInfo {
  return {
    id: "ubuntu",
    idLike: ["debian"],
    versionId,
    codename,
    prettyName: `Ubuntu ${versionId}`,
    family: "debian",
    source: "/etc/os-release",
  };
}

/**
 * `apt-get update` then `apt-get -s <args>` against a status file and sources lines,
 * isolated from the host's apt configuration (APT_CONFIG sets every directory).
 * Recommends are off, as in copa and the bench baseline (`--no-install-recommends`).
 */
export async function aptSimulate(opts: {
  status: string;
  sources: readonly string[];
  architecture: string;
  /** All architectures (native first) when foreign ones are enabled. */
  architectures?: readonly string[];
  args: readonly string[];
  /** Work directory (default: one per sources list under the test cache). */
  workDir?: string;
}): Promise<AptSimulation> {
  const id = createHash("sha256")
    .update(JSON.stringify([opts.sources, opts.architectures ?? [opts.architecture]]))
    .digest("hex")
    .slice(0, 16);
  const w = opts.workDir ?? join(testCacheDir(), "apt-oracle", id);
  for (const d of ["empty", "lists/partial", "cache/archives/partial", "state", "log"]) {
    await mkdir(join(w, d), { recursive: true });
  }
  await writeFile(join(w, "sources.list"), `${opts.sources.join("\n")}\n`);
  const conf = [
    `Dir::Etc::Parts "${w}/empty";`,
    `Dir::Etc::main "/dev/null";`,
    `Dir::Etc::SourceList "${w}/sources.list";`,
    `Dir::Etc::SourceParts "${w}/empty";`,
    `Dir::Etc::Preferences "/dev/null";`,
    `Dir::Etc::PreferencesParts "${w}/empty";`,
    `Dir::Etc::Trusted "${w}/no-trusted.gpg";`,
    `Dir::Etc::TrustedParts "${w}/empty";`,
    `Dir::State "${w}/state";`,
    `Dir::State::Lists "${w}/lists";`,
    `Dir::State::status "${opts.status}";`,
    `Dir::State::extended_states "${w}/state/extended_states";`,
    `Dir::Cache "${w}/cache";`,
    `Dir::Log "${w}/log";`,
    `APT::Architecture "${opts.architecture}";`,
    `APT::Architectures { ${(opts.architectures ?? [opts.architecture]).map((a) => `"${a}";`).join(" ")} };`,
    `APT::Install-Recommends "false";`,
    `APT::Install-Suggests "false";`,
    `Acquire::Languages "none";`,
    `Debug::NoLocking "true";`,
  ].join("\n");
  await writeFile(join(w, "apt.conf"), `${conf}\n`);
  const env = { ...process.env, APT_CONFIG: join(w, "apt.conf"), LC_ALL: "C" };
  const upd = await run("apt-get", ["update", "-q"], { env, maxBuffer: 64 << 20 });
  if (/^(E:|W: Failed to fetch|Err:)/m.test(`${upd.stdout}${upd.stderr}`)) {
    throw new Error(`apt-get update failed:\n${upd.stdout}${upd.stderr}`);
  }
  let sim: { stdout: string; stderr: string };
  let failed = false;
  try {
    sim = await run("apt-get", ["-s", "-q", ...opts.args], { env, maxBuffer: 64 << 20 });
  } catch (e) {
    // apt refuses (unmet dependencies, held packages): keep its explanation
    const err = e as { stdout?: string; stderr?: string };
    sim = { stdout: err.stdout ?? "", stderr: err.stderr ?? String(e) };
    failed = true;
  }
  const installs = new Map<string, string>();
  const newPackages = new Set<string>();
  const removals: string[] = [];
  for (const line of sim.stdout.split("\n")) {
    const m = /^Inst (\S+) (\[[^\]]+\] )?\((\S+) /.exec(line);
    if (m) {
      installs.set(m[1]!, m[3]!);
      if (!m[2]) newPackages.add(m[1]!);
    }
    const r = /^Remv (\S+)/.exec(line);
    if (r) removals.push(r[1]!);
  }
  return { installs, newPackages, removals, failed, output: `${sim.stdout}${sim.stderr}` };
}
