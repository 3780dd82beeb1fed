/**
 * Builds REAL apk v2 repositories for the tests: signed `.apk` packages (signature member,
 * control member with `.PKGINFO` incl. `datahash`, data tarball with `APK-TOOLS.checksum.SHA1`
 * PAX records and a directory entry for every parent), signed `APKINDEX.tar.gz`, and the
 * `/lib/apk/db/installed` apk writes for them. See README.md for the source of every detail.
 * Names, origins, versions and CVEs come from the Alpine 3.21 secdb in the shared vulndata.
 */
import { createHash, generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { type TarSpec, writeTar } from "./tar.js";

export type SignAlg = "RSA" | "RSA256";

export interface TestKey {
  /** File name in /etc/apk/keys, and what `.SIGN.<ALG>.<name>` names. */
  readonly name: string;
  readonly privateKey: KeyObject;
  readonly publicPem: string;
}

export function makeTestKey(name = "ocipatch-test-61c0ffee.rsa.pub"): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { name, privateKey, publicPem: publicKey.export({ type: "spki", format: "pem" }).toString() };
}

interface FileSpec {
  /** Absolute path in the image. */
  readonly path: string;
  readonly content?: Buffer;
  readonly symlink?: string;
  /** A hard link to this path (tar linkname without the leading slash). */
  readonly hardlink?: string;
  /** The hard link's APK-TOOLS.checksum.SHA1 PAX record, when it should have one. */
  readonly hardlinkSha1?: string;
  readonly mode?: number;
}

export interface PackageSpec {
  readonly name: string;
  readonly version: string;
  readonly origin: string;
  readonly arch: string;
  readonly description: string;
  readonly url: string;
  readonly license: string;
  readonly depends?: readonly string[];
  readonly provides?: readonly string[];
  readonly files: readonly FileSpec[];
  /** Control-segment scripts after `.PKGINFO`, e.g. `{ ".post-upgrade": "#!/bin/sh\n..." }` (apk-package(5)). */
  readonly scripts?: Readonly<Record<string, string>>;
  /** Directories whose changes run the package's `.trigger` (`.PKGINFO` `triggers`, abuild's write_pkginfo). */
  readonly triggers?: readonly string[];
}

export interface BuiltPackage {
  readonly spec: PackageSpec;
  readonly fileName: string;
  readonly bytes: Buffer;
  /** `C:` — Q1 + base64 SHA-1 of the control member. */
  readonly checksum: string;
  readonly dataHash: string;
  readonly installedSize: number;
  readonly signAlg: SignAlg;
}

export const BUILD_TIME = 1735689600;
const MAINTAINER = "ocipatch tests <tests@ocipatch.invalid>";
const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const gz = (b: Buffer): Buffer => gzipSync(b, { level: 9 });
const sha1hex = (b: Buffer | string): string => createHash("sha1").update(b).digest("hex");
const q1 = (b: Buffer | string): string => `Q1${createHash("sha1").update(b).digest("base64")}`;

function signatureMember(key: TestKey, alg: SignAlg, signed: Buffer): Buffer {
  const sig = sign(alg === "RSA" ? "sha1" : "sha256", signed, key.privateKey);
  return gz(writeTar([{ name: `.SIGN.${alg}.${key.name}`, type: "file", mode: 0o644, content: sig }], false));
}

/** Parent directories of every file ("usr", "usr/lib"), in order, without a leading slash. */
function dataTarSpecs(files: readonly FileSpec[], wrongSha1Path?: string): TarSpec[] {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const dirs = new Set<string>();
  const out: TarSpec[] = [];
  for (const f of sorted) {
    const rel = f.path.replace(/^\/+/, "");
    const parts = rel.split("/");
    for (let i = 1; i < parts.length; i++) {
      const d = parts.slice(0, i).join("/");
      if (dirs.has(d)) continue;
      dirs.add(d);
      out.push({ name: `${d}/`, type: "directory", mode: 0o755, mtime: BUILD_TIME });
    }
    if (f.symlink !== undefined)
      out.push({
        name: rel,
        type: "symlink",
        mode: 0o777,
        linkname: f.symlink,
        mtime: BUILD_TIME,
        pax: { "APK-TOOLS.checksum.SHA1": sha1hex(f.symlink) },
      });
    else if (f.hardlink !== undefined)
      out.push({
        name: rel,
        type: "hardlink",
        mode: f.mode ?? 0o644,
        linkname: f.hardlink.replace(/^\/+/, ""),
        mtime: BUILD_TIME,
        ...(f.hardlinkSha1 === undefined ? {} : { pax: { "APK-TOOLS.checksum.SHA1": f.hardlinkSha1 } }),
      });
    else {
      const content = f.content ?? Buffer.alloc(0);
      out.push({
        name: rel,
        type: "file",
        mode: f.mode ?? 0o644,
        content,
        mtime: BUILD_TIME,
        pax: {
          "APK-TOOLS.checksum.SHA1": sha1hex(f.path === wrongSha1Path ? Buffer.from("tampered") : content),
        },
      });
    }
  }
  return out;
}

