/**
 * Small real images for the archive/layout tests, built with umoci (layers are tars
 * made by GNU tar) and converted with skopeo. Nothing here uses ocipatch code.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function run(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...opts });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")} failed: ${err.stderr || err.message}`);
  }
}

function runBuffer(cmd: string, args: string[]): Buffer {
  return execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
}

export function skopeo(...args: string[]): string {
  return run("skopeo", ["--insecure-policy", ...args]);
}

export function sha256Hex(b: Buffer | string): string {
  return createHash("sha256").update(b).digest("hex");
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `ocipatch-${prefix}-`));
}

/** What `skopeo inspect --raw` says, with its sha256. */
export function rawManifest(transportRef: string): {
  bytes: Buffer;
  digest: string;
  doc: Record<string, unknown>;
} {
  const bytes = runBuffer("skopeo", ["--insecure-policy", "inspect", "--raw", transportRef]);
  return { bytes, digest: `sha256:${sha256Hex(bytes)}`, doc: JSON.parse(bytes.toString("utf8")) };
}

export function rawConfig(transportRef: string): Buffer {
  return runBuffer("skopeo", ["--insecure-policy", "inspect", "--config", "--raw", transportRef]);
}

export interface FixtureLayout {
  /** OCI layout directory built by umoci. */
  readonly dir: string;
  /** Tag of the 2-layer amd64 image (symlink, hard link, long names, a whiteout). */
  readonly tag: string;
  /** Tag of a 1-layer arm64 image. */
  readonly armTag: string;
  /** Tag of a hand-written OCI index of both (linux/amd64, linux/arm64). */
  readonly indexTag: string;
  /** Tag of an index of the amd64 image and a BuildKit-style attestation manifest for it. */
  readonly attestedIndexTag: string;
}

/**
 * Build the fixture layout under `root`: two layers made with GNU tar (pax format,
 * so names longer than 100 bytes use extended headers) and added with
 * `umoci raw add-layer`; the second layer whites out a file of the first.
 */
export function buildFixtureLayout(root: string): FixtureLayout {
  const dir = join(root, "fixture");
  run("umoci", ["init", "--layout", dir]);
  run("umoci", ["new", "--image", `${dir}:base`]);

  const l1 = join(root, "l1");
  mkdirSync(join(l1, "etc"), { recursive: true });
  mkdirSync(join(l1, "usr/share/doc/a-package-with-a-rather-long-name-to-exceed/the-ustar-name-field"), {
    recursive: true,
  });
  writeFileSync(join(l1, "etc/hello"), "hello\n");
  writeFileSync(join(l1, "etc/gone"), "to be whited out\n");
  symlinkSync("hello", join(l1, "etc/link"));
  linkSync(join(l1, "etc/hello"), join(l1, "etc/hardlink"));
  writeFileSync(
    join(
      l1,
      "usr/share/doc/a-package-with-a-rather-long-name-to-exceed/the-ustar-name-field",
      "and-a-file-name-that-is-long-as-well.txt",
    ),
    "x".repeat(5000),
  );
  mkdirSync(join(l1, "bin"));
  writeFileSync(join(l1, "bin/tool"), "#!/bin/sh\necho tool\n");
  chmodSync(join(l1, "bin/tool"), 0o755);
  const l1tar = join(root, "l1.tar");
  run("tar", ["--format=pax", "--sort=name", "--numeric-owner", "-C", l1, "-cf", l1tar, "."]);

  const l2 = join(root, "l2");
  mkdirSync(join(l2, "etc"), { recursive: true });
  writeFileSync(join(l2, "etc/.wh.gone"), "");
  writeFileSync(join(l2, "etc/added"), "added in layer 2\n");
  const l2tar = join(root, "l2.tar");
  run("tar", ["--format=gnu", "--sort=name", "--numeric-owner", "-C", l2, "-cf", l2tar, "."]);

  run("umoci", ["raw", "add-layer", "--image", `${dir}:base`, "--tag", "one", l1tar]);
  run("umoci", ["raw", "add-layer", "--image", `${dir}:one`, "--tag", "two", l2tar]);
  run("umoci", [
    "config",
    "--image",
    `${dir}:two`,
    "--architecture",
    "amd64",
    "--config.cmd",
    "/bin/tool",
    "--tag",
    "amd",
  ]);

  const l3 = join(root, "l3");
  mkdirSync(join(l3, "etc"), { recursive: true });
  writeFileSync(join(l3, "etc/arch"), "arm64\n");
  const l3tar = join(root, "l3.tar");
  run("tar", ["--format=ustar", "-C", l3, "-cf", l3tar, "."]);
  run("umoci", ["raw", "add-layer", "--image", `${dir}:base`, "--tag", "arm-tmp", l3tar]);
  run("umoci", ["config", "--image", `${dir}:arm-tmp`, "--architecture", "arm64", "--tag", "arm"]);

  addIndex(dir, "multi", [
    { tag: "amd", platform: { architecture: "amd64", os: "linux" } },
    { tag: "arm", platform: { architecture: "arm64", os: "linux" } },
  ]);
  addIndex(dir, "multi-attested", [
    { tag: "amd", platform: { architecture: "amd64", os: "linux" } },
    { descriptor: addAttestationManifest(dir, taggedDigest(dir, "amd")) },
  ]);
  return { dir, tag: "amd", armTag: "arm", indexTag: "multi", attestedIndexTag: "multi-attested" };
}

