import { BACKENDS, backendById } from "../backends/registry.js";
import type { PackageBackend } from "../backends/types.js";
import type { Reference } from "../reference/reference.js";
import { parseReference } from "../reference/reference.js";
import { distroQualifier, formatPurl, installedPurl } from "../sbom/purl.js";
import type { ScanOs } from "../scan/types.js";
import type { Digest } from "../util/digest.js";
import { schemeOf } from "../vulndb/namespace.js";

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

/** The installed package a purl names: a binary package of an image's distribution. */
export interface PackageRef {
  readonly name: string;
  /** undefined: a version-less purl (any version). */
  readonly version: string | undefined;
  readonly architecture: string;
  readonly sourceName: string;
  readonly sourceVersion: string | undefined;
}

/**
 * The backend whose purls name a scan's packages: the one ordering the scan's namespace, else
 * the one whose namespace families include the OS id; Debian's when neither tells.
 */
function purlBackend(os: ScanOs | undefined, namespace: string | undefined): PackageBackend {
  const byNamespace = namespace === undefined ? undefined : schemeOf(namespace);
  const id = byNamespace ?? BACKENDS.find((b) => os !== undefined && b.namespaces.includes(os.id))?.id;
  return backendById(id ?? "dpkg") as PackageBackend;
}

/**
 * The purl of a package as the SBOM names it (`pkg:deb/debian/openssl@…?arch=amd64&distro=debian-11`,
 * `pkg:apk/alpine/…`, `pkg:rpm/almalinux/…?epoch=1`); version-less when the version is unknown.
 */
export function packagePurl(p: PackageRef, os: ScanOs | undefined, namespace?: string): string {
  const backend = purlBackend(os, namespace);
  const id = os?.id ?? "unknown";
  const osInfo = { id, versionId: os?.versionId, codename: os?.codename };
  if (p.version === undefined) {
    return formatPurl({
      type: backend.purlType,
      namespace: id === "unknown" ? backend.fallbackNamespace : id,
      name: p.name,
      qualifiers: {
        arch: p.architecture || undefined,
        distro: distroQualifier(osInfo),
        upstream: p.sourceName !== p.name ? p.sourceName : undefined,
      },
    });
  }
  return installedPurl(
    backend,
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
