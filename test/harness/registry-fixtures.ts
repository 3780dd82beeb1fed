/**
 * Small real test images, built with umoci and pushed with skopeo (independent tools),
 * so the registry transport is tested against what other clients write and read.
 * Every image gets random file content: skopeo's blob cache can never short-cut a copy.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

interface RunResult {
  stdout: Buffer;
  stderr: string;
}

export function run(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { encoding: "buffer", maxBuffer: 256 * 1024 * 1024, env: env ?? process.env },
      (err, stdout, stderr) => {
        if (err) {
          reject(
            new Error(`${cmd} ${args.join(" ")} failed: ${stderr.toString("utf8").trim() || err.message}`),
          );
          return;
        }
        resolve({ stdout, stderr: stderr.toString("utf8") });
      },
    );
  });
}

export async function tempDir(prefix = "ocipatch-test-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export function sha256Hex(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

/** Files of one layer: path → content. */
type LayerFiles = Record<string, string | Buffer>;

/** A layer with a random file (`size` random bytes) and a small text file. */
export function randomLayer(size = 4096, name = "data.bin"): LayerFiles {
  return { [`opt/${name}`]: randomBytes(size), "etc/marker": `${randomBytes(8).toString("hex")}\n` };
}

async function tarOf(files: LayerFiles, work: string): Promise<Buffer> {
  const root = await mkdtemp(join(work, "root-"));
  for (const [p, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, p)), { recursive: true });
    await writeFile(join(root, p), content);
  }
  const out = `${root}.tar`;
  await run("tar", ["--sort=name", "--owner=0", "--group=0", "--numeric-owner", "-C", root, "-cf", out, "."]);
  return readFile(out);
}

interface BuiltImage {
  /** OCI layout directory. */
  readonly layout: string;
  readonly tag: string;
  /** The uncompressed layer tars, bottom to top (their sha256 are the diffIDs). */
  readonly tars: Buffer[];
}

/** An OCI layout image made by umoci: one gzip layer per entry of `layers`. */
export async function buildImage(
  work: string,
  opts: { layers: LayerFiles[]; arch?: string; os?: string; tag?: string; layout?: string },
): Promise<BuiltImage> {
  const layout = opts.layout ?? join(work, "layout");
  const tag = opts.tag ?? "latest";
  try {
    await readFile(join(layout, "oci-layout"));
  } catch {
    await run("umoci", ["init", "--layout", layout]);
  }
  await run("umoci", ["new", "--image", `${layout}:${tag}`]);
  const tars: Buffer[] = [];
  for (const files of opts.layers) {
    const tar = await tarOf(files, work);
    tars.push(tar);
    const tarPath = join(work, `layer-${sha256Hex(tar)}.tar`);
    await writeFile(tarPath, tar);
    await run("umoci", ["raw", "add-layer", "--image", `${layout}:${tag}`, tarPath]);
  }
  await run("umoci", [
    "config",
    "--image",
    `${layout}:${tag}`,
    "--architecture",
    opts.arch ?? "amd64",
    "--os",
    opts.os ?? "linux",
    "--config.cmd",
    "/bin/true",
  ]);
  return { layout, tag, tars };
}

/**
 * Add an index to a layout listing images already in it (by tag), each with its
 * platform; the index gets tag `tag`.
 */
async function addIndex(layout: string, tag: string, children: { tag: string; arch: string }[]) {
  const indexJsonPath = join(layout, "index.json");
  const indexJson = JSON.parse(await readFile(indexJsonPath, "utf8")) as {
    manifests: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[];
  };
  const manifests = children.map((c) => {
    const d = indexJson.manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === c.tag);
    if (!d) throw new Error(`no tag ${c.tag} in ${layout}`);
    return {
      mediaType: d.mediaType,
      digest: d.digest,
      size: d.size,
      platform: { architecture: c.arch, os: "linux" },
    };
  });
  const index = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests }),
  );
  const hex = sha256Hex(index);
  await writeFile(join(layout, "blobs", "sha256", hex), index);
  indexJson.manifests.push({
    mediaType: "application/vnd.oci.image.index.v1+json",
    digest: `sha256:${hex}`,
    size: index.length,
    annotations: { "org.opencontainers.image.ref.name": tag },
  });
  await writeFile(indexJsonPath, JSON.stringify(indexJson));
}

interface SkopeoAuth {
  username: string;
  password: string;
}

