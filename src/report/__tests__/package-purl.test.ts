import { describe, expect, it } from "vitest";
import { packagePurl } from "../purl.js";

const os = (id: string, versionId: string) => ({ id, versionId, codename: undefined, prettyName: undefined });

describe("package purls in reports follow the image's package format", () => {
  it("rpm: the epoch moves to a qualifier, as in the SBOM", () => {
    const ref = {
      name: "bind-libs",
      version: "32:9.16.23-18.el9",
      architecture: "x86_64",
      sourceName: "bind",
      sourceVersion: "32:9.16.23-18.el9",
    };
    expect(packagePurl(ref, os("almalinux", "9.4"), "almalinux:9")).toBe(
      "pkg:rpm/almalinux/bind-libs@9.16.23-18.el9?arch=x86_64&distro=almalinux-9.4&epoch=32&upstream=bind",
    );
    // no namespace (an imported report): the OS id decides
    expect(packagePurl(ref, os("rocky", "9.3"))).toMatch(/^pkg:rpm\/rocky\/bind-libs@9\.16\.23-18\.el9\?/);
  });

  it("apk and deb, and version-less purls", () => {
    const apk = {
      name: "libcrypto3",
      version: "3.1.4-r5",
      architecture: "x86_64",
      sourceName: "openssl",
      sourceVersion: "3.1.4-r5",
    };
    expect(packagePurl(apk, os("alpine", "3.19.1"), "alpine:3.19")).toBe(
      "pkg:apk/alpine/libcrypto3@3.1.4-r5?arch=x86_64&distro=alpine-3.19.1&upstream=openssl",
    );
    expect(packagePurl({ ...apk, version: undefined }, os("wolfi", "20230201"))).toBe(
      "pkg:apk/wolfi/libcrypto3?arch=x86_64&distro=wolfi-20230201&upstream=openssl",
    );
    const deb = {
      name: "libssl1.1",
      version: "1.1.1n-0+deb11u5",
      architecture: "amd64",
      sourceName: "openssl",
      sourceVersion: "1.1.1n-0+deb11u5",
    };
    expect(packagePurl(deb, os("debian", "11"), "debian:bullseye")).toBe(
      "pkg:deb/debian/libssl1.1@1.1.1n-0%2Bdeb11u5?arch=amd64&distro=debian-11&upstream=openssl",
    );
    expect(packagePurl(deb, undefined)).toMatch(/^pkg:deb\/debian\/libssl1\.1@/);
  });
});
