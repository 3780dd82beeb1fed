import type { Reference } from "../reference/reference.js";
import { parseReference } from "../reference/reference.js";
import { distroQualifier, formatPurl, installedPurl } from "../sbom/purl.js";
import type { ScanOs } from "../scan/types.js";
import type { Digest } from "../util/digest.js";

/** An image that is not in a registry (OCI layout, docker archive): a name and maybe a tag. */
export interface LocalImageName {
  readonly name: string;
  readonly tag?: string | undefined;
}

/**
 * The purl of an image (purl-spec `oci` type): the last path component of the repository
 * as name, the manifest digest as version, where it lives as `repository_url`:
 * `pkg:oci/nginx@sha256:…?arch=amd64&repository_url=registry.example%2Fweb%2Fnginx&tag=1.25-patched`.
 */
export function ociPurl(
  ref: Reference | LocalImageName | string,
  digest: Digest,
  opts: { readonly arch?: string | undefined; readonly repositoryUrl?: boolean | undefined } = {},
): string {
  if (typeof ref !== "string" && !("registry" in ref)) {
    // an image in an OCI layout or a docker archive: no repository_url
    return formatPurl({
      type: "oci",
      name: ref.name.toLowerCase(),
      version: digest,
      qualifiers: { arch: opts.arch, tag: ref.tag },
    });
  }
  const r = typeof ref === "string" ? parseReference(ref) : ref;
  const name = r.repository.split("/").pop()!.toLowerCase();
  return formatPurl({
    type: "oci",
    name,
    version: digest,
    qualifiers: {
      arch: opts.arch,
      repository_url: opts.repositoryUrl === false ? undefined : `${r.registry}/${r.repository}`,
      tag: r.tag,
    },
  });
}

/** The installed package a purl names: a binary package of a Debian-family or Alpine release. */
export interface PackageRef {
  readonly name: string;
  /** undefined: a version-less purl (any version). */
  readonly version: string | undefined;
  readonly architecture: string;
  readonly sourceName: string;
  readonly sourceVersion: string | undefined;
}

const APK_DISTROS = new Set(["alpine", "wolfi", "chainguard"]);

/** `pkg:deb/debian/openssl@…?arch=amd64&distro=debian-11` (or `pkg:apk/alpine/…`). */
export function packagePurl(p: PackageRef, os: ScanOs | undefined): string {
  const id = os?.id ?? "unknown";
  const osInfo = { id, versionId: os?.versionId, codename: os?.codename };
  if (APK_DISTROS.has(id)) {
    return formatPurl({
      type: "apk",
      namespace: id,
      name: p.name,
      version: p.version,
      qualifiers: {
        arch: p.architecture || undefined,
        distro: os?.versionId ? `${id}-${os.versionId}` : undefined,
      },
    });
  }
  if (p.version === undefined) {
    return formatPurl({
      type: "deb",
      namespace: id === "unknown" ? "debian" : id,
      name: p.name,
      qualifiers: {
        arch: p.architecture || undefined,
        distro: distroQualifier(osInfo),
        upstream: p.sourceName !== p.name ? p.sourceName : undefined,
      },
    });
  }
  return installedPurl(
    { purlType: "deb", fallbackNamespace: "debian" },
    {
      name: p.name,
      version: p.version,
      architecture: p.architecture,
      sourceName: p.sourceName,
      sourceVersion: p.sourceVersion ?? p.version,
    },
    osInfo,
  );
}
