import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { detectBackend } from "../../backends/detect.js";
import { type EntrySpec, MemoryLayer } from "../../rootfs/__tests__/synthetic.js";
import { LayeredFs } from "../../rootfs/index.js";
import { detectOs, parseOsRelease } from "../index.js";

const FIXTURES = join(import.meta.dirname, "__fixtures__");
const fixture = (release: string, file: string) => readFileSync(join(FIXTURES, release, file), "utf8");

async function view(...layers: EntrySpec[][]): Promise<LayeredFs> {
  return new LayeredFs(await Promise.all(layers.map((l) => MemoryLayer.of(l))), "test image");
}

/** The layout base-files installs: /etc/os-release -> ../usr/lib/os-release. */
function baseFiles(release: string): EntrySpec[] {
  const out: EntrySpec[] = [
    { name: "etc/", type: "directory" },
    { name: "usr/", type: "directory" },
    { name: "usr/lib/", type: "directory" },
    { name: "usr/lib/os-release", content: fixture(release, "os-release") },
    { name: "etc/os-release", type: "symlink", linkname: "../usr/lib/os-release" },
    { name: "etc/debian_version", content: fixture(release, "debian_version") },
  ];
  try {
    out.push({ name: "etc/lsb-release", content: fixture(release, "lsb-release") });
  } catch {
    // Debian has no lsb-release in base-files
  }
  return out;
}

describe("detectOs from real base-files", () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ["bullseye", { id: "debian", versionId: "11", codename: "bullseye", family: "debian" }],
    ["bookworm", { id: "debian", versionId: "12", codename: "bookworm", family: "debian" }],
    ["trixie", { id: "debian", versionId: "13", codename: "trixie", family: "debian" }],
    // unstable: no VERSION_ID, codename of the next release
    [
      "sid",
      { id: "debian", versionId: undefined, codename: "forky", prettyName: "Debian GNU/Linux forky/sid" },
    ],
    ["jammy", { id: "ubuntu", idLike: ["debian"], versionId: "22.04", codename: "jammy", family: "debian" }],
    ["noble", { id: "ubuntu", idLike: ["debian"], versionId: "24.04", codename: "noble", family: "debian" }],
  ];
  it.each(cases)("%s", async (release, expected) => {
    const os = await detectOs(await view(baseFiles(release)));
    expect(os).toMatchObject({ ...expected, source: "/etc/os-release" });
  });

  it("falls back to /usr/lib/os-release when /etc/os-release is missing", async () => {
    const files = baseFiles("bookworm").filter((e) => e.name !== "etc/os-release");
    expect(await detectOs(await view(files))).toMatchObject({
      id: "debian",
      versionId: "12",
      source: "/usr/lib/os-release",
    });
  });

  it("follows a whiteout of /etc/os-release in an upper layer", async () => {
    const os = await detectOs(
      await view(baseFiles("bullseye"), [{ name: "etc/.wh.os-release", content: "" }]),
    );
    expect(os.source).toBe("/usr/lib/os-release");
  });

  it("falls back to /etc/lsb-release, then /etc/debian_version", async () => {
    const ubuntu = baseFiles("jammy").filter((e) => !e.name.endsWith("os-release"));
    expect(await detectOs(await view(ubuntu))).toMatchObject({
      id: "ubuntu",
      versionId: "22.04",
      codename: "jammy",
      source: "/etc/lsb-release",
    });
    for (const [release, versionId, codename] of [
      ["bullseye", "11", "bullseye"],
      ["bookworm", "12", "bookworm"],
      ["sid", undefined, "forky"],
    ] as const) {
      const files = baseFiles(release).filter((e) => !e.name.endsWith("os-release"));
      expect(await detectOs(await view(files))).toMatchObject({
        id: "debian",
        versionId,
        codename,
        family: "debian",
        source: "/etc/debian_version",
      });
    }
  });

  it("recognises Alpine", async () => {
    const osRelease =
      'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.18.4\nPRETTY_NAME="Alpine Linux v3.18"\nHOME_URL="https://alpinelinux.org/"\n';
    expect(await detectOs(await view([{ name: "etc/os-release", content: osRelease }]))).toMatchObject({
      id: "alpine",
      versionId: "3.18.4",
      family: "alpine",
    });
    expect(await detectOs(await view([{ name: "etc/alpine-release", content: "3.19.1\n" }]))).toMatchObject({
      id: "alpine",
      versionId: "3.19.1",
      family: "alpine",
      source: "/etc/alpine-release",
    });
  });

  it("recognises Wolfi (apko-built, no release file) as the apk family", async () => {
    const osRelease =
      'ID=wolfi\nNAME="Wolfi"\nPRETTY_NAME="Wolfi"\nVERSION_ID="20230201"\nHOME_URL="https://wolfi.dev"\n';
    expect(await detectOs(await view([{ name: "etc/os-release", content: osRelease }]))).toMatchObject({
      id: "wolfi",
      versionId: "20230201",
      family: "alpine",
    });
  });

  it.each([
    ["CentOS Linux release 7.9.2009 (Core)", "centos", "7.9.2009", "core"],
    ["Red Hat Enterprise Linux release 8.6 (Ootpa)", "rhel", "8.6", "ootpa"],
    ["Fedora release 38 (Thirty Eight)", "fedora", "38", "thirty eight"],
    ["Rocky Linux release 9.1 (Blue Onyx)", "rocky", "9.1", "blue onyx"],
  ])("recognises /etc/redhat-release: %s", async (line, id, versionId, codename) => {
    expect(await detectOs(await view([{ name: "etc/redhat-release", content: `${line}\n` }]))).toMatchObject({
      id,
      versionId,
      codename,
      family: "redhat",
      source: "/etc/redhat-release",
    });
  });

  it.each([
    // the os-release fields of openSUSE Leap 15.5 and SLES 15 SP5 images
    [
      'NAME="openSUSE Leap"\nVERSION="15.5"\nID="opensuse-leap"\nID_LIKE="suse opensuse"\nVERSION_ID="15.5"\n',
      "opensuse-leap",
      "15.5",
    ],
    ['NAME="SLES"\nVERSION="15-SP5"\nVERSION_ID="15.5"\nID="sles"\nID_LIKE="suse"\n', "sles", "15.5"],
    [
      'NAME="openSUSE Tumbleweed"\nID="opensuse-tumbleweed"\nID_LIKE="opensuse suse"\nVERSION_ID="20240101"\n',
      "opensuse-tumbleweed",
      "20240101",
    ],
  ])("recognises SUSE's os-release: %#", async (content, id, versionId) => {
    expect(await detectOs(await view([{ name: "etc/os-release", content }]))).toMatchObject({
      id,
      versionId,
      family: "suse",
    });
  });

  it("reports an unknown OS without failing", async () => {
    expect(await detectOs(await view([{ name: "app", content: "binary" }]))).toMatchObject({
      id: "unknown",
      family: "unknown",
      source: "",
    });
    const odd = await detectOs(await view([{ name: "etc/os-release", content: "ID=plan9\nVERSION_ID=4\n" }]));
    expect(odd).toMatchObject({ id: "plan9", family: "unknown" });
  });
});

