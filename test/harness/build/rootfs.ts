/**
 * A rootfs tarball built with mmdebstrap from ONE suite's main component (no -security, no
 * -updates, so the images carry real fixable CVEs), debian-slim-like, reproducible
 * (SOURCE_DATE_EPOCH = the suite's Release date), with the image's own apt sources installed.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HarnessError, log, run, timer } from "../exec.js";
import { withLock } from "../lock.js";
import { releaseEpoch } from "../mirrors.js";
import { ensureBinfmt } from "./binfmt.js";
import { type ImageSources, sourcesHookScript } from "./image-sources.js";

/** dpkg path filters of the debian:*-slim images (/etc/dpkg/dpkg.cfg.d/docker). */
const SLIM_DPKG_OPTS = [
  "path-exclude=/usr/share/doc/*",
  "path-include=/usr/share/doc/*/copyright",
  "path-exclude=/usr/share/groff/*",
  "path-exclude=/usr/share/info/*",
  "path-exclude=/usr/share/linda/*",
  "path-exclude=/usr/share/lintian/overrides/*",
  "path-exclude=/usr/share/locale/*",
  "path-exclude=/usr/share/man/*",
];

export interface RootfsRecipe {
  readonly distro: "debian" | "ubuntu";
  readonly suite: string;
  /** Debian architecture name (amd64, arm64). */
  readonly arch: string;
  readonly variant: "minbase";
  /** Archive URL the rootfs is built from (main component of `suite` only). */
  readonly mirror: string;
  /**
   * "maybe": merged-/usr when the suite has usr-is-merged (bookworm+, noble);
   * "symlinks": create the merged-/usr symlinks up front (jammy, which predates usr-is-merged);
   * "none": plain directories.
   */
  readonly usrMerge: "maybe" | "symlinks" | "none";
  readonly slim: boolean;
  /** extra packages (mmdebstrap --include) */
  readonly include: readonly string[];
  /** Keyring that verifies `mirror` (default: the host's apt trust). */
  readonly keyring?: string;
  readonly sources: ImageSources;
}

interface RootfsResult {
  readonly tar: string;
  readonly epoch: number;
  readonly seconds: number;
}

const MERGED_DIRS: Record<string, string[]> = {
  amd64: ["bin", "sbin", "lib", "lib32", "lib64", "libx32"],
  arm64: ["bin", "sbin", "lib"],
};

/**
 * Builds `<workDir>/rootfs.tar` (entries without a leading "./", /dev contents removed).
 * debsDir: shared cache of downloaded .debs for this distro/suite/arch (synced in and out of the
 * build; guarded by a lock so parallel builders never share apt's archive dir).
 */
export async function buildRootfsTar(
  r: RootfsRecipe,
  workDir: string,
  debsDir: string,
): Promise<RootfsResult> {
  const t = timer();
  await ensureBinfmt(r.arch);
  const epoch = await releaseEpoch(r.mirror, r.suite);
  mkdirSync(workDir, { recursive: true });
  mkdirSync(debsDir, { recursive: true });
  for (const [i, f] of r.sources.files.entries()) writeFileSync(join(workDir, `sources-${i}`), f.content);
  const raw = join(workDir, "rootfs.raw.tar");
  const tar = join(workDir, "rootfs.tar");
  const logFile = join(workDir, "mmdebstrap.log");
  const args = [
    "--mode=root",
    `--variant=${r.variant}`,
    "--format=tar",
    `--arch=${r.arch}`,
    '--aptopt=Acquire::Languages "none"',
    '--aptopt=Acquire::Retries "3"',
    // keep every downloaded .deb for the shared cache (removed from the image by mmdebstrap's cleanup)
    "--skip=essential/unlink",
    `--setup-hook=mkdir -p "$1/var/cache/apt/archives/partial"`,
    `--setup-hook=sync-in ${debsDir} /var/cache/apt/archives/`,
  ];
  if (r.usrMerge === "maybe") args.push("--hook-dir=/usr/share/mmdebstrap/hooks/maybe-merged-usr");
  if (r.usrMerge === "symlinks") {
    const dirs = MERGED_DIRS[r.arch] ?? ["bin", "sbin", "lib"];
    args.push(
      `--setup-hook=for d in ${dirs.join(" ")}; do ln -s "usr/$d" "$1/$d"; mkdir -p "$1/usr/$d"; done`,
    );
  }
  if (r.slim) for (const o of SLIM_DPKG_OPTS) args.push(`--dpkgopt=${o}`);
  if (r.keyring) args.push(`--keyring=${r.keyring}`);
  if (r.include.length > 0) args.push(`--include=${r.include.join(",")}`);
  args.push(
    `--customize-hook=sync-out /var/cache/apt/archives ${debsDir}`,
    `--customize-hook=rm -f "$1/etc/resolv.conf" "$1/etc/hostname" && ${sourcesHookScript(r.sources, workDir)}`,
    r.suite,
    raw,
    `deb ${r.mirror} ${r.suite} main`,
  );
  log(`mmdebstrap ${r.distro} ${r.suite} ${r.arch} (${r.variant}) from ${r.mirror} (main only)`);
  await withLock(join(debsDir, "..", `${debsDir.split("/").pop()}.lock`), () =>
    run("mmdebstrap", args, {
      env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) },
      logFile,
      tailLines: 40,
    }),
  );
  if (!existsSync(raw)) throw new HarnessError(`mmdebstrap produced no ${raw} (log: ${logFile})`);
  // Like Docker's rootfs tarballs: no "./" prefix, an empty /dev.
  await run("mmtarfilter", ["--path-exclude=/dev/*", "--transform=s,^\\./,,"], {
    stdinFile: raw,
    stdoutFile: tar,
  });
  await run("rm", ["-f", raw]);
  const seconds = t();
  log(`mmdebstrap ${r.suite} ${r.arch}: ${seconds}s`);
  return { tar, epoch, seconds };
}