type IndexJson = { manifests: Array<Record<string, unknown> & { annotations?: Record<string, string> }> };

type IndexChildSpec =
  | { tag: string; platform: Record<string, string> }
  | { descriptor: Record<string, unknown> };

function writeBlob(dir: string, bytes: Buffer): { digest: string; size: number } {
  const hex = sha256Hex(bytes);
  writeFileSync(join(dir, "blobs/sha256", hex), bytes);
  return { digest: `sha256:${hex}`, size: bytes.length };
}

/** Add a hand-written OCI index over tagged images (or given descriptors) of a layout, under `tag`. */
function addIndex(dir: string, tag: string, children: IndexChildSpec[]): string {
  const indexPath = join(dir, "index.json");
  const index = JSON.parse(readFileSync(indexPath, "utf8")) as IndexJson;
  const find = (t: string) => {
    const e = index.manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === t);
    if (!e) throw new Error(`no tag ${t} in ${dir}`);
    return e;
  };
  const doc = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.index.v1+json",
    manifests: children.map((c) => {
      if ("descriptor" in c) return c.descriptor;
      const e = find(c.tag);
      return { mediaType: e["mediaType"], digest: e["digest"], size: e["size"], platform: c.platform };
    }),
  };
  const blob = writeBlob(dir, Buffer.from(JSON.stringify(doc)));
  index.manifests.push({
    mediaType: doc.mediaType,
    ...blob,
    annotations: { "org.opencontainers.image.ref.name": tag },
  });
  writeFileSync(indexPath, JSON.stringify(index));
  return blob.digest;
}

/** The digest of the manifest a layout lists under `tag`. */
function taggedDigest(dir: string, tag: string): string {
  const index = JSON.parse(readFileSync(join(dir, "index.json"), "utf8")) as IndexJson;
  const e = index.manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === tag);
  if (!e) throw new Error(`no tag ${tag} in ${dir}`);
  return e["digest"] as string;
}

/**
 * Store an attestation manifest shaped like the ones BuildKit pushes next to
 * images (an in-toto statement as its only "layer"); returns its index descriptor.
 */
function addAttestationManifest(dir: string, subject: string): Record<string, unknown> {
  const statement = writeBlob(
    dir,
    Buffer.from(
      JSON.stringify({
        _type: "https://in-toto.io/Statement/v0.1",
        predicateType: "https://spdx.dev/Document",
        subject: [{ name: "fixture", digest: { sha256: subject.slice(7) } }],
        predicate: { spdxVersion: "SPDX-2.3" },
      }),
    ),
  );
  const config = writeBlob(
    dir,
    Buffer.from(
      JSON.stringify({
        architecture: "unknown",
        os: "unknown",
        config: {},
        rootfs: { type: "layers", diff_ids: [statement.digest] },
      }),
    ),
  );
  const manifest = {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
    layers: [
      {
        mediaType: "application/vnd.in-toto+json",
        ...statement,
        annotations: { "in-toto.io/predicate-type": "https://spdx.dev/Document" },
      },
    ],
  };
  const blob = writeBlob(dir, Buffer.from(JSON.stringify(manifest)));
  return {
    mediaType: manifest.mediaType,
    ...blob,
    platform: { architecture: "unknown", os: "unknown" },
    annotations: {
      "vnd.docker.reference.digest": subject,
      "vnd.docker.reference.type": "attestation-manifest",
    },
  };
}

