import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isOcipatchError } from "../../../../errors.js";
import { parseSuiteKinds } from "../../../../plan/suites.js";
import {
  type DeriveOptions,
  debianSecuritySibling,
  deriveRepositories,
  rewriteUri,
} from "../repositories.js";

const fixture = (name: string): string =>
  readFileSync(join(import.meta.dirname, "__fixtures__", "sources", name), "utf8");
const debian = (codename: string, versionId: string) => ({ id: "debian", idLike: [], codename, versionId });
const ubuntu = (codename: string, versionId: string) => ({
  id: "ubuntu",
  idLike: ["debian"],
  codename,
  versionId,
});
const list = (content: string) => [{ path: "/etc/apt/sources.list", content }];
const show = (opts: DeriveOptions) =>
  deriveRepositories(opts).repositories.map(
    (r) => `${r.kind} ${r.fetchUri} ${r.suite} ${r.components.join(",")}${r.derived ? " (derived)" : ""}`,
  );

describe("deriveRepositories", () => {
  it("uses debian:bullseye's own three suites", () => {
    const d = deriveRepositories({
      os: debian("bullseye", "11"),
      architecture: "amd64",
      sources: list(fixture("debian-bullseye.sources.list")),
    });
    expect(d.release).toEqual({ distro: "debian", codename: "bullseye" });
    expect(d.sourcesFrom).toBe("image");
    expect(d.repositories.map((r) => `${r.kind} ${r.uri} ${r.suite}`)).toEqual([
      "security http://deb.debian.org/debian-security bullseye-security",
      "updates http://deb.debian.org/debian bullseye-updates",
      "release http://deb.debian.org/debian bullseye",
    ]);
    expect(
      d.repositories.every(
        (r) => !r.derived && r.architectures.join() === "amd64" && r.codename === "bullseye",
      ),
    ).toBe(true);
  });

  it("adds -security (sibling archive) and -updates to an image listing only its release (mmdebstrap)", () => {
    expect(
      show({
        os: debian("bullseye", "11"),
        architecture: "amd64",
        sources: list("deb http://mirror.example/debian bullseye main contrib\n"),
      }),
    ).toEqual([
      "security http://mirror.example/debian-security bullseye-security main,contrib (derived)",
      "updates http://mirror.example/debian bullseye-updates main,contrib (derived)",
      "release http://mirror.example/debian bullseye main,contrib",
    ]);
  });

  it("uses <codename>/updates for buster and older", () => {
    expect(
      show({
        os: debian("buster", "10"),
        architecture: "amd64",
        sources: list("deb http://deb.debian.org/debian buster main\n"),
      })[0],
    ).toBe("security http://deb.debian.org/debian-security buster/updates main (derived)");
  });

  it("takes the codename from VERSION_ID when VERSION_CODENAME is missing", () => {
    const d = deriveRepositories({
      os: { id: "debian", idLike: [], codename: undefined, versionId: "12" },
      architecture: "arm64",
      sources: list("deb http://deb.debian.org/debian bookworm main\n"),
    });
    expect(d.release.codename).toBe("bookworm");
    expect(d.repositories[0]!.architectures).toEqual(["arm64"]);
  });

  it("keeps ubuntu:22.04's suites, merges per-line components and leaves out backports", () => {
    const d = deriveRepositories({
      os: ubuntu("jammy", "22.04"),
      architecture: "amd64",
      sources: list(fixture("ubuntu-22.04.sources.list")),
    });
    expect(d.repositories.map((r) => `${r.kind} ${r.fetchUri} ${r.suite} ${r.components.join(",")}`)).toEqual(
      [
        "security http://security.ubuntu.com/ubuntu jammy-security main,restricted,universe,multiverse",
        "updates http://archive.ubuntu.com/ubuntu jammy-updates main,restricted,universe,multiverse",
        "release http://archive.ubuntu.com/ubuntu jammy main,restricted,universe,multiverse",
      ],
    );
    expect(d.warnings.join("\n")).toMatch(/jammy-backports \(backports suites are not used/);
  });

  it("reads ubuntu:24.04's deb822 sources with Signed-By", () => {
    const d = deriveRepositories({
      os: ubuntu("noble", "24.04"),
      architecture: "amd64",
      sources: [
        { path: "/etc/apt/sources.list.d/ubuntu.sources", content: fixture("ubuntu-24.04.ubuntu.sources") },
      ],
    });
    expect(d.repositories.map((r) => `${r.kind} ${r.suite}`)).toEqual([
      "security noble-security",
      "updates noble-updates",
      "release noble",
    ]);
    expect(
      d.repositories.every((r) => r.signedBy?.paths[0] === "/usr/share/keyrings/ubuntu-archive-keyring.gpg"),
    ).toBe(true);
  });

  it("derives Ubuntu's security suite on the image's (ports) archive", () => {
    expect(
      show({
        os: ubuntu("jammy", "22.04"),
        architecture: "arm64",
        sources: list("deb http://ports.ubuntu.com/ubuntu-ports jammy main\n"),
      }),
    ).toEqual([
      "security http://ports.ubuntu.com/ubuntu-ports jammy-security main (derived)",
      "updates http://ports.ubuntu.com/ubuntu-ports jammy-updates main (derived)",
      "release http://ports.ubuntu.com/ubuntu-ports jammy main",
    ]);
  });

  it("ignores third-party repositories and other releases, with warnings", () => {
    const d = deriveRepositories({
      os: debian("bookworm", "12"),
      architecture: "amd64",
      sources: list(
        [
          "deb http://deb.debian.org/debian bookworm main",
          "deb [arch=amd64] https://download.docker.example/linux/debian bookworm stable",
          "deb http://deb.debian.org/debian bullseye main",
          "deb-src http://deb.debian.org/debian bookworm main",
        ].join("\n"),
      ),
    });
    expect(d.repositories.map((r) => `${r.kind} ${r.uri} ${r.suite}`)).toEqual([
      "security http://deb.debian.org/debian-security bookworm-security",
      "updates http://deb.debian.org/debian bookworm-updates",
      "release http://deb.debian.org/debian bookworm",
    ]);
    expect(d.warnings).toHaveLength(2);
    expect(d.warnings[0]).toContain("download.docker.example");
    expect(d.warnings[1]).toContain("bullseye");
  });

  it("--mirror replaces every archive of the image; --security-mirror the security one", () => {
    const sources = list(fixture("debian-bullseye.sources.list"));
    expect(
      show({
        os: debian("bullseye", "11"),
        architecture: "amd64",
        sources,
        mirrors: { mirror: "http://m.corp/debian/" },
      }),
    ).toEqual([
      "security http://m.corp/debian bullseye-security main",
      "updates http://m.corp/debian bullseye-updates main",
      "release http://m.corp/debian bullseye main",
    ]);
    const d = deriveRepositories({
      os: debian("bullseye", "11"),
      architecture: "amd64",
      sources,
      mirrors: { mirror: "http://m.corp/debian", securityMirror: "http://m.corp/debian-sec" },
    });
    expect(d.repositories[0]!.fetchUri).toBe("http://m.corp/debian-sec");
    // the official URI stays for identification
    expect(d.repositories[0]!.uri).toBe("http://deb.debian.org/debian-security");
  });

  it("builds the sources of a distroless image from --mirror", () => {
    const d = deriveRepositories({
      os: debian("bookworm", "12"),
      architecture: "amd64",
      sources: [],
      mirrors: { mirror: "http://m.corp/debian", securityMirror: "http://m.corp/debian-security" },
    });
    expect(d.sourcesFrom).toBe("mirror");
    expect(d.repositories.map((r) => `${r.kind} ${r.fetchUri} ${r.suite} ${r.components.join(",")}`)).toEqual(
      [
        "security http://m.corp/debian-security bookworm-security main",
        "updates http://m.corp/debian bookworm-updates main",
        "release http://m.corp/debian bookworm main",
      ],
    );
  });

  it("falls back to the host's archives (same distribution) with the image's codename", () => {
    const host = {
      os: { id: "debian", codename: "bookworm" },
      sources: [
        {
          path: "/etc/apt/sources.list.d/debian.sources",
          content: fixture("debian-bookworm.debian.sources"),
        },
      ],
    };
    const d = deriveRepositories({ os: debian("bullseye", "11"), architecture: "amd64", sources: [], host });
    expect(d.sourcesFrom).toBe("host");
    expect(d.repositories.map((r) => `${r.kind} ${r.fetchUri} ${r.suite}`)).toEqual([
      "security http://deb.debian.org/debian-security bullseye-security",
      "updates http://deb.debian.org/debian bullseye-updates",
      "release http://deb.debian.org/debian bullseye",
    ]);
    expect(d.repositories.every((r) => r.keysFromFallback)).toBe(true);
    expect(d.repositories[2]!.signedBy?.paths).toEqual(["/usr/share/keyrings/debian-archive-keyring.gpg"]);
  });

  it("refuses a distroless image when neither a mirror nor a same-distribution host is available", () => {
    const host = {
      os: { id: "ubuntu", codename: "noble" },
      sources: list("deb http://archive.ubuntu.com/ubuntu noble main\n"),
    };
    let err: unknown;
    try {
      deriveRepositories({ os: debian("bookworm", "12"), architecture: "amd64", sources: [], host });
    } catch (e) {
      err = e;
    }
    expect(isOcipatchError(err, "USAGE")).toBe(true);
    expect((err as Error).message).toMatch(/no apt sources .*give a mirror URL/);
  });

  it("rewrites official URLs to mirrors (longest prefix wins)", () => {
    const rewrites = {
      "http://deb.debian.org/": "http://generic.corp/",
      "http://deb.debian.org/debian-security": "http://sec.corp/ds",
    };
    expect(
      show({
        os: debian("bullseye", "11"),
        architecture: "amd64",
        sources: list(fixture("debian-bullseye.sources.list")),
        mirrors: { rewrites },
      }),
    ).toEqual([
      "security http://sec.corp/ds bullseye-security main",
      "updates http://generic.corp/debian bullseye-updates main",
      "release http://generic.corp/debian bullseye main",
    ]);
    expect(rewriteUri("http://deb.debian.org/debian-securityX", rewrites)).toBe(
      "http://generic.corp/debian-securityX",
    );
  });

  it("finds the security sibling inside snapshot-style paths", () => {
    expect(debianSecuritySibling("http://snapshot.debian.org/archive/debian/20240904T000000Z")).toBe(
      "http://snapshot.debian.org/archive/debian-security/20240904T000000Z",
    );
    expect(debianSecuritySibling("https://art.corp/artifactory/debian-remote")).toBe(
      "https://art.corp/artifactory/debian-remote-security",
    );
  });

  it("refuses non-Debian systems", () => {
    expect(() =>
      deriveRepositories({
        os: { id: "alpine", idLike: [], codename: undefined, versionId: "3.19" },
        architecture: "amd64",
        sources: [],
      }),
    ).toThrow(/neither Debian nor Ubuntu/);
  });
});

describe("parseSuiteKinds (--suites)", () => {
  it("accepts the planned kinds, comma-separated, case-insensitively, without duplicates", () => {
    expect(parseSuiteKinds("updates, Release,updates")).toEqual(["updates", "release"]);
    expect(parseSuiteKinds("security")).toEqual(["security"]);
  });
  it("rejects unknown kinds and an empty list with a one-line USAGE error", () => {
    for (const bad of ["backports", "security,proposed", " , "]) {
      try {
        parseSuiteKinds(bad);
        expect.unreachable();
      } catch (e) {
        expect(isOcipatchError(e, "USAGE")).toBe(true);
        expect((e as Error).message).not.toContain("\n");
      }
    }
  });
});