function credsArgs(flag: "--src-creds" | "--dest-creds" | "--creds", auth?: SkopeoAuth): string[] {
  return auth ? [flag, `${auth.username}:${auth.password}`] : [];
}

export async function skopeoCopy(
  src: string,
  dest: string,
  opts: { args?: string[]; srcAuth?: SkopeoAuth; destAuth?: SkopeoAuth } = {},
): Promise<void> {
  await run("skopeo", [
    "copy",
    "--quiet",
    "--insecure-policy",
    "--src-tls-verify=false",
    "--dest-tls-verify=false",
    ...credsArgs("--src-creds", opts.srcAuth),
    ...credsArgs("--dest-creds", opts.destAuth),
    ...(opts.args ?? []),
    src,
    dest,
  ]);
}

/** `skopeo inspect --raw`: the manifest bytes exactly as the registry serves them. */
export async function skopeoInspectRaw(ref: string, auth?: SkopeoAuth): Promise<Buffer> {
  const r = await run("skopeo", [
    "inspect",
    "--raw",
    "--tls-verify=false",
    ...credsArgs("--creds", auth),
    `docker://${ref}`,
  ]);
  return r.stdout;
}

type FixtureCompression = "gzip" | "zstd" | "none";

export interface PushedImage {
  /** `host/repo:tag` */
  readonly ref: string;
  /** `sha256:...` of the manifest as stored. */
  readonly digest: string;
  readonly manifest: Buffer;
  readonly tars: Buffer[];
}

/**
 * Build an image with umoci and push it with skopeo: OCI or Docker schema 2, with
 * gzip, zstd or uncompressed layers.
 */
export async function pushTestImage(
  ref: string,
  opts: {
    layers?: LayerFiles[];
    format?: "oci" | "v2s2";
    compression?: FixtureCompression;
    auth?: SkopeoAuth;
    arch?: string;
  } = {},
): Promise<PushedImage> {
  const work = await tempDir();
  try {
    const img = await buildImage(work, {
      layers: opts.layers ?? [randomLayer()],
      ...(opts.arch ? { arch: opts.arch } : {}),
    });
    const compression = opts.compression ?? "gzip";
    const format = ["-f", opts.format ?? "oci"];
    const dest = `docker://${ref}`;
    const base = { ...(opts.auth ? { destAuth: opts.auth } : {}) };
    if (compression === "gzip") {
      await skopeoCopy(`oci:${img.layout}:${img.tag}`, dest, { ...base, args: format });
    } else {
      const dir = join(work, "dir");
      await skopeoCopy(`oci:${img.layout}:${img.tag}`, `dir:${dir}`, { args: ["--dest-decompress"] });
      const args =
        compression === "none"
          ? ["--preserve-digests"]
          : ["--dest-compress", "--dest-compress-format", "zstd"];
      await skopeoCopy(`dir:${dir}`, dest, { ...base, args: [...format, ...args] });
    }
    const manifest = await skopeoInspectRaw(ref, opts.auth);
    return { ref, digest: `sha256:${sha256Hex(manifest)}`, manifest, tars: img.tars };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Push an OCI index with one image per architecture (gzip layers). */
export async function pushTestIndex(
  ref: string,
  arches: string[],
  opts: { format?: "oci" | "v2s2"; auth?: SkopeoAuth } = {},
): Promise<{ ref: string; digest: string; manifest: Buffer; tars: Map<string, Buffer[]> }> {
  const work = await tempDir();
  try {
    const layout = join(work, "layout");
    const tars = new Map<string, Buffer[]>();
    for (const arch of arches) {
      const img = await buildImage(work, {
        layers: [randomLayer(2048, `${arch}.bin`)],
        arch,
        tag: arch,
        layout,
      });
      tars.set(arch, img.tars);
    }
    await addIndex(
      layout,
      "multi",
      arches.map((a) => ({ tag: a, arch: a })),
    );
    const args = ["--all", ...(opts.format === "v2s2" ? ["-f", "v2s2"] : ["--preserve-digests"])];
    await skopeoCopy(`oci:${layout}:multi`, `docker://${ref}`, {
      args,
      ...(opts.auth ? { destAuth: opts.auth } : {}),
    });
    const manifest = await skopeoInspectRaw(ref, opts.auth);
    return { ref, digest: `sha256:${sha256Hex(manifest)}`, manifest, tars };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** A unique repository name per test, so tests sharing a registry never collide. */
export function uniqueRepo(prefix: string): string {
  return `${prefix}/${randomBytes(5).toString("hex")}`;
}
