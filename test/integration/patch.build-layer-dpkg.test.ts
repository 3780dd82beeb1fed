/**
 * ORACLE: real dpkg in a Debian chroot. The old versions are installed by dpkg in a bookworm
 * chroot, and that root is the image (one layer); `dpkg --force-confold -i` installs the new
 * versions in a copy of it. The patch layer, applied by umoci on top of the image, must leave the
 * same tree as dpkg did: every file's type, mode, owner, content, time and link count, the dpkg
 * database included.
 */
import { execFileSync, type SpawnSyncReturns, spawnSync } from "node:child_process";
import {
  copyFileSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildDeb, type DebSpec } from "../../src/backends/dpkg/build/__tests__/fixtures.js";
import { buildPatchLayer } from "../../src/backends/dpkg/build/index.js";
import type { BuildPatchLayerResult } from "../../src/backends/dpkg/build/types.js";
import { backendViewOptions } from "../../src/backends/registry.js";
import { isOcipatchError, type OcipatchError } from "../../src/errors.js";
import { mutateImage } from "../../src/image/mutate.js";
import { readInventoryFromFs } from "../../src/inventory/index.js";
import { LayeredFs } from "../../src/rootfs/index.js";
import { openImage, openSink } from "../../src/transport/index.js";
import { newImageFromTar } from "../harness/build/umoci.js";
import { chrootTarball, fetchedDeb } from "../harness/debian-packages.js";
import { run } from "../harness/exec.js";
import { unpackImage } from "../harness/oracle.js";
import { diffRootfs } from "../harness/rootfs-diff.js";

const work = mkdtempSync(join(tmpdir(), "ocipatch-dpkg-oracle-"));
/** The bookworm chroot, extracted once; each scenario works on its own copy. */
const pristine = join(work, "pristine");

