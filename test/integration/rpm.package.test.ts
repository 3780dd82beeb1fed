/**
 * Reading and verifying .rpm package files against the real tools: packages built by rpmbuild
 * with gzip, xz and zstd payloads, signed by rpmsign (RSA → RSAHEADER, EdDSA → DSAHEADER) with
 * fresh gpg keys, then tampered in the header, payload and signature. Oracles: `rpm -qp --qf`
 * (file list with modes, owners, links, digests), `rpm2cpio` (the decompressed payload, byte for
 * byte) and `rpmkeys -K` with an rpmdb holding the key (the digest and signature verdicts).
 */
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FILE_FLAG, readHeaderTags } from "../../src/backends/rpm/header.js";
import { type CpioEntry, readCpio } from "../../src/backends/rpm/package/cpio.js";
import {
  LEAD_SIZE,
  payloadStream,
  type RpmPackageFile,
  readRpmFile,
  SIGTAG,
} from "../../src/backends/rpm/package/rpm-file.js";
import { verifyRpm } from "../../src/backends/rpm/package/verify.js";
import { type RpmKey, readRpmKeys } from "../../src/backends/rpm/repo/keys.js";
import { OcipatchError } from "../../src/errors.js";
import { output, run } from "../harness/exec.js";
import { buildRpms, rpmEnv } from "../harness/rpm/repo.js";
import { SPECS, type SpecFile } from "../harness/rpm/specs.js";
import { tempDir } from "./vulndb.fixtures.js";

/**
 * A package with a hard-link set of three, a hard-linked empty file pair, a symlink, and the
 * root directory itself (as `filesystem` owns it: cpio name "./").
 */
const LINKS: SpecFile = {
  name: "links",
  text: `Name: links
Version: 1
Release: 1
Summary: hard links and symlinks
License: MIT
BuildArch: noarch
%description
links
%install
mkdir -p %{buildroot}/usr/bin %{buildroot}/usr/share/links
printf 'linked\\n' > %{buildroot}/usr/bin/one
ln %{buildroot}/usr/bin/one %{buildroot}/usr/bin/two
ln %{buildroot}/usr/bin/one %{buildroot}/usr/share/links/three
touch %{buildroot}/usr/share/links/empty
ln %{buildroot}/usr/share/links/empty %{buildroot}/usr/share/links/empty2
ln -s ../bin/one %{buildroot}/usr/share/links/sym
%files
%dir /
%attr(0750,nobody,nogroup) /usr/bin/one
%attr(0750,nobody,nogroup) /usr/bin/two
/usr/share/links
`,
};

const COMPRESSORS = [
  ["gzip", "w9.gzdio"],
  ["xz", "w6.xzdio"],
  ["zstd", "w19.zstdio"],
] as const;

let tmp: string;
let env: NodeJS.ProcessEnv;
/** compressor → built package paths */
const built = new Map<string, string[]>();
let rsaKeys: RpmKey[];
let edKeys: RpmKey[];
let otherKeys: RpmKey[];
let rsaSigned: string;
let edSigned: string;
let unsigned: string;

async function gpgKey(name: string, algo: string): Promise<{ home: string; uid: string; file: string }> {
  const home = join(tmp, `gnupg-${name}`);
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const uid = `${name} <${name}@example.invalid>`;
  const g = ["--batch", "--quiet", "--homedir", home];
  await run("gpg", [...g, "--passphrase", "", "--quick-gen-key", uid, algo, "sign", "never"]);
  const file = join(tmp, `RPM-GPG-KEY-${name}`);
  writeFileSync(file, await output("gpg", [...g, "--armor", "--export"]));
  return { home, uid, file };
}

async function sign(src: string, dest: string, key: { home: string; uid: string }): Promise<string> {
  copyFileSync(src, dest);
  await run(
    "rpmsign",
    [
      "--addsign",
      "--define",
      "__gpg /usr/bin/gpg",
      "--define",
      `_gpg_name ${key.uid}`,
      "--define",
      `_gpg_path ${key.home}`,
      dest,
    ],
    { env },
  );
  return dest;
}

