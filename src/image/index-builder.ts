import { type Digest, sha256 } from "../util/digest.js";
import type { BlobOrigin, ImageIndex, ImageOrIndex, IndexChild } from "./image.js";
import {
  type Descriptor,
  encodeJson,
  type IndexManifest,
  parseIndexManifest,
  parseJson,
} from "./manifest.js";

/**
 * A new index made from `base`, with some children replaced by other images or
 * indexes. Order, platforms and annotations of every entry are kept; only the
 * replaced entries' digest, size and media type change.
 */
export function replaceIndexChildren(
  base: ImageIndex,
  replacements: ReadonlyMap<Digest, ImageOrIndex>,
  extra?: { annotations?: Readonly<Record<string, string>> },
): ImageIndex {
  const doc = parseJson(base.rawManifest, "index") as Record<string, unknown>;
  const baseChildren = base.children();
  const children: IndexChild[] = [];
  const descs: Descriptor[] = baseChildren.map((c) => {
    const repl = replacements.get(c.descriptor.digest);
    if (!repl) {
      children.push(c);
      return c.descriptor;
    }
    const d: Descriptor = {
      ...c.descriptor,
      mediaType: repl.mediaType,
      digest: repl.digest,
      size: repl.rawManifest.length,
    };
    children.push({ descriptor: d, load: async () => repl });
    return d;
  });
  doc["manifests"] = descs;
  if (extra?.annotations) {
    doc["annotations"] = {
      ...((doc["annotations"] as Record<string, string> | undefined) ?? {}),
      ...extra.annotations,
    };
  }
  const raw = encodeJson(doc);
  return new MemoryIndex(
    raw,
    parseIndexManifest(raw),
    base.mediaType,
    children,
    `${base.description} (modified)`,
    base.origin,
  );
}

/** An index held in memory with its children already at hand (or loadable). */
export class MemoryIndex implements ImageIndex {
  readonly kind = "index";
  readonly digest: Digest;

  constructor(
    readonly rawManifest: Buffer,
    readonly manifest: IndexManifest,
    readonly mediaType: string,
    private readonly childList: IndexChild[],
    readonly description: string,
    readonly origin?: BlobOrigin,
  ) {
    this.digest = sha256(rawManifest);
  }

  children(): IndexChild[] {
    return this.childList;
  }
}
