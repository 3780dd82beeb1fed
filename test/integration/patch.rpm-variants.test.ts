/**
 * `ocipatch patch` of RPM images beyond `--all` (patch.rpm.test.ts): the scan's targets only, the
 * image's own change to a %config(noreplace) file, the re-scan without a layer read, and the
 * images it refuses. Same world: the harness's signed repositories (rpmbuild, rpmsign,
 * createrepo_c, gpg-signed repomd.xml) over loopback HTTP, a root installed by Debian's
 * `dnf --installroot` from state 1 whose /etc/yum.repos.d points at state 2, AlmaLinux-shaped OSV
 * records. Oracles: a twin root upgraded by the real `dnf upgrade <names>`, then `rpm --root R -qa`,
 * `-Va` and `-qf` of the patched image unpacked by umoci.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readInventory } from "../../src/inventory/index.js";
import { patchImage } from "../../src/patch/patch-image.js";
import { openImage } from "../../src/transport/index.js";
import { openDatabaseForScan, updateDatabase } from "../../src/vulndb/index.js";
import { type StaticServer, serveDirectory } from "../harness/apk/serve.js";
import { output, run } from "../harness/exec.js";
import { makeBdbPackages } from "../harness/rpm/bdb.js";
import { buildRpmImage } from "../harness/rpm/image.js";
import { rpmInventoryFacts } from "../harness/rpm/inventory-facts.js";
import { makeNdbPackages } from "../harness/rpm/ndb.js";
import { rpmNevras, runDnf } from "../harness/rpm/repo.js";
import { buildSignedWorld, makeRepo, type SignedWorld, signRepomd } from "../harness/rpm/signed.js";
import { runCli, tempDir } from "./vulndb.fixtures.js";

const OSV = join(import.meta.dirname, "fixtures/osv-almalinux");
const KEY_PATH = "etc/pki/rpm-gpg/RPM-GPG-KEY-test";

let tmp: string;
let dbDir: string;
let layout: string;
let world: SignedWorld;
let server: StaticServer;
const env = (cache = "cache") => ({ OCIPATCH_CACHE_DIR: join(tmp, cache) });

/** A repo file as an AlmaLinux image has it. */
const repoFile = (baseurl: string) =>
  `[state2]\nname=AlmaLinux $releasever - state 2 ($basearch)\nbaseurl=${baseurl}\nenabled=1\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey=file:///${KEY_PATH}\n`;

/** The dnf root + a repo file pointing at `repo` (served) + the key; `edit` changes the root further. */
async function image(
  tag: string,
  repo: string,
  edit?: (root: string) => void | Promise<void>,
): Promise<void> {
  const root = join(tmp, `img-${tag}`);
  cpSync(world.root, root, { recursive: true, verbatimSymlinks: true });
  mkdirSync(join(root, "etc/yum.repos.d"), { recursive: true });
  writeFileSync(join(root, "etc/yum.repos.d/state2.repo"), repoFile(`${server.url}/${repo}`));
  mkdirSync(join(root, KEY_PATH, ".."), { recursive: true });
  writeFileSync(join(root, KEY_PATH), world.key.armored);
  await edit?.(root);
  await buildRpmImage(layout, tag, root);
}

beforeAll(async () => {
  tmp = tempDir("ocipatch-patch-rpm-");
  dbDir = join(tmp, "db");
  const r = await updateDatabase({ dbDir, locations: { osv: [OSV] } });
  expect(r.failures).toEqual([]);
  world = await buildSignedWorld(join(tmp, "world"));
  const served = join(tmp, "served");
  mkdirSync(served);
  cpSync(world.repo2, join(served, "state2"), { recursive: true });
  // the same repository, its packages unsigned (repomd.xml signed)
  await makeRepo(join(served, "unsignedpkgs"), world.unsigned2);
  await signRepomd(join(served, "unsignedpkgs"), world.key);
  server = await serveDirectory(served);
  layout = join(tmp, "layout");
  await image("alma", "state2", (root) => {
    // a %config(noreplace) file the image changed: kept, the new one next to it as .rpmnew
    const conf = join(root, "etc/hello.conf");
    if (existsSync(conf)) writeFileSync(conf, "changed by the image\n");
  });
  await image("unsigned", "unsignedpkgs");
  await image("bdb", "state2", async (root) => {
    const db = join(root, "var/lib/rpm");
    await makeBdbPackages(join(db, "rpmdb.sqlite"), join(db, "Packages"));
    for (const f of ["rpmdb.sqlite", "rpmdb.sqlite-wal", "rpmdb.sqlite-shm"])
      rmSync(join(db, f), { force: true });
  });
  // UBI micro / Azure Linux distroless: an rpm database, no repositories, no keys
  await image("micro", "state2", (root) => {
    rmSync(join(root, "etc/yum.repos.d"), { recursive: true });
    rmSync(join(root, "etc/pki"), { recursive: true });
  });
  await image("ndb", "state2", (root) => {
    const db = join(root, "var/lib/rpm");
    makeNdbPackages(join(db, "rpmdb.sqlite"), join(db, "Packages.db"));
    for (const f of ["rpmdb.sqlite", "rpmdb.sqlite-wal", "rpmdb.sqlite-shm"])
      rmSync(join(db, f), { force: true });
  });
}, 600_000);