/** `rpmkeys -K` with a fresh rpmdb holding `keyFiles`: exit code and output. */
async function rpmCheck(file: string, keyFiles: readonly string[]): Promise<{ ok: boolean; text: string }> {
  const db = join(tmp, `db-${Math.random().toString(36).slice(2)}`);
  mkdirSync(db);
  for (const k of keyFiles) await run("rpmkeys", ["--dbpath", db, "--import", k], { env });
  const r = await run("rpmkeys", ["--dbpath", db, "-Kv", file], { env, okCodes: [0, 1] });
  return { ok: r.code === 0, text: r.stdout + r.stderr };
}

async function errorOf(p: Promise<unknown>): Promise<OcipatchError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(OcipatchError);
  return e as OcipatchError;
}

/** A copy of `src` with the byte at `offset` inverted. */
function tampered(src: string, name: string, offset: number): string {
  const b = readFileSync(src);
  b[offset] = b[offset]! ^ 0xff;
  const dest = join(tmp, name);
  writeFileSync(dest, b);
  return dest;
}

async function entries(pkg: RpmPackageFile): Promise<Array<Omit<CpioEntry, "body"> & { sha256: string }>> {
  const out: Array<Omit<CpioEntry, "body"> & { sha256: string }> = [];
  for await (const e of readCpio(payloadStream(pkg), pkg.header, pkg.path)) {
    const h = createHash("sha256");
    for await (const c of e.body()) h.update(c);
    const { body: _b, ...rest } = e;
    out.push({ ...rest, sha256: e.type === "file" ? h.digest("hex") : "" });
  }
  return out;
}

beforeAll(async () => {
  tmp = tempDir("ocipatch-rpmpkg-");
  env = rpmEnv(tmp);
  for (const [name, payload] of COMPRESSORS) {
    built.set(name, await buildRpms(join(tmp, name), [...SPECS, LINKS], [`_binary_payload ${payload}`]));
  }
  const rsa = await gpgKey("rsa", "rsa2048");
  const ed = await gpgKey("ed", "ed25519");
  const other = await gpgKey("other", "rsa2048");
  rsaKeys = await readRpmKeys(readFileSync(rsa.file), rsa.file);
  edKeys = await readRpmKeys(readFileSync(ed.file), ed.file);
  otherKeys = await readRpmKeys(readFileSync(other.file), other.file);
  const hello = (c: string) => built.get(c)!.find((f) => /\/hello-1\.0~rc1/.test(f))!;
  unsigned = hello("gzip");
  rsaSigned = await sign(hello("xz"), join(tmp, "rsa.rpm"), rsa);
  edSigned = await sign(hello("zstd"), join(tmp, "ed.rpm"), ed);
  keyFiles = { rsa: rsa.file, ed: ed.file, other: other.file };
}, 600_000);

let keyFiles: { rsa: string; ed: string; other: string };

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const QF =
  "[%{FILENAMES}\\t%{FILEMODES}\\t%{FILEUSERNAME}\\t%{FILEGROUPNAME}\\t%{FILENLINKS}\\t%{FILESIZES}\\t%{FILELINKTOS}\\t%{FILEMTIMES}\\t%{FILEDIGESTS}\\t%{FILEFLAGS}\\n]";

