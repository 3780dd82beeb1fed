import { describe, expect, inject, it } from "vitest";
import { isOcipatchError } from "../../src/errors.js";
import type { Image } from "../../src/image/image.js";
import { MediaTypes } from "../../src/image/media-types.js";
import { selectImage } from "../../src/image/select.js";
import { headManifest, openRegistryImage } from "../../src/transport/registry/index.js";
import { readAll } from "../../src/util/streams.js";
import {
  pushTestImage,
  pushTestIndex,
  randomLayer,
  sha256Hex,
  uniqueRepo,
} from "../harness/registry-fixtures.js";

const reg = inject("registry");

async function layerTars(img: Image): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const l of await img.layers()) out.push(await readAll(await l.uncompressed()));
  return out;
}

async function expectError(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection");
}

describe("reading images that skopeo pushed", () => {
  const cases = [
    { format: "oci", compression: "gzip", manifest: MediaTypes.ociManifest, layer: MediaTypes.ociLayerGzip },
    { format: "oci", compression: "zstd", manifest: MediaTypes.ociManifest, layer: MediaTypes.ociLayerZstd },
    { format: "oci", compression: "none", manifest: MediaTypes.ociManifest, layer: MediaTypes.ociLayer },
    {
      format: "v2s2",
      compression: "gzip",
      manifest: MediaTypes.dockerManifest,
      layer: MediaTypes.dockerLayerGzip,
    },
  ] as const;

  for (const c of cases) {
    it(`reads a ${c.format} image with ${c.compression} layers`, async () => {
      const ref = `${reg.host}/${uniqueRepo("read")}:v1`;
      const pushed = await pushTestImage(ref, {
        format: c.format,
        compression: c.compression,
        // random content: skopeo's blob cache must not substitute another variant of a known layer
        layers: [randomLayer(1000, "one.bin"), randomLayer(5000, "two.bin")],
      });
      const item = await openRegistryImage(ref);
      expect(item.kind).toBe("image");
      const img = item as Image;
      expect(img.digest).toBe(pushed.digest);
      expect(img.rawManifest.equals(pushed.manifest)).toBe(true);
      expect(img.mediaType).toBe(c.manifest);
      expect(img.manifest.layers.map((l) => l.mediaType)).toEqual([c.layer, c.layer]);
      const cfg = await img.configFile();
      expect(cfg.architecture).toBe("amd64");
      expect(cfg.rootfs.diff_ids).toEqual(pushed.tars.map((t) => `sha256:${sha256Hex(t)}`));
      // the uncompressed layers are byte for byte the tars umoci was given
      const tars = await layerTars(img);
      expect(tars.map((t) => sha256Hex(t))).toEqual(pushed.tars.map((t) => sha256Hex(t)));

      const head = await headManifest(ref);
      expect(head).toEqual({ digest: pushed.digest, mediaType: c.manifest, size: pushed.manifest.length });
    });
  }

  it("reads an index with two platforms and selects one", async () => {
    const ref = `${reg.host}/${uniqueRepo("read")}:multi`;
    const pushed = await pushTestIndex(ref, ["amd64", "arm64"]);
    const item = await openRegistryImage(ref);
    expect(item.kind).toBe("index");
    expect(item.digest).toBe(pushed.digest);
    expect(item.mediaType).toBe(MediaTypes.ociIndex);
    if (item.kind !== "index") return;
    expect(item.children().map((c) => c.descriptor.platform?.architecture)).toEqual(["amd64", "arm64"]);
    const arm = await selectImage(item, { os: "linux", architecture: "arm64" });
    expect((await arm.configFile()).architecture).toBe("arm64");
    expect((await layerTars(arm)).map(sha256Hex)).toEqual(pushed.tars.get("arm64")!.map(sha256Hex));
  });

  it("reads a Docker manifest list", async () => {
    const ref = `${reg.host}/${uniqueRepo("read")}:list`;
    const pushed = await pushTestIndex(ref, ["amd64", "arm64"], { format: "v2s2" });
    const item = await openRegistryImage(ref);
    expect(item.mediaType).toBe(MediaTypes.dockerManifestList);
    expect(item.digest).toBe(pushed.digest);
    const amd = await selectImage(item, { os: "linux", architecture: "amd64" });
    expect(amd.mediaType).toBe(MediaTypes.dockerManifest);
    expect((await layerTars(amd)).map(sha256Hex)).toEqual(pushed.tars.get("amd64")!.map(sha256Hex));
  });

  it("opens an image pinned by digest, and checks the digest", async () => {
    const repo = uniqueRepo("read");
    const pushed = await pushTestImage(`${reg.host}/${repo}:v1`);
    const img = await openRegistryImage(`${reg.host}/${repo}@${pushed.digest}`);
    expect(img.digest).toBe(pushed.digest);
    const other = `sha256:${"0".repeat(64)}`;
    const e = await expectError(openRegistryImage(`${reg.host}/${repo}@${other}`));
    expect(isOcipatchError(e, "NOT_FOUND")).toBe(true);
    expect(e.message).toBe(`manifest unknown: ${reg.host}/${repo}@${other} not found`);
  });
});

describe("missing images", () => {
  it("a missing tag is NOT_FOUND with a one-line message naming it", async () => {
    const repo = uniqueRepo("read");
    await pushTestImage(`${reg.host}/${repo}:v1`);
    const e = await expectError(openRegistryImage(`${reg.host}/${repo}:nope`));
    expect(isOcipatchError(e, "NOT_FOUND")).toBe(true);
    expect(e.message).toBe(`manifest unknown: ${reg.host}/${repo}:nope not found`);
  });

  it("a missing repository is NOT_FOUND", async () => {
    const e = await expectError(openRegistryImage(`${reg.host}/nope:latest`));
    expect(isOcipatchError(e, "NOT_FOUND")).toBe(true);
    expect(e.message).toBe(`manifest unknown: ${reg.host}/nope:latest not found`);
  });

  it("headManifest says undefined for a missing manifest", async () => {
    expect(await headManifest(`${reg.host}/${uniqueRepo("read")}:x`)).toBeUndefined();
  });
});
