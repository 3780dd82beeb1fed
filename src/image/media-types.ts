import { OcipatchError } from "../errors.js";

export const MediaTypes = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  ociLayerNondist: "application/vnd.oci.image.layer.nondistributable.v1.tar",
  ociLayerNondistGzip: "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
  ociLayerNondistZstd: "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
  ociEmpty: "application/vnd.oci.empty.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  dockerLayer: "application/vnd.docker.image.rootfs.diff.tar",
  dockerForeignLayer: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
  dockerSchema1: "application/vnd.docker.distribution.manifest.v1+json",
  dockerSchema1Signed: "application/vnd.docker.distribution.manifest.v1+prettyjws",
} as const;

/** Layer compressions ocipatch reads and writes. */
export const COMPRESSIONS = ["gzip", "zstd", "none"] as const;

export type Compression = (typeof COMPRESSIONS)[number];

/** Media types a manifest request accepts, most preferred first. */
export const MANIFEST_ACCEPT: readonly string[] = [
  MediaTypes.ociIndex,
  MediaTypes.dockerManifestList,
  MediaTypes.ociManifest,
  MediaTypes.dockerManifest,
  MediaTypes.dockerSchema1Signed,
  MediaTypes.dockerSchema1,
];

export function isIndexMediaType(mt: string): boolean {
  return mt === MediaTypes.ociIndex || mt === MediaTypes.dockerManifestList;
}

export function isImageManifestMediaType(mt: string): boolean {
  return mt === MediaTypes.ociManifest || mt === MediaTypes.dockerManifest;
}

export function isSchema1MediaType(mt: string): boolean {
  return mt === MediaTypes.dockerSchema1 || mt === MediaTypes.dockerSchema1Signed;
}

export function refuseSchema1(what: string): never {
  throw new OcipatchError(
    "UNSUPPORTED",
    `${what} is a Docker schema 1 manifest, which is deprecated and not supported; re-push it with a current client to convert it to schema 2`,
  );
}

/** Compression of a layer media type; throws for types that are not layers. */
export function layerCompression(mt: string): Compression {
  switch (mt) {
    case MediaTypes.ociLayerGzip:
    case MediaTypes.ociLayerNondistGzip:
    case MediaTypes.dockerLayerGzip:
    case MediaTypes.dockerForeignLayer:
      return "gzip";
    case MediaTypes.ociLayerZstd:
    case MediaTypes.ociLayerNondistZstd:
      return "zstd";
    case MediaTypes.ociLayer:
    case MediaTypes.ociLayerNondist:
    case MediaTypes.dockerLayer:
      return "none";
    default:
      throw new OcipatchError("UNSUPPORTED", `unsupported layer media type "${mt}"`);
  }
}

export function isLayerMediaType(mt: string): boolean {
  try {
    layerCompression(mt);
    return true;
  } catch {
    return false;
  }
}

/** Layer media type for a compression in the family (OCI or Docker) of a manifest. */
export function layerMediaType(compression: Compression, manifestMediaType: string): string {
  const docker = manifestMediaType === MediaTypes.dockerManifest;
  switch (compression) {
    case "gzip":
      return docker ? MediaTypes.dockerLayerGzip : MediaTypes.ociLayerGzip;
    case "none":
      return docker ? MediaTypes.dockerLayer : MediaTypes.ociLayer;
    case "zstd":
      // Docker schema 2 has no zstd type; registries and runtimes accept the OCI one.
      return MediaTypes.ociLayerZstd;
  }
}

/** Detect compression from the first bytes of a blob. */
export function sniffCompression(head: Uint8Array): Compression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd)
    return "zstd";
  return "none";
}
