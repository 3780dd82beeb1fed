/**
 * Where the real-image tests get their images. ONE function, `testImageLayout`,
 * so the tests switch to the shared test-image harness with a one-line change:
 *
 *   return ensureImage(name).then((i) => ({ name, layoutDir: i.layoutDir, tag: i.tag }));
 *
 * (ensureImage from test/harness/images.ts). Until that harness is on main this
 * interim version uses an image the harness already built in the shared cache
 * ($OCIPATCH_TEST_CACHE/images/<name>-<key>/), or builds its own: the Debian ones
 * with the shared bench scripts (../shared/bench/build-image.sh), Ubuntu jammy with
 * mmdebstrap from Ubuntu's archive, and the distroless-style image from the host's
 * bookworm apt lists (debs unpacked, status.d written). It returns undefined (the
 * test is skipped with a message) when none of that is possible.
 */
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { cachedDownload, hostMirrors, TEST_CACHE } from "./inventory.mirror.js";

export type TestImageName =
  | "debian-bullseye"
  | "debian-bookworm"
  | "nginx-bullseye"
  | "ubuntu-jammy"
  | "distroless-bookworm";

interface TestImageLayout {
  readonly name: TestImageName;
  /** OCI image layout directory (read-only for tests). */
  readonly layoutDir: string;
  readonly tag: string;
}

export async function testImageLayout(name: TestImageName): Promise<TestImageLayout | undefined> {
  return fromHarnessCache(name) ?? fromBench(name) ?? (await fromOwnBuild(name));
}

function fromHarnessCache(name: TestImageName): TestImageLayout | undefined {
  const root = join(TEST_CACHE, "images");
  if (!existsSync(root)) return undefined;
  const candidates = readdirSync(root)
    .filter((d) => d.startsWith(`${name}-`) && /^[0-9a-f]{16}$/.test(d.slice(name.length + 1)))
    .map((d) => join(root, d))
    .filter((d) => existsSync(join(d, "image.json")) && existsSync(join(d, "layout", "index.json")))
    .sort((a, b) => statSync(join(b, "image.json")).mtimeMs - statSync(join(a, "image.json")).mtimeMs);
  const dir = candidates[0];
  if (!dir) return undefined;
  const meta = JSON.parse(readFileSync(join(dir, "image.json"), "utf8")) as {
    tag: string;
    layoutDir?: string;
  };
  return { name, layoutDir: join(dir, "layout"), tag: meta.tag };
}

const BENCH_RECIPES: Partial<Record<TestImageName, { args: string[]; slug: string; tag: string }>> = {
  "debian-bullseye": { args: ["bullseye", "debian:bullseye"], slug: "debian_bullseye", tag: "bullseye" },
  "debian-bookworm": { args: ["bookworm", "debian:bookworm"], slug: "debian_bookworm", tag: "bookworm" },
  "nginx-bullseye": {
    args: ["bullseye", "nginx:bullseye", "nginx-light", "curl", "openssl", "ca-certificates"],
    slug: "nginx_bullseye",
    tag: "bullseye",
  },
};

function fromBench(name: TestImageName): TestImageLayout | undefined {
  const recipe = BENCH_RECIPES[name];
  const script = resolve(import.meta.dirname, "../../../shared/bench/build-image.sh");
  const fallback = "/work/shared/bench/build-image.sh";
  const build = existsSync(script) ? script : existsSync(fallback) ? fallback : undefined;
  if (!recipe || !build) return undefined;
  const benchDir = join(TEST_CACHE, "dpkg-bench");
  const layoutDir = join(benchDir, "images", recipe.slug);
  if (!existsSync(join(layoutDir, "index.json"))) {
    mkdirSync(benchDir, { recursive: true });
    const m = hostMirrors();
    try {
      // The script pushes to a registry at the end; the OCI layout is complete before that.
      execFileSync(build, recipe.args, {
        env: {
          ...process.env,
          BENCH_DIR: benchDir,
          REGISTRY: "127.0.0.1:9",
          DEBIAN_MIRROR: m.debian,
          SECURITY_MIRROR: m.security,
        },
        stdio: "ignore",
        timeout: 1_200_000,
      });
    } catch {
      // push failure expected
    }
  }
  return existsSync(join(layoutDir, "index.json")) ? { name, layoutDir, tag: recipe.tag } : undefined;
}

// ---------------------------------------------------------------- own builds (interim)

const UBUNTU_ARCHIVE = process.env["OCIPATCH_UBUNTU_MIRROR"] || "http://archive.ubuntu.com/ubuntu";
const DISTROLESS_PACKAGES = [
  "base-files",
  "netbase",
  "tzdata",
  "media-types",
  "libc6",
  "libgcc-s1",
  "libgomp1",
  "libstdc++6",
  "libssl3",
  "zlib1g",
  "ca-certificates",
];

