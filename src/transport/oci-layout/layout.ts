import { join } from "node:path";
import type { Digest } from "../../util/digest.js";
import { hexOf } from "../../util/digest.js";
import { DIRECTORY_LOCK } from "../atomic-fs.js";

/** Constants and paths of the OCI image layout (image-spec image-layout.md). */
export const OCI_LAYOUT_FILE = "oci-layout";
export const OCI_LAYOUT_VERSION = "1.0.0";
export const INDEX_FILE = "index.json";
/** The lock every writer of `index.json` takes (and a run filling an empty DIR with a layout). */
export const INDEX_LOCK = DIRECTORY_LOCK;
export const REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name";

export function blobPath(dir: string, digest: Digest): string {
  const alg = digest.slice(0, digest.indexOf(":"));
  return join(dir, "blobs", alg, hexOf(digest));
}
