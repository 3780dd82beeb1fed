/**
 * A real RPM world built with Debian's rpm tools, offline: `rpmbuild` packages from SPECS,
 * a repository from `createrepo_c`, and an installed root from `dnf --installroot` (sqlite
 * rpmdb at /var/lib/rpm, as RHEL 9 has it). See README.md for the quirks this works around.
 */
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { output, run } from "../exec.js";
import { SPECS, type SpecFile, UPDATED_SPECS } from "./specs.js";

/** Query format of the oracle: one line per installed package. */
export const QA_FORMAT = "%{NAME} %{EPOCH}:%{VERSION}-%{RELEASE} %{ARCH} %{SOURCERPM}\\n";

/**
 * Environment for rpm/dnf: Debian's rpm keeps its database in ~/.rpmdb (a Debian patch), so HOME
 * points at a directory whose .rpmmacros puts it where RPM distributions have it.
 */
export function rpmEnv(dir: string): NodeJS.ProcessEnv {
  const home = join(dir, "home");
  mkdirSync(home, { recursive: true });
  writeFileSync(join(home, ".rpmmacros"), "%_dbpath /var/lib/rpm\n");
  return { ...process.env, HOME: home, LC_ALL: "C.UTF-8" };
}

/**
 * Build every spec with rpmbuild under `dir`; returns the .rpm paths. `defines` are extra
 * `--define` macros ("_binary_payload w6.xzdio").
 */
export async function buildRpms(
  dir: string,
  specs: readonly SpecFile[] = SPECS,
  defines: readonly string[] = [],
): Promise<string[]> {
  const top = join(dir, "rpmbuild");
  mkdirSync(join(dir, "specs"), { recursive: true });
  for (const s of specs) {
    const file = join(dir, "specs", `${s.name}.spec`);
    writeFileSync(file, s.text);
    const extra = defines.flatMap((d) => ["--define", d]);
    await run(
      "rpmbuild",
      ["-bb", "--quiet", "--define", `_topdir ${top}`, "--define", "dist .el9", ...extra, file],
      {
        env: rpmEnv(dir),
        logFile: join(dir, `rpmbuild-${s.name}.log`),
      },
    );
  }
  const rpms: string[] = [];
  for (const arch of readdirSync(join(top, "RPMS"))) {
    for (const f of readdirSync(join(top, "RPMS", arch))) rpms.push(join(top, "RPMS", arch, f));
  }
  return rpms.sort();
}

export interface RpmWorld {
  /** Directory of the repository (repodata/ inside). */
  readonly repo: string;
  /** The installed root (database at <root>/var/lib/rpm/rpmdb.sqlite). */
  readonly root: string;
  readonly rpms: readonly string[];
  readonly env: NodeJS.ProcessEnv;
}

/**
 * Packages, repository and an installed root under `dir`. `install` names what dnf installs
 * (dependencies resolved by dnf); `importKey` adds a gpg-pubkey pseudo-package as `rpm --import` does.
 */
export async function buildRpmWorld(
  dir: string,
  opts: { install?: readonly string[]; importKey?: boolean; specs?: readonly SpecFile[] } = {},
): Promise<RpmWorld> {
  const env = rpmEnv(dir);
  const built = await buildRpms(dir, opts.specs ?? SPECS);
  const repo = join(dir, "repo");
  mkdirSync(repo, { recursive: true });
  for (const f of built) await run("cp", [f, repo]);
  await run("createrepo_c", ["--quiet", repo]);
  const root = join(dir, "root");
  await runDnf(root, `file://${repo}`, "install", { env, dir, names: opts.install ?? ["hello", "tool"] });
  if (opts.importKey) {
    const gh = join(dir, "gnupg");
    mkdirSync(gh, { recursive: true, mode: 0o700 });
    const gpg = ["--batch", "--quiet", "--homedir", gh];
    await run("gpg", [
      ...gpg,
      "--passphrase",
      "",
      "--quick-gen-key",
      "ocipatch test <test@example.invalid>",
      "ed25519",
      "sign",
      "never",
    ]);
    const key = join(dir, "key.asc");
    writeFileSync(key, await output("gpg", [...gpg, "--armor", "--export"]));
    await run("rpm", ["--root", root, "--import", key], { env });
  }
  return { repo, root, rpms: built, env };
}

/**
 * The second repository state: `specs` (default UPDATED_SPECS) built into `<dir>/repo` with
 * createrepo_c, and a copy of the world's root at `<dir>/root` upgraded from it by
 * `dnf --installroot … upgrade`, as `dnf upgrade` in the image would have done.
 */
export async function upgradedRoot(
  world: RpmWorld,
  dir: string,
  specs: readonly SpecFile[] = UPDATED_SPECS,
): Promise<{ repo: string; root: string }> {
  const built = await buildRpms(dir, specs);
  const repo = join(dir, "repo");
  mkdirSync(repo, { recursive: true });
  for (const f of built) await run("cp", [f, repo]);
  await run("createrepo_c", ["--quiet", repo]);
  const root = join(dir, "root");
  await run("cp", ["-a", world.root, root]);
  await runDnf(root, `file://${repo}`, "upgrade", { env: world.env, dir });
  return { repo, root };
}

/**
 * `dnf --installroot root install|upgrade [names…]` from the one repository at `baseurl` (gpgcheck
 * off), as dnf in the image would do it; its repos.d and log go under `dir`.
 */
export async function runDnf(
  root: string,
  baseurl: string,
  command: "install" | "upgrade",
  opts: { readonly env: NodeJS.ProcessEnv; readonly dir: string; readonly names?: readonly string[] },
): Promise<void> {
  const reposd = join(opts.dir, `${command}.repos.d`);
  mkdirSync(reposd, { recursive: true });
  writeFileSync(join(reposd, "local.repo"), `[local]\nname=local\nbaseurl=${baseurl}\ngpgcheck=0\n`);
  await run(
    "dnf",
    [
      "-y",
      "--installroot",
      root,
      "--releasever",
      "9",
      `--setopt=reposdir=${reposd}`,
      "--setopt=cachedir=/var/cache/dnf",
      "--disableplugin=*",
      command,
      ...(opts.names ?? []),
    ],
    { env: opts.env, logFile: join(opts.dir, `dnf-${command}.log`) },
  );
}

/** "name [epoch:]version-release arch" of every installed package but gpg-pubkey, sorted (as dnf lists them). */
export async function rpmNevras(root: string, env: NodeJS.ProcessEnv): Promise<string[]> {
  const out = await output(
    "rpm",
    ["--root", root, "-qa", "--qf", "%{NAME} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE} %{ARCH}\\n"],
    { env },
  );
  return out
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("gpg-pubkey "))
    .sort();
}

/**
 * The oracle: `rpm --root R -qa` with QA_FORMAT (or another query format), lines sorted.
 * `bdbRoot`: query that root's Berkeley DB `Packages` instead (rpm's read-only bdb backend).
 */
export async function rpmQueryAll(world: RpmWorld, format = QA_FORMAT, bdbRoot?: string): Promise<string[]> {
  const args =
    bdbRoot === undefined ? ["--root", world.root] : ["--root", bdbRoot, "--define", "_db_backend bdb_ro"];
  const out = await output("rpm", [...args, "-qa", "--qf", format], { env: world.env });
  return out
    .split("\n")
    .filter((l) => l !== "")
    .sort();
}

/** `rpm -qp --qf FORMAT FILE` of one package file. */
export async function rpmQueryFile(
  world: Pick<RpmWorld, "env">,
  file: string,
  format: string,
): Promise<string> {
  return output("rpm", ["-qp", "--qf", format, file], { env: world.env });
}
