/**
 * RPM repository metadata against the real tools: repositories written by createrepo_c (gzip and
 * zstd primary.xml), repomd.xml signed with `gpg --detach-sign --armor`, an image whose
 * /etc/yum.repos.d, /etc/dnf and /etc/pki/rpm-gpg name them. Oracles: `rpm -qp` and sha256sum of
 * each package file, Python's xml.etree for everything primary.xml says, gpg's fingerprint.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, createReadStream, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readRpmKeys } from "../../src/backends/rpm/repo/keys.js";
import { type RepoPackage, readPrimary } from "../../src/backends/rpm/repo/primary.js";
import { readImageRepos, readRepoKeys } from "../../src/backends/rpm/repo/repo-file.js";
import { parseRepomd, type RepomdData, verifyRepomdSignature } from "../../src/backends/rpm/repo/repomd.js";
import { OcipatchError } from "../../src/errors.js";
import { LayeredFs } from "../../src/rootfs/index.js";
import { openImage } from "../../src/transport/index.js";
import { output, run } from "../harness/exec.js";
import { buildRpmImage } from "../harness/rpm/image.js";
import { buildRpmWorld, type RpmWorld, rpmQueryFile } from "../harness/rpm/repo.js";
import { tempDir } from "./vulndb.fixtures.js";

let tmp: string;
let world: RpmWorld;
let gz: string;
let xz: string;
let zst: string;
let keyFile: string;
let otherKeyFile: string;
let fingerprint: string;
let fs: LayeredFs;

async function gpgKey(home: string, uid: string): Promise<{ armored: string; fingerprint: string }> {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const g = ["--batch", "--quiet", "--homedir", home];
  await run("gpg", [...g, "--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never"]);
  const colons = await output("gpg", [...g, "--with-colons", "--fingerprint"]);
  const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(colons)![1]!;
  return { armored: await output("gpg", [...g, "--armor", "--export"]), fingerprint: fpr };
}

/** A createrepo_c repository of the world's packages with `compress` metadata. */
async function repoWith(dir: string, compress: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  for (const f of world.rpms) cpSync(f, join(dir, basename(f)));
  await run("createrepo_c", ["--quiet", `--general-compress-type=${compress}`, dir]);
  return dir;
}

/**
 * Debian's createrepo_c (0.17) cannot write zstd, which Fedora's and RHEL 10's repositories use:
 * the gzip repository's primary.xml recompressed by the zstd tool, repomd.xml's location,
 * checksum and size rewritten for it (what createrepo_c --general-compress-type=zstd writes).
 */
async function zstdRepoFrom(gzRepo: string, dir: string): Promise<string> {
  cpSync(gzRepo, dir, { recursive: true });
  const mdPath = join(dir, "repodata/repomd.xml");
  const p = parseRepomd(readFileSync(mdPath), mdPath).data.get("primary")!;
  const xml = execFileSync("gzip", ["-dc", join(dir, p.location)]);
  const zstd = execFileSync("zstd", ["-q", "-c", "-19"], { input: xml });
  const location = p.location.replace(
    /[0-9a-f]{64}-primary\.xml\.gz$/,
    `${createHash("sha256").update(zstd).digest("hex")}-primary.xml.zst`,
  );
  writeFileSync(join(dir, location), zstd);
  rmSync(join(dir, p.location));
  const md = readFileSync(mdPath, "utf8")
    .replace(`href="${p.location}"`, `href="${location}"`)
    .replace(`>${p.checksum.value}<`, `>${createHash("sha256").update(zstd).digest("hex")}<`)
    .replace(new RegExp(`(<data type="primary">[\\s\\S]*?<size>)${p.size}(</size>)`), `$1${zstd.length}$2`);
  writeFileSync(mdPath, md);
  return dir;
}

