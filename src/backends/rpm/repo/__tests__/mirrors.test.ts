import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OcipatchError } from "../../../../errors.js";
import {
  looksLikeMetalink,
  MAX_MIRRORLIST_BYTES,
  parseMetalink,
  parseMirrorlist,
  parseMirrors,
  repomdMatches,
} from "../mirrors.js";
import { substituteVars } from "../repo-file.js";

const subst = (s: string) => substituteVars(s, { releasever: "9", basearch: "x86_64" });
const b = (s: string) => Buffer.from(s, "utf8");

function oneLineError(f: () => unknown): OcipatchError {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(OcipatchError);
  expect((err as OcipatchError).code).toBe("INVALID_FORMAT");
  expect((err as Error).message).not.toContain("\n");
  return err as OcipatchError;
}

const REPOMD = b('<?xml version="1.0"?>\n<repomd><revision>1</revision></repomd>\n');
const sha = (alg: string, d: Buffer) => createHash(alg).update(d).digest("hex");

/** A metalink as MirrorManager serves it (Fedora's shape: mm0 namespace, alternates, rsync urls). */
function metalink(opts: { sha256?: string; sha512?: string; alternate256?: string; urls?: string } = {}) {
  return `<?xml version="1.0" encoding="utf-8"?>
<metalink version="3.0" xmlns="http://www.metalinker.org/" type="dynamic" pubdate="Thu, 03 Dec 2026 10:00:00 GMT" generator="mirrormanager" xmlns:mm0="http://fedorahosted.org/mirrormanager">
 <files>
  <file name="repomd.xml">
   <mm0:timestamp>1764756000</mm0:timestamp>
   <size>${REPOMD.length}</size>
   <verification>
    <hash type="md5">${sha("md5", REPOMD)}</hash>
    <hash type="sha1">${sha("sha1", REPOMD)}</hash>
    ${opts.sha256 === undefined ? "" : `<hash type="sha256">${opts.sha256}</hash>`}
    ${opts.sha512 === undefined ? "" : `<hash type="sha512">${opts.sha512}</hash>`}
   </verification>
   <mm0:alternates>
    <mm0:alternate>
     <mm0:timestamp>1764700000</mm0:timestamp>
     <size>4000</size>
     <verification>
      <hash type="sha256">${opts.alternate256 ?? "ab".repeat(32)}</hash>
     </verification>
    </mm0:alternate>
   </mm0:alternates>
   <resources maxconnections="1">
${
  opts.urls ??
  `    <url protocol="https" type="https" location="DE" preference="99">https://mirror.b.example/fedora/linux/releases/39/Everything/x86_64/os/repodata/repomd.xml</url>
    <url protocol="rsync" type="rsync" location="US" preference="100">rsync://mirror.a.example/fedora/linux/releases/39/Everything/x86_64/os/repodata/repomd.xml</url>
    <url protocol="https" type="https" location="US" preference="100">https://mirror.a.example/fedora/linux/releases/39/Everything/x86_64/os/repodata/repomd.xml</url>
    <url protocol="http" type="http" location="FR" preference="98">http://mirror.c.example/pub/$basearch/os/repodata/repomd.xml</url>`
}
   </resources>
  </file>
 </files>
</metalink>
`;
}

describe("parseMirrorlist", () => {
  it("reads one URL per line as librepo does: blanks and # comments skipped, $vars substituted, non-http(s) skipped", () => {
    const list = parseMirrorlist(
      b(
        "# mirrors for AlmaLinux 9 BaseOS\n\nhttps://a.example/almalinux/9.4/BaseOS/x86_64/os/\n   \t http://b.example/almalinux/$releasever/BaseOS/$basearch/os  \r\n  # indented comment\nftp://c.example/pub/\nrsync://d.example/x\nhttps://a.example/almalinux/9.4/BaseOS/x86_64/os\n",
      ),
      "list",
      subst,
    );
    expect(list).toEqual({
      kind: "mirrorlist",
      mirrors: [
        "https://a.example/almalinux/9.4/BaseOS/x86_64/os",
        "http://b.example/almalinux/9/BaseOS/x86_64/os",
      ],
      hashes: [],
      skipped: 2,
    });
  });

  it("an empty list has no mirrors (the caller refuses it)", () => {
    expect(parseMirrorlist(b("# nothing\n\n"), "list", subst).mirrors).toEqual([]);
  });

  it("refuses binary and oversized lists with one line", () => {
    expect(oneLineError(() => parseMirrorlist(Buffer.from([0x68, 0, 0x0a]), "list", subst)).message).toMatch(
      /^list: not a mirror list/,
    );
    const big = Buffer.alloc(MAX_MIRRORLIST_BYTES + 1, 0x23);
    expect(oneLineError(() => parseMirrorlist(big, "list", subst)).message).toMatch(/larger than/);
    const many = Array.from({ length: 1002 }, (_, i) => `https://m${i}.example/`).join("\n");
    expect(oneLineError(() => parseMirrorlist(b(many), "list", subst)).message).toMatch(
      /more than 1000 mirrors/,
    );
  });
});

