/**
 * The catalogue of real test images and `ensureImage(name)`: built on first use from the host's
 * Debian mirror (and Ubuntu's archive) with mmdebstrap, main suite ONLY (no -security/-updates, so
 * every image carries real fixable CVEs), turned into OCI layouts with umoci (gzip layers), and
 * cached under $OCIPATCH_TEST_CACHE (default /var/cache/ocipatch-test) keyed by a hash of the recipe.
 * Parallel test processes wait for each other (a kernel lock per image), never build twice.
 *
 * The cached layout is SHARED: treat `layoutDir` as read-only (push it, skopeo-copy it, or
 * `copyImageLayout` it before changing anything).
 */
import { createHash } from "node:crypto";
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { ensureBinfmt, hostArch } from "./build/binfmt.js";
import { buildDistrolessRootfs } from "./build/distroless.js";
import { hostApt } from "./build/host-apt.js";
import { debianImageSources, type ImageSources, ubuntuImageSources } from "./build/image-sources.js";
import { buildRootfsTar, type RootfsRecipe } from "./build/rootfs.js";
import { DEBIAN_ARCHIVE_KEYRING, ensureUbuntuKeyring } from "./build/ubuntu-keyring.js";
import { finishTag, type ImageConfigSpec, newImageFromTar, setConfig } from "./build/umoci.js";
import { DEFAULT_PATH, withChroot } from "./chroot.js";
import { HarnessError, log, run, timer } from "./exec.js";
import { cacheRoot, makeTempDir, safeRemove, sweepStaleTempDirs, withTempDir } from "./fs.js";
import { withLock } from "./lock.js";
import { type Mirrors, mirrors, releaseEpoch } from "./mirrors.js";
import {
  type Descriptor,
  gcLayout,
  MEDIA_INDEX,
  MEDIA_MANIFEST,
  type OciConfig,
  type OciManifest,
  REF_NAME,
  readJsonBlob,
  resolveImages,
  taggedDescriptor,
  writeIndex,
  writeJsonBlob,
} from "./oci-layout.js";
import { dpkgList } from "./oracle.js";

/** Bump when a builder changes in a way that must invalidate every cached image. */
const RECIPE_VERSION = 1;

export type Distro = "debian" | "ubuntu";

interface BaseRecipe {
  readonly kind: "base";
  readonly distro: Distro;
  readonly suite: string;
  readonly usrMerge: RootfsRecipe["usrMerge"];
  /** packages on top of the minbase set (Ubuntu's minbase has no apt; its images do) */
  readonly include?: readonly string[];
  readonly description: string;
}
interface LayeredRecipe {
  readonly kind: "layered";
  readonly base: ImageName;
  /** apt-get install --no-install-recommends, from the base suite's main only */
  readonly packages: readonly string[];
  readonly config: Pick<ImageConfigSpec, "cmd" | "exposedPorts" | "stopSignal">;
  readonly description: string;
}
interface DistrolessRecipe {
  readonly kind: "distroless";
  readonly suite: string;
  readonly packages: readonly string[];
  readonly description: string;
}
interface MultiarchRecipe {
  readonly kind: "multiarch";
  /** single-arch image reused (same blobs) as the host-arch entry */
  readonly base: ImageName;
  readonly suite: string;
  /** extra Debian architectures built with mmdebstrap (qemu-user-static) */
  readonly extraArchs: readonly string[];
  readonly description: string;
}
type Recipe = BaseRecipe | LayeredRecipe | DistrolessRecipe | MultiarchRecipe;

const NGINX_PACKAGES = ["nginx-light", "curl", "openssl", "ca-certificates"] as const;
const NGINX_CONFIG = {
  cmd: ["nginx", "-g", "daemon off;"],
  exposedPorts: ["80/tcp"],
  stopSignal: "SIGQUIT",
} as const;

/**
 * gcr.io/distroless/cc-debian12's package set: static (base-files, netbase, tzdata, media-types,
 * ca-certificates) + base (libc6, libssl3) + cc (libgcc-s1, libgomp1, libstdc++6), and zlib1g.
 * libssl3, tzdata and ca-certificates have newer versions in bookworm-security.
 */
