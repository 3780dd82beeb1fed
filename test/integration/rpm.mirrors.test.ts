/**
 * rpm repositories given by `mirrorlist=` or `metalink=` (no baseurl), as AlmaLinux, Rocky, Amazon
 * Linux 2023 and Fedora images ship them: the signed two-state world served over loopback HTTP, the
 * lists written in the formats librepo reads (plain URL lines; MirrorManager metalinks with
 * repomd.xml digests). A dead mirror is skipped; a metalink is the trust anchor for repomd.xml (a
 * mismatch on every mirror is one line and nothing is cached); `$releasever`/`$basearch` are
 * substituted in the list URL and in the mirrors'; a list with no usable mirror is one line. End to
 * end: `ocipatch patch` of an image whose only repository is a mirrorlist leaves nothing fixable.
 */
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readRpmInventory } from "../../src/backends/rpm/backend.js";
import { planRpm } from "../../src/backends/rpm/plan.js";
import { loadRpmRepositories } from "../../src/backends/rpm/repositories.js";
import type { PlanRequest } from "../../src/backends/types.js";
import { OcipatchError } from "../../src/errors.js";
import type { InstalledPackage } from "../../src/inventory/types.js";
import { LayeredFs } from "../../src/rootfs/index.js";
import { openImage } from "../../src/transport/index.js";
import { updateDatabase } from "../../src/vulndb/index.js";
import { type StaticServer, serveDirectory } from "../harness/apk/serve.js";
import { buildRpmImage } from "../harness/rpm/image.js";
import { buildSignedWorld, listFiles, type SignedWorld } from "../harness/rpm/signed.js";
import { runCli, tempDir } from "./vulndb.fixtures.js";

const PLATFORM = { architecture: "amd64", os: "linux" } as const;
const SYSTEM = { versionId: "9.4" };
const OSV = join(import.meta.dirname, "fixtures/osv-almalinux");

let tmp: string;
let served: string;
let world: SignedWorld;
let server: StaticServer;
let layout: string;
let dead: string;
let repomdSha256: string;
let repomdSha512: string;
const opened: LayeredFs[] = [];

const url = (p: string) => `${server.url}/${p}`;

/** A .repo file as AlmaLinux ships it: baseurl commented out, `line` (mirrorlist=/metalink=) instead. */
const repoFile = (line: string, repoGpgcheck = 1) =>
  `[baseos]\nname=AlmaLinux $releasever - BaseOS\n# baseurl=https://repo.almalinux.org/almalinux/$releasever/BaseOS/$basearch/os/\n${line}\nenabled=1\ngpgcheck=1\nrepo_gpgcheck=${repoGpgcheck}\ncountme=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-test\n`;

/** An image of `files` (path → content), over the dnf root when `withRoot`. */
async function image(tag: string, files: Record<string, string>, withRoot = false): Promise<LayeredFs> {
  const root = join(tmp, `img-${tag}`);
  mkdirSync(root, { recursive: true });
  if (withRoot) cpSync(world.root, root, { recursive: true, verbatimSymlinks: true });
  for (const [p, c] of Object.entries({
    ...files,
    "etc/pki/rpm-gpg/RPM-GPG-KEY-test": world.key.armored,
  })) {
    mkdirSync(join(root, p, ".."), { recursive: true });
    writeFileSync(join(root, p), c);
  }
  await buildRpmImage(layout, tag, root);
  const f = await LayeredFs.open(await openImage(`oci:${layout}:${tag}`));
  opened.push(f);
  return f;
}

/** Serve `text` at `served/path`. */
function serve(path: string, text: string): string {
  mkdirSync(join(served, path, ".."), { recursive: true });
  writeFileSync(join(served, path), text);
  return url(path);
}

