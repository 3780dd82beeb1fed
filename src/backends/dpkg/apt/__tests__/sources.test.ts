import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isOcipatchError } from "../../../../errors.js";
import { parseAptSources, parseDeb822Sources, parseSignedBy, parseSourcesList } from "../sources.js";

const fixture = (name: string): string =>
  readFileSync(join(import.meta.dirname, "__fixtures__", "sources", name), "utf8");
const summary = (entries: ReturnType<typeof parseSourcesList>) =>
  entries.map((e) => `${e.type} ${e.uri} ${e.suite} ${e.components.join(",")}`);

describe("real image sources", () => {
  it("debian:bullseye /etc/apt/sources.list", () => {
    const entries = parseSourcesList(fixture("debian-bullseye.sources.list"), "/etc/apt/sources.list");
    expect(summary(entries)).toEqual([
      "deb http://deb.debian.org/debian bullseye main",
      "deb http://deb.debian.org/debian-security bullseye-security main",
      "deb http://deb.debian.org/debian bullseye-updates main",
    ]);
    expect(entries[1]!.origin).toBe("/etc/apt/sources.list:4");
    expect(entries.every((e) => e.signedBy === undefined)).toBe(true);
  });

  it("debian:bookworm /etc/apt/sources.list.d/debian.sources", () => {
    const entries = parseDeb822Sources(fixture("debian-bookworm.debian.sources"), "debian.sources");
    expect(summary(entries)).toEqual([
      "deb http://deb.debian.org/debian bookworm main",
      "deb http://deb.debian.org/debian bookworm-updates main",
      "deb http://deb.debian.org/debian-security bookworm-security main",
    ]);
    for (const e of entries) {
      expect(e.signedBy).toEqual({
        paths: ["/usr/share/keyrings/debian-archive-keyring.gpg"],
        fingerprints: [],
        inline: undefined,
      });
    }
  });

  it("ubuntu:22.04 /etc/apt/sources.list (one component per line, commented deb-src)", () => {
    const entries = parseSourcesList(fixture("ubuntu-22.04.sources.list"));
    expect(summary(entries)).toEqual([
      "deb http://archive.ubuntu.com/ubuntu jammy main,restricted",
      "deb http://archive.ubuntu.com/ubuntu jammy-updates main,restricted",
      "deb http://archive.ubuntu.com/ubuntu jammy universe",
      "deb http://archive.ubuntu.com/ubuntu jammy-updates universe",
      "deb http://archive.ubuntu.com/ubuntu jammy multiverse",
      "deb http://archive.ubuntu.com/ubuntu jammy-updates multiverse",
      "deb http://archive.ubuntu.com/ubuntu jammy-backports main,restricted,universe,multiverse",
      "deb http://security.ubuntu.com/ubuntu jammy-security main,restricted",
      "deb http://security.ubuntu.com/ubuntu jammy-security universe",
      "deb http://security.ubuntu.com/ubuntu jammy-security multiverse",
    ]);
  });

  it("ubuntu:24.04 /etc/apt/sources.list.d/ubuntu.sources", () => {
    const entries = parseDeb822Sources(fixture("ubuntu-24.04.ubuntu.sources"));
    expect(summary(entries)).toEqual([
      "deb http://archive.ubuntu.com/ubuntu noble main,universe,restricted,multiverse",
      "deb http://archive.ubuntu.com/ubuntu noble-updates main,universe,restricted,multiverse",
      "deb http://archive.ubuntu.com/ubuntu noble-backports main,universe,restricted,multiverse",
      "deb http://security.ubuntu.com/ubuntu noble-security main,universe,restricted,multiverse",
    ]);
    expect(entries[0]!.signedBy?.paths).toEqual(["/usr/share/keyrings/ubuntu-archive-keyring.gpg"]);
  });
});

