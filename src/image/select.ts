import { OcipatchError } from "../errors.js";
import type { Image, ImageIndex, ImageOrIndex, IndexChild, OpenOptions } from "./image.js";
import type { Platform } from "./manifest.js";
import { formatPlatform, hostPlatform, platformMatches } from "./platform.js";

/** Children of an index that are runnable platform images (attestation manifests such as `unknown/unknown` are skipped). */
export function platformChildren(index: ImageIndex): IndexChild[] {
  return index.children().filter((c) => {
    const p = c.descriptor.platform;
    if (c.descriptor.annotations?.["vnd.docker.reference.type"] === "attestation-manifest") return false;
    return !(p && p.os === "unknown" && p.architecture === "unknown");
  });
}

/**
 * Resolve an image or index to one single-platform image. An index picks the child
 * matching `platform` (default: this host's platform); nested indexes are followed.
 */
export async function selectImage(
  item: ImageOrIndex,
  platform?: Platform,
  opts?: OpenOptions,
): Promise<Image> {
  if (item.kind === "image") return item;
  const want = platform ?? hostPlatform();
  const children = platformChildren(item);
  const match = children.find((c) => platformMatches(want, c.descriptor.platform));
  if (!match) {
    const have = children
      .map((c) => (c.descriptor.platform ? formatPlatform(c.descriptor.platform) : "?"))
      .join(", ");
    throw new OcipatchError(
      "PLATFORM_NOT_FOUND",
      `${item.description}: no image for platform ${formatPlatform(want)} (the index has: ${have || "nothing"})`,
    );
  }
  return selectImage(await match.load(opts), want, opts);
}

/**
 * A single-platform image asked for by platform: its config must match (an amd64-only image is
 * not an arm64 one), else PLATFORM_NOT_FOUND.
 */
export async function requirePlatform(image: Image, platform: Platform, opts?: OpenOptions): Promise<void> {
  const cfg = await image.configFile(opts);
  const have: Platform = {
    os: cfg.os,
    architecture: cfg.architecture,
    ...(cfg.variant ? { variant: cfg.variant } : {}),
  };
  if (!platformMatches(platform, have)) {
    throw new OcipatchError(
      "PLATFORM_NOT_FOUND",
      `${image.description} is a single ${formatPlatform(have)} image, not ${formatPlatform(platform)}`,
    );
  }
}
