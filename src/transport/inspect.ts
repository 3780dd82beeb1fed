/**
 * `inspectImage`: what a location holds — the manifest (or index) it names, the
 * platforms of an index, and for one image its layers and a summary of its config.
 * Reads manifests and the config only, never a layer.
 */

import type { Image, ImageOrIndex } from "../image/image.js";
import type { ConfigFile, Platform } from "../image/manifest.js";
import { formatPlatform, hostPlatform, platformMatches } from "../image/platform.js";
import { platformChildren, selectImage } from "../image/select.js";
import { openLocation, resolveLocation, type TransportOptions } from "./index.js";
import { formatImageLocation, type ImageLocation } from "./parse.js";
import { listReferrers } from "./registry/referrers.js";

export interface InspectOptions extends TransportOptions {
  /** For an index: which image to describe (default: this host's platform, else the first one). */
  readonly platform?: Platform | undefined;
}

export interface LayerSummary {
  readonly digest: string;
  readonly size: number;
  readonly mediaType: string;
}

export interface ReferrerEntry {
  readonly digest: string;
  readonly mediaType: string;
  readonly artifactType: string | undefined;
  readonly size: number;
  readonly annotations?: Readonly<Record<string, string>> | undefined;
}

export interface PlatformEntry {
  /** `os/arch[/variant]`, or `unknown` for entries without a platform. */
  readonly platform: string;
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
  /** e.g. BuildKit attestation manifests (`vnd.docker.reference.type`). */
  readonly annotations?: Readonly<Record<string, string>> | undefined;
}

export interface ConfigSummary {
  /** `os/arch[/variant]` */
  readonly platform: string;
  readonly created: string | null;
  readonly author: string | null;
  readonly entrypoint: readonly string[] | null;
  readonly cmd: readonly string[] | null;
  readonly workingDir: string | null;
  readonly user: string | null;
  readonly envCount: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly historyCount: number;
  readonly diffIds: readonly string[];
}

export interface ImageSummary {
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
  readonly configDigest: string;
  readonly layers: readonly LayerSummary[];
  readonly totalLayerSize: number;
  readonly config: ConfigSummary;
}

export interface ImageInspection {
  /** Canonical location (`docker://registry/repo:tag`, `oci:DIR:TAG`, ...). */
  readonly name: string;
  /** Digest of the manifest or index the location names. */
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number;
  readonly kind: "image" | "index";
  /** The entries of an index (absent for a single image). */
  readonly platforms?: readonly PlatformEntry[] | undefined;
  /** The image described: the location itself, or the chosen platform of an index. */
  readonly image: ImageSummary;
  /** Artifacts that refer to this manifest (OCI referrers API or tag schema; registries only). */
  readonly referrers?: readonly ReferrerEntry[] | undefined;
}

interface InspectedImage {
  readonly inspection: ImageInspection;
  /** The top-level manifest or index, and the image described, for `--raw`/`--config`. */
  readonly top: ImageOrIndex;
  readonly image: Image;
}

function summarizeConfig(cfg: ConfigFile): ConfigSummary {
  const c = cfg.config ?? {};
  return {
    platform: formatPlatform(cfg),
    created: cfg.created ?? null,
    author: cfg.author ?? null,
    entrypoint: c.Entrypoint ?? null,
    cmd: c.Cmd ?? null,
    workingDir: c.WorkingDir ? c.WorkingDir : null,
    user: c.User ? c.User : null,
    envCount: c.Env?.length ?? 0,
    labels: c.Labels ?? {},
    historyCount: cfg.history?.length ?? 0,
    diffIds: cfg.rootfs.diff_ids,
  };
}

async function summarizeImage(image: Image, signal?: AbortSignal): Promise<ImageSummary> {
  const cfg = await image.configFile({ signal });
  const layers = image.manifest.layers.map((l) => ({
    digest: l.digest,
    size: l.size,
    mediaType: l.mediaType,
  }));
  return {
    digest: image.digest,
    mediaType: image.mediaType,
    size: image.rawManifest.length,
    configDigest: image.manifest.config.digest,
    layers,
    totalLayerSize: layers.reduce((n, l) => n + l.size, 0),
    config: summarizeConfig(cfg),
  };
}

/** The image of an index to describe: the wanted platform, else the host's, else the first runnable one. */
async function pickImage(top: ImageOrIndex, platform: Platform | undefined, signal?: AbortSignal) {
  if (top.kind === "image" || platform) return selectImage(top, platform, { signal });
  const children = platformChildren(top);
  const host = hostPlatform();
  const child = children.find((c) => platformMatches(host, c.descriptor.platform)) ?? children[0];
  if (!child) return selectImage(top, host, { signal }); // throws PLATFORM_NOT_FOUND with the list
  const loaded = await child.load({ signal });
  return selectImage(loaded, child.descriptor.platform ?? host, { signal });
}

/** Inspect what a location names; reads manifests and one config, never a layer. */
export async function inspectImageDetails(
  where: ImageLocation | string,
  opts: InspectOptions = {},
): Promise<InspectedImage> {
  const loc = await resolveLocation(where, opts);
  const top = await openLocation(loc, opts);
  const image = await pickImage(top, opts.platform, opts.signal);
  const inspection: ImageInspection = {
    name: formatImageLocation(loc),
    digest: top.digest,
    mediaType: top.mediaType,
    size: top.rawManifest.length,
    kind: top.kind,
    ...(top.kind === "index"
      ? {
          platforms: top.manifest.manifests.map((d) => ({
            platform: d.platform ? formatPlatform(d.platform) : "unknown",
            digest: d.digest,
            mediaType: d.mediaType,
            size: d.size,
            ...(d.annotations && Object.keys(d.annotations).length > 0 ? { annotations: d.annotations } : {}),
          })),
        }
      : {}),
    image: await summarizeImage(image, opts.signal),
  };
  if (loc.transport === "docker") {
    const found = await listReferrers(loc.ref, top.digest, opts);
    if (found.referrers.length > 0) {
      return {
        inspection: {
          ...inspection,
          referrers: found.referrers.map((d) => ({
            digest: d.digest,
            mediaType: d.mediaType,
            artifactType: d.artifactType,
            size: d.size,
            ...(d.annotations && Object.keys(d.annotations).length > 0 ? { annotations: d.annotations } : {}),
          })),
        },
        top,
        image,
      };
    }
  }
  return { inspection, top, image };
}

/** Inspect what a location names (see `ImageInspection`). */
export async function inspectImage(
  where: ImageLocation | string,
  opts: InspectOptions = {},
): Promise<ImageInspection> {
  return (await inspectImageDetails(where, opts)).inspection;
}
