/**
 * The harness's apk repositories checked by tools that are not ours (GNU tar, Python's tarfile,
 * openssl) and read back over loopback HTTP by the apk backend's readers.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readApkIndex } from "../../src/backends/apk/apkindex.js";
import { splitGzipMembers } from "../../src/backends/apk/archive.js";
import { readApkPackage } from "../../src/backends/apk/package.js";
import { parseApkKey } from "../../src/backends/apk/signature.js";
import { type ApkFixtures, buildApkFixtures, writeApkRepositories } from "../harness/apk/build.js";
import { type StaticServer, serveDirectory } from "../harness/apk/serve.js";
import { output, run } from "../harness/exec.js";
import { makeTempDir, safeRemove } from "../harness/fs.js";

let fx: ApkFixtures;
let dir: string;
let server: StaticServer;

beforeAll(async () => {
  fx = buildApkFixtures();
  dir = makeTempDir("apk-repos");
  await writeApkRepositories(dir, fx);
  server = await serveDirectory(dir);
});

afterAll(async () => {
  await server?.close();
  if (dir) await safeRemove(dir);
});

async function get(url: string): Promise<Buffer> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

describe("apk fixtures checked by independent tools", () => {
  it("GNU tar reads a .apk as one archive: signature, .PKGINFO, parents, files", async () => {
    const apk = join(dir, "fixes", "main", "x86_64", "busybox-1.37.0-r14.apk");
    const names = (await output("tar", ["-tzf", apk])).trim().split("\n");
    expect(names).toEqual([
      `.SIGN.RSA.${fx.key.name}`,
      ".PKGINFO",
      "bin/",
      "bin/busybox",
      "etc/",
      "etc/busybox-version",
    ]);
  });

  it("openssl verifies the signatures (SHA-1 and SHA-256) over the signed member", async () => {
    const work = makeTempDir("apk-sig");
    try {
      writeFileSync(join(work, "key.pub"), fx.key.publicPem);
      const cases = [
        { bytes: fx.release.index, signed: 1, hash: "-sha1" },
        { bytes: fx.fixes.index, signed: 1, hash: "-sha256" },
        {
          bytes: fx.release.packages.find((p) => p.spec.name === "libssl3")?.bytes,
          signed: 1,
          hash: "-sha1",
        },
        { bytes: fx.release.packages.find((p) => p.spec.name === "zlib")?.bytes, signed: 1, hash: "-sha256" },
      ];
      for (const [i, c] of cases.entries()) {
        const members = splitGzipMembers(c.bytes as Buffer, `case ${i}`);
        writeFileSync(join(work, `signed${i}`), members[c.signed]?.raw as Buffer);
        // the signature file is the only entry of the first member: extract it with GNU tar
        const sigDir = join(work, `sig${i}`);
        mkdirSync(sigDir);
        writeFileSync(join(work, `first${i}.gz`), members[0]?.raw as Buffer);
        await run("tar", ["-xzf", join(work, `first${i}.gz`), "-C", sigDir]);
        const sigFile = (await output("ls", ["-A", sigDir])).trim();
        expect(sigFile).toMatch(/^\.SIGN\.RSA(256)?\./);
        const r = await run(
          "openssl",
          [
            "dgst",
            c.hash,
            "-verify",
            join(work, "key.pub"),
            "-signature",
            join(sigDir, sigFile),
            join(work, `signed${i}`),
          ],
          { okCodes: [0, 1] },
        );
        expect(`${i}: ${r.stdout.trim()}`).toBe(`${i}: Verified OK`);
      }
    } finally {
      await safeRemove(work);
    }
  });

  it("Python's tarfile sees APK-TOOLS.checksum.SHA1 PAX records equal to the content's SHA-1", async () => {
    const apk = join(dir, "release", "main", "x86_64", "libcrypto3-3.3.6-r0.apk");
    const script = [
      "import sys, tarfile, hashlib",
      "t = tarfile.open(sys.argv[1], 'r:gz')",
      "for m in t.getmembers():",
      "    if m.isfile() and not m.name.startswith('.'):",
      "        h = hashlib.sha1(t.extractfile(m).read()).hexdigest()",
      "        print(m.name, m.pax_headers.get('APK-TOOLS.checksum.SHA1') == h)",
    ].join("\n");
    expect((await output("python3", ["-c", script, apk])).trim().split("\n")).toEqual([
      "etc/ssl/openssl.cnf True",
      "usr/lib/engines-3/padlock.so True",
      "usr/lib/libcrypto.so.3 True",
    ]);
  });

  it("the busybox inside is a real program that runs", async () => {
    const out = makeTempDir("apk-bb");
    try {
      await run("tar", ["-xzf", join(dir, "fixes", "main", "x86_64", "busybox-1.37.0-r14.apk"), "-C", out]);
      expect((await output(join(out, "bin", "busybox"), ["echo", "hello from busybox"])).trim()).toBe(
        "hello from busybox",
      );
    } finally {
      await safeRemove(out);
    }
  });
});

describe("apk repositories over loopback HTTP", () => {
  it("index and every package are fetched from <repo>/<arch>/ and verified", async () => {
    const keys = [parseApkKey(fx.key.name, fx.key.publicPem, "key")];
    for (const state of ["release", "fixes"] as const) {
      const repo = `${server.url}/${state}/main`;
      const index = readApkIndex(
        await get(`${repo}/x86_64/APKINDEX.tar.gz`),
        keys,
        `${repo}/x86_64/APKINDEX.tar.gz`,
      );
      for (const e of index.entries) {
        const url = `${repo}/${e.architecture}/${e.name}-${e.version}.apk`;
        const bytes = await get(url);
        expect(bytes.length).toBe(e.size);
        const pkg = readApkPackage(bytes, { keys, expectedChecksum: e.checksum, source: url });
        expect(`${pkg.name}-${pkg.version}`).toBe(`${e.name}-${e.version}`);
        expect(pkg.dataHash).toBe(pkg.pkginfo.datahash?.[0]);
      }
    }
    expect(server.requests).toContain("/fixes/main/x86_64/APKINDEX.tar.gz");
    await expect(get(`${server.url}/fixes/main/aarch64/APKINDEX.tar.gz`)).rejects.toThrow("HTTP 404");
  });
});