describe("one-line format", () => {
  it.each([
    [
      "deb [arch=amd64,arm64 signed-by=/etc/apt/keyrings/x.gpg] http://x.example/debian bookworm main contrib",
      {
        architectures: ["amd64", "arm64"],
        paths: ["/etc/apt/keyrings/x.gpg"],
        suite: "bookworm",
        components: ["main", "contrib"],
      },
    ],
    [
      "deb [ arch=i386 trusted=yes check-valid-until=no ] http://x.example/debian/ stretch/updates main # comment",
      {
        architectures: ["i386"],
        trusted: true,
        checkValidUntil: false,
        suite: "stretch/updates",
        components: ["main"],
      },
    ],
    ["deb http://x.example/flat ./", { suite: "./", components: [] }],
    ["deb-src http://x.example/debian sid main", { type: "deb-src", suite: "sid" }],
    ["deb [arch+=i386 lang=none] http://x.example/debian sid main", { architectures: undefined }],
  ])("%s", (line, expected) => {
    const [e] = parseSourcesList(`# header\n\n${line}\n`);
    const { paths, ...rest } = expected as Record<string, unknown> & { paths?: string[] };
    expect(e).toMatchObject(rest);
    if (paths) expect(e!.signedBy?.paths).toEqual(paths);
  });

  it.each([
    ["deb http://x/debian", /URI SUITE/],
    ["rpm http://x/debian bookworm main", /unknown type/],
    ["deb [arch=amd64 http://x/debian bookworm main", /unclosed/],
    ["deb http://x/debian bookworm", /component/],
    ["deb not-a-uri bookworm main", /not a URI/],
    ["deb [signed-by] http://x/debian bookworm main", /malformed option/],
  ])("rejects %j", (line, re) => {
    let err: unknown;
    try {
      parseSourcesList(line, "/etc/apt/sources.list");
    } catch (e) {
      err = e;
    }
    expect(isOcipatchError(err, "INVALID_FORMAT")).toBe(true);
    expect((err as Error).message).toMatch(re);
    expect((err as Error).message).toContain("/etc/apt/sources.list:1");
  });
});

describe("deb822 format", () => {
  it("expands Types x URIs x Suites, skips Enabled: no, keeps Architectures", () => {
    const text = [
      "Types: deb deb-src",
      "URIs: http://a.example/debian http://b.example/debian",
      "Suites: bookworm bookworm-updates",
      "Components: main",
      "Architectures: amd64",
      "",
      "Enabled: no",
      "Types: deb",
      "URIs: http://c.example/debian",
      "Suites: sid",
      "Components: main",
      "",
    ].join("\n");
    const entries = parseDeb822Sources(text);
    expect(entries).toHaveLength(8);
    expect(entries.map((e) => `${e.type} ${e.uri} ${e.suite}`)).toContain(
      "deb-src http://b.example/debian bookworm-updates",
    );
    expect(entries.every((e) => e.architectures?.join() === "amd64")).toBe(true);
    expect(entries.some((e) => e.uri.includes("c.example"))).toBe(false);
  });

  it("reads an inline Signed-By key block (with folded empty lines)", () => {
    const text = [
      "Types: deb",
      "URIs: http://x.example/debian",
      "Suites: bookworm",
      "Components: main",
      "Signed-By:",
      " -----BEGIN PGP PUBLIC KEY BLOCK-----",
      " .",
      " mQINBGPL0BUBEADmW5NdOOHwPIJlgPu6JDcKw/NZJPR8lsD3K87ZM18gzyQZJD+w",
      " -----END PGP PUBLIC KEY BLOCK-----",
      "",
    ].join("\n");
    const [e] = parseDeb822Sources(text);
    expect(e!.signedBy!.inline).toBe(
      "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBGPL0BUBEADmW5NdOOHwPIJlgPu6JDcKw/NZJPR8lsD3K87ZM18gzyQZJD+w\n-----END PGP PUBLIC KEY BLOCK-----\n",
    );
  });

  it("rejects a source without URIs, or a non-boolean Enabled", () => {
    expect(() => parseDeb822Sources("Types: deb\nSuites: sid\nComponents: main\n")).toThrow(
      /Types, URIs and Suites/,
    );
    expect(() =>
      parseDeb822Sources("Enabled: maybe\nTypes: deb\nURIs: http://x/\nSuites: sid\nComponents: main\n"),
    ).toThrow(/not a boolean/);
  });
});

describe("Signed-By values and file selection", () => {
  it("separates keyring paths from fingerprints", () => {
    expect(parseSignedBy("/usr/share/keyrings/a.gpg, 0xA1BC2D3E4F5A6B7C8D9E0F1A2B3C4D5E6F7A8B9C!")).toEqual({
      paths: ["/usr/share/keyrings/a.gpg"],
      fingerprints: ["A1BC2D3E4F5A6B7C8D9E0F1A2B3C4D5E6F7A8B9C!"],
      inline: undefined,
    });
  });

  it("reads sources.list first, then .list/.sources of sources.list.d in order, ignoring other files", () => {
    const r = parseAptSources([
      {
        path: "/etc/apt/sources.list.d/z.sources",
        content: "Types: deb\nURIs: http://z/\nSuites: sid\nComponents: main\n",
      },
      { path: "/etc/apt/sources.list.d/a.list", content: "deb http://a/ sid main\n" },
      { path: "/etc/apt/sources.list.d/old.list.save", content: "deb http://old/ sid main\n" },
      { path: "/etc/apt/sources.list", content: Buffer.from("deb http://main/ sid main\n") },
    ]);
    expect(r.entries.map((e) => e.uri)).toEqual(["http://main", "http://a", "http://z"]);
    expect(r.warnings).toEqual([
      "/etc/apt/sources.list.d/old.list.save: ignored (apt reads only *.list and *.sources files)",
    ]);
  });
});
