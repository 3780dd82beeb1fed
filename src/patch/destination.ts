import { OcipatchError } from "../errors.js";
import {
  familiarReference,
  formatReference,
  isValidTag,
  parseReference,
  type Reference,
  withTag,
} from "../reference/index.js";
import { formatImageLocation, type ImageLocation, parseImageLocation } from "../transport/parse.js";

/** The seed's default: same repository, tag `<tag>-patched`. */
const PATCHED_SUFFIX = "-patched";

/** kubescape patch's `--output-mode`. */
export const OUTPUT_MODES = ["docker", "image", "oci", "local"] as const;
export type OutputMode = (typeof OUTPUT_MODES)[number];

/**
 * Where `patch` puts its result:
 * - `image`: an image location (`docker://REF`, `docker-daemon:REF`, `oci:…`, archives); `how` says
 *   which of kubescape's log lines fits ("Pushed", "Loaded locally", "Exported to");
 * - `rootfs`: the patched root filesystem extracted into a directory (`--output-mode local`).
 */
export type PatchDestination =
  | { readonly kind: "image"; readonly location: string; readonly how: "pushed" | "loaded" | "exported" }
  | { readonly kind: "rootfs"; readonly dir: string; readonly location: string };

export interface DestinationFlags {
  readonly tag?: string | undefined;
  /** `--dest LOCATION` (any transport): overrides the mode. */
  readonly dest?: string | undefined;
  readonly push?: boolean | undefined;
  readonly outputMode?: OutputMode | undefined;
  readonly outputPath?: string | undefined;
}

function patchedTag(tag: string | undefined): string {
  const t = `${tag ?? "latest"}${PATCHED_SUFFIX}`;
  // tags are at most 128 characters
  return t.length <= 128 ? t : `${t.slice(0, 128 - PATCHED_SUFFIX.length)}${PATCHED_SUFFIX}`;
}

function untagged(ref: Reference): Reference {
  return { registry: ref.registry, repository: ref.repository, tag: undefined, digest: undefined };
}

/** `-t TAG` in the source's repository, `-t REF` a full reference, else `<tag>-patched`. */
function patchedReference(src: Reference | undefined, tag: string | undefined, source: string): Reference {
  if (tag !== undefined && !isValidTag(tag)) {
    const full = parseReference(tag);
    if (full.digest !== undefined) {
      throw new OcipatchError("USAGE", `tag ${tag}: the destination cannot be a digest`, {
        details: { option: "tag" },
      });
    }
    return full;
  }
  if (src === undefined) {
    throw new OcipatchError(
      "USAGE",
      `${source} has no image name: give a tag NAME:TAG for the patched image, or a destination`,
      { details: { option: ["tag", "dest"] } },
    );
  }
  return withTag(untagged(src), tag ?? patchedTag(src.tag));
}

function sourceReference(src: ImageLocation): Reference | undefined {
  return src.transport === "docker" || src.transport === "docker-daemon" ? src.ref : undefined;
}

/**
 * Where the patched image goes, as kubescape patch decides it now:
 * - `--dest LOCATION` (any transport) wins;
 * - `--push` (only with mode docker or image): back where it came from — the source's
 *   registry (`-t` as a tag or full reference), or an OCI layout source's layout;
 * - `--output-mode docker|image` (the default): loaded into the local engine store;
 * - `--output-mode oci`: an OCI archive at `--output-path`;
 * - `--output-mode local`: the patched root filesystem extracted to `--output-path`.
 */
export function patchDestination(source: string, flags: DestinationFlags): PatchDestination {
  const mode = flags.outputMode ?? "docker";
  const tag = flags.tag;
  if (tag !== undefined && tag.trim() === "")
    throw new OcipatchError("USAGE", "the tag is empty", { details: { option: "tag" } });
  if (flags.dest !== undefined) {
    if (tag !== undefined)
      throw new OcipatchError("USAGE", "give either a tag or a destination, not both", {
        details: { option: ["tag", "dest"] },
      });
    if (flags.push)
      throw new OcipatchError("USAGE", "give either push or a destination, not both", {
        details: { option: ["push", "dest"] },
      });
    const loc = parseImageLocation(flags.dest);
    return {
      kind: "image",
      location: loc.transport === "docker" ? formatReference(loc.ref) : formatImageLocation(loc),
      how: loc.transport === "docker" ? "pushed" : loc.transport === "docker-daemon" ? "loaded" : "exported",
    };
  }
  if (flags.push && mode !== "docker" && mode !== "image") {
    throw new OcipatchError("USAGE", `push cannot be combined with output mode ${mode}`, {
      details: { option: ["push", "outputMode"] },
    });
  }
  if ((mode === "oci" || mode === "local") && (flags.outputPath === undefined || flags.outputPath === "")) {
    throw new OcipatchError("USAGE", `output mode ${mode} needs an output path`, {
      details: { option: ["outputMode", "outputPath"] },
    });
  }
  const src = parseImageLocation(source);
  if (flags.push) {
    switch (src.transport) {
      case "docker":
      case "docker-daemon":
        return {
          kind: "image",
          location: formatReference(patchedReference(src.ref, tag, source)),
          how: "pushed",
        };
      case "oci":
        if (tag !== undefined && !isValidTag(tag)) {
          throw new OcipatchError(
            "USAGE",
            `tag ${tag}: an OCI layout destination takes a tag, not a reference`,
            { details: { option: "tag" } },
          );
        }
        return {
          kind: "image",
          location: formatImageLocation({ transport: "oci", dir: src.dir, tag: tag ?? patchedTag(src.tag) }),
          how: "exported",
        };
      default:
        throw new OcipatchError(
          "USAGE",
          `push: ${source} is a file, not a registry; give a destination, or output mode oci with an output path`,
          { details: { option: ["push", "dest", "outputMode", "outputPath"] } },
        );
    }
  }
  const ref = (): Reference => patchedReference(sourceReference(src), tag, source);
  switch (mode) {
    case "docker":
    case "image":
      return { kind: "image", location: `docker-daemon:${familiarReference(ref())}`, how: "loaded" };
    case "oci": {
      const t = tag !== undefined && isValidTag(tag) ? tag : sourceReference(src) ? ref().tag : undefined;
      return {
        kind: "image",
        location: formatImageLocation({
          transport: "oci-archive",
          file: flags.outputPath!,
          ...(t !== undefined ? { tag: t } : {}),
        }),
        how: "exported",
      };
    }
    case "local":
      return { kind: "rootfs", dir: flags.outputPath!, location: flags.outputPath! };
  }
}

/** The reference a location names, for messages (`nginx:1.22-patched`), else the location itself. */
export function shownDestination(location: string): string {
  const loc = parseImageLocation(location);
  if (loc.transport === "docker") return formatReference(loc.ref);
  if (loc.transport === "docker-daemon") return familiarReference(loc.ref);
  if (loc.transport === "oci-archive") return loc.file;
  return location;
}