interface BuildApkOptions {
  /** Tamper test: write a wrong APK-TOOLS.checksum.SHA1 for this path (the package is still signed). */
  readonly wrongSha1Path?: string;
}

export function buildApk(
  spec: PackageSpec,
  key: TestKey,
  signAlg: SignAlg = "RSA",
  opts: BuildApkOptions = {},
): BuiltPackage {
  const data = gz(writeTar(dataTarSpecs(spec.files, opts.wrongSha1Path), true));
  const dataHash = createHash("sha256").update(data).digest("hex");
  const installedSize = spec.files.reduce((n, f) => n + (f.content?.length ?? 0), 0);
  const info = [
    "# Generated by ocipatch's test harness (test/harness/apk/build.ts)",
    `pkgname = ${spec.name}`,
    `pkgver = ${spec.version}`,
    `pkgdesc = ${spec.description}`,
    `url = ${spec.url}`,
    `builddate = ${BUILD_TIME}`,
    `packager = ${MAINTAINER}`,
    `size = ${installedSize}`,
    `arch = ${spec.arch}`,
    `origin = ${spec.origin}`,
    `commit = ${COMMIT}`,
    `maintainer = ${MAINTAINER}`,
    `license = ${spec.license}`,
    ...(spec.depends ?? []).map((d) => `depend = ${d}`),
    ...(spec.provides ?? []).map((p) => `provides = ${p}`),
    ...(spec.triggers?.length ? [`triggers = ${spec.triggers.join(" ")}`] : []),
    `datahash = ${dataHash}`,
    "",
  ].join("\n");
  const control = gz(
    writeTar(
      [
        { name: ".PKGINFO", type: "file", mode: 0o644, mtime: BUILD_TIME, content: Buffer.from(info) },
        ...Object.entries(spec.scripts ?? {}).map(([name, body]) => ({
          name,
          type: "file" as const,
          mode: 0o755,
          mtime: BUILD_TIME,
          content: Buffer.from(body),
        })),
      ],
      false,
    ),
  );
  const bytes = Buffer.concat([signatureMember(key, signAlg, control), control, data]);
  return {
    spec,
    fileName: `${spec.name}-${spec.version}.apk`,
    bytes,
    checksum: q1(control),
    dataHash,
    installedSize,
    signAlg,
  };
}

/** The index fields apk writes for a package (C P V A S I T U L o m t c D p), without a newline at the end. */
function indexRecord(p: BuiltPackage): string {
  const s = p.spec;
  const lines = [
    `C:${p.checksum}`,
    `P:${s.name}`,
    `V:${s.version}`,
    `A:${s.arch}`,
    `S:${p.bytes.length}`,
    `I:${p.installedSize}`,
    `T:${s.description}`,
    `U:${s.url}`,
    `L:${s.license}`,
    `o:${s.origin}`,
    `m:${MAINTAINER}`,
    `t:${BUILD_TIME}`,
    `c:${COMMIT}`,
  ];
  if (s.depends?.length) lines.push(`D:${s.depends.join(" ")}`);
  if (s.provides?.length) lines.push(`p:${s.provides.join(" ")}`);
  return lines.join("\n");
}

