import { PassThrough } from "node:stream";
import tar from "tar-stream";
import { OcipatchError } from "../../errors.js";
import type { Image, ImageOrIndex } from "../../image/image.js";
import { encodeJson } from "../../image/manifest.js";
import { emptyStats, type ImageSink, type WriteOptions, type WriteResult } from "../../image/sink.js";
import { formatReference, type Reference } from "../../reference/index.js";
import { algorithmOf, type Digest, digestLike, hexOf, sha256 } from "../../util/digest.js";
import { MANIFEST_FILE } from "../docker-archive/format.js";
import { addBuffer, addFile } from "../docker-archive/sink.js";
import { connectEngine, type EngineClientOptions } from "./client.js";
import { engineImageName } from "./source.js";

/**
 * An `ImageSink` loading one image into the local engine store (`docker-daemon:REF`)
 * with `POST /images/load`. The `docker save` tar is generated while it is sent:
 * layers go as stored (compressed; the engine decompresses them and checks each
 * diffID against the config), each blob's digest is checked as it streams, so
 * nothing is spooled. The engine tags the image only once every layer is in, so a
 * failed load leaves no tag behind.
 */
export function dockerDaemonSink(ref: Reference, opts: EngineClientOptions = {}): ImageSink {
  return new DockerDaemonSink(ref, opts);
}

class DockerDaemonSink implements ImageSink {
  readonly description: string;

  constructor(
    readonly ref: Reference,
    private readonly opts: EngineClientOptions = {},
  ) {
    this.description = `docker-daemon:${engineImageName(ref)}`;
  }

  async write(item: ImageOrIndex, opts?: WriteOptions): Promise<WriteResult> {
    if (item.kind === "index") {
      throw new OcipatchError(
        "UNSUPPORTED",
        `cannot load an image index (${item.manifest.manifests.length} manifests) into ${this.description}: the engine store holds one image per tag; choose a platform (os/arch)`,
        { details: { option: "platform" } },
      );
    }
    if (this.ref.digest !== undefined || this.ref.tag === undefined) {
      throw new OcipatchError(
        "REFERENCE_INVALID",
        `${this.description}: an image is loaded under a tag (name:tag)`,
      );
    }
    const signal = opts?.signal ?? this.opts.signal;
    const client = await connectEngine({ ...this.opts, signal });
    try {
      const stats = emptyStats();
      const tarStream = new PassThrough();
      const pack = tar.pack();
      pack.pipe(tarStream);
      let imageId: Digest | undefined;
      const produced = this.produce(pack, item, stats, opts).then(
        (id) => {
          imageId = id;
          return undefined;
        },
        (e: unknown) => {
          // a bad blob or a failed source: break the upload so the engine rejects the load
          tarStream.destroy(e as Error);
          return e;
        },
      );
      let loadError: unknown;
      try {
        await client.loadImage(tarStream, `${item.description} into ${this.description}`, signal);
      } catch (e) {
        loadError = e;
      }
      const produceError = await produced;
      if (produceError !== undefined) throw produceError;
      if (loadError !== undefined) throw loadError;
      return {
        digest: item.digest,
        mediaType: item.mediaType,
        size: item.rawManifest.length,
        location: `${this.description} (image ID ${imageId})`,
        stats,
      };
    } finally {
      await client.close();
    }
  }

  /** Write the `docker save` tar of `image` into `pack`; returns the image ID the engine gives it. */
  private async produce(
    pack: tar.Pack,
    image: Image,
    stats: ReturnType<typeof emptyStats>,
    opts?: WriteOptions,
  ): Promise<Digest> {
    try {
      const rawConfig = await image.rawConfig(opts);
      if (digestLike(rawConfig, image.manifest.config.digest) !== image.manifest.config.digest) {
        throw new OcipatchError(
          "DIGEST_MISMATCH",
          `config of ${image.description} does not match its digest`,
        );
      }
      const config = await image.configFile(opts);
      const layers = await image.layers(opts);
      const diffIds = config.rootfs.diff_ids;
      if (layers.length !== diffIds.length || layers.some((l, i) => l.diffId !== diffIds[i])) {
        throw new OcipatchError(
          "INVALID_FORMAT",
          `${image.description}: layers do not match the config's diff_ids`,
        );
      }
      // by its own algorithm, as in an OCI layout; engines read the names only as paths into the tar
      // (dockerd 20.10 and Podman 4.3 checked with blobs/sha512/), the layers by the config's diffIDs
      const name = (d: Digest) => `blobs/${algorithmOf(d)}/${hexOf(d)}`;
      const written = new Set<string>();
      for (const layer of layers) {
        if (written.has(layer.digest)) continue;
        written.add(layer.digest);
        await addFile(pack, name(layer.digest), layer.size, await layer.compressed({ signal: opts?.signal }));
        stats.blobsUploaded++;
        stats.bytesUploaded += layer.size;
      }
      const configName = `${hexOf(image.manifest.config.digest)}.json`;
      await addBuffer(pack, configName, rawConfig);
      await addBuffer(
        pack,
        MANIFEST_FILE,
        encodeJson([
          {
            Config: configName,
            // fully qualified: Podman names an unqualified `local/x:1` `localhost/local/x:1`, not the
            // `docker.io/local/x:1` it read (Docker shortens it to the familiar form itself)
            RepoTags: [formatReference(this.ref)],
            Layers: layers.map((l) => name(l.digest)),
          },
        ]),
      );
      pack.finalize();
      // Docker and Podman name an image by the sha256 of its config, whatever the manifest's algorithm
      return sha256(rawConfig);
    } catch (e) {
      pack.destroy(e as Error);
      throw e;
    }
  }
}
