import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  createReadStream,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type DataEntry, type DebPackage, openDeb, openDebFile } from "../../src/backends/dpkg/deb/index.js";
import { isOcipatchError } from "../../src/errors.js";
import { readAll } from "../../src/util/streams.js";
import { saveVerified } from "../../src/util/verified-file.js";
import { type CachedDeb, debianDeb, ubuntuDeb } from "../harness/debian-packages.js";

// ORACLE: dpkg-deb extracts the tar members, Python's tarfile lists them.
const TARLIST = `
import sys, tarfile, json, hashlib
out = []
with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as t:
    for m in t:
        n = m.name
        while n.startswith("./"): n = n[2:]
        n = n.rstrip("/") or "."
        ty = "file" if m.isreg() else "directory" if m.isdir() else "symlink" if m.issym() else "hardlink" if m.islnk() else "other"
        e = {"path": n, "type": ty, "mode": m.mode & 0o7777, "uid": m.uid, "gid": m.gid, "uname": m.uname,
             "gname": m.gname, "mtime": int(m.mtime), "size": m.size if m.isreg() else 0,
             "linkname": (m.linkname if m.issym() else (m.linkname[2:] if m.linkname.startswith("./") else m.linkname) if m.islnk() else "")}
        if m.isreg():
            e["md5"] = hashlib.md5(t.extractfile(m).read()).hexdigest()
            if n == "control" or "/" not in n: e["data"] = None
        out.append(e)
json.dump(out, sys.stdout)
`;

interface OracleEntry {
  path: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: number;
  size: number;
  linkname: string;
  md5?: string;
}

function oracleList(deb: string, what: "--fsys-tarfile" | "--ctrl-tarfile"): OracleEntry[] {
  const tarball = execFileSync("dpkg-deb", [what, deb], { maxBuffer: 1 << 30 });
  return JSON.parse(
    execFileSync("python3", ["-c", TARLIST], { input: tarball, maxBuffer: 1 << 30 }).toString(),
  );
}

