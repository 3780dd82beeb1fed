import { OcipatchError } from "../errors.js";
import type { Image } from "../image/image.js";
import { MAX_LAYERS } from "../image/manifest.js";
import type { ImageLocation } from "../transport/parse.js";
import type { Digest } from "../util/digest.js";
import { VERSION } from "../version.js";

/** Config labels ocipatch writes on a patched image. */
export const PATCH_LABELS = {
  /** Manifest digest of the image before ocipatch's first patch. */
  baseDigest: "io.ocipatch.base.digest",
  /** diffID of the ocipatch layer (the top layer); a re-patch replaces that layer. */
  layer: "io.ocipatch.layer.diffid",
  /** ocipatch version that wrote the layer. */
  version: "io.ocipatch.version",
} as const;

/** A top layer ocipatch wrote earlier: the new patch layer replaces it. */
export interface PreviousPatch {
  /** The unpatched original's manifest digest, as the previous patch recorded it. */
  readonly baseDigest: Digest | undefined;
}

/** Is the top layer of this image one ocipatch wrote? */
export async function previousPatchLayer(image: Image): Promise<PreviousPatch | undefined> {
  const config = await image.configFile();
  const labels = (config.config?.["Labels"] ?? {}) as Record<string, string>;
  const diffIds = config.rootfs.diff_ids;
  const top = diffIds[diffIds.length - 1];
  if (top === undefined || labels[PATCH_LABELS.layer] !== top || diffIds.length < 2) return undefined;
  const base = labels[PATCH_LABELS.baseDigest];
  return { baseDigest: base?.startsWith("sha256:") ? (base as Digest) : undefined };
}

/** An image at the layer limit cannot take one more layer (a previous ocipatch layer is replaced, not added to). */
export async function refuseAtLayerLimit(image: Image): Promise<void> {
  const count = (await image.configFile()).rootfs.diff_ids.length;
  if (count < MAX_LAYERS || (await previousPatchLayer(image))) return;
  throw new OcipatchError(
    "UNSUPPORTED",
    `${image.description} has ${count} layers: the patch layer would make ${count + 1}, more than the ${MAX_LAYERS} ocipatch reads (registries commonly allow 127); squash the image first`,
    { details: { layers: count, maxLayers: MAX_LAYERS } },
  );
}

/** The labels of a patched image: its original, the patch layer, the ocipatch version. */
export function patchLabels(baseDigest: Digest, layerDiffId: Digest): Record<string, string> {
  return {
    [PATCH_LABELS.baseDigest]: baseDigest,
    [PATCH_LABELS.layer]: layerDiffId,
    [PATCH_LABELS.version]: VERSION,
  };
}

/**
 * The OCI base-image annotations of a patched image: the original's digest, and for a first
 * patch of an image named by reference (registry or engine) that reference, as the user wrote it.
 * A re-patch keeps the name the previous patch recorded.
 */
export function baseAnnotations(
  source: { readonly input: string; readonly location: ImageLocation },
  baseDigest: Digest,
  repatch: boolean,
): Record<string, string> {
  const out: Record<string, string> = { "org.opencontainers.image.base.digest": baseDigest };
  if (repatch) return out;
  const { input, location } = source;
  if (location.transport === "docker" && input.includes(":")) {
    out["org.opencontainers.image.base.name"] = input.replace(/^docker:\/\//, "");
  } else if (location.transport === "docker-daemon") {
    out["org.opencontainers.image.base.name"] = input.slice("docker-daemon:".length);
  }
  return out;
}
