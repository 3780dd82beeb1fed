/**
 * Independent oracles the product is checked against: skopeo/umoci to unpack images, the host's
 * dpkg-query to list packages, dpkg and apt (in a chroot of the image, or the host's dpkg/apt with
 * --root/--admindir for foreign architectures and distroless images) to check database health and
 * to decide upgrades exactly as apt would.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { hostArch } from "./build/binfmt.js";
import { hostApt } from "./build/host-apt.js";
import { type ChrootSession, withChroot } from "./chroot.js";
import { HarnessError, output, run } from "./exec.js";
import { makeTempDir, safeRemove, withTempDir } from "./fs.js";
import { type RegistryCreds, skopeoFlags, skopeoRef } from "./skopeo.js";

/** What unpackImage accepts: a TestImage-like value or a reference ("oci:DIR:TAG", "host/repo:tag", "docker://..."). */
type ImageSource = string | { readonly ociRef: string };

interface UnpackOptions {
  /** "linux/arm64" etc.: which entry of an index to unpack (default: the host's). */
  readonly platform?: string;
  readonly creds?: RegistryCreds;
}

interface UnpackedImage {
  /** umoci bundle directory (config.json, umoci.json, rootfs/) */
  readonly bundle: string;
  readonly rootfs: string;
}

/** skopeo copy (verifies every blob) into a temp layout, then umoci unpack into dest (must not exist). */
export async function unpackImage(
  source: ImageSource,
  dest: string,
  opts: UnpackOptions = {},
): Promise<UnpackedImage> {
  const ref = skopeoRef(typeof source === "string" ? source : source.ociRef);
  if (existsSync(dest) && readdirSync(dest).length > 0)
    throw new HarnessError(`unpackImage: ${dest} is not empty`);
  mkdirSync(dirname(dest), { recursive: true });
  const platformFlags: string[] = [];
  if (opts.platform) {
    const [os, arch, variant] = opts.platform.split("/");
    platformFlags.push(`--override-os=${os}`, `--override-arch=${arch}`);
    if (variant) platformFlags.push(`--override-variant=${variant}`);
  }
  await withTempDir("unpack", async (tmp) => {
    const layout = join(tmp, "oci");
    await run("skopeo", [
      "copy",
      "-q",
      ...platformFlags,
      ...skopeoFlags("src", ref, opts.creds),
      ref,
      `oci:${layout}:unpack`,
    ]);
    if (existsSync(dest)) await run("rmdir", [dest]);
    await run("umoci", ["unpack", "--image", `${layout}:unpack`, dest]);
  });
  return { bundle: dest, rootfs: join(dest, "rootfs") };
}

// ---------------------------------------------------------------- dpkg database

/** dpkg-query --showformat strings (dpkg's ${field} syntax, not template literals). */
export const DPKG_FORMAT = {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query format
  list: "-f=${db:Status-Abbrev}\t${binary:Package}\t${Version}\n",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query format
  states: "-f=${db:Status-Abbrev} ${binary:Package}\n",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query format
  arch: "-f=${Architecture}",
} as const;

/** name(:arch, as dpkg-query prints ${binary:Package}) → version, for packages in state "ii". */
export type PackageList = Map<string, string>;

function hasStatusD(rootfs: string): boolean {
  return (
    !existsSync(join(rootfs, "var/lib/dpkg/status")) && existsSync(join(rootfs, "var/lib/dpkg/status.d"))
  );
}

/**
 * A dpkg admindir built from a distroless rootfs's status.d: the paragraphs concatenated into
 * `status`, each `<pkg>.md5sums` placed where dpkg looks for it, and a `<pkg>.list` of the files
 * it names (status.d has no file lists; dpkg --verify walks them and --audit wants them).
 */