export function buildApkIndex(
  packages: readonly BuiltPackage[],
  key: TestKey,
  signAlg: SignAlg,
  description: string,
): Buffer {
  const text = `${packages.map(indexRecord).join("\n\n")}\n\n`;
  const body = gz(
    writeTar(
      [
        {
          name: "DESCRIPTION",
          type: "file",
          mode: 0o644,
          mtime: BUILD_TIME,
          content: Buffer.from(description),
        },
        { name: "APKINDEX", type: "file", mode: 0o644, mtime: BUILD_TIME, content: Buffer.from(text) },
      ],
      true,
    ),
  );
  return Buffer.concat([signatureMember(key, signAlg, body), body]);
}

/** One package's record as apk-tools' database.c writes it into `/lib/apk/db/installed`. */
export function installedRecord(p: BuiltPackage): string {
  const lines = [indexRecord(p)];
  const byDir = new Map<string, FileSpec[]>();
  for (const f of [...p.spec.files].sort((a, b) => (a.path < b.path ? -1 : 1))) {
    const rel = f.path.replace(/^\/+/, "");
    const dir = rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/")) : "";
    const parts = dir.split("/");
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join("/");
      if (!byDir.has(d)) byDir.set(d, []);
    }
    byDir.get(dir)?.push(f);
  }
  for (const [dir, files] of byDir) {
    lines.push(`F:${dir}`);
    for (const f of files) {
      lines.push(`R:${f.path.slice(f.path.lastIndexOf("/") + 1)}`);
      if (f.symlink !== undefined) {
        lines.push("a:0:0:777", `Z:${q1(f.symlink)}`);
      } else {
        const mode = f.mode ?? 0o644;
        if (mode !== 0o644) lines.push(`a:0:0:${mode.toString(8)}`);
        lines.push(`Z:${q1(f.content ?? Buffer.alloc(0))}`);
      }
    }
  }
  return `${lines.join("\n")}\n`;
}

export function installedDb(packages: readonly BuiltPackage[]): string {
  return packages.map((p) => `${installedRecord(p)}\n`).join("");
}

// --- the two repository states, from the Alpine 3.21 secdb -------------------------------------

const BUSYBOX = "/bin/busybox";

/** Debian's busybox-static binary (scripts/install-test-deps.sh), a real static program. */
export function busyboxBinary(): Buffer {
  if (!existsSync(BUSYBOX)) throw new Error(`${BUSYBOX} missing: install Debian's busybox-static`);
  return readFileSync(BUSYBOX);
}

const text = (s: string): Buffer => Buffer.from(s);

