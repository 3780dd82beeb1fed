import { OcipatchError } from "../errors.js";
import { familiarReference, formatReference, parseReference, type Reference } from "../reference/index.js";
import { isValidRefName } from "./oci-layout/index-json.js";

/**
 * Where an image lives, written in skopeo's transport syntax:
 * `docker://REF` (the default when no transport is given), `oci:DIR[:TAG]`,
 * `docker-archive:FILE[:REF|:@N]`, `docker-daemon:REF` (the local Docker/Podman
 * engine store) and `oci-archive:FILE[:TAG]` (an OCI layout in a tar).
 */
export type ImageLocation =
  | { readonly transport: "docker"; readonly ref: Reference }
  | { readonly transport: "oci"; readonly dir: string; readonly tag?: string }
  | {
      readonly transport: "docker-archive";
      readonly file: string;
      /** The image's name in the archive (RepoTags). */
      readonly ref?: Reference;
      /** Or its position in the archive's manifest.json (`:@N`, reading only). */
      readonly sourceIndex?: number;
    }
  | { readonly transport: "docker-daemon"; readonly ref: Reference }
  | { readonly transport: "oci-archive"; readonly file: string; readonly tag?: string };

/** Transports skopeo knows that ocipatch does not implement. */
const OTHER_SKOPEO_TRANSPORTS = new Set(["dir", "containers-storage", "ostree", "sif", "tarball"]);

const KNOWN =
  "docker://REF, docker-daemon:REF, oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF]";

function unknownTransport(name: string, input: string): OcipatchError {
  return new OcipatchError(
    "TRANSPORT_UNKNOWN",
    `unknown transport "${name}" in "${input}" (ocipatch knows ${KNOWN}; without a transport, docker:// is assumed)`,
  );
}

function malformed(input: string, why: string): OcipatchError {
  return new OcipatchError("REFERENCE_INVALID", `invalid image location "${input}": ${why}`);
}

/** Re-throw a reference error with the whole input named. */
function reference(s: string, input: string): Reference {
  try {
    return parseReference(s);
  } catch (e) {
    if (e instanceof OcipatchError && input !== s) {
      throw new OcipatchError("REFERENCE_INVALID", `${e.message} (in "${input}")`, { cause: e });
    }
    throw e;
  }
}

/**
 * `DIR[:TAG]`: the tag follows the last colon when a directory precedes it. Text after
 * the last colon holding a `/` continues the path (`oci:/tmp/a:b/c`); any other must be
 * a valid tag (the image-spec's `org.opencontainers.image.ref.name` grammar, as skopeo
 * checks it), never silently part of the directory name.
 */
function parseOci(rest: string, input: string): ImageLocation {
  if (rest === "") throw malformed(input, "missing directory after oci:");
  const colon = rest.lastIndexOf(":");
  if (colon !== -1) {
    const dir = rest.slice(0, colon);
    const tag = rest.slice(colon + 1);
    if (tag === "") throw malformed(input, "empty tag after the last ':'");
    if (dir === "") throw malformed(input, "missing directory before the tag");
    if (!tag.includes("/")) {
      if (!isValidRefName(tag)) {
        throw malformed(
          input,
          `invalid tag "${tag}" (letters, digits and separators . _ - + : @, starting and ending with a letter or digit)`,
        );
      }
      return { transport: "oci", dir, tag };
    }
  }
  return { transport: "oci", dir: rest };
}

/** `FILE[:TAG]` of an OCI archive: like `oci:`, the tag follows the last colon. */
function parseOciArchive(rest: string, input: string): ImageLocation {
  if (rest === "") throw malformed(input, "missing file after oci-archive:");
  const loc = parseOci(rest, input);
  if (loc.transport !== "oci") throw malformed(input, "not an OCI archive location");
  return loc.tag === undefined
    ? { transport: "oci-archive", file: loc.dir }
    : { transport: "oci-archive", file: loc.dir, tag: loc.tag };
}

/** `REF` of the local engine store (`docker-daemon:nginx` means `nginx:latest`). */
function parseDockerDaemon(rest: string, input: string): ImageLocation {
  if (rest === "") throw malformed(input, "missing reference after docker-daemon:");
  return { transport: "docker-daemon", ref: reference(rest, input) };
}

