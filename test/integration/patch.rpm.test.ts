/**
 * `ocipatch patch --all` of an RPM image end to end: the signed two-state world (rpmsign'd
 * packages, gpg-signed repomd.xml served over loopback HTTP, the image's own yum.repos.d and
 * key), plan → fetch → the rpm layer → the patched image, unpacked by umoci and queried with rpm.
 * Oracle: `dnf upgrade` of the same root from the same repository.
 */
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readInventory } from "../../src/inventory/index.js";
import { BuiltLayerCache } from "../../src/patch/built-layer-cache.js";
import { patchImage } from "../../src/patch/patch-image.js";
import { openImage } from "../../src/transport/index.js";
import { openDatabaseForScan, updateDatabase } from "../../src/vulndb/index.js";
import { type StaticServer, serveDirectory } from "../harness/apk/serve.js";
import { output } from "../harness/exec.js";
import { unpackImage } from "../harness/oracle.js";
import { buildRpmImage } from "../harness/rpm/image.js";
import { rpmInventoryFacts } from "../harness/rpm/inventory-facts.js";
import { rpmNevras } from "../harness/rpm/repo.js";
import { buildSignedWorld, dnfUpgradeDiff, type SignedWorld } from "../harness/rpm/signed.js";
import { runCli, tempDir } from "./vulndb.fixtures.js";

const OSV = join(import.meta.dirname, "fixtures/osv-almalinux");

let tmp: string;
let dbDir: string;
let layout: string;
let world: SignedWorld;
let server: StaticServer;
let oracle: { removed: string[]; added: string[] };

beforeAll(async () => {
  tmp = tempDir("ocipatch-patch-rpm-");
  dbDir = join(tmp, "db");
  const r = await updateDatabase({ dbDir, locations: { osv: [OSV] } });
  expect(r.failures).toEqual([]);
  world = await buildSignedWorld(join(tmp, "world"));
  const served = join(tmp, "served");
  mkdirSync(served);
  cpSync(world.repo2, join(served, "state2"), { recursive: true });
  server = await serveDirectory(served);
  const root = join(tmp, "root");
  cpSync(world.root, root, { recursive: true, verbatimSymlinks: true });
  mkdirSync(join(root, "etc/yum.repos.d"), { recursive: true });
  mkdirSync(join(root, "etc/pki/rpm-gpg"), { recursive: true });
  writeFileSync(
    join(root, "etc/yum.repos.d/state2.repo"),
    `[state2]\nname=state 2\nbaseurl=${server.url}/state2\nenabled=1\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-test\n`,
  );
  writeFileSync(join(root, "etc/pki/rpm-gpg/RPM-GPG-KEY-test"), world.key.armored);
  layout = join(tmp, "layout");
  await buildRpmImage(layout, "good", root);
  oracle = await dnfUpgradeDiff(world, `file://${world.repo2}`, join(tmp, "oracle"));
}, 900_000);

afterAll(async () => {
  await server?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("ocipatch patch of RPM images", { timeout: 600_000 }, () => {
  it("--all gives the package set dnf upgrade gives, with a database rpm reads", async () => {
    const dest = join(tmp, "patched");
    const r = await runCli(
      [
        "patch",
        "-i",
        `oci:${layout}:good`,
        "--dest",
        `oci:${dest}:patched`,
        "--all",
        "--skip-db-update",
        "--db-dir",
        dbDir,
        "--format",
        "json",
      ],
      { OCIPATCH_CACHE_DIR: join(tmp, "cache") },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/\[error\]/);
    const doc = JSON.parse(r.stdout) as {
      platforms: Array<{ packages: Array<{ name: string; from: string | null; to: string }> }>;
    };
    // the report names every package dnf added (upgraded, new, and newtool replacing oldtool)
    const reported = (doc.platforms[0]?.packages ?? []).map((p) => `${p.name} ${p.to}`).sort();
    expect(reported).toEqual(oracle.added.map((l) => l.split(" ").slice(0, 2).join(" ")).sort());
    expect(oracle.removed.some((l) => l.startsWith("oldtool "))).toBe(true);
    const rootfs = (await unpackImage(`oci:${dest}:patched`, join(tmp, "bundle"))).rootfs;
    const qa = (root: string) => rpmNevras(root, world.env);
    const oracleRoot = join(tmp, "oracle", "oracle-root");
    expect(await qa(rootfs)).toEqual(await qa(oracleRoot));
    expect(oracle.added.length).toBeGreaterThan(0);
    for (const line of oracle.added) expect(await qa(rootfs)).toContain(line);
    // nothing of the upgraded packages differs from what rpm installed on the oracle root
    const va = async (root: string) =>
      (
        await output("rpm", ["--root", root, "-Va"], { env: world.env }).catch(
          (e: { stdout?: string }) => e.stdout ?? "",
        )
      )
        .split("\n")
        .filter((l) => l !== "")
        .sort();
    expect(await va(rootfs)).toEqual(await va(oracleRoot));
  });

  it("the re-scan's inventory equals a real read of the written image (the obsoleted package gone), from a build and from the layer cache", async () => {
    const { db } = await openDatabaseForScan({ dbDir, offline: true });
    const layerCache = new BuiltLayerCache(join(tmp, "rescan-cache", "layers"), "test-build");
    const run = async (name: string) => {
      const dest = `oci:${join(tmp, name)}:patched`;
      const workDir = join(tmp, `${name}-work`);
      mkdirSync(workDir, { recursive: true });
      const result = await patchImage({
        source: `oci:${layout}:good`,
        destination: dest,
        mode: "all",
        db,
        repositories: { cacheDir: join(tmp, "rescan-cache") },
        packageCacheDir: join(tmp, "rescan-cache", "packages"),
        workDir,
        layerCache,
      });
      expect(result.status).toBe("patched");
      return { p: result.platforms[0]!, read: await readInventory(await openImage(dest)) };
    };
    try {
      const built = await run("rescan-built");
      expect(built.p.layerFromCache ?? false).toBe(false);
      expect(built.p.built?.installed?.length).toBeGreaterThan(0);
      expect(built.read.packages.map((x) => x.name)).not.toContain("oldtool");
      expect(rpmInventoryFacts(built.p.afterInventory!)).toEqual(rpmInventoryFacts(built.read));

      // the same layer again, from the cache: its records read back, no layer of the image read
      const cached = await run("rescan-cached");
      expect(cached.p.layerFromCache).toBe(true);
      expect(cached.p.built?.installed?.length).toBe(built.p.built!.installed!.length);
      expect(rpmInventoryFacts(cached.p.afterInventory!)).toEqual(rpmInventoryFacts(cached.read));
      expect(rpmInventoryFacts(cached.read)).toEqual(rpmInventoryFacts(built.read));
    } finally {
      db.close();
    }
  });
});