const DISTROLESS_PACKAGES = [
  "base-files",
  "netbase",
  "tzdata",
  "media-types",
  "ca-certificates",
  "libc6",
  "libssl3",
  "libgcc-s1",
  "libgomp1",
  "libstdc++6",
  "zlib1g",
] as const;

export type ImageName =
  | "debian-bullseye"
  | "debian-bookworm"
  | "nginx-bullseye"
  | "nginx-bookworm"
  | "ubuntu-jammy"
  | "ubuntu-noble"
  | "distroless-bookworm"
  | "multiarch-bookworm";

export const CATALOGUE: Readonly<Record<ImageName, Recipe>> = {
  "debian-bullseye": {
    kind: "base",
    distro: "debian",
    suite: "bullseye",
    usrMerge: "none",
    description: "debian:bullseye-slim-like minbase (plain /bin, /lib), 1 layer, sources.list",
  },
  "debian-bookworm": {
    kind: "base",
    distro: "debian",
    suite: "bookworm",
    usrMerge: "maybe",
    description: "debian:bookworm-slim-like minbase, merged-/usr, 1 layer, deb822 debian.sources",
  },
  "nginx-bullseye": {
    kind: "layered",
    base: "debian-bullseye",
    packages: NGINX_PACKAGES,
    config: NGINX_CONFIG,
    description:
      "debian-bullseye's layer + an apt-get install layer (nginx-light curl openssl ca-certificates) with whiteouts",
  },
  "nginx-bookworm": {
    kind: "layered",
    base: "debian-bookworm",
    packages: NGINX_PACKAGES,
    config: NGINX_CONFIG,
    description:
      "debian-bookworm's layer + an apt-get install layer (nginx-light curl openssl ca-certificates) with whiteouts",
  },
  "ubuntu-jammy": {
    kind: "base",
    distro: "ubuntu",
    suite: "jammy",
    include: ["apt"],
    usrMerge: "symlinks",
    description: "ubuntu:22.04-like minbase from Ubuntu's archive, merged-/usr, sources.list",
  },
  "ubuntu-noble": {
    kind: "base",
    distro: "ubuntu",
    suite: "noble",
    include: ["apt"],
    // noble's usr-is-merged trips mmdebstrap's merged-usr essential hook; create the links directly
    usrMerge: "symlinks",
    description: "ubuntu:24.04-like minbase from Ubuntu's archive, merged-/usr, deb822 ubuntu.sources",
  },
  "distroless-bookworm": {
    kind: "distroless",
    suite: "bookworm",
    packages: DISTROLESS_PACKAGES,
    description: "distroless cc-debian12-like: debs unpacked, status.d/, no dpkg, no apt, no sources",
  },
  "multiarch-bookworm": {
    kind: "multiarch",
    base: "debian-bookworm",
    suite: "bookworm",
    extraArchs: ["arm64"],
    description:
      "OCI index: linux/amd64 (debian-bookworm's manifest) + linux/arm64/v8 (minbase built under qemu)",
  },
};
export const IMAGE_NAMES = Object.keys(CATALOGUE) as ImageName[];

export interface TestImage {
  readonly name: ImageName;
  readonly description: string;
  readonly kind: Recipe["kind"];
  /** OCI layout directory in the shared cache (read-only for tests) */
  readonly layoutDir: string;
  readonly tag: string;
  /** "oci:<layoutDir>:<tag>" for skopeo and the product */
  readonly ociRef: string;
  /** "os/arch[/variant]" in index order (one entry for single-arch images) */
  readonly platforms: readonly string[];
  readonly suite: string;
  readonly distro: Distro;
  /** digest of what the tag points at (manifest, or index for multiarch) */
  readonly digest: string;
  /** layers of the host-platform image */
  readonly layers: number;
  /** installed (ii) packages of the host-platform image: name(:arch) → version */
  readonly packagesBefore: Readonly<Record<string, string>>;
  readonly packagesByPlatform: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** hash of the recipe (part of the cache directory name) */
  readonly key: string;
  readonly builtAt: string;
  /** wall-clock build time of this image alone (dependencies excluded), and its steps */
  readonly buildSeconds: number;
  readonly steps: Readonly<Record<string, number>>;
}

// ---------------------------------------------------------------- keys and cache

