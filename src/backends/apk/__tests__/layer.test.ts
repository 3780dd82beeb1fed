import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BUILD_TIME,
  type BuiltPackage,
  buildApk,
  busyboxBinary,
  installedDb,
  makeTestKey,
  repositorySpecs,
} from "../../../../test/harness/apk/build.js";
import { type StaticServer, serveDirectory } from "../../../../test/harness/apk/serve.js";
import { writeTar } from "../../../../test/harness/apk/tar.js";
import { MediaTypes } from "../../../image/media-types.js";
import type { Inventory } from "../../../inventory/types.js";
import { type EntrySpec, MemoryLayer } from "../../../rootfs/__tests__/synthetic.js";
import { LayeredFs } from "../../../rootfs/index.js";
import type { FetchedPackage } from "../../types.js";
import { readTar, type TarEntry } from "../archive.js";
import { apkBackend } from "../backend.js";
import { fetchApks, trustPackage } from "../fetch.js";
import { parseApkInstalledDb } from "../installed-db.js";
import { buildApkLayer } from "../layer.js";
import { parseApkKey } from "../signature.js";

const key = makeTestKey();
const spec = (state: "release" | "fixes", name: string) => {
  const s = repositorySpecs(state).find((p) => p.name === name);
  if (!s) throw new Error(name);
  return s;
};
const POST_UPGRADE = "#!/bin/sh\n# refresh the applet links\n/bin/busybox --install -s\n";
const rel = repositorySpecs("release").map((s) =>
  buildApk(
    s.name === "busybox"
      ? {
          ...s,
          scripts: { ".post-install": "#!/bin/sh\necho installed\n", ".trigger": "#!/bin/sh\n" },
          triggers: ["/usr/share/old"],
        }
      : s,
    key,
  ),
);
const fix = ["busybox", "busybox-binsh", "libcrypto3"].map((n) =>
  buildApk(
    n === "busybox"
      ? {
          ...spec("fixes", n),
          // not in apk_script_types order in the control segment: scripts.tar is
          scripts: {
            ".post-upgrade": POST_UPGRADE,
            ".trigger": "#!/bin/sh\nexec /bin/busybox --install -s\n",
            ".pre-install": "#!/bin/sh\nexit 0\n",
          },
          triggers: ["/bin", "/usr/bin"],
        }
      : spec("fixes", n),
    key,
  ),
);
const relOf = (n: string) => rel.find((p) => p.spec.name === n) as BuiltPackage;

let tmp: string;
let server: StaticServer;
let fs: LayeredFs;
let inventory: Inventory;
let fetched: FetchedPackage[];
let imageEntries: EntrySpec[];

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "ocipatch-apk-layer-"));
  const repo = join(tmp, "repo", "x86_64");
  mkdirSync(repo, { recursive: true });
  for (const p of fix) writeFileSync(join(repo, p.fileName), p.bytes);
  server = await serveDirectory(join(tmp, "repo"));
  const scripts = writeTar(
    [
      {
        name: "musl-1.2.5-r8.Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=.post-install",
        type: "file",
        mode: 0o755,
        content: Buffer.from("#!/bin/sh\n"),
      },
      {
        name: `busybox-1.37.0-r12.${relOf("busybox").checksum}.post-install`,
        type: "file",
        mode: 0o755,
        content: Buffer.from("old\n"),
      },
    ],
    true,
  );
  const entries: EntrySpec[] = [
    ...rel.flatMap((p) =>
      p.spec.files.map(
        (f): EntrySpec =>
          f.symlink !== undefined
            ? { name: f.path.slice(1), type: "symlink", linkname: f.symlink }
            : { name: f.path.slice(1), content: f.content ?? "", mode: f.mode ?? 0o644 },
      ),
    ),
    { name: "lib/apk/db/installed", content: installedDb(rel) },
    { name: "lib/apk/db/scripts.tar", content: scripts },
    {
      name: "lib/apk/db/triggers",
      content: `Q1BBBBBBBBBBBBBBBBBBBBBBBBBBB= /usr/lib/x\n${relOf("busybox").checksum} /usr/share/old\n`,
    },
  ];
  imageEntries = entries;
  fs = new LayeredFs([await MemoryLayer.of(entries)], "test image");
  const inv = await apkBackend.readInventory(fs);
  inventory = { packages: inv?.packages ?? [] } as unknown as Inventory;
  const keys = [parseApkKey(key.name, key.publicPem, "test key")];
  for (const p of fix) trustPackage(p.checksum, keys);
  const items = fix.map((p) => ({
    package: p.spec.name,
    architecture: "x86_64",
    version: p.spec.version,
    url: `${server.url}/x86_64/${p.fileName}`,
    sha256: "",
    size: p.bytes.length,
    checksum: p.checksum,
  }));
  const got = await fetchApks(items, { cacheDir: join(tmp, "cache") });
  expect(got.vanished).toEqual([]);
  fetched = items.map((it, i) => ({
    package: it.package,
    architecture: it.architecture,
    path: got.files[i] as string,
    installed: inventory.packages.find((p) => p.name === it.package),
  }));
});