function admindirFromStatusD(rootfs: string, dest: string): string {
  const statusD = join(rootfs, "var/lib/dpkg/status.d");
  mkdirSync(join(dest, "info"), { recursive: true });
  mkdirSync(join(dest, "updates"), { recursive: true });
  mkdirSync(join(dest, "triggers"), { recursive: true });
  const paragraphs: string[] = [];
  for (const f of readdirSync(statusD).sort()) {
    if (f.endsWith(".md5sums")) continue;
    const text = readFileSync(join(statusD, f), "utf8").replace(/\n+$/, "");
    paragraphs.push(`${text}\n`);
    const name = /^Package:\s*(\S+)/m.exec(text)?.[1];
    const arch = /^Architecture:\s*(\S+)/m.exec(text)?.[1];
    const multiArchSame = /^Multi-Arch:\s*same\s*$/m.test(text);
    const md5 = join(statusD, `${f}.md5sums`);
    if (name && existsSync(md5)) {
      const base = join(dest, "info", `${name}${multiArchSame ? `:${arch}` : ""}`);
      copyFileSync(md5, `${base}.md5sums`);
      // dpkg --verify walks the file list: distroless keeps none, so list the files md5sums names
      // (regular files only; directories are not verified anyway)
      const files = readFileSync(md5, "utf8")
        .split("\n")
        .map((l) => /^[0-9a-f]{32} [ *]?(.+)$/.exec(l)?.[1])
        .filter((f): f is string => f !== undefined)
        .map((f) => `/${f.replace(/^\.?\//, "")}`);
      writeFileSync(`${base}.list`, files.length ? `${files.join("\n")}\n` : "");
    }
  }
  writeFileSync(join(dest, "status"), paragraphs.join("\n"));
  // multiarch-qualified info file names (libc6:amd64.md5sums), as dpkg >= 1.16 writes them
  writeFileSync(join(dest, "info", "format"), "1\n");
  writeFileSync(join(dest, "available"), "");
  return dest;
}

async function withAdmindir<T>(rootfs: string, fn: (admindir: string) => Promise<T>): Promise<T> {
  if (existsSync(join(rootfs, "var/lib/dpkg/status"))) return fn(join(rootfs, "var/lib/dpkg"));
  if (hasStatusD(rootfs)) return withTempDir("admindir", (tmp) => fn(admindirFromStatusD(rootfs, tmp)));
  throw new HarnessError(`${rootfs} has neither var/lib/dpkg/status nor var/lib/dpkg/status.d`);
}