afterAll(async () => {
  await server?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function patch(tag: string, dest: string, extra: string[] = [], cache = "cache") {
  return runCli(
    [
      "patch",
      "-i",
      `oci:${layout}:${tag}`,
      "--dest",
      dest,
      "--skip-db-update",
      "--db-dir",
      dbDir,
      "--format",
      "json",
      ...extra,
    ],
    env(cache),
  );
}

async function fixable(ref: string): Promise<number> {
  const r = await runCli(["scan", "--image", ref, "--format", "json", "--offline", "--db-dir", dbDir], env());
  expect(r.code, r.stderr).toBe(0);
  const doc = JSON.parse(r.stdout) as { summary: { fixable: number }; packages: number };
  expect(doc.packages).toBeGreaterThan(0);
  return doc.summary.fixable;
}

/** The image's root as umoci unpacks it (owners kept: the tests run as root). */
async function unpack(ref: string, name: string): Promise<string> {
  const bundle = join(tmp, `bundle-${name}`);
  await run("umoci", ["unpack", "--image", ref, bundle]);
  return join(bundle, "rootfs");
}

const rpmQa = (root: string): Promise<string[]> => rpmNevras(root, world.env);

/** `rpm -Va` lines (what differs from the database), sorted; rpm exits 1 when anything differs. */
async function rpmVa(root: string): Promise<string[]> {
  const r = await run("rpm", ["--root", root, "-Va"], { env: world.env, okCodes: [0, 1] });
  return r.stdout
    .split("\n")
    .filter((l) => l.trim() !== "")
    .sort();
}

/** A copy of the image's root upgraded by the real dnf from state 2 (`names`: only those, with dependencies). */
async function dnfTwin(name: string, names: readonly string[] = []): Promise<string> {
  const root = await unpack(`${layout}:alma`, `twin-${name}`);
  const dir = join(tmp, `twin-${name}`);
  mkdirSync(dir, { recursive: true });
  await runDnf(root, `file://${world.repo2}`, "upgrade", { env: world.env, dir, names });
  return root;
}

interface PatchDoc {
  platforms: Array<{
    before?: { fixable: number };
    after?: { fixable: number };
    packages: Array<{ name: string; from: string | null; to: string }>;
    warnings: string[];
  }>;
}

describe("ocipatch patch of an AlmaLinux-like image (rpm backend)", { timeout: 600_000 }, () => {
  let patchedRoot: string;

  it("fixes the OSV findings from the image's signed repository: 0 fixable after, dnf's package set", async () => {
    expect(await fixable(`oci:${layout}:alma`)).toBe(4);
    const dest = join(tmp, "patched");
    const r = await patch("alma", `oci:${dest}:p`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/\[error\]/);
    const doc = JSON.parse(r.stdout) as PatchDoc;
    expect(doc.platforms[0]?.after?.fixable).toBe(0);
    expect(await fixable(`oci:${dest}:p`)).toBe(0);
    patchedRoot = await unpack(`${dest}:p`, "patched");
    const twin = await dnfTwin("targets", ["hello", "hello-libs", "tool"]);
    expect(await rpmQa(patchedRoot)).toEqual(await rpmQa(twin));
  });

  it("rpm -Va of the patched image reports what it reports for dnf's upgrade, no more", async () => {
    const twin = await dnfTwin("va", ["hello", "hello-libs", "tool"]);
    const strip = (root: string, lines: string[]) => lines.map((l) => l.replace(root, ""));
    expect(strip(patchedRoot, await rpmVa(patchedRoot))).toEqual(strip(twin, await rpmVa(twin)));
    // rpm finds the new files' owners through the index tables
    const owner = await output("rpm", ["--root", patchedRoot, "-qf", "/usr/share/hellodata/greeting"], {
      env: world.env,
    });
    expect(owner.trim()).toBe("hellodata-1.1-1.noarch");
    // the image's change to a %config(noreplace) file is kept, as dnf keeps it
    expect(readFileSync(join(patchedRoot, "etc/hello.conf"), "utf8")).toBe("changed by the image\n");
  });

  it("the re-scan's computed inventory equals a real read of the written image", async () => {
    const { db } = await openDatabaseForScan({ dbDir, offline: true });
    const dest = `oci:${join(tmp, "rescan")}:patched`;
    const workDir = join(tmp, "rescan-work");
    mkdirSync(workDir, { recursive: true });
    try {
      const result = await patchImage({
        source: `oci:${layout}:alma`,
        destination: dest,
        mode: "targets",
        db,
        repositories: { cacheDir: join(tmp, "rescan-cache") },
        packageCacheDir: join(tmp, "rescan-cache", "packages"),
        workDir,
      });
      expect(result.status).toBe("patched");
      const p = result.platforms[0]!;
      const read = await readInventory(await openImage(dest));
      expect(rpmInventoryFacts(p.afterInventory!)).toEqual(rpmInventoryFacts(read));
      expect(p.afterInventory!.os).toEqual(read.os);
    } finally {
      db.close();
    }
  });
});

describe("ocipatch patch of a micro RPM image (no repositories in the image)", { timeout: 600_000 }, () => {
  it("is patched from --repository with the packages' key given by --keyring", async () => {
    const key = join(tmp, "RPM-GPG-KEY-test");
    writeFileSync(key, world.key.armored);
    const dest = join(tmp, "patched-micro");
    const r = await patch("micro", `oci:${dest}:p`, [
      "--repository",
      `${server.url}/state2`,
      "--keyring",
      key,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(await fixable(`oci:${dest}:p`)).toBe(0);
    const root = await unpack(`${dest}:p`, "micro");
    expect(existsSync(join(root, "etc/yum.repos.d"))).toBe(false);
    expect(await rpmQa(root)).toEqual(await rpmQa(await dnfTwin("micro", ["hello", "hello-libs", "tool"])));
  });

  it("without --repository: one line saying so, nothing written", async () => {
    const dest = join(tmp, "refused-micro");
    const r = await patch("micro", `oci:${dest}:p`, [], "cache-micro");
    expect(r.code).not.toBe(0);
    expect(r.stderr.split("\n").filter((l) => l.includes("[error]"))).toHaveLength(1);
    expect(r.stderr).toMatch(/\[error\] [^\n]*--repository/);
    expect(existsSync(dest)).toBe(false);
  });

  it("without the key: the packages' signatures cannot be checked, one line, nothing written", async () => {
    const dest = join(tmp, "refused-micro-key");
    const r = await patch(
      "micro",
      `oci:${dest}:p`,
      ["--repository", `${server.url}/state2`],
      "cache-micro-key",
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr.split("\n").filter((l) => l.includes("[error]"))).toHaveLength(1);
    expect(r.stderr).toMatch(/\[error\] [^\n]*(key|sign)/i);
    expect(existsSync(dest)).toBe(false);
  });
});

describe("ocipatch patch of RPM images: refused in one line, nothing written", { timeout: 600_000 }, () => {
  it("packages not signed while the repository says gpgcheck=1", async () => {
    const dest = join(tmp, "refused-unsigned");
    const r = await patch("unsigned", `oci:${dest}:p`, [], "cache-unsigned");
    expect(r.code).not.toBe(0);
    expect(
      r.stderr
        .trim()
        .split("\n")
        .filter((l) => l.includes("[error]")),
    ).toHaveLength(1);
    expect(r.stderr).toMatch(/\[error\] [^\n]*(signature|signed)/i);
    expect(existsSync(dest)).toBe(false);
  });

  it("a Berkeley DB rpm database: scanned, but patching it is not supported yet", async () => {
    expect(await fixable(`oci:${layout}:bdb`)).toBe(4);
    const dest = join(tmp, "refused-bdb");
    const r = await patch("bdb", `oci:${dest}:p`, [], "cache-bdb");
    expect(r.code).toBe(9);
    expect(r.stderr).toMatch(/\[error\] [^\n]*Berkeley DB[^\n]*not supported yet/);
    expect(existsSync(dest)).toBe(false);
    expect(readFileSync(join(tmp, "img-bdb/var/lib/rpm/Packages")).length).toBeGreaterThan(0);
    // refused before planning: no repository was contacted, nothing cached
    expect(existsSync(join(tmp, "cache-bdb"))).toBe(false);
  });

  it("an NDB (SUSE) rpm database: scanned, patching it is not supported yet", async () => {
    expect(await fixable(`oci:${layout}:ndb`)).toBe(4);
    const dest = join(tmp, "refused-ndb");
    const r = await patch("ndb", `oci:${dest}:p`, [], "cache-ndb");
    expect(r.code).toBe(9);
    expect(r.stderr).toMatch(/\[error\] [^\n]*NDB[^\n]*not supported yet/);
    expect(existsSync(dest)).toBe(false);
  });
});