beforeAll(async () => {
  tmp = tempDir("ocipatch-rpm-repodata-");
  world = await buildRpmWorld(join(tmp, "world"));
  gz = await repoWith(join(tmp, "gz"), "gz");
  xz = await repoWith(join(tmp, "xz"), "xz");
  zst = await zstdRepoFrom(gz, join(tmp, "zst"));
  const signer = await gpgKey(join(tmp, "gpg-signer"), "repo signer <signer@example.invalid>");
  const other = await gpgKey(join(tmp, "gpg-other"), "someone else <other@example.invalid>");
  fingerprint = signer.fingerprint;
  keyFile = join(tmp, "RPM-GPG-KEY-test");
  writeFileSync(keyFile, signer.armored);
  otherKeyFile = join(tmp, "RPM-GPG-KEY-other");
  writeFileSync(otherKeyFile, other.armored);
  for (const repo of [gz, xz, zst])
    await run("gpg", [
      "--batch",
      "--quiet",
      "--homedir",
      join(tmp, "gpg-signer"),
      "--detach-sign",
      "--armor",
      join(repo, "repodata/repomd.xml"),
    ]);
  // the image: repositories, dnf configuration and keys as an AlmaLinux image has them
  const root = join(tmp, "image-root");
  mkdirSync(join(root, "etc/yum.repos.d"), { recursive: true });
  mkdirSync(join(root, "etc/dnf/vars"), { recursive: true });
  mkdirSync(join(root, "etc/pki/rpm-gpg"), { recursive: true });
  writeFileSync(join(root, "etc/pki/rpm-gpg/RPM-GPG-KEY-test"), signer.armored);
  writeFileSync(join(root, "etc/dnf/dnf.conf"), "[main]\ngpgcheck=1\ninstallonly_limit=3\nbest=True\n");
  writeFileSync(join(root, "etc/dnf/vars/contentdir"), "almalinux\n");
  writeFileSync(
    join(root, "etc/yum.repos.d/almalinux-baseos.repo"),
    [
      "# as AlmaLinux ships it, plus a local mirror",
      "[baseos]",
      "name=AlmaLinux $releasever - BaseOS",
      "mirrorlist=https://mirrors.almalinux.org/mirrorlist/$releasever/baseos",
      "# baseurl=https://repo.almalinux.org/almalinux/$releasever/BaseOS/$basearch/os/",
      "enabled=1",
      "repo_gpgcheck=1",
      "gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-test",
      "",
      "[local]",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: dnf's variable syntax, not a template
      "name=local ${contentdir} $basearch",
      `baseurl=file://${gz}`,
      `  file://${zst}`,
      "gpgcheck=0",
      "repo_gpgcheck=yes",
      "gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-test,",
      "  https://example.invalid/RPM-GPG-KEY",
      "",
      "[debug]",
      "name=debug",
      "metalink=https://mirrors.example.invalid/metalink?repo=$contentdir-$releasever-debug&arch=$basearch",
      "enabled=0",
      "",
    ].join("\n"),
  );
  const layout = join(tmp, "layout");
  await buildRpmImage(layout, "repos", root);
  fs = await LayeredFs.open(await openImage(`oci:${layout}:repos`));
}, 600_000);

