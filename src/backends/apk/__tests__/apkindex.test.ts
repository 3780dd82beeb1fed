import { describe, expect, it } from "vitest";
import { buildApkFixtures, buildApkIndex, makeTestKey } from "../../../../test/harness/apk/build.js";
import { isOcipatchError } from "../../../errors.js";
import { type EntrySpec, MemoryLayer } from "../../../rootfs/__tests__/synthetic.js";
import { LayeredFs } from "../../../rootfs/index.js";
import { parseApkIndexText, readApkIndex } from "../apkindex.js";
import { splitGzipMembers } from "../archive.js";
import { parseApkKey, readApkKeys } from "../signature.js";

const fx = buildApkFixtures();
const trusted = [parseApkKey(fx.key.name, fx.key.publicPem, "test key")];

function fails(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isOcipatchError(e)) return `${e.code}: ${e.message}`;
    throw e;
  }
  throw new Error("did not fail");
}

/** Flip one bit of the MTIME field in the header of gzip member `n` (still a valid gzip stream). */
function flipMemberByte(bytes: Buffer, n: number): Buffer {
  const members = splitGzipMembers(bytes, "x");
  let off = 0;
  for (let i = 0; i < n; i++) off += members[i]?.raw.length ?? 0;
  const out = Buffer.from(bytes);
  out[off + 4] = (out[off + 4] ?? 0) ^ 1;
  return out;
}

describe("APKINDEX.tar.gz", () => {
  it("reads both repository states, signed RSA (SHA-1) and RSA256 (SHA-256)", () => {
    for (const s of ["release", "fixes"] as const) {
      const idx = readApkIndex(fx[s].index, trusted, `${s}/x86_64/APKINDEX.tar.gz`);
      expect(idx.signedBy).toBe(fx.key.name);
      expect(idx.description).toBe(`ocipatch test repository (${s})`);
      expect(idx.entries.map((e) => [e.name, e.version, e.origin, e.checksum, e.size])).toEqual(
        fx[s].packages.map((p) => [p.spec.name, p.spec.version, p.spec.origin, p.checksum, p.bytes.length]),
      );
    }
    const fixes = readApkIndex(fx.fixes.index, trusted, "fixes");
    const ssl = fixes.entries.find((e) => e.name === "libssl3");
    expect(ssl).toMatchObject({
      version: "3.3.7-r2",
      origin: "openssl",
      architecture: "x86_64",
      depends: ["so:libc.musl-x86_64.so.1", "so:libcrypto.so.3"],
      provides: ["so:libssl.so.3=3"],
      license: "Apache-2.0",
      buildTime: 1735689600,
    });
  });

  it("unsigned, wrong key, unknown key, tampered: one-line SIGNATURE errors", () => {
    const src = "http://127.0.0.1/release/main/x86_64/APKINDEX.tar.gz";
    const body = splitGzipMembers(fx.release.index, src)[1]?.raw as Buffer;
    expect(fails(() => readApkIndex(body, trusted, src))).toBe(
      `SIGNATURE: ${src}: not signed (1 gzip member, expected 2)`,
    );
    const other = makeTestKey(fx.key.name); // same name, different key pair
    expect(
      fails(() => readApkIndex(fx.release.index, [parseApkKey(other.name, other.publicPem, "k")], src)),
    ).toBe(`SIGNATURE: ${src}: signature RSA.${fx.key.name} does not verify`);
    const stranger = makeTestKey("stranger-5f00d.rsa.pub");
    const signedByStranger = buildApkIndex(fx.release.packages, stranger, "RSA256", "x");
    expect(fails(() => readApkIndex(signedByStranger, trusted, src))).toBe(
      `SIGNATURE: ${src}: signed by unknown key RSA256.stranger-5f00d.rsa.pub (trusted: ${fx.key.name})`,
    );
    expect(fails(() => readApkIndex(fx.release.index, [], src))).toBe(
      `SIGNATURE: ${src}: signed by unknown key RSA.${fx.key.name} (trusted: none)`,
    );
    expect(fails(() => readApkIndex(flipMemberByte(fx.fixes.index, 1), trusted, src))).toBe(
      `SIGNATURE: ${src}: signature RSA256.${fx.key.name} does not verify`,
    );
  });

  it("malformed index text and gzip: INVALID_FORMAT", () => {
    expect(fails(() => parseApkIndexText("P:x\nV:1-r0\n\n", "APKINDEX"))).toBe(
      "INVALID_FORMAT: APKINDEX:1: package record without C:",
    );
    expect(fails(() => parseApkIndexText("C:Q1x\nP x\n", "APKINDEX"))).toBe(
      'INVALID_FORMAT: APKINDEX:2: not a "X:value" line',
    );
    expect(fails(() => readApkIndex(Buffer.from("<html>404</html>"), trusted, "idx"))).toBe(
      "INVALID_FORMAT: idx: gzip member 1 at byte 0: not a gzip stream",
    );
  });

  it("trusted keys come from /etc/apk/keys in the image", async () => {
    const layer: EntrySpec[] = [
      { name: "etc/apk/keys/", type: "directory" },
      { name: `etc/apk/keys/${fx.key.name}`, content: fx.key.publicPem },
    ];
    const fs = new LayeredFs([await MemoryLayer.of(layer)], "test image");
    const keys = await readApkKeys(fs);
    expect(keys.map((k) => k.name)).toEqual([fx.key.name]);
    expect(readApkIndex(fx.release.index, keys, "idx").signedBy).toBe(fx.key.name);
    const none = new LayeredFs(
      [await MemoryLayer.of([{ name: "etc/os-release", content: "ID=wolfi\n" }])],
      "t",
    );
    expect(await readApkKeys(none)).toEqual([]);
    const junk = new LayeredFs(
      [await MemoryLayer.of([{ name: "etc/apk/keys/bad.rsa.pub", content: "x" }])],
      "t",
    );
    await expect(readApkKeys(junk)).rejects.toThrow("t: /etc/apk/keys/bad.rsa.pub: not a PEM public key");
  });
});
