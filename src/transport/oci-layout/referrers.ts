import { isOcipatchError, OcipatchError } from "../../errors.js";
import { type Descriptor, detectManifestMediaType, parseImageManifest } from "../../image/manifest.js";
import { emptyStats } from "../../image/sink.js";
import type { Digest } from "../../util/digest.js";
import { digestLike, sha256 } from "../../util/digest.js";
import { DEFAULT_HOST_FILE_MAX_BYTES, readRegularFile } from "../../util/regular-file.js";
import { type ArtifactToAttach, artifactManifest, EMPTY_DESCRIPTOR } from "../registry/referrers.js";
import { LayoutBlobStore } from "./blob-store.js";
import { updateIndexDocument } from "./index-file.js";
import { addToLayoutIndex } from "./index-json.js";
import { blobPath } from "./layout.js";
import { readLayoutIndex } from "./source.js";

/**
 * Referrers in an OCI image layout (image-spec image-layout.md): the artifact manifest and
 * its blobs go to `blobs/`, and its descriptor (with `artifactType`, untagged) is added to
 * `index.json`, where readers find a manifest's referrers by their `subject`.
 */

async function readBlobFile(dir: string, digest: Digest): Promise<Buffer> {
  try {
    return await readRegularFile(blobPath(dir, digest), DEFAULT_HOST_FILE_MAX_BYTES, {
      what: "OCI layout blob",
    });
  } catch (e) {
    if (!isOcipatchError(e, "NOT_FOUND")) throw e;
    throw new OcipatchError("NOT_FOUND", `manifest ${digest} not found in OCI layout ${dir}`, { cause: e });
  }
}

/** The subject's descriptor: from index.json when listed there, else from its blob. */
async function subjectIn(dir: string, digest: Digest): Promise<Descriptor> {
  const index = await readLayoutIndex(dir);
  const listed = index.manifests.find((m) => m.digest === digest);
  if (listed) return { mediaType: listed.mediaType, digest, size: listed.size };
  const bytes = await readBlobFile(dir, digest);
  if (digestLike(bytes, digest) !== digest) {
    throw new OcipatchError(
      "DIGEST_MISMATCH",
      `blob ${digest} in OCI layout ${dir} does not match its digest`,
    );
  }
  const mediaType = detectManifestMediaType(bytes, undefined, `manifest ${digest} in ${dir}`);
  return { mediaType, digest, size: bytes.length };
}

/** Attach `artifact` to the manifest `subject` of the layout at `dir`. Idempotent. */
export async function attachArtifactToLayout(
  dir: string,
  subject: Digest,
  artifact: ArtifactToAttach,
): Promise<Descriptor> {
  const subj = await subjectIn(dir, subject);
  const { bytes, blob, manifest } = artifactManifest(subj, artifact);
  const store = new LayoutBlobStore(dir, emptyStats(), undefined, undefined);
  await store.putBytes(EMPTY_DESCRIPTOR, Buffer.from("{}"));
  await store.putBytes(blob, Buffer.from(artifact.blob));
  const desc: Descriptor = {
    mediaType: manifest.mediaType!,
    digest: sha256(bytes),
    size: bytes.length,
    artifactType: artifact.artifactType,
    ...(manifest.annotations ? { annotations: manifest.annotations } : {}),
  };
  await store.putBytes(desc, bytes);
  // under the lock the image sink takes: a concurrent run's tag or referrer is never lost
  await updateIndexDocument(dir, dir, (doc) => addToLayoutIndex(doc, desc));
  return desc;
}

/** The referrers of `subject` listed in the layout's index.json. */
export async function listLayoutReferrers(
  dir: string,
  subject: Digest,
  opts: { readonly artifactType?: string | undefined } = {},
): Promise<Descriptor[]> {
  const index = await readLayoutIndex(dir);
  const out: Descriptor[] = [];
  for (const m of index.manifests) {
    if (m.mediaType !== "application/vnd.oci.image.manifest.v1+json") continue;
    const bytes = await readBlobFile(dir, m.digest);
    const manifest = parseImageManifest(bytes, `manifest ${m.digest} in ${dir}`);
    if (manifest.subject?.digest !== subject) continue;
    const artifactType = m.artifactType ?? manifest.artifactType ?? manifest.config.mediaType;
    if (opts.artifactType !== undefined && artifactType !== opts.artifactType) continue;
    out.push({ ...m, artifactType });
  }
  return out;
}
