/**
 * Files another party took over: diversions (an admin's local one, another package's), a
 * `Replaces:` takeover of an installed package's files, files an installed package keeps because it
 * replaces the upgraded one, and a file shared without `Replaces:` (refused). ORACLE: real dpkg in a
 * bookworm chroot (`dpkg --force-confold -i` of the same .debs on the same root); the patched image
 * must leave every file and every status record as dpkg did, or be refused where dpkg refuses.
 */
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isOcipatchError } from "../../src/errors.js";
import {
  buildTestDeb,
  dpkgInstall,
  dpkgUpgradeOracle,
  dpkgUpgradeRefusal,
  inChroot,
} from "../harness/dpkg-upgrade-oracle.js";

const work = mkdtempSync(join(tmpdir(), "ocipatch-takeovers-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let n = 0;
function scenarioDir(): string {
  const d = join(work, `s${++n}`);
  mkdirSync(d);
  return d;
}

const read = (root: string, p: string): string => readFileSync(join(root, p), "utf8");

/** A package's paragraph of a root's dpkg status file. */
function statusRecord(root: string, name: string): string | undefined {
  return read(root, "var/lib/dpkg/status")
    .split("\n\n")
    .find((p) => p.startsWith(`Package: ${name}\n`));
}

/** `dpkg --unpack` of `deb` in the chroot: its files on disk, the package unpacked, not configured. */
function dpkgUnpackOnly(root: string, deb: string): void {
  writeFileSync(join(root, "tmp/unpacked.deb"), readFileSync(deb));
  inChroot(root, ["dpkg", "--unpack", "/tmp/unpacked.deb"]);
}

/** Both dpkg and ocipatch refused `pkg` (`name version`) for overwriting `path`, which `owner` has. */
function expectOverwriteRefused(
  out: Awaited<ReturnType<typeof dpkgUpgradeRefusal>>,
  pkg: string,
  path: string,
  owner: string,
): void {
  expect(out.dpkgOk).toBe(false);
  expect(out.dpkgLog).toContain(`trying to overwrite '${path}', which is also in package ${owner}`);
  expect(isOcipatchError(out.error, "RESOLVE"), String(out.error)).toBe(true);
  expect((out.error as Error).message).toBe(
    `${pkg}: trying to overwrite '${path}', which is also in package ${owner} (neither package's Replaces: covers the other)`,
  );
}

/** Both dpkg and ocipatch refused foo 2.0 for overwriting bar 1.0's /usr/share/x. */
function expectBarsXRefused(out: Awaited<ReturnType<typeof dpkgUpgradeRefusal>>): void {
  expectOverwriteRefused(out, "foo 2.0", "/usr/share/x", "bar 1.0");
}

function writeAdminFile(root: string, path: string, content: string): void {
  writeFileSync(join(root, path), content);
}

describe("diversions", () => {
  it("an admin's local diversions: new files, dropped files and conffiles go to the divert-to paths, also through /bin", async () => {
    const dir = scenarioDir();
    const old = buildTestDeb(dir, {
      name: "foo",
      version: "1.0",
      files: {
        "usr/share/foo/a": "a 1\n",
        "usr/share/foo/c": "c 1\n",
        "usr/share/foo/keep": "keep\n",
        "bin/footool": "tool 1\n",
        "etc/foo/x.conf": "conf 1\n",
      },
      conffiles: ["/etc/foo/x.conf"],
    });
    const upgrade = buildTestDeb(dir, {
      name: "foo",
      version: "2.0",
      files: {
        "usr/share/foo/a": "a 2\n",
        "usr/share/foo/keep": "keep\n",
        "bin/footool": "tool 2\n",
        "etc/foo/x.conf": "conf 2\n",
      },
      conffiles: ["/etc/foo/x.conf"],
    });
    const out = await dpkgUpgradeOracle({
      work: dir,
      installed: [old],
      upgrade: [upgrade],
      setup: (root) => {
        for (const p of ["/usr/share/foo/a", "/usr/share/foo/c", "/bin/footool", "/etc/foo/x.conf"]) {
          inChroot(root, ["dpkg-divert", "--local", "--rename", "--divert", `${p}.distrib`, "--add", p]);
          writeAdminFile(root, p, `the admin's ${p}\n`);
        }
      },
    });
    expect(out.differences).toEqual([]);
    // what dpkg did, in words: the admin's files untouched, the package's versions beside them
    expect(read(out.patched, "usr/share/foo/a")).toBe("the admin's /usr/share/foo/a\n");
    expect(read(out.patched, "usr/share/foo/a.distrib")).toBe("a 2\n");
    expect(read(out.patched, "usr/share/foo/c")).toBe("the admin's /usr/share/foo/c\n");
    expect(read(out.patched, "usr/bin/footool")).toBe("the admin's /bin/footool\n");
    expect(read(out.patched, "usr/bin/footool.distrib")).toBe("tool 2\n");
    expect(read(out.patched, "etc/foo/x.conf")).toBe("the admin's /etc/foo/x.conf\n");
    expect(read(out.patched, "etc/foo/x.conf.distrib")).toBe("conf 2\n");
    expect(out.layer.keptConffiles).toEqual([]);
    // the .list keeps the package's own names
    expect(read(out.patched, "var/lib/dpkg/info/foo.list")).toContain("/usr/share/foo/a\n");
  }, 300_000);

  it("a diversion by another package: the diverted package writes the divert-to path, the diverting one its own", async () => {
    const dir = scenarioDir();
    const foo1 = buildTestDeb(dir, {
      name: "foo",
      version: "1.0",
      files: { "usr/share/foo/a": "foo's a 1\n" },
    });
    const foo2 = buildTestDeb(dir, {
      name: "foo",
      version: "2.0",
      files: { "usr/share/foo/a": "foo's a 2\n" },
    });
    const bar1 = buildTestDeb(dir, {
      name: "bar",
      version: "1.0",
      files: { "usr/share/foo/a": "bar's a 1\n" },
    });
    const bar2 = buildTestDeb(dir, {
      name: "bar",
      version: "2.0",
      files: { "usr/share/foo/a": "bar's a 2\n" },
    });
    const out = await dpkgUpgradeOracle({
      work: dir,
      installed: [foo1],
      upgrade: [foo2, bar2],
      setup: (root) => {
        const divert = ["--package", "bar", "--rename", "--divert", "/usr/share/foo/a.foo"];
        inChroot(root, ["dpkg-divert", ...divert, "--add", "/usr/share/foo/a"]);
        dpkgInstall(root, [bar1]);
      },
    });
    expect(out.differences).toEqual([]);
    expect(read(out.patched, "usr/share/foo/a.foo")).toBe("foo's a 2\n");
    expect(read(out.patched, "usr/share/foo/a")).toBe("bar's a 2\n");
  }, 300_000);

  it("a package diverted by another one, upgraded alone: the diverting package keeps its file", async () => {
    const dir = scenarioDir();
    const foo1 = buildTestDeb(dir, {
      name: "foo",
      version: "1.0",
      files: { "usr/share/foo/a": "foo's a 1\n" },
    });
    const foo2 = buildTestDeb(dir, {
      name: "foo",
      version: "2.0",
      files: { "usr/share/foo/a": "foo's a 2\n" },
    });
    const bar1 = buildTestDeb(dir, {
      name: "bar",
      version: "1.0",
      files: { "usr/share/foo/a": "bar's a 1\n" },
    });
    const out = await dpkgUpgradeOracle({
      work: dir,
      installed: [foo1],
      upgrade: [foo2],
      setup: (root) => {
        const divert = ["--package", "bar", "--rename", "--divert", "/usr/share/foo/a.foo"];
        inChroot(root, ["dpkg-divert", ...divert, "--add", "/usr/share/foo/a"]);
        dpkgInstall(root, [bar1]);
      },
    });
    expect(out.differences).toEqual([]);
    expect(read(out.patched, "usr/share/foo/a")).toBe("bar's a 1\n");
    expect(read(out.patched, "var/lib/dpkg/info/bar.list")).toContain("/usr/share/foo/a\n");
  }, 300_000);
});

describe("Replaces: takeovers of installed packages' files", () => {
  it("the replaced files leave the other packages' lists; a package left with nothing of its own disappears", async () => {
    const dir = scenarioDir();
    const debs = [
      // bar keeps y: only x leaves its list (its md5sums is left as it is)
      buildTestDeb(dir, {
        name: "bar",
        version: "1.0",
        files: { "usr/share/b/x": "x\n", "usr/share/b/y": "y\n" },
      }),
      // every file of baz is taken: it disappears
      buildTestDeb(dir, { name: "baz", version: "1.0", files: { "usr/share/z/z1": "z1\n" } }),
      // qux's own empty directory saves it: dpkg keeps it, its list down to directories
      buildTestDeb(dir, {
        name: "qux",
        version: "1.0",
        files: { "usr/share/q/q1": "q1\n" },
        dirs: ["usr/share/q-own"],
      }),
      buildTestDeb(dir, { name: "foo", version: "1.0", files: { "usr/share/foo/a": "a\n" } }),
    ];
    const foo2 = buildTestDeb(dir, {
      name: "foo",
      version: "2.0",
      control: { Replaces: "bar, baz, qux" },
      files: {
        "usr/share/foo/a": "a\n",
        "usr/share/b/x": "x 2\n",
        "usr/share/z/z1": "z1 2\n",
        "usr/share/q/q1": "q1 2\n",
      },
    });
    const out = await dpkgUpgradeOracle({ work: dir, installed: debs, upgrade: [foo2] });
    expect(out.dpkgLog).toContain("Noting disappearance of baz");
    expect(out.dpkgLog).not.toContain("Noting disappearance of bar");
    expect(out.dpkgLog).not.toContain("Noting disappearance of qux");
    expect(out.differences).toEqual([]);
    // the re-scan sees baz gone, bar and qux as they were
    expect(out.layer.erased).toEqual([{ name: "baz", architecture: "all" }]);
    expect(out.layer.installed?.map((p) => p.name)).toEqual(["foo"]);
    expect(out.layer.warnings).toEqual(["baz 1.0 disappeared: foo took over every file it had"]);
  }, 300_000);

  it("a Replaces: with an architecture qualifier: Architecture: all counts as the native architecture on either side, as dpkg counts it", async () => {
    const dir = scenarioDir();
    const debs = [
      buildTestDeb(dir, {
        name: "bar",
        version: "1.0",
        files: { "usr/share/x": "bar's x\n", "usr/share/b/own": "b\n" },
      }),
      buildTestDeb(dir, {
        name: "baz",
        version: "1.0",
        arch: "amd64",
        files: { "usr/share/y": "baz's y\n", "usr/share/z/own": "z\n" },
      }),
      buildTestDeb(dir, { name: "foo", version: "1.0", files: { "usr/share/foo/a": "a\n" } }),
    ];
    const foo2 = buildTestDeb(dir, {
      name: "foo",
      version: "2.0",
      // bar is Architecture: all, baz amd64 (the chroot's native architecture)
      control: { Replaces: "bar:amd64, baz:all" },
      files: { "usr/share/foo/a": "a\n", "usr/share/x": "foo's x\n", "usr/share/y": "foo's y\n" },
    });
    const out = await dpkgUpgradeOracle({ work: dir, installed: debs, upgrade: [foo2] });
    expect(out.dpkgLog).toContain("Replacing files in old package bar");
    expect(out.dpkgLog).toContain("Replacing files in old package baz");
    expect(out.differences).toEqual([]);
    expect(read(out.patched, "usr/share/x")).toBe("foo's x\n");
    expect(read(out.patched, "usr/share/y")).toBe("foo's y\n");
  }, 300_000);

  it("an upgrade that changes the architecture (amd64 -> all) replaces the record, as dpkg does", async () => {
    const dir = scenarioDir();
    const old = buildTestDeb(dir, {
      name: "foo",
      version: "1.0",
      arch: "amd64",
      files: { "usr/share/foo/a": "a\n", "usr/share/foo/gone": "g\n" },
    });
    const foo2 = buildTestDeb(dir, {
      name: "foo",
      version: "2.0",
      arch: "all",
      files: { "usr/share/foo/a": "a 2\n" },
    });
    const out = await dpkgUpgradeOracle({ work: dir, installed: [old], upgrade: [foo2] });
    expect(out.differences).toEqual([]);
    expect(out.layer.installed?.map((p) => `${p.name}:${p.architecture}=${p.version}`)).toEqual([
      "foo:all=2.0",
    ]);
    expect(out.layer.erased).toEqual([{ name: "foo", architecture: "amd64" }]);
  }, 300_000);

  it("a conffile taken over: dpkg marks it obsolete in the other package's Conffiles and starts from that package's hash", async () => {
    const dir = scenarioDir();
    const bar = buildTestDeb(dir, {
      name: "bar",
      version: "1.0",
      files: { "etc/bar/x.conf": "x 1\n", "etc/bar/y.conf": "y 1\n", "usr/share/b/own": "own\n" },
      conffiles: ["/etc/bar/x.conf", "/etc/bar/y.conf"],
    });
    const foo1 = buildTestDeb(dir, { name: "foo", version: "1.0", files: { "usr/share/foo/a": "a\n" } });
    const foo2 = buildTestDeb(dir, {
      name: "foo",
      version: "2.0",
      control: { Replaces: "bar (<< 2)" },
      files: { "usr/share/foo/a": "a\n", "etc/bar/x.conf": "x 2\n", "etc/bar/y.conf": "y 2\n" },
      conffiles: ["/etc/bar/x.conf", "/etc/bar/y.conf"],
    });
    const out = await dpkgUpgradeOracle({
      work: dir,
      installed: [bar, foo1],
      upgrade: [foo2],
      // the admin changed y.conf, not x.conf
      setup: (root) => writeAdminFile(root, "etc/bar/y.conf", "the admin's y\n"),
    });
    expect(out.dpkgLog).toContain("Replacing files in old package bar");
    expect(out.differences).toEqual([]);
    // what dpkg did, in words: x.conf unchanged since bar's version, so the new one is installed;
    // y.conf changed by the admin, kept, the new one beside it; bar's entries marked obsolete
    expect(read(out.patched, "etc/bar/x.conf")).toBe("x 2\n");
    expect(read(out.patched, "etc/bar/y.conf")).toBe("the admin's y\n");
    expect(read(out.patched, "etc/bar/y.conf.dpkg-dist")).toBe("y 2\n");
    expect(statusRecord(out.patched, "bar")).toMatch(/^ \/etc\/bar\/x\.conf [0-9a-f]{32} obsolete$/m);
    expect(statusRecord(out.patched, "bar")).toMatch(/^ \/etc\/bar\/y\.conf [0-9a-f]{32} obsolete$/m);
    expect(out.layer.keptConffiles).toEqual([{ package: "foo", path: "/etc/bar/y.conf" }]);
    // the re-scan reads bar's record as the layer leaves it
    expect(out.layer.installed?.map((p) => p.name).sort()).toEqual(["bar", "foo"]);
  }, 300_000);

  it("files of an installed package that replaces the upgraded one: dpkg leaves them to it (Replaced by files in installed package)", async () => {
    const dir = scenarioDir();
    const bar = buildTestDeb(dir, {
      name: "bar",
      version: "1.0",
      control: { Replaces: "foo" },
      files: {
        "usr/share/x": "bar's x\n",
        "usr/share/x2": "bar's x2\n",
        "etc/k.conf": "bar's k\n",
        "usr/share/b/own": "own\n",
      },
      conffiles: ["/etc/k.conf"],
    });
    const foo1 = buildTestDeb(dir, { name: "foo", version: "1.0", files: { "usr/share/foo/a": "a 1\n" } });
    const foo2 = buildTestDeb(dir, {
      name: "foo",
      version: "2.0",
      files: {
        "usr/share/foo/a": "a 2\n",
        "usr/share/x": "foo's x\n",
        "usr/share/x2": "foo's x2\n",
        "etc/k.conf": "foo's k\n",
      },
      conffiles: ["/etc/k.conf"],
    });
    const out = await dpkgUpgradeOracle({ work: dir, installed: [bar, foo1], upgrade: [foo2] });
    expect(out.dpkgLog).toContain("Replaced by files in installed package bar (1.0)");
    expect(out.differences).toEqual([]);
    // bar's files stay bar's, in its list; foo's list, md5sums and conffiles as dpkg left them
    expect(read(out.patched, "usr/share/x")).toBe("bar's x\n");
    expect(read(out.patched, "usr/share/x2")).toBe("bar's x2\n");
    expect(read(out.patched, "etc/k.conf")).toBe("bar's k\n");
    expect(read(out.patched, "usr/share/foo/a")).toBe("a 2\n");
    expect(read(out.patched, "var/lib/dpkg/info/bar.list")).toContain("/usr/share/x\n");
    expect(read(out.patched, "var/lib/dpkg/info/foo.list")).not.toContain("/usr/share/x");
    expect(statusRecord(out.patched, "foo")).toMatch(/^ \/etc\/k\.conf [0-9a-f]{32} obsolete$/m);
    expect(out.layer.erased).toBeUndefined();
  }, 300_000);

  it("a hardlink to a file the installed package keeps: dpkg links it to that file and gives the inode the link's mode", async () => {
    const dir = scenarioDir();
    const bar = buildTestDeb(dir, {
      name: "bar",
      version: "1.0",
      control: { Replaces: "foo" },
      files: { "usr/share/x": "bar's x\n" },
    });
    const foo1 = buildTestDeb(dir, { name: "foo", version: "1.0", files: { "usr/share/foo/a": "a 1\n" } });
    const foo2 = buildTestDeb(dir, {
      name: "foo",
      version: "2.0",
      files: { "usr/share/foo/a": "a 2\n", "usr/share/x": "foo's x\n" },
      // in the data.tar, x comes first: y is the hardlink entry that leads to it
      hardlinks: { "usr/share/y": "usr/share/x" },
    });
    const out = await dpkgUpgradeOracle({
      work: dir,
      installed: [bar, foo1],
      upgrade: [foo2],
      setup: (root) => chmodSync(join(root, "usr/share/x"), 0o600),
    });
    expect(out.dpkgLog).toContain("Replaced by files in installed package bar (1.0)");
    expect(out.differences).toEqual([]);
    // one inode, bar's content, the mode of foo's hardlink entry (the admin's 0600 is gone)
    expect(read(out.patched, "usr/share/y")).toBe("bar's x\n");
    const [x, y] = ["usr/share/x", "usr/share/y"].map((p) => statSync(join(out.patched, p)));
    expect(y!.ino).toBe(x!.ino);
    expect(x!.mode & 0o777).toBe(0o644);
    expect(read(out.patched, "var/lib/dpkg/info/foo.list")).toContain("/usr/share/y\n");
    expect(out.layer.warnings.join("\n")).not.toContain("skipped");
  }, 300_000);
});

describe("a file another installed package has, without Replaces:", () => {
  it("a symlink where another package's symlink leads to the same existing directory is left as it is, as dpkg leaves it (compared by where the links lead)", async () => {
    const dir = scenarioDir();
    const bar = buildTestDeb(dir, {
      name: "bar",
      version: "1.0",
      files: { "usr/share/b/own": "own\n" },
      links: { "usr/share/x": "foo/d" },
    });
    const foo1 = buildTestDeb(dir, {
      name: "foo",
      version: "1.0",
      files: { "usr/share/foo/d/f": "f 1\n" },
      links: { "usr/share/foo/l": "d" },
    });
    const foo2 = buildTestDeb(dir, {
      name: "foo",
      version: "2.0",
      files: { "usr/share/foo/d/f": "f 2\n" },
      // other texts, the same directories: bar's link and its own old one
      links: { "usr/share/x": "/usr/share/foo/d", "usr/share/foo/l": "./d" },
    });
    const out = await dpkgUpgradeOracle({ work: dir, installed: [bar, foo1], upgrade: [foo2] });
    expect(out.differences).toEqual([]);
    expect(readlinkSync(join(out.patched, "usr/share/x"))).toBe("foo/d");
    expect(readlinkSync(join(out.patched, "usr/share/foo/l"))).toBe("d");
    expect(read(out.patched, "usr/share/foo/d/f")).toBe("f 2\n");
    // the link stays bar's too, as a directory would
    expect(read(out.patched, "var/lib/dpkg/info/bar.list")).toContain("/usr/share/x\n");
  }, 300_000);

  it("is refused, as dpkg refuses it, naming the file and both packages", async () => {
    const dir = scenarioDir();
    const bar = buildTestDeb(dir, { name: "bar", version: "1.0", files: { "usr/share/x": "bar's x\n" } });
    const foo1 = buildTestDeb(dir, { name: "foo", version: "1.0", files: { "usr/share/foo/a": "a 1\n" } });
    const foo2 = buildTestDeb(dir, {
      name: "foo",
      version: "2.0",
      // a Replaces: that does not cover the installed version is none
      control: { Replaces: "bar (<< 1.0)" },
      files: { "usr/share/foo/a": "a 2\n", "usr/share/x": "foo's x\n" },
    });
    const out = await dpkgUpgradeRefusal({ work: dir, installed: [bar, foo1], upgrade: [foo2] });
    expectBarsXRefused(out);
    // dpkg rolled the unpack back: bar keeps its file, foo stays 1.0
    expect(read(out.oracle, "usr/share/x")).toBe("bar's x\n");
    expect(statusRecord(out.oracle, "foo")).toMatch(/^Version: 1\.0$/m);
  }, 300_000);

  it("packages unpacked but not configured, or selected for removal, own their files as installed ones do: Replaces: takes them over", async () => {
    const dir = scenarioDir();
    const bar = buildTestDeb(dir, {
      name: "bar",
      version: "1.0",
      files: { "usr/share/x": "bar's x\n", "usr/share/bar/own": "own\n" },
    });
    const baz = buildTestDeb(dir, {
      name: "baz",
      version: "1.0",
      files: { "usr/share/y": "baz's y\n", "usr/share/baz/own": "own\n" },
    });
    const foo1 = buildTestDeb(dir, { name: "foo", version: "1.0", files: { "usr/share/foo/a": "a 1\n" } });
    const foo2 = buildTestDeb(dir, {
      name: "foo",
      version: "2.0",
      control: { Replaces: "bar, baz" },
      files: { "usr/share/foo/a": "a 2\n", "usr/share/x": "foo's x\n", "usr/share/y": "foo's y\n" },
    });
    const out = await dpkgUpgradeOracle({
      work: dir,
      installed: [baz, foo1],
      upgrade: [foo2],
      setup: (root) => {
        dpkgUnpackOnly(root, bar);
        execFileSync("chroot", [root, "dpkg", "--set-selections"], { input: "baz deinstall\n" });
      },
    });
    expect(statusRecord(out.oracle, "bar")).toMatch(/^Status: install ok unpacked$/m);
    expect(statusRecord(out.oracle, "baz")).toMatch(/^Status: deinstall ok installed$/m);
    expect(out.differences).toEqual([]);
    expect(read(out.patched, "usr/share/x")).toBe("foo's x\n");
    expect(read(out.patched, "var/lib/dpkg/info/bar.list")).not.toContain("/usr/share/x");
    expect(read(out.patched, "var/lib/dpkg/info/baz.list")).not.toContain("/usr/share/y");
  }, 300_000);

  it("a package unpacked but not configured is upgraded in place by its new version, as dpkg upgrades it", async () => {
    const dir = scenarioDir();
    const bar1 = buildTestDeb(dir, {
      name: "bar",
      version: "1.0",
      files: { "usr/share/x": "x 1\n", "usr/share/bar/gone": "gone\n" },
    });
    const bar2 = buildTestDeb(dir, { name: "bar", version: "2.0", files: { "usr/share/x": "x 2\n" } });
    const out = await dpkgUpgradeOracle({
      work: dir,
      installed: [],
      upgrade: [bar2],
      setup: (root) => {
        dpkgUnpackOnly(root, bar1);
      },
    });
    expect(out.differences).toEqual([]);
    expect(read(out.patched, "usr/share/x")).toBe("x 2\n");
    expect(existsSync(join(out.patched, "usr/share/bar/gone"))).toBe(false);
  }, 300_000);

  it("a file of a package unpacked but not configured is not overwritten without Replaces:, as dpkg refuses it", async () => {
    const dir = scenarioDir();
    const bar = buildTestDeb(dir, { name: "bar", version: "1.0", files: { "usr/share/x": "bar's x\n" } });
    const foo1 = buildTestDeb(dir, { name: "foo", version: "1.0", files: { "usr/share/foo/a": "a 1\n" } });
    const foo2 = buildTestDeb(dir, {
      name: "foo",
      version: "2.0",
      files: { "usr/share/foo/a": "a 2\n", "usr/share/x": "foo's x\n" },
    });
    const out = await dpkgUpgradeRefusal({
      work: dir,
      installed: [foo1],
      upgrade: [foo2],
      setup: (root) => {
        dpkgUnpackOnly(root, bar);
      },
    });
    expectBarsXRefused(out);
  }, 300_000);

  it("a conffile a removed package (config-files) left is taken as dpkg takes it: no conflict, out of its list, obsolete there, from its hash", async () => {
    const dir = scenarioDir();
    const bar = buildTestDeb(dir, {
      name: "bar",
      version: "1.0",
      files: { "etc/bar/b.conf": "bar's b\n", "etc/bar/c.conf": "bar's c\n", "usr/share/bar/own": "own\n" },
      conffiles: ["/etc/bar/b.conf", "/etc/bar/c.conf"],
    });
    const foo1 = buildTestDeb(dir, { name: "foo", version: "1.0", files: { "usr/share/foo/a": "a 1\n" } });
    const foo2 = buildTestDeb(dir, {
      name: "foo",
      version: "2.0",
      files: { "usr/share/foo/a": "a 2\n", "etc/bar/b.conf": "foo's b\n", "etc/bar/c.conf": "foo's c\n" },
      conffiles: ["/etc/bar/b.conf", "/etc/bar/c.conf"],
    });
    const out = await dpkgUpgradeOracle({
      work: dir,
      installed: [bar, foo1],
      upgrade: [foo2],
      // bar removed, not purged; the admin changed c.conf
      setup: (root) => {
        inChroot(root, ["dpkg", "--remove", "bar"]);
        writeAdminFile(root, "etc/bar/c.conf", "the admin's c\n");
      },
    });
    expect(statusRecord(out.oracle, "bar")).toMatch(/^Status: deinstall ok config-files$/m);
    expect(out.differences).toEqual([]);
    expect(read(out.patched, "etc/bar/b.conf")).toBe("foo's b\n");
    expect(read(out.patched, "etc/bar/c.conf")).toBe("the admin's c\n");
    expect(statusRecord(out.patched, "bar")).toMatch(/^ \/etc\/bar\/b\.conf [0-9a-f]{32} obsolete$/m);
    expect(read(out.patched, "var/lib/dpkg/info/bar.list")).not.toContain("/etc/bar/b.conf");
    // the re-scan still sees bar as not installed
    expect(out.layer.installed?.map((p) => p.name)).toEqual(["foo"]);
  }, 300_000);

  it("an obsolete conffile of the other package is taken without Replaces:, as dpkg takes it", async () => {
    const dir = scenarioDir();
    const bar1 = buildTestDeb(dir, {
      name: "bar",
      version: "1.0",
      files: { "etc/o.conf": "o 1\n", "usr/share/b/own": "own\n" },
      conffiles: ["/etc/o.conf"],
    });
    // bar 1.1 drops o.conf: dpkg keeps it, listed, marked obsolete
    const bar11 = buildTestDeb(dir, { name: "bar", version: "1.1", files: { "usr/share/b/own": "own\n" } });
    const foo1 = buildTestDeb(dir, { name: "foo", version: "1.0", files: { "usr/share/foo/a": "a 1\n" } });
    const foo2 = buildTestDeb(dir, {
      name: "foo",
      version: "2.0",
      files: { "usr/share/foo/a": "a 2\n", "etc/o.conf": "o 2\n" },
      conffiles: ["/etc/o.conf"],
    });
    const out = await dpkgUpgradeOracle({
      work: dir,
      installed: [bar1, foo1],
      upgrade: [foo2],
      setup: (root) => dpkgInstall(root, [bar11]),
    });
    expect(statusRecord(out.oracle, "bar")).toMatch(/^ \/etc\/o\.conf [0-9a-f]{32} obsolete$/m);
    expect(out.differences).toEqual([]);
  }, 300_000);
});

describe("two packages of one batch that have the same file (dpkg checks each against those unpacked before it)", () => {
  /** foo and bar 1.0 installed; their 2.0 both have /usr/share/x; the Replaces: fields of the 2.0s as given. */
  function scenario(replaces: { foo?: string; bar?: string }) {
    const dir = scenarioDir();
    const installed = [
      buildTestDeb(dir, { name: "foo", version: "1.0", files: { "usr/share/foo/a": "a 1\n" } }),
      buildTestDeb(dir, { name: "bar", version: "1.0", files: { "usr/share/bar/b": "b 1\n" } }),
    ];
    const upgrade = [
      buildTestDeb(dir, {
        name: "foo",
        version: "2.0",
        ...(replaces.foo ? { control: { Replaces: replaces.foo } } : {}),
        files: { "usr/share/foo/a": "a 2\n", "usr/share/x": "foo's x\n" },
      }),
      buildTestDeb(dir, {
        name: "bar",
        version: "2.0",
        ...(replaces.bar ? { control: { Replaces: replaces.bar } } : {}),
        files: { "usr/share/bar/b": "b 2\n", "usr/share/x": "bar's x\n" },
      }),
    ];
    return { work: dir, installed, upgrade };
  }

  it("neither Replaces: covers the other: refused, as dpkg refuses the later one", async () => {
    const out = await dpkgUpgradeRefusal(scenario({}));
    expectOverwriteRefused(out, "bar 2.0", "/usr/share/x", "foo 2.0");
  }, 300_000);

  it("the earlier one's Replaces: covers the later one: the file stays the earlier one's, as dpkg leaves it", async () => {
    const out = await dpkgUpgradeOracle(scenario({ foo: "bar" }));
    expect(out.dpkgLog).toMatch(/Replaced by files in installed package foo \(2\.0\)/);
    expect(out.differences).toEqual([]);
    expect(read(out.patched, "usr/share/x")).toBe("foo's x\n");
    expect(read(out.patched, "var/lib/dpkg/info/foo.list")).toContain("/usr/share/x\n");
    expect(read(out.patched, "var/lib/dpkg/info/bar.list")).not.toContain("/usr/share/x\n");
    expect(out.layer.warnings).toContain(
      "bar 2.0: replaced by files in installed package foo 2.0: /usr/share/x kept as foo has it",
    );
  }, 300_000);

  it("the later one's Replaces: covers the earlier one: refused, where dpkg writes the file a second time", async () => {
    const out = await dpkgUpgradeRefusal(scenario({ bar: "foo" }));
    expect(out.dpkgOk, out.dpkgLog).toBe(true);
    expect(read(out.oracle, "usr/share/x")).toBe("bar's x\n");
    expect(isOcipatchError(out.error, "UNSUPPORTED"), String(out.error)).toBe(true);
    expect((out.error as Error).message).toBe(
      "bar 2.0: takes over '/usr/share/x' (Replaces:) from foo 2.0, which this patch unpacked before it; a layer cannot hold the path twice, and ocipatch does not reorder dpkg's unpacks",
    );
  }, 300_000);

  it("each one's Replaces: covers the other: dpkg asks the later one's first, so it is the takeover ocipatch refuses", async () => {
    const out = await dpkgUpgradeRefusal(scenario({ foo: "bar", bar: "foo" }));
    expect(out.dpkgOk, out.dpkgLog).toBe(true);
    expect(out.dpkgLog).toMatch(/Replacing files in old package foo \(2\.0\)/);
    expect(isOcipatchError(out.error, "UNSUPPORTED"), String(out.error)).toBe(true);
  }, 300_000);

  it("a path dpkg's path-exclude filters leaves out is checked all the same: refused, as dpkg refuses it", async () => {
    const dir = scenarioDir();
    const s = scenario({});
    const upgrade = [
      buildTestDeb(dir, {
        name: "foo",
        version: "2.0",
        files: { "usr/share/foo/a": "a 2\n", "usr/share/doc/x": "foo's\n" },
      }),
      buildTestDeb(dir, {
        name: "bar",
        version: "2.0",
        files: { "usr/share/bar/b": "b 2\n", "usr/share/doc/x": "bar's\n" },
      }),
    ];
    const out = await dpkgUpgradeRefusal({
      ...s,
      upgrade,
      setup: (root) =>
        writeFileSync(join(root, "etc/dpkg/dpkg.cfg.d/excludes"), "path-exclude=/usr/share/doc/*\n"),
    });
    expectOverwriteRefused(out, "bar 2.0", "/usr/share/doc/x", "foo 2.0");
  }, 300_000);

  it("a shared file of a Multi-Arch: same package that differs between its instances: refused, as dpkg refuses it", async () => {
    const dir = scenarioDir();
    const spec = (arch: string, version: string, x: string) =>
      buildTestDeb(dir, {
        name: "libbar",
        version,
        arch,
        control: { "Multi-Arch": "same" },
        files: { "usr/share/doc/libbar/x": x },
      });
    const installed = [spec("amd64", "1.0", "x 1\n"), spec("i386", "1.0", "x 1\n")];
    const out = await dpkgUpgradeRefusal({
      work: dir,
      installed: [],
      upgrade: [spec("amd64", "2.0", "x 2\n"), spec("i386", "2.0", "x 2, i386's\n")],
      setup: (root) => {
        inChroot(root, ["dpkg", "--add-architecture", "i386"]);
        dpkgInstall(root, installed);
      },
    });
    expect(out.dpkgOk).toBe(false);
    expect(out.dpkgLog).toContain(
      "trying to overwrite shared '/usr/share/doc/libbar/x', which is different from other instances of package libbar:i386",
    );
    expect(isOcipatchError(out.error, "RESOLVE"), String(out.error)).toBe(true);
    expect((out.error as Error).message).toBe(
      "libbar 2.0: trying to overwrite shared '/usr/share/doc/libbar/x', which is different from other instances of package libbar:i386",
    );
  }, 300_000);

  it("both instances of a Multi-Arch: same package: their common files are shared, written once, without a warning", async () => {
    const dir = scenarioDir();
    const spec = (arch: string, version: string) =>
      buildTestDeb(dir, {
        name: "libfoo",
        version,
        arch,
        control: { "Multi-Arch": "same" },
        conffiles: ["/etc/libfoo.conf"],
        files: {
          "etc/libfoo.conf": `conf ${version}\n`,
          "usr/share/doc/libfoo/x": `x ${version}\n`,
          [`usr/lib/${arch === "amd64" ? "x86_64" : "i386"}-linux-gnu/libfoo.txt`]: `${arch} ${version}\n`,
        },
      });
    const installed = [spec("amd64", "1.0"), spec("i386", "1.0")];
    const upgrade = [spec("amd64", "2.0"), spec("i386", "2.0")];
    const out = await dpkgUpgradeOracle({
      work: dir,
      installed: [],
      upgrade,
      setup: (root) => {
        inChroot(root, ["dpkg", "--add-architecture", "i386"]);
        dpkgInstall(root, installed);
      },
    });
    expect(out.differences).toEqual([]);
    expect(read(out.patched, "usr/share/doc/libfoo/x")).toBe("x 2.0\n");
    for (const arch of ["amd64", "i386"]) {
      expect(read(out.patched, `var/lib/dpkg/info/libfoo:${arch}.list`)).toContain(
        "/usr/share/doc/libfoo/x\n",
      );
    }
    expect(out.layer.warnings.filter((w) => w.includes("already written"))).toEqual([]);
  }, 300_000);

  /** foo 1.0 has /usr/share/x; bar 2.0, unpacked before foo 2.0, has it now (a file moved between packages). */
  function moved(barReplaces?: string) {
    const dir = scenarioDir();
    const installed = [
      buildTestDeb(dir, {
        name: "foo",
        version: "1.0",
        files: { "usr/share/foo/a": "a 1\n", "usr/share/x": "foo's x\n" },
      }),
      buildTestDeb(dir, { name: "bar", version: "1.0", files: { "usr/share/bar/b": "b 1\n" } }),
    ];
    const upgrade = [
      buildTestDeb(dir, {
        name: "bar",
        version: "2.0",
        ...(barReplaces ? { control: { Replaces: barReplaces } } : {}),
        files: { "usr/share/bar/b": "b 2\n", "usr/share/x": "bar's x\n" },
      }),
      buildTestDeb(dir, { name: "foo", version: "2.0", files: { "usr/share/foo/a": "a 2\n" } }),
    ];
    return { work: dir, installed, upgrade };
  }

  it("a file moved to a package unpacked first, with Replaces: on the old version: taken over, as dpkg takes it", async () => {
    const out = await dpkgUpgradeOracle(moved("foo (<< 2.0)"));
    expect(out.dpkgLog).toMatch(/Replacing files in old package foo \(1\.0\)/);
    expect(out.differences).toEqual([]);
    expect(read(out.patched, "usr/share/x")).toBe("bar's x\n");
    expect(read(out.patched, "var/lib/dpkg/info/bar.list")).toContain("/usr/share/x\n");
    expect(read(out.patched, "var/lib/dpkg/info/foo.list")).not.toContain("/usr/share/x\n");
  }, 300_000);

  it("a file moved without Replaces:: the package unpacked first is refused, as dpkg refuses it over the version still installed", async () => {
    const out = await dpkgUpgradeRefusal(moved());
    expectOverwriteRefused(out, "bar 2.0", "/usr/share/x", "foo 1.0");
  }, 300_000);

  it("a file taken from the installed version of a batch package no longer counts as its own for a third package, as dpkg sees it", async () => {
    const dir = scenarioDir();
    const installed = [
      buildTestDeb(dir, {
        name: "foo",
        version: "1.0",
        files: { "usr/share/foo/a": "a 1\n", "usr/share/x": "foo's x\n" },
      }),
      buildTestDeb(dir, { name: "bar", version: "1.0", files: { "usr/share/bar/b": "b 1\n" } }),
      buildTestDeb(dir, { name: "baz", version: "1.0", files: { "usr/share/baz/z": "z 1\n" } }),
    ];
    const upgrade = [
      // bar takes x from foo 1.0, and leaves baz's copy out (its Replaces: covers baz)
      buildTestDeb(dir, {
        name: "bar",
        version: "2.0",
        control: { Replaces: "foo (<< 2.0), baz" },
        files: { "usr/share/bar/b": "b 2\n", "usr/share/x": "bar's x\n" },
      }),
      buildTestDeb(dir, {
        name: "baz",
        version: "2.0",
        files: { "usr/share/baz/z": "z 2\n", "usr/share/x": "baz's x\n" },
      }),
      buildTestDeb(dir, { name: "foo", version: "2.0", files: { "usr/share/foo/a": "a 2\n" } }),
    ];
    const out = await dpkgUpgradeOracle({ work: dir, installed, upgrade });
    expect(out.differences).toEqual([]);
    expect(read(out.patched, "usr/share/x")).toBe("bar's x\n");
  }, 300_000);
});