afterAll(async () => {
  await fs?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const primaryOf = (repo: string): RepomdData => {
  const md = parseRepomd(readFileSync(join(repo, "repodata/repomd.xml")), "repomd.xml");
  return md.data.get("primary")!;
};

describe("the image's .repo files", () => {
  it("reads baseurl/mirrorlist/metalink, variables, enabled and the gpg options with dnf.conf's defaults", async () => {
    const repos = await readImageRepos(fs, { releasever: "9", basearch: "x86_64" });
    expect(repos.map(({ origin, ...r }) => r)).toEqual([
      {
        id: "baseos",
        name: "AlmaLinux 9 - BaseOS",
        baseurls: [],
        mirrorlist: "https://mirrors.almalinux.org/mirrorlist/9/baseos",
        metalink: undefined,
        enabled: true,
        gpgcheck: true,
        repoGpgcheck: true,
        gpgkeys: ["file:///etc/pki/rpm-gpg/RPM-GPG-KEY-test"],
      },
      {
        id: "local",
        name: "local almalinux x86_64",
        baseurls: [`file://${gz}`, `file://${zst}`],
        mirrorlist: undefined,
        metalink: undefined,
        enabled: true,
        gpgcheck: false,
        repoGpgcheck: true,
        gpgkeys: ["file:///etc/pki/rpm-gpg/RPM-GPG-KEY-test", "https://example.invalid/RPM-GPG-KEY"],
      },
      {
        id: "debug",
        name: "debug",
        baseurls: [],
        mirrorlist: undefined,
        metalink: "https://mirrors.example.invalid/metalink?repo=almalinux-9-debug&arch=x86_64",
        enabled: false,
        gpgcheck: true,
        repoGpgcheck: false,
        gpgkeys: [],
      },
    ]);
    expect(repos[0]!.origin).toMatch(/: \/etc\/yum\.repos\.d\/almalinux-baseos\.repo$/);
  });

  it("reads file:// keys from the image and refuses keys it would have to fetch", async () => {
    const [baseos, local] = await readImageRepos(fs, { releasever: "9", basearch: "x86_64" });
    const keys = await readRepoKeys(fs, baseos!);
    expect(keys.map((k) => [k.fingerprint, k.userId])).toEqual([
      [fingerprint, "repo signer <signer@example.invalid>"],
    ]);
    await expect(readRepoKeys(fs, local!)).rejects.toMatchObject({
      code: "SIGNATURE",
      message: expect.stringMatching(
        /\[local\]: gpgkey https:\/\/example\.invalid\/RPM-GPG-KEY is not a file:\/\/ key of the image \(keys are not fetched\)$/,
      ),
    });
    await expect(
      readRepoKeys(fs, { ...baseos!, gpgkeys: ["file:///etc/pki/rpm-gpg/RPM-GPG-KEY-gone"] }),
    ).rejects.toMatchObject({
      code: "SIGNATURE",
      message: expect.stringMatching(/RPM-GPG-KEY-gone is missing in the image$/),
    });
  });
});

describe("repomd.xml and its signature", () => {
  it("verifies gpg's detached armored signature with the repository's keys", async () => {
    const [baseos] = await readImageRepos(fs, { releasever: "9", basearch: "x86_64" });
    const keys = await readRepoKeys(fs, baseos!);
    for (const repo of [gz, xz, zst]) {
      const md = readFileSync(join(repo, "repodata/repomd.xml"));
      const signer = await verifyRepomdSignature(
        md,
        readFileSync(join(repo, "repodata/repomd.xml.asc")),
        keys,
        repo,
      );
      expect(signer.fingerprint).toBe(fingerprint);
    }
  });

  it("refuses a changed repomd.xml, another key's signature and garbage: one SIGNATURE line", async () => {
    const keys = await readRpmKeys(readFileSync(keyFile), "test key");
    const other = await readRpmKeys(readFileSync(otherKeyFile), "other key");
    const md = readFileSync(join(gz, "repodata/repomd.xml"));
    const asc = readFileSync(join(gz, "repodata/repomd.xml.asc"));
    const tampered = Buffer.from(md.toString("utf8").replace("<revision>", "<revision>1"));
    for (const [content, sig, k] of [
      [tampered, asc, keys],
      [md, asc, other],
      [md, Buffer.from("not a signature"), keys],
      [md, asc, []],
    ] as const) {
      const err = await verifyRepomdSignature(content, sig, k, "local").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OcipatchError);
      expect((err as OcipatchError).code).toBe("SIGNATURE");
      expect((err as OcipatchError).message).not.toContain("\n");
      expect((err as OcipatchError).message).toMatch(/^local: /);
    }
  });

  it("gives the primary metadata's location, checksum and size as createrepo_c wrote them", () => {
    for (const repo of [gz, zst]) {
      const p = primaryOf(repo);
      const file = readFileSync(join(repo, p.location));
      expect(p.location).toMatch(
        repo === gz ? /^repodata\/[0-9a-f]{64}-primary\.xml\.gz$/ : /-primary\.xml\.zst$/,
      );
      expect(p.checksum).toEqual({ type: "sha256", value: createHash("sha256").update(file).digest("hex") });
      expect(p.size).toBe(file.length);
      expect(p.openChecksum?.type).toBe("sha256");
    }
  });
});

/** What Python's xml.etree reads from a primary.xml: one JSON line per package. */
function pythonPrimary(repo: string, location: string): unknown[] {
  const script = `
import gzip, json, subprocess, sys, xml.etree.ElementTree as ET
path = sys.argv[1]
import lzma
data = gzip.open(path).read() if path.endswith(".gz") else lzma.open(path).read() if path.endswith(".xz") else subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout
C = "{http://linux.duke.edu/metadata/common}"
R = "{http://linux.duke.edu/metadata/rpm}"
out = []
for p in ET.fromstring(data).findall(C + "package"):
    v = p.find(C + "version").attrib
    f = p.find(C + "format")
    def deps(kind):
        el = f.find(R + kind)
        return [] if el is None else [[e.get("name"), e.get("flags"), e.get("epoch"), e.get("ver"), e.get("rel"), e.get("pre") == "1"] for e in el.findall(R + "entry")]
    out.append({
        "name": p.find(C + "name").text, "arch": p.find(C + "arch").text,
        "epoch": v.get("epoch"), "ver": v["ver"], "rel": v["rel"],
        "checksum": p.find(C + "checksum").text, "location": p.find(C + "location").get("href"),
        "size": int(p.find(C + "size").get("package")), "sourcerpm": f.find(R + "sourcerpm").text,
        "provides": deps("provides"), "requires": deps("requires"), "conflicts": deps("conflicts"), "obsoletes": deps("obsoletes"),
        "files": [[e.text, e.get("type") or "file"] for e in f.findall(C + "file")],
    })
print(json.dumps(out))
`;
  return JSON.parse(
    execFileSync("python3", ["-c", script, join(repo, location)], { encoding: "utf8" }),
  ) as unknown[];
}

/** Our package in the shape of pythonPrimary's (a dependency's EVR split back as written). */
function asPython(p: RepoPackage, raw: Map<string, unknown[][]>): unknown {
  return {
    name: p.name,
    arch: p.arch,
    epoch: p.epoch ?? null,
    ver: p.version,
    rel: p.release,
    checksum: p.checksum.value,
    location: p.location,
    size: p.size,
    sourcerpm: p.sourceRpm ?? null,
    ...Object.fromEntries(
      (["provides", "requires", "conflicts", "obsoletes"] as const).map((k) => [
        k,
        p[k].map((d, i) => {
          const r = raw.get(`${p.name}/${k}`)![i]!;
          // the EVR is ours; epoch/ver/rel as written come from the same entry, checked through formatEvr
          return [d.name, d.flags ?? null, r[2], r[3], r[4], d.pre];
        }),
      ]),
    ),
    files: p.files.map((f) => [f.path, f.type]),
  };
}

describe("primary.xml, streamed", () => {
  it("reads every package (gzip, xz and zstd) as rpm and an independent XML parser see it", async () => {
    const rpmSha = new Map(
      world.rpms.map((f) => [basename(f), createHash("sha256").update(readFileSync(f)).digest("hex")]),
    );
    for (const repo of [gz, xz, zst]) {
      const p = primaryOf(repo);
      const pkgs = await readPrimary(
        createReadStream(join(repo, p.location), { highWaterMark: 97 }),
        p,
        repo,
      );
      // rpm's own view of each file
      const want: string[] = [];
      for (const f of world.rpms)
        want.push(
          `${(await rpmQueryFile(world, f, "%{NAME} %{ARCH} %|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE} %{SOURCERPM}")).trim()} ${rpmSha.get(basename(f))} ${statSync(f).size} ${basename(f)}`,
        );
      expect(
        pkgs
          .map(
            (x) => `${x.name} ${x.arch} ${x.evr} ${x.sourceRpm} ${x.checksum.value} ${x.size} ${x.location}`,
          )
          .sort(),
      ).toEqual(want.sort());
      // every field against Python's parser; dependency EVRs against the raw attributes
      const py = pythonPrimary(repo, p.location) as Array<Record<string, unknown>>;
      const raw = new Map<string, unknown[][]>();
      for (const x of py)
        for (const k of ["provides", "requires", "conflicts", "obsoletes"])
          raw.set(`${x["name"]}/${k}`, x[k] as unknown[][]);
      expect(pkgs.map((x) => asPython(x, raw))).toEqual(py);
      for (const x of pkgs)
        for (const k of ["provides", "requires", "conflicts", "obsoletes"] as const)
          x[k].forEach((d, i) => {
            const r = raw.get(`${x.name}/${k}`)![i]!;
            const e = r[2] === null || r[2] === "0" ? "" : `${r[2]}:`;
            expect(d.evr).toBe(r[3] === null ? undefined : `${e}${r[3]}${r[4] === null ? "" : `-${r[4]}`}`);
          });
      expect(pkgs).toHaveLength(4);
      const hello = pkgs.find((x) => x.name === "hello")!;
      // createrepo_c lists only "primary" files here (/etc, */bin/): the rest is in filelists.xml
      expect(hello.files).toEqual([
        { path: "/etc/hello.conf", type: "file" },
        { path: "/usr/bin/hello", type: "file" },
      ]);
      expect(hello.requires.map((d) => `${d.name} ${d.flags ?? ""} ${d.evr ?? ""}`)).toContain(
        "hello-libs EQ 2:1.0~rc1-1.el9",
      );
      expect(pkgs.find((x) => x.name === "tool")!.obsoletes).toEqual([
        { name: "oldtool", flags: "LT", evr: "1.0", pre: false },
      ]);
    }
  });

  it("keeps only what the filter accepts", async () => {
    const p = primaryOf(gz);
    const pkgs = await readPrimary(createReadStream(join(gz, p.location)), p, "gz", {
      filter: (x) => x.name.startsWith("hello"),
    });
    expect(pkgs.map((x) => x.name).sort()).toEqual(["hello", "hello-libs"]);
  });

  it("refuses a file that does not match repomd's checksum or size: DIGEST_MISMATCH, no package", async () => {
    const p = primaryOf(gz);
    const file = join(gz, p.location);
    const wrongSum: RepomdData = { ...p, checksum: { type: "sha256", value: "0".repeat(64) } };
    const truncated = join(tmp, "truncated-primary.xml.gz");
    writeFileSync(truncated, readFileSync(file).subarray(0, 200));
    const grown = join(tmp, "grown-primary.xml.gz");
    writeFileSync(grown, Buffer.concat([readFileSync(file), Buffer.from("x")]));
    for (const [path, data] of [
      [file, wrongSum],
      [truncated, p],
      [grown, p],
    ] as const) {
      const err = await readPrimary(createReadStream(path), data, "local primary").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OcipatchError);
      expect((err as OcipatchError).code).toBe("DIGEST_MISMATCH");
      expect((err as OcipatchError).message).toMatch(
        /^local primary: repodata\/\S+-primary\.xml\.gz (has sha256|is larger than)/,
      );
      expect((err as OcipatchError).message).not.toContain("\n");
    }
  });
});
