import { OcipatchError } from "../errors.js";
import { formatReference, isValidTag, parseReference, type Reference, withTag } from "../reference/index.js";
import { formatImageLocation, type ImageLocation, parseImageLocation } from "../transport/parse.js";

/** The seed's default: same repository, tag `<tag>-patched`. */
export const PATCHED_SUFFIX = "-patched";

function patchedTag(tag: string | undefined): string {
  const t = `${tag ?? "latest"}${PATCHED_SUFFIX}`;
  // tags are at most 128 characters
  return t.length <= 128 ? t : `${t.slice(0, 128 - PATCHED_SUFFIX.length)}${PATCHED_SUFFIX}`;
}

function untagged(ref: Reference): Reference {
  return { registry: ref.registry, repository: ref.repository, tag: undefined, digest: undefined };
}

/**
 * Where `patch` writes its result:
 * - `--dest LOCATION` (any transport) wins;
 * - `-t TAG` is a tag in the source's repository (or layout), `-t REF` a full reference;
 * - otherwise the source's repository (or OCI layout) with tag `<tag>-patched`.
 */
export function patchDestination(
  source: string,
  opts: { tag?: string | undefined; dest?: string | undefined },
): string {
  if (opts.dest !== undefined) {
    if (opts.tag !== undefined) throw new OcipatchError("USAGE", "give either --tag or --dest, not both");
    return formatImageLocation(parseImageLocation(opts.dest));
  }
  const src: ImageLocation = parseImageLocation(source);
  const tag = opts.tag;
  if (tag !== undefined && tag.trim() === "") throw new OcipatchError("USAGE", "--tag is empty");
  switch (src.transport) {
    case "docker": {
      if (tag === undefined) return formatReference(withTag(untagged(src.ref), patchedTag(src.ref.tag)));
      if (isValidTag(tag)) return formatReference(withTag(untagged(src.ref), tag));
      const full = parseReference(tag);
      if (full.digest !== undefined) {
        throw new OcipatchError("USAGE", `--tag ${tag}: the destination cannot be a digest`);
      }
      return formatReference(full);
    }
    case "oci": {
      if (tag !== undefined && !isValidTag(tag)) {
        throw new OcipatchError(
          "USAGE",
          `--tag ${tag}: an OCI layout destination takes a tag, not a reference`,
        );
      }
      return formatImageLocation({ transport: "oci", dir: src.dir, tag: tag ?? patchedTag(src.tag) });
    }
    case "docker-archive":
      throw new OcipatchError(
        "USAGE",
        "a docker archive is not rewritten in place: give --dest docker-archive:FILE[:REF] or oci:DIR[:TAG]",
      );
  }
}
