import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OcipatchError } from "../../../../errors.js";
import { parseRepomd } from "../repomd.js";
import { XmlStream } from "../xml.js";

/** Events of a document fed in the given chunk sizes. */
function events(doc: string, chunk = doc.length): string[] {
  const out: string[] = [];
  const x = new XmlStream(
    {
      open: (n, a) =>
        out.push(
          `<${n}${Object.entries(a)
            .map(([k, v]) => ` ${k}=${JSON.stringify(v)}`)
            .join("")}>`,
        ),
      close: (n) => out.push(`</${n}>`),
      text: (t) => {
        if (out.at(-1)?.startsWith("text:")) out[out.length - 1] += t;
        else out.push(`text:${t}`);
      },
    },
    "doc",
  );
  const bytes = Buffer.from(doc, "utf8");
  for (let i = 0; i < bytes.length; i += chunk) x.write(bytes.subarray(i, i + chunk));
  x.end();
  return out.filter((e) => e !== "text:" && !/^text:\s+$/.test(e));
}

const DOC = `<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment with <tags> -->
<metadata xmlns="http://linux.duke.edu/metadata/common" packages='1'>
  <package type="rpm"><name>a&amp;b &lt;&#x263A;&#65;&gt;</name><rpm:entry name="x > y" flags="GE"/>
  <text><![CDATA[<not a tag> & raw]]></text><ünïcödé attr="é"/></package>
</metadata>`;

describe("XmlStream", () => {
  it("reads elements, attributes, entities, CDATA and UTF-8 the same in any chunking", () => {
    const whole = events(DOC);
    expect(whole).toEqual([
      '<metadata xmlns="http://linux.duke.edu/metadata/common" packages="1">',
      '<package type="rpm">',
      "<name>",
      "text:a&b <☺A>",
      "</name>",
      '<rpm:entry name="x > y" flags="GE">',
      "</rpm:entry>",
      "<text>",
      "text:<not a tag> & raw",
      "</text>",
      '<ünïcödé attr="é">',
      "</ünïcödé>",
      "</package>",
      "</metadata>",
    ]);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), (n) => {
        expect(events(DOC, n)).toEqual(whole);
      }),
    );
  });

  it("refuses what is not well-formed, DOCTYPEs (entity expansion) and deep nesting: one INVALID_FORMAT line", () => {
    const bad = [
      '<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
      "<a><b></a></b>",
      "<a>",
      "<a></a><b></b>",
      "text<a/>",
      "<a>&unknown;</a>",
      "<a>& bare</a>",
      "<a>&#0;</a>",
      '<a x="1" x="2"/>',
      "<a x=1/>",
      "<a <b>",
      "",
      `${"<a>".repeat(100)}${"</a>".repeat(100)}`,
    ];
    for (const doc of bad) {
      const err = (() => {
        try {
          events(doc);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err, doc).toBeInstanceOf(OcipatchError);
      expect((err as OcipatchError).code).toBe("INVALID_FORMAT");
      expect((err as OcipatchError).message).toMatch(/^doc: not well-formed XML: [^\n]+$/);
    }
  });

  it("bounds a token's size instead of buffering the document", () => {
    const x = new XmlStream({ open() {}, close() {}, text() {} }, "doc", 1000);
    x.write("<a>");
    expect(() => x.write(`<b attr="${"x".repeat(2000)}`)).toThrow(/a token longer than 1000 characters/);
  });
});

describe("parseRepomd", () => {
  const md = (data: string) =>
    Buffer.from(
      `<?xml version="1.0"?>\n<repomd xmlns="http://linux.duke.edu/metadata/repo"><revision>7</revision>${data}</repomd>`,
    );
  const primary = `<data type="primary"><checksum type="sha256">${"ab".repeat(32)}</checksum><location href="repodata/p.xml.gz"/><size>12</size></data>`;

  it("reads each data entry", () => {
    const r = parseRepomd(md(primary), "repomd.xml");
    expect(r.revision).toBe("7");
    expect(r.data.get("primary")).toEqual({
      type: "primary",
      location: "repodata/p.xml.gz",
      checksum: { type: "sha256", value: "ab".repeat(32) },
      size: 12,
      openChecksum: undefined,
      openSize: undefined,
    });
  });

  it("refuses bad checksums, duplicates, missing fields and other roots", () => {
    for (const [doc, msg] of [
      [md(primary.replace(`>${"ab".repeat(32)}<`, ">abc<")), /malformed sha256 checksum "abc"/],
      [md(primary.replace('type="sha256"', 'type="md5"')), /checksum type "md5" is not supported/],
      [md(primary + primary), /<data type="primary"> appears twice/],
      [md(primary.replace('<location href="repodata/p.xml.gz"/>', "")), /needs a location and a checksum/],
      [md(primary.replace("<size>12</size>", "<size>-1</size>")), /bad size "-1"/],
      [Buffer.from("<metadata/>"), /root element <metadata>, not <repomd>/],
    ] as const) {
      expect(() => parseRepomd(doc, "repomd.xml")).toThrow(msg);
    }
  });
});