function sh(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  return execFileSync(cmd, args, {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 256 << 20,
    ...opts,
  });
}

/** Turn a rootfs tarball into a one-layer OCI layout tagged `tag` (atomically). */
function layoutFromRootfsTar(tarFile: string, dest: string, tag: string): void {
  const tmp = `${dest}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  sh("umoci", ["init", "--layout", tmp]);
  sh("umoci", ["new", "--image", `${tmp}:${tag}`]);
  sh("umoci", ["raw", "add-layer", "--image", `${tmp}:${tag}`, tarFile]);
  sh("umoci", [
    "config",
    "--image",
    `${tmp}:${tag}`,
    "--os",
    "linux",
    "--architecture",
    "amd64",
    "--config.cmd",
    "sh",
  ]);
  sh("umoci", ["gc", "--layout", tmp]);
  rmSync(dest, { recursive: true, force: true });
  renameSync(tmp, dest);
}

/** Ubuntu's archive keyring, from the ubuntu-keyring package of the archive itself. */
async function ubuntuKeyring(): Promise<string> {
  const dir = join(TEST_CACHE, "dpkg-images", "ubuntu-keyring");
  const keyring = join(dir, "usr/share/keyrings/ubuntu-archive-keyring.gpg");
  if (existsSync(keyring)) return keyring;
  const index = await cachedDownload(
    `${UBUNTU_ARCHIVE}/dists/jammy/main/binary-amd64/Packages.xz`,
    "dpkg-images",
  );
  const text = sh("xz", ["-dc", index]);
  const para = text.split("\n\n").find((p) => p.startsWith("Package: ubuntu-keyring\n"));
  const filename = para && /^Filename: (\S+)$/m.exec(para)?.[1];
  if (!filename) throw new Error("ubuntu-keyring not found in the jammy index");
  const deb = await cachedDownload(`${UBUNTU_ARCHIVE}/${filename}`, "dpkg-images");
  sh("dpkg-deb", ["-x", deb, dir]);
  return keyring;
}

async function fromOwnBuild(name: TestImageName): Promise<TestImageLayout | undefined> {
  if (name !== "ubuntu-jammy" && name !== "distroless-bookworm") return undefined;
  const dest = join(TEST_CACHE, "dpkg-images", name);
  if (existsSync(join(dest, "index.json"))) return { name, layoutDir: dest, tag: name };
  mkdirSync(join(TEST_CACHE, "dpkg-images"), { recursive: true });
  const work = mkdtempSync(join(TEST_CACHE, "dpkg-images", "work-"));
  try {
    const tarFile = join(work, "rootfs.tar");
    if (name === "ubuntu-jammy") {
      const keyring = await ubuntuKeyring();
      const raw = join(work, "raw.tar");
      sh("mmdebstrap", [
        "--mode=root",
        "--variant=minbase",
        "--format=tar",
        "--components=main",
        `--keyring=${keyring}`,
        '--aptopt=Acquire::Languages "none"',
        '--customize-hook=rm -f "$1/etc/resolv.conf" "$1/etc/hostname"',
        "jammy",
        raw,
        UBUNTU_ARCHIVE,
      ]);
      // device nodes are the runtime's business (and hostile in a layer outside /dev)
      execFileSync("sh", ["-c", `mmtarfilter --path-exclude='/dev/*' < "${raw}" > "${tarFile}"`]);
    } else {
      // distroless-style: the packages' files unpacked, their control files in status.d, no dpkg/apt.
      const debs = join(work, "debs");
      const root = join(work, "rootfs");
      mkdirSync(debs);
      mkdirSync(join(root, "var/lib/dpkg/status.d"), { recursive: true });
      sh("apt-get", ["download", ...DISTROLESS_PACKAGES], { cwd: debs });
      for (const deb of readdirSync(debs).filter((f) => f.endsWith(".deb"))) {
        const path = join(debs, deb);
        const pkg = sh("dpkg-deb", ["-f", path, "Package"]).trim();
        sh("dpkg-deb", ["-x", path, root]);
        writeFileSync(join(root, "var/lib/dpkg/status.d", pkg), sh("dpkg-deb", ["-f", path]));
        const ctrl = join(work, `ctrl-${pkg}`);
        sh("dpkg-deb", ["-e", path, ctrl]);
        if (existsSync(join(ctrl, "md5sums")))
          writeFileSync(
            join(root, "var/lib/dpkg/status.d", `${pkg}.md5sums`),
            readFileSync(join(ctrl, "md5sums")),
          );
      }
      sh("tar", ["--numeric-owner", "-C", root, "-cf", tarFile, "."]);
    }
    layoutFromRootfsTar(tarFile, dest, name);
    return { name, layoutDir: dest, tag: name };
  } catch (e) {
    console.warn(`cannot build test image ${name}: ${(e as Error).message.split("\n")[0]}`);
    return undefined;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
