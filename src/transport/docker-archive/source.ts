import type { Readable } from "node:stream";
import { OcipatchError } from "../../errors.js";
import type { Image, OpenOptions } from "../../image/image.js";
import {
  type Descriptor,
  detectManifestMediaType,
  parseConfigFile,
  parseImageManifest,
  parseIndexManifest,
} from "../../image/manifest.js";
import { isImageManifestMediaType, isIndexMediaType, sniffCompression } from "../../image/media-types.js";
import { type ContentSource, type RawManifest, SourceImage } from "../../image/source.js";
import { familiarReference, formatReference, parseReference, type Reference } from "../../reference/index.js";
import { type Digest, DigestStream, digestLike, isDigest, sha256 } from "../../util/digest.js";
import { drain } from "../../util/streams.js";
import { type ArchiveLayerInfo, MANIFEST_FILE, parseArchiveManifest, synthesizeManifest } from "./format.js";
import { TarIndex } from "./tar-index.js";

/** Which image of an archive to open: by one of its RepoTags, or by position (`@N`). */
type ArchiveSelector = Reference | string | number;

/** Serves blobs of a docker archive as byte ranges of the tar file. */
export class DockerArchiveSource implements ContentSource {
  readonly origin = undefined;
  private readonly paths = new Map<string, string>();
  private readonly manifests = new Map<string, Buffer>();

  constructor(
    readonly tar: TarIndex,
    readonly description: string,
  ) {}

  /** Make the blob with `digest` available at `path` inside the archive. */
  addBlob(digest: Digest, path: string): void {
    this.paths.set(digest, path);
  }

  addManifest(digest: Digest, bytes: Buffer): void {
    this.manifests.set(digest, bytes);
  }

  /** Is the blob in the archive (registered, or stored under `blobs/<alg>/<hex>`)? */
  hasBlob(digest: string): boolean {
    return this.paths.has(digest) || this.tar.has(ociBlobPath(digest));
  }

  private pathOf(desc: Descriptor): string {
    const known = this.paths.get(desc.digest);
    if (known !== undefined) return known;
    const ociPath = ociBlobPath(desc.digest);
    if (this.tar.has(ociPath)) return ociPath;
    throw new OcipatchError("NOT_FOUND", `blob ${desc.digest} not found in ${this.description}`);
  }

  async fetchManifest(desc: Descriptor): Promise<RawManifest> {
    const bytes = this.manifests.get(desc.digest) ?? (await this.tar.read(this.pathOf(desc)));
    return { bytes, mediaType: desc.mediaType, digest: desc.digest };
  }

  async openBlob(desc: Descriptor, opts?: OpenOptions): Promise<Readable> {
    return this.tar.stream(this.pathOf(desc), opts);
  }

  readBlob(desc: Descriptor): Promise<Buffer> {
    return this.tar.read(this.pathOf(desc));
  }
}

function ociBlobPath(digest: string): string {
  return `blobs/${digest.replace(":", "/")}`;
}

function toSelector(select: ArchiveSelector | undefined): Reference | number | undefined {
  if (typeof select !== "string") return select;
  return parseReference(select);
}

function describeEntries(tags: Array<string[] | null | undefined>): string {
  return tags.map((t, i) => (t && t.length > 0 ? t.join(", ") : `@${i} (untagged)`)).join("; ");
}

function sameReference(a: Reference, tag: string): boolean {
  try {
    return formatReference(parseReference(tag)) === formatReference(a);
  } catch {
    return false;
  }
}

/**
 * Open one image of a `docker save` archive (`docker-archive:FILE[:REF]`). The tar is
 * indexed once; blobs are read as byte ranges when needed. Layers may be stored
 * uncompressed (usual), gzip or zstd. The archive holds no manifest, so a Docker
 * schema 2 manifest is synthesized from what is stored (stable digest); archives
 * written by newer docker (an OCI layout inside the tar) keep their real manifest.
 */