function ociArch(debArch: string): string {
  return (
    (
      {
        amd64: "amd64",
        arm64: "arm64",
        armhf: "arm",
        armel: "arm",
        i386: "386",
        ppc64el: "ppc64le",
      } as Record<string, string>
    )[debArch] ?? debArch
  );
}
function ociVariant(debArch: string): string | undefined {
  return ({ arm64: "v8", armhf: "v7", armel: "v6" } as Record<string, string>)[debArch];
}

async function recipeKey(name: ImageName, m: Mirrors, arch: string): Promise<string> {
  const recipe: Recipe = CATALOGUE[name];
  const parts: unknown[] = [RECIPE_VERSION, name, recipe, m, arch];
  if (recipe.kind === "layered" || recipe.kind === "multiarch")
    parts.push(await recipeKey(recipe.base, m, arch));
  return createHash("sha256").update(JSON.stringify(parts)).digest("hex").slice(0, 16);
}

function imageDir(name: ImageName, key: string): string {
  return join(cacheRoot(), "images", `${name}-${key}`);
}

function readCached(dir: string): TestImage | undefined {
  const meta = join(dir, "image.json");
  if (!existsSync(meta) || !existsSync(join(dir, "layout", "index.json"))) return undefined;
  return JSON.parse(readFileSync(meta, "utf8")) as TestImage;
}

const inProcess = new Map<ImageName, Promise<TestImage>>();

/**
 * The named test image, built (and cached) on first use. Safe to call from parallel test
 * processes: one builds, the others wait for it.
 */
export function ensureImage(name: ImageName): Promise<TestImage> {
  if (!(name in CATALOGUE))
    return Promise.reject(new HarnessError(`unknown test image ${name}; known: ${IMAGE_NAMES.join(", ")}`));
  let p = inProcess.get(name);
  if (!p) {
    p = ensureImageOnce(name);
    inProcess.set(name, p);
    p.catch(() => inProcess.delete(name));
  }
  return p;
}

async function ensureImageOnce(name: ImageName): Promise<TestImage> {
  const m = mirrors();
  const arch = await hostArch();
  const key = await recipeKey(name, m, arch);
  const dir = imageDir(name, key);
  const cached = readCached(dir);
  if (cached) return cached;
  const recipe: Recipe = CATALOGUE[name];
  // dependencies first, outside our lock (the dependency graph is acyclic, so no lock cycles)
  if (recipe.kind === "layered" || recipe.kind === "multiarch") await ensureImage(recipe.base);
  const root = cacheRoot();
  const tmpRoot = join(root, "tmp");
  return withLock(
    join(root, "locks", `${name}-${key}.lock`),
    async () => {
      const again = readCached(dir);
      if (again) return again;
      await sweepStaleTempDirs([tmpRoot]);
      const work = makeTempDir(name, tmpRoot);
      const total = timer();
      log(`building test image ${name} (${recipe.description}) -> ${dir}`);
      try {
        const out = join(work, "out");
        const layout = join(out, "layout");
        mkdirSync(out, { recursive: true });
        const ctx: BuildContext = { name, work, layout, mirrors: m, arch, steps: {} };
        const built = await BUILDERS[recipe.kind](ctx, recipe as never);
        const images = resolveImages(layout, name);
        const hostPlatform = images.find((i) => i.config.architecture === ociArch(arch)) ?? images[0]!;
        const buildSeconds = total();
        const image: TestImage = {
          name,
          description: recipe.description,
          kind: recipe.kind,
          layoutDir: join(dir, "layout"),
          tag: name,
          ociRef: `oci:${join(dir, "layout")}:${name}`,
          platforms: images.map((i) => i.platform),
          suite: built.suite,
          distro: built.distro,
          digest: taggedDescriptor(layout, name).digest,
          layers: hostPlatform.manifest.layers.length,
          packagesBefore: built.packagesByPlatform[hostPlatform.platform] ?? {},
          packagesByPlatform: built.packagesByPlatform,
          key,
          builtAt: new Date().toISOString(),
          buildSeconds,
          steps: ctx.steps,
        };
        writeFileSync(join(out, "image.json"), `${JSON.stringify(image, null, 2)}\n`);
        mkdirSync(join(root, "images"), { recursive: true });
        renameSync(out, dir);
        appendFileSync(
          join(root, "build-times.log"),
          `${image.builtAt} ${name} ${key} ${buildSeconds}s ${JSON.stringify(ctx.steps)}\n`,
        );
        log(
          `built ${name} in ${buildSeconds}s (${Object.entries(ctx.steps)
            .map(([k, v]) => `${k} ${v}s`)
            .join(", ")})`,
        );
        return image;
      } catch (e) {
        const kept = keepLogs(work, join(root, "logs", `${name}-${key}-${Date.now()}`));
        const where = kept ? ` (build logs kept in ${kept})` : "";
        throw new HarnessError(`building test image ${name} failed${where}: ${(e as Error).message}`, {
          cause: e,
        });
      } finally {
        await safeRemove(work);
      }
    },
    { what: `test image ${name}` },
  );
}

