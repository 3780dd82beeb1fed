import { OcipatchError } from "../errors.js";
import { type Digest, sha256 } from "../util/digest.js";
import type { BlobOrigin, Image, Layer, OpenOptions } from "./image.js";
import {
  type ConfigFile,
  type Descriptor,
  encodeJson,
  type History,
  type ImageManifest,
  parseConfigFile,
  parseImageManifest,
  parseJson,
} from "./manifest.js";
import { MediaTypes } from "./media-types.js";
import { DOCKER_TO_OCI_LAYER, withDescriptor } from "./to-oci.js";

export interface MutateOptions {
  /** Remove this many layers from the top first (e.g. a previous patch layer). */
  readonly dropTopLayers?: number;
  /** Layers to append, bottom to top. */
  readonly append?: readonly Layer[];
  /** History entries for the appended layers (one per layer, same order). */
  readonly history?: readonly History[];
  /** Labels merged into config.config.Labels (undefined value removes). */
  readonly labels?: Readonly<Record<string, string | undefined>>;
  /** Annotations merged into the manifest's annotations (undefined value removes). */
  readonly annotations?: Readonly<Record<string, string | undefined>>;
  /** New `created` time of the config (RFC 3339). */
  readonly created?: string;
  /** Convert a Docker schema 2 image to OCI (needed for zstd layers). */
  readonly toOci?: boolean;
}

type Json = Record<string, unknown>;

function mergeRecord(
  base: unknown,
  changes: Readonly<Record<string, string | undefined>>,
): Record<string, string> | undefined {
  const out: Record<string, string> = { ...((base as Record<string, string> | null | undefined) ?? {}) };
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Drop the history entries of the top `n` non-empty layers. */
function dropHistory(history: Json[], n: number): Json[] {
  if (n === 0) return history;
  let seen = 0;
  for (let i = history.length - 1; i >= 0; i--) {
    if (history[i]?.["empty_layer"] !== true) {
      seen++;
      if (seen === n) return history.slice(0, i);
    }
  }
  return [];
}

/**
 * A new image made from `base`: its layers (minus dropped ones) reused untouched,
 * new layers appended, config and manifest rewritten. The config keeps every field
 * it had (unknown ones too).
 */
export async function mutateImage(base: Image, options: MutateOptions, opts?: OpenOptions): Promise<Image> {
  const drop = options.dropTopLayers ?? 0;
  const append = options.append ?? [];
  const baseLayers = await base.layers(opts);
  if (drop > baseLayers.length) {
    throw new OcipatchError("INTERNAL", `cannot drop ${drop} layers from an image with ${baseLayers.length}`);
  }
  if (options.history && options.history.length !== append.length) {
    throw new OcipatchError("INTERNAL", "one history entry per appended layer is required");
  }
  const keptLayers = baseLayers.slice(0, baseLayers.length - drop);
  const layers = [...keptLayers, ...append];

  // --- config
  const cfg = parseJson(await base.rawConfig(opts), "config") as Json;
  const rootfs = { ...(cfg["rootfs"] as Json) };
  rootfs["diff_ids"] = layers.map((l) => l.diffId);
  cfg["rootfs"] = rootfs;
  let history = Array.isArray(cfg["history"]) ? (cfg["history"] as Json[]) : [];
  history = dropHistory(history, drop);
  for (const h of options.history ?? []) history.push({ ...h });
  if (history.length > 0) cfg["history"] = history;
  if (options.created) cfg["created"] = options.created;
  if (options.labels) {
    const c = { ...((cfg["config"] as Json | null | undefined) ?? {}) };
    const labels = mergeRecord(c["Labels"], options.labels);
    if (labels) c["Labels"] = labels;
    else delete c["Labels"];
    cfg["config"] = c;
  }
  const rawConfig = encodeJson(cfg);
  const configFile = parseConfigFile(rawConfig);

  // --- manifest
  const toOci = options.toOci === true && base.mediaType === MediaTypes.dockerManifest;
  const man = parseJson(base.rawManifest, "manifest") as Json;
  const mediaType = toOci ? MediaTypes.ociManifest : base.mediaType;
  if (toOci || man["mediaType"] !== undefined) man["mediaType"] = mediaType;
  const configDesc: Descriptor = {
    ...(man["config"] as Descriptor),
    digest: sha256(rawConfig),
    size: rawConfig.length,
  };
  if (toOci) configDesc.mediaType = MediaTypes.ociConfig;
  man["config"] = configDesc;
  const layerDescs = layers.map((l) => {
    const d = { ...l.descriptor };
    if (toOci) d.mediaType = DOCKER_TO_OCI_LAYER[d.mediaType] ?? d.mediaType;
    return d;
  });
  man["layers"] = layerDescs;
  if (options.annotations) {
    const a = mergeRecord(man["annotations"], options.annotations);
    if (a) man["annotations"] = a;
    else delete man["annotations"];
  }
  const rawManifest = encodeJson(man);
  const manifest = parseImageManifest(rawManifest);
  const outLayers: Layer[] = toOci ? layers.map((l, i) => withDescriptor(l, layerDescs[i]!)) : layers;
  return new MutatedImage(base, rawManifest, manifest, mediaType, rawConfig, configFile, outLayers);
}

class MutatedImage implements Image {
  readonly kind = "image";
  readonly description: string;
  readonly digest: Digest;
  readonly origin: BlobOrigin | undefined;

  constructor(
    base: Image,
    readonly rawManifest: Buffer,
    readonly manifest: ImageManifest,
    readonly mediaType: string,
    private readonly config: Buffer,
    private readonly parsedConfig: ConfigFile,
    private readonly layerList: Layer[],
  ) {
    this.description = `${base.description} (modified)`;
    this.digest = sha256(rawManifest);
    this.origin = base.origin;
  }

  async rawConfig(): Promise<Buffer> {
    return this.config;
  }

  async configFile(): Promise<ConfigFile> {
    return this.parsedConfig;
  }

  async layers(): Promise<Layer[]> {
    return this.layerList;
  }
}