/** Installed ("ii") packages of a rootfs via the host's dpkg-query (status or status.d). */
export async function dpkgList(rootfs: string): Promise<PackageList> {
  return withAdmindir(rootfs, async (admindir) => {
    const out = await output("dpkg-query", [`--admindir=${admindir}`, "-W", DPKG_FORMAT.list]);
    const list: PackageList = new Map();
    for (const line of out.split("\n")) {
      const [abbrev, name, version] = line.split("\t");
      if (abbrev?.startsWith("ii") && name && version !== undefined) list.set(name, version);
    }
    return new Map([...list].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}

/** Debian architecture of a rootfs (from its dpkg database; base-files is arch-specific). */
async function rootfsArch(rootfs: string): Promise<string> {
  const archFile = join(rootfs, "var/lib/dpkg/arch");
  if (existsSync(archFile)) {
    const first = readFileSync(archFile, "utf8").split("\n")[0]?.trim();
    if (first) return first;
  }
  return withAdmindir(rootfs, (admindir) =>
    output("dpkg-query", [`--admindir=${admindir}`, "-W", DPKG_FORMAT.arch, "base-files"]),
  );
}

// ---------------------------------------------------------------- dpkg health checks

interface AptCheck {
  readonly ok: boolean;
  /** apt-get check output (and the failing apt-get update lines when update failed) */
  readonly output: string;
}

interface DpkgCheckResult {
  /** "chroot": the image's own dpkg/apt in a chroot; "host": host dpkg/apt with --root/--admindir. */
  readonly mode: "chroot" | "host";
  readonly arch: string;
  /** dpkg --audit output; empty when the database is consistent. */
  readonly audit: string;
  /** "<status-abbrev> <package>" for every package not in state ii or rc. */
  readonly badStates: readonly string[];
  /**
   * dpkg --verify output lines (files differing from the packages' md5sums), without the "missing"
   * files the image's dpkg path-exclude filters (debian-slim's docs, man pages...) never installed.
   * Not part of `ok`: a changed conffile is legitimate.
   */
  readonly verify: readonly string[];
  /** how many "missing" lines were dropped because the image's path-exclude filters explain them */
  readonly verifyExcluded: number;
  /** apt-get check after apt-get update with the image's own sources; undefined without apt. */
  readonly apt?: AptCheck;
  readonly ok: boolean;
}

interface DpkgCheckOptions {
  /** Default "auto": chroot for a native rootfs that has dpkg, host tools otherwise. */
  readonly mode?: "auto" | "chroot" | "host";
  /** Run apt-get update + apt-get check (default: when the image has apt and sources). */
  readonly apt?: boolean;
}

function hasAptSources(rootfs: string): boolean {
  const d = join(rootfs, "etc/apt/sources.list.d");
  const list = join(rootfs, "etc/apt/sources.list");
  const listHasDeb = existsSync(list) && /^\s*deb\s/m.test(readFileSync(list, "utf8"));
  return (
    listHasDeb || (existsSync(d) && readdirSync(d).some((f) => f.endsWith(".list") || f.endsWith(".sources")))
  );
}

function aptFailed(updateOutput: string): string[] {
  return updateOutput
    .split("\n")
    .filter((l) => /^(E:|Err:|W: Failed to fetch|W: .*(not signed|NO_PUBKEY|could not be verified))/.test(l));
}

/** Removes what apt-get update/check added below var/lib/apt/lists and var/cache/apt. */
function snapshotAptState(rootfs: string): () => Promise<void> {
  const dirs = ["var/lib/apt/lists", "var/cache/apt"].map((d) => join(rootfs, d));
  const before = new Map(dirs.map((d) => [d, new Set(existsSync(d) ? readdirSync(d) : [])]));
  return async () => {
    for (const [d, names] of before) {
      if (!existsSync(d)) continue;
      for (const n of readdirSync(d))
        if (!names.has(n)) await run("rm", ["-rf", "--one-file-system", join(d, n)]);
    }
  };
}

/**
 * dpkg --audit, package states, dpkg --verify and apt-get check (after apt-get update with the
 * image's own sources). Leaves the rootfs as it was (apt lists it downloads are removed again).
 */
export async function dpkgChecks(rootfs: string, opts: DpkgCheckOptions = {}): Promise<DpkgCheckResult> {
  const arch = await rootfsArch(rootfs);
  const native = arch === (await hostArch()) || arch === "all";
  const hasDpkg = existsSync(join(rootfs, "usr/bin/dpkg"));
  const mode =
    opts.mode === "chroot" || opts.mode === "host" ? opts.mode : native && hasDpkg ? "chroot" : "host";
  if (mode === "chroot" && !hasDpkg)
    throw new HarnessError(`dpkgChecks: ${rootfs} has no dpkg to chroot into`);
  const wantApt = opts.apt ?? (existsSync(join(rootfs, "usr/bin/apt-get")) && hasAptSources(rootfs));
  const restoreApt = snapshotAptState(rootfs);
  try {
    if (mode === "chroot") {
      return await withChroot(rootfs, async (c) => {
        const audit = (await c.run(["dpkg", "--audit"], { okCodes: [0, 1] })).stdout.trim();
        const states = (await c.run(["dpkg-query", "-W", DPKG_FORMAT.states])).stdout;
        const verify = (await c.run(["dpkg", "--verify"], { okCodes: [0, 1] })).stdout;
        let apt: AptCheck | undefined;
        if (wantApt) {
          try {
            await aptUpdateInChroot(c);
            const chk = await c.run(["apt-get", "check", "-q"], { okCodes: [0, 100] });
            apt = { ok: chk.code === 0, output: `${chk.stdout}${chk.stderr}`.trim() };
          } catch (e) {
            apt = { ok: false, output: (e as Error).message };
          }
        }
        return result("chroot", arch, audit, states, verify, apt, rootfs);
      });
    }
    return await withAdmindir(rootfs, async (admindir) => {
      const dpkgRoot = [`--root=${rootfs}`, `--admindir=${admindir}`];
      const audit = (await run("dpkg", [...dpkgRoot, "--audit"], { okCodes: [0, 1] })).stdout.trim();
      const states = await output("dpkg-query", [`--admindir=${admindir}`, "-W", DPKG_FORMAT.states]);
      const verify = (await run("dpkg", [...dpkgRoot, "--verify"], { okCodes: [0, 1] })).stdout;
      let apt: AptCheck | undefined;
      if (wantApt) apt = await hostAptCheck(rootfs, admindir, arch);
      return result("host", arch, audit, states, verify, apt, rootfs);
    });
  } finally {
    await restoreApt();
  }
}

/** The dpkg path-exclude/path-include filters configured in a rootfs, in dpkg's reading order. */
function dpkgPathFilters(rootfs: string): Array<{ include: boolean; pattern: RegExp }> {
  const files = [join(rootfs, "etc/dpkg/dpkg.cfg")];
  const dir = join(rootfs, "etc/dpkg/dpkg.cfg.d");
  if (existsSync(dir))
    files.push(
      ...readdirSync(dir)
        .sort()
        .map((f) => join(dir, f)),
    );
  const filters: Array<{ include: boolean; pattern: RegExp }> = [];
  for (const f of files) {
    if (!existsSync(f) || !statSync(f).isFile()) continue;
    for (const line of readFileSync(f, "utf8").split("\n")) {
      const m = /^\s*(?:--)?path-(exclude|include)[=\s]\s*(\S+)/.exec(line);
      if (m) filters.push({ include: m[1] === "include", pattern: globToRegExp(m[2]!) });
    }
  }
  return filters;
}

/** fnmatch(3) without FNM_PATHNAME, as dpkg uses it: `*` also matches "/". */
function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end < 0) re += "\\[";
      else {
        re += `[${glob
          .slice(i + 1, end)
          .replace(/^!/, "^")
          .replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

function isPathExcluded(path: string, filters: Array<{ include: boolean; pattern: RegExp }>): boolean {
  let excluded = false;
  for (const f of filters) if (f.pattern.test(path)) excluded = !f.include;
  return excluded;
}

function result(
  mode: "chroot" | "host",
  arch: string,
  audit: string,
  states: string,
  verify: string,
  apt: AptCheck | undefined,
  rootfs: string,
): DpkgCheckResult {
  const badStates = states
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !/^(ii|rc)\s/.test(l));
  const filters = dpkgPathFilters(rootfs);
  const all = verify.split("\n").filter(Boolean);
  // dpkg >= 1.21 says "missing", older ones "??5??????", for a file a path-exclude kept out
  const verifyLines = all.filter((l) => {
    const path = /^\S+\s+(?:c\s+)?(\/.*)$/.exec(l)?.[1];
    return !(path && isPathExcluded(path, filters) && !existsSync(join(rootfs, path)));
  });
  return {
    mode,
    arch,
    audit,
    badStates,
    verify: verifyLines,
    verifyExcluded: all.length - verifyLines.length,
    ...(apt ? { apt } : {}),
    ok: audit === "" && badStates.length === 0 && (apt?.ok ?? true),
  };
}

/** apt-get update + check with the host's apt, the image's sources and dpkg status (no emulation). */
async function hostAptCheck(rootfs: string, admindir: string, arch: string): Promise<AptCheck> {
  return withTempDir("aptcheck", async (tmp) => {
    const apt = hostApt(tmp, "", arch);
    await run("cp", [
      "-a",
      "--no-preserve=ownership",
      `${join(rootfs, "etc/apt")}/.`,
      `${join(tmp, "etc/apt")}/`,
    ]);
    copyFileSync(join(admindir, "status"), join(tmp, "var/lib/dpkg/status"));
    try {
      await apt.update();
    } catch (e) {
      return { ok: false, output: `apt-get update failed: ${(e as Error).message}` };
    }
    try {
      return { ok: true, output: (await apt.run("apt-get", ["check", "-q"])).trim() };
    } catch (e) {
      return { ok: false, output: (e as Error).message };
    }
  });
}

/** Throws a HarnessError listing every problem of a failed dpkgChecks result. */
export function assertDpkgHealthy(r: DpkgCheckResult, what = "image"): void {
  if (r.ok) return;
  const problems: string[] = [];
  if (r.audit) problems.push(`dpkg --audit:\n${r.audit}`);
  if (r.badStates.length) problems.push(`packages not in ii/rc state: ${r.badStates.join(", ")}`);
  if (r.apt && !r.apt.ok) problems.push(`apt-get check:\n${r.apt.output}`);
  throw new HarnessError(`dpkg checks failed for ${what} (${r.mode}, ${r.arch}):\n${problems.join("\n")}`);
}

// ---------------------------------------------------------------- apt as the upgrade oracle

interface AptDecision {
  readonly name: string;
  readonly arch: string;
  /** undefined for a new install */
  readonly oldVersion?: string;
  readonly newVersion: string;
  /** suites (as named in the image's sources, e.g. "bullseye-security") that offer newVersion */
  readonly suites: readonly string[];
  /** apt's own release description from the Inst line, e.g. "Debian-Security:11/oldstable-security" */
  readonly release: string;
}

interface AptOracleResult {
  readonly upgrades: readonly AptDecision[];
  readonly installs: readonly AptDecision[];
  /** packages apt would remove */
  readonly removals: readonly string[];
  /** the apt-get command that was simulated */
  readonly command: readonly string[];
  /** full simulate output */
  readonly simulation: string;
}

type AptOracleMode = "all" | { readonly packages: readonly string[] };

interface AptOracleOptions {
  readonly mode: AptOracleMode;
  /** Pass --no-install-recommends (default true, as the baseline patcher and copa do). */
  readonly noRecommends?: boolean;
}

const INST = /^Inst (\S+) (?:\[([^\]]+)\] )?\((\S+) (.*) \[([^\]]+)\]\)/;
const REMV = /^Remv (\S+)/;

/** Parses `apt-get -s` output plus `apt-cache madison` output into decisions. */
function parseSimulation(
  simulation: string,
  madison: string,
): Omit<AptOracleResult, "command" | "simulation"> {
  const suitesOf = new Map<string, Set<string>>();
  for (const line of madison.split("\n")) {
    const parts = line.split("|").map((p) => p.trim());
    if (parts.length < 3) continue;
    const [name, version, where] = parts as [string, string, string];
    const suite = where.split(/\s+/)[1]?.split("/")[0];
    if (!suite) continue;
    const key = `${name}=${version}`;
    if (!suitesOf.has(key)) suitesOf.set(key, new Set());
    suitesOf.get(key)!.add(suite);
  }
  const upgrades: AptDecision[] = [];
  const installs: AptDecision[] = [];
  const removals: string[] = [];
  for (const line of simulation.split("\n")) {
    const m = INST.exec(line);
    if (m) {
      const [, name, oldVersion, newVersion, release, arch] = m as unknown as [
        string,
        string,
        string | undefined,
        string,
        string,
        string,
      ];
      const bare = name.split(":")[0]!;
      const d: AptDecision = {
        name,
        arch,
        ...(oldVersion ? { oldVersion } : {}),
        newVersion,
        suites: [...(suitesOf.get(`${bare}=${newVersion}`) ?? [])].sort(),
        release,
      };
      (oldVersion ? upgrades : installs).push(d);
      continue;
    }
    const r = REMV.exec(line);
    if (r) removals.push(r[1]!);
  }
  return { upgrades, installs, removals };
}

/** Copies a rootfs (ownership, modes, xattrs, hard links kept) to a fresh temp dir. */
async function copyRootfs(rootfs: string, label: string): Promise<{ dir: string; rootfs: string }> {
  const dir = makeTempDir(label);
  const copy = join(dir, "rootfs");
  await run("cp", ["-a", "--reflink=auto", rootfs, copy]);
  return { dir, rootfs: copy };
}

async function aptUpdateInChroot(c: ChrootSession): Promise<void> {
  const upd = await c.run(["apt-get", "update", "-q"], { okCodes: [0, 100] });
  const failed = aptFailed(`${upd.stdout}\n${upd.stderr}`);
  if (upd.code !== 0 || failed.length > 0) {
    throw new HarnessError(
      `apt-get update in the image failed:\n${(failed.join("\n") || upd.stderr).slice(0, 4000)}`,
    );
  }
  // no sources at all is not an error for apt, but it is here
  if (!readdirSync(join(c.rootfs, "var/lib/apt/lists")).some((f) => f.endsWith("_Packages"))) {
    throw new HarnessError(`apt-get update in ${c.rootfs} fetched no Packages index (no usable sources?)`);
  }
}

function simulateArgs(o: AptOracleOptions): string[] {
  const rec = o.noRecommends === false ? [] : ["--no-install-recommends"];
  if (o.mode === "all") return ["apt-get", "-s", ...rec, "dist-upgrade"];
  return ["apt-get", "-s", ...rec, "install", "--only-upgrade", ...o.mode.packages];
}

/**
 * What apt itself would upgrade: with the image's own sources (security and updates included),
 * apt-get update, then `apt-get -s dist-upgrade` (mode "all") or `apt-get -s install --only-upgrade
 * PKGS`. Native rootfs: the image's apt in a chroot of a COPY of the rootfs. Foreign architecture
 * (arm64 on amd64): the host's apt for that architecture with the image's sources and dpkg status,
 * which simulates without running anything from the image (no emulation). The rootfs is not modified.
 */
export async function aptUpgradeOracle(rootfs: string, opts: AptOracleOptions): Promise<AptOracleResult> {
  const command = simulateArgs(opts);
  const decide = async (apt: (argv: readonly string[]) => Promise<string>): Promise<AptOracleResult> => {
    const simulation = await apt(command);
    const names = [...new Set([...simulation.matchAll(/^Inst (\S+)/gm)].map((m) => m[1]!.split(":")[0]!))];
    const madison = names.length ? await apt(["apt-cache", "madison", ...names]) : "";
    return { ...parseSimulation(simulation, madison), command, simulation };
  };
  const arch = await rootfsArch(rootfs);
  if (arch !== (await hostArch())) {
    return withTempDir("apt-oracle-host", async (tmp) => {
      const apt = hostApt(tmp, "", arch);
      await run("cp", [
        "-a",
        "--no-preserve=ownership",
        `${join(rootfs, "etc/apt")}/.`,
        `${join(tmp, "etc/apt")}/`,
      ]);
      copyFileSync(join(rootfs, "var/lib/dpkg/status"), join(tmp, "var/lib/dpkg/status"));
      await apt.update();
      return decide(([tool, ...args]) => apt.run(tool as "apt-get" | "apt-cache", args));
    });
  }
  const copy = await copyRootfs(rootfs, "apt-oracle");
  try {
    return await withChroot(copy.rootfs, async (c) => {
      await aptUpdateInChroot(c);
      return decide(async (argv) => (await c.run(argv)).stdout);
    });
  } finally {
    await safeRemove(copy.dir);
  }
}

/** Decisions whose new version comes from a security suite (what copa/the baseline patch). */
export function securityUpgrades(r: AptOracleResult): AptDecision[] {
  return r.upgrades.filter((d) => d.suites.some((s) => /-security$|\/updates$/.test(s)));
}

interface AptInstallOptions {
  /** "all": dist-upgrade; "security": every upgrade offered by a security suite; or explicit packages. */
  readonly packages: "all" | "security" | readonly string[];
  /** Upgrade the given rootfs itself instead of a temp copy (default false). */
  readonly inPlace?: boolean;
}

interface AptInstallResult {
  readonly before: PackageList;
  readonly after: PackageList;
  /** name → {from, to} for every package whose version changed */
  readonly changed: ReadonlyMap<string, { readonly from?: string; readonly to?: string }>;
  readonly targets: readonly string[];
  readonly log: string;
}

/**
 * The REAL upgrade with apt in a chroot (apt-get install --only-upgrade --no-install-recommends with
 * --force-confdef/--force-confold, as the baseline patcher does); returns the dpkg lists before and
 * after. Downloaded lists and .debs are cleaned afterwards.
 */
export async function aptInstallUpgrades(rootfs: string, opts: AptInstallOptions): Promise<AptInstallResult> {
  const copy = opts.inPlace ? undefined : await copyRootfs(rootfs, "apt-install");
  const root = copy?.rootfs ?? rootfs;
  const restoreApt = snapshotAptState(root);
  try {
    const before = await dpkgList(root);
    const { targets, log } = await withChroot(root, async (c) => {
      await aptUpdateInChroot(c);
      let targets: string[];
      if (opts.packages === "all") targets = [];
      else if (opts.packages === "security") {
        const sim = (await c.run(["apt-get", "-s", "--no-install-recommends", "dist-upgrade"])).stdout;
        const names = [...new Set([...sim.matchAll(/^Inst (\S+)/gm)].map((m) => m[1]!.split(":")[0]!))];
        const madison = names.length ? (await c.run(["apt-cache", "madison", ...names])).stdout : "";
        const parsed = parseSimulation(sim, madison);
        targets = securityUpgrades({ ...parsed, command: [], simulation: sim }).map((d) => d.name);
      } else targets = [...opts.packages];
      const dpkgOpts = ["-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"];
      let log = "";
      if (opts.packages === "all") {
        log = (await c.run(["apt-get", "dist-upgrade", "-y", "-q", "--no-install-recommends", ...dpkgOpts]))
          .stdout;
      } else if (targets.length > 0) {
        log = (
          await c.run([
            "apt-get",
            "install",
            "-y",
            "-q",
            "--only-upgrade",
            "--no-install-recommends",
            ...dpkgOpts,
            ...targets,
          ])
        ).stdout;
      }
      await c.run(["apt-get", "clean"]);
      return { targets, log };
    });
    const after = await dpkgList(root);
    const changed = new Map<string, { from?: string; to?: string }>();
    for (const name of new Set([...before.keys(), ...after.keys()])) {
      const from = before.get(name);
      const to = after.get(name);
      if (from !== to) changed.set(name, { ...(from ? { from } : {}), ...(to ? { to } : {}) });
    }
    return { before, after, changed, targets, log };
  } finally {
    await restoreApt();
    if (copy) await safeRemove(copy.dir);
  }
}
