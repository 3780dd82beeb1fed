/**
 * Alpine-like OCI images from the harness's apk packages: the packages' files, the installed
 * database apk would write for them, os-release/alpine-release, and (unless distroless) world,
 * repositories and the signing key under /etc/apk. Built with GNU tar and umoci.
 */
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { newImageFromTar, setConfig } from "../build/umoci.js";
import { run } from "../exec.js";
import { makeTempDir, safeRemove } from "../fs.js";
import {
  type Descriptor,
  MEDIA_INDEX,
  type OciConfig,
  type OciManifest,
  readJsonBlob,
  tagDescriptor,
  taggedDescriptor,
  writeJsonBlob,
} from "../oci-layout.js";
import { type BuiltPackage, installedDb, type TestKey } from "./build.js";

interface AlpineImageSpec {
  readonly packages: readonly BuiltPackage[];
  readonly key: TestKey;
  /** os-release ID (alpine, wolfi). */
  readonly osId: string;
  readonly versionId: string;
  /** No apk program and no /etc/apk (distroless Alpine, apko-built Wolfi). */
  readonly distroless?: boolean;
  readonly repositories?: readonly string[];
  readonly world?: readonly string[];
  /** OCI architecture of the image config (default amd64). */
  readonly architecture?: string;
  /** Files no package owns (path → content), e.g. /etc/motd. */
  readonly extraFiles?: Readonly<Record<string, string>>;
}

function put(root: string, path: string, content: Buffer | string, mode = 0o644): void {
  const p = join(root, path);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, content);
  chmodSync(p, mode);
}

/** Writes the image's root filesystem into `root`. */
function writeAlpineRootfs(root: string, spec: AlpineImageSpec): void {
  for (const p of spec.packages) {
    for (const f of p.spec.files) {
      if (f.symlink !== undefined) {
        mkdirSync(dirname(join(root, f.path)), { recursive: true });
        symlinkSync(f.symlink, join(root, f.path));
      } else put(root, f.path, f.content ?? Buffer.alloc(0), f.mode ?? 0o644);
    }
  }
  for (const [path, content] of Object.entries(spec.extraFiles ?? {})) put(root, path, content);
  put(root, "/lib/apk/db/installed", installedDb(spec.packages));
  put(
    root,
    "/etc/os-release",
    `ID=${spec.osId}\nVERSION_ID=${spec.versionId}\nNAME="${spec.osId} (ocipatch test)"\n`,
  );
  if (spec.osId === "alpine") put(root, "/etc/alpine-release", `${spec.versionId}\n`);
  if (!spec.distroless) {
    put(root, "/etc/apk/world", `${(spec.world ?? spec.packages.map((p) => p.spec.name)).join("\n")}\n`);
    put(root, "/etc/apk/repositories", `${(spec.repositories ?? []).join("\n")}\n`);
    put(root, `/etc/apk/keys/${spec.key.name}`, spec.key.publicPem);
    put(
      root,
      "/sbin/apk",
      "#!/bin/sh\necho 'apk stand-in: the test image never runs it' >&2\nexit 1\n",
      0o755,
    );
  }
}

/** `layout:tag`, one gzip layer holding the rootfs. */
export async function buildAlpineImage(layout: string, tag: string, spec: AlpineImageSpec): Promise<void> {
  const work = makeTempDir("apk-image");
  try {
    const root = join(work, "rootfs");
    mkdirSync(root);
    writeAlpineRootfs(root, spec);
    const tar = join(work, "layer.tar");
    await run("tar", [
      "--numeric-owner",
      "--owner=0",
      "--group=0",
      "--sort=name",
      "-C",
      root,
      "-cf",
      tar,
      ".",
    ]);
    const created = "2025-01-01T00:00:00Z";
    await newImageFromTar(layout, tag, tar, created, "ocipatch test harness: apk rootfs");
    await setConfig(layout, tag, { architecture: spec.architecture ?? "amd64", created, cmd: ["/bin/sh"] });
  } finally {
    await safeRemove(work);
  }
}

/**
 * Appends one gzip layer to `layout:tag` made of what `write(root)` puts in an empty directory
 * (an OCI whiteout is an empty file `.wh.<name>` next to the deleted file's place).
 */
export async function appendLayer(
  layout: string,
  tag: string,
  createdBy: string,
  write: (root: string) => void,
): Promise<void> {
  const work = makeTempDir("apk-layer");
  try {
    const root = join(work, "rootfs");
    mkdirSync(root);
    write(root);
    const tar = join(work, "layer.tar");
    await run("tar", [
      "--numeric-owner",
      "--owner=0",
      "--group=0",
      "--sort=name",
      "-C",
      root,
      "-cf",
      tar,
      ".",
    ]);
    await run("umoci", [
      "raw",
      "add-layer",
      "--image",
      `${layout}:${tag}`,
      "--history.created",
      "2025-01-02T00:00:00Z",
      "--history.created_by",
      createdBy,
      tar,
    ]);
  } finally {
    await safeRemove(work);
  }
}

/** Writes one file of a layer (parents created). */
export function putFile(root: string, path: string, content: Buffer | string, mode = 0o644): void {
  put(root, path, content, mode);
}

/** Tags `tag` as an OCI image index of the images tagged `children` (platforms from their configs). */
export function tagIndex(layout: string, tag: string, children: readonly string[]): void {
  const manifests: Descriptor[] = children.map((child) => {
    const d = taggedDescriptor(layout, child);
    const m = readJsonBlob<OciManifest>(layout, d.digest);
    const c = readJsonBlob<OciConfig>(layout, m.config.digest);
    return {
      mediaType: d.mediaType,
      digest: d.digest,
      size: d.size,
      platform: { os: c.os, architecture: c.architecture, ...(c.variant ? { variant: c.variant } : {}) },
    };
  });
  const index = writeJsonBlob(layout, MEDIA_INDEX, { schemaVersion: 2, mediaType: MEDIA_INDEX, manifests });
  tagDescriptor(layout, tag, index);
}
