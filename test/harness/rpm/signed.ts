/**
 * Two signed repository states for the rpm planner and fetcher: packages signed by rpmsign with a
 * fresh gpg key, repomd.xml signed with `gpg --detach-sign --armor`, an installed root made by
 * `dnf --installroot` from state 1, and state 2 (the fixes, a new dependency, an obsoleting package)
 * ready to be served over loopback HTTP.
 */
import { copyFileSync, mkdirSync, readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { output, run } from "../exec.js";
import { buildRpms, rpmEnv, rpmNevras, runDnf } from "./repo.js";
import { SPECS, type SpecFile, UPDATED_SPECS } from "./specs.js";

/** A package that state 2 renames: `newtool` obsoletes it. */
const OLDTOOL: SpecFile = {
  name: "oldtool",
  text: `Name: oldtool
Version: 1.0
Release: 1
Summary: renamed to newtool in the second state
License: MIT
BuildArch: noarch
%description
oldtool
%install
mkdir -p %{buildroot}/usr/share/oldtool
echo old > %{buildroot}/usr/share/oldtool/data
%files
/usr/share/oldtool
`,
};

const NEWTOOL: SpecFile = {
  name: "newtool",
  text: `Name: newtool
Version: 2.0
Release: 1
Summary: replaces oldtool
License: MIT
BuildArch: noarch
Obsoletes: oldtool < 2.0
Provides: oldtool = 2.0-1
%description
newtool
%install
mkdir -p %{buildroot}/usr/share/newtool
echo new > %{buildroot}/usr/share/newtool/data
%files
/usr/share/newtool
`,
};

/** A dependency new in state 2 (hello 1.0 requires it). */
const HELLODATA: SpecFile = {
  name: "hellodata",
  text: `Name: hellodata
Version: 1.1
Release: 1
Summary: data hello 1.0 needs
License: MIT
BuildArch: noarch
%description
hellodata
%install
mkdir -p %{buildroot}/usr/share/hellodata
echo data > %{buildroot}/usr/share/hellodata/greeting
%files
/usr/share/hellodata
`,
};

/** A distribution's release package, as almalinux-release provides dnf's `$releasever`. */
const RELEASE: SpecFile = {
  name: "testdist-release",
  text: `Name: testdist-release
Version: 9.4
Release: 1.el9
Summary: release package (dnf reads $releasever from its provides)
License: MIT
BuildArch: noarch
Provides: system-release = 9.4-1.el9
Provides: system-release(releasever) = 9
%description
release
%install
mkdir -p %{buildroot}/etc
echo 'TestDist release 9.4' > %{buildroot}/etc/testdist-release
%files
%config /etc/testdist-release
`,
};

/** State 1: the base specs plus oldtool and a release package. */
const PLAN_SPECS_1: readonly SpecFile[] = [...SPECS, OLDTOOL, RELEASE];

/** State 2: the fixes of UPDATED_SPECS, hello 1.0 requiring the new hellodata, newtool obsoleting oldtool. */
const PLAN_SPECS_2: readonly SpecFile[] = [
  ...UPDATED_SPECS.map((s) =>
    s.name === "hello"
      ? {
          ...s,
          text: s.text.replace("Requires: %{name}-libs", "Requires: hellodata >= 1\nRequires: %{name}-libs"),
        }
      : s,
  ),
  HELLODATA,
  NEWTOOL,
];

/** State 3: hello 1.1 and tool release 5, on top of state 2 (a repository that keeps every state). */
const PLAN_SPECS_3: readonly SpecFile[] = PLAN_SPECS_2.map((s) => {
  if (s.name === "hello") return { ...s, text: s.text.replace("Version: 1.0\n", "Version: 1.1\n") };
  if (s.name === "tool")
    return { ...s, text: s.text.replace("Release: 4%{?dist}\n", "Release: 5%{?dist}\n") };
  return s;
});

export interface GpgKey {
  readonly home: string;
  readonly uid: string;
  /** ASCII-armored public key. */
  readonly armored: string;
}

export async function gpgKey(home: string, uid: string): Promise<GpgKey> {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const g = ["--batch", "--quiet", "--homedir", home];
  await run("gpg", [...g, "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never"]);
  return { home, uid, armored: await output("gpg", [...g, "--armor", "--export"]) };
}

/** `rpmsign --addsign` the files in place. */
async function signRpms(files: readonly string[], key: GpgKey, env: NodeJS.ProcessEnv): Promise<void> {
  await run(
    "rpmsign",
    [
      "--addsign",
      "--define",
      "__gpg /usr/bin/gpg",
      "--define",
      `_gpg_name ${key.uid}`,
      "--define",
      `_gpg_path ${key.home}`,
      ...files,
    ],
    { env },
  );
}

/** `gpg --detach-sign --armor repodata/repomd.xml` → repomd.xml.asc. */
export async function signRepomd(repo: string, key: GpgKey): Promise<void> {
  await run("gpg", [
    "--batch",
    "--quiet",
    "--yes",
    "--homedir",
    key.home,
    "--detach-sign",
    "--armor",
    join(repo, "repodata/repomd.xml"),
  ]);
}

/** A createrepo_c repository at `repo` of `rpms`. */
export async function makeRepo(repo: string, rpms: readonly string[]): Promise<string> {
  mkdirSync(repo, { recursive: true });
  for (const f of rpms) copyFileSync(f, join(repo, basename(f)));
  await run("createrepo_c", ["--quiet", repo]);
  return repo;
}

export interface SignedWorld {
  readonly key: GpgKey;
  /** State 1 repository (signed packages, signed repomd). */
  readonly repo1: string;
  /** State 2 repository (signed packages, signed repomd). */
  readonly repo2: string;
  /** States 1, 2 and 3 in one repository (as distributions keep older builds), signed. */
  readonly repoAll: string;
  /** State 2 packages, unsigned (for a repository whose packages are not signed). */
  readonly unsigned2: readonly string[];
  /** Root installed by dnf from state 1 (hello, tool, oldtool, testdist-release and their dependencies). */
  readonly root: string;
  readonly env: NodeJS.ProcessEnv;
}

export async function buildSignedWorld(dir: string): Promise<SignedWorld> {
  const env = rpmEnv(dir);
  const key = await gpgKey(join(dir, "gnupg"), "ocipatch rpm test <rpm@example.invalid>");
  const rpms1 = await buildRpms(join(dir, "build1"), PLAN_SPECS_1);
  const unsigned2 = await buildRpms(join(dir, "build2"), PLAN_SPECS_2);
  const signedDir = join(dir, "signed2");
  mkdirSync(signedDir, { recursive: true });
  const rpms2 = unsigned2.map((f) => {
    const to = join(signedDir, basename(f));
    copyFileSync(f, to);
    return to;
  });
  const rpms3 = (await buildRpms(join(dir, "build3"), PLAN_SPECS_3)).filter((f) => /\/(hello|tool)-/.test(f));
  await signRpms(rpms1, key, env);
  await signRpms(rpms2, key, env);
  await signRpms(rpms3, key, env);
  const repo1 = await makeRepo(join(dir, "repo1"), rpms1);
  const repo2 = await makeRepo(join(dir, "repo2"), rpms2);
  // basesh is the same NEVRA in every state: state 2's file is the one kept
  const repoAll = await makeRepo(join(dir, "repo-all"), [...rpms1, ...rpms2, ...rpms3]);
  await signRepomd(repo1, key);
  await signRepomd(repo2, key);
  await signRepomd(repoAll, key);
  const root = join(dir, "root");
  await runDnf(root, `file://${repo1}`, "install", {
    env,
    dir,
    names: ["hello", "tool", "oldtool", "testdist-release"],
  });
  return { key, repo1, repo2, repoAll, unsigned2, root, env };
}

/**
 * The oracle: what `dnf upgrade` does to a copy of `root` from the repository at `baseurl`:
 * `rpm -qa` before and after as "name evr arch" sets (epoch only when the package has one).
 */
export async function dnfUpgradeDiff(
  world: SignedWorld,
  baseurl: string,
  dir: string,
): Promise<{ removed: string[]; added: string[] }> {
  mkdirSync(dir, { recursive: true });
  const root = join(dir, "oracle-root");
  await run("cp", ["-a", world.root, root]);
  const before = await rpmNevras(root, world.env);
  await runDnf(root, baseurl, "upgrade", { env: world.env, dir });
  const after = await rpmNevras(root, world.env);
  return {
    removed: before.filter((l) => !after.includes(l)),
    added: after.filter((l) => !before.includes(l)),
  };
}

/** Every file of a repository directory, for "nothing cached" checks. */
export function listFiles(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}