/** `FILE[:REF|:@N]`: like skopeo, the file name ends at the first colon. */
function parseDockerArchive(rest: string, input: string): ImageLocation {
  if (rest === "") throw malformed(input, "missing file after docker-archive:");
  const colon = rest.indexOf(":");
  if (colon === -1) return { transport: "docker-archive", file: rest };
  const file = rest.slice(0, colon);
  const what = rest.slice(colon + 1);
  if (file === "") throw malformed(input, "missing file before the reference");
  if (what === "") throw malformed(input, "empty reference after the file name");
  if (what.startsWith("@")) {
    if (!/^@\d+$/.test(what)) throw malformed(input, `invalid image index "${what}" (expected @N)`);
    return { transport: "docker-archive", file, sourceIndex: Number(what.slice(1)) };
  }
  const ref = reference(what, input);
  if (ref.digest !== undefined) {
    throw malformed(input, "a docker archive names images by tag, not by digest");
  }
  return { transport: "docker-archive", file, ref };
}

/**
 * Parse a location string. Strings without a transport are docker references
 * (`nginx:1.22`, `localhost:5000/app:v1`); `word:...` that is neither a known
 * transport nor a reference fails with TRANSPORT_UNKNOWN.
 */
export function parseImageLocation(input: string): ImageLocation {
  if (input.trim() === "") throw malformed(input, "empty");
  if (input.startsWith("docker://")) {
    const rest = input.slice("docker://".length);
    if (rest === "") throw malformed(input, "missing reference after docker://");
    return { transport: "docker", ref: reference(rest, input) };
  }
  if (input.startsWith("oci:")) return parseOci(input.slice(4), input);
  if (input.startsWith("oci-archive:")) return parseOciArchive(input.slice(12), input);
  if (input.startsWith("docker-daemon:")) return parseDockerDaemon(input.slice(14), input);
  if (input.startsWith("docker-archive:")) return parseDockerArchive(input.slice(15), input);

  const m = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(input);
  const prefix = m?.[1];
  const after = m?.[2] ?? "";
  if (prefix === "docker") throw malformed(input, 'the docker transport is written "docker://REF"');
  if (prefix !== undefined && OTHER_SKOPEO_TRANSPORTS.has(prefix)) {
    throw new OcipatchError(
      "TRANSPORT_UNKNOWN",
      `transport "${prefix}" is not supported by ocipatch (it knows ${KNOWN})`,
    );
  }
  if (prefix !== undefined && after.startsWith("//")) throw unknownTransport(prefix, input);
  try {
    return { transport: "docker", ref: parseReference(input) };
  } catch (e) {
    // `word:some/path` names a transport; `host:port/...` and `name:tag` are references gone wrong
    if (prefix !== undefined && after.includes("/") && !/^\d+(\/|$)/.test(after)) {
      throw unknownTransport(prefix, input);
    }
    throw e;
  }
}

/**
 * The canonical string of a location; it parses back to the same location (except
 * an untagged OCI directory whose last `:` is followed by text without a `/`: that text is a tag).
 */
export function formatImageLocation(loc: ImageLocation): string {
  switch (loc.transport) {
    case "docker":
      return `docker://${formatReference(loc.ref)}`;
    case "oci":
      return `oci:${loc.dir}${loc.tag === undefined ? "" : `:${loc.tag}`}`;
    case "docker-archive":
      if (loc.sourceIndex !== undefined) return `docker-archive:${loc.file}:@${loc.sourceIndex}`;
      return `docker-archive:${loc.file}${loc.ref ? `:${familiarReference(loc.ref)}` : ""}`;
    case "docker-daemon":
      return `docker-daemon:${familiarReference(loc.ref)}`;
    case "oci-archive":
      return `oci-archive:${loc.file}${loc.tag === undefined ? "" : `:${loc.tag}`}`;
  }
}

/**
 * Does `input` name an image without a transport (`nginx:1.22`)? Such a reference is
 * resolved like grype does: the local engine store when it has the image, else the registry.
 */
export function isBareReference(input: string): boolean {
  if (input.startsWith("docker://")) return false;
  try {
    return parseImageLocation(input).transport === "docker";
  } catch {
    return false;
  }
}
