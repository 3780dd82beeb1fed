import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Paragraph } from "../../backends/dpkg/debian/deb822.js";
import { rpmBackend } from "../../backends/rpm/backend.js";
import type { InstalledPackage } from "../../inventory/types.js";
import type { OsInfo } from "../../os/types.js";
import { formatPurl, installedPurl, purlEncode } from "../purl.js";

const os = (id: string, versionId: string | undefined, codename: string | undefined): OsInfo => ({
  id,
  idLike: id === "ubuntu" ? ["debian"] : [],
  versionId,
  codename,
  prettyName: undefined,
  family: "debian",
  source: "/etc/os-release",
});

const pkg = (
  name: string,
  version: string,
  architecture: string,
  sourceName = name,
  sourceVersion = version,
): InstalledPackage => ({
  name,
  version,
  architecture,
  sourceName,
  sourceVersion,
  held: false,
  dbPath: "/var/lib/dpkg/status",
  native: { backend: "dpkg", selection: "install", multiArch: undefined, paragraph: new Paragraph() },
});

const DEB = { purlType: "deb", fallbackNamespace: "debian" };

describe("purl", () => {
  it("builds the Debian purls vulnerability tools expect", () => {
    // the example of the issue
    expect(
      installedPurl(DEB, pkg("openssl", "1.1.1n-0+deb11u4", "amd64"), os("debian", "11", "bullseye")),
    ).toBe("pkg:deb/debian/openssl@1.1.1n-0%2Bdeb11u4?arch=amd64&distro=debian-11");
    expect(
      installedPurl(
        DEB,
        pkg("libssl3", "3.0.2-0ubuntu1.15", "amd64", "openssl"),
        os("ubuntu", "22.04", "jammy"),
      ),
    ).toBe("pkg:deb/ubuntu/libssl3@3.0.2-0ubuntu1.15?arch=amd64&distro=ubuntu-22.04&upstream=openssl");
    // epochs keep their colon; a different source version goes into upstream
    expect(
      installedPurl(
        DEB,
        pkg("bsdutils", "1:2.36.1-8+deb11u2", "amd64", "util-linux", "2.36.1-8+deb11u2"),
        os("debian", "11", "bullseye"),
      ),
    ).toBe(
      "pkg:deb/debian/bsdutils@1:2.36.1-8%2Bdeb11u2?arch=amd64&distro=debian-11&upstream=util-linux%402.36.1-8%2Bdeb11u2",
    );
    // Debian testing/sid has no VERSION_ID: the codename names the distro
    expect(
      installedPurl(DEB, pkg("libc6", "2.41-6", "amd64", "glibc"), os("debian", undefined, "forky")),
    ).toBe("pkg:deb/debian/libc6@2.41-6?arch=amd64&distro=debian-forky&upstream=glibc");
  });

  it("puts an rpm epoch into the epoch qualifier, as the purl spec asks", () => {
    const p = (version: string) => ({
      ...pkg("bind-libs", version, "x86_64", "bind"),
      sourceVersion: version,
    });
    const alma = os("almalinux", "9.4", undefined);
    expect(installedPurl(rpmBackend, p("32:9.16.23-18.el9_4.6"), alma)).toBe(
      "pkg:rpm/almalinux/bind-libs@9.16.23-18.el9_4.6?arch=x86_64&distro=almalinux-9.4&epoch=32&upstream=bind",
    );
    expect(installedPurl(rpmBackend, p("9.16.23-18.el9"), alma)).toBe(
      "pkg:rpm/almalinux/bind-libs@9.16.23-18.el9?arch=x86_64&distro=almalinux-9.4&upstream=bind",
    );
    // an OS without an id: rpm has no namespace to fall back to
    expect(installedPurl(rpmBackend, p("0:1.2^git1-1"), os("unknown", undefined, undefined))).toBe(
      "pkg:rpm/bind-libs@1.2%5Egit1-1?arch=x86_64&epoch=0&upstream=bind",
    );
  });

  it("sorts and lower-cases qualifiers, drops empty ones and encodes what must be", () => {
    expect(
      formatPurl({
        type: "DEB",
        namespace: "debian",
        name: "a b",
        version: "1.0@x",
        qualifiers: { Zeta: "z", arch: "", alpha: "a/b" },
      }),
    ).toBe("pkg:deb/debian/a%20b@1.0%40x?alpha=a%2Fb&zeta=z");
    expect(purlEncode("ü+~")).toBe("%C3%BC%2B~");
  });

  it("round-trips through percent-decoding", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }),
        fc.string({ minLength: 1 }),
        fc.string(),
        (name, version, q) => {
          const s = formatPurl({ type: "deb", namespace: "debian", name, version, qualifiers: { arch: q } });
          const m = /^pkg:deb\/debian\/([^@?#/]+)@([^?#]+)(?:\?arch=([^&#]*))?$/.exec(s);
          expect(m).not.toBeNull();
          expect(decodeURIComponent(m![1]!)).toBe(name);
          expect(decodeURIComponent(m![2]!)).toBe(version);
          expect(m![3] === undefined ? "" : decodeURIComponent(m![3])).toBe(q);
        },
      ),
    );
  });
});
