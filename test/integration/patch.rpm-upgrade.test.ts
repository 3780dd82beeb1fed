/**
 * `ocipatch patch --all` of an rpm image against the real `dnf upgrade` of a twin root from the
 * same repository, for the cases an upgrade does more than replace files: an upgrade that
 * obsoletes another installed package, config files the image already changed to the new
 * version's content, `%ghost` (config) files the new version drops, a package whose architecture
 * changes (x86_64 → noarch), and a directory the old version owned that the new one only puts a
 * file in (never whited out before a file under it: container runtimes refuse such a layer).
 */
/**
 * Review: `ocipatch patch --all` against `dnf upgrade` of the same root, for cases the other
 * worlds do not have: an UPGRADED package that obsoletes another installed one, config files the
 * image already changed to the new version's content, and a directory the old version owned
 * that the new version puts a file in without owning the directory.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readInventory } from "../../src/inventory/index.js";
import { patchImage } from "../../src/patch/patch-image.js";
import { openImage } from "../../src/transport/index.js";
import { openDatabaseForScan, updateDatabase } from "../../src/vulndb/index.js";
import { type StaticServer, serveDirectory } from "../harness/apk/serve.js";
import { output } from "../harness/exec.js";
import { unpackImage } from "../harness/oracle.js";
import { buildRpmImage } from "../harness/rpm/image.js";
import { rpmInventoryFacts } from "../harness/rpm/inventory-facts.js";
import { buildRpmWorld, type RpmWorld, rpmNevras, upgradedRoot } from "../harness/rpm/repo.js";
import type { SpecFile } from "../harness/rpm/specs.js";
import { runCli, tempDir } from "./vulndb.fixtures.js";

const spec = (name: string, version: number, extra: string, install: string, files: string): SpecFile => ({
  name,
  text: `Name: ${name}
Version: ${version}
Release: 1
Summary: upgrade case
License: MIT
BuildArch: noarch
${extra}%description
review
%install
${install}
%files
${files}
`,
});

const STATE1: SpecFile[] = [
  spec(
    "tool",
    1,
    "",
    "mkdir -p %{buildroot}/usr/share/tool\necho 1 > %{buildroot}/usr/share/tool/a",
    "/usr/share/tool",
  ),
  spec(
    "tool-extras",
    1,
    "",
    "mkdir -p %{buildroot}/usr/share/tool-extras\necho x > %{buildroot}/usr/share/tool-extras/x",
    "/usr/share/tool-extras",
  ),
  spec(
    "conf",
    1,
    "",
    "mkdir -p %{buildroot}/etc/conf\necho 1 > %{buildroot}/etc/conf/plain.conf\necho 1 > %{buildroot}/etc/conf/nr.conf",
    "%dir /etc/conf\n%config /etc/conf/plain.conf\n%config(noreplace) /etc/conf/nr.conf",
  ),
  spec(
    "ghosty",
    1,
    "",
    "mkdir -p %{buildroot}/etc %{buildroot}/var/log/ghosty\ntouch %{buildroot}/etc/ghosty.conf %{buildroot}/var/log/ghosty/g.log\necho k > %{buildroot}/etc/ghosty.keep",
    "%ghost %config(noreplace) /etc/ghosty.conf\n%dir /var/log/ghosty\n%ghost /var/log/ghosty/g.log\n/etc/ghosty.keep",
  ),
  {
    name: "archy",
    text: `Name: archy
Version: 1
Release: 1
Summary: upgrade case
License: MIT
%global debug_package %{nil}
%description
review
%install
mkdir -p %{buildroot}/usr/share/archy
echo 1 > %{buildroot}/usr/share/archy/v1
%files
/usr/share/archy
`,
  },
  spec(
    "dirpkg",
    1,
    "",
    "mkdir -p %{buildroot}/usr/share/dp\necho old > %{buildroot}/usr/share/dp/old",
    "/usr/share/dp",
  ),
];
const STATE2: SpecFile[] = [
  spec(
    "tool",
    2,
    "Obsoletes: tool-extras < 2\nProvides: tool-extras = 2\n",
    "mkdir -p %{buildroot}/usr/share/tool\necho 2 > %{buildroot}/usr/share/tool/a",
    "/usr/share/tool",
  ),
  spec(
    "conf",
    2,
    "",
    "mkdir -p %{buildroot}/etc/conf\necho 2 > %{buildroot}/etc/conf/plain.conf\necho 2 > %{buildroot}/etc/conf/nr.conf",
    "%dir /etc/conf\n%config /etc/conf/plain.conf\n%config(noreplace) /etc/conf/nr.conf",
  ),
  spec(
    "ghosty",
    2,
    "",
    "mkdir -p %{buildroot}/etc\necho k > %{buildroot}/etc/ghosty.keep",
    "/etc/ghosty.keep",
  ),
  spec(
    "archy",
    2,
    "",
    "mkdir -p %{buildroot}/usr/share/archy\necho 2 > %{buildroot}/usr/share/archy/v2",
    "/usr/share/archy",
  ),
  spec(
    "dirpkg",
    2,
    "",
    "mkdir -p %{buildroot}/usr/share/dp\necho new > %{buildroot}/usr/share/dp/new",
    "/usr/share/dp/new",
  ),
];

let tmp: string;
let world: RpmWorld;
let twin: string;
let server: StaticServer;
let layout: string;
let patched: string;
let patchOut: { code: number; stdout: string; stderr: string };

beforeAll(async () => {
  tmp = tempDir("ocipatch-rpm-upgrade-");
  const r = await updateDatabase({
    dbDir: join(tmp, "db"),
    locations: { osv: [join(import.meta.dirname, "fixtures/osv-almalinux")] },
  });
  expect(r.failures).toEqual([]);
  world = await buildRpmWorld(join(tmp, "w1"), {
    specs: STATE1,
    install: ["tool", "tool-extras", "conf", "dirpkg", "ghosty", "archy"],
  });
  // the image changed its config files to what version 2 ships
  writeFileSync(join(world.root, "etc/conf/plain.conf"), "2\n");
  writeFileSync(join(world.root, "etc/conf/nr.conf"), "2\n");
  // the files the %ghost entries stand for, made by the image (a service's config and log)
  writeFileSync(join(world.root, "etc/ghosty.conf"), "made by the image\n");
  writeFileSync(join(world.root, "var/log/ghosty/g.log"), "log\n");
  const up = await upgradedRoot(world, join(tmp, "w2"), STATE2);
  twin = up.root;
  server = await serveDirectory(up.repo);
  const root = join(tmp, "img");
  cpSync(world.root, root, { recursive: true, verbatimSymlinks: true });
  mkdirSync(join(root, "etc/yum.repos.d"), { recursive: true });
  writeFileSync(
    join(root, "etc/yum.repos.d/s2.repo"),
    `[s2]\nname=s2\nbaseurl=${server.url}\nenabled=1\ngpgcheck=0\nrepo_gpgcheck=0\n`,
  );
  layout = join(tmp, "layout");
  await buildRpmImage(layout, "base", root);
  patchOut = await runCli(
    [
      "patch",
      "-i",
      `oci:${layout}:base`,
      "--dest",
      `oci:${layout}:patched`,
      "--all",
      "--skip-db-update",
      "--db-dir",
      join(tmp, "db"),
      "--format",
      "json",
    ],
    { OCIPATCH_CACHE_DIR: join(tmp, "cache") },
  );
  if (patchOut.code === 0) patched = (await unpackImage(`oci:${layout}:patched`, join(tmp, "bundle"))).rootfs;
}, 900_000);

afterAll(async () => {
  await server?.close();
  if (tmp && !process.env["KEEP"]) rmSync(tmp, { recursive: true, force: true });
  else console.log("KEPT", tmp);
});

const ls = (root: string, dir: string) =>
  existsSync(join(root, dir)) ? readdirSync(join(root, dir)).sort() : null;

describe("ocipatch patch --all of an rpm image against dnf upgrade of its twin", { timeout: 600_000 }, () => {
  it("patch succeeds", () => {
    expect(patchOut.code, patchOut.stderr + patchOut.stdout).toBe(0);
  });
  it("an upgrade that obsoletes another installed package erases it (rpm -qa)", async () => {
    const twinQa = await rpmNevras(twin, world.env);
    expect(twinQa.some((l) => l.startsWith("tool-extras "))).toBe(false);
    expect(await rpmNevras(patched, world.env)).toEqual(twinQa);
    expect(ls(patched, "usr/share/tool-extras")).toEqual(ls(twin, "usr/share/tool-extras"));
  });
  it("config files the image already changed to the new content: no .rpmsave/.rpmnew", () => {
    expect(ls(twin, "etc/conf")).toEqual(["nr.conf", "plain.conf"]);
    expect(ls(patched, "etc/conf")).toEqual(ls(twin, "etc/conf"));
  });
  it("%ghost files the new version drops: as rpm leaves them", () => {
    const etc = (r: string) => ls(r, "etc")!.filter((f) => f.startsWith("ghosty"));
    console.log(
      "twin",
      etc(twin),
      ls(twin, "var/log/ghosty"),
      "patched",
      etc(patched),
      ls(patched, "var/log/ghosty"),
    );
    expect(etc(patched)).toEqual(etc(twin));
    expect(ls(patched, "var/log/ghosty")).toEqual(ls(twin, "var/log/ghosty"));
  });
  it("an upgrade that changes the architecture (x86_64 -> noarch) replaces the old package", async () => {
    const qa = (r: string) => rpmNevras(r, world.env).then((l) => l.filter((x) => x.startsWith("archy ")));
    expect(await qa(twin)).toEqual(["archy 2-1 noarch"]);
    expect(await qa(patched)).toEqual(await qa(twin));
    expect(ls(patched, "usr/share/archy")).toEqual(ls(twin, "usr/share/archy"));
  });
  it("the layer never whites out a directory it writes into (podman/docker: 'not a directory')", async () => {
    const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as {
      manifests: Array<{ digest: string; annotations?: Record<string, string> }>;
    };
    const m = index.manifests.find(
      (x) => x.annotations?.["org.opencontainers.image.ref.name"] === "patched",
    )!;
    const blob = (d: string) => join(layout, "blobs/sha256", d.split(":")[1]!);
    const manifest = JSON.parse(readFileSync(blob(m.digest), "utf8")) as {
      layers: Array<{ digest: string }>;
    };
    const names = (await output("tar", ["-tzf", blob(manifest.layers.at(-1)!.digest)]))
      .split("\n")
      .filter(Boolean);
    const whitedOut = names
      .filter((n) => /(^|\/)\.wh\.[^/]+$/.test(n) && !n.endsWith(".wh..wh..opq"))
      .map((n) => n.replace(/\.wh\.([^/]+)$/, "$1"));
    const clash = whitedOut.filter((w) => names.some((n) => n.startsWith(`${w}/`)));
    expect(clash).toEqual([]);
  });
  it("a directory the old version owned and the new one puts a file in", () => {
    expect(ls(twin, "usr/share/dp")).toEqual(["new"]);
    expect(ls(patched, "usr/share/dp")).toEqual(ls(twin, "usr/share/dp"));
  });

  it("the re-scan's inventory (no layer read) equals a real read of the patched image", async () => {
    const { db } = await openDatabaseForScan({ dbDir: join(tmp, "db"), offline: true });
    const dest = `oci:${join(tmp, "rescan")}:patched`;
    const workDir = join(tmp, "rescan-work");
    mkdirSync(workDir, { recursive: true });
    try {
      const result = await patchImage({
        source: `oci:${layout}:base`,
        destination: dest,
        mode: "all",
        db,
        repositories: { cacheDir: join(tmp, "rescan-cache") },
        packageCacheDir: join(tmp, "rescan-cache", "packages"),
        workDir,
      });
      const p = result.platforms[0]!;
      expect(p.built?.installed?.length).toBeGreaterThan(0);
      const read = await readInventory(await openImage(dest));
      const names = read.packages.map((x) => `${x.name}.${x.architecture}`);
      expect(names).not.toContain("tool-extras.noarch");
      expect(names).not.toContain("archy.x86_64");
      expect(rpmInventoryFacts(p.afterInventory!)).toEqual(rpmInventoryFacts(read));
    } finally {
      db.close();
    }
  });
});
