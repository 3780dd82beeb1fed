import { describe, expect, it } from "vitest";
import { parseRelease, parseReleaseDate } from "../release.js";

describe("parseReleaseDate", () => {
  it.each([
    ["Sat, 09 Aug 2025 09:16:30 UTC", "2025-08-09T09:16:30.000Z"],
    // Ubuntu pads single-digit hours with a space
    ["Thu, 26 Nov 2026  3:13:56 UTC", "2026-11-26T03:13:56.000Z"],
    ["Wed, 02 Dec 2026 22:33:12 +0100", "2026-12-02T21:33:12.000Z"],
    ["2 Dec 2026 22:33:12 GMT", "2026-12-02T22:33:12.000Z"],
  ])("%s", (s, iso) => {
    expect(parseReleaseDate(s)?.toISOString()).toBe(iso);
  });
  it("returns undefined for junk", () => {
    expect(parseReleaseDate("yesterday")).toBeUndefined();
    expect(parseReleaseDate("Sat, 09 Foo 2025 09:16:30 UTC")).toBeUndefined();
  });
});

describe("parseRelease", () => {
  const text = [
    "Origin: Debian",
    "Label: Debian-Security",
    "Suite: oldstable-security",
    "Codename: bookworm-security",
    "Date: Wed, 25 Nov 2026 22:33:12 UTC",
    "Valid-Until: Wed, 02 Dec 2026 22:33:12 UTC",
    "Acquire-By-Hash: yes",
    "Architectures: amd64 arm64",
    "Components: updates/main updates/contrib",
    "MD5Sum:",
    " 0123456789abcdef0123456789abcdef 12 main/binary-amd64/Packages",
    "SHA256:",
    " a9f82656420a291c0353c8bc3dde7dc0589e0a27546efde736b7fe887ba32300  2539062 main/binary-amd64/Packages",
    " 0320b58c17c58ffa9ffc0583b924bb5be7c086da8c630428d5587d563a66972f   380972 main/binary-amd64/Packages.xz",
    "",
  ].join("\n");
  it("reads the fields and the SHA256 list", () => {
    const r = parseRelease(text, "InRelease");
    expect(r).toMatchObject({
      origin: "Debian",
      label: "Debian-Security",
      suite: "oldstable-security",
      codename: "bookworm-security",
      acquireByHash: true,
      notAutomatic: false,
      architectures: ["amd64", "arm64"],
      components: ["updates/main", "updates/contrib"],
    });
    expect(r.validUntil?.toISOString()).toBe("2026-12-02T22:33:12.000Z");
    expect([...r.files]).toEqual([
      [
        "main/binary-amd64/Packages",
        { sha256: "a9f82656420a291c0353c8bc3dde7dc0589e0a27546efde736b7fe887ba32300", size: 2539062 },
      ],
      [
        "main/binary-amd64/Packages.xz",
        { sha256: "0320b58c17c58ffa9ffc0583b924bb5be7c086da8c630428d5587d563a66972f", size: 380972 },
      ],
    ]);
  });
  it("refuses a Release without SHA256 sums, a malformed sum or an unreadable Valid-Until", () => {
    expect(() => parseRelease("Origin: x\n", "R")).toThrow(/no SHA256 list/);
    expect(() => parseRelease("SHA256:\n abc 1 x\n", "R")).toThrow(/malformed SHA256 line/);
    expect(() =>
      parseRelease(text.replace("Valid-Until: Wed, 02 Dec 2026 22:33:12 UTC", "Valid-Until: soon"), "R"),
    ).toThrow(/unreadable Valid-Until/);
  });
});
