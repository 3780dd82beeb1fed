import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import * as openpgp from "openpgp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AptClient } from "../../src/backends/dpkg/apt/client.js";
import { readKeyring } from "../../src/backends/dpkg/apt/keyring.js";
import { PackagesIndex } from "../../src/backends/dpkg/apt/packages.js";
import { parseRelease } from "../../src/backends/dpkg/apt/release.js";
import { parseRelations } from "../../src/backends/dpkg/debian/relations.js";
import { isOcipatchError } from "../../src/errors.js";
import {
  DEBIAN_KEYRING,
  ensureUbuntuKeyring,
  fetchReal,
  hostDebianMirror,
  repo,
  startFileServer,
  testCacheDir,
  trustFromFiles,
  UBUNTU_ARCHIVE,
} from "../harness/apt-support.js";

const exec = promisify(execFile);
let mirror: { debian: string; security: string };
let scratch: string;

beforeAll(async () => {
  mirror = await hostDebianMirror();
  scratch = await mkdtemp(join(tmpdir(), "ocipatch-apt-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** gpgv is the independent oracle: it must accept the file and output the same signed text. */
async function gpgvSignedText(inRelease: Buffer, keyring: string): Promise<string> {
  const f = join(scratch, `inrelease-${Math.random().toString(36).slice(2)}`);
  await writeFile(f, inRelease);
  const { stdout } = await exec("gpgv", ["--keyring", keyring, "--output", "-", f], { maxBuffer: 64 << 20 });
  return stdout;
}

const expectError = async (p: Promise<unknown>, code: string, re: RegExp): Promise<void> => {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${code}`).toBeDefined();
  expect(isOcipatchError(err), String(err)).toBe(true);
  expect((err as { code: string }).code, (err as Error).message).toBe(code);
  expect((err as Error).message).toMatch(re);
  expect((err as Error).message).not.toContain("\n");
};

describe("real Debian InRelease files from the mirror", () => {
  const cases: Array<[string, "debian" | "security", string, string]> = [
    ["bullseye", "debian", "bullseye", "debian-archive-bullseye-stable.gpg"],
    ["bullseye-security", "security", "bullseye", "debian-archive-bullseye-security-automatic.gpg"],
    ["bookworm", "debian", "bookworm", "debian-archive-bookworm-stable.gpg"],
    ["bookworm-updates", "debian", "bookworm", "debian-archive-bookworm-automatic.gpg"],
    ["trixie", "debian", "trixie", "debian-archive-trixie-stable.gpg"],
  ];
  it.each(cases)(
    "%s verifies with the archive keyring, like gpgv",
    async (suite, archive, codename, releaseKeyring) => {
      const uri = mirror[archive];
      const kind = suite.endsWith("-security")
        ? "security"
        : suite.endsWith("-updates")
          ? "updates"
          : "release";
      const client = new AptClient(await trustFromFiles([DEBIAN_KEYRING]), { cacheDir: join(scratch, "c1") });
      const rel = await client.release(repo(uri, suite, kind, codename));
      expect(rel.info.codename).toBe(suite);
      expect(rel.info.acquireByHash).toBe(true);
      expect(rel.info.files.get("main/binary-amd64/Packages.xz")).toBeDefined();
      // the signer's key is in the keyring, as gpgv says; the signed text is byte-identical
      const raw = await fetchReal(rel.url);
      const gpgvText = await gpgvSignedText(raw, DEBIAN_KEYRING);
      expect(gpgvText).toContain(`Codename: ${suite}`);
      const keys = await readKeyring(await readFile(DEBIAN_KEYRING), DEBIAN_KEYRING);
      expect(keys.some((k) => k.allFingerprints.some((f) => f.endsWith(rel.signer.keyId)))).toBe(true);
      // the per-release keyring alone also verifies it
      const perRelease = new AptClient(await trustFromFiles([`/usr/share/keyrings/${releaseKeyring}`]), {
        cacheDir: join(scratch, "c1b"),
      });
      const rel2 = await perRelease.release(repo(uri, suite, kind, codename));
      expect(rel2.info.files.size).toBe(rel.info.files.size);
      // what gpgv says was signed carries the same file list ocipatch uses
      expect(parseRelease(gpgvText, "gpgv output").files).toEqual(rel.info.files);
    },
  );

  it("verifies Release + Release.gpg when InRelease is absent", async () => {
    const base = `${mirror.debian}/dists/bookworm`;
    const files = new Map([
      ["/debian/dists/bookworm/Release", await fetchReal(`${base}/Release`)],
      ["/debian/dists/bookworm/Release.gpg", await fetchReal(`${base}/Release.gpg`)],
    ]);
    const srv = await startFileServer(files);
    try {
      const client = new AptClient(await trustFromFiles([DEBIAN_KEYRING]), { cacheDir: join(scratch, "c2") });
      const rel = await client.release(repo(`${srv.url}/debian`, "bookworm", "release", "bookworm"));
      expect(rel.url).toMatch(/\/Release$/);
      expect(rel.info.codename).toBe("bookworm");
      // (with nothing cached, the index is asked for at the same time: see "Packages indices")
      // a release suite's index is asked for in its gzip form (decoded faster than xz)
      expect(srv.requests).toContain("GET /debian/dists/bookworm/main/binary-amd64/Packages.gz");
      expect(srv.requests.filter((q) => !q.endsWith("/Packages.gz"))).toEqual([
        "GET /debian/dists/bookworm/InRelease",
        "GET /debian/dists/bookworm/Release",
        "GET /debian/dists/bookworm/Release.gpg",
      ]);
      // a tampered Release fails its detached signature
      const tampered = Buffer.from(files.get("/debian/dists/bookworm/Release")!);
      tampered[200] = tampered[200]! ^ 1;
      files.set("/debian/dists/bookworm/Release", tampered);
      const fresh = new AptClient(await trustFromFiles([DEBIAN_KEYRING]), { cacheDir: join(scratch, "c2b") });
      await expectError(
        fresh.release(repo(`${srv.url}/debian`, "bookworm", "release", "bookworm")),
        "SIGNATURE",
        /no valid signature/,
      );
    } finally {
      await srv.close();
    }
  });
});

describe("Packages indices", () => {
  it("bullseye-security main/amd64: verified, by-hash, parsed exactly as the file says, cached", async () => {
    const cacheDir = join(scratch, "c3");
    const r = repo(mirror.security, "bullseye-security", "security", "bullseye");
    // the InRelease cached first: with none, the plain Packages.xz is fetched early (tested below)
    await new AptClient(await trustFromFiles([DEBIAN_KEYRING]), { cacheDir }).release(r);
    const client = new AptClient(await trustFromFiles([DEBIAN_KEYRING]), { cacheDir });
    const rel = await client.release(r);
    const before = client.stats.bytesDownloaded;
    const index = await client.packages(rel, "main", "amd64");
    expect(index).toBeDefined();
    const xzEntry = rel.info.files.get("main/binary-amd64/Packages.xz")!;
    // downloaded exactly the compressed index (by-hash), nothing more
    expect(client.stats.bytesDownloaded - before).toBe(xzEntry.size);
    // independent count: decompress the real file with xz(1) and count paragraphs
    const xz = await fetchReal(`${mirror.security}/dists/bullseye-security/main/binary-amd64/Packages.xz`);
    const xzFile = join(scratch, "bullseye-security-Packages.xz");
    await writeFile(xzFile, xz);
    const { stdout: text } = await exec("xz", ["-dc", xzFile], { encoding: "utf8", maxBuffer: 256 << 20 });
    const expectedCount = text.split("\n").filter((l) => l.startsWith("Package: ")).length;
    expect(index!.size).toBe(expectedCount);
    // every paragraph parses (relations, provides), and openssl's record matches the raw text
    let n = 0;
    for (const p of index!.all()) {
      n++;
      expect(p.sha256).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(n).toBe(expectedCount);
    const ssl = index!.get("libssl1.1");
    expect(ssl.length).toBeGreaterThan(0);
    for (const v of ssl) {
      expect(text).toContain(`Package: libssl1.1\nSource: openssl\nVersion: ${v.version}\n`);
      expect(v.source).toBe("openssl");
      expect(v.multiArch).toBe("same");
      expect(v.origin.kind).toBe("security");
    }
    // warm: a new client reads the verified index from the cache, downloads no index bytes
    const warm = new AptClient(await trustFromFiles([DEBIAN_KEYRING]), { cacheDir });
    const rel2 = await warm.release(r);
    const b2 = warm.stats.bytesDownloaded;
    const again = await warm.packages(rel2, "main", "amd64");
    expect(warm.stats.bytesDownloaded).toBe(b2);
    expect(warm.stats.cacheHits).toBe(1);
    expect(again!.size).toBe(expectedCount);
  });

  it("a form the Release lists but the mirror lacks: the next one is taken, and with none the first is named", async () => {
    const sec = `${mirror.security}/dists/bullseye-security`;
    const inRelease = await fetchReal(`${sec}/InRelease`);
    const gz = await fetchReal(`${sec}/main/binary-amd64/Packages.gz`);
    const xz = await fetchReal(`${sec}/main/binary-amd64/Packages.xz`);
    // the oracle: the xz form read by xz(1)
    const xzFile = join(scratch, "bullseye-security-Packages-m.xz");
    await writeFile(xzFile, xz);
    const { stdout: text } = await exec("xz", ["-dc", xzFile], { encoding: "utf8", maxBuffer: 256 << 20 });
    const expectedCount = text.split("\n").filter((l) => l.startsWith("Package: ")).length;
    const dir = "/debian-security/dists/bullseye-security";
    // the Release lists both forms; a security suite's xz comes first, but this mirror only has the gzip one
    const files = new Map([
      [`${dir}/InRelease`, inRelease],
      [`${dir}/main/binary-amd64/Packages.gz`, gz],
    ]);
    const srv = await startFileServer(files);
    try {
      const r = repo(`${srv.url}/debian-security`, "bullseye-security", "security", "bullseye");
      const client = new AptClient(await trustFromFiles([DEBIAN_KEYRING]), { cacheDir: join(scratch, "m1") });
      const index = await client.packages(await client.release(r), "main", "amd64");
      expect(index!.size).toBe(expectedCount);
      expect(srv.requests).toContain(`GET ${dir}/main/binary-amd64/Packages.xz`);
      expect(srv.requests).toContain(`GET ${dir}/main/binary-amd64/Packages.gz`);
      expect(client.stats.bytesDownloaded).toBe(inRelease.length + gz.length);
      // neither form on the mirror: the first one is named
      files.delete(`${dir}/main/binary-amd64/Packages.gz`);
      const none = new AptClient(await trustFromFiles([DEBIAN_KEYRING]), { cacheDir: join(scratch, "m2") });
      await expectError(
        none.packages(await none.release(r), "main", "amd64"),
        "NOT_FOUND",
        /Packages\.xz is listed in the signed Release but missing/,
      );
    } finally {
      await srv.close();
    }
  });

  it("every relationship field of bookworm main parses", async () => {
    const client = new AptClient(await trustFromFiles([DEBIAN_KEYRING]), {
      cacheDir: join(testCacheDir(), "apt-cache"),
    });
    const rel = await client.release(repo(mirror.debian, "bookworm", "release", "bookworm"));
    const index = (await client.packages(rel, "main", "amd64"))!;
    let withProvides = 0;
    let alternatives = 0;
    for (const p of index.all()) {
      if (p.provides.length > 0) withProvides++;
      if (p.depends.some((g) => g.length > 1)) alternatives++;
    }
    expect(index.size).toBeGreaterThan(50_000);
    expect(withProvides).toBeGreaterThan(1000);
    expect(alternatives).toBeGreaterThan(1000);
    // virtual packages resolve to their providers
    const mta = index.providers("mail-transport-agent").map((p) => p.name);
    expect(mta).toContain("exim4-daemon-light");
    expect(mta).toContain("postfix");
    expect(parseRelations("perl:any, python3:any (>= 3.11~)")[1]![0]!.archQualifier).toBe("any");
  });

  it("bookworm main read from its bytes: every name and every provider an independent reading finds (LF, CRLF)", async () => {
    const client = new AptClient(await trustFromFiles([DEBIAN_KEYRING]), {
      cacheDir: join(testCacheDir(), "apt-cache"),
    });
    const rel = await client.release(repo(mirror.debian, "bookworm", "release", "bookworm"));
    const index = (await client.packages(rel, "main", "amd64"))!;
    const plain = rel.info.files.get("main/binary-amd64/Packages")!;
    const text = (await readFile(client.cache.indexPath(plain.sha256))).toString("latin1");
    // independent: paragraphs split on blank lines, fields found by regular expressions
    const names = new Set<string>();
    const providers = new Map<string, Set<string>>();
    for (const para of text.split(/\n\n+/)) {
      const name = /^Package:\s*(\S+)/m.exec(para)?.[1];
      if (!name) continue;
      names.add(name);
      const provides = /^Provides:(.*(?:\n[ \t].*)*)/m.exec(para)?.[1] ?? "";
      for (const part of provides.split(",")) {
        const v = /^\s*([a-z0-9][a-z0-9+.-]*)/.exec(part)?.[1];
        if (v) providers.set(v, (providers.get(v) ?? new Set()).add(name));
      }
    }
    expect(providers.size).toBeGreaterThan(1000);
    const byIndex = (idx: typeof index) => ({
      names: [...idx.names()].sort(),
      providers: [...providers.keys()].map((v) => [
        v,
        [...new Set(idx.providers(v).map((p) => p.name))].sort(),
      ]),
    });
    const expected = {
      names: [...names].sort(),
      providers: [...providers].map(([v, ps]) => [v, [...ps].sort()]),
    };
    expect(byIndex(index)).toEqual(expected);
    const crlf = PackagesIndex.fromBytes(
      Buffer.from(text.replace(/\n/g, "\r\n"), "latin1"),
      index.origin,
      "crlf",
    );
    expect(byIndex(crlf)).toEqual(expected);
    // a Provides field on the file's very first line
    const first = PackagesIndex.fromBytes(
      Buffer.from(
        `Provides: virt\nPackage: a\nVersion: 1\nArchitecture: all\nFilename: pool/a.deb\nSize: 1\nSHA256: ${"0".repeat(64)}\n`,
      ),
      index.origin,
      "first",
    );
    expect(first.providers("virt").map((p) => p.name)).toEqual(["a"]);
    // read from a file piece by piece (1 MiB pieces, as the client reads its cache): the same
    // names and providers; paragraphs are read from the file, and one cut short says so
    const copy = join(scratch, "Packages-cut");
    await writeFile(copy, text, "latin1");
    const fromFile = await PackagesIndex.fromFile(copy, text.length, index.origin, "cut");
    expect(byIndex(fromFile)).toEqual(expected);
    expect(fromFile.get("zsh").map((p) => p.version)).toEqual(index.get("zsh").map((p) => p.version));
    await writeFile(copy, text.slice(0, text.length >> 1), "latin1");
    await expectError(
      (async () => fromFile.get(expected.names[expected.names.length - 1]!))(),
      "INVALID_FORMAT",
      /cut: the cached index .* was cut short/,
    );
    await expectError(
      PackagesIndex.fromFile(copy, text.length, index.origin, "cut"),
      "INVALID_FORMAT",
      /cut: the cached index .* was cut short/,
    );
    const crlfFile = join(scratch, "Packages-crlf");
    await writeFile(crlfFile, text.replace(/\n/g, "\r\n"), "latin1");
    const crlfText = await readFile(crlfFile);
    expect(byIndex(await PackagesIndex.fromFile(crlfFile, crlfText.length, index.origin, "crlf"))).toEqual(
      expected,
    );
  });
});

describe("Ubuntu", () => {
  it("jammy and jammy-security InRelease verify with the ubuntu-keyring from Debian trixie", async () => {
    const keyring = await ensureUbuntuKeyring();
    const client = new AptClient(await trustFromFiles([keyring]), { cacheDir: join(scratch, "c4") });
    for (const [suite, kind] of [
      ["jammy", "release"],
      ["jammy-security", "security"],
    ] as const) {
      const rel = await client.release(repo(UBUNTU_ARCHIVE, suite, kind, "jammy"));
      expect(rel.info.suite).toBe(suite);
      expect(rel.info.codename).toBe("jammy");
      expect(await gpgvSignedText(await fetchReal(rel.url), keyring)).toContain(`Suite: ${suite}`);
    }
    // Debian's keys do not sign Ubuntu
    const wrong = new AptClient(await trustFromFiles([DEBIAN_KEYRING]), { cacheDir: join(scratch, "c4b") });
    await expectError(
      wrong.release(repo(UBUNTU_ARCHIVE, "jammy", "release", "jammy")),
      "SIGNATURE",
      /not a trusted key/,
    );
  });
});

describe("bad input is refused with one clear line, nothing planned from unverified data", () => {
  let files: Map<string, Buffer>;
  let srv: Awaited<ReturnType<typeof startFileServer>>;
  let realInRelease: Buffer;
  let xzPath: string;
  let byHashPath: string;

  beforeAll(async () => {
    const sec = `${mirror.security}/dists/bookworm-security`;
    realInRelease = await fetchReal(`${sec}/InRelease`);
    const text = realInRelease.toString("utf8");
    const hash = /^ ([0-9a-f]{64})\s+\d+ main\/binary-amd64\/Packages\.xz$/m.exec(
      text.slice(text.indexOf("SHA256:")),
    )![1]!;
    xzPath = "/debian-security/dists/bookworm-security/main/binary-amd64/Packages.xz";
    byHashPath = `/debian-security/dists/bookworm-security/main/binary-amd64/by-hash/SHA256/${hash}`;
    files = new Map([["/debian-security/dists/bookworm-security/InRelease", realInRelease]]);
    srv = await startFileServer(files);
  });
  afterAll(async () => {
    await srv.close();
  });

  const secRepo = () => repo(`${srv.url}/debian-security`, "bookworm-security", "security", "bookworm");

  it("a flipped byte in InRelease → SIGNATURE", async () => {
    const bad = Buffer.from(realInRelease);
    const i = bad.indexOf("Packages.xz");
    bad[i + 2] = bad[i + 2]! ^ 0x20; // "Packages.xz" -> "PaCkages.xz"
    files.set("/flip/dists/bookworm-security/InRelease", bad);
    const client = new AptClient(await trustFromFiles([DEBIAN_KEYRING]), { cacheDir: join(scratch, "f1") });
    await expectError(
      client.release(repo(`${srv.url}/flip`, "bookworm-security", "security", "bookworm")),
      "SIGNATURE",
      /InRelease: no valid signature from a trusted key/,
    );
  });

  it("a key that did not sign → SIGNATURE", async () => {
    const { publicKey } = await openpgp.generateKey({ userIDs: [{ name: "Not Debian" }], format: "binary" });
    const f = join(scratch, "other.gpg");
    await writeFile(f, publicKey);
    const client = new AptClient(await trustFromFiles([f]), { cacheDir: join(scratch, "f2") });
    await expectError(client.release(secRepo()), "SIGNATURE", /not a trusted key/);
  });

  it("a Packages file that does not match its Release hash → DIGEST_MISMATCH", async () => {
    const otherXz = await fetchReal(`${mirror.debian}/dists/bookworm-updates/main/binary-amd64/Packages.xz`);
    files.set(xzPath, otherXz);
    files.set(byHashPath, otherXz);
    try {
      const client = new AptClient(await trustFromFiles([DEBIAN_KEYRING]), { cacheDir: join(scratch, "f3") });
      const rel = await client.release(secRepo());
      await expectError(
        client.packages(rel, "main", "amd64"),
        "DIGEST_MISMATCH",
        /does not match the signed Release/,
      );
      // nothing unverified was cached
      const again = new AptClient(await trustFromFiles([DEBIAN_KEYRING]), { cacheDir: join(scratch, "f3") });
      await expectError(
        again.packages(await again.release(secRepo()), "main", "amd64"),
        "DIGEST_MISMATCH",
        /sha256/,
      );
    } finally {
      files.delete(xzPath);
      files.delete(byHashPath);
    }
  });

  it("falls back from by-hash to the plain path, and revalidates InRelease with a conditional request", async () => {
    files.set(
      xzPath,
      await fetchReal(`${mirror.security}/dists/bookworm-security/main/binary-amd64/Packages.xz`),
    );
    try {
      const cacheDir = join(scratch, "f4");
      const client = new AptClient(await trustFromFiles([DEBIAN_KEYRING]), { cacheDir });
      const index = await client.packages(await client.release(secRepo()), "main", "amd64");
      expect(index!.size).toBeGreaterThan(100);
      const start = srv.requests.length;
      const warm = new AptClient(await trustFromFiles([DEBIAN_KEYRING]), { cacheDir });
      await warm.packages(await warm.release(secRepo()), "main", "amd64");
      expect(srv.requests.slice(start)).toEqual([
        "GET /debian-security/dists/bookworm-security/InRelease (conditional)",
      ]);
      expect(warm.stats.notModified).toBe(1);
    } finally {
      files.delete(xzPath);
    }
  });

  it("nothing cached: the Packages.xz is fetched while the InRelease is, taken once it verifies, fetched again by hash when it does not", async () => {
    const realXz = await fetchReal(
      `${mirror.security}/dists/bookworm-security/main/binary-amd64/Packages.xz`,
    );
    files.set(xzPath, realXz);
    files.set(byHashPath, realXz);
    try {
      const start = srv.requests.length;
      const client = new AptClient(await trustFromFiles([DEBIAN_KEYRING]), { cacheDir: join(scratch, "e1") });
      const index = await client.packages(await client.release(secRepo()), "main", "amd64");
      expect(index!.size).toBeGreaterThan(100);
      expect([...srv.requests.slice(start)].sort()).toEqual([
        "GET /debian-security/dists/bookworm-security/InRelease",
        `GET ${xzPath}`,
      ]);
      expect(client.stats.bytesDownloaded).toBe(realInRelease.length + realXz.length);

      // the plain file moved on (another snapshot): the early copy is dropped, the signed one fetched
      files.set(
        xzPath,
        await fetchReal(`${mirror.debian}/dists/bookworm-updates/main/binary-amd64/Packages.xz`),
      );
      const mid = srv.requests.length;
      const other = new AptClient(await trustFromFiles([DEBIAN_KEYRING]), { cacheDir: join(scratch, "e2") });
      const again = await other.packages(await other.release(secRepo()), "main", "amd64");
      expect(again!.size).toBe(index!.size);
      const asked = srv.requests.slice(mid);
      expect(asked.filter((q) => q !== `GET ${xzPath}`)).toEqual([
        "GET /debian-security/dists/bookworm-security/InRelease",
        `GET ${byHashPath}`,
      ]);
      expect(asked.filter((q) => q === `GET ${xzPath}`)).toHaveLength(1);
    } finally {
      files.delete(xzPath);
      files.delete(byHashPath);
    }
  });

  it("an expired Valid-Until → SIGNATURE, unless the check is disabled", async () => {
    const later = () => new Date("2026-12-31T00:00:00Z");
    const text = realInRelease.toString("utf8");
    const validUntil = /^Valid-Until: (.*)$/m.exec(text)?.[1];
    expect(validUntil, "bookworm-security carries Valid-Until").toBeDefined();
    const future = new Date(Date.parse(validUntil!.replace(/\s+/g, " ")) + 86_400_000);
    const at = () => (future > later() ? future : later());
    const client = new AptClient(await trustFromFiles([DEBIAN_KEYRING]), {
      cacheDir: join(scratch, "f5"),
      now: at,
    });
    await expectError(client.release(secRepo()), "SIGNATURE", /expired on .*Valid-Until/);
    const lax = new AptClient(await trustFromFiles([DEBIAN_KEYRING]), {
      cacheDir: join(scratch, "f5b"),
      now: at,
      checkValidUntil: false,
    });
    expect((await lax.release(secRepo())).info.codename).toBe("bookworm-security");
  });

  it("a Release of another suite or release is refused", async () => {
    files.set("/swap/dists/bookworm-updates/InRelease", realInRelease);
    const client = new AptClient(await trustFromFiles([DEBIAN_KEYRING]), { cacheDir: join(scratch, "f6") });
    await expectError(
      client.release(repo(`${srv.url}/swap`, "bookworm-updates", "updates", "bookworm")),
      "SIGNATURE",
      /not bookworm-updates/,
    );
    files.set(
      "/swap/dists/bullseye-security/InRelease",
      await fetchReal(`${mirror.security}/dists/bookworm-security/InRelease`),
    );
    await expectError(
      client.release(repo(`${srv.url}/swap`, "bullseye-security", "security", "bullseye")),
      "SIGNATURE",
      /not bullseye-security/,
    );
  });

  it("an unknown release (404) → NOT_FOUND naming it", async () => {
    const client = new AptClient(await trustFromFiles([DEBIAN_KEYRING]), { cacheDir: join(scratch, "f7") });
    await expectError(
      client.release(repo(`${srv.url}/debian`, "bogus", "release", "bogus")),
      "NOT_FOUND",
      /unknown release bogus at http:\/\/127\.0\.0\.1:\d+\/debian: neither .*InRelease nor Release exists/,
    );
  });

  it("an unreachable mirror → NETWORK after bounded retries", async () => {
    const dead = await startFileServer(new Map());
    const url = dead.url;
    await dead.close();
    const client = new AptClient(await trustFromFiles([DEBIAN_KEYRING]), {
      cacheDir: join(scratch, "f8"),
      http: { attempts: 2, backoffMs: 10 },
    });
    await expectError(
      client.release(repo(`${url}/debian`, "bookworm", "release", "bookworm")),
      "NETWORK",
      /failed after 2 attempts: .*ECONNREFUSED/,
    );
  });

  it("retries transient 503s and succeeds", async () => {
    let failures = 2;
    const flaky = await startFileServer(
      new Map([["/d/dists/bookworm-security/InRelease", realInRelease]]),
      (_req, res) => {
        if (failures-- > 0) {
          res.writeHead(503).end();
          return true;
        }
        return false;
      },
    );
    try {
      const client = new AptClient(await trustFromFiles([DEBIAN_KEYRING]), {
        cacheDir: join(scratch, "f9"),
        http: { backoffMs: 10 },
      });
      const rel = await client.release(repo(`${flaky.url}/d`, "bookworm-security", "security", "bookworm"));
      expect(rel.info.codename).toBe("bookworm-security");
      expect(flaky.requests).toHaveLength(3);
    } finally {
      await flaky.close();
    }
  });
});
