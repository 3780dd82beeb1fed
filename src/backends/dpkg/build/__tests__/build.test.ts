import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isOcipatchError } from "../../../../errors.js";
import { MediaTypes } from "../../../../image/media-types.js";
import type { InstalledPackage, Inventory } from "../../../../inventory/types.js";
import type { EntrySpec } from "../../../../rootfs/__tests__/synthetic.js";
import type { LayeredFs } from "../../../../rootfs/index.js";
import type { FetchedPackage } from "../../../types.js";
import { parseParagraphs } from "../../debian/deb822.js";
import { buildPatchLayer } from "../index.js";
import { buildDeb, craftDeb, dir, file, imageOf, link, md5, mergedUsrBase, readLayer } from "./fixtures.js";

const work = mkdtempSync(join(tmpdir(), "ocipatch-build-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;
const layerPath = () => join(work, `layer-${++n}.tar.gz`);
const NOW = new Date("2026-01-02T03:04:05Z");

function installed(inv: Inventory, name: string): InstalledPackage {
  const p = inv.packages.find((x) => x.name === name);
  if (!p) throw new Error(`${name} not in the inventory`);
  return p;
}

async function build(fs: LayeredFs, inventory: Inventory, debs: FetchedPackage[]) {
  return buildPatchLayer({
    fs,
    inventory,
    packages: debs,
    compression: "gzip",
    layerPath: layerPath(),
    platform: { os: "linux", architecture: "amd64" },
    manifestMediaType: MediaTypes.ociManifest,
    now: NOW,
  });
}

const BASE_FILES = `Package: base-files
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 1
Maintainer: Debian <debian@example.org>
Architecture: amd64
Version: 12.4
Description: Debian base system miscellaneous files
`;

/** foo 1.0 as dpkg left it: /etc/bar.conf edited by the admin since. */
function fooV1Image(): EntrySpec[] {
  const status = `${BASE_FILES}
Package: foo
Status: install ok installed
Priority: optional
Section: misc
Installed-Size: 1
Maintainer: Test <test@example.org>
Architecture: amd64
Version: 1.0
Conffiles:
 /etc/foo.conf ${md5("conf v1\n")}
 /etc/bar.conf ${md5("bar v1\n")}
Description: test package foo
 Built by the patch layer builder tests.

`;
  const fooList = [
    "/.",
    "/etc",
    "/etc/foo.conf",
    "/etc/bar.conf",
    "/usr",
    "/usr/bin",
    "/usr/bin/foo",
    "/usr/share",
    "/usr/share/foo",
    "/usr/share/foo/old.txt",
    "/usr/share/foo/data.txt",
    "/usr/share/foo/olddir",
    "/usr/share/foo/olddir/x.txt",
    "/usr/share/doc",
    "/usr/share/doc/foo",
    "/usr/share/doc/foo/gone",
  ];
  return [
    ...mergedUsrBase(),
    file("./etc/foo.conf", "conf v1\n"),
    file("./etc/bar.conf", "bar edited by the admin\n"),
    file("./usr/bin/foo", "foo v1\n", 0o755),
    dir("./usr/share/foo/"),
    file("./usr/share/foo/old.txt", "old\n"),
    file("./usr/share/foo/data.txt", "data v1\n"),
    dir("./usr/share/foo/olddir/"),
    file("./usr/share/foo/olddir/x.txt", "x\n"),
    dir("./usr/share/doc/"),
    dir("./usr/share/doc/foo/"),
    file("./usr/share/doc/foo/gone", "gone\n"),
    file("./usr/share/doc/base-files-readme", "still here\n"),
    file("./var/lib/dpkg/status", status),
    file("./var/lib/dpkg/info/foo.list", `${fooList.join("\n")}\n`),
    file("./var/lib/dpkg/info/foo.md5sums", `${md5("foo v1\n")}  usr/bin/foo\n`),
    file("./var/lib/dpkg/info/foo.postrm", "#!/bin/sh\nset -e\nrm -f /var/cache/foo\n", 0o755),
    file("./var/lib/dpkg/info/foo.conffiles", "/etc/foo.conf\n/etc/bar.conf\n"),
    file(
      "./var/lib/dpkg/info/base-files.list",
      "/.\n/etc\n/usr\n/usr/share\n/usr/share/doc\n/usr/share/doc/base-files-readme\n",
    ),
  ];
}

function fooV2(): string {
  return buildDeb(work, {
    name: "foo",
    version: "2.0",
    dirs: ["etc", "bin", "lib/x86_64-linux-gnu", "usr/bin", "usr/share/foo", "usr/share/doc/common"],
    files: {
      "bin/foo": { content: "foo v2\n", mode: 0o755 },
      "lib/x86_64-linux-gnu/libfoo.so.2": "libfoo 2\n",
      "usr/share/foo/data.txt": "data v2\n",
      "etc/foo.conf": "conf v2\n",
      "etc/bar.conf": "bar v2\n",
      "etc/new.conf": "new\n",
    },
    symlinks: { "lib/x86_64-linux-gnu/libfoo.so": "libfoo.so.2" },
    hardlinks: { "usr/bin/foo-hard": "bin/foo" },
    conffiles: ["/etc/foo.conf", "/etc/bar.conf", "/etc/new.conf"],
    scripts: { postinst: "#!/bin/sh\nset -e\nldconfig\n" },
  });
}

describe("buildPatchLayer on a merged-/usr image with a dpkg status file", () => {
  it("writes an upgrade and a new dependency at their real paths, with conffiles, whiteouts and the database", async () => {
    const { fs, inventory } = await imageOf([fooV1Image()]);
    const libbar = buildDeb(work, {
      name: "libbar",
      version: "1.0",
      multiArch: "same",
      dirs: ["usr/share/doc/common"],
      files: { "lib/x86_64-linux-gnu/libbar.so.1": "libbar\n", "usr/share/doc/common/README": "shared\n" },
    });
    const r = await build(fs, inventory, [
      { package: "foo", architecture: "amd64", path: fooV2(), installed: installed(inventory, "foo") },
      { package: "libbar", architecture: "amd64", path: libbar },
    ]);
    const L = await readLayer(r.layer);
    const names = [...L.keys()];

    // 1. files at their real locations; nothing written through or over /bin, /lib
    expect(L.get("usr/bin/foo")).toMatchObject({ type: "file", mode: 0o755, content: "foo v2\n", uid: 0 });
    expect(L.get("usr/bin/foo-hard")).toMatchObject({ type: "link", linkname: "usr/bin/foo" });
    expect(L.get("usr/lib/x86_64-linux-gnu")).toMatchObject({ type: "directory", mode: 0o755 });
    expect(L.get("usr/lib/x86_64-linux-gnu/libfoo.so.2")?.content).toBe("libfoo 2\n");
    expect(L.get("usr/lib/x86_64-linux-gnu/libfoo.so")).toMatchObject({
      type: "symlink",
      linkname: "libfoo.so.2",
    });
    expect(L.get("usr/lib/x86_64-linux-gnu/libbar.so.1")?.content).toBe("libbar\n");
    expect(L.get("usr/share/foo/data.txt")?.content).toBe("data v2\n");
    expect(names.filter((p) => /^(bin|lib|lib64|sbin)(\/|$)/.test(p))).toEqual([]);
    // directories of the image are not emitted; a directory both packages ship is written once
    for (const d of ["etc", "usr", "usr/bin", "usr/share", "usr/share/foo", "usr/share/doc", "var/lib/dpkg"])
      expect(L.has(d), d).toBe(false);
    expect(L.get("usr/share/doc/common")?.type).toBe("directory");

    // 2. conffiles, dpkg --force-confold
    expect(L.get("etc/foo.conf")?.content).toBe("conf v2\n");
    expect(L.has("etc/bar.conf")).toBe(false);
    expect(L.get("etc/bar.conf.dpkg-dist")?.content).toBe("bar v2\n");
    expect(L.get("etc/new.conf")?.content).toBe("new\n");
    expect(r.keptConffiles).toEqual([{ package: "foo", path: "/etc/bar.conf" }]);

    // 3. whiteouts: only what foo no longer ships and nobody else owns
    expect(r.removed).toEqual([
      "/usr/share/doc/foo",
      "/usr/share/foo/old.txt",
      "/usr/share/foo/olddir",
      "/var/lib/dpkg/info/foo.postrm",
    ]);
    const wh = names.filter((p) => p.split("/").pop()!.startsWith(".wh."));
    expect(wh.sort()).toEqual([
      "usr/share/doc/.wh.foo",
      "usr/share/foo/.wh.old.txt",
      "usr/share/foo/.wh.olddir",
      "var/lib/dpkg/info/.wh.foo.postrm",
    ]);

    // 4. the database: status rewritten once, the other record byte-identical, the new one appended
    const status = L.get("var/lib/dpkg/status")!.content;
    expect(status.startsWith(BASE_FILES)).toBe(true);
    const recs = parseParagraphs(status);
    expect(recs.map((p) => p.get("Package"))).toEqual(["base-files", "foo", "libbar"]);
    expect(recs[1]!.get("Version")).toBe("2.0");
    expect(recs[1]!.get("Status")).toBe("install ok installed");
    expect(recs[1]!.get("Conffiles")).toBe(
      `\n/etc/foo.conf ${md5("conf v2\n")}\n/etc/bar.conf ${md5("bar v2\n")}\n/etc/new.conf ${md5("new\n")}`,
    );
    expect(recs[2]!.get("Status")).toBe("install ok installed");
    expect(recs[2]!.get("Multi-Arch")).toBe("same");
    const list = L.get("var/lib/dpkg/info/foo.list")!.content.split("\n");
    expect(list).toContain("/bin/foo");
    expect(list).toContain("/lib/x86_64-linux-gnu/libfoo.so.2");
    expect(L.get("var/lib/dpkg/info/foo.postinst")).toMatchObject({ mode: 0o755 });
    expect(L.get("var/lib/dpkg/info/foo.md5sums")?.content).toContain(`${md5("foo v2\n")}  bin/foo`);
    expect(L.get("var/lib/dpkg/info/foo.conffiles")?.content).toBe(
      "/etc/foo.conf\n/etc/bar.conf\n/etc/new.conf\n",
    );
    expect(L.has("var/lib/dpkg/info/libbar:amd64.list")).toBe(true);
    expect(L.has("var/lib/dpkg/info/libbar.list")).toBe(false);

    // 5. report
    expect(r.packages).toEqual([
      { package: "foo", architecture: "amd64", fromVersion: "1.0", toVersion: "2.0" },
      { package: "libbar", architecture: "amd64", fromVersion: undefined, toVersion: "1.0" },
    ]);
    expect(r.scripts.package).toBe("foo");
    expect(r.scripts.wouldHaveDoneSomething).toBe(true);
    expect(r.scripts.kinds).toContain("ldconfig");
    expect(r.entries).toBe(L.size);
    expect(r.layer.mediaType).toBe(MediaTypes.ociLayerGzip);
  });

  it("honours the image's dpkg path-exclude filters and statoverrides", async () => {
    const image = [
      ...fooV1Image(),
      dir("./etc/dpkg/"),
      dir("./etc/dpkg/dpkg.cfg.d/"),
      file(
        "./etc/dpkg/dpkg.cfg.d/docker",
        "path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\n",
      ),
      file("./var/lib/dpkg/statoverride", "root adm 4750 /usr/bin/foo\n"),
    ];
    const { fs, inventory } = await imageOf([image]);
    const deb = buildDeb(work, {
      name: "foo",
      version: "2.1",
      files: {
        "usr/bin/foo": { content: "foo v2.1\n", mode: 0o755 },
        "usr/share/doc/foo/changelog": "changes\n",
        "usr/share/doc/foo/copyright": "(c)\n",
      },
    });
    const r = await build(fs, inventory, [
      { package: "foo", architecture: "amd64", path: deb, installed: installed(inventory, "foo") },
    ]);
    const L = await readLayer(r.layer);
    expect(L.get("usr/bin/foo")).toMatchObject({ mode: 0o4750, uid: 0, gid: 4 });
    expect(L.has("usr/share/doc/foo/changelog")).toBe(false);
    expect(L.get("usr/share/doc/foo/copyright")?.content).toBe("(c)\n");
    // excluded files are still listed, as dpkg lists them
    expect(L.get("var/lib/dpkg/info/foo.list")?.content).toContain("/usr/share/doc/foo/changelog\n");
    // conffiles of 1.0 that 2.1 no longer has stay, as obsolete
    const rec = parseParagraphs(L.get("var/lib/dpkg/status")!.content)[1]!;
    expect(rec.get("Conffiles")).toContain("/etc/foo.conf");
    expect(rec.get("Conffiles")).toContain("obsolete");
    expect(L.has("etc/foo.conf")).toBe(false);
  });
});

describe("buildPatchLayer on a distroless image (status.d)", () => {
  it("rewrites status.d records and md5sums under their names, and nothing in info/", async () => {
    const control = (v: string) =>
      `Package: libfoo\nVersion: ${v}\nArchitecture: amd64\nMaintainer: Test <test@example.org>\nDescription: test package libfoo\n Built by the patch layer builder tests.\n`;
    const image: EntrySpec[] = [
      ...mergedUsrBase().filter(
        (e) => !e.name.startsWith("./var/lib/dpkg/info") && e.name !== "./usr/bin/dpkg",
      ),
      dir("./usr/lib/x86_64-linux-gnu/"),
      file("./usr/lib/x86_64-linux-gnu/libfoo.so.1", "libfoo 1\n"),
      file("./usr/lib/x86_64-linux-gnu/libfoo-old.so.1", "old\n"),
      dir("./var/lib/dpkg/status.d/"),
      file("./var/lib/dpkg/status.d/libfoo", control("1.0")),
      file(
        "./var/lib/dpkg/status.d/libfoo.md5sums",
        `${md5("libfoo 1\n")}  usr/lib/x86_64-linux-gnu/libfoo.so.1\n${md5("old\n")}  usr/lib/x86_64-linux-gnu/libfoo-old.so.1\n`,
      ),
    ];
    const { fs, inventory } = await imageOf([image]);
    expect(inventory.distroless).toBe(true);
    const v2 = buildDeb(work, {
      name: "libfoo",
      version: "1.1",
      files: { "lib/x86_64-linux-gnu/libfoo.so.1": "libfoo 1.1\n" },
    });
    const dep = buildDeb(work, { name: "libdep", version: "3", files: { "usr/lib/libdep.so.3": "dep\n" } });
    const r = await build(fs, inventory, [
      { package: "libfoo", architecture: "amd64", path: v2, installed: installed(inventory, "libfoo") },
      { package: "libdep", architecture: "amd64", path: dep },
    ]);
    const L = await readLayer(r.layer);
    expect(L.get("usr/lib/x86_64-linux-gnu/libfoo.so.1")?.content).toBe("libfoo 1.1\n");
    const rec = parseParagraphs(L.get("var/lib/dpkg/status.d/libfoo")!.content);
    expect(rec).toHaveLength(1);
    expect(rec[0]!.get("Version")).toBe("1.1");
    expect(rec[0]!.has("Status")).toBe(false); // like the image's own records
    expect(L.get("var/lib/dpkg/status.d/libfoo.md5sums")?.content).toBe(
      `${md5("libfoo 1.1\n")}  lib/x86_64-linux-gnu/libfoo.so.1\n`,
    );
    expect(parseParagraphs(L.get("var/lib/dpkg/status.d/libdep")!.content)[0]!.get("Version")).toBe("3");
    expect(L.has("var/lib/dpkg/status.d/libdep.md5sums")).toBe(true);
    expect(
      [...L.keys()].filter((k) => k.startsWith("var/lib/dpkg/info") || k === "var/lib/dpkg/status"),
    ).toEqual([]);
    // the old version's file list (its md5sums) drives removals
    expect(r.removed).toEqual(["/usr/lib/x86_64-linux-gnu/libfoo-old.so.1"]);
    expect(r.scripts.package).toBe("libfoo");
  });
});

describe("hostile packages and images", () => {
  async function failure(debs: (fs: LayeredFs, inv: Inventory) => FetchedPackage[], image = mergedUsrBase()) {
    const full = [...image, file("./var/lib/dpkg/status", BASE_FILES)];
    const { fs, inventory } = await imageOf([full]);
    const path = layerPath();
    try {
      await buildPatchLayer({
        fs,
        inventory,
        packages: debs(fs, inventory),
        compression: "gzip",
        layerPath: path,
        platform: { os: "linux", architecture: "amd64" },
        manifestMediaType: MediaTypes.ociManifest,
      });
    } catch (e) {
      expect(existsSync(path), "no half-written layer is left").toBe(false);
      if (isOcipatchError(e)) return `${e.code}: ${e.message}`;
      throw e;
    }
    return "no error";
  }
  const one = (path: string, name: string) => () => [{ package: name, architecture: "all", path }];

  it("refuses a symlink that leads out of the root", async () => {
    const deb = craftDeb(work, "escape", [
      { name: "./usr/", type: "dir" },
      { name: "./usr/share/", type: "dir" },
      { name: "./usr/share/evil", type: "sym", link: "../../../../../tmp" },
      { name: "./usr/share/evil/x", type: "file", data: "pwned" },
    ]);
    expect(await failure(one(deb, "escape"))).toMatch(/^HOSTILE_LAYER: .*leaves the image root/);
  });

  it("refuses absolute and .. paths", async () => {
    const abs = craftDeb(work, "absolute", [{ name: "/etc/passwd", type: "file", data: "x" }]);
    expect(await failure(one(abs, "absolute"))).toMatch(/^HOSTILE_LAYER: .*absolute path/);
    const dots = craftDeb(work, "dots", [{ name: "./usr/../../etc/passwd", type: "file", data: "x" }]);
    expect(await failure(one(dots, "dots"))).toMatch(/^HOSTILE_LAYER: .*escapes the root/);
  });

  it("refuses an image symlink that leads out of the root", async () => {
    const deb = craftDeb(work, "optx", [{ name: "./opt/x", type: "file", data: "x" }]);
    const image = [...mergedUsrBase(), link("./opt", "../../outside")];
    expect(await failure(one(deb, "optx"), image)).toMatch(/^HOSTILE_LAYER: .*leaves the image root/);
  });

  it("refuses a .deb that is not the package asked for", async () => {
    const deb = craftDeb(work, "other", [{ name: "./opt/", type: "dir" }]);
    expect(await failure(one(deb, "expected"))).toMatch(/^INVALID_FORMAT: .*expected expected:all/);
  });
});
