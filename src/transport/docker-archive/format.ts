import { z } from "zod";
import { OcipatchError } from "../../errors.js";
import { type ConfigFile, type Descriptor, encodeJson, parseJson } from "../../image/manifest.js";
import { type Compression, layerMediaType, MediaTypes } from "../../image/media-types.js";
import { type Digest, hexOf, sha256 } from "../../util/digest.js";

/**
 * The `docker save` / `docker load` archive format: `manifest.json` lists the
 * images (config file, repo tags, layer files); `repositories` is the legacy
 * name → top layer ID map; `<id>/{VERSION,json,layer.tar}` are legacy per-layer
 * directories that old loaders read.
 */

export const MANIFEST_FILE = "manifest.json";
export const REPOSITORIES_FILE = "repositories";

const archiveManifestSchema = z.array(
  z.looseObject({
    Config: z.string().min(1),
    RepoTags: z.array(z.string()).nullable().optional(),
    Layers: z.array(z.string().min(1)),
  }),
);
type ArchiveManifest = z.infer<typeof archiveManifestSchema>;

export function parseArchiveManifest(bytes: Uint8Array, what: string): ArchiveManifest {
  const r = archiveManifestSchema.safeParse(parseJson(bytes, what));
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join(".")}` : "";
    throw new OcipatchError("INVALID_FORMAT", `${what} is not valid${where}: ${issue?.message ?? "unknown"}`);
  }
  return r.data;
}

/** One layer as a synthesized manifest lists it. */
export interface ArchiveLayerInfo {
  readonly digest: Digest;
  readonly size: number;
  readonly compression: Compression;
}

/**
 * The Docker schema 2 manifest of an image stored in an archive (which has none):
 * config and layers as stored, so the same archive always yields the same digest.
 * Descriptor fields are in Docker's order (mediaType, size, digest).
 */
export function synthesizeManifest(
  config: Pick<Descriptor, "digest" | "size">,
  layers: ArchiveLayerInfo[],
): Buffer {
  return encodeJson({
    schemaVersion: 2,
    mediaType: MediaTypes.dockerManifest,
    config: { mediaType: MediaTypes.dockerConfig, size: config.size, digest: config.digest },
    layers: layers.map((l) => ({
      mediaType: layerMediaType(l.compression, MediaTypes.dockerManifest),
      size: l.size,
      digest: l.digest,
    })),
  });
}

/** Fields of the image config copied into the top legacy layer's `json`, as `docker save` does. */
const LEGACY_TOP_FIELDS = [
  "architecture",
  "config",
  "container",
  "container_config",
  "created",
  "docker_version",
  "os",
] as const;

interface LegacyLayer {
  /** Legacy layer ID (64 hex). */
  readonly id: string;
  /** Contents of `<id>/json`. */
  readonly json: Buffer;
  readonly diffId: Digest;
}

/**
 * Legacy (v1) layer IDs and `json` documents for an image. Each ID is derived from
 * the chain of diffIDs below it (and, for the top layer, from the image config), so
 * IDs are stable and distinct per position. Modern loaders ignore them.
 */
export function legacyLayers(config: ConfigFile, rawConfig: Buffer): LegacyLayer[] {
  const cfg = parseJson(rawConfig, "config") as Record<string, unknown>;
  const diffIds = config.rootfs.diff_ids;
  const out: LegacyLayer[] = [];
  let chain: Digest | undefined;
  let parent: string | undefined;
  diffIds.forEach((diffId, i) => {
    chain = chain === undefined ? diffId : sha256(`${chain} ${diffId}`);
    const doc: Record<string, unknown> = {};
    if (i === diffIds.length - 1) {
      for (const k of LEGACY_TOP_FIELDS) if (cfg[k] !== undefined) doc[k] = cfg[k];
    }
    if (parent !== undefined) doc["parent"] = parent;
    doc["layer_id"] = chain;
    const id = hexOf(sha256(encodeJson(doc)));
    out.push({ id, json: encodeJson({ id, ...doc }), diffId });
    parent = id;
  });
  return out;
}