export async function openDockerArchive(
  file: string,
  select?: ArchiveSelector,
  opts: { description?: string } = {},
): Promise<Image> {
  const tar = await TarIndex.open(file);
  if (!tar.has(MANIFEST_FILE)) {
    const oci = tar.has("oci-layout") && tar.has("index.json");
    throw new OcipatchError(
      oci ? "UNSUPPORTED" : "INVALID_FORMAT",
      oci
        ? `${file} is an OCI archive without ${MANIFEST_FILE}, not a docker archive; unpack it and use oci:DIR`
        : `${file} is not a docker archive (no ${MANIFEST_FILE})`,
    );
  }
  const entries = parseArchiveManifest(await tar.read(MANIFEST_FILE), `${file}:${MANIFEST_FILE}`);
  const sel = toSelector(select);
  const holds = () => describeEntries(entries.map((e) => e.RepoTags));
  let index: number;
  if (typeof sel === "number") {
    if (!Number.isInteger(sel) || sel < 0 || sel >= entries.length) {
      throw new OcipatchError(
        "NOT_FOUND",
        `docker archive ${file} has no image @${sel} (it holds: ${holds()})`,
      );
    }
    index = sel;
  } else if (sel !== undefined) {
    if (sel.digest !== undefined) {
      throw new OcipatchError(
        "REFERENCE_INVALID",
        `docker archives name images by tag, not digest: ${familiarReference(sel)}`,
      );
    }
    index = entries.findIndex((e) => (e.RepoTags ?? []).some((t) => sameReference(sel, t)));
    if (index === -1) {
      throw new OcipatchError(
        "NOT_FOUND",
        `${familiarReference(sel)} not found in docker archive ${file} (it holds: ${holds() || "nothing"})`,
      );
    }
  } else {
    if (entries.length !== 1) {
      throw new OcipatchError(
        entries.length === 0 ? "NOT_FOUND" : "USAGE",
        entries.length === 0
          ? `docker archive ${file} holds no image`
          : `docker archive ${file} holds ${entries.length} images (${holds()}); name one with docker-archive:${file}:REF or :@N`,
      );
    }
    index = 0;
  }
  const entry = entries[index]!;
  const shown =
    opts.description ??
    (typeof sel === "number"
      ? `docker-archive:${file}:@${sel}`
      : sel
        ? `docker-archive:${file}:${familiarReference(sel)}`
        : `docker-archive:${file}`);
  const source = new DockerArchiveSource(tar, shown);

  const rawConfig = await tar.read(entry.Config);
  const configDigest = sha256(rawConfig);
  source.addBlob(configDigest, entry.Config);
  const config = parseConfigFile(rawConfig, `config ${entry.Config} of ${shown}`);
  if (config.rootfs.diff_ids.length !== entry.Layers.length) {
    throw new OcipatchError(
      "INVALID_FORMAT",
      `${shown}: ${MANIFEST_FILE} lists ${entry.Layers.length} layers but the config has ${config.rootfs.diff_ids.length} diff_ids`,
    );
  }
  for (const l of entry.Layers) {
    if (!tar.has(l))
      throw new OcipatchError("INVALID_FORMAT", `${shown}: layer ${l} is missing from the archive`);
  }

  const stored = await findStoredManifest(tar, source, configDigest);
  if (stored) return new SourceImage(source, stored.bytes, stored.mediaType, stored.digest);

  const layers: ArchiveLayerInfo[] = [];
  for (const [i, path] of entry.Layers.entries()) {
    const info = await describeLayer(tar, path, config.rootfs.diff_ids[i]!);
    source.addBlob(info.digest, path);
    layers.push(info);
  }
  const raw = synthesizeManifest({ digest: configDigest, size: rawConfig.length }, layers);
  const digest = sha256(raw);
  source.addManifest(digest, raw);
  return new SourceImage(source, raw, detectManifestMediaType(raw, undefined, shown), digest);
}

/** Digest, size and compression of a stored layer file. */
async function describeLayer(tar: TarIndex, path: string, diffId: Digest): Promise<ArchiveLayerInfo> {
  const size = tar.entry(path).size;
  const compression = sniffCompression(await tar.head(path, 4));
  // An uncompressed layer's blob is its tar, whose digest is the diffID: checked when it is read.
  if (compression === "none") return { digest: diffId, size, compression };
  // Named by digest (newer docker: blobs/sha256/<hex>): checked when it is read.
  const m = /(?:^|\/)blobs\/sha256\/([a-f0-9]{64})$/.exec(path);
  const named = m ? `sha256:${m[1]}` : undefined;
  if (named !== undefined && isDigest(named)) return { digest: named, size, compression };
  const hash = new DigestStream();
  await drain(tar.stream(path).pipe(hash));
  return { digest: hash.digest(), size, compression };
}

type StoredManifest = { bytes: Buffer; mediaType: string; digest: Digest };

/**
 * Newer docker (v25+) stores an OCI layout inside the archive: when `index.json`
 * leads to an image manifest whose config is this image's config, use it (the
 * image keeps its real digest).
 */
async function findStoredManifest(
  tar: TarIndex,
  source: DockerArchiveSource,
  configDigest: Digest,
): Promise<StoredManifest | undefined> {
  if (!tar.has("index.json")) return undefined;
  const seen = new Set<string>();
  const visit = async (descs: Descriptor[], depth: number): Promise<StoredManifest | undefined> => {
    if (depth > 4) return undefined;
    for (const d of descs) {
      if (seen.has(d.digest) || !tar.has(ociBlobPath(d.digest))) continue;
      seen.add(d.digest);
      try {
        const raw = await source.fetchManifest(d);
        if (digestLike(raw.bytes, d.digest) !== d.digest) continue;
        const mt = detectManifestMediaType(raw.bytes, d.mediaType, `manifest ${d.digest}`);
        if (isIndexMediaType(mt)) {
          const found = await visit(parseIndexManifest(raw.bytes).manifests, depth + 1);
          if (found) return found;
        } else if (isImageManifestMediaType(mt)) {
          const m = parseImageManifest(raw.bytes);
          if (m.config.digest === configDigest && m.layers.every((l) => source.hasBlob(l.digest))) {
            return { bytes: raw.bytes, mediaType: mt, digest: d.digest };
          }
        }
      } catch {
        // not a usable manifest: fall back to synthesizing one
      }
    }
    return undefined;
  };
  try {
    return await visit(parseIndexManifest(await tar.read("index.json")).manifests, 0);
  } catch {
    return undefined;
  }
}
