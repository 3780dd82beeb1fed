/**
 * `copyImage`: read an image (or a whole index) from one location and write it to
 * another, streaming every blob once. Registry→registry keeps the manifest digest;
 * within one registry blobs are mounted across repositories instead of re-uploaded.
 */
import type { ImageOrIndex } from "../image/image.js";
import type { Platform } from "../image/manifest.js";
import { formatPlatform, hostPlatform } from "../image/platform.js";
import { requirePlatform, selectImage } from "../image/select.js";
import type { TransferStats } from "../image/sink.js";
import type { ProgressListener } from "../util/progress.js";
import { openLocation, openSink, type TransportOptions } from "./index.js";
import { formatImageLocation, type ImageLocation, parseImageLocation } from "./parse.js";
import { RegistryClient } from "./registry/client.js";
import type { EndpointCache } from "./registry/options.js";

export interface CopyOptions {
  /**
   * Copy only the image for this platform out of an index. Without it the whole
   * index is copied (every platform), except into a docker archive, which holds one
   * image: there the host's platform is chosen, as skopeo and `docker save` do.
   */
  readonly platform?: Platform | undefined;
  /** Transport options of the source (credentials, insecure, ...). */
  readonly src?: TransportOptions | undefined;
  /** Transport options of the destination. */
  readonly dest?: TransportOptions | undefined;
  readonly progress?: ProgressListener | undefined;
  readonly signal?: AbortSignal | undefined;
}

export interface CopyResult {
  /** Digest of the manifest (or index) written; for a docker archive, what reading it back yields. */
  readonly digest: string;
  readonly mediaType: string;
  /** Where it was written (`registry/repo:tag@digest`, `oci:DIR:TAG`, `docker-archive:FILE`). */
  readonly location: string;
  /** Canonical source location. */
  readonly source: string;
  /** Digest of what was read from the source (differs from `digest` only for docker archives or a platform pick). */
  readonly sourceDigest: string;
  /** Platforms copied (`os/arch[/variant]`); empty when the source has no platform information. */
  readonly platforms: readonly string[];
  readonly stats: TransferStats;
}

function toLocation(where: ImageLocation | string): ImageLocation {
  return typeof where === "string" ? parseImageLocation(where) : where;
}

function platformsOf(item: ImageOrIndex): string[] {
  if (item.kind === "image") return [];
  return item.manifest.manifests.flatMap((d) => (d.platform ? [formatPlatform(d.platform)] : []));
}

/** Copy `src` to `dst` (skopeo transport syntax or parsed locations). */
export async function copyImage(
  src: ImageLocation | string,
  dst: ImageLocation | string,
  opts: CopyOptions = {},
): Promise<CopyResult> {
  // parse both ends before touching the network, so a bad destination fails fast
  const from = toLocation(src);
  const to = toLocation(dst);
  const signal = opts.signal;
  // both ends share what GET /v2/ finds (one check when they are the same registry)
  const endpoints: EndpointCache = new Map();
  const srcOpts: TransportOptions = {
    ...opts.src,
    signal: opts.src?.signal ?? signal,
    endpoints: opts.src?.endpoints ?? endpoints,
  };
  const destOpts: TransportOptions = {
    ...opts.dest,
    signal: opts.dest?.signal ?? signal,
    progress: opts.dest?.progress ?? opts.progress,
    endpoints: opts.dest?.endpoints ?? endpoints,
  };
  const sink = openSink(to, destOpts);
  // the destination registry is checked while the source is read
  if (to.transport === "docker") {
    new RegistryClient(to.ref.registry, destOpts).origin().catch(() => undefined); // the write checks again and reports
  }

  const top = await openLocation(from, srcOpts);
  let item: ImageOrIndex = top;
  if (top.kind === "image" && opts.platform) await requirePlatform(top, opts.platform, { signal });
  if (top.kind === "index") {
    if (opts.platform) {
      item = await selectImage(top, opts.platform, { signal });
    } else if (to.transport === "docker-archive") {
      const host = hostPlatform();
      opts.progress?.info?.(
        `a docker archive holds one image: copying ${formatPlatform(host)} out of the index (the platform option chooses another)`,
      );
      item = await selectImage(top, host, { signal });
    }
  }
  let platforms: string[] = [];
  if (item.kind === "index") platforms = platformsOf(item);
  else if (item !== top) platforms = [formatPlatform(await item.configFile({ signal }))];
  const result = await sink.write(item, { signal, progress: opts.progress });
  return {
    digest: result.digest,
    mediaType: result.mediaType,
    location: result.location,
    source: formatImageLocation(from),
    sourceDigest: item.digest,
    platforms,
    stats: result.stats,
  };
}