describe("reading .rpm files", () => {
  for (const [name] of COMPRESSORS) {
    it(`reads every ${name}-payload package as rpm and rpm2cpio do`, async () => {
      const files = built.get(name)!;
      expect(files.length).toBe(5);
      for (const f of files) {
        const pkg = await readRpmFile(f);
        expect(pkg.payloadCompressor).toBe(
          await output("rpm", ["-qp", "--qf", "%{PAYLOADCOMPRESSOR}", f], { env }),
        );
        expect(`${pkg.header.name}-${pkg.header.version}-${pkg.header.release}`).toBe(
          await output("rpm", ["-qp", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}", f], { env }),
        );
        // the decompressed payload is rpm2cpio's, byte for byte
        const cpioFile = `${f}.cpio`;
        await run("rpm2cpio", [f], { stdoutFile: cpioFile, env });
        const ours = createHash("sha256");
        for await (const c of payloadStream(pkg)) ours.update(c as Buffer);
        expect(ours.digest("hex")).toBe(createHash("sha256").update(readFileSync(cpioFile)).digest("hex"));

        // entries against rpm's file list (ghost files are in the header, not in the payload)
        const want = (await output("rpm", ["-qp", "--qf", QF, f], { env }))
          .split("\n")
          .filter((l) => l !== "" && l !== "(contains no files)")
          .map((l) => l.split("\t"))
          .filter((c) => (Number(c[9]) & FILE_FLAG.GHOST) === 0);
        const got = await entries(pkg);
        expect(got.map((e) => e.path).sort()).toEqual(want.map((c) => c[0]!).sort());
        const byPath = new Map(got.map((e) => [e.path, e]));
        for (const [path, mode, user, group, nlink, size, linkTo, mtime, digest] of want) {
          const e = byPath.get(path!)!;
          expect(e.mode, path).toBe(Number(mode));
          expect([e.user, e.group], path).toEqual([user, group]);
          expect(e.nlink, path).toBe(Number(nlink));
          expect(e.mtime, path).toBe(Number(mtime));
          if (e.type === "file") {
            expect(e.size, path).toBe(Number(size));
            expect(e.sha256, path).toBe(digest);
          } else if (e.type === "symlink") expect(e.linkTarget, path).toBe(linkTo);
        }
      }
    });
  }

  it("gives one data member per hard-link set and links for the rest (newc nlink semantics)", async () => {
    const f = built.get("zstd")!.find((p) => p.includes("/links-1-1"))!;
    const got = await entries(await readRpmFile(f));
    const summary = got.map((e) => [e.path, e.type, e.linkTarget, e.user]);
    const one = got.filter(
      (e) => e.path === "/usr/bin/one" || e.path === "/usr/bin/two" || e.path === "/usr/share/links/three",
    );
    // exactly one member holds the data, the two others point at it
    const data = one.filter((e) => e.type === "file");
    expect(data, JSON.stringify(summary)).toHaveLength(1);
    expect(data[0]!.size).toBe(7);
    expect(one.filter((e) => e.type === "hardlink").map((e) => e.linkTarget)).toEqual([
      data[0]!.path,
      data[0]!.path,
    ]);
    expect(one.every((e) => e.nlink === 3 && e.ino === data[0]!.ino)).toBe(true);
    // links come after the data member
    const idx = (p: string) => got.findIndex((e) => e.path === p);
    for (const e of one) if (e.type === "hardlink") expect(idx(e.path)).toBeGreaterThan(idx(data[0]!.path));
    // an empty hard-linked pair: still one file and one link
    const empties = got.filter((e) => e.path.startsWith("/usr/share/links/empty"));
    expect(empties.map((e) => e.type).sort()).toEqual(["file", "hardlink"]);
    expect(got.find((e) => e.path === "/usr/share/links/sym")).toMatchObject({
      type: "symlink",
      linkTarget: "../bin/one",
    });
    expect(got.find((e) => e.path === "/usr/bin/two")).toMatchObject({ user: "nobody", group: "nogroup" });
    expect(got[0]).toMatchObject({ path: "/", type: "directory", user: "root" });
  });

  it("refuses a file that is not an rpm, and a truncated one", async () => {
    const notRpm = join(tmp, "not.rpm");
    writeFileSync(notRpm, Buffer.alloc(200));
    expect((await errorOf(readRpmFile(notRpm))).code).toBe("INVALID_FORMAT");
    const whole = readFileSync(unsigned);
    const cut = join(tmp, "cut.rpm");
    writeFileSync(cut, whole.subarray(0, 400));
    const e = await errorOf(readRpmFile(cut));
    expect(e.code).toBe("INVALID_FORMAT");
    expect(e.message).not.toContain("\n");
  });
});

/** Offset in the file of a signature-header tag's data. */
function sigTagOffset(file: string, tag: number): number {
  const b = readFileSync(file);
  const il = b.readUInt32BE(LEAD_SIZE + 8);
  readHeaderTags(b.subarray(LEAD_SIZE), "sig", { magic: true });
  for (let i = 0; i < il; i++) {
    const e = LEAD_SIZE + 16 + 16 * i;
    if (b.readUInt32BE(e) === tag) return LEAD_SIZE + 16 + 16 * il + b.readUInt32BE(e + 8);
  }
  throw new Error(`no tag ${tag}`);
}

describe("verifying .rpm files (oracle: rpmkeys -K)", () => {
  it("accepts RSA and EdDSA signatures from the given key, as rpm does", async () => {
    const rsa = await verifyRpm(await readRpmFile(rsaSigned), [...otherKeys, ...rsaKeys]);
    expect(rsa).toMatchObject({ headerDigest: "SHA256", payloadDigest: "SHA256" });
    expect(rsa.key.fingerprint).toBe(rsaKeys[0]!.fingerprint);
    expect((await readRpmFile(rsaSigned)).signature.has(SIGTAG.RSAHEADER)).toBe(true);
    expect(await rpmCheck(rsaSigned, [keyFiles.rsa])).toMatchObject({ ok: true });
    const ed = await verifyRpm(await readRpmFile(edSigned), edKeys);
    expect(ed.key.fingerprint).toBe(edKeys[0]!.fingerprint);
    expect((await readRpmFile(edSigned)).signature.has(SIGTAG.DSAHEADER)).toBe(true);
    expect(await rpmCheck(edSigned, [keyFiles.ed])).toMatchObject({ ok: true });
  });

  it("refuses an unsigned package and one signed with a key it is not given (SIGNATURE)", async () => {
    const e1 = await errorOf(verifyRpm(await readRpmFile(unsigned), rsaKeys));
    expect([e1.code, e1.message]).toEqual(["SIGNATURE", `${unsigned}: rpm package is not signed`]);
    // rpm: digests OK, no signature line
    expect((await rpmCheck(unsigned, [keyFiles.rsa])).text).not.toMatch(/Signature/);
    const e2 = await errorOf(verifyRpm(await readRpmFile(rsaSigned), [...otherKeys, ...edKeys]));
    expect(e2.code).toBe("SIGNATURE");
    expect(e2.message).toMatch(/signed with unknown key [0-9A-F]{16}$/);
    const r = await rpmCheck(rsaSigned, [keyFiles.other]);
    expect(r.ok).toBe(false);
    expect(r.text).toMatch(/NOKEY/);
  });

  it("finds a tampered header, payload and signature as rpm does", async () => {
    const pkg = await readRpmFile(rsaSigned);
    // header: a byte of the Summary string in the data store
    const summaryAt = pkg.headerBytes.indexOf("hello with a subpackage");
    expect(summaryAt).toBeGreaterThan(0);
    const badHeader = tampered(
      rsaSigned,
      "bad-header.rpm",
      pkg.payloadOffset - pkg.headerBytes.length + summaryAt,
    );
    const eh = await errorOf(verifyRpm(await readRpmFile(badHeader), rsaKeys));
    expect([eh.code, eh.message]).toEqual([
      "DIGEST_MISMATCH",
      `${badHeader}: rpm header SHA256 digest does not match`,
    ]);
    expect(await rpmCheck(badHeader, [keyFiles.rsa])).toMatchObject({ ok: false });

    // payload: a byte in the middle of the compressed payload
    const badPayload = tampered(
      rsaSigned,
      "bad-payload.rpm",
      pkg.payloadOffset + Math.floor(pkg.payloadSize / 2),
    );
    const ep = await errorOf(verifyRpm(await readRpmFile(badPayload), rsaKeys));
    expect([ep.code, ep.message]).toEqual([
      "DIGEST_MISMATCH",
      `${badPayload}: rpm payload SHA256 digest does not match`,
    ]);
    const rp = await rpmCheck(badPayload, [keyFiles.rsa]);
    expect(rp.ok).toBe(false);
    expect(rp.text).toMatch(/Payload SHA256 digest: BAD/);

    // signature: the last byte of the RSA signature value
    const at = sigTagOffset(rsaSigned, SIGTAG.RSAHEADER);
    const len = (pkg.signature.get(SIGTAG.RSAHEADER) as { value: Buffer }).value.length;
    const badSig = tampered(rsaSigned, "bad-sig.rpm", at + len - 1);
    const es = await errorOf(verifyRpm(await readRpmFile(badSig), rsaKeys));
    expect(es.code).toBe("SIGNATURE");
    expect(es.message).toMatch(/bad rpm header signature from key/);
    expect(es.message).not.toContain("\n");
    const rs = await rpmCheck(badSig, [keyFiles.rsa]);
    expect(rs.ok).toBe(false);
    expect(rs.text).toMatch(/Signature.*BAD/);
  });
});
