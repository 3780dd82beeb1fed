/**
 * The rpm patcher's plan and fetch halves against the real tools: two repository states built by
 * rpmbuild, signed by rpmsign (packages) and `gpg --detach-sign --armor` (repomd.xml), served over
 * loopback HTTP; an image whose root dnf installed from state 1, with /etc/yum.repos.d pointing at
 * state 2 and the key in /etc/pki/rpm-gpg. Oracle for `--all`: what `dnf upgrade` does to a copy of
 * the same root from the same repository. Bad input: unsigned/wrongly signed repomd.xml, a primary
 * checksum mismatch, unsigned and tampered packages, a missing repository — one line, nothing cached.
 */
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readRpmInventory } from "../../src/backends/rpm/backend.js";
import { fetchRpms, trustRpmPackages } from "../../src/backends/rpm/fetch.js";
import { planRpm } from "../../src/backends/rpm/plan.js";
import { planRpmUpgrades } from "../../src/backends/rpm/planner.js";
import { parseRepomd } from "../../src/backends/rpm/repo/repomd.js";
import { loadRpmRepositories } from "../../src/backends/rpm/repositories.js";
import type { PlanRequest, RepositoryOptions } from "../../src/backends/types.js";
import { OcipatchError } from "../../src/errors.js";
import type { InstalledPackage } from "../../src/inventory/types.js";
import { plannedDownloads } from "../../src/plan/downloads.js";
import type { Plan } from "../../src/plan/types.js";
import { LayeredFs } from "../../src/rootfs/index.js";
import { openImage } from "../../src/transport/index.js";
import { type StaticServer, serveDirectory } from "../harness/apk/serve.js";
import { output } from "../harness/exec.js";
import { buildRpmImage } from "../harness/rpm/image.js";
import {
  buildSignedWorld,
  dnfUpgradeDiff,
  gpgKey,
  listFiles,
  makeRepo,
  type SignedWorld,
  signRepomd,
} from "../harness/rpm/signed.js";
import { tempDir } from "./vulndb.fixtures.js";

const PLATFORM = { architecture: "amd64", os: "linux" } as const;
let tmp: string;
let world: SignedWorld;
let server: StaticServer;
let layout: string;
let fs: LayeredFs;
let installed: readonly InstalledPackage[];
const opened: LayeredFs[] = [];

/** Repository variants under the served directory. */
const url = (name: string) => `${server.url}/${name}`;

/** A repo file as an AlmaLinux image has it, pointing at `baseurl`. */
const repoFile = (baseurl: string, extra = "") =>
  `[state2]\nname=AlmaLinux $releasever - state 2 ($basearch)\nbaseurl=${baseurl}\nenabled=1\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-test\n${extra}`;

/** An image with `files` (path → content) over an empty root (or the dnf root). */
async function image(tag: string, files: Record<string, string>, withRoot = false): Promise<LayeredFs> {
  const root = join(tmp, `img-${tag}`);
  if (withRoot) cpSync(world.root, root, { recursive: true, verbatimSymlinks: true });
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(join(root, p, ".."), { recursive: true });
    writeFileSync(join(root, p), c);
  }
  mkdirSync(root, { recursive: true });
  await buildRpmImage(layout, tag, root);
  const f = await LayeredFs.open(await openImage(`oci:${layout}:${tag}`));
  opened.push(f);
  return f;
}

const keyFiles = (armored: string) => ({ "etc/pki/rpm-gpg/RPM-GPG-KEY-test": armored });

async function errorOf(p: Promise<unknown>): Promise<OcipatchError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(OcipatchError);
  expect((e as Error).message).not.toContain("\n");
  return e as OcipatchError;
}

const request = (
  f: LayeredFs,
  mode: Plan["mode"],
  extra: Partial<PlanRequest> = {},
  repos: RepositoryOptions = {},
) =>
  ({
    fs: f,
    inventory: {
      os: { versionId: "9.4" },
      packages: installed,
    },
    platform: PLATFORM,
    targets: [],
    mode,
    ignoreErrors: false,
    repositories: { cacheDir: join(tmp, `cache-${Math.random().toString(36).slice(2)}`), ...repos },
    ...extra,
  }) as unknown as PlanRequest;

