import { OcipatchError } from "../errors.js";
import { withCachedLayers } from "../image/cached-layer.js";
import type { Image, ImageOrIndex } from "../image/image.js";
import type { Platform } from "../image/manifest.js";
import { formatPlatform, platformMatches } from "../image/platform.js";
import { platformChildren } from "../image/select.js";
import type { Digest } from "../util/digest.js";

/** One image of the source to patch. */
export interface PlatformJob {
  /** Its digest in the source index; undefined for a single image. */
  readonly childDigest: Digest | undefined;
  /** The image, its layers cached locally while they are read. */
  readonly image: Image;
}

/**
 * The images to patch: the single image (which must match `wanted` when given), or the index's
 * children for the wanted platforms (all when none is given). Every wanted platform must exist.
 */
export async function selectPlatforms(
  source: ImageOrIndex,
  wanted: readonly Platform[] | undefined,
  layerCache: string,
  signal: AbortSignal | undefined,
): Promise<PlatformJob[]> {
  if (source.kind === "image") {
    if (wanted !== undefined) {
      const cfg = await source.configFile({ signal });
      const have = { os: cfg.os, architecture: cfg.architecture, variant: cfg.variant };
      if (!wanted.some((w) => platformMatches(w, have))) {
        throw new OcipatchError(
          "PLATFORM_NOT_FOUND",
          `${source.description} is a single ${formatPlatform(have)} image, not ${wanted.map(formatPlatform).join(", ")}`,
        );
      }
    }
    return [{ childDigest: undefined, image: withCachedLayers(source, layerCache) }];
  }
  const all = platformChildren(source);
  for (const w of wanted ?? []) {
    if (!all.some((c) => platformMatches(w, c.descriptor.platform))) {
      const have = all.map((c) => (c.descriptor.platform ? formatPlatform(c.descriptor.platform) : "?"));
      throw new OcipatchError(
        "PLATFORM_NOT_FOUND",
        `${source.description}: no image for platform ${formatPlatform(w)} (the index has: ${have.join(", ") || "nothing"})`,
      );
    }
  }
  const jobs: PlatformJob[] = [];
  for (const c of all) {
    if (wanted !== undefined && !wanted.some((w) => platformMatches(w, c.descriptor.platform))) continue;
    const item = await c.load({ signal });
    if (item.kind !== "image") {
      throw new OcipatchError("UNSUPPORTED", `${source.description}: nested indexes are not supported`);
    }
    jobs.push({ childDigest: c.descriptor.digest, image: withCachedLayers(item, layerCache) });
  }
  return jobs;
}
