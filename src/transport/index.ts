/**
 * One entry point for every medium: open an image (or index) from a location string
 * (`docker://REF` or a bare reference, `oci:DIR[:TAG]`, `docker-archive:FILE[:REF]`)
 * and open a sink to write one.
 */
import type { Image, ImageOrIndex } from "../image/image.js";
import type { Platform } from "../image/manifest.js";
import { selectImage } from "../image/select.js";
import type { ImageSink } from "../image/sink.js";
import { dockerArchiveSink } from "./docker-archive/sink.js";
import { openDockerArchive } from "./docker-archive/source.js";
import { ociLayoutSink } from "./oci-layout/sink.js";
import { openOciLayout } from "./oci-layout/source.js";
import { type ImageLocation, parseImageLocation } from "./parse.js";
import type { RegistryOptions } from "./registry/options.js";
import { registrySink } from "./registry/sink.js";
import { openRegistryImage } from "./registry/source.js";

export * from "./parse.js";

/** Options for any transport; the registry ones are ignored by local media. */
export type TransportOptions = RegistryOptions;

function toLocation(where: ImageLocation | string): ImageLocation {
  return typeof where === "string" ? parseImageLocation(where) : where;
}

/** Open what a location names: an image or, for registries and OCI layouts, possibly an index. */
export async function openLocation(
  where: ImageLocation | string,
  opts: TransportOptions = {},
): Promise<ImageOrIndex> {
  const loc = toLocation(where);
  switch (loc.transport) {
    case "docker":
      return openRegistryImage(loc.ref, opts);
    case "oci":
      return openOciLayout(loc.dir, loc.tag);
    case "docker-archive":
      return openDockerArchive(loc.file, loc.ref ?? loc.sourceIndex);
  }
}

/** Open a location and pick one image from it (the host's platform unless given). */
export async function openImage(
  where: ImageLocation | string,
  opts: TransportOptions & { platform?: Platform | undefined } = {},
): Promise<Image> {
  const item = await openLocation(where, opts);
  return selectImage(item, opts.platform, { signal: opts.signal });
}

/** A sink that writes to a location. */
export function openSink(where: ImageLocation | string, opts: TransportOptions = {}): ImageSink {
  const loc = toLocation(where);
  switch (loc.transport) {
    case "docker":
      return registrySink(loc.ref, opts);
    case "oci":
      return ociLayoutSink(loc.dir, loc.tag);
    case "docker-archive":
      return dockerArchiveSink(loc.file, loc.ref);
  }
}