/** "name evr arch" lines of what a plan removes and adds, as the dnf oracle lists them. */
function planDiff(plan: Plan): { removed: string[]; added: string[] } {
  const byName = new Map(installed.map((p) => [p.name, p]));
  const line = (name: string, evr: string, arch: string) => `${name} ${evr.replace(/^0:/, "")} ${arch}`;
  const removed = [
    ...plan.updates.map((u) => line(u.package, u.installedVersion, byName.get(u.package)!.architecture)),
    ...plan.newPackages.flatMap((n) =>
      (n.replaces ?? []).map((r) => line(r, byName.get(r)!.version, byName.get(r)!.architecture)),
    ),
  ];
  const added = [...plan.updates, ...plan.newPackages].map((u) =>
    line(u.package, u.targetVersion, u.architecture),
  );
  return { removed: removed.sort(), added: added.sort() };
}

beforeAll(async () => {
  tmp = tempDir("ocipatch-rpm-plan-");
  world = await buildSignedWorld(join(tmp, "world"));
  const served = join(tmp, "served");
  mkdirSync(served);
  cpSync(world.repo2, join(served, "state2"), { recursive: true });
  // repomd.xml not signed
  cpSync(world.repo2, join(served, "nosig"), { recursive: true });
  rmSync(join(served, "nosig/repodata/repomd.xml.asc"));
  // primary.xml changed after repomd.xml was signed
  cpSync(world.repo2, join(served, "badprimary"), { recursive: true });
  {
    const md = parseRepomd(readFileSync(join(served, "badprimary/repodata/repomd.xml")), "repomd");
    const p = join(served, "badprimary", md.data.get("primary")!.location);
    const b = readFileSync(p);
    b[b.length - 5] = b[b.length - 5]! ^ 0xff;
    writeFileSync(p, b);
  }
  // packages not signed (repomd.xml is)
  await makeRepo(join(served, "unsignedpkgs"), world.unsigned2);
  await signRepomd(join(served, "unsignedpkgs"), world.key);
  cpSync(world.repoAll, join(served, "all"), { recursive: true });
  // the same repository where a baseurl with $releasever and $basearch points
  cpSync(world.repo2, join(served, "el9/x86_64"), { recursive: true });
  server = await serveDirectory(served);
  layout = join(tmp, "layout");
  fs = await image(
    "good",
    { "etc/yum.repos.d/x.repo": repoFile(url("state2")), ...keyFiles(world.key.armored) },
    true,
  );
  installed = (await readRpmInventory(fs))!.packages;
}, 900_000);