/** Package specs of one state; `fixes` has the versions the secdb names as fixing CVEs. */
export function repositorySpecs(state: "release" | "fixes", arch = "x86_64"): PackageSpec[] {
  const v = {
    busybox: state === "release" ? "1.37.0-r12" : "1.37.0-r14",
    zlib: state === "release" ? "1.3.1-r2" : "1.3.2-r1",
    openssl: state === "release" ? "3.3.6-r0" : "3.3.7-r2",
    musl: state === "release" ? "1.2.5-r8" : "1.2.5-r11",
  };
  const libc = `so:libc.musl-${arch}.so.1`;
  // x86_64 carries the real static busybox (the smoke test runs it); other architectures carry a
  // data file in its place: nothing of theirs is run
  const bb = arch === "x86_64" ? busyboxBinary() : text(`busybox ${v.busybox} ${arch} stand-in\n`);
  return [
    {
      name: "musl",
      version: v.musl,
      origin: "musl",
      arch,
      description: "the musl c library (libc) implementation",
      url: "https://musl.libc.org/",
      license: "MIT",
      provides: [`${libc}=1`],
      files: [{ path: `/lib/ld-musl-${arch}.so.1`, content: text(`musl ${v.musl} stand-in\n`), mode: 0o755 }],
    },
    {
      name: "busybox",
      version: v.busybox,
      origin: "busybox",
      arch,
      description: "Size optimized toolbox of many common UNIX utilities",
      url: "https://busybox.net/",
      license: "GPL-2.0-only",
      depends: [libc],
      provides: ["cmd:busybox=1"],
      files: [
        { path: "/bin/busybox", content: bb, mode: 0o755 },
        { path: "/etc/busybox-version", content: text(`${v.busybox}\n`) },
      ],
    },
    {
      name: "busybox-binsh",
      version: v.busybox,
      origin: "busybox",
      arch,
      description: "busybox ash /bin/sh",
      url: "https://busybox.net/",
      license: "GPL-2.0-only",
      depends: [`busybox=${v.busybox}`],
      provides: ["/bin/sh", "cmd:sh=1"],
      files: [{ path: "/bin/sh", symlink: "/bin/busybox" }],
    },
    {
      name: "zlib",
      version: v.zlib,
      origin: "zlib",
      arch,
      description: "A compression/decompression Library",
      url: "https://zlib.net/",
      license: "Zlib",
      depends: [libc],
      provides: [`so:libz.so.1=${v.zlib.replace(/-r\d+$/, "")}`],
      files: [
        {
          path: `/usr/lib/libz.so.${v.zlib.replace(/-r\d+$/, "")}`,
          content: text(`zlib ${v.zlib} stand-in\n`),
          mode: 0o755,
        },
        { path: "/usr/lib/libz.so.1", symlink: `libz.so.${v.zlib.replace(/-r\d+$/, "")}` },
      ],
    },
    {
      name: "libcrypto3",
      version: v.openssl,
      origin: "openssl",
      arch,
      description: "Crypto library from openssl",
      url: "https://www.openssl.org/",
      license: "Apache-2.0",
      depends: [libc],
      provides: ["so:libcrypto.so.3=3"],
      files: [
        { path: "/usr/lib/libcrypto.so.3", content: text(`libcrypto ${v.openssl} stand-in\n`), mode: 0o755 },
        { path: "/etc/ssl/openssl.cnf", content: text("# openssl configuration stand-in\n") },
        // dropped by the fixed version: the patched image must not have it
        ...(state === "release"
          ? [
              {
                path: "/usr/lib/engines-3/padlock.so",
                content: text("padlock engine stand-in\n"),
                mode: 0o755,
              },
            ]
          : []),
      ],
    },
    {
      name: "libssl3",
      version: v.openssl,
      origin: "openssl",
      arch,
      description: "SSL shared libraries",
      url: "https://www.openssl.org/",
      license: "Apache-2.0",
      depends: [libc, "so:libcrypto.so.3"],
      provides: ["so:libssl.so.3=3"],
      files: [{ path: "/usr/lib/libssl.so.3", content: text(`libssl ${v.openssl} stand-in\n`), mode: 0o755 }],
    },
  ];
}

export interface RepositoryState {
  readonly packages: readonly BuiltPackage[];
  readonly index: Buffer;
}

export interface ApkFixtures {
  readonly key: TestKey;
  readonly arch: string;
  /** Index signed `.SIGN.RSA.` (SHA-1). */
  readonly release: RepositoryState;
  /** Index signed `.SIGN.RSA256.` (SHA-256). */
  readonly fixes: RepositoryState;
}

/** Both repository states; zlib is signed RSA256, the other packages RSA (SHA-1). */
export function buildApkFixtures(key: TestKey = makeTestKey(), arch = "x86_64"): ApkFixtures {
  const state = (s: "release" | "fixes", alg: SignAlg): RepositoryState => {
    const packages = repositorySpecs(s, arch).map((p) =>
      buildApk(p, key, p.name === "zlib" ? "RSA256" : "RSA"),
    );
    return { packages, index: buildApkIndex(packages, key, alg, `ocipatch test repository (${s})`) };
  };
  return { key, arch, release: state("release", "RSA"), fixes: state("fixes", "RSA256") };
}

/**
 * Writes `<dir>/<state>/main/<arch>/{APKINDEX.tar.gz,*.apk}` and `<dir>/keys/<key name>`.
 * The repository URL of a state is `<base>/<state>/main` (the directory holding `<arch>/`).
 */
export async function writeApkRepositories(dir: string, fx: ApkFixtures): Promise<void> {
  await mkdir(join(dir, "keys"), { recursive: true });
  await writeFile(join(dir, "keys", fx.key.name), fx.key.publicPem);
  for (const s of ["release", "fixes"] as const) {
    const archDir = join(dir, s, "main", fx.arch);
    await mkdir(archDir, { recursive: true });
    await writeFile(join(archDir, "APKINDEX.tar.gz"), fx[s].index);
    for (const p of fx[s].packages) await writeFile(join(archDir, p.fileName), p.bytes);
  }
}
