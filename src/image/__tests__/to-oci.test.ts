import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { type Digest, sha256 } from "../../util/digest.js";
import type { Image, Layer } from "../image.js";
import { MemoryIndex } from "../index-builder.js";
import { encodeJson, parseConfigFile, parseImageManifest, parseIndexManifest } from "../manifest.js";
import { MediaTypes } from "../media-types.js";
import { toOciMediaTypes } from "../to-oci.js";

function dockerImage(arch: string): Image {
  const rawConfig = encodeJson({
    architecture: arch,
    os: "linux",
    rootfs: { type: "layers", diff_ids: [sha256(Buffer.from(`layer-${arch}`))] },
    container_config: { Hostname: "docker-only field" },
  });
  const blob = Buffer.from(`gz-${arch}`);
  const layerDesc = { mediaType: MediaTypes.dockerLayerGzip, digest: sha256(blob), size: blob.length };
  const rawManifest = encodeJson({
    schemaVersion: 2,
    mediaType: MediaTypes.dockerManifest,
    config: { mediaType: MediaTypes.dockerConfig, digest: sha256(rawConfig), size: rawConfig.length },
    layers: [layerDesc],
  });
  const layer: Layer = {
    digest: layerDesc.digest,
    diffId: sha256(Buffer.from(`layer-${arch}`)),
    size: blob.length,
    mediaType: layerDesc.mediaType,
    compression: "gzip",
    descriptor: layerDesc,
    compressed: async () => Readable.from([blob]),
    uncompressed: async () => Readable.from([Buffer.from(`layer-${arch}`)]),
  };
  return {
    kind: "image",
    description: `test ${arch}`,
    mediaType: MediaTypes.dockerManifest,
    digest: sha256(rawManifest),
    rawManifest,
    manifest: parseImageManifest(rawManifest),
    rawConfig: async () => rawConfig,
    configFile: async () => parseConfigFile(rawConfig),
    layers: async () => [layer],
  };
}

describe("toOciMediaTypes", () => {
  it("an image: OCI manifest, config and layer media types; the same config and layer bytes", async () => {
    const img = dockerImage("amd64");
    const oci = await toOciMediaTypes(img);
    if (oci.kind !== "image") throw new Error("expected an image");
    expect(oci.mediaType).toBe(MediaTypes.ociManifest);
    expect(oci.digest).toBe(sha256(oci.rawManifest));
    expect(oci.digest).not.toBe(img.digest);
    const m = JSON.parse(oci.rawManifest.toString()) as {
      mediaType: string;
      config: { mediaType: string; digest: string };
      layers: Array<{ mediaType: string; digest: string }>;
    };
    expect(m.mediaType).toBe(MediaTypes.ociManifest);
    expect(m.config).toMatchObject({ mediaType: MediaTypes.ociConfig, digest: img.manifest.config.digest });
    expect(m.layers).toEqual([{ ...img.manifest.layers[0], mediaType: MediaTypes.ociLayerGzip }]);
    expect(await oci.rawConfig()).toEqual(await img.rawConfig());
    const [layer] = await oci.layers();
    expect(layer!.mediaType).toBe(MediaTypes.ociLayerGzip);
    expect(layer!.descriptor.mediaType).toBe(MediaTypes.ociLayerGzip);
    expect(layer!.digest).toBe(img.manifest.layers[0]!.digest);
  });

  it("an OCI image is returned as it is", async () => {
    const img = await toOciMediaTypes(dockerImage("amd64"));
    expect(await toOciMediaTypes(img)).toBe(img);
  });

  it("a manifest list: an OCI index whose entries point at the converted children, platforms kept", async () => {
    const arches = ["amd64", "arm64"];
    const children = arches.map(dockerImage);
    const raw = encodeJson({
      schemaVersion: 2,
      mediaType: MediaTypes.dockerManifestList,
      manifests: children.map((c, i) => ({
        mediaType: c.mediaType,
        digest: c.digest,
        size: c.rawManifest.length,
        platform: { os: "linux", architecture: arches[i] },
      })),
    });
    const list = new MemoryIndex(
      raw,
      parseIndexManifest(raw),
      MediaTypes.dockerManifestList,
      children.map((c, i) => ({
        descriptor: parseIndexManifest(raw).manifests[i]!,
        load: async () => c,
      })),
      "test list",
    );
    const oci = await toOciMediaTypes(list);
    if (oci.kind !== "index") throw new Error("expected an index");
    expect(oci.mediaType).toBe(MediaTypes.ociIndex);
    const doc = parseIndexManifest(oci.rawManifest);
    expect(doc.mediaType).toBe(MediaTypes.ociIndex);
    expect(oci.digest).toBe(sha256(oci.rawManifest));
    for (const [i, child] of oci.children().entries()) {
      const loaded = await child.load();
      expect(loaded.mediaType).toBe(MediaTypes.ociManifest);
      expect(doc.manifests[i]).toMatchObject({
        mediaType: MediaTypes.ociManifest,
        digest: loaded.digest as Digest,
        size: loaded.rawManifest.length,
        platform: { os: "linux", architecture: arches[i] },
      });
    }
  });
});
