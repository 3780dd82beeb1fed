/**
 * ORACLE: real dpkg in a Debian chroot. Install the old version, then the new
 * one with `dpkg -i --force-confold`, and compare what dpkg wrote with what our
 * pure functions compute from the old record + the new .deb.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDebFile } from "../../src/backends/dpkg/deb/index.js";
import { parseParagraphs } from "../../src/backends/dpkg/debian/deb822.js";
import {
  collectContents,
  rewriteStatusFile,
  upgradeDbChanges,
} from "../../src/backends/dpkg/dpkg-db/index.js";
import { chrootTarball, debianDeb } from "../harness/debian-packages.js";

let root = "";
const work = mkdtempSync(join(tmpdir(), "ocipatch-dpkgdb-"));

beforeAll(() => {
  const tarball = chrootTarball("bookworm");
  root = join(work, "root");
  mkdirSync(root);
  execFileSync("tar", ["-xf", tarball, "-C", root, "--numeric-owner"]);
  writeFileSync(join(root, "usr/sbin/policy-rc.d"), "#!/bin/sh\nexit 101\n");
  chmodSync(join(root, "usr/sbin/policy-rc.d"), 0o755);
}, 600_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

function dpkg(...args: string[]): string {
  return execFileSync("chroot", [root, "dpkg", ...args], {
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", DEBIAN_FRONTEND: "noninteractive", LC_ALL: "C" },
    stdio: ["ignore", "pipe", "pipe"],
  }).toString();
}

function md5Of(abs: string): string | undefined {
  const p = join(root, abs);
  try {
    if (!lstatSync(p).isFile()) return undefined;
  } catch {
    return undefined;
  }
  return createHash("md5").update(readFileSync(p)).digest("hex");
}

function statusBlock(name: string): string {
  const text = readFileSync(join(root, "var/lib/dpkg/status"), "utf8");
  const block = text.split("\n\n").find((b) => b.startsWith(`Package: ${name}\n`));
  if (!block) throw new Error(`no status record for ${name}`);
  return `${block.replace(/\n+$/, "")}\n`;
}

function statusHas(name: string): boolean {
  const text = readFileSync(join(root, "var/lib/dpkg/status"), "utf8");
  return text
    .split("\n\n")
    .some((b) => b.startsWith(`Package: ${name}\n`) && !/^Status: .* not-installed$/m.test(b));
}

function infoListing(): string[] {
  return readdirSync(join(root, "var/lib/dpkg/info")).map((f) => `var/lib/dpkg/info/${f}`);
}

function othersOwning(exceptBase: string): Set<string> {
  const owned = new Set<string>();
  for (const f of readdirSync(join(root, "var/lib/dpkg/info"))) {
    if (!f.endsWith(".list") || f === `${exceptBase}.list`) continue;
    for (const l of readFileSync(join(root, "var/lib/dpkg/info", f), "utf8").split("\n")) if (l) owned.add(l);
  }
  return owned;
}

interface Scenario {
  name: string;
  oldDeb: string;
  newDeb: string;
  /** Change the image between the two installs (edit/delete conffiles...). */
  tweak?: () => void;
}