afterAll(async () => {
  for (const f of opened) await f.close();
  await server?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("repositories", () => {
  it("reads the image's repository: releasever, basearch, repomd.xml.asc, primary.xml; cached by checksum", async () => {
    const cacheDir = join(tmp, "cache-repos");
    const repos = await loadRpmRepositories(fs, PLATFORM, { cacheDir }, undefined, { installed });
    expect(repos.basearch).toBe("x86_64");
    expect(repos.releasever).toBe("9");
    expect(repos.repos.map((r) => [r.id, r.baseurl, r.gpgcheck, r.repoGpgcheck, r.keys.length])).toEqual([
      ["state2", url("state2"), true, true, 1],
    ]);
    // every package createrepo_c listed, x86_64 and noarch (i686 would be kept too)
    expect(repos.repos[0]!.packages.map((p) => `${p.name}-${p.evr}.${p.arch}`).sort()).toEqual(
      [
        "basesh-3-1.noarch",
        "hello-2:1.0-1.el9.x86_64",
        "hello-libs-2:1.0-1.el9.x86_64",
        "hellodata-1.1-1.noarch",
        "newtool-2.0-1.noarch",
        "tool-1.2^git20240101.abc-4.el9.noarch",
      ].sort(),
    );
    expect(repos.bytesFetched).toBeGreaterThan(0);
    expect(repos.warnings).toEqual([]);
    const cached = listFiles(cacheDir).filter((n) => n.startsWith("rpm-"));
    expect(cached).toHaveLength(3); // repomd.xml, its .asc, primary
    // offline: from the cache alone, verified again
    const before = server.requests.length;
    const off = await loadRpmRepositories(fs, PLATFORM, { cacheDir, offline: true }, undefined, {
      installed,
    });
    expect(server.requests.length).toBe(before);
    expect(off.repos[0]!.packages).toHaveLength(6);
    expect(off.bytesFetched).toBe(0);
  });

  it("substitutes $releasever (os-release VERSION_ID 9.4 → 9, or /etc/dnf/vars/releasever) and $basearch", async () => {
    const files = {
      "etc/yum.repos.d/x.repo": repoFile(`${server.url}/el$releasever/$basearch`),
      ...keyFiles(world.key.armored),
    };
    const f = await image("vars", files);
    const repos = await loadRpmRepositories(f, PLATFORM, {});
    expect([repos.releasever, repos.repos[0]!.baseurl]).toEqual(["9", `${server.url}/el9/x86_64`]);
    // dnf's way: the release package's `system-release(releasever) = 9` wins over os-release;
    // oracle: dnf's own detect_releasever on the same root
    const dnfSays = (
      await output(
        "/usr/bin/python3",
        ["-c", "import dnf.rpm,sys; print(dnf.rpm.detect_releasever(sys.argv[1]))", world.root],
        {
          env: world.env,
        },
      )
    ).trim();
    expect(dnfSays).toBe("9");
    expect(
      (await loadRpmRepositories(f, PLATFORM, {}, undefined, { installed, versionId: "8.10" })).releasever,
    ).toBe(dnfSays);
    expect(installed.find((p) => p.name === "testdist-release")?.version).toBe("9.4-1.el9");
    const g = await image("vars8", { ...files, "etc/dnf/vars/releasever": "8\n" });
    const e = await errorOf(loadRpmRepositories(g, PLATFORM, {}));
    expect(e.message).toMatch(
      /has no repodata\/repomd\.xml at http:\/\/127\.0\.0\.1:\d+\/el8\/x86_64 \(HTTP 404\)$/,
    );
  });

  it("a cached primary.xml that no longer matches is fetched again (online) or refused (offline)", async () => {
    const cacheDir = join(tmp, "cache-corrupt");
    await loadRpmRepositories(fs, PLATFORM, { cacheDir });
    const primary = join(cacheDir, listFiles(cacheDir).find((n) => n.startsWith("rpm-primary-"))!);
    const good = readFileSync(primary);
    writeFileSync(primary, Buffer.concat([good, Buffer.from("x")]));
    const off = await errorOf(loadRpmRepositories(fs, PLATFORM, { cacheDir, offline: true }));
    expect(off.code).toBe("DIGEST_MISMATCH");
    expect(listFiles(cacheDir).some((n) => n.startsWith("rpm-primary-"))).toBe(false);
    writeFileSync(primary, Buffer.concat([good, Buffer.from("x")]));
    const on = await loadRpmRepositories(fs, PLATFORM, { cacheDir });
    expect(on.repos[0]!.packages).toHaveLength(6);
    expect(readFileSync(primary).equals(good)).toBe(true);
  });

  it("takes --repository URLs and --keyring keys instead of the image's .repo files", async () => {
    const bare = await image("bare", keyFiles(world.key.armored));
    const repos = await loadRpmRepositories(bare, PLATFORM, { repositories: [`${url("state2")}/`] });
    expect(repos.repos.map((r) => [r.id, r.baseurl, r.gpgcheck])).toEqual([
      [url("state2"), url("state2"), true],
    ]);
    const keyring = join(tmp, "keyring.asc");
    writeFileSync(keyring, world.key.armored);
    const nokeys = await image("nokeys", {});
    const r2 = await loadRpmRepositories(nokeys, PLATFORM, {
      repositories: [url("state2")],
      config: { keyrings: [keyring] } as never,
    });
    expect(r2.repos[0]!.keys).toHaveLength(1);
    const e = await errorOf(loadRpmRepositories(nokeys, PLATFORM, { repositories: [url("state2")] }));
    expect(e.code).toBe("SIGNATURE");
    expect(e.message).toMatch(/gpgcheck is on but no key is given/);
  });

  it("refuses bad repositories with one line and caches nothing", async () => {
    const other = await gpgKey(join(tmp, "gnupg-other"), "someone else <other@example.invalid>");
    const cases: Array<[string, Record<string, string>, string, RegExp]> = [
      [
        "nosig",
        { "etc/yum.repos.d/x.repo": repoFile(url("nosig")), ...keyFiles(world.key.armored) },
        "SIGNATURE",
        /repo_gpgcheck is on but repodata\/repomd\.xml\.asc is missing$/,
      ],
      [
        "wrongkey",
        { "etc/yum.repos.d/x.repo": repoFile(url("state2")), ...keyFiles(other.armored) },
        "SIGNATURE",
        /repomd\.xml has no valid signature from the repository's keys/,
      ],
      [
        "badprimary",
        { "etc/yum.repos.d/x.repo": repoFile(url("badprimary")), ...keyFiles(world.key.armored) },
        "DIGEST_MISMATCH",
        /primary\.xml\.gz has sha256 [0-9a-f]{16}…, repomd\.xml says/,
      ],
      [
        "missing",
        { "etc/yum.repos.d/x.repo": repoFile(url("gone")), ...keyFiles(world.key.armored) },
        "NOT_FOUND",
        /rpm repository \[state2\] has no repodata\/repomd\.xml at http:\/\/127\.0\.0\.1:\d+\/gone \(HTTP 404\)$/,
      ],
      [
        "mirrorlist",
        {
          "etc/yum.repos.d/x.repo":
            "[baseos]\nname=b\nmirrorlist=file:///etc/yum.repos.d/mirrors-$releasever\n",
        },
        "UNSUPPORTED",
        /\[baseos\]: mirrorlist file:\/\/\/etc\/yum\.repos\.d\/mirrors-9 is not an http\(s\) URL: give a repository URL$/,
      ],
    ];
    for (const [tag, files, code, message] of cases) {
      const f = await image(tag, files);
      const cacheDir = join(tmp, `cache-${tag}`);
      const e = await errorOf(loadRpmRepositories(f, PLATFORM, { cacheDir }));
      expect([tag, e.code]).toEqual([tag, code]);
      expect(e.message).toMatch(message);
      expect(listFiles(cacheDir)).toEqual([]);
    }
  });
});

describe("planning", () => {
  it("--all equals dnf upgrade on the same root and repository", async () => {
    const { plan } = await planRpm(request(fs, "all"));
    const oracle = await dnfUpgradeDiff(world, url("state2"), join(tmp, "oracle"));
    expect(oracle.added.length).toBeGreaterThan(0);
    expect(planDiff(plan)).toEqual(oracle);
    expect(plan.unresolved).toEqual([]);
    // hellodata is new (hello 1.0 requires it); newtool replaces oldtool
    expect(plan.newPackages.map((n) => [n.package, n.requiredBy, n.replaces ?? []])).toEqual(
      expect.arrayContaining([
        ["hellodata", ["hello"], []],
        ["newtool", [], ["oldtool"]],
      ]),
    );
  });

  it("--all equals dnf upgrade with a repository that keeps every build; targets take the smallest fixed one", async () => {
    const f = await image("allstates", {
      "etc/yum.repos.d/x.repo": repoFile(url("all")),
      ...keyFiles(world.key.armored),
    });
    const { plan } = await planRpm(request(f, "all"));
    const oracle = await dnfUpgradeDiff(world, url("all"), join(tmp, "oracle-all"));
    expect(oracle.added).toEqual(
      expect.arrayContaining(["hello 2:1.1-1.el9 x86_64", "tool 1.2^git20240101.abc-5.el9 noarch"]),
    );
    expect(planDiff(plan)).toEqual(oracle);
    const { plan: t } = await planRpm(
      request(f, "targets", {
        targets: [{ sourceName: "hello", fixedVersion: "2:1.0-1.el9", vulnerabilityIds: ["CVE-2026-0001"] }],
      }),
    );
    expect(t.updates.map((u) => `${u.package} ${u.targetVersion}`).sort()).toEqual([
      "hello 2:1.0-1.el9",
      "hello-libs 2:1.0-1.el9",
    ]);
  });

  it("a target moves every subpackage of its source rpm and pulls the new dependency", async () => {
    const { plan } = await planRpm(
      request(fs, "targets", {
        targets: [
          { package: "hello-libs", fixedVersion: "2:1.0-1.el9", vulnerabilityIds: ["CVE-2026-0001"] },
        ],
      }),
    );
    expect(
      plan.updates
        .map((u) => [u.package, u.installedVersion, u.targetVersion, u.reason, u.vulnerabilityIds])
        .sort(),
    ).toEqual([
      ["hello", "2:1.0~rc1-1.el9", "2:1.0-1.el9", "target", ["CVE-2026-0001"]],
      ["hello-libs", "2:1.0~rc1-1.el9", "2:1.0-1.el9", "target", ["CVE-2026-0001"]],
    ]);
    expect(plan.newPackages.map((n) => [n.package, n.targetVersion, n.requiredBy])).toEqual([
      ["hellodata", "1.1-1", ["hello"]],
    ]);
    const hello = plan.updates.find((u) => u.package === "hello")!;
    const file = join(world.repo2, hello.filename);
    expect(hello.url).toBe(`${url("state2")}/${hello.filename}`);
    expect(hello.sha256).toBe(createHash("sha256").update(readFileSync(file)).digest("hex"));
    expect(hello.size).toBe(readFileSync(file).length);
    expect([hello.suite, hello.suiteKind, hello.sourceName, hello.sourceVersion]).toEqual([
      "state2",
      "release",
      "hello",
      "2:1.0-1.el9",
    ]);
    // tool is not a target: it stays
    expect(plan.updates.some((u) => u.package === "tool")).toBe(false);
  });

  it("a renamed package (obsoletes) is replaced by its obsoleter", async () => {
    const { plan } = await planRpm(
      request(fs, "targets", { targets: [{ package: "oldtool", vulnerabilityIds: ["CVE-2026-0002"] }] }),
    );
    expect(plan.updates).toEqual([]);
    expect(plan.newPackages.map((n) => [n.package, n.targetVersion, n.replaces])).toEqual([
      ["newtool", "2.0-1", ["oldtool"]],
    ]);
  });

  it("a fixed version no repository has: RESOLVE, or unresolved with ignoreErrors", async () => {
    const targets = [{ sourceName: "tool", fixedVersion: "1.3-1.el9", vulnerabilityIds: ["CVE-2026-0003"] }];
    const e = await errorOf(planRpm(request(fs, "targets", { targets })));
    expect(e.code).toBe("RESOLVE");
    expect(e.message).toMatch(
      /^cannot plan tool: no build of tool with tool >= 1\.3-1\.el9 .*\(newest: 1\.2\^git20240101\.abc-4\.el9\)$/,
    );
    const { plan } = await planRpm(request(fs, "targets", { targets, ignoreErrors: true }));
    expect(plan.updates).toEqual([]);
    expect(plan.unresolved.map((u) => [u.package, u.vulnerabilityIds])).toEqual([
      ["tool", ["CVE-2026-0003"]],
    ]);
  });
});

describe("fetching", () => {
  it("downloads, verifies and caches the planned packages; a second fetch is served from the cache", async () => {
    const { plan } = await planRpm(request(fs, "all"));
    const items = plannedDownloads(plan);
    const cacheDir = join(tmp, "pkgcache");
    const first = await fetchRpms(items, { cacheDir });
    expect(first.vanished).toEqual([]);
    expect(first.fromCache).toBe(0);
    expect(first.bytesDownloaded).toBe(items.reduce((n, i) => n + i.size, 0));
    for (const [i, f] of first.files.entries())
      expect(createHash("sha256").update(readFileSync(f!)).digest("hex")).toBe(items[i]!.sha256);
    const second = await fetchRpms(items, { cacheDir });
    expect([second.fromCache, second.bytesDownloaded]).toEqual([items.length, 0]);
    // a cached file changed on disk is not used: fetched again
    const f0 = first.files[0]!;
    writeFileSync(f0, Buffer.concat([readFileSync(f0), Buffer.from("x")]));
    const again = await fetchRpms(items, { cacheDir });
    expect([again.fromCache, again.bytesDownloaded]).toEqual([items.length - 1, items[0]!.size]);
    expect(createHash("sha256").update(readFileSync(f0)).digest("hex")).toBe(items[0]!.sha256);
    // a file the repository no longer has is collected, not thrown
    const gone = { ...items[0]!, url: `${url("state2")}/gone.rpm` };
    const third = await fetchRpms([gone], { cacheDir: join(tmp, "pkgcache-gone") });
    expect(third.files).toEqual([undefined]);
    expect(third.vanished.map((v) => v.message)).toEqual([
      expect.stringMatching(/^hello(-libs)? .*gone\.rpm is no longer in the repository \(HTTP 404\)$/),
    ]);
  });

  it("refuses unsigned and tampered packages with one line and caches nothing", async () => {
    // unsigned packages in a repository whose gpgcheck=1
    const f = await image("unsignedpkgs", {
      "etc/yum.repos.d/x.repo": repoFile(url("unsignedpkgs")),
      ...keyFiles(world.key.armored),
    });
    const repos = await loadRpmRepositories(f, PLATFORM, {});
    trustRpmPackages(repos.repos);
    const plan = planRpmUpgrades({ installed, repos: repos.repos, targets: [], mode: "all" });
    const hello = plannedDownloads(plan).find((d) => d.package === "hello")!;
    const cacheDir = join(tmp, "pkgcache-bad");
    const e = await errorOf(fetchRpms([hello], { cacheDir }));
    expect(e.code).toBe("SIGNATURE");
    expect(e.message).toMatch(
      /^hello 2:1\.0-1\.el9 \(http:\/\/127\.0\.0\.1:\d+\/unsignedpkgs\/hello-1\.0-1\.el9\.x86_64\.rpm\): rpm package is not signed$/,
    );
    expect(listFiles(cacheDir)).toEqual([]);
    // a package whose bytes differ from primary.xml's checksum
    const { plan: good } = await planRpm(request(fs, "all"));
    const item = plannedDownloads(good).find((d) => d.package === "hello")!;
    const rpm = readFileSync(join(world.repo2, good.updates.find((u) => u.package === "hello")!.filename));
    rpm[rpm.length - 10] = rpm[rpm.length - 10]! ^ 0xff;
    writeFileSync(join(tmp, "served", "tampered.rpm"), rpm);
    const e2 = await errorOf(fetchRpms([{ ...item, url: `${server.url}/tampered.rpm` }], { cacheDir }));
    expect(e2.code).toBe("DIGEST_MISMATCH");
    expect(e2.message).toMatch(
      /^hello 2:1\.0-1\.el9 \(.*tampered\.rpm\): \d+ bytes with sha256 [0-9a-f]{16}…, the repository says/,
    );
    expect(listFiles(cacheDir)).toEqual([]);
  });
});