/** `umoci unpack` an image of a layout; returns the rootfs path. */
export function umociUnpack(layoutDir: string, tag: string, bundle: string): string {
  run("umoci", ["unpack", "--image", `${layoutDir}:${tag}`, bundle]);
  return join(bundle, "rootfs");
}

/**
 * A listing of a directory tree for comparisons: one line per entry with type,
 * mode, owner, size, content hash / link target, and hard-link grouping.
 */
export function treeListing(root: string): string[] {
  const lines: string[] = [];
  const inodes = new Map<number, string>();
  const walk = (rel: string) => {
    const abs = rel === "" ? root : join(root, rel);
    for (const name of readdirSync(abs).sort()) {
      const r = rel === "" ? name : `${rel}/${name}`;
      const p = join(root, r);
      const st = lstatSync(p);
      const mode = (st.mode & 0o7777).toString(8);
      const owner = `${st.uid}:${st.gid}`;
      if (st.isSymbolicLink()) {
        lines.push(`${r} symlink ${owner} -> ${readlinkSync(p)}`);
      } else if (st.isDirectory()) {
        lines.push(`${r} dir ${mode} ${owner}`);
        walk(r);
      } else if (st.isFile()) {
        const first = st.nlink > 1 ? inodes.get(st.ino) : undefined;
        if (st.nlink > 1 && !first) inodes.set(st.ino, r);
        lines.push(
          `${r} file ${mode} ${owner} ${st.size} ${sha256Hex(readFileSync(p))}${first ? ` link=${first}` : ""}`,
        );
      } else {
        lines.push(`${r} other ${mode} ${owner}`);
      }
    }
  };
  walk("");
  return lines;
}

/** Names in a directory that look like leftovers of an interrupted ocipatch write. */
export function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.includes(".ocipatch-"));
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export function sha512Hex(b: Buffer | string): string {
  return createHash("sha512").update(b).digest("hex");
}

/**
 * Store the image tagged `from` again under `tag` with sha512 digests for its config and
 * its manifest (the layers keep their sha256 blobs): both stored in `blobs/sha512/`, as the
 * image-spec allows. Returns the paths of the new config and manifest blobs.
 */
export function addSha512Image(dir: string, from: string, tag: string): { config: string; manifest: string } {
  const blob512 = (bytes: Buffer) => {
    mkdirSync(join(dir, "blobs/sha512"), { recursive: true });
    const hex = sha512Hex(bytes);
    const path = join(dir, "blobs/sha512", hex);
    writeFileSync(path, bytes);
    return { digest: `sha512:${hex}`, size: bytes.length, path };
  };
  const manifest = JSON.parse(
    readFileSync(join(dir, "blobs/sha256", taggedDigest(dir, from).slice(7)), "utf8"),
  ) as { config: { digest: string; size: number; mediaType: string } };
  const config = blob512(readFileSync(join(dir, "blobs/sha256", manifest.config.digest.slice(7))));
  manifest.config = { mediaType: manifest.config.mediaType, digest: config.digest, size: config.size };
  const m = blob512(Buffer.from(JSON.stringify(manifest)));
  const indexPath = join(dir, "index.json");
  const index = JSON.parse(readFileSync(indexPath, "utf8")) as IndexJson;
  index.manifests.push({
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    digest: m.digest,
    size: m.size,
    annotations: { "org.opencontainers.image.ref.name": tag },
  });
  writeFileSync(indexPath, JSON.stringify(index));
  return { config: config.path, manifest: m.path };
}
