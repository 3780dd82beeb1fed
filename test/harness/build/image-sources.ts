/**
 * The apt sources an image carries, laid out as Docker's official images have them, but pointing at
 * the mirrors this machine uses (the tests patch against those mirrors).
 */
import type { Mirrors } from "../mirrors.js";

export interface SourcesFile {
  /** Path inside the rootfs, without leading slash. */
  readonly path: string;
  readonly content: string;
}

export interface ImageSources {
  readonly files: readonly SourcesFile[];
  /** Paths (without leading slash) that must NOT exist in the image. */
  readonly absent: readonly string[];
}

const OLD_STYLE_DEBIAN = new Set(["buster", "bullseye"]);

/** debian:<suite> layout: sources.list for bullseye and older, deb822 debian.sources from bookworm on. */
export function debianImageSources(suite: string, m: Mirrors): ImageSources {
  if (OLD_STYLE_DEBIAN.has(suite)) {
    return {
      files: [
        {
          path: "etc/apt/sources.list",
          content: `deb ${m.debian} ${suite} main\ndeb ${m.debianSecurity} ${suite}-security main\ndeb ${m.debian} ${suite}-updates main\n`,
        },
      ],
      absent: ["etc/apt/sources.list.d/debian.sources"],
    };
  }
  const keyring = "/usr/share/keyrings/debian-archive-keyring.gpg";
  return {
    files: [
      {
        path: "etc/apt/sources.list.d/debian.sources",
        content:
          `Types: deb\nURIs: ${m.debian}\nSuites: ${suite} ${suite}-updates\nComponents: main\nSigned-By: ${keyring}\n\n` +
          `Types: deb\nURIs: ${m.debianSecurity}\nSuites: ${suite}-security\nComponents: main\nSigned-By: ${keyring}\n`,
      },
    ],
    absent: ["etc/apt/sources.list"],
  };
}

const OLD_STYLE_UBUNTU = new Set(["focal", "jammy"]);

/** ubuntu:<release> layout: sources.list up to 22.04 (jammy), deb822 ubuntu.sources from 24.04 (noble). */
export function ubuntuImageSources(release: string, m: Mirrors): ImageSources {
  const archive = `${m.ubuntu}/`;
  const security = `${m.ubuntuSecurity}/`;
  if (OLD_STYLE_UBUNTU.has(release)) {
    const lines = [
      `deb ${archive} ${release} main restricted`,
      `deb ${archive} ${release}-updates main restricted`,
      `deb ${archive} ${release} universe`,
      `deb ${archive} ${release}-updates universe`,
      `deb ${archive} ${release} multiverse`,
      `deb ${archive} ${release}-updates multiverse`,
      `deb ${archive} ${release}-backports main restricted universe multiverse`,
      `deb ${security} ${release}-security main restricted`,
      `deb ${security} ${release}-security universe`,
      `deb ${security} ${release}-security multiverse`,
    ];
    return {
      files: [{ path: "etc/apt/sources.list", content: `${lines.join("\n")}\n` }],
      absent: ["etc/apt/sources.list.d/ubuntu.sources"],
    };
  }
  const keyring = "/usr/share/keyrings/ubuntu-archive-keyring.gpg";
  const comps = "main universe restricted multiverse";
  return {
    files: [
      {
        path: "etc/apt/sources.list",
        content: "# Ubuntu sources have moved to /etc/apt/sources.list.d/ubuntu.sources\n",
      },
      {
        path: "etc/apt/sources.list.d/ubuntu.sources",
        content:
          `Types: deb\nURIs: ${archive}\nSuites: ${release} ${release}-updates ${release}-backports\nComponents: ${comps}\nSigned-By: ${keyring}\n\n` +
          `Types: deb\nURIs: ${security}\nSuites: ${release}-security\nComponents: ${comps}\nSigned-By: ${keyring}\n`,
      },
    ],
    absent: [],
  };
}

/** Shell commands (for an mmdebstrap customize hook, `$1` = rootfs) that install the sources. */
export function sourcesHookScript(sources: ImageSources, stagedDir: string): string {
  const cmds: string[] = [];
  sources.files.forEach((f, i) => {
    cmds.push(
      `mkdir -p "$1/$(dirname '${f.path}')"`,
      `cp '${stagedDir}/sources-${i}' "$1/${f.path}"`,
      `chmod 644 "$1/${f.path}"`,
    );
  });
  for (const a of sources.absent) cmds.push(`rm -f "$1/${a}"`);
  return cmds.join(" && ");
}