describe("parseMetalink", () => {
  it("reads MirrorManager's metalink: repomd.xml digests (current + alternates), mirrors by preference, suffix removed", () => {
    const m = parseMetalink(
      b(metalink({ sha256: sha("sha256", REPOMD), sha512: sha("sha512", REPOMD) })),
      "ml",
      subst,
    );
    expect(m.kind).toBe("metalink");
    expect(m.mirrors).toEqual([
      "https://mirror.a.example/fedora/linux/releases/39/Everything/x86_64/os",
      "https://mirror.b.example/fedora/linux/releases/39/Everything/x86_64/os",
      "http://mirror.c.example/pub/x86_64/os",
    ]);
    expect(m.skipped).toBe(1); // rsync
    expect(m.hashes).toEqual([
      { sha256: sha("sha256", REPOMD), sha512: sha("sha512", REPOMD) },
      { sha256: "ab".repeat(32) },
    ]);
  });

  it("repomdMatches: the strongest digest of any set", () => {
    const ok = parseMetalink(b(metalink({ sha256: sha("sha256", REPOMD) })), "ml", subst);
    expect(repomdMatches(REPOMD, ok.hashes)).toBe(true);
    expect(repomdMatches(Buffer.concat([REPOMD, b(" ")]), ok.hashes)).toBe(false);
    // sha512 decides when given, even if sha256 matches
    const strong = parseMetalink(
      b(metalink({ sha256: sha("sha256", REPOMD), sha512: "cd".repeat(64) })),
      "ml",
      subst,
    );
    expect(repomdMatches(REPOMD, strong.hashes)).toBe(false);
    // an alternate (older repomd.xml still being served) is accepted
    const alt = parseMetalink(
      b(metalink({ sha256: "ef".repeat(32), alternate256: sha("sha256", REPOMD) })),
      "ml",
      subst,
    );
    expect(repomdMatches(REPOMD, alt.hashes)).toBe(true);
  });

  it("refuses a metalink without a sha256/sha512 digest, without repomd.xml, or not a metalink", () => {
    expect(oneLineError(() => parseMetalink(b(metalink()), "ml", subst)).message).toMatch(
      /no sha256 or sha512 digest/,
    );
    expect(
      oneLineError(() =>
        parseMetalink(
          b(metalink({ sha256: "00".repeat(32) }).replace('name="repomd.xml"', 'name="x"')),
          "ml",
          subst,
        ),
      ).message,
    ).toMatch(/no <file name="repomd.xml">/);
    expect(
      oneLineError(() => parseMetalink(b("<html><body>503</body></html>"), "ml", subst)).message,
    ).toMatch(/<html> is not a metalink/);
  });

  it("hostile input: bad digests, preferences, DOCTYPE, unbalanced XML, huge text — one line each", () => {
    const cases = [
      metalink({ sha256: "zz".repeat(32) }),
      metalink({ sha256: "00".repeat(32), urls: '<url preference="1000">https://x/</url>' }),
      metalink({ sha256: "00".repeat(32), urls: '<url preference="-1">https://x/</url>' }),
      `<!DOCTYPE metalink [<!ENTITY a "aaaa">]><metalink/>`,
      "<metalink><files><file name='repomd.xml'>",
      metalink({ sha256: "00".repeat(32), urls: `<url>https://x/${"a".repeat(20000)}</url>` }),
      metalink({ sha256: "00".repeat(32) }).replace("</files>", '<file name="repomd.xml"></file></files>'),
    ];
    for (const c of cases) oneLineError(() => parseMetalink(b(c), "ml", subst));
  });

  it("never throws anything but a one-line INVALID_FORMAT on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.boolean(), (bytes, asMetalink) => {
        try {
          parseMirrors(Buffer.from(bytes), asMetalink ? "metalink" : "mirrorlist", "x", subst);
        } catch (e) {
          expect(e).toBeInstanceOf(OcipatchError);
          expect((e as OcipatchError).code).toBe("INVALID_FORMAT");
          expect((e as Error).message).not.toContain("\n");
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("parseMirrors", () => {
  it("reads a mirrorlist= whose content is a metalink as a metalink (librepo detects it by content)", () => {
    const doc = b(metalink({ sha256: sha("sha256", REPOMD) }));
    expect(looksLikeMetalink(doc)).toBe(true);
    expect(looksLikeMetalink(b("https://a.example/\n"))).toBe(false);
    expect(parseMirrors(doc, "mirrorlist", "x", subst).kind).toBe("metalink");
    expect(parseMirrors(b("https://a.example/x/\n"), "mirrorlist", "x", subst)).toMatchObject({
      kind: "mirrorlist",
      mirrors: ["https://a.example/x"],
    });
  });
});
