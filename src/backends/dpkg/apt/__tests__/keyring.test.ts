import * as openpgp from "openpgp";
import { beforeAll, describe, expect, it } from "vitest";
import { isOcipatchError } from "../../../../errors.js";
import {
  isDefaultKeyringPath,
  keyMatches,
  keyringFilesFromList,
  readKeyring,
  TrustStore,
} from "../keyring.js";
import { verifyDetachedRelease, verifyInRelease } from "../release.js";

interface TestKey {
  armored: string;
  binary: Uint8Array;
  priv: openpgp.PrivateKey;
  fingerprint: string;
}
async function makeKey(name: string): Promise<TestKey> {
  const { privateKey, publicKey } = await openpgp.generateKey({
    userIDs: [{ name }],
    format: "armored",
    type: "ecc",
    curve: "ed25519Legacy",
  });
  const pub = await openpgp.readKey({ armoredKey: publicKey });
  return {
    armored: publicKey,
    binary: pub.write(),
    priv: await openpgp.readPrivateKey({ armoredKey: privateKey }),
    fingerprint: pub.getFingerprint().toUpperCase(),
  };
}
async function clearsign(text: string, k: TestKey): Promise<Uint8Array> {
  const msg = await openpgp.createCleartextMessage({ text });
  return Buffer.from(await openpgp.sign({ message: msg, signingKeys: k.priv }));
}

let archive: TestKey;
let other: TestKey;
let third: TestKey;
const RELEASE =
  "Origin: Test\nSuite: stable\nCodename: bookworm\nSHA256:\n 0000000000000000000000000000000000000000000000000000000000000000 0 main/binary-amd64/Packages\n";

beforeAll(async () => {
  [archive, other, third] = await Promise.all([makeKey("Archive"), makeKey("Other"), makeKey("Third")]);
});

describe("readKeyring", () => {
  it("reads binary keyrings (several keys concatenated) and armored files (several blocks)", async () => {
    const bin = Buffer.concat([Buffer.from(archive.binary), Buffer.from(other.binary)]);
    expect((await readKeyring(bin, "a.gpg")).map((k) => k.fingerprint)).toEqual([
      archive.fingerprint,
      other.fingerprint,
    ]);
    const asc = `${archive.armored}\n${third.armored}`;
    const keys = await readKeyring(asc, "b.asc");
    expect(keys.map((k) => k.fingerprint)).toEqual([archive.fingerprint, third.fingerprint]);
    expect(keys[0]!.userId).toBe("Archive");
    expect(keys[0]!.allFingerprints.length).toBe(2); // primary + signing/encryption subkey
    expect(await readKeyring(new Uint8Array(), "empty.gpg")).toEqual([]);
  });
  it("rejects garbage with a SIGNATURE error naming the file", async () => {
    await expect(readKeyring(Buffer.from("not a key"), "/etc/apt/trusted.gpg.d/x.gpg")).rejects.toThrow(
      /x\.gpg/,
    );
  });
  it("matches fingerprints, long key ids and subkeys; `!` means the exact key", async () => {
    const [k] = await readKeyring(archive.binary, "a.gpg");
    expect(keyMatches(k!, archive.fingerprint)).toBe(true);
    expect(keyMatches(k!, archive.fingerprint.slice(-16))).toBe(true);
    expect(keyMatches(k!, k!.allFingerprints[1]!)).toBe(true);
    expect(keyMatches(k!, `${k!.allFingerprints[1]!}!`)).toBe(false);
    expect(keyMatches(k!, `${archive.fingerprint}!`)).toBe(true);
    expect(keyMatches(k!, other.fingerprint)).toBe(false);
  });
  it("knows apt's default keyring locations", () => {
    expect(isDefaultKeyringPath("/etc/apt/trusted.gpg.d/debian-archive-bookworm-stable.asc")).toBe(true);
    expect(isDefaultKeyringPath("/usr/share/keyrings/debian-archive-keyring.gpg")).toBe(true);
    expect(isDefaultKeyringPath("/usr/share/keyrings/nodesource.gpg")).toBe(false);
    expect(isDefaultKeyringPath("/etc/apt/trusted.gpg.d/readme.txt")).toBe(false);
  });
});

