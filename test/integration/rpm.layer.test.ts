/**
 * The rpm patch layer against rpm itself. A root installed by dnf from the first repository state
 * (plus /etc/passwd with `daemon`, and locally edited config files) is packed into an image; the
 * second state's .rpm files go into buildRpmLayer; the image with the layer is unpacked by umoci
 * and queried with the real rpm, next to a twin of the same root upgraded by `dnf upgrade`.
 */
import { createHash } from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rpmBackend } from "../../src/backends/rpm/backend.js";
import { parseHeaderBlob } from "../../src/backends/rpm/header.js";
import { buildRpmLayer } from "../../src/backends/rpm/layer/layer.js";
import { readRpmFile } from "../../src/backends/rpm/package/rpm-file.js";
import { rpmRecord } from "../../src/backends/rpm/record.js";
import type { FetchedPackage, PatchLayer } from "../../src/backends/types.js";
import { isOcipatchError } from "../../src/errors.js";
import { mutateImage } from "../../src/image/mutate.js";
import type { Inventory } from "../../src/inventory/types.js";
import { LayeredFs } from "../../src/rootfs/index.js";
import { openImage, openSink } from "../../src/transport/index.js";
import { openSqlite } from "../../src/util/sqlite.js";
import { output, run } from "../harness/exec.js";
import { unpackImage } from "../harness/oracle.js";
import { buildRpmImage } from "../harness/rpm/image.js";
import { LAYER_SPECS, LAYER_UPDATED_SPECS } from "../harness/rpm/layer-specs.js";
import { buildRpmWorld, QA_FORMAT, type RpmWorld, rpmQueryFile, upgradedRoot } from "../harness/rpm/repo.js";