afterAll(async () => {
  await server?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function build(name: string, image: LayeredFs = fs) {
  const layerPath = join(tmp, `${name}.tar.gz`);
  const layer = await buildApkLayer({
    fs: image,
    inventory,
    packages: fetched,
    compression: "gzip",
    layerPath,
    platform: { os: "linux", architecture: "amd64" },
    manifestMediaType: MediaTypes.ociManifest,
  });
  const entries = new Map<string, TarEntry>(
    readTar(gunzipSync(readFileSync(layerPath)), layerPath).map((e) => [e.name.replace(/\/$/, ""), e]),
  );
  return { layer, entries };
}

describe("apk patch layer", () => {
  it("new files, whiteouts for dropped ones, the installed db as apk writes it, reproducible", async () => {
    const { layer, entries } = await build("a");
    // the emptied directory goes too (apk removes it): one whiteout for the directory
    expect(layer.removed).toEqual(["/usr/lib/engines-3"]);
    expect(entries.has("usr/lib/.wh.engines-3")).toBe(true);
    expect(entries.has("usr/lib/engines-3/.wh.padlock.so")).toBe(false);
    const bb = entries.get("bin/busybox");
    expect(bb?.data.equals(busyboxBinary())).toBe(true);
    expect(bb?.mode).toBe(0o755);
    expect(bb?.mtime).toBe(BUILD_TIME);
    expect(entries.get("bin/sh")).toMatchObject({ type: "symlink", linkname: "/bin/busybox" });
    expect(entries.get("etc/busybox-version")?.data.toString()).toBe("1.37.0-r14\n");
    // records that stay keep their place; the installed ones are appended in install order
    const db = entries.get("lib/apk/db/installed");
    expect(db?.data.toString()).toBe(installedDb([relOf("musl"), relOf("zlib"), relOf("libssl3"), ...fix]));
    expect(db?.mtime).toBe(BUILD_TIME);
    expect(layer.packages.map((p) => `${p.package} ${p.fromVersion}->${p.toVersion}`)).toEqual([
      "busybox 1.37.0-r12->1.37.0-r14",
      "busybox-binsh 1.37.0-r12->1.37.0-r14",
      "libcrypto3 3.3.6-r0->3.3.7-r2",
    ]);
    const again = await build("b");
    expect(again.layer.layer.descriptor.digest).toBe(layer.layer.descriptor.digest);
  });

  it("a directory that still holds a file no package owns keeps it: only the dropped file is whited out", async () => {
    const withLocal = new LayeredFs(
      [await MemoryLayer.of([...imageEntries, { name: "usr/lib/engines-3/local.so", content: "mine\n" }])],
      "test image with a local file",
    );
    const { layer, entries } = await build("local", withLocal);
    expect(layer.removed).toEqual(["/usr/lib/engines-3/padlock.so"]);
    expect(entries.has("usr/lib/engines-3/.wh.padlock.so")).toBe(true);
    expect(entries.has("usr/lib/.wh.engines-3")).toBe(false);
  });

  it("scripts.tar: the old version's scripts replaced by the new one's, in apk_script_types order; scripts not run are reported", async () => {
    const { layer, entries } = await build("c");
    const st = entries.get("lib/apk/db/scripts.tar");
    expect(st).toBeDefined();
    const names = readTar(st?.data ?? Buffer.alloc(0), "scripts.tar").map((e) => e.name);
    const bb = fix[0] as BuiltPackage;
    expect(names).toEqual([
      "musl-1.2.5-r8.Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=.post-install",
      `busybox-1.37.0-r14.${bb.checksum}.pre-install`,
      `busybox-1.37.0-r14.${bb.checksum}.post-upgrade`,
      `busybox-1.37.0-r14.${bb.checksum}.trigger`,
    ]);
    expect(entries.get("lib/apk/db/triggers")?.data.toString()).toBe(
      `Q1BBBBBBBBBBBBBBBBBBBBBBBBBBB= /usr/lib/x\n${bb.checksum} /bin /usr/bin\n`,
    );
    expect(layer.scriptReports?.map((r) => r.wouldHaveDoneSomething)).toEqual([true, false, false]);
    expect(layer.scriptReports?.[0]?.findings).toEqual([
      {
        script: "post-upgrade",
        version: "new",
        invocation: ".post-upgrade 1.37.0-r14 1.37.0-r12",
        actions: [{ kind: "other", detail: "/bin/busybox --install -s" }],
      },
      {
        script: "trigger",
        version: "new",
        invocation: ".trigger 1.37.0-r14 1.37.0-r12",
        actions: [{ kind: "triggers", detail: "exec /bin/busybox --install -s" }],
      },
    ]);
    expect(layer.scripts.kinds).toEqual(["other", "triggers"]);
  });

  describe("protected paths (apk_db_migrate_files_for_priority, apk_db_purge_pkg)", () => {
    /** The image with some files' content changed by its owner, and extra entries. */
    const edited = async (content: Record<string, string>, extra: EntrySpec[] = []) =>
      new LayeredFs(
        [
          await MemoryLayer.of([
            ...imageEntries.map((e) => (e.name in content ? { ...e, content: content[e.name] ?? "" } : e)),
            ...extra,
          ]),
        ],
        "test image, edited",
      );

    it("an edited file under /etc is kept; the new version's goes to .apk-new", async () => {
      const image = await edited({ "etc/ssl/openssl.cnf": "# my site config\n" });
      const { layer, entries } = await build("protected", image);
      expect(entries.has("etc/ssl/openssl.cnf")).toBe(false);
      expect(entries.get("etc/ssl/openssl.cnf.apk-new")?.data.toString()).toBe(
        "# openssl configuration stand-in\n",
      );
      expect(layer.keptConffiles).toEqual([{ package: "libcrypto3", path: "/etc/ssl/openssl.cnf" }]);
      expect(layer.warnings).toContain(
        "libcrypto3: /etc/ssl/openssl.cnf was changed in the image: kept, the new one is /etc/ssl/openssl.cnf.apk-new",
      );
      // the database still records the package's file as apk does
      expect(entries.get("lib/apk/db/installed")?.data.toString()).toContain("R:openssl.cnf\n");
    });

    it("an edited file that already has the new content: kept, no .apk-new", async () => {
      const image = await edited({ "etc/busybox-version": "1.37.0-r14\n" });
      const { layer, entries } = await build("protected-same", image);
      expect(entries.has("etc/busybox-version")).toBe(false);
      expect(entries.has("etc/busybox-version.apk-new")).toBe(false);
      expect(layer.keptConffiles).toEqual([{ package: "busybox", path: "/etc/busybox-version" }]);
    });

    it("protected_paths.d: an edited file the new version drops stays; '-' unprotects", async () => {
      const image = await edited(
        { "usr/lib/engines-3/padlock.so": "my own padlock\n", "etc/ssl/openssl.cnf": "# my site config\n" },
        [
          {
            name: "etc/apk/protected_paths.d/local.list",
            content: "# local\n+usr/lib/engines-*\n-etc/ssl\n",
          },
        ],
      );
      const { layer, entries } = await build("protected-list", image);
      expect(layer.removed).toEqual([]);
      expect(entries.has("usr/lib/engines-3/.wh.padlock.so")).toBe(false);
      expect(entries.has("usr/lib/.wh.engines-3")).toBe(false);
      expect(entries.get("etc/ssl/openssl.cnf")?.data.toString()).toBe("# openssl configuration stand-in\n");
      expect(layer.keptConffiles).toEqual([{ package: "libcrypto3", path: "/usr/lib/engines-3/padlock.so" }]);
      expect(layer.warnings).toContain(
        "libcrypto3: /usr/lib/engines-3/padlock.so was changed in the image: kept, though 3.3.7-r2 drops it",
      );
    });
  });

  describe("a file another installed package owns (apk_db_install_file, apk_pkg_replaces_file)", () => {
    const LDSO = "/lib/ld-musl-x86_64.so.1";
    /** The fixed libcrypto3 also shipping musl's dynamic loader; `pkginfo` lines added to .PKGINFO. */
    async function withLoader(dir: string, pkginfo: string[], image: LayeredFs = fs) {
      const s = spec("fixes", "libcrypto3");
      const built = buildApk(
        {
          ...s,
          // .PKGINFO lines after pkgdesc (the harness has no replaces fields)
          description: [s.description, ...pkginfo].join("\n"),
          files: [...s.files, { path: LDSO, content: Buffer.from("moved\n"), mode: 0o755 }],
        },
        key,
      );
      const d = join(tmp, "repo", dir, "x86_64");
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, built.fileName), built.bytes);
      trustPackage(built.checksum, [parseApkKey(key.name, key.publicPem, "test key")]);
      const item = {
        package: "libcrypto3",
        architecture: "x86_64",
        version: s.version,
        url: `${server.url}/${dir}/x86_64/${built.fileName}`,
        sha256: "",
        size: built.bytes.length,
        checksum: built.checksum,
      };
      const got = await fetchApks([item], { cacheDir: join(tmp, "cache") });
      const packages: FetchedPackage[] = [
        {
          package: "libcrypto3",
          architecture: "x86_64",
          path: got.files[0] as string,
          installed: inventory.packages.find((p) => p.name === "libcrypto3"),
        },
      ];
      const layerPath = join(tmp, `${dir}.tar.gz`);
      await buildApkLayer({
        fs: image,
        inventory,
        packages,
        compression: "gzip",
        layerPath,
        platform: { os: "linux", architecture: "amd64" },
        manifestMediaType: MediaTypes.ociManifest,
      });
      const entries = new Map(
        readTar(gunzipSync(readFileSync(layerPath)), layerPath).map((e) => [e.name, e]),
      );
      const db = parseApkInstalledDb(entries.get("lib/apk/db/installed")?.data.toString() ?? "");
      const owners = db.records.filter((r) => r.dirs.some((d) => d.files.some((f) => f.path === LDSO)));
      return { entries, owners: owners.map((r) => r.name) };
    }

    it("replaces (r:): the file moves to the new package; the old owner's record loses it", async () => {
      const { entries, owners } = await withLoader("replaces", ["replaces = musl"]);
      expect(owners).toEqual(["libcrypto3"]);
      expect(entries.get(LDSO.slice(1))?.data.toString()).toBe("moved\n");
    });

    it("the owner replaces the new package with a higher priority: it keeps the file, not written", async () => {
      const db = installedDb(rel).replace(/(P:musl\n(?:[^\n]+\n)*?)(F:)/, "$1r:libcrypto3\nq:5\n$2");
      expect(db).toContain("r:libcrypto3\nq:5\nF:lib\n");
      const image = new LayeredFs(
        [
          await MemoryLayer.of(
            imageEntries.map((e) => (e.name === "lib/apk/db/installed" ? { ...e, content: db } : e)),
          ),
        ],
        "test image, musl replaces libcrypto3",
      );
      const { entries, owners } = await withLoader("owner-wins", ["replaces = musl"], image);
      expect(owners).toEqual(["musl"]);
      expect(entries.has(LDSO.slice(1))).toBe(false);
    });

    it("no replaces, another origin: a RESOLVE error naming both packages", async () => {
      await expect(withLoader("conflict", [])).rejects.toMatchObject({
        code: "RESOLVE",
        message: `libcrypto3-3.3.7-r2: trying to overwrite ${LDSO} owned by musl-1.2.5-r8`,
      });
    });
  });

  /**
   * An image whose apk is apk-tools 3 (Alpine 3.23): the database files are rewritten whole, as
   * src/database.c apk_db_write_layers does it, in apk_db_sorted_installed_packages order
   * (apk_pkg_cmp_display), scripts named by apk_db_scriptdb_write (apk_blob_push_hash_hex), the
   * trigger lines by apk_db_triggers_write (apk_blob_push_hash).
   */
  describe("an image managed by apk-tools 3", () => {
    const apkTools = buildApk(
      {
        name: "apk-tools",
        version: "3.0.3-r1",
        origin: "apk-tools",
        arch: "x86_64",
        description: "Alpine Package Keeper - package manager for alpine",
        url: "https://gitlab.alpinelinux.org/alpine/apk-tools",
        license: "GPL-2.0-only",
        files: [{ path: "/sbin/apk", content: Buffer.from("apk stand-in\n"), mode: 0o755 }],
      },
      key,
    );
    /** `X1` + hex of a `Q1` checksum's 20 bytes, written out independently of the code under test. */
    const x1 = (q1: string) => `X1${Buffer.from(q1.slice(2), "base64").toString("hex")}`;
    const zlib = () => relOf("zlib");
    /** The image's scripts store: apk-tools 2 names (Q1), one of a package no longer installed. */
    const store = () =>
      writeTar(
        [
          {
            name: "gone-1.0-r0.Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=.post-install",
            type: "file",
            mode: 0o755,
            content: Buffer.from("#!/bin/sh\n"),
          },
          {
            name: `busybox-1.37.0-r12.${relOf("busybox").checksum}.post-install`,
            type: "file",
            mode: 0o755,
            content: Buffer.from("old\n"),
          },
          {
            name: `zlib-1.3.1-r2.${zlib().checksum}.post-install`,
            type: "file",
            mode: 0o755,
            content: Buffer.from("#!/bin/sh\necho zlib\n"),
          },
        ],
        true,
      );
    async function v3Image(scripts: "tar" | "gz") {
      const entries = imageEntries
        .filter((e) => e.name !== "lib/apk/db/scripts.tar")
        .map((e) => {
          // apk-tools last in the file: the order apk-tools 3 writes is not the image's
          if (e.name === "lib/apk/db/installed") return { ...e, content: installedDb([...rel, apkTools]) };
          if (e.name === "lib/apk/db/triggers")
            // a line of a package no longer installed, busybox's, zlib's with an X1 identity
            return {
              ...e,
              content: `Q1BBBBBBBBBBBBBBBBBBBBBBBBBBB= /usr/lib/x\n${relOf("busybox").checksum} /usr/share/old\n${x1(zlib().checksum)} /usr/share/zlib\n`,
            };
          return e;
        });
      const st = store();
      entries.push(
        scripts === "tar"
          ? { name: "lib/apk/db/scripts.tar", content: st }
          : { name: "lib/apk/db/scripts.tar.gz", content: gzipSync(st) },
        { name: "sbin/apk", content: "apk stand-in\n", mode: 0o755 },
      );
      return new LayeredFs([await MemoryLayer.of(entries)], `apk-tools 3 image (${scripts})`);
    }

    it("installed: every record rewritten in apk_pkg_cmp_display order", async () => {
      const { entries } = await build("v3-db", await v3Image("tar"));
      const byName = (a: BuiltPackage, b: BuiltPackage) => (a.spec.name < b.spec.name ? -1 : 1);
      const expected = installedDb(
        [apkTools, relOf("musl"), relOf("zlib"), relOf("libssl3"), ...fix].sort(byName),
      );
      expect(entries.get("lib/apk/db/installed")?.data.toString()).toBe(expected);
      expect(
        expected
          .split("\n")
          .filter((l) => l.startsWith("P:"))
          .map((l) => l.slice(2)),
      ).toEqual(["apk-tools", "busybox", "busybox-binsh", "libcrypto3", "libssl3", "musl", "zlib"]);
    });

    it("scripts.tar: X1 names, every installed package's scripts in database order; triggers rewritten", async () => {
      const { entries } = await build("v3-scripts", await v3Image("tar"));
      const bb = fix[0] as BuiltPackage;
      const tarEntries = readTar(
        entries.get("lib/apk/db/scripts.tar")?.data ?? Buffer.alloc(0),
        "scripts.tar",
      );
      expect(tarEntries.map((e) => [e.name, e.mode, e.mtime])).toEqual([
        [`busybox-1.37.0-r14.${x1(bb.checksum)}.pre-install`, 0o755, BUILD_TIME],
        [`busybox-1.37.0-r14.${x1(bb.checksum)}.post-upgrade`, 0o755, BUILD_TIME],
        [`busybox-1.37.0-r14.${x1(bb.checksum)}.trigger`, 0o755, BUILD_TIME],
        [`zlib-1.3.1-r2.${x1(zlib().checksum)}.post-install`, 0o755, BUILD_TIME],
      ]);
      expect(tarEntries.at(-1)?.data.toString()).toBe("#!/bin/sh\necho zlib\n");
      expect(entries.has("lib/apk/db/scripts.tar.gz")).toBe(false);
      expect(entries.get("lib/apk/db/triggers")?.data.toString()).toBe(
        `${bb.checksum} /bin /usr/bin\n${zlib().checksum} /usr/share/zlib\n`,
      );
    });

    it("scripts.tar.gz (no scripts.tar) stays gzipped", async () => {
      const { entries } = await build("v3-gz", await v3Image("gz"));
      expect(entries.has("lib/apk/db/scripts.tar")).toBe(false);
      const gz = entries.get("lib/apk/db/scripts.tar.gz")?.data ?? Buffer.alloc(0);
      expect(readTar(gunzipSync(gz), "scripts.tar.gz").map((e) => e.name)).toEqual([
        `busybox-1.37.0-r14.${x1((fix[0] as BuiltPackage).checksum)}.pre-install`,
        `busybox-1.37.0-r14.${x1((fix[0] as BuiltPackage).checksum)}.post-upgrade`,
        `busybox-1.37.0-r14.${x1((fix[0] as BuiltPackage).checksum)}.trigger`,
        `zlib-1.3.1-r2.${x1(zlib().checksum)}.post-install`,
      ]);
    });
  });
});