/** A metalink as MirrorManager writes it for `repomd.xml`. */
function metalink(sha256: string, sha512: string | undefined, mirrors: readonly [string, number][]): string {
  return `<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/" type="dynamic" pubdate="Thu, 03 Dec 2026 10:00:00 GMT" generator="mirrormanager" xmlns:mm0="http://fedorahosted.org/mirrormanager">
 <files>
  <file name="repomd.xml">
   <mm0:timestamp>1764756000</mm0:timestamp>
   <size>1234</size>
   <verification>
    <hash type="md5">00000000000000000000000000000000</hash>
    <hash type="sha256">${sha256}</hash>
${sha512 === undefined ? "" : `    <hash type="sha512">${sha512}</hash>\n`}   </verification>
   <resources maxconnections="1">
${mirrors.map(([u, p]) => `    <url protocol="http" type="http" location="US" preference="${p}">${u}/repodata/repomd.xml</url>`).join("\n")}
   </resources>
  </file>
 </files>
</metalink>
`;
}

async function errorOf(p: Promise<unknown>): Promise<OcipatchError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(OcipatchError);
  expect((e as Error).message).not.toContain("\n");
  return e as OcipatchError;
}

const cacheDirOf = (name: string) => join(tmp, `cache-${name}`);
const cachedFiles = (dir: string) => listFiles(dir).filter((n) => n.startsWith("rpm-"));

beforeAll(async () => {
  tmp = tempDir("ocipatch-rpm-mirrors-");
  world = await buildSignedWorld(join(tmp, "world"));
  served = join(tmp, "served");
  mkdirSync(served);
  cpSync(world.repo2, join(served, "state2"), { recursive: true });
  // the same repository where a mirror URL with $releasever and $basearch points
  cpSync(world.repo2, join(served, "almalinux/9/BaseOS/x86_64/os"), { recursive: true });
  // a stale mirror: state 1 (its repomd.xml is not the one the metalink names)
  cpSync(world.repo1, join(served, "stale"), { recursive: true });
  const repomd = readFileSync(join(world.repo2, "repodata/repomd.xml"));
  repomdSha256 = createHash("sha256").update(repomd).digest("hex");
  repomdSha512 = createHash("sha512").update(repomd).digest("hex");
  server = await serveDirectory(served);
  // a port nothing listens on: a dead mirror
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  dead = `http://127.0.0.1:${port}/almalinux/9/BaseOS/x86_64/os/`;
  layout = join(tmp, "layout");
}, 900_000);

