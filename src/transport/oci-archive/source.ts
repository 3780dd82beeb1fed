import { OcipatchError } from "../../errors.js";
import type { ImageOrIndex } from "../../image/image.js";
import { parseIndexManifest } from "../../image/manifest.js";
import { fromRawManifest, verifyBytes } from "../../image/source.js";
import { DockerArchiveSource } from "../docker-archive/source.js";
import { TarIndex } from "../docker-archive/tar-index.js";
import { INDEX_FILE, OCI_LAYOUT_FILE } from "../oci-layout/layout.js";
import { selectLayoutEntry } from "../oci-layout/source.js";

/**
 * Open the image (or index) of an OCI archive (`oci-archive:FILE[:TAG]`, an OCI image
 * layout in a tar, as skopeo writes it). The tar is indexed once (headers only) and
 * blobs are served as byte ranges of it, like a docker archive's.
 */
export async function openOciArchive(file: string, tag?: string): Promise<ImageOrIndex> {
  const tar = await TarIndex.open(file, "OCI archive");
  const shown = `oci-archive:${file}${tag === undefined ? "" : `:${tag}`}`;
  if (!tar.has(OCI_LAYOUT_FILE) || !tar.has(INDEX_FILE)) {
    throw new OcipatchError(
      "INVALID_FORMAT",
      `${file} is not an OCI archive (no ${OCI_LAYOUT_FILE} and ${INDEX_FILE} at its root)`,
    );
  }
  const index = parseIndexManifest(await tar.read(INDEX_FILE), `${file}:${INDEX_FILE}`);
  const desc = selectLayoutEntry(index.manifests, tag, `OCI archive ${file}`, `oci-archive:${file}:TAG`);
  const source = new DockerArchiveSource(tar, shown);
  const raw = await source.fetchManifest(desc);
  verifyBytes(raw.bytes, desc, `manifest ${desc.digest} in ${file}`);
  return fromRawManifest(source, raw);
}