const work = mkdtempSync(join(tmpdir(), "ocipatch-rpm-layer-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let world: RpmWorld;
let twin: string;
let updates: string[];
let layout: string;
let patchedRoot: string;
let result: PatchLayer;
let layerFiles: string[];

const PASSWD = "root:x:0:0:root:/root:/bin/sh\ndaemon:x:2:2:daemon:/sbin:/sbin/nologin\n";
const GROUP = "root:x:0:\ndaemon:x:2:\n";

/** The image's view and inventory, and FetchedPackage[] for `rpms` (each upgrading its installed namesake). */
async function openBase(tag: string) {
  const image = await openImage(`oci:${layout}:${tag}`);
  const fs = await LayeredFs.open(image, { scratchDir: work });
  const inv = await rpmBackend.readInventory(fs);
  const inventory = { packages: inv?.packages ?? [] } as unknown as Inventory;
  return { image, fs, inventory };
}

async function fetched(inventory: Inventory, rpms: readonly string[]): Promise<FetchedPackage[]> {
  const out: FetchedPackage[] = [];
  for (const path of rpms) {
    const name = (await rpmQueryFile(world, path, "%{NAME}")).trim();
    const arch = (await rpmQueryFile(world, path, "%{ARCH}")).trim();
    const installed = inventory.packages.find((p) => p.name === name);
    // what the planner passes for Obsoletes: the installed packages of those names
    const obsoletes = (await readRpmFile(path)).header.obsoletes.map((o) => o.name);
    const replaces = inventory.packages.filter((p) => obsoletes.includes(p.name) && p.name !== name);
    out.push({
      package: name,
      architecture: arch,
      path,
      installed,
      ...(replaces.length ? { replaces } : {}),
    });
  }
  return out;
}

const rpmq = (root: string, args: readonly string[]) =>
  output("rpm", ["--root", root, ...args], { env: world.env }).catch(
    (e: { stdout?: string }) => e.stdout ?? "",
  );
const lines = (s: string) =>
  s
    .split("\n")
    .filter((l) => l !== "")
    .sort();

/** Index rows (by package name) and each header's tag/type/count list of a root's rpmdb.sqlite. */
function dump(root: string) {
  const db = openSqlite(join(root, "var/lib/rpm/rpmdb.sqlite"), { readonly: true });
  try {
    const names = new Map<number, string>();
    const tags = new Map<string, string>();
    for (const r of db.prepare("SELECT hnum, blob FROM Packages").all() as Array<{
      hnum: number;
      blob: Uint8Array;
    }>) {
      const blob = Buffer.from(r.blob);
      const name = parseHeaderBlob(blob, "blob").name;
      names.set(Number(r.hnum), name);
      // every tag with its type and count; install time and tid are the only values that differ
      const il = blob.readUInt32BE(0);
      const entries: string[] = [];
      for (let i = 0; i < il; i++)
        entries.push([0, 4, 12].map((o) => blob.readUInt32BE(8 + 16 * i + o)).join(":"));
      tags.set(name, entries.join(" "));
    }
    const rows: string[] = [];
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{
      name: string;
    }>;
    for (const { name } of tables) {
      if (["Packages", "sqlite_sequence", "sqlite_stat1", "Installtid"].includes(name)) continue;
      for (const r of db.prepare(`SELECT key, hnum, idx FROM "${name}"`).all() as Array<{
        key: unknown;
        hnum: number;
        idx: number;
      }>) {
        const key = typeof r.key === "string" ? r.key : Buffer.from(r.key as Uint8Array).toString("hex");
        rows.push(`${name} ${key} ${names.get(Number(r.hnum))} ${r.idx}`);
      }
    }
    const tids = db.prepare('SELECT count(*) AS n FROM "Installtid"').get() as { n: number };
    return { rows: rows.sort(), tags, tids: Number(tids.n), packages: names.size };
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  world = await buildRpmWorld(join(work, "w1"), {
    specs: LAYER_SPECS,
    install: ["hello", "tool", "confpkg", "legacy", "capped"],
  });
  // the image's own state: users, and config files edited after installation
  writeFileSync(join(world.root, "etc/passwd"), PASSWD);
  writeFileSync(join(world.root, "etc/group"), GROUP);
  writeFileSync(join(world.root, "etc/confpkg/keep.conf"), "keep = local\n");
  writeFileSync(join(world.root, "etc/confpkg/replace.conf"), "replace = local\n");
  writeFileSync(join(world.root, "etc/confpkg/stable.conf"), "stable, locally\n");
  writeFileSync(join(world.root, "etc/hello.conf"), "conf, locally\n");
  writeFileSync(join(world.root, "etc/confpkg/gone.conf"), "gone, locally\n");
  const up = await upgradedRoot(world, join(work, "w2"), LAYER_UPDATED_SPECS);
  twin = up.root;
  // what changed between the states (basesh is the same file in both)
  updates = readdirSync(up.repo)
    .filter((f) => f.endsWith(".rpm") && !f.startsWith("basesh-"))
    .map((f) => join(up.repo, f))
    .sort();
  layout = join(work, "layout");
  await buildRpmImage(layout, "base", world.root);

  const { image, fs, inventory } = await openBase("base");
  try {
    result = await buildRpmLayer({
      fs,
      inventory,
      packages: await fetched(inventory, updates),
      compression: "gzip",
      layerPath: join(work, "patch.tar.gz"),
      platform: { os: "linux", architecture: "amd64" },
      manifestMediaType: image.mediaType,
    });
    const patched = await mutateImage(image, {
      append: [result.layer],
      history: [{ created_by: "ocipatch test" }],
    });
    await openSink(`oci:${layout}:patched`).write(patched);
  } finally {
    await fs.close();
  }
  layerFiles = lines(await output("tar", ["-tzf", join(work, "patch.tar.gz")]));
  patchedRoot = (await unpackImage(`oci:${layout}:patched`, join(work, "bundle"))).rootfs;
}, 900_000);

describe("buildRpmLayer against rpm and a dnf-upgraded twin", () => {
  it("rpm -qa of the patched root equals the twin's", async () => {
    const got = lines(await rpmq(patchedRoot, ["-qa", "--qf", QA_FORMAT]));
    expect(got).toEqual(lines(await rpmq(twin, ["-qa", "--qf", QA_FORMAT])));
    expect(got).toContain("hello 2:1.0-1.el9 x86_64 hello-1.0-1.el9.src.rpm");
    expect(got).toContain("confpkg (none):2-1 noarch confpkg-2-1.src.rpm");
    expect(got).toContain("newdep (none):1-1 noarch newdep-1-1.src.rpm");
    expect(got.some((l) => l.startsWith("legacy "))).toBe(false);
  });

  it("rpm -Va reports the same as on the twin", async () => {
    // the twin ran dnf (history database, caches) — outside any package; -Va only lists package files
    const norm = (s: string) =>
      lines(s).filter((l) => !l.includes("/var/lib/dnf") && !l.includes("/var/cache"));
    const got = norm(await rpmq(patchedRoot, ["-Va"]));
    expect(got).toEqual(norm(await rpmq(twin, ["-Va"])));
    // the locally edited config files are the only findings
    expect(got.every((l) => / c \/etc\//.test(l))).toBe(true);
  });

  it("the index tables answer -qf, --whatprovides, --whatrequires, -q --requires/--provides", async () => {
    for (const args of [
      ["-qf", "/usr/share/confpkg/added.txt"],
      ["-qf", "/usr/share/newdep/file"],
      ["-q", "--whatrequires", "newdep"],
      ["-qf", "/usr/bin/hello"],
      ["-qf", "/usr/share/tool/ünïcödé.txt"],
      ["-qf", "/usr/share/tool/a/b"],
      ["-q", "--whatprovides", "libhello"],
      ["-q", "--whatprovides", "tool-cli"],
      ["-q", "--whatrequires", "hello-libs"],
      ["-q", "--whatrequires", "basesh"],
      ["-q", "--whatconflicts", "hello"],
      ["-q", "--whatobsoletes", "oldtool"],
      ["-q", "--requires", "tool"],
      ["-q", "--provides", "hello-libs"],
      ["-q", "--triggers", "confpkg"],
      ["-q", "--scripts", "confpkg"],
      ["-q", "--qf", "[%{FILENAMES} %{FILESTATES:fstate}\\n]", "confpkg"],
      ["-q", "--qf", "%{INSTALLCOLOR} %{ARCHIVESIZE} %{SIGMD5}\\n", "hello"],
    ]) {
      const got = await rpmq(patchedRoot, args);
      expect(got, args.join(" ")).toBe(await rpmq(twin, args));
      expect(got.trim(), args.join(" ")).not.toBe("");
    }
    expect((await rpmq(patchedRoot, ["-qf", "/usr/share/confpkg/added.txt"])).trim()).toBe(
      "confpkg-2-1.noarch",
    );
    // the old version's file is owned by nobody
    const dropped = ["-qf", "/usr/share/confpkg/dropped.txt"];
    expect(await rpmq(patchedRoot, dropped)).toBe(await rpmq(twin, dropped));
    expect(await rpmq(patchedRoot, dropped)).not.toContain("confpkg");
  });

  it("every index table has the rows rpm wrote on the twin, the headers the same tags", () => {
    const ours = dump(patchedRoot);
    const theirs = dump(twin);
    expect(ours.rows).toEqual(theirs.rows);
    expect(ours.rows.some((r) => r.startsWith("Triggername basesh confpkg"))).toBe(true);
    expect([...ours.tags].sort()).toEqual([...theirs.tags].sort());
    expect(ours.tids).toBe(ours.packages);
  });

  it("the rpm database agrees with rpm's own consistency check", async () => {
    // a rebuilt database gives the same answers (rebuilddb reads every header back)
    const copy = join(work, "rebuilt");
    await run("cp", ["-a", patchedRoot, copy]);
    await run("rpm", ["--root", copy, "--rebuilddb"], { env: world.env });
    expect(lines(await rpmq(copy, ["-qa", "--qf", QA_FORMAT]))).toEqual(
      lines(await rpmq(patchedRoot, ["-qa", "--qf", QA_FORMAT])),
    );
    // one checkpointed file: no -wal in the layer, the image's -wal and -shm whited out
    expect(layerFiles.filter((f) => f.includes("rpmdb.sqlite"))).toEqual([
      "var/lib/rpm/.wh.rpmdb.sqlite-shm",
      "var/lib/rpm/.wh.rpmdb.sqlite-wal",
      "var/lib/rpm/rpmdb.sqlite",
    ]);
  });

  it("config files end as rpm leaves them on the twin", () => {
    for (const f of [
      "etc/confpkg/keep.conf",
      "etc/confpkg/keep.conf.rpmnew",
      "etc/confpkg/replace.conf",
      "etc/confpkg/replace.conf.rpmsave",
      "etc/confpkg/gone.conf.rpmsave",
      "etc/confpkg/same.conf",
      "etc/confpkg/stable.conf",
      "etc/hello.conf",
    ]) {
      expect(readFileSync(join(patchedRoot, f), "utf8"), f).toBe(readFileSync(join(twin, f), "utf8"));
    }
    expect(readFileSync(join(patchedRoot, "etc/confpkg/keep.conf"), "utf8")).toBe("keep = local\n");
    expect(readFileSync(join(patchedRoot, "etc/confpkg/replace.conf.rpmsave"), "utf8")).toBe(
      "replace = local\n",
    );
    expect(existsSync(join(patchedRoot, "etc/confpkg/stable.conf.rpmnew"))).toBe(false);
    expect(existsSync(join(patchedRoot, "etc/confpkg/gone.conf"))).toBe(false);
    expect(existsSync(join(patchedRoot, "etc/hello.conf.rpmnew"))).toBe(false);
    expect([...result.keptConffiles].sort((a, b) => (a.path < b.path ? -1 : 1))).toEqual([
      { package: "confpkg", path: "/etc/confpkg/keep.conf" },
      { package: "confpkg", path: "/etc/confpkg/stable.conf" },
      { package: "hello", path: "/etc/hello.conf" },
    ]);
  });

  it("files: the dropped one gone, owners from the image's passwd, setuid, hard links, mtimes", () => {
    expect(existsSync(join(patchedRoot, "usr/share/confpkg/dropped.txt"))).toBe(false);
    // the obsoleted package's files are gone, the one its obsoleter also ships is the new one
    expect(existsSync(join(patchedRoot, "usr/share/legacy/file"))).toBe(false);
    expect(readFileSync(join(patchedRoot, "usr/share/legacy/shared.txt"), "utf8")).toBe("shared, new\n");
    expect(existsSync(join(twin, "usr/share/legacy/file"))).toBe(false);
    expect(result.removed).toContain("/usr/share/confpkg/dropped.txt");
    for (const f of ["srv/confpkg", "srv/confpkg/owned", "usr/bin/tool", "usr/share/confpkg/data"]) {
      const a = lstatSync(join(patchedRoot, f));
      const b = lstatSync(join(twin, f));
      // a directory's mtime on the twin is when rpm last wrote into it: only files keep the header's
      const t = (s: typeof a) => (s.isDirectory() ? 0 : Math.floor(s.mtimeMs / 1000));
      expect([a.mode, a.uid, a.gid, t(a)], f).toEqual([b.mode, b.uid, b.gid, t(b)]);
    }
    expect(lstatSync(join(patchedRoot, "srv/confpkg/owned")).uid).toBe(2);
    expect(lstatSync(join(patchedRoot, "usr/bin/tool")).mode & 0o7777).toBe(0o4755);
    const data = lstatSync(join(patchedRoot, "usr/share/confpkg/data"));
    expect(lstatSync(join(patchedRoot, "usr/share/confpkg/data-link")).ino).toBe(data.ino);
    const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");
    expect(sha(join(patchedRoot, "usr/share/confpkg/data-link"))).toBe(
      sha(join(twin, "usr/share/confpkg/data-link")),
    );
    // %ghost files are not written; directories the image has unchanged are not rewritten
    expect(layerFiles).not.toContain("var/lib/hello/state");
    expect(layerFiles).not.toContain("usr/share/tool/a/");
    expect(layerFiles).not.toContain("usr/");
  });

  it("%caps: the file's own tar entry carries security.capability; umoci sets it; rpm -V agrees", async () => {
    // the bytes libcap writes for the same texts (what rpm's cap_set_fd leaves on the twin)
    const oracle = `
import os, subprocess, sys, tarfile, json
d = sys.argv[2]
want = {}
for path, text in (("usr/bin/pinger", "cap_net_raw=ep"), ("usr/libexec/capped/helper", "cap_setuid,cap_net_bind_service+p")):
    f = os.path.join(d, "oracle")
    open(f, "w").close()
    subprocess.run(["setcap", text, f], check=True)
    want[path] = os.getxattr(f, "security.capability").hex()
    os.unlink(f)
got = {}
with tarfile.open(sys.argv[1], encoding="utf-8") as t:
    for m in t.getmembers():
        v = m.pax_headers.get("SCHILY.xattr.security.capability")
        if v is not None:
            got[m.name] = v.encode("utf-8", "surrogateescape").hex()
print(json.dumps({"want": want, "got": got}))
`;
    const r = JSON.parse(await output("python3", ["-c", oracle, join(work, "patch.tar.gz"), work])) as {
      want: Record<string, string>;
      got: Record<string, string>;
    };
    expect(r.want["usr/bin/pinger"]).toBe("0100000200200000000000000000000000000000");
    expect(r.got).toEqual(r.want);
    expect(result.warnings.filter((w) => w.includes("capabilit"))).toEqual([]);
    // umoci unpack (as root) set the xattrs: getcap reads them as on the dnf-upgraded twin
    const getcap = async (root: string) =>
      lines(
        await output("getcap", [
          join(root, "usr/bin/pinger"),
          join(root, "usr/libexec/capped/helper"),
          join(root, "usr/libexec/capped/plain"),
        ]),
      ).map((l) => l.slice(root.length));
    const caps = await getcap(patchedRoot);
    expect(caps).toEqual([
      "/usr/bin/pinger cap_net_raw=ep",
      "/usr/libexec/capped/helper cap_setuid,cap_net_bind_service=p",
    ]);
    expect(caps).toEqual(await getcap(twin));
    // rpm -V compares the file capabilities with the header's (a mismatch shows as "P")
    expect(await rpmq(patchedRoot, ["-V", "capped"])).toBe("");
    expect(await rpmq(patchedRoot, ["-q", "--qf", "[%{FILECAPS}|]", "capped"])).toBe(
      "cap_net_raw=ep|cap_setuid,cap_net_bind_service=p||",
    );
  });

  it("reports the scriptlets it did not run, and the records the re-scan needs", async () => {
    const conf = result.scriptReports?.find((r) => r.package === "confpkg");
    expect(conf?.findings.map((f) => `${f.version} ${f.script}`)).toEqual([
      "new %post",
      "old %postun",
      "new %trigger",
    ]);
    expect(conf?.kinds).toEqual(expect.arrayContaining(["ldconfig", "systemd", "triggers", "alternatives"]));
    expect(result.scripts.wouldHaveDoneSomething).toBe(true);
    const newdep = result.scriptReports?.find((r) => r.package === "newdep");
    expect(newdep?.findings.map((f) => `${f.version} ${f.script} ${f.invocation}`)).toEqual([
      "old %postun of legacy %postun 0",
    ]);
    // installed: what readInventory reads from the patched image
    const image = await openImage(`oci:${layout}:patched`);
    const fs = await LayeredFs.open(image, { scratchDir: work });
    try {
      const inv = await rpmBackend.readInventory(fs);
      const view = (ps: readonly { name: string; version: string; native: unknown }[]) =>
        ps.map((p) => `${p.name} ${p.version} ${rpmRecord(p).hnum}`).sort();
      expect(view(result.installed ?? [])).toEqual(view(inv?.packages ?? []));
    } finally {
      await fs.close();
    }
  });
});

describe("buildRpmLayer is reproducible", () => {
  it("gives the same layer bytes for the same image and packages", async () => {
    const { image, fs, inventory } = await openBase("base");
    try {
      const again = await buildRpmLayer({
        fs,
        inventory,
        packages: await fetched(inventory, updates),
        compression: "gzip",
        layerPath: join(work, "again.tar.gz"),
        platform: { os: "linux", architecture: "amd64" },
        manifestMediaType: image.mediaType,
      });
      expect(again.layer.digest).toBe(result.layer.digest);
      expect(again.layer.diffId).toBe(result.layer.diffId);
      // install time: the newest build time of the packages, or the caller's `now`
      const buildTimes = await Promise.all(
        updates.map(async (u) => Number(await rpmQueryFile(world, u, "%{BUILDTIME}"))),
      );
      const installTimes = (
        await rpmq(patchedRoot, ["-q", "--qf", "%{INSTALLTIME} %{INSTALLTID}\\n", "hello", "newdep"])
      ).trim();
      expect(installTimes).toBe(`${Math.max(...buildTimes)} ${Math.max(...buildTimes)}\n`.repeat(2).trim());
      const at = await buildRpmLayer({
        fs,
        inventory,
        packages: await fetched(inventory, updates),
        compression: "gzip",
        layerPath: join(work, "at.tar.gz"),
        platform: { os: "linux", architecture: "amd64" },
        manifestMediaType: image.mediaType,
        now: new Date(1_700_000_000_000),
      });
      const hello = at.installed?.find((p) => p.name === "hello");
      expect(hello && rpmRecord(hello).header.tags.get(1008)).toEqual({
        type: "int",
        values: [1_700_000_000],
      });
    } finally {
      await fs.close();
    }
  });
});

describe("buildRpmLayer refuses hostile input, leaving no layer file", () => {
  it("a path through an image symlink that climbs out of the root", async () => {
    // an image whose /usr/share/confpkg is a symlink climbing above the root
    const root = join(work, "hostile-root");
    await run("cp", ["-a", world.root, root]);
    rmSync(join(root, "usr/share/confpkg"), { recursive: true });
    await run("ln", ["-s", "../../../../../../tmp/outside", join(root, "usr/share/confpkg")]);
    await buildRpmImage(layout, "hostile", root);
    const { image, fs, inventory } = await openBase("hostile");
    const layerPath = join(work, "hostile.tar.gz");
    try {
      const err = await buildRpmLayer({
        fs,
        inventory,
        packages: await fetched(inventory, updates),
        compression: "gzip",
        layerPath,
        platform: { os: "linux", architecture: "amd64" },
        manifestMediaType: image.mediaType,
      }).catch((e: unknown) => e);
      expect(isOcipatchError(err) ? `${err.code} ${err.message}` : String(err)).toMatch(/^HOSTILE_LAYER /);
      expect((err as Error).message).not.toContain("\n");
      expect((err as Error).message).toContain("leaves the image root");
      expect(existsSync(layerPath)).toBe(false);
    } finally {
      await fs.close();
    }
  });

  it("a package whose cpio payload has a ../ path", async () => {
    const dir = join(work, "evil");
    mkdirSync(dir, { recursive: true });
    const evil = join(dir, "confpkg-9-1.noarch.rpm");
    const good = updates.find((u) => u.includes("confpkg-2"))!;
    // same header, payload rewritten: an uncompressed cpio whose member climbs out of the root
    const bytes = readFileSync(good);
    const pkg = await readRpmFile(good);
    const name = "./../../etc/evil";
    const cpio = cpioMember(name, 0o100644, Buffer.from("x\n"));
    writeFileSync(evil, Buffer.concat([bytes.subarray(0, pkg.payloadOffset), cpio]));
    const { image, fs, inventory } = await openBase("base");
    const layerPath = join(work, "evil.tar.gz");
    try {
      const err = await buildRpmLayer({
        fs,
        inventory,
        packages: await fetched(inventory, [evil]),
        compression: "gzip",
        layerPath,
        platform: { os: "linux", architecture: "amd64" },
        manifestMediaType: image.mediaType,
      }).catch((e: unknown) => e);
      expect(isOcipatchError(err)).toBe(true);
      expect((err as Error).message).not.toContain("\n");
      expect(existsSync(layerPath)).toBe(false);
    } finally {
      await fs.close();
    }
  });

  it("a package whose %caps text libcap would refuse", async () => {
    const dir = join(work, "badcaps");
    mkdirSync(dir, { recursive: true });
    const bad = join(dir, "capped-9-1.noarch.rpm");
    const good = updates.find((u) => u.includes("capped-2"))!;
    // the same package with FILECAPS naming a capability that does not exist (same length)
    const bytes = readFileSync(good);
    const at = bytes.indexOf("cap_net_raw=ep\0");
    expect(at).toBeGreaterThan(0);
    expect(bytes.indexOf("cap_net_raw=ep\0", at + 1)).toBe(-1);
    writeFileSync(
      bad,
      Buffer.concat([bytes.subarray(0, at), Buffer.from("cap_net_rax=ep"), bytes.subarray(at + 14)]),
    );
    const { image, fs, inventory } = await openBase("base");
    const layerPath = join(work, "badcaps.tar.gz");
    try {
      const err = await buildRpmLayer({
        fs,
        inventory,
        // rpm itself refuses the file (its header digest no longer matches): named by hand
        packages: [
          {
            package: "capped",
            architecture: "noarch",
            path: bad,
            installed: inventory.packages.find((p) => p.name === "capped"),
          },
        ],
        compression: "gzip",
        layerPath,
        platform: { os: "linux", architecture: "amd64" },
        manifestMediaType: image.mediaType,
      }).catch((e: unknown) => e);
      expect(isOcipatchError(err) && err.code).toBe("INVALID_FORMAT");
      expect((err as Error).message).toBe(
        `${bad}: /usr/bin/pinger: file capabilities "cap_net_rax=ep" are not valid`,
      );
      expect(existsSync(layerPath)).toBe(false);
    } finally {
      await fs.close();
    }
  });
});

/** One gzip-compressed newc cpio archive with one member and the trailer (the payload compressor of the test packages). */
function cpioMember(name: string, mode: number, data: Buffer): Buffer {
  const member = (n: string, m: number, d: Buffer) => {
    const hex = (v: number) => v.toString(16).padStart(8, "0");
    const nb = Buffer.from(`${n}\0`);
    const h = `070701${[1, m, 0, 0, 1, 0, d.length, 0, 0, 0, 0, nb.length, 0].map(hex).join("")}`;
    const pad1 = (4 - ((110 + nb.length) % 4)) % 4;
    const pad2 = (4 - (d.length % 4)) % 4;
    return Buffer.concat([Buffer.from(h), nb, Buffer.alloc(pad1), d, Buffer.alloc(pad2)]);
  };
  return gzipSync(Buffer.concat([member(name, mode, data), member("TRAILER!!!", 0, Buffer.alloc(0))]));
}

describe("buildRpmLayer with signed packages", () => {
  let signedTwin: string;
  let signedRoot: string;
  let signedResult: PatchLayer;

  beforeAll(async () => {
    const dir = join(work, "signed");
    const gh = join(dir, "gnupg");
    mkdirSync(gh, { recursive: true, mode: 0o700 });
    const gpg = ["--batch", "--quiet", "--homedir", gh];
    await run("gpg", [
      ...gpg,
      "--passphrase",
      "",
      "--quick-gen-key",
      "rsa signer <rsa@example.invalid>",
      "rsa2048",
      "sign",
      "never",
    ]);
    const key = join(dir, "key.asc");
    writeFileSync(key, await output("gpg", [...gpg, "--armor", "--export"]));
    // the update packages, signed (RSAHEADER), with the key imported in the image and the twin
    const signed = join(dir, "rpms");
    mkdirSync(signed, { recursive: true });
    for (const u of updates) await run("cp", [u, signed]);
    const files = readdirSync(signed).map((f) => join(signed, f));
    await run(
      "rpmsign",
      [
        "--addsign",
        "--define",
        "_gpg_name rsa signer <rsa@example.invalid>",
        "--define",
        `_gpg_path ${gh}`,
        "--define",
        "__gpg /usr/bin/gpg",
        ...files,
      ],
      { env: world.env },
    );
    const base = join(dir, "root");
    await run("cp", ["-a", world.root, base]);
    await run("rpm", ["--root", base, "--import", key], { env: world.env });
    signedTwin = join(dir, "twin");
    await run("cp", ["-a", base, signedTwin]);
    await run("rpm", ["--root", signedTwin, "-U", "--nodeps", "--noscripts", "--notriggers", ...files], {
      env: world.env,
    });
    await buildRpmImage(layout, "signed", base);
    const { image, fs, inventory } = await openBase("signed");
    try {
      signedResult = await buildRpmLayer({
        fs,
        inventory,
        packages: await fetched(inventory, files),
        compression: "gzip",
        layerPath: join(dir, "patch.tar.gz"),
        platform: { os: "linux", architecture: "amd64" },
        manifestMediaType: image.mediaType,
      });
      const patched = await mutateImage(image, {
        append: [signedResult.layer],
        history: [{ created_by: "ocipatch test" }],
      });
      await openSink(`oci:${layout}:signed-patched`).write(patched);
    } finally {
      await fs.close();
    }
    signedRoot = (await unpackImage(`oci:${layout}:signed-patched`, join(dir, "bundle"))).rootfs;
  }, 600_000);

  it("merges the header signatures into the installed headers as rpm does", async () => {
    const qf = "%{NAME} %{RSAHEADER:pgpsig} %{SHA256HEADER} %{SIGMD5}\\n";
    const got = lines(await rpmq(signedRoot, ["-qa", "--qf", qf]));
    expect(got).toEqual(lines(await rpmq(signedTwin, ["-qa", "--qf", qf])));
    expect(got.find((l) => l.startsWith("hello "))).toMatch(/^hello RSA\/SHA\d+, /);
    expect(lines(await rpmq(signedRoot, ["-Va"])).filter((l) => !/ c \/etc\//.test(l))).toEqual([]);
    const ours = dump(signedRoot);
    const theirs = dump(signedTwin);
    expect([...ours.tags].sort()).toEqual([...theirs.tags].sort());
    expect(ours.rows).toEqual(theirs.rows);
    expect(signedResult.packages.map((p) => p.package).sort()).toEqual([
      "capped",
      "confpkg",
      "hello",
      "hello-libs",
      "newdep",
      "tool",
    ]);
  });
});
