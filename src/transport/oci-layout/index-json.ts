import { OcipatchError } from "../../errors.js";
import type { Descriptor } from "../../image/manifest.js";
import { REF_NAME_ANNOTATION } from "./layout.js";

type Json = Record<string, unknown>;

/**
 * OCI image-spec grammar for `org.opencontainers.image.ref.name`:
 * components of alphanumerics joined by `-._:@+` or `--`, separated by `/`.
 */
const REF_NAME_RE =
  /^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*(?:\/[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*)*$/;

export function isValidRefName(name: string): boolean {
  return REF_NAME_RE.test(name);
}

export function assertValidRefName(name: string, dir: string): void {
  if (!isValidRefName(name)) {
    throw new OcipatchError("REFERENCE_INVALID", `invalid tag "${name}" for OCI layout ${dir}`);
  }
}

function refNameOf(entry: Json): string | undefined {
  const a = entry["annotations"] as Record<string, string> | undefined;
  return a?.[REF_NAME_ANNOTATION];
}

/**
 * A new `index.json` document with `desc` added under `tag`, following skopeo's
 * conventions: older entries carrying the same tag lose it (they stay listed, so
 * their blobs stay reachable); an untagged entry for the same manifest is replaced;
 * otherwise the entry is appended. Without a tag, a manifest that is already listed
 * is not listed twice. Unknown fields of the document and of entries are kept.
 */
export function addToLayoutIndex(doc: Json, desc: Descriptor, tag?: string): Json {
  const entries = Array.isArray(doc["manifests"]) ? (doc["manifests"] as Json[]) : [];
  const out: Json[] = entries.map((e) => {
    if (tag === undefined || refNameOf(e) !== tag) return e;
    const annotations = { ...(e["annotations"] as Record<string, string>) };
    delete annotations[REF_NAME_ANNOTATION];
    const copy: Json = { ...e, annotations };
    if (Object.keys(annotations).length === 0) delete copy["annotations"];
    return copy;
  });
  const entry: Json = { ...desc };
  if (tag !== undefined) {
    entry["annotations"] = { ...(desc.annotations ?? {}), [REF_NAME_ANNOTATION]: tag };
  }
  const sameUntagged = out.findIndex((e) => e["digest"] === desc.digest && refNameOf(e) === undefined);
  if (sameUntagged !== -1) {
    out[sameUntagged] = entry;
  } else if (tag !== undefined || !out.some((e) => e["digest"] === desc.digest)) {
    out.push(entry);
  }
  return { ...doc, schemaVersion: doc["schemaVersion"] ?? 2, manifests: out };
}

/** The document of a new, empty layout's `index.json`. */
export function emptyLayoutIndex(): Json {
  return { schemaVersion: 2, manifests: [] };
}