describe("signatures", () => {
  it("verifies a cleartext-signed Release and returns only the signed text", async () => {
    const signed = await clearsign(RELEASE, archive);
    const keys = await readKeyring(archive.binary, "a.gpg");
    const v = await verifyInRelease(signed, keys, "InRelease");
    expect(v.text.trimEnd()).toBe(RELEASE.trimEnd());
    expect(v.text).toContain("Codename: bookworm\n");
    expect(v.signer.fingerprint).toBe(archive.fingerprint);
    // empty lines around the signed message are tolerated, as apt does
    const padded = Buffer.concat([Buffer.from("\n\n"), Buffer.from(signed), Buffer.from("\n \n")]);
    expect((await verifyInRelease(padded, keys, "InRelease")).text.trimEnd()).toBe(RELEASE.trimEnd());
  });
  it("refuses text before or after the signed block, or a second signed block, as apt does", async () => {
    const signed = Buffer.from(await clearsign(RELEASE, archive));
    const keys = await readKeyring(archive.binary, "a.gpg");
    const before = Buffer.concat([Buffer.from("Injected: yes\n"), signed]);
    await expect(verifyInRelease(before, keys, "InRelease")).rejects.toMatchObject({
      code: "SIGNATURE",
      message: "InRelease: does not start with a signed message block (as apt requires)",
    });
    const after = Buffer.concat([signed, Buffer.from("Injected: yes\n")]);
    await expect(verifyInRelease(after, keys, "InRelease")).rejects.toMatchObject({
      code: "SIGNATURE",
      message: "InRelease: contains unsigned lines after the signature (apt refuses it)",
    });
    const twice = Buffer.concat([signed, signed]);
    await expect(verifyInRelease(twice, keys, "InRelease")).rejects.toMatchObject({ code: "SIGNATURE" });
  });
  it("rejects a signature by an untrusted key, and a modified text", async () => {
    const signed = await clearsign(RELEASE, other);
    const keys = await readKeyring(archive.binary, "a.gpg");
    await expect(verifyInRelease(signed, keys, "InRelease")).rejects.toThrow(
      /no valid signature from a trusted key .*not a trusted key/,
    );
    const good = Buffer.from(await clearsign(RELEASE, archive));
    good[good.indexOf("bookworm")] = "B".charCodeAt(0);
    await expect(verifyInRelease(good, keys, "InRelease")).rejects.toMatchObject({ code: "SIGNATURE" });
    await expect(verifyInRelease(Buffer.from(RELEASE), keys, "InRelease")).rejects.toThrow(
      /does not start with a signed message block/,
    );
  });
  it("verifies detached Release.gpg signatures (armored)", async () => {
    const msg = await openpgp.createMessage({ binary: Buffer.from(RELEASE) });
    const sig = await openpgp.sign({ message: msg, signingKeys: archive.priv, detached: true });
    const keys = await readKeyring(archive.binary, "a.gpg");
    expect(
      (await verifyDetachedRelease(Buffer.from(RELEASE), Buffer.from(sig as string), keys, "Release")).text,
    ).toBe(RELEASE);
    await expect(
      verifyDetachedRelease(Buffer.from(`${RELEASE}x`), Buffer.from(sig as string), keys, "Release"),
    ).rejects.toMatchObject({
      code: "SIGNATURE",
    });
  });
});

describe("TrustStore: which keys may sign a repository", () => {
  const image = (files: Record<string, string | Uint8Array>) =>
    keyringFilesFromList(
      Object.entries(files).map(([path, content]) => ({ path, content })),
      "the image",
    );
  const fps = async (p: Promise<{ fingerprint: string }[]>) => (await p).map((k) => k.fingerprint);

  it("Signed-By paths name the image's files; a missing keyring is an error", async () => {
    const ts = new TrustStore(
      image({ "/usr/share/keyrings/x.gpg": archive.binary, "/etc/apt/trusted.gpg.d/o.asc": other.armored }),
    );
    expect(
      await fps(
        ts.keysFor({ paths: ["/usr/share/keyrings/x.gpg"], fingerprints: [], inline: undefined }, "s"),
      ),
    ).toEqual([archive.fingerprint]);
    let err: unknown;
    try {
      await ts.keysFor(
        { paths: ["/usr/share/keyrings/missing.gpg"], fingerprints: [], inline: undefined },
        "s",
      );
    } catch (e) {
      err = e;
    }
    expect(isOcipatchError(err, "SIGNATURE")).toBe(true);
    expect((err as Error).message).toBe("keyring /usr/share/keyrings/missing.gpg is missing in the image");
  });

  it("without Signed-By: the image's default keyrings plus configured ones; the host only for images without keys", async () => {
    const host = image({ "/usr/share/keyrings/debian-archive-keyring.gpg": third.binary });
    const withKeys = new TrustStore(
      image({
        "/etc/apt/trusted.gpg.d/a.gpg": archive.binary,
        "/usr/share/keyrings/private.gpg": other.binary,
      }),
      [{ path: "--keyring extra.asc", content: other.armored }],
      host,
    );
    expect(await fps(withKeys.keysFor(undefined, "s"))).toEqual([archive.fingerprint, other.fingerprint]);
    const distroless = new TrustStore(image({}), [], host);
    expect(await fps(distroless.keysFor(undefined, "s"))).toEqual([third.fingerprint]);
    // a distroless image whose (host-derived) sources name a keyring path reads the host's copy
    expect(
      await fps(
        distroless.keysFor(
          { paths: ["/usr/share/keyrings/debian-archive-keyring.gpg"], fingerprints: [], inline: undefined },
          "s",
        ),
      ),
    ).toEqual([third.fingerprint]);
    // an unreadable default keyring is skipped with a warning, like apt does
    const junk = new TrustStore(
      image({ "/etc/apt/trusted.gpg.d/junk.gpg": "junk", "/etc/apt/trusted.gpg.d/a.asc": archive.armored }),
    );
    expect(await fps(junk.keysFor(undefined, "s"))).toEqual([archive.fingerprint]);
    expect(junk.warnings).toEqual([
      expect.stringMatching(/^ignored keyring \/etc\/apt\/trusted\.gpg\.d\/junk\.gpg of the image: /),
    ]);
    const none = new TrustStore(image({}));
    await expect(none.keysFor(undefined, "deb http://x sid")).rejects.toThrow(
      /ships no apt keyring; give a keyring/,
    );
  });

  it("inline keys and fingerprints selecting default keys", async () => {
    const ts = new TrustStore(
      image({
        "/etc/apt/trusted.gpg.d/both.gpg": Buffer.concat([
          Buffer.from(archive.binary),
          Buffer.from(other.binary),
        ]),
      }),
    );
    expect(
      await fps(ts.keysFor({ paths: [], fingerprints: [other.fingerprint], inline: undefined }, "s")),
    ).toEqual([other.fingerprint]);
    expect(await fps(ts.keysFor({ paths: [], fingerprints: [], inline: third.armored }, "s"))).toEqual([
      third.fingerprint,
    ]);
    await expect(
      ts.keysFor({ paths: [], fingerprints: [third.fingerprint], inline: undefined }, "s"),
    ).rejects.toThrow(/not in any trusted keyring/);
  });
});
