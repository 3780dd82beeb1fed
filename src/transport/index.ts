/**
 * One entry point for every medium: open an image (or index) from a location string
 * (`docker://REF` or a bare reference, `docker-daemon:REF`, `oci:DIR[:TAG]`,
 * `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:REF]`) and open a sink to write one.
 */
import type { Image, ImageOrIndex } from "../image/image.js";
import type { Platform } from "../image/manifest.js";
import { selectImage } from "../image/select.js";
import type { ImageSink } from "../image/sink.js";
import { dockerArchiveSink } from "./docker-archive/sink.js";
import { openDockerArchive } from "./docker-archive/source.js";
import { connectEngine } from "./docker-daemon/client.js";
import { dockerDaemonSink } from "./docker-daemon/sink.js";
import { engineImageName, openDockerDaemonImage } from "./docker-daemon/source.js";
import { ociArchiveSink } from "./oci-archive/sink.js";
import { openOciArchive } from "./oci-archive/source.js";
import { ociLayoutSink } from "./oci-layout/sink.js";
import { openOciLayout } from "./oci-layout/source.js";
import { type ImageLocation, isBareReference, parseImageLocation } from "./parse.js";
import type { RegistryOptions } from "./registry/options.js";
import { registrySink } from "./registry/sink.js";
import { openRegistryImage } from "./registry/source.js";

export * from "./parse.js";

/** Options for any transport; the registry ones are ignored by local media. */
export type TransportOptions = RegistryOptions;

function toLocation(where: ImageLocation | string): ImageLocation {
  return typeof where === "string" ? parseImageLocation(where) : where;
}

/**
 * Where a location string is read from. A bare reference (`nginx:1.22`, no transport)
 * is the local engine store's image when an engine answers and has it, else the
 * registry's (grype's default); `docker://` and `docker-daemon:` force one.
 */
export async function resolveLocation(
  where: ImageLocation | string,
  opts: TransportOptions = {},
): Promise<ImageLocation> {
  const loc = toLocation(where);
  if (typeof where !== "string" || !isBareReference(where) || loc.transport !== "docker") return loc;
  let client: Awaited<ReturnType<typeof connectEngine>> | undefined;
  try {
    client = await connectEngine({ env: opts.env, homeDir: opts.homeDir, signal: opts.signal });
    if (await client.hasImage(engineImageName(loc.ref), opts.signal)) {
      return { transport: "docker-daemon", ref: loc.ref };
    }
  } catch {
    // no engine, or it cannot be used: the registry
  } finally {
    await client?.close();
  }
  return loc;
}

/** Open what a location names: an image or, for registries and OCI layouts, possibly an index. */
export async function openLocation(
  where: ImageLocation | string,
  opts: TransportOptions = {},
): Promise<ImageOrIndex> {
  const loc = await resolveLocation(where, opts);
  switch (loc.transport) {
    case "docker":
      return openRegistryImage(loc.ref, opts);
    case "docker-daemon":
      return openDockerDaemonImage(loc.ref, { env: opts.env, homeDir: opts.homeDir, signal: opts.signal });
    case "oci":
      return openOciLayout(loc.dir, loc.tag);
    case "oci-archive":
      return openOciArchive(loc.file, loc.tag);
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
    case "docker-daemon":
      return dockerDaemonSink(loc.ref, { env: opts.env, homeDir: opts.homeDir, signal: opts.signal });
    case "oci":
      return ociLayoutSink(loc.dir, loc.tag);
    case "oci-archive":
      return ociArchiveSink(loc.file, loc.tag);
    case "docker-archive":
      return dockerArchiveSink(loc.file, loc.ref);
  }
}
