import { OcipatchError } from "../errors.js";
import type { Digest } from "../util/digest.js";
import { sha256 } from "../util/digest.js";
import type { BlobOrigin, Image, ImageIndex, ImageOrIndex, IndexChild, Layer } from "./image.js";
import { MemoryIndex } from "./index-builder.js";
import {
  type ConfigFile,
  type Descriptor,
  encodeJson,
  type ImageManifest,
  parseImageManifest,
  parseIndexManifest,
  parseJson,
} from "./manifest.js";
import { MediaTypes } from "./media-types.js";

/** The OCI media type of each Docker schema 2 layer type (the blob bytes are the same). */
export const DOCKER_TO_OCI_LAYER: Readonly<Record<string, string>> = {
  [MediaTypes.dockerLayerGzip]: MediaTypes.ociLayerGzip,
  [MediaTypes.dockerLayer]: MediaTypes.ociLayer,
  [MediaTypes.dockerForeignLayer]: MediaTypes.ociLayerNondistGzip,
};

/** Does this image or index (or a child it lists) carry Docker schema 2 media types? */
export function hasDockerMediaTypes(item: ImageOrIndex): boolean {
  if (item.mediaType === MediaTypes.dockerManifest || item.mediaType === MediaTypes.dockerManifestList)
    return true;
  return (
    item.kind === "index" &&
    item.manifest.manifests.some(
      (d) => d.mediaType === MediaTypes.dockerManifest || d.mediaType === MediaTypes.dockerManifestList,
    )
  );
}

/**
 * The same image or index with OCI media types, as `skopeo copy` writes a Docker
 * schema 2 image into an OCI layout: the manifest's, the config descriptor's and every
 * layer descriptor's media type become the OCI ones; an index's Docker children are
 * converted the same way (they are loaded to learn their new digests). Config and layer
 * blobs stay the SAME bytes (the config keeps its Docker-only fields, which OCI readers
 * ignore), so diffIDs, labels and re-patch detection are unchanged; manifest (and index)
 * digests change. An item that is already OCI is returned as it is.
 */
export async function toOciMediaTypes(
  item: ImageOrIndex,
  opts?: { signal?: AbortSignal | undefined },
): Promise<ImageOrIndex> {
  if (!hasDockerMediaTypes(item)) return item;
  return item.kind === "image" ? imageToOci(item) : indexToOci(item, opts);
}

function imageToOci(base: Image): Image {
  if (base.mediaType !== MediaTypes.dockerManifest) return base;
  const what = `manifest of ${base.description}`;
  const man = parseJson(base.rawManifest, what) as Record<string, unknown>;
  man["mediaType"] = MediaTypes.ociManifest;
  man["config"] = { ...base.manifest.config, mediaType: MediaTypes.ociConfig };
  const layerDescs = base.manifest.layers.map((d) => ({
    ...d,
    mediaType: DOCKER_TO_OCI_LAYER[d.mediaType] ?? d.mediaType,
  }));
  man["layers"] = layerDescs;
  const raw = encodeJson(man);
  return new OciImage(base, raw, parseImageManifest(raw, what), layerDescs);
}

async function indexToOci(
  base: ImageIndex,
  opts?: { signal?: AbortSignal | undefined },
): Promise<ImageIndex> {
  const what = `index of ${base.description}`;
  const doc = parseJson(base.rawManifest, what) as Record<string, unknown>;
  const children: IndexChild[] = [];
  for (const c of base.children()) {
    const mt = c.descriptor.mediaType;
    if (mt !== MediaTypes.dockerManifest && mt !== MediaTypes.dockerManifestList) {
      children.push(c);
      continue;
    }
    const loaded = await c.load(opts);
    if (loaded.digest !== c.descriptor.digest) {
      throw new OcipatchError(
        "DIGEST_MISMATCH",
        `${base.description}: child ${c.descriptor.digest} loaded as ${loaded.digest}`,
      );
    }
    const converted = await toOciMediaTypes(loaded, opts);
    const descriptor: Descriptor = {
      ...c.descriptor,
      mediaType: converted.mediaType,
      digest: converted.digest,
      size: converted.rawManifest.length,
    };
    children.push({ descriptor, load: async () => converted });
  }
  doc["mediaType"] = MediaTypes.ociIndex;
  doc["manifests"] = children.map((c) => c.descriptor);
  const raw = encodeJson(doc);
  return new MemoryIndex(
    raw,
    parseIndexManifest(raw, what),
    MediaTypes.ociIndex,
    children,
    base.description,
    base.origin,
  );
}

class OciImage implements Image {
  readonly kind = "image";
  readonly description: string;
  readonly mediaType = MediaTypes.ociManifest;
  readonly digest: Digest;
  readonly origin: BlobOrigin | undefined;

  constructor(
    private readonly base: Image,
    readonly rawManifest: Buffer,
    readonly manifest: ImageManifest,
    private readonly layerDescs: readonly Descriptor[],
  ) {
    this.description = base.description;
    this.digest = sha256(rawManifest);
    this.origin = base.origin;
  }

  rawConfig(opts?: Parameters<Image["rawConfig"]>[0]): Promise<Buffer> {
    return this.base.rawConfig(opts);
  }

  configFile(opts?: Parameters<Image["configFile"]>[0]): Promise<ConfigFile> {
    return this.base.configFile(opts);
  }

  async layers(opts?: Parameters<Image["layers"]>[0]): Promise<Layer[]> {
    const layers = await this.base.layers(opts);
    return layers.map((l, i) => withDescriptor(l, this.layerDescs[i]!));
  }
}

/** The same layer under another descriptor (same blob, another media type). */
export function withDescriptor(l: Layer, descriptor: Descriptor): Layer {
  if (descriptor.mediaType === l.mediaType) return l;
  return {
    digest: l.digest,
    diffId: l.diffId,
    size: l.size,
    mediaType: descriptor.mediaType,
    compression: l.compression,
    descriptor,
    origin: l.origin,
    compressed: (o) => l.compressed(o),
    uncompressed: (o) => l.uncompressed(o),
  };
}