function oracleControlMember(deb: string, name: string): Buffer {
  const dir = mkdtempSync(join(tmpdir(), "ocipatch-ctl-"));
  try {
    execFileSync("dpkg-deb", ["--control", deb, dir]);
    return readFileSync(join(dir, name));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function collect(pkg: DebPackage): Promise<Array<OracleEntry & { md5?: string }>> {
  const out: Array<OracleEntry & { md5?: string }> = [];
  for await (const e of pkg.entries() as AsyncGenerator<DataEntry>) {
    const h = e.header;
    const row: OracleEntry = { ...h };
    if (h.type === "file") {
      const hash = createHash("md5");
      for await (const c of e.content) hash.update(c as Buffer);
      row.md5 = hash.digest("hex");
    }
    out.push(row);
  }
  return out;
}

const cases: Array<[string, () => CachedDeb]> = [
  ["bookworm openssl", () => debianDeb("bookworm", "openssl")],
  ["bookworm libssl3", () => debianDeb("bookworm", "libssl3")],
  ["bookworm libc6", () => debianDeb("bookworm", "libc6")],
  ["bookworm base-files", () => debianDeb("bookworm", "base-files")],
  ["bookworm ca-certificates", () => debianDeb("bookworm", "ca-certificates")],
  ["bookworm nginx-common", () => debianDeb("bookworm", "nginx-common")],
  ["bookworm tzdata", () => debianDeb("bookworm", "tzdata")],
  ["bullseye libssl1.1 (xz)", () => debianDeb("bullseye", "libssl1.1")],
  ["bullseye nginx-common", () => debianDeb("bullseye", "nginx-common")],
  ["jammy-updates libssl3 (zstd)", () => ubuntuDeb("jammy-updates", "libssl3")],
  ["jammy-updates openssl (zstd)", () => ubuntuDeb("jammy-updates", "openssl")],
];

describe("reading real .debs matches dpkg-deb", () => {
  for (const [label, get] of cases) {
    it(label, async () => {
      const deb = get();
      const pkg = await openDebFile(deb.path, { expect: { sha256: deb.sha256, size: deb.size } });
      // control paragraph: every field as dpkg-deb --field prints it
      expect(pkg.control.get("Package")).toBe(deb.name);
      expect(pkg.control.get("Version")).toBe(deb.version);
      for (const [name, value] of pkg.control.fields) {
        const want = execFileSync("dpkg-deb", ["--field", deb.path, name]).toString().replace(/\n$/, "");
        expect(value.split("\n").join("\n ").replace(/^/, "")).toBe(want.replace(/\n /g, "\n "));
      }
      // control members: names, modes and bytes
      const ctl = oracleList(deb.path, "--ctrl-tarfile").filter((e) => e.type === "file");
      expect([...pkg.controlMembers.keys()].sort()).toEqual(ctl.map((e) => e.path).sort());
      for (const e of ctl) {
        const m = pkg.controlMembers.get(e.path)!;
        expect(m.mode).toBe(e.mode);
        expect(m.data.equals(oracleControlMember(deb.path, e.path))).toBe(true);
      }
      for (const s of ["preinst", "postinst", "prerm", "postrm", "config"] as const) {
        expect(pkg.scripts[s] !== undefined).toBe(ctl.some((e) => e.path === s));
      }
      // conffiles
      const conffiles = ctl.some((e) => e.path === "conffiles")
        ? oracleControlMember(deb.path, "conffiles")
            .toString()
            .split("\n")
            .filter((l) => l.trim() !== "")
        : [];
      expect(pkg.conffiles.map((c) => (c.removeOnUpgrade ? `remove-on-upgrade ${c.path}` : c.path))).toEqual(
        conffiles,
      );
      // data entries: every path, type, mode, owner, size, link target, content
      const mine = await collect(pkg);
      const want = oracleList(deb.path, "--fsys-tarfile");
      expect(mine.length).toBe(want.length);
      expect(mine).toEqual(want);
      // md5sums agree with the contents
      if (pkg.md5sums) {
        const byPath = new Map(mine.map((e) => [e.path, e]));
        for (const [p, md5] of pkg.md5sums) expect(byPath.get(p)?.md5, p).toBe(md5);
      }
    });
  }

  it("sees zstd members in Ubuntu packages and xz in Debian ones", async () => {
    const u = await openDebFile(ubuntuDeb("jammy-updates", "libssl3").path);
    expect(u.dataCompression).toBe("zstd");
    expect(u.controlCompression).toBe("zstd");
    await u.close();
    const d = await openDebFile(debianDeb("bullseye", "libssl1.1").path);
    expect(d.dataCompression).toBe("xz");
    await d.close();
  });
});

/** Open file descriptors of this process that point at `path`. */
function openFds(path: string): string[] {
  return readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === path;
    } catch {
      return false; // closed meanwhile
    }
  });
}

