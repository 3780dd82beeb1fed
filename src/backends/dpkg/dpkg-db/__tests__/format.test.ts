import { describe, expect, it } from "vitest";
import { parseParagraphs } from "../../debian/deb822.js";
import { formatDependencyField, rewriteStatusFile, statusDFiles } from "../index.js";

describe("dependency formatting like dpkg", () => {
  it("normalises spacing, deprecated operators and zero epochs", () => {
    expect(formatDependencyField("libc6(>=2.3) |  base-files,dpkg (> 1.0)")).toBe(
      "libc6 (>= 2.3) | base-files, dpkg (>= 1.0)",
    );
    expect(formatDependencyField("a (<< 0:1.0), b:any, c (= 1:2.0)")).toBe("a (<< 1.0), b:any, c (= 1:2.0)");
    expect(formatDependencyField("weird [amd64]")).toBe("weird [amd64]");
  });
});

describe("status file rewrite", () => {
  const text =
    "Package: a\nStatus: install ok installed\nVersion: 1\n\nPackage: b\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n\nPackage: b\nStatus: install ok installed\nArchitecture: i386\nVersion: 1\n\nPackage: c\nVersion: 1\n\n";

  it("replaces only the matching record, leaving the rest byte-identical", () => {
    const rec = parseParagraphs(
      "Package: b\nStatus: install ok installed\nArchitecture: i386\nVersion: 2\n",
    )[0]!;
    const out = rewriteStatusFile(text, [{ package: "b", architecture: "i386", record: rec }]);
    expect(out).toBe(text.replace("Architecture: i386\nVersion: 1", "Architecture: i386\nVersion: 2"));
  });

  it("drops a record with its blank line (a disappeared package), first, middle or last", () => {
    const out = rewriteStatusFile(text, [{ package: "b", architecture: "amd64", record: undefined }]);
    expect(out).toBe(
      text.replace("Package: b\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n\n", ""),
    );
    expect(rewriteStatusFile(text, [{ package: "a", record: undefined }])).toBe(
      text.slice(text.indexOf("Package: b")),
    );
    expect(
      rewriteStatusFile("Package: a\nVersion: 1\n\nPackage: c\nVersion: 1\n", [
        { package: "c", record: undefined },
      ]),
    ).toBe("Package: a\nVersion: 1\n\n");
  });

  it("refuses ambiguous or missing replacements", () => {
    const rec = parseParagraphs("Package: b\nVersion: 2\n")[0]!;
    expect(() => rewriteStatusFile(text, [{ package: "b", record: rec }])).toThrow(/several/);
    expect(() => rewriteStatusFile(text, [{ package: "zzz", record: rec }])).toThrow(/no record/);
  });

  it("writes distroless status.d files under their original names", () => {
    const rec = parseParagraphs("Package: libssl3\nVersion: 2\n")[0]!;
    const files = statusDFiles("var/lib/dpkg/status.d/libssl3", rec, Buffer.from("x  y\n"));
    expect(files.map((f) => f.path)).toEqual([
      "var/lib/dpkg/status.d/libssl3",
      "var/lib/dpkg/status.d/libssl3.md5sums",
    ]);
    expect(files[0]!.data.toString()).toBe("Package: libssl3\nVersion: 2\n");
  });
});