describe("parseOsRelease", () => {
  it("handles quoting, escapes, comments and bad lines", () => {
    const skipped: number[] = [];
    const kv = parseOsRelease(
      [
        "# comment",
        'A="double \\"quoted\\" \\$x \\\\ \\n"',
        "B='single $x'",
        "C=bare",
        "not a line",
        'D="unterminated',
        "E=",
        "",
      ].join("\n"),
      (line) => skipped.push(line),
    );
    expect(kv.get("A")).toBe('double "quoted" $x \\ \\n');
    expect(kv.get("B")).toBe("single $x");
    expect(kv.get("C")).toBe("bare");
    expect(kv.get("E")).toBe("");
    expect(kv.has("D")).toBe(false);
    expect(skipped).toEqual([5, 6]);
  });
});

describe("detectBackend", () => {
  it("finds dpkg with its binary on a merged-/usr image", async () => {
    const fs = await view([
      { name: "usr/bin/dpkg", content: "ELF", mode: 0o755 },
      { name: "usr/bin/apt-get", content: "ELF", mode: 0o755 },
      { name: "bin", type: "symlink", linkname: "usr/bin" },
      { name: "var/lib/dpkg/status", content: "Package: x\n" },
    ]);
    expect(await detectBackend(fs)).toMatchObject({
      packageManager: "dpkg",
      databases: ["/var/lib/dpkg/status"],
      binaries: ["/usr/bin/dpkg", "/usr/bin/apt-get"],
      distroless: false,
    });
  });

  it("reports a distroless image (status.d, no package manager program)", async () => {
    const fs = await view([
      { name: "var/lib/dpkg/status.d/", type: "directory" },
      { name: "var/lib/dpkg/status.d/libc6", content: "Package: libc6\n" },
      { name: "usr/bin/dpkg", type: "symlink", linkname: "/nowhere" },
    ]);
    expect(await detectBackend(fs)).toMatchObject({
      packageManager: "dpkg",
      distroless: true,
      binaries: [],
    });
  });

  it("detects apk and no package manager at all", async () => {
    const apk = await view([
      { name: "lib/apk/db/installed", content: "P:musl\n" },
      { name: "sbin/apk", content: "ELF" },
    ]);
    expect(await detectBackend(apk)).toMatchObject({ packageManager: "apk", distroless: false });
    const scratch = await view([{ name: "app", content: "ELF" }]);
    expect(await detectBackend(scratch)).toEqual({
      packageManager: "none",
      backend: undefined,
      databases: [],
      binaries: [],
      distroless: true,
    });
  });

  it("detects RPM databases, with or without a package manager (UBI micro)", async () => {
    const ubi = await view([
      { name: "var/lib/rpm/rpmdb.sqlite", content: "SQLite format 3\0" },
      { name: "usr/bin/rpm", content: "ELF", mode: 0o755 },
      { name: "usr/bin/microdnf", content: "ELF", mode: 0o755 },
    ]);
    expect(await detectBackend(ubi)).toMatchObject({
      packageManager: "rpm",
      backend: { id: "rpm" },
      databases: ["/var/lib/rpm/rpmdb.sqlite"],
      binaries: ["/usr/bin/rpm", "/usr/bin/microdnf"],
      distroless: false,
    });
    const micro = await view([{ name: "usr/lib/sysimage/rpm/rpmdb.sqlite", content: "SQLite format 3\0" }]);
    expect(await detectBackend(micro)).toMatchObject({ packageManager: "rpm", distroless: true });
  });
});
