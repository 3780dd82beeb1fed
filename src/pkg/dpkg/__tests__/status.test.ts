import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Paragraph } from "../../../debian/deb822.js";
import { ERROR_FLAGS, PACKAGE_STATES, parseDpkgStatus, parseSourceField, WANT_STATES } from "../index.js";
import { dpkgRecord } from "../record.js";

/** What dpkg itself reads from a status file: package, arch, version, source, source version, status abbrev. */
function dpkgQuery(statusText: string): string[][] {
  const dir = mkdtempSync(join(tmpdir(), "ocipatch-dpkg-"));
  try {
    writeFileSync(join(dir, "status"), statusText);
    const out = execFileSync(
      "dpkg-query",
      [
        `--admindir=${dir}`,
        "-W",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a dpkg-query format, not a template
        "-f=${Package}\\t${Architecture}\\t${Version}\\t${source:Package}\\t${source:Version}\\t${db:Status-Abbrev}\\n",
      ],
      { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
    );
    return out
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split("\t"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const record = (fields: Record<string, string>): string =>
  `${Object.entries(fields)
    .map(([k, v]) => `${k}: ${v}`)
    .join("\n")}\n`;

const common = { Maintainer: "Someone <a@example.org>", Description: "test package" };

describe("parseDpkgStatus", () => {
  it("keeps every field with continuation lines", () => {
    const text = [
      "Package: libssl1.1",
      "Status: install ok installed",
      "Priority: optional",
      "Section: libs",
      "Installed-Size: 4120",
      "Maintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>",
      "Architecture: amd64",
      "Multi-Arch: same",
      "Source: openssl",
      "Version: 1.1.1n-0+deb11u4",
      "Depends: libc6 (>= 2.25), debconf (>= 0.5) | debconf-2.0",
      "Conffiles:",
      " /etc/ssl/openssl.cnf 5d8f1a1ba5e3a4a1f3e8a6c2b1f9e0a3",
      "Description: Secure Sockets Layer toolkit - shared libraries",
      " This package is part of the OpenSSL project's implementation of the SSL",
      " .",
      " It provides the libssl and libcrypto shared libraries.",
      "Homepage: https://www.openssl.org/",
      "",
    ].join("\n");
    const r = parseDpkgStatus(text, "/var/lib/dpkg/status");
    expect(r.warnings).toEqual([]);
    expect(r.packages).toHaveLength(1);
    const p = r.packages[0]!;
    expect(p).toMatchObject({
      name: "libssl1.1",
      version: "1.1.1n-0+deb11u4",
      architecture: "amd64",
      sourceName: "openssl",
      sourceVersion: "1.1.1n-0+deb11u4",
      held: false,
      dbPath: "/var/lib/dpkg/status",
      native: { backend: "dpkg", multiArch: "same", selection: "install" },
    });
    expect(dpkgRecord(p).paragraph.get("Conffiles")).toBe(
      "\n/etc/ssl/openssl.cnf 5d8f1a1ba5e3a4a1f3e8a6c2b1f9e0a3",
    );
    expect(dpkgRecord(p).paragraph.get("Description")).toBe(
      "Secure Sockets Layer toolkit - shared libraries\nThis package is part of the OpenSSL project's implementation of the SSL\n.\nIt provides the libssl and libcrypto shared libraries.",
    );
    expect(dpkgRecord(p).paragraph.fields.map(([k]) => k)).toHaveLength(14);
    expect(dpkgRecord(p).paragraph.toString()).toBe(text);
    expect(dpkgRecord(p).paragraph.line).toBe(1);
  });

  it("counts exactly the states dpkg reports as installed (ii/hi), for every Status combination", () => {
    let text = "";
    const names: string[] = [];
    let n = 0;
    for (const want of WANT_STATES)
      for (const eflag of ERROR_FLAGS)
        for (const state of PACKAGE_STATES) {
          const name = `pkg${n++}`;
          names.push(name);
          const extra: Record<string, string> = {};
          if (state === "triggers-pending") extra["Triggers-Pending"] = "ldconfig";
          if (state === "triggers-awaited") extra["Triggers-Awaited"] = "pkg0";
          text += record({
            Package: name,
            Status: `${want} ${eflag} ${state}`,
            ...common,
            Architecture: "amd64",
            ...(state === "not-installed" ? {} : { Version: `1.${n}-1` }),
            ...extra,
          });
          text += "\n";
        }
    const r = parseDpkgStatus(text, "status");
    const oracle = dpkgQuery(text);
    // dpkg lists every package it knows about except purged ones; ii/hi are the installed ones
    expect(oracle.length).toBeGreaterThan(60);
    const installed = oracle.filter((f) => f[5] === "ii " || f[5] === "hi ").map((f) => f[0]);
    expect(installed.length).toBe(2);
    expect(r.packages.map((p) => p.name).sort()).toEqual(installed.sort());
    expect(r.packages.map((p) => dpkgRecord(p).selection)).toEqual(["install", "hold"]);
    // every well-formed record is accounted for
    expect(r.packages.length + r.notInstalled.length).toBe(names.length);
    // partial states are reported
    expect(r.warnings.some((w) => /pkg\d+ is "install reinstreq half-installed"/.test(w))).toBe(true);
    expect(r.warnings.some((w) => w.includes("config-files"))).toBe(false);
  });

  it("derives source name and version like dpkg (Source: name, Source: name (version), none)", () => {
    const text = [
      record({
        Package: "libssl3",
        Status: "install ok installed",
        ...common,
        Architecture: "amd64",
        Source: "openssl",
        Version: "3.0.11-1~deb12u2",
      }),
      record({
        Package: "libgcc-s1",
        Status: "install ok installed",
        ...common,
        Architecture: "amd64",
        Source: "gcc-12 (12.2.0-14)",
        Version: "12.2.0-14",
      }),
      record({
        Package: "e2fsprogs",
        Status: "hold ok installed",
        ...common,
        Architecture: "amd64",
        Version: "1.47.0-2",
      }),
      record({
        Package: "libpam0g",
        Status: "install ok installed",
        ...common,
        Architecture: "amd64",
        Source: "pam (1.5.2-6+deb12u1)",
        Version: "1.5.2-6+deb12u1",
      }),
      record({
        Package: "tzdata",
        Status: "install ok installed",
        ...common,
        Architecture: "all",
        Source: "tzdata",
        Version: "2024a-0+deb12u1",
      }),
      record({
        Package: "libx",
        Status: "install ok installed",
        ...common,
        Architecture: "amd64",
        Source: "epochsrc (1:2.0-1)",
        Version: "3.1-1",
      }),
    ].join("\n");
    const r = parseDpkgStatus(text, "status");
    expect(r.warnings).toEqual([]);
    const ours = r.packages
      .map((p) => [p.name, p.architecture, p.version, p.sourceName, p.sourceVersion])
      .sort();
    const theirs = dpkgQuery(text)
      .map((f) => f.slice(0, 5))
      .sort();
    expect(ours).toEqual(theirs);
    expect(ours.length).toBe(6);
  });

  it("parses Source field forms", () => {
    expect(parseSourceField("openssl")).toEqual({ name: "openssl", version: undefined });
    expect(parseSourceField("gcc-12 (12.2.0-14)")).toEqual({ name: "gcc-12", version: "12.2.0-14" });
    expect(parseSourceField("  shadow  (1:4.13+dfsg1-1)  ")).toEqual({
      name: "shadow",
      version: "1:4.13+dfsg1-1",
    });
    expect(parseSourceField("bad name")).toBeUndefined();
    expect(parseSourceField("x (1.0")).toBeUndefined();
  });

  it("skips malformed records with a warning naming file and line, keeping the others", () => {
    const good = (n: string) =>
      record({ Package: n, Status: "install ok installed", Architecture: "amd64", Version: "1.0-1" });
    const text = [
      good("first"),
      "Status: install ok installed\nVersion: 1\n", // no Package (line 6)
      "Package: badline\nStatus: install ok installed\nthis line has no colon\nVersion: 1\n", // line 9, bad at 11
      good("second"),
      "Package: weird\nStatus: install ok maybe\nVersion: 1\n", // line 19
      "Package: nover\nStatus: install ok installed\n", // line 23
      "Package: badver\nStatus: install ok installed\nVersion: 1.0 beta\n", // line 26
      "Package: badsrc\nStatus: install ok installed\nVersion: 2\nSource: has space (1\n", // line 30
      good("first"), // duplicate, line 35
      "Package: nostatus\nVersion: 1\n", // line 40
    ].join("\n");
    const r = parseDpkgStatus(text, "/var/lib/dpkg/status");
    expect(r.packages.map((p) => p.name)).toEqual(["first", "second", "badsrc"]);
    expect(r.packages[2]).toMatchObject({ sourceName: "badsrc", sourceVersion: "2" });
    expect(r.warnings).toEqual([
      "/var/lib/dpkg/status:6: record without a Package field skipped",
      '/var/lib/dpkg/status:11: malformed line "this line has no colon": malformed record skipped',
      '/var/lib/dpkg/status:19: package weird has a malformed Status "install ok maybe"; skipped',
      "/var/lib/dpkg/status:23: installed package nover has no Version; skipped",
      '/var/lib/dpkg/status:26: package badver has an invalid Version "1.0 beta"; skipped',
      '/var/lib/dpkg/status:30: package badsrc has a malformed Source "has space (1"; using the binary name and version',
      "/var/lib/dpkg/status:35: duplicate record for first:amd64 skipped",
      "/var/lib/dpkg/status:40: package nostatus has no Status field; skipped",
    ]);
  });

  it("treats records without Status as installed in status.d mode", () => {
    const r = parseDpkgStatus(
      "Package: libc6\nVersion: 2.36-9+deb12u4\nArchitecture: amd64\nSource: glibc\n",
      "status.d/libc6",
      {
        assumeInstalled: true,
      },
    );
    expect(r.packages).toHaveLength(1);
    expect(r.packages[0]).toMatchObject({
      name: "libc6",
      sourceName: "glibc",
      sourceVersion: "2.36-9+deb12u4",
      native: { selection: "install" },
    });
  });

  it("handles CRLF, empty input and blank-only input", () => {
    expect(parseDpkgStatus("", "s").packages).toEqual([]);
    expect(parseDpkgStatus("\n\n  \n", "s").warnings).toEqual([]);
    const r = parseDpkgStatus("Package: a\r\nStatus: install ok installed\r\nVersion: 1\r\n", "s");
    expect(r.packages.map((p) => [p.name, p.version])).toEqual([["a", "1"]]);
  });
});

describe("parseDpkgStatus properties", () => {
  it("never throws on arbitrary input", () => {
    const fragment = fc.oneof(
      fc.string(),
      fc.constantFrom(
        "Package: x",
        "Status: install ok installed",
        "Version: 1:2~3-4",
        " cont",
        "\t",
        ":",
        "Source: (",
        "\n",
        "\r\n",
        "#",
      ),
    );
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 30 }), fc.boolean(), (parts, assume) => {
        const r = parseDpkgStatus(parts.join("\n"), "fuzz", { assumeInstalled: assume });
        for (const w of r.warnings) expect(w.startsWith("fuzz:")).toBe(true);
        for (const p of r.packages) expect(p.name.length).toBeGreaterThan(0);
      }),
      { numRuns: 2000 },
    );
  });

  const token = fc.stringMatching(/^[a-z0-9][a-z0-9+.-]{0,15}$/);
  const version = fc
    .tuple(
      fc.option(fc.nat(5)),
      fc.stringMatching(/^[0-9][A-Za-z0-9.+~]{0,10}$/),
      fc.option(fc.stringMatching(/^[A-Za-z0-9.+~]{1,8}$/)),
    )
    .map(([e, u, r]) => `${e === null ? "" : `${e}:`}${u}${r === null ? "" : `-${r}`}`);
  const text = fc.stringMatching(/^[!-9;-~][ -~]{0,30}$/).map((s) => s.trimEnd());
  const paragraph = fc.record({
    name: token,
    version,
    arch: fc.constantFrom("amd64", "all", "arm64", "i386"),
    source: fc.option(fc.tuple(token, fc.option(version))),
    multiArch: fc.option(fc.constantFrom("same", "foreign", "allowed")),
    want: fc.constantFrom("install", "hold"),
    description: fc.array(text, { minLength: 1, maxLength: 4 }),
  });

  it("round-trips well-formed paragraphs", () => {
    fc.assert(
      fc.property(fc.uniqueArray(paragraph, { selector: (p) => p.name, maxLength: 10 }), (ps) => {
        const paras = ps.map((p) => {
          const para = new Paragraph();
          para.set("Package", p.name);
          para.set("Status", `${p.want} ok installed`);
          para.set("Architecture", p.arch);
          if (p.multiArch !== null) para.set("Multi-Arch", p.multiArch);
          if (p.source !== null)
            para.set("Source", p.source[1] === null ? p.source[0] : `${p.source[0]} (${p.source[1]})`);
          para.set("Version", p.version);
          para.set("Description", p.description.join("\n"));
          return para;
        });
        const r = parseDpkgStatus(paras.map((p) => p.toString()).join("\n"), "rt");
        expect(r.warnings).toEqual([]);
        expect(r.packages).toHaveLength(ps.length);
        r.packages.forEach((got, i) => {
          const p = ps[i]!;
          expect(got.name).toBe(p.name);
          expect(got.version).toBe(p.version);
          expect(got.architecture).toBe(p.arch);
          expect(dpkgRecord(got).selection).toBe(p.want);
          expect(dpkgRecord(got).multiArch).toBe(p.multiArch ?? undefined);
          expect(got.sourceName).toBe(p.source?.[0] ?? p.name);
          expect(got.sourceVersion).toBe(p.source?.[1] ?? p.version);
          expect(dpkgRecord(got).paragraph.toString()).toBe(paras[i]!.toString());
        });
      }),
      { numRuns: 500 },
    );
  });
});