async function runScenario(s: Scenario): Promise<ReturnType<typeof upgradeDbChanges>> {
  copyFileSync(s.oldDeb, join(root, "tmp/old.deb"));
  copyFileSync(s.newDeb, join(root, "tmp/new.deb"));
  if (statusHas(s.name)) dpkg("--purge", "--force-all", s.name);
  dpkg("-i", "--force-depends", "/tmp/old.deb");
  const oldBlock = statusBlock(s.name);
  const old = parseParagraphs(oldBlock)[0]!;
  const oldBase = old.get("Multi-Arch") === "same" ? `${s.name}:${old.get("Architecture")}` : s.name;
  const oldList = readFileSync(join(root, `var/lib/dpkg/info/${oldBase}.list`), "utf8")
    .split("\n")
    .filter(Boolean);
  s.tweak?.();

  // snapshot the image as the engine would see it
  const pkg = await openDebFile(s.newDeb);
  const contents = await collectContents(pkg);
  const listingBefore = infoListing();
  const owned = othersOwning(oldBase);
  const md5Before = new Map<string, string | undefined>();
  const probe = (abs: string): string | undefined => {
    if (!md5Before.has(abs)) md5Before.set(abs, md5Of(abs));
    return md5Before.get(abs);
  };
  for (const c of pkg.conffiles) probe(c.path);
  for (const l of (old.get("Conffiles") ?? "").split("\n")) if (l.trim()) probe(l.trim().split(" ")[0]!);
  const dirs = new Map(
    oldList.map((p) => [p, existsSync(join(root, p)) && statSync(join(root, p)).isDirectory()]),
  );
  const statusBefore = readFileSync(join(root, "var/lib/dpkg/status"), "utf8");

  const changes = upgradeDbChanges({
    old,
    deb: pkg,
    contents,
    oldList,
    infoDirListing: listingBefore,
    imageMd5: probe,
    ownedByOthers: (p) => owned.has(p),
    isDirectory: (p) => dirs.get(p),
  });

  dpkg("-i", "--force-depends", "--force-confold", "/tmp/new.deb");

  // 1. the status record, byte for byte
  expect(changes.record.toString()).toBe(statusBlock(s.name));
  // ... and the whole status file rewritten in place
  const rewritten = rewriteStatusFile(statusBefore, [{ package: s.name, record: changes.record }]);
  expect(rewritten).toBe(readFileSync(join(root, "var/lib/dpkg/status"), "utf8"));

  // 2. info files: same set, same bytes, same modes
  const newBase = changes.infoFiles[0]!.path.replace(/^var\/lib\/dpkg\/info\//, "").replace(/\.[^.]+$/, "");
  const dpkgInfo = infoListing().filter(
    (p) =>
      p.startsWith(`var/lib/dpkg/info/${newBase}.`) &&
      !p.slice(`var/lib/dpkg/info/${newBase}.`.length).includes("."),
  );
  expect(changes.infoFiles.map((f) => f.path).sort()).toEqual(dpkgInfo.sort());
  for (const f of changes.infoFiles) {
    expect(f.data.equals(readFileSync(join(root, f.path))), f.path).toBe(true);
    expect(f.mode, f.path).toBe(statSync(join(root, f.path)).mode & 0o7777);
  }
  for (const f of changes.removeInfoFiles) expect(existsSync(join(root, f)), f).toBe(false);

  // 3. paths dpkg deleted are exactly our removals (directories: if dpkg could rmdir them)
  const removed = new Set([...changes.remove.files, ...changes.remove.directories]);
  for (const p of oldList) {
    const gone = !existsSync(join(root, p)) && !isSymlink(join(root, p));
    if (gone) expect(removed.has(p) || changes.conffiles.decisions.some((d) => d.path === p), p).toBe(true);
  }
  for (const p of changes.remove.files)
    expect(existsSync(join(root, p)) || isSymlink(join(root, p)), p).toBe(false);

  // 4. conffile decisions agree with what is on disk now
  for (const d of changes.conffiles.decisions) {
    const now = md5Of(d.path);
    const dist = contents.md5(d.path.slice(1));
    switch (d.action) {
      case "install":
        expect(now, d.path).toBe(dist);
        break;
      case "keep":
        expect(now, d.path).toBe(md5Before.get(d.path));
        break;
      case "keep-with-dist":
        expect(now, d.path).toBe(md5Before.get(d.path));
        expect(md5Of(`${d.path}.dpkg-dist`), d.path).toBe(dist);
        break;
      case "remove":
        expect(now, d.path).toBeUndefined();
        break;
      case "remove-keep-old":
        expect(now, d.path).toBeUndefined();
        expect(md5Of(`${d.path}.dpkg-old`), d.path).toBe(md5Before.get(d.path));
        break;
      case "none":
        break;
    }
  }
  expect(dpkg("--audit").trim()).toBe("");
  return changes;
}

function actions(c: ReturnType<typeof upgradeDbChanges>): Record<string, string> {
  return Object.fromEntries(c.conffiles.decisions.map((d) => [d.path, d.action]));
}

function isSymlink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

describe("dpkg database changes match real dpkg", () => {
  it("nginx-common bullseye → bookworm, one conffile edited, one deleted", async () => {
    const c = await runScenario({
      name: "nginx-common",
      oldDeb: debianDeb("bullseye", "nginx-common").path,
      newDeb: debianDeb("bookworm", "nginx-common").path,
      tweak: () => {
        writeFileSync(join(root, "etc/nginx/nginx.conf"), "# edited by the Dockerfile\n", { flag: "a" });
        unlinkSync(join(root, "etc/nginx/fastcgi_params"));
      },
    });
    expect(["keep", "keep-with-dist"]).toContain(actions(c)["/etc/nginx/nginx.conf"]);
    expect(["keep", "keep-with-dist"]).toContain(actions(c)["/etc/nginx/fastcgi_params"]);
  });

  it("tzdata bullseye → bookworm (debconf scripts, many files)", async () => {
    await runScenario({
      name: "tzdata",
      oldDeb: debianDeb("bullseye", "tzdata").path,
      newDeb: debianDeb("bookworm", "tzdata").path,
    });
  });

  it("openssl bullseye → bookworm (conffile, files moved)", async () => {
    await runScenario({
      name: "openssl",
      oldDeb: debianDeb("bullseye", "openssl").path,
      newDeb: debianDeb("bookworm", "openssl").path,
    });
  });

  it("libssl1.1 bullseye → bullseye-security (Multi-Arch: same → info/<pkg>:amd64.*)", async () => {
    await runScenario({
      name: "libssl1.1",
      oldDeb: debianDeb("bullseye", "libssl1.1").path,
      newDeb: debianDeb("bullseye-security", "libssl1.1").path,
    });
  });

  it("synthetic package: every conffile case, field order, no md5sums, hardlinks", async () => {
    const v1 = buildDeb("syn1", {
      control: [
        "Package: ocipatch-syn",
        "Version: 1.0-1",
        "Section: misc",
        "Priority: optional",
        "Architecture: all",
        "Maintainer: Test <test@example.org>",
        "Description: synthetic package",
        " for dpkg database tests",
      ],
      conffiles: [
        "/etc/syn/a",
        "/etc/syn/b",
        "/etc/syn/c",
        "/etc/syn/d",
        "/etc/syn/e",
        "/etc/syn/f",
        "/etc/syn/k",
      ],
      files: {
        "etc/syn/a": "a1\n",
        "etc/syn/b": "b1\n",
        "etc/syn/c": "c1\n",
        "etc/syn/d": "d1\n",
        "etc/syn/e": "e1\n",
        "etc/syn/f": "f1\n",
        "etc/syn/k": "k-same\n",
        "usr/share/syn/common": "common\n",
        "usr/share/syn/old-only": "old\n",
        "usr/share/syn/olddir/inside": "x\n",
      },
      md5sums: true,
    });
    const v2 = buildDeb("syn2", {
      control: [
        "Package: ocipatch-syn",
        "Description: synthetic package",
        " version two",
        " .",
        " with a blank line",
        "X-Custom-Field: kept verbatim",
        "Homepage: https://example.org/",
        "Version: 0:2.0-1",
        "Depends: libc6(>=2.3) |  base-files,dpkg (> 1.0)",
        "Essential: no",
        "Protected: yes",
        "Multi-Arch: foreign",
        "Architecture: all",
        "Maintainer: Test <test@example.org>",
        "Installed-Size: 42",
        "Built-Using: foo (= 1.0)",
      ],
      conffiles: [
        "/etc/syn/a",
        "/etc/syn/b",
        "remove-on-upgrade /etc/syn/d",
        "remove-on-upgrade /etc/syn/e",
        "/etc/syn/f",
        "/etc/syn/g",
        "/etc/syn/h",
        "/etc/syn/k",
      ],
      files: {
        "etc/syn/a": "a2\n",
        "etc/syn/b": "b2\n",
        "etc/syn/f": "f2\n",
        "etc/syn/g": "g2\n",
        "etc/syn/h": "h2\n",
        "etc/syn/k": "k-same\n",
        "usr/share/syn/common": "common 2\n",
        "usr/share/syn/new-only": "new\n",
      },
      hardlinks: { "usr/share/syn/hardlink": "usr/share/syn/common" },
      md5sums: false,
    });
    const c = await runScenario({
      name: "ocipatch-syn",
      oldDeb: v1,
      newDeb: v2,
      tweak: () => {
        writeFileSync(join(root, "etc/syn/a"), "a edited\n");
        writeFileSync(join(root, "etc/syn/e"), "e edited\n");
        unlinkSync(join(root, "etc/syn/f"));
        writeFileSync(join(root, "etc/syn/h"), "h created by the user\n");
      },
    });
    expect(actions(c)).toEqual({
      "/etc/syn/a": "keep-with-dist",
      "/etc/syn/b": "install",
      "/etc/syn/d": "remove",
      "/etc/syn/e": "remove-keep-old",
      "/etc/syn/f": "keep-with-dist",
      "/etc/syn/g": "install",
      "/etc/syn/h": "keep-with-dist",
      "/etc/syn/k": "keep",
    });
    expect(c.conffiles.obsolete).toEqual(["/etc/syn/c"]);
    expect(c.remove.files).toEqual(
      expect.arrayContaining(["/usr/share/syn/old-only", "/usr/share/syn/olddir/inside"]),
    );
    expect(c.remove.directories).toContain("/usr/share/syn/olddir");
    expect(c.record.get("Protected")).toBe("yes");
    expect(c.record.has("Essential")).toBe(false);
    expect(c.infoFiles.some((f) => f.path.endsWith("ocipatch-syn.md5sums"))).toBe(true);
  });
});

function buildDeb(
  id: string,
  spec: {
    control: string[];
    conffiles: string[];
    files: Record<string, string>;
    hardlinks?: Record<string, string>;
    md5sums: boolean;
  },
): string {
  const d = join(work, id);
  mkdirSync(join(d, "DEBIAN"), { recursive: true });
  writeFileSync(join(d, "DEBIAN/control"), `${spec.control.join("\n")}\n`);
  writeFileSync(join(d, "DEBIAN/conffiles"), `${spec.conffiles.join("\n")}\n`);
  let md5 = "";
  for (const [p, c] of Object.entries(spec.files)) {
    mkdirSync(join(d, p, ".."), { recursive: true });
    writeFileSync(join(d, p), c);
    if (!p.startsWith("etc/")) md5 += `${createHash("md5").update(c).digest("hex")}  ${p}\n`;
  }
  for (const [p, target] of Object.entries(spec.hardlinks ?? {}))
    execFileSync("ln", [join(d, target), join(d, p)]);
  if (spec.md5sums) writeFileSync(join(d, "DEBIAN/md5sums"), md5);
  const out = join(work, `${id}.deb`);
  execFileSync("dpkg-deb", ["--root-owner-group", "-Zxz", "--build", d, out], { stdio: "ignore" });
  return out;
}