describe("prefetch: data.tar decoded ahead, read later", () => {
  for (const [label, get] of [cases[2]!, cases[7]!, cases[9]!]) {
    it(`${label}: the same entries and contents as without it`, async () => {
      const deb = get();
      const plain = await collect(await openDebFile(deb.path));
      const pkg = await openDebFile(deb.path);
      pkg.prefetch(1 << 20);
      // the decoder runs meanwhile, held by the read-ahead; nothing is lost
      await new Promise((r) => setTimeout(r, 200));
      expect(await collect(pkg)).toEqual(plain);
    });
  }

  it("a prefetched package closed unread stops its decoding, lets go of the file and ends cleanly", async () => {
    const path = debianDeb("bookworm", "libc6").path;
    const pkg = await openDebFile(path);
    expect(pkg.dataCompression).toBe("xz");
    pkg.prefetch(64 * 1024);
    await new Promise((r) => setTimeout(r, 100));
    expect(openFds(path)).toHaveLength(1); // held by the read-ahead, not finished
    await pkg.close();
    for (let i = 0; i < 50 && openFds(path).length > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(openFds(path)).toEqual([]);
    await expect(pkg.entries().next()).rejects.toThrow(/closed/);
  });

  it("a truncated package prefetched fails from entries(), one line, naming the file", async () => {
    const deb = debianDeb("bookworm", "openssl");
    const dir = mkdtempSync(join(tmpdir(), "ocipatch-deb-prefetch-"));
    try {
      const cut = join(dir, "truncated.deb");
      copyFileSync(deb.path, cut);
      truncateSync(cut, Math.floor(deb.size * 0.7));
      const pkg = await openDebFile(cut);
      pkg.prefetch(16 << 20);
      await new Promise((r) => setTimeout(r, 200));
      const err = await (async () => {
        for await (const e of pkg.entries()) await readAll(e.content);
      })().catch((e) => e);
      expect(isOcipatchError(err, "INVALID_FORMAT")).toBe(true);
      expect(err.message).toContain(cut);
      expect(err.message).not.toContain("\n");
      await pkg.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("faults", () => {
  const dir = mkdtempSync(join(tmpdir(), "ocipatch-deb-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("a flipped byte is a DIGEST_MISMATCH before anything is parsed", async () => {
    const deb = debianDeb("bookworm", "openssl");
    const bad = join(dir, "flipped.deb");
    const buf = readFileSync(deb.path);
    const at = Math.floor(buf.length / 2);
    buf[at] = buf[at]! ^ 0xff;
    writeFileSync(bad, buf);
    const err = await openDebFile(bad, { expect: { sha256: deb.sha256, size: deb.size } }).catch((e) => e);
    expect(isOcipatchError(err, "DIGEST_MISMATCH")).toBe(true);
    expect(err.message).toContain(bad);
    expect(err.message).not.toContain("\n");
  });

  it("streaming with an expectation fails at the end of the entries when the hash differs", async () => {
    const deb = debianDeb("bookworm", "base-files");
    const buf = readFileSync(deb.path);
    // change one digit of the data member's ar mtime: still a valid .deb, but not the published one
    const dataHdr = buf.indexOf("data.tar");
    const mtimeAt = dataHdr + 16;
    buf[mtimeAt] = buf[mtimeAt] === 0x31 ? 0x32 : 0x31;
    const { Readable } = await import("node:stream");
    const pkg = await openDeb(Readable.from([buf]), {
      source: "base-files.deb",
      expect: { sha256: deb.sha256, size: deb.size },
    });
    let n = 0;
    const err = await (async () => {
      for await (const e of pkg.entries()) {
        n++;
        await readAll(e.content);
      }
    })().catch((e) => e);
    expect(n).toBeGreaterThan(0);
    expect(isOcipatchError(err, "DIGEST_MISMATCH")).toBe(true);
  });

  it("a truncated file is a clear one-line error", async () => {
    const deb = debianDeb("bookworm", "openssl");
    const cut = join(dir, "truncated.deb");
    copyFileSync(deb.path, cut);
    truncateSync(cut, Math.floor(deb.size * 0.7));
    // without expectation: the parser notices
    const pkg = await openDebFile(cut);
    const err = await (async () => {
      for await (const e of pkg.entries()) await readAll(e.content);
    })().catch((e) => e);
    expect(isOcipatchError(err)).toBe(true);
    expect(err.code).toBe("INVALID_FORMAT");
    expect(err.message).toMatch(/truncated|corrupt/);
    expect(err.message).toContain(cut);
    expect(err.message).not.toContain("\n");
    // with expectation: the size check catches it first
    const err2 = await openDebFile(cut, { expect: { sha256: deb.sha256, size: deb.size } }).catch((e) => e);
    expect(isOcipatchError(err2, "DIGEST_MISMATCH")).toBe(true);
  });

  it("saveVerified writes a private verified copy, and removes it on a mismatch", async () => {
    const deb = debianDeb("bookworm", "base-files");
    const good = join(dir, "saved.deb");
    const r = await saveVerified(createReadStream(deb.path), good, { sha256: deb.sha256, size: deb.size });
    expect(r.size).toBe(deb.size);
    expect(r.digest).toBe(`sha256:${deb.sha256}`);
    expect((await import("node:fs")).statSync(good).mode & 0o777).toBe(0o600);
    expect((await openDebFile(good, { expect: deb })).control.get("Package")).toBe("base-files");
    const bad = join(dir, "saved-bad.deb");
    const wrong = deb.sha256.replace(/^./, (c) => (c === "0" ? "1" : "0"));
    const err = await saveVerified(createReadStream(deb.path), bad, { sha256: wrong }).catch((e) => e);
    expect(isOcipatchError(err, "DIGEST_MISMATCH")).toBe(true);
    expect(existsSync(bad)).toBe(false);
  });

  it("a file that is not a .deb is refused", async () => {
    const p = join(dir, "not.deb");
    writeFileSync(p, "hello world, I am not an archive\n");
    const err = await openDebFile(p).catch((e) => e);
    expect(isOcipatchError(err, "INVALID_FORMAT")).toBe(true);
  });
});
