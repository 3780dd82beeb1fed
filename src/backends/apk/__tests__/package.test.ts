import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { buildApk, buildApkFixtures, repositorySpecs } from "../../../../test/harness/apk/build.js";
import { isOcipatchError } from "../../../errors.js";
import { readApkIndex } from "../apkindex.js";
import { splitGzipMembers } from "../archive.js";
import { installedRecordOf } from "../installed-record.js";
import { readApkPackage } from "../package.js";
import { parseApkKey } from "../signature.js";

const fx = buildApkFixtures();
const keys = [parseApkKey(fx.key.name, fx.key.publicPem, "test key")];

function fails(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isOcipatchError(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  throw new Error("did not fail");
}

function flipMemberByte(bytes: Buffer, n: number): Buffer {
  const members = splitGzipMembers(bytes, "x");
  let off = 0;
  for (let i = 0; i < n; i++) off += members[i]?.raw.length ?? 0;
  const out = Buffer.from(bytes);
  out[off + 4] = (out[off + 4] ?? 0) ^ 1;
  return out;
}

const pkg = (state: "release" | "fixes", name: string) => {
  const p = fx[state].packages.find((x) => x.spec.name === name);
  if (!p) throw new Error(name);
  return p;
};

describe(".apk packages", () => {
  it("every package of both states verifies against its index entry", () => {
    for (const s of ["release", "fixes"] as const) {
      const idx = readApkIndex(fx[s].index, keys, s);
      for (const e of idx.entries) {
        const built = pkg(s, e.name);
        const p = readApkPackage(built.bytes, { keys, expectedChecksum: e.checksum, source: built.fileName });
        expect([p.name, p.version, p.architecture, p.checksum]).toEqual([
          e.name,
          e.version,
          e.architecture,
          e.checksum,
        ]);
        expect(p.pkginfo.datahash).toEqual([p.dataHash]);
        expect(p.pkginfo.origin).toEqual([e.origin]);
      }
    }
  });

  it("lists data entries with their parents and APK-TOOLS.checksum.SHA1 (the real static busybox inside)", () => {
    const bb = readApkPackage(pkg("fixes", "busybox").bytes, { keys, source: "busybox.apk" });
    expect(bb.entries.map((e) => `${e.type} ${e.path} ${e.mode.toString(8)}`)).toEqual([
      "directory /bin 755",
      "file /bin/busybox 755",
      "directory /etc 755",
      "file /etc/busybox-version 644",
    ]);
    const bin = bb.entries.find((e) => e.path === "/bin/busybox");
    expect(bin?.sha1).toBe(
      createHash("sha1")
        .update(bin?.content ?? "")
        .digest("hex"),
    );
    expect(bin?.content.subarray(0, 4).toString("latin1")).toBe("\x7fELF");
    const binsh = readApkPackage(pkg("fixes", "busybox-binsh").bytes, { keys, source: "busybox-binsh.apk" });
    expect(binsh.entries.find((e) => e.path === "/bin/sh")).toMatchObject({
      type: "symlink",
      linkTarget: "/bin/busybox",
      sha1: createHash("sha1").update("/bin/busybox").digest("hex"),
    });
    // the fixed libcrypto3 drops a file the released one has
    const paths = (s: "release" | "fixes") =>
      readApkPackage(pkg(s, "libcrypto3").bytes, { keys, source: "libcrypto3.apk" }).entries.map(
        (e) => e.path,
      );
    expect(paths("release")).toContain("/usr/lib/engines-3/padlock.so");
    expect(paths("fixes")).not.toContain("/usr/lib/engines-3/padlock.so");
  });

  it("verifies RSA256 (SHA-256) package signatures", () => {
    const z = pkg("fixes", "zlib");
    expect(z.signAlg).toBe("RSA256");
    expect(readApkPackage(z.bytes, { keys, source: "zlib.apk" }).signedBy).toBe(fx.key.name);
  });

  it("tampered packages: DIGEST_MISMATCH or SIGNATURE, one line", () => {
    const z = pkg("release", "zlib");
    const src = "zlib-1.3.1-r2.apk";
    // control member changed: its identity no longer matches the index …
    expect(
      fails(() =>
        readApkPackage(flipMemberByte(z.bytes, 1), { keys, expectedChecksum: z.checksum, source: src }),
      ),
    ).toMatch(
      /^DIGEST_MISMATCH: zlib-1\.3\.1-r2\.apk: control checksum Q1\S+ does not match the index \(Q1\S+\)$/,
    );
    // … and without an index to compare with, its signature fails
    expect(fails(() => readApkPackage(flipMemberByte(z.bytes, 1), { keys, source: src }))).toBe(
      `SIGNATURE: ${src}: signature RSA256.${fx.key.name} does not verify`,
    );
    // data member changed: datahash
    expect(
      fails(() =>
        readApkPackage(flipMemberByte(z.bytes, 2), { keys, expectedChecksum: z.checksum, source: src }),
      ),
    ).toMatch(
      /^DIGEST_MISMATCH: zlib-1\.3\.1-r2\.apk: data SHA-256 [0-9a-f]{64} does not match datahash [0-9a-f]{64}$/,
    );
    // a file whose content does not match its APK-TOOLS.checksum.SHA1 record
    const spec = repositorySpecs("release").find((s) => s.name === "busybox");
    if (!spec) throw new Error("busybox spec");
    const bad = buildApk(spec, fx.key, "RSA", { wrongSha1Path: "/etc/busybox-version" });
    expect(fails(() => readApkPackage(bad.bytes, { keys, source: "bb.apk" }))).toMatch(
      /^DIGEST_MISMATCH: bb\.apk: \/etc\/busybox-version: SHA-1 [0-9a-f]{40} does not match APK-TOOLS\.checksum\.SHA1 [0-9a-f]{40}$/,
    );
    // no key for it
    expect(fails(() => readApkPackage(z.bytes, { keys: [], source: src }))).toBe(
      `SIGNATURE: ${src}: signed by unknown key RSA256.${fx.key.name} (trusted: none)`,
    );
    // a package whose signature member was dropped
    const members = splitGzipMembers(z.bytes, src);
    expect(
      fails(() => readApkPackage(Buffer.concat(members.slice(1).map((m) => m.raw)), { keys, source: src })),
    ).toBe(`INVALID_FORMAT: ${src}: 2 gzip members, expected 3`);
  });

  it("hard links: the target must be earlier in the same archive; Z: is the target's, not the link's PAX record", () => {
    const spec = repositorySpecs("release").find((s) => s.name === "zlib");
    if (!spec) throw new Error("zlib spec");
    const a = Buffer.from("the linked file\n");
    const linked = buildApk(
      {
        ...spec,
        files: [
          ...spec.files,
          { path: "/usr/bin/a", content: a, mode: 0o755 },
          // a PAX record that says something else: apk takes the target's checksum (apk_db_install_file)
          { path: "/usr/bin/b", hardlink: "/usr/bin/a", hardlinkSha1: "0".repeat(40), mode: 0o755 },
        ],
      },
      fx.key,
    );
    const p = readApkPackage(linked.bytes, { keys, source: "z.apk" });
    const sha1 = createHash("sha1").update(a).digest("hex");
    expect(p.entries.find((e) => e.path === "/usr/bin/b")).toMatchObject({ linkTarget: "/usr/bin/a", sha1 });
    const z = installedRecordOf(p, linked.bytes.length)
      .dirs.flatMap((d) => d.files)
      .filter((f) => f.path.startsWith("/usr/bin/"))
      .map((f) => f.checksum);
    expect(z).toEqual([
      `Q1${Buffer.from(sha1, "hex").toString("base64")}`,
      `Q1${Buffer.from(sha1, "hex").toString("base64")}`,
    ]);
    // a link to a file the package does not ship (here: the image's /etc/shadow), or ships later
    for (const target of ["/etc/shadow", "/usr/bin/c"]) {
      const outside = buildApk(
        {
          ...spec,
          files: [
            ...spec.files,
            { path: "/usr/bin/b", hardlink: target, mode: 0o755 },
            { path: "/usr/bin/c", content: a },
          ],
        },
        fx.key,
      );
      expect(fails(() => readApkPackage(outside.bytes, { keys, source: "z.apk" }))).toBe(
        `INVALID_FORMAT: z.apk: /usr/bin/b: no hard link target (${target.slice(1)}) in archive`,
      );
    }
    // a link to a link is a link to the file, with its content (the layer writes it without walking links)
    const chain = buildApk(
      {
        ...spec,
        files: [
          ...spec.files,
          { path: "/usr/bin/a", content: a, mode: 0o755 },
          { path: "/usr/bin/b", hardlink: "/usr/bin/a", mode: 0o755 },
          { path: "/usr/bin/c", hardlink: "/usr/bin/b", mode: 0o755 },
        ],
      },
      fx.key,
    );
    const links = readApkPackage(chain.bytes, { keys, source: "z.apk" }).entries.filter(
      (e) => e.type === "hardlink",
    );
    expect(links.map((e) => [e.path, e.linkTarget, e.content.toString()])).toEqual([
      ["/usr/bin/b", "/usr/bin/a", a.toString()],
      ["/usr/bin/c", "/usr/bin/a", a.toString()],
    ]);
  });
});
