/**
 * Just enough of the OCI image layout for the harness and its tests (written independently of
 * src/image so the harness can check the product): read index.json, manifests, configs and blobs;
 * write JSON blobs; tag a descriptor.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HarnessError } from "./exec.js";

export const MEDIA_INDEX = "application/vnd.oci.image.index.v1+json";
export const MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const REF_NAME = "org.opencontainers.image.ref.name";

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os: string; architecture: string; variant?: string };
  annotations?: Record<string, string>;
}

export interface OciIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export interface OciManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

export interface OciConfig {
  architecture: string;
  os: string;
  variant?: string;
  created?: string;
  config?: Record<string, unknown>;
  rootfs: { type: string; diff_ids: string[] };
  history?: Array<Record<string, unknown>>;
}

export function blobPath(layout: string, digest: string): string {
  const [alg, hex] = digest.split(":");
  if (!alg || !hex) throw new HarnessError(`bad digest ${digest}`);
  return join(layout, "blobs", alg, hex);
}

function readBlob(layout: string, digest: string): Buffer {
  const p = blobPath(layout, digest);
  if (!existsSync(p)) throw new HarnessError(`blob ${digest} missing in ${layout}`);
  return readFileSync(p);
}

export function readJsonBlob<T>(layout: string, digest: string): T {
  return JSON.parse(readBlob(layout, digest).toString("utf8")) as T;
}

/** Writes a JSON document as a blob (canonical: no extra whitespace) and returns its descriptor. */
export function writeJsonBlob(layout: string, mediaType: string, doc: unknown): Descriptor {
  const data = Buffer.from(JSON.stringify(doc));
  const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
  const p = blobPath(layout, digest);
  mkdirSync(join(layout, "blobs", "sha256"), { recursive: true });
  if (!existsSync(p)) writeFileSync(p, data);
  return { mediaType, digest, size: data.length };
}

function readIndex(layout: string): OciIndex {
  return JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as OciIndex;
}

export function writeIndex(layout: string, index: OciIndex): void {
  const tmp = join(layout, "index.json.tmp");
  writeFileSync(tmp, JSON.stringify(index));
  renameSync(tmp, join(layout, "index.json"));
}

/** The descriptor tagged `tag` in index.json. */
export function taggedDescriptor(layout: string, tag: string): Descriptor {
  const d = readIndex(layout).manifests.find((m) => m.annotations?.[REF_NAME] === tag);
  if (!d) throw new HarnessError(`tag ${tag} not found in ${layout}/index.json`);
  return d;
}

/** Points `tag` at desc in index.json (replacing an older descriptor with that tag). */
export function tagDescriptor(layout: string, tag: string, desc: Descriptor): void {
  const index = readIndex(layout);
  const manifests = index.manifests.filter((m) => m.annotations?.[REF_NAME] !== tag);
  const { platform: _p, annotations: _a, ...plain } = desc;
  manifests.push({ ...plain, annotations: { [REF_NAME]: tag } });
  writeIndex(layout, { ...index, manifests });
}

interface ResolvedImage {
  readonly platform: string;
  readonly manifestDigest: string;
  readonly manifest: OciManifest;
  readonly config: OciConfig;
}

/** Every image behind `tag`: one for a manifest, one per entry for an index. */
export function resolveImages(layout: string, tag: string): ResolvedImage[] {
  const top = taggedDescriptor(layout, tag);
  const entries =
    top.mediaType === MEDIA_INDEX ? readJsonBlob<OciIndex>(layout, top.digest).manifests : [top];
  return entries.map((d) => {
    const manifest = readJsonBlob<OciManifest>(layout, d.digest);
    const config = readJsonBlob<OciConfig>(layout, manifest.config.digest);
    const platform = `${config.os}/${config.architecture}${config.variant ? `/${config.variant}` : ""}`;
    return { platform, manifestDigest: d.digest, manifest, config };
  });
}

/** Deletes blobs not reachable from index.json (walks nested indexes, unlike a tag-only gc). */
export function gcLayout(layout: string): string[] {
  const reachable = new Set<string>();
  const visit = (d: Descriptor) => {
    if (reachable.has(d.digest)) return;
    reachable.add(d.digest);
    if (d.mediaType === MEDIA_INDEX)
      for (const m of readJsonBlob<OciIndex>(layout, d.digest).manifests) visit(m);
    else if (
      d.mediaType === MEDIA_MANIFEST ||
      d.mediaType === "application/vnd.docker.distribution.manifest.v2+json"
    ) {
      const m = readJsonBlob<OciManifest>(layout, d.digest);
      visit(m.config);
      for (const l of m.layers) visit(l);
    }
  };
  for (const d of readIndex(layout).manifests) visit(d);
  const removed: string[] = [];
  const dir = join(layout, "blobs", "sha256");
  for (const hex of readdirSync(dir)) {
    const digest = `sha256:${hex}`;
    if (!reachable.has(digest)) {
      rmSync(join(dir, hex));
      removed.push(digest);
    }
  }
  return removed;
}