afterAll(async () => {
  for (const f of opened) await f.close();
  await server?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("rpm repositories from mirrorlist= and metalink=", { timeout: 300_000 }, () => {
  it("mirrorlist: a dead mirror is skipped, the next one serves; the plan is made; offline from the cache", async () => {
    const list = serve(
      "lists/mirrorlist-dead-first",
      `# AlmaLinux 9 BaseOS mirrors\n\n${dead}\n${url("state2")}/\n`,
    );
    const fs = await image(
      "ml",
      { "etc/yum.repos.d/almalinux-baseos.repo": repoFile(`mirrorlist=${list}`) },
      true,
    );
    const installed: readonly InstalledPackage[] = (await readRpmInventory(fs))!.packages;
    const cacheDir = cacheDirOf("ml");
    const repos = await loadRpmRepositories(fs, PLATFORM, { cacheDir }, undefined, { installed });
    expect(repos.repos.map((r) => [r.id, r.baseurl, r.repoGpgcheck, r.packages.length])).toEqual([
      ["baseos", url("state2"), true, 6],
    ]);
    // the list, repomd.xml, its .asc and primary
    expect(cachedFiles(cacheDir)).toHaveLength(4);
    const before = server.requests.length;
    const off = await loadRpmRepositories(fs, PLATFORM, { cacheDir, offline: true }, undefined, {
      installed,
    });
    expect(server.requests.length).toBe(before);
    expect([off.repos[0]!.baseurl, off.repos[0]!.packages.length, off.bytesFetched]).toEqual([
      url("state2"),
      6,
      0,
    ]);
    const { plan } = await planRpm({
      fs,
      inventory: { os: { versionId: "9.4" }, packages: installed },
      platform: PLATFORM,
      targets: [],
      mode: "all",
      ignoreErrors: false,
      repositories: { cacheDir: cacheDirOf("ml-plan") },
    } as unknown as PlanRequest);
    expect(plan.updates.map((u) => `${u.package} ${u.targetVersion}`).sort()).toEqual(
      expect.arrayContaining(["hello 2:1.0-1.el9", "tool 1.2^git20240101.abc-4.el9"]),
    );
    expect(plan.unresolved).toEqual([]);
  });

  it("$releasever and $basearch are substituted in the list URL and in the mirrors' URLs", async () => {
    serve("lists/el9/x86_64/mirrors", `${server.url}/almalinux/$releasever/BaseOS/$basearch/os/\n`);
    const fs = await image("vars", {
      "etc/yum.repos.d/almalinux-baseos.repo": repoFile(
        `mirrorlist=${server.url}/lists/el$releasever/$basearch/mirrors`,
      ),
    });
    const repos = await loadRpmRepositories(fs, PLATFORM, {}, undefined, SYSTEM);
    expect([repos.releasever, repos.repos[0]!.baseurl]).toEqual(["9", url("almalinux/9/BaseOS/x86_64/os")]);
    expect(server.requests).toContain("/lists/el9/x86_64/mirrors");
  });

  it("metalink: mirrors by preference, a stale mirror skipped, repomd.xml matching the metalink's digest", async () => {
    const ml = serve(
      "metalink/good",
      metalink(repomdSha256, repomdSha512, [
        [url("stale"), 100],
        [url("state2"), 90],
        [dead, 100],
      ]),
    );
    const fs = await image("mlgood", {
      "etc/yum.repos.d/fedora.repo": repoFile(`metalink=${ml}`, 0),
    });
    const cacheDir = cacheDirOf("mlgood");
    const repos = await loadRpmRepositories(fs, PLATFORM, { cacheDir }, undefined, SYSTEM);
    expect(repos.repos.map((r) => [r.baseurl, r.repoGpgcheck, r.packages.length])).toEqual([
      [url("state2"), false, 6],
    ]);
    // the stale mirror was asked (preference 100) and refused; state2 served
    expect(server.requests).toContain("/stale/repodata/repomd.xml");
    // the metalink, repomd.xml, primary (no .asc: repo_gpgcheck=0)
    expect(cachedFiles(cacheDir)).toHaveLength(3);
  });

  it("a mirrorlist= whose content is a metalink is read as one (and checked)", async () => {
    const ml = serve(
      "lists/mirrorlist-is-metalink",
      metalink("ab".repeat(32), undefined, [[url("state2"), 100]]),
    );
    const fs = await image("mlisml", { "etc/yum.repos.d/x.repo": repoFile(`mirrorlist=${ml}`) });
    const e = await errorOf(loadRpmRepositories(fs, PLATFORM, {}, undefined, SYSTEM));
    expect(e.code).toBe("DIGEST_MISMATCH");
  });

  it("metalink whose digest no mirror matches: one line, nothing cached", async () => {
    const ml = serve(
      "metalink/bad",
      metalink("ab".repeat(32), undefined, [
        [url("state2"), 100],
        [url("stale"), 50],
      ]),
    );
    const fs = await image("mlbad", { "etc/yum.repos.d/fedora.repo": repoFile(`metalink=${ml}`, 0) });
    const cacheDir = cacheDirOf("mlbad");
    const e = await errorOf(loadRpmRepositories(fs, PLATFORM, { cacheDir }, undefined, SYSTEM));
    expect(e.code).toBe("DIGEST_MISMATCH");
    expect(e.message).toBe(
      "rpm repository [baseos]: no mirror's repomd.xml matches the metalink's digests (2 of 2 mirrors differ)",
    );
    expect(cachedFiles(cacheDir)).toEqual([]);
    // and offline there is nothing to use
    const off = await errorOf(
      loadRpmRepositories(fs, PLATFORM, { cacheDir, offline: true }, undefined, SYSTEM),
    );
    expect(off.code).toBe("NOT_FOUND");
  });

  it("a list with no usable mirror, a missing list, only dead mirrors: one line each", async () => {
    const none = serve(
      "lists/none",
      "# no mirror for this repository\nftp://ftp.example/pub/\nrsync://r.example/x\n",
    );
    const f1 = await image("none", { "etc/yum.repos.d/x.repo": repoFile(`mirrorlist=${none}`) });
    const e1 = await errorOf(loadRpmRepositories(f1, PLATFORM, {}, undefined, SYSTEM));
    expect([e1.code, e1.message]).toEqual([
      "INVALID_FORMAT",
      `rpm repository [baseos] mirrorlist ${none}: no http(s) mirror in it (2 other URLs skipped)`,
    ]);
    const f2 = await image("missing", {
      "etc/yum.repos.d/x.repo": repoFile(`mirrorlist=${url("lists/nothing")}`),
    });
    const e2 = await errorOf(loadRpmRepositories(f2, PLATFORM, {}, undefined, SYSTEM));
    expect(e2.code).toBe("NOT_FOUND");
    const deadOnly = serve("lists/dead", `${dead}\n${url("nothing-here")}\n`);
    const f3 = await image("deadonly", { "etc/yum.repos.d/x.repo": repoFile(`mirrorlist=${deadOnly}`) });
    const e3 = await errorOf(loadRpmRepositories(f3, PLATFORM, {}, undefined, SYSTEM));
    expect(e3.message).toMatch(
      /^rpm repository \[baseos\]: no mirror of 2 served repodata\/repomd\.xml \(last: /,
    );
  });

  it("credentials in a mirror list URL are not printed", async () => {
    const list = `http://user:s3cret@127.0.0.1:${new URL(server.url).port}/lists/secret-missing`;
    const fs = await image("secret", { "etc/yum.repos.d/x.repo": repoFile(`mirrorlist=${list}`) });
    const e = await errorOf(loadRpmRepositories(fs, PLATFORM, {}, undefined, SYSTEM));
    expect(e.message).not.toContain("s3cret");
  });
});

describe("ocipatch patch of an image whose repository is a mirrorlist", { timeout: 600_000 }, () => {
  it("patches the fixable CVEs: the patched image scans with nothing fixable", async () => {
    const dbDir = join(tmp, "db");
    const r0 = await updateDatabase({ dbDir, locations: { osv: [OSV] } });
    expect(r0.failures).toEqual([]);
    const list = serve("lists/e2e", `${dead}\n${url("state2")}\n`);
    await image("e2e", { "etc/yum.repos.d/almalinux-baseos.repo": repoFile(`mirrorlist=${list}`) }, true);
    const scan = async (ref: string) => {
      const r = await runCli(["scan", "--image", ref, "--format", "json", "--offline", "--db-dir", dbDir]);
      expect(r.code, r.stderr).toBe(0);
      return (JSON.parse(r.stdout) as { summary: { fixable: number } }).summary.fixable;
    };
    expect(await scan(`oci:${layout}:e2e`)).toBeGreaterThan(0);
    const dest = join(tmp, "patched");
    const r = await runCli(
      [
        "patch",
        "-i",
        `oci:${layout}:e2e`,
        "--dest",
        `oci:${dest}:patched`,
        "--skip-db-update",
        "--db-dir",
        dbDir,
        "--format",
        "json",
      ],
      { OCIPATCH_CACHE_DIR: join(tmp, "cache-e2e") },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/\[error\]/);
    expect(await scan(`oci:${dest}:patched`)).toBe(0);
  });
});