/** Copies the *.log files of a failed build's work dir to dest (the work dir itself is removed). */
function keepLogs(work: string, dest: string): string | undefined {
  const logs = readdirSync(work, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".log"));
  if (logs.length === 0) return undefined;
  mkdirSync(dest, { recursive: true });
  for (const f of logs) copyFileSync(join(work, f), join(dest, f.replace(/\//g, "__")));
  return dest;
}

/** Copies an image's OCI layout (e.g. to modify it) to dest; returns the new "oci:" reference. */
export async function copyImageLayout(image: TestImage, dest: string): Promise<string> {
  if (existsSync(dest) && readdirSync(dest).length > 0)
    throw new HarnessError(`copyImageLayout: ${dest} is not empty`);
  await run("cp", ["-a", "--reflink=auto", `${image.layoutDir}/.`, `${dest}/`]);
  return `oci:${dest}:${image.tag}`;
}

/** Every cached image directory that is not the current build of a catalogue entry. */
export async function staleCacheEntries(): Promise<string[]> {
  const m = mirrors();
  const arch = await hostArch();
  const current = new Set(
    await Promise.all(IMAGE_NAMES.map(async (n) => `${n}-${await recipeKey(n, m, arch)}`)),
  );
  const dir = join(cacheRoot(), "images");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((d) => !current.has(d))
    .map((d) => join(dir, d));
}

// ---------------------------------------------------------------- builders

interface BuildContext {
  readonly name: ImageName;
  readonly work: string;
  readonly layout: string;
  readonly mirrors: Mirrors;
  /** host Debian architecture */
  readonly arch: string;
  readonly steps: Record<string, number>;
}

interface BuildOutput {
  readonly suite: string;
  readonly distro: Distro;
  readonly packagesByPlatform: Record<string, Record<string, string>>;
}

type Builder<R extends Recipe> = (ctx: BuildContext, recipe: R) => Promise<BuildOutput>;

const BUILDERS: { [K in Recipe["kind"]]: Builder<Extract<Recipe, { kind: K }>> } = {
  base: buildBase,
  layered: buildLayered,
  distroless: buildDistroless,
  multiarch: buildMultiarch,
};

async function step<T>(ctx: BuildContext, label: string, fn: () => Promise<T>): Promise<T> {
  const t = timer();
  const r = await fn();
  ctx.steps[label] = (ctx.steps[label] ?? 0) + t();
  return r;
}

const iso = (epoch: number) => new Date(epoch * 1000).toISOString().replace(/\.000Z$/, "Z");
const platformOf = (debArch: string) =>
  `linux/${ociArch(debArch)}${ociVariant(debArch) ? `/${ociVariant(debArch)}` : ""}`;

function toRecord(list: Map<string, string>): Record<string, string> {
  return Object.fromEntries(list);
}

/** Packages of a rootfs tarball (its var/lib/dpkg/status, read with the host's dpkg-query). */
async function packagesOfTar(tar: string): Promise<Record<string, string>> {
  return withTempDir("pkgs", async (tmp) => {
    await run("tar", ["-xf", tar, "-C", tmp, "var/lib/dpkg/status"]);
    return toRecord(await dpkgList(tmp));
  });
}

function imageSources(distro: Distro, suite: string, m: Mirrors): ImageSources {
  return distro === "debian" ? debianImageSources(suite, m) : ubuntuImageSources(suite, m);
}

/** The rootfs recipe of a base image, for any architecture. */
async function baseRootfsRecipe(r: BaseRecipe, m: Mirrors, arch: string): Promise<RootfsRecipe> {
  return {
    distro: r.distro,
    suite: r.suite,
    arch,
    variant: "minbase",
    mirror: r.distro === "debian" ? m.debian : m.ubuntu,
    usrMerge: r.usrMerge,
    slim: true,
    include: r.include ?? [],
    ...(r.distro === "ubuntu" ? { keyring: await ensureUbuntuKeyring() } : {}),
    sources: imageSources(r.distro, r.suite, m),
  };
}

function debsCacheDir(distro: Distro, suite: string, arch: string): string {
  return join(cacheRoot(), "apt-archives", `${distro}-${suite}-${arch}`);
}

function baseConfig(r: BaseRecipe, debArch: string, created: string): ImageConfigSpec {
  if (r.distro === "ubuntu") {
    const version =
      ({ jammy: "22.04", noble: "24.04", focal: "20.04" } as Record<string, string>)[r.suite] ?? r.suite;
    return {
      architecture: ociArch(debArch),
      created,
      env: [`PATH=${DEFAULT_PATH}`],
      cmd: ["/bin/bash"],
      labels: { "org.opencontainers.image.ref.name": "ubuntu", "org.opencontainers.image.version": version },
    };
  }
  return { architecture: ociArch(debArch), created, env: [`PATH=${DEFAULT_PATH}`], cmd: ["bash"] };
}

async function addBaseImage(
  ctx: BuildContext,
  r: BaseRecipe,
  debArch: string,
  tag: string,
): Promise<Record<string, string>> {
  const rootfsRecipe = await baseRootfsRecipe(r, ctx.mirrors, debArch);
  const work = join(ctx.work, `rootfs-${debArch}`);
  const { tar, epoch } = await step(ctx, `mmdebstrap-${debArch}`, () =>
    buildRootfsTar(rootfsRecipe, work, debsCacheDir(r.distro, r.suite, debArch)),
  );
  const created = iso(epoch);
  await step(ctx, "umoci", async () => {
    await newImageFromTar(
      ctx.layout,
      tag,
      tar,
      created,
      `/bin/sh -c #(nop) ADD file:rootfs.tar in / (mmdebstrap --variant=minbase ${r.suite} main, ${debArch})`,
    );
    await setConfig(ctx.layout, tag, baseConfig(r, debArch, created));
  });
  const pkgs = await packagesOfTar(tar);
  await safeRemove(work);
  return pkgs;
}

async function buildBase(ctx: BuildContext, r: BaseRecipe): Promise<BuildOutput> {
  const pkgs = await addBaseImage(ctx, r, ctx.arch, "build");
  await finishTag(ctx.layout, "build", ctx.name);
  return { suite: r.suite, distro: r.distro, packagesByPlatform: { [platformOf(ctx.arch)]: pkgs } };
}

/** The base image's layout copied (same blobs), its tag renamed to `tag`. */
async function copyBaseLayout(ctx: BuildContext, base: TestImage, tag: string): Promise<void> {
  mkdirSync(ctx.layout, { recursive: true });
  await run("cp", ["-a", "--reflink=auto", `${base.layoutDir}/.`, `${ctx.layout}/`]);
  const desc = taggedDescriptor(ctx.layout, base.tag);
  writeIndex(ctx.layout, { schemaVersion: 2, manifests: [{ ...desc, annotations: { [REF_NAME]: tag } }] });
}

/**
 * Like `RUN apt-get update && apt-get install -y --no-install-recommends PKGS && rm -rf
 * /var/lib/apt/lists/*` in a Dockerfile: a second layer on the base's untouched layer. apt uses
 * the base suite's main ONLY (a temporary sources list on the private /dev tmpfs, so it never
 * lands in the layer); removing lists/* also removes the base's lists/lock and lists/partial, so
 * the new layer carries whiteouts.
 */
async function buildLayered(ctx: BuildContext, r: LayeredRecipe): Promise<BuildOutput> {
  const base = await ensureImage(r.base);
  const baseRecipe = CATALOGUE[r.base] as BaseRecipe;
  await copyBaseLayout(ctx, base, "build");
  const bundle = join(ctx.work, "bundle");
  const rootfs = join(bundle, "rootfs");
  await step(ctx, "unpack", () => run("umoci", ["unpack", "--image", `${ctx.layout}:build`, bundle]));
  const mirror = baseRecipe.distro === "debian" ? ctx.mirrors.debian : ctx.mirrors.ubuntu;
  const logFile = join(ctx.work, "apt-install.log");
  await step(ctx, "apt-install", () =>
    withChroot(rootfs, async (c) => {
      const aptDir = join(rootfs, "dev/ocipatch-apt");
      mkdirSync(join(aptDir, "parts"), { recursive: true });
      const signedBy = baseRecipe.distro === "debian" ? `[signed-by=${DEBIAN_ARCHIVE_KEYRING}] ` : "";
      writeFileSync(join(aptDir, "main.list"), `deb ${signedBy}${mirror} ${baseRecipe.suite} main\n`);
      const mainOnly = [
        "-o",
        "Dir::Etc::SourceList=/dev/ocipatch-apt/main.list",
        "-o",
        "Dir::Etc::SourceParts=/dev/ocipatch-apt/parts",
      ];
      await c.run(["apt-get", ...mainOnly, "update", "-q"], { logFile });
      await c.run(["apt-get", ...mainOnly, "install", "-y", "-q", "--no-install-recommends", ...r.packages], {
        logFile,
      });
      await c.run(["apt-get", "clean"], { logFile });
    }),
  );
  await run("sh", [
    "-c",
    'rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/cache/ldconfig/aux-cache',
    "sh",
    rootfs,
  ]);
  const pkgs = toRecord(await dpkgList(rootfs));
  await step(ctx, "repack", async () => {
    await run("umoci", [
      "repack",
      "--image",
      `${ctx.layout}:build`,
      "--history.created_by",
      `/bin/sh -c apt-get update && apt-get install -y --no-install-recommends ${r.packages.join(" ")} && rm -rf /var/lib/apt/lists/*`,
      bundle,
    ]);
    const [img] = resolveImagesByTag(ctx.layout, "build");
    await setConfig(ctx.layout, "build", {
      architecture: img!.config.architecture,
      created: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      env: [`PATH=${DEFAULT_PATH}`],
      ...r.config,
    });
    await finishTag(ctx.layout, "build", ctx.name);
  });
  await safeRemove(bundle);
  return {
    suite: baseRecipe.suite,
    distro: baseRecipe.distro,
    packagesByPlatform: { [platformOf(ctx.arch)]: pkgs },
  };
}

function resolveImagesByTag(layout: string, tag: string) {
  return resolveImages(layout, tag);
}

async function buildDistroless(ctx: BuildContext, r: DistrolessRecipe): Promise<BuildOutput> {
  const m = ctx.mirrors;
  const epoch = await releaseEpoch(m.debian, r.suite);
  const debs = await step(ctx, "download", async () => {
    const apt = hostApt(
      join(ctx.work, "apt"),
      `deb [signed-by=${DEBIAN_ARCHIVE_KEYRING}] ${m.debian} ${r.suite} main\n`,
      ctx.arch,
    );
    await apt.update();
    return apt.download(r.packages, join(ctx.work, "debs"));
  });
  if (debs.length !== r.packages.length) {
    throw new HarnessError(
      `distroless: asked apt for ${r.packages.length} packages, got ${debs.length} .debs`,
    );
  }
  const rootfs = join(ctx.work, "rootfs");
  const { packages } = await step(ctx, "unpack-debs", () => buildDistrolessRootfs(rootfs, debs));
  const tar = join(ctx.work, "layer.tar");
  const created = iso(epoch);
  await step(ctx, "umoci", async () => {
    const top = readdirSync(rootfs).sort();
    await run("tar", [
      "-C",
      rootfs,
      "--sort=name",
      "--numeric-owner",
      `--mtime=@${epoch}`,
      "--clamp-mtime",
      "-cf",
      tar,
      ...top,
    ]);
    await newImageFromTar(
      ctx.layout,
      "build",
      tar,
      created,
      `bazel build //base:cc_root_${ociArch(ctx.arch)}_debian12 (distroless-like: ${r.packages.join(" ")})`,
    );
    await setConfig(ctx.layout, "build", {
      architecture: ociArch(ctx.arch),
      created,
      env: [`PATH=${DEFAULT_PATH}`, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"],
      user: "0",
      workingDir: "/",
    });
    await finishTag(ctx.layout, "build", ctx.name);
  });
  const listed = toRecord(await dpkgList(rootfs));
  for (const [p, v] of Object.entries(packages)) {
    if (listed[p] !== v && listed[`${p}:${ctx.arch}`] !== v)
      throw new HarnessError(`distroless: status.d lists ${p} as ${listed[p]}, the .deb has ${v}`);
  }
  await safeRemove(rootfs);
  return { suite: r.suite, distro: "debian", packagesByPlatform: { [platformOf(ctx.arch)]: listed } };
}

/**
 * An OCI index: the base image's manifest (same blobs) for the host arch plus one image per extra
 * architecture, built from the same recipe with mmdebstrap --arch under qemu-user-static. Each
 * index entry has a platform (arm64 with variant v8, as on Docker Hub) and annotations.
 */
async function buildMultiarch(ctx: BuildContext, r: MultiarchRecipe): Promise<BuildOutput> {
  const base = await ensureImage(r.base);
  const baseRecipe = CATALOGUE[r.base] as BaseRecipe;
  await copyBaseLayout(ctx, base, "host");
  const packagesByPlatform: Record<string, Record<string, string>> = { ...base.packagesByPlatform };
  const entries: Descriptor[] = [];
  const hostDesc = taggedDescriptor(ctx.layout, "host");
  entries.push(entryFor(ctx.layout, hostDesc, ctx.arch, 0, r));
  let i = 1;
  for (const debArch of r.extraArchs) {
    await ensureBinfmt(debArch);
    const tag = `arch-${debArch}`;
    packagesByPlatform[platformOf(debArch)] = await addBaseImage(ctx, baseRecipe, debArch, tag);
    entries.push(
      entryFor(
        ctx.layout,
        withVariant(ctx.layout, taggedDescriptor(ctx.layout, tag), debArch),
        debArch,
        i++,
        r,
      ),
    );
  }
  const index = writeJsonBlob(ctx.layout, MEDIA_INDEX, {
    schemaVersion: 2,
    mediaType: MEDIA_INDEX,
    manifests: entries,
    annotations: { "org.opencontainers.image.description": r.description },
  });
  writeIndex(ctx.layout, {
    schemaVersion: 2,
    manifests: [{ ...index, annotations: { [REF_NAME]: ctx.name } }],
  });
  gcLayout(ctx.layout);
  return { suite: r.suite, distro: baseRecipe.distro, packagesByPlatform };
}

/** Adds the OCI variant (v8 for arm64) to an image's config and returns the rewritten manifest's descriptor. */
function withVariant(layout: string, desc: Descriptor, debArch: string): Descriptor {
  const variant = ociVariant(debArch);
  if (!variant) return desc;
  const manifest = readJsonBlob<OciManifest>(layout, desc.digest);
  const config = readJsonBlob<OciConfig>(layout, manifest.config.digest);
  const newConfig = writeJsonBlob(layout, manifest.config.mediaType, { ...config, variant });
  return writeJsonBlob(layout, MEDIA_MANIFEST, { ...manifest, config: newConfig });
}

function entryFor(
  layout: string,
  desc: Descriptor,
  debArch: string,
  position: number,
  r: MultiarchRecipe,
): Descriptor {
  const manifest = readJsonBlob<OciManifest>(layout, desc.digest);
  const config = readJsonBlob<OciConfig>(layout, manifest.config.digest);
  const variant = ociVariant(debArch) ?? config.variant;
  return {
    mediaType: MEDIA_MANIFEST,
    digest: desc.digest,
    size: desc.size,
    platform: { architecture: config.architecture, os: config.os, ...(variant ? { variant } : {}) },
    annotations: {
      "org.opencontainers.image.title": `${r.suite} minbase ${debArch}`,
      "dev.ocipatch.test.entry": String(position),
    },
  };
}