beforeAll(() => {
  mkdirSync(pristine);
  execFileSync("tar", ["-xf", chrootTarball("bookworm"), "-C", pristine, "--numeric-owner"]);
}, 600_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** What dpkg (or the chroot) changes that is no part of the installed state. */
const IGNORED = [
  /^(proc|dev|sys|run|tmp)\//,
  /^var\/(log|cache)\//,
  /^var\/lib\/dpkg\/(status-old|available|available-old|lock|lock-frontend|triggers\/Lock|triggers\/Unincorp)$/,
];

interface Deb {
  readonly name: string;
  readonly path: string;
}

interface Scenario {
  readonly id: string;
  /** Installed by dpkg, in this order, to make the image. */
  readonly old: readonly Deb[];
  /** The patch: `dpkg --force-confold -i` of all of them at once, and buildPatchLayer's input. */
  readonly new: readonly Deb[];
  /** Changes the image (its root) after the old versions are installed. */
  readonly setup?: (root: string) => void;
}

interface Comparison {
  /** dpkg's run of the patch in the oracle's copy. */
  readonly dpkg: { readonly ok: boolean; readonly output: string };
  readonly error?: OcipatchError;
  readonly result?: BuildPatchLayerResult;
  /** The patched image (OCI layout, tag `patched`). */
  readonly layout: string;
  /** The patched image unpacked by umoci, and dpkg's tree. */
  readonly rootfs: string;
  readonly oracle: string;
  /** "<kind> <path>" for every difference between the patched image and dpkg's tree. */
  readonly differences: readonly string[];
}

function dpkgIn(root: string, args: readonly string[]): SpawnSyncReturns<string> {
  return spawnSync("chroot", [root, "dpkg", ...args], {
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", DEBIAN_FRONTEND: "noninteractive", LC_ALL: "C" },
    encoding: "utf8",
  });
}

/** `dpkg -i` of the .debs inside the chroot (copied into its /tmp, removed afterwards). */
function dpkgInstall(root: string, debs: readonly Deb[], extra: readonly string[] = []) {
  const dir = join(root, "tmp/ocipatch-debs");
  mkdirSync(dir);
  for (const d of debs) copyFileSync(d.path, join(dir, basename(d.path)));
  const r = dpkgIn(root, ["-i", ...extra, ...debs.map((d) => `/tmp/ocipatch-debs/${basename(d.path)}`)]);
  rmSync(dir, { recursive: true });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

async function compareWithDpkg(s: Scenario): Promise<Comparison> {
  const dir = join(work, s.id);
  mkdirSync(dir);
  const base = join(dir, "base");
  execFileSync("cp", ["-a", pristine, base]);
  const old = dpkgInstall(base, s.old);
  if (!old.ok) throw new Error(`${s.id}: dpkg could not install the old versions:\n${old.output}`);
  s.setup?.(base);
  const oracle = join(dir, "oracle");
  execFileSync("cp", ["-a", base, oracle]);
  const dpkg = dpkgInstall(oracle, s.new, ["--force-confold"]);

  const tar = join(dir, "base.tar");
  execFileSync("tar", ["--numeric-owner", "-C", base, "-cf", tar, "."]);
  const layout = join(dir, "oci");
  await newImageFromTar(layout, "base", tar, "2026-01-01T00:00:00Z", "old versions installed by dpkg");
  const image = await openImage(`oci:${layout}:base`);
  const fs = await LayeredFs.open(image, { scratchDir: dir, ...backendViewOptions() });
  let result: BuildPatchLayerResult;
  try {
    const inventory = await readInventoryFromFs(fs);
    result = await buildPatchLayer({
      fs,
      inventory,
      packages: s.new.map((d) => fetchedDeb(inventory, d)),
      compression: "gzip",
      layerPath: join(dir, "patch.tar.gz"),
      platform: { os: "linux", architecture: "amd64" },
      manifestMediaType: image.mediaType,
    });
  } catch (e) {
    if (isOcipatchError(e)) return { dpkg, error: e, layout, rootfs: "", oracle, differences: [] };
    throw e;
  } finally {
    await fs.close();
  }
  const patched = await mutateImage(image, {
    append: [result.layer],
    history: [{ created_by: "ocipatch test", comment: "patch layer" }],
  });
  await openSink(`oci:${layout}:patched`).write(patched);
  const { rootfs } = await unpackImage(`oci:${layout}:patched`, join(dir, "bundle"));
  const differences = diffRootfs(rootfs, oracle, IGNORED, { mtimes: true })
    .filter((d) => d.kind !== "mtime" || packageFileTime(oracle, d.path))
    .map((d) => `${d.kind} ${d.path}`);
  return { dpkg, result, layout, rootfs, oracle, differences };
}

/**
 * Whether a path's time is the package's: regular files outside dpkg's database keep the time the
 * .deb gives them; directories, symlinks and the database files are dated when dpkg ran, and the
 * layer dates what it writes itself with its own time.
 */
function packageFileTime(root: string, path: string): boolean {
  return lstatSync(join(root, path)).isFile() && !path.startsWith("var/lib/dpkg/");
}

function scenarioDebs(id: string): { dir: string; deb: (spec: DebSpec) => Deb } {
  const dir = join(work, `${id}-debs`);
  mkdirSync(dir);
  return { dir, deb: (spec) => ({ name: spec.name, path: buildDeb(dir, { arch: "all", ...spec }) }) };
}

/** dpkg path-exclude configuration, as Docker's slim images have it. */
function excludes(pattern: string): (root: string) => void {
  return (root) => writeFileSync(join(root, "etc/dpkg/dpkg.cfg.d/excludes"), `path-exclude=${pattern}\n`);
}

/**
 * The patched image as containers/storage (podman) applies it, with each storage driver: vfs
 * applies a layer entry by entry (as Docker's naive differ does), overlay turns whiteouts into the
 * kernel's overlayfs ones. `read` sees the image's root.
 */
async function withPodmanImage(
  layout: string,
  driver: "vfs" | "overlay",
  read: (root: string) => void,
): Promise<void> {
  // podman wants a short runroot, and names the image after the layout's path: lower case only
  const dir = `/tmp/ocipatch-podman-${process.pid}-${driver}`;
  mkdirSync(dir);
  symlinkSync(layout, join(dir, "oci"));
  const storage = [
    `--root=${join(dir, "root")}`,
    `--runroot=${join(dir, "run")}`,
    `--storage-driver=${driver}`,
  ];
  try {
    const ref = `oci:${join(dir, "oci")}:patched`;
    const id = (await run("podman", [...storage, "pull", "-q", ref])).stdout.trim();
    const root = (await run("podman", [...storage, "image", "mount", id])).stdout.trim();
    try {
      read(root);
    } finally {
      await run("podman", [...storage, "image", "unmount", id]);
    }
  } finally {
    await run("podman", [...storage, "system", "reset", "--force"], { okCodes: [0, 1, 125] });
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A package's paragraph of a root's dpkg status file. */
function statusRecord(root: string, name: string): string | undefined {
  const text = readFileSync(join(root, "var/lib/dpkg/status"), "utf8");
  return text.split("\n\n").find((p) => p.startsWith(`Package: ${name}\n`));
}

describe("the patch layer leaves the image as dpkg --force-confold -i does", () => {
  it("a package writing /etc/ld.so.conf.d: the native ldconfig reads it, as the real one does", async () => {
    const { dir, deb } = scenarioDebs("ldconf");
    const lib = (soname: string) => {
      const out = join(dir, soname);
      writeFileSync(join(dir, "a.c"), "int foo(void) { return 1; }\n");
      execFileSync("gcc", ["-shared", "-fPIC", `-Wl,-soname,${soname}`, "-o", out, join(dir, "a.c")]);
      return readFileSync(out);
    };
    const triggers = { triggers: "activate-noawait ldconfig\n" };
    const c = await compareWithDpkg({
      id: "ldconf",
      old: [
        deb({
          name: "libfoo",
          version: "1.0",
          arch: "amd64",
          files: { "usr/lib/x86_64-linux-gnu/libfoo.so.1.0.0": lib("libfoo.so.1") },
          symlinks: { "usr/lib/x86_64-linux-gnu/libfoo.so.1": "libfoo.so.1.0.0" },
          scripts: triggers,
        }),
      ],
      new: [
        deb({
          name: "libfoo",
          version: "2.0",
          arch: "amd64",
          files: {
            "usr/lib/x86_64-linux-gnu/libfoo.so.2.0.0": lib("libfoo.so.2"),
            "usr/lib/foo-private/libpriv.so.3.1": lib("libpriv.so.3"),
            "etc/ld.so.conf.d/foo.conf": "/usr/lib/foo-private\n",
          },
          conffiles: ["/etc/ld.so.conf.d/foo.conf"],
          scripts: triggers,
        }),
      ],
    });
    expect(c.dpkg.ok, c.dpkg.output).toBe(true);
    expect(c.error?.message).toBeUndefined();
    expect(c.result?.maintainerEffects?.map((e) => [e.package, e.effect, e.status])).toEqual([
      ["libfoo", "ldconfig", "applied natively"],
    ]);
    // the same cache (the private directory's library in it) and links; the cache is dated
    // with the layer, not with the run
    expect(c.differences).toEqual(["mtime etc/ld.so.cache"]);
  }, 300_000);

  it("path-exclude added after the old version: the old copy of an excluded file is removed", async () => {
    const { deb } = scenarioDebs("exclude-doc");
    const c = await compareWithDpkg({
      id: "exclude-doc",
      old: [deb({ name: "foo", version: "1.0", files: { "usr/share/doc/foo/README": "r1\n" } })],
      new: [deb({ name: "foo", version: "2.0", files: { "usr/share/doc/foo/README": "r2\n" } })],
      setup: excludes("/usr/share/doc/*"),
    });
    expect(c.dpkg.ok, c.dpkg.output).toBe(true);
    expect(c.error?.message).toBeUndefined();
    // dpkg removed README (filtered out of the new version) and the directory left empty
    expect(c.result?.removed).toEqual(["/usr/share/doc/foo"]);
    expect(c.differences).toEqual([]);
  }, 300_000);

  it("path-exclude'd conffiles: the old hash stays in Conffiles, a new one is 'newconffile'", async () => {
    const { deb } = scenarioDebs("exclude-conffiles");
    const c = await compareWithDpkg({
      id: "exclude-conffiles",
      old: [
        deb({
          name: "foo",
          version: "1.0",
          files: { "etc/foo/x.conf": "c1\n" },
          conffiles: ["/etc/foo/x.conf"],
        }),
      ],
      new: [
        deb({
          name: "foo",
          version: "2.0",
          files: { "etc/foo/x.conf": "c2\n", "etc/foo/new.conf": "n\n" },
          conffiles: ["/etc/foo/x.conf", "/etc/foo/new.conf"],
        }),
      ],
      setup: excludes("/etc/foo/*"),
    });
    expect(c.dpkg.ok, c.dpkg.output).toBe(true);
    expect(c.error?.message).toBeUndefined();
    expect(statusRecord(c.rootfs, "foo")).toBe(statusRecord(c.oracle, "foo"));
    expect(statusRecord(c.oracle, "foo")).toMatch(/^ \/etc\/foo\/new\.conf newconffile$/m);
    expect(c.differences).toEqual([]);
  }, 300_000);

  it("a directory of the old version replaced by a file and by a hardlink", async () => {
    const { deb } = scenarioDebs("dir-to-file");
    const c = await compareWithDpkg({
      id: "dir-to-file",
      old: [
        deb({
          name: "foo",
          version: "1.0",
          files: { "usr/share/foo/d/x": "x\n", "usr/share/foo/h/sub/y": "y\n" },
        }),
      ],
      new: [
        deb({
          name: "foo",
          version: "2.0",
          files: { "usr/share/foo/d": "f\n" },
          hardlinks: { "usr/share/foo/h": "usr/share/foo/d" },
        }),
      ],
    });
    expect(c.dpkg.ok, c.dpkg.output).toBe(true);
    expect(c.error?.message).toBeUndefined();
    expect(c.result?.warnings).toEqual([]);
    expect(c.differences).toEqual([]); // umoci's unpack
    // the same tree where a container engine applies the layer
    for (const driver of ["vfs", "overlay"] as const) {
      await withPodmanImage(c.layout, driver, (root) => {
        for (const name of ["d", "h"]) {
          const st = lstatSync(join(root, "usr/share/foo", name));
          expect(st.isFile(), `${driver}: ${name}`).toBe(true);
          expect(st.nlink, `${driver}: ${name}`).toBe(2);
          expect(readFileSync(join(root, "usr/share/foo", name), "utf8")).toBe("f\n");
        }
        expect(readdirSync(join(root, "usr/share/foo")).sort()).toEqual(["d", "h"]);
      });
    }
  }, 300_000);

  it("a directory another package also owns is not replaced by a file: dpkg refuses it too", async () => {
    const { deb } = scenarioDebs("dir-shared");
    const c = await compareWithDpkg({
      id: "dir-shared",
      old: [
        deb({ name: "bar", version: "1.0", files: { "usr/share/foo/d/z": "z\n" } }),
        deb({ name: "foo", version: "1.0", files: { "usr/share/foo/d/x": "x\n" } }),
      ],
      new: [deb({ name: "foo", version: "2.0", files: { "usr/share/foo/d": "f\n" } })],
    });
    expect(c.dpkg.ok).toBe(false);
    expect(c.dpkg.output).toMatch(/trying to overwrite directory '\/usr\/share\/foo\/d' in package bar/);
    expect(c.error?.code).toBe("INVALID_FORMAT");
    expect(c.error?.message).toMatch(
      /\/usr\/share\/foo\/d is a directory in the image, which bar:all also owns$/,
    );
  }, 300_000);
});
