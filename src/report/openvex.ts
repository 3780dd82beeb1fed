import { createHash } from "node:crypto";
import { parseReference, type Reference } from "../reference/reference.js";
import type { ScanResult } from "../scan/types.js";
import { type Digest, hexOf } from "../util/digest.js";
import { VERSION } from "../version.js";
import { fixedVulnerabilities } from "./fixed.js";
import {
  OPENVEX_CONTEXT,
  type OpenVexDocument,
  parseOpenVex,
  type VexProduct,
  type VexStatement,
} from "./openvex-schema.js";
import { type LocalImageName, ociPurl, packagePurl } from "./purl.js";

/** Media type of an OpenVEX document (used as the referrer's artifact type). */
export const OPENVEX_MEDIA_TYPE = "application/openvex+json";
export const DEFAULT_VEX_AUTHOR = "ocipatch";

/** A package as it is in the patched image. */
export interface UpgradedPackage {
  readonly package: string;
  readonly architecture: string;
  readonly toVersion: string;
  readonly sourceName?: string | undefined;
  readonly sourceVersion?: string | undefined;
}

export interface OpenVexInput {
  /** Scan of the image before patching, and of the patched image. */
  readonly before: ScanResult;
  readonly after: ScanResult;
  /** The patched image (its repository, and tag if any; or its local name for a layout or archive). */
  readonly imageRef: Reference | LocalImageName | string;
  /** Manifest (or index) digest of the patched image. */
  readonly patchedDigest: Digest;
  /** The patched image's architecture (omit for an index covering several). */
  readonly arch?: string | undefined;
  /** The versions the patch installed: subcomponents name them (else version-less purls). */
  readonly upgraded?: readonly UpgradedPackage[] | undefined;
  /** Default `ocipatch`. */
  readonly author?: string | undefined;
  /** Default now. */
  readonly timestamp?: Date | string | undefined;
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * An OpenVEX v0.2.0 document stating, for each vulnerability the patch fixed (fixable
 * before, reported for no package after), status `fixed` for the patched image with the
 * upgraded packages' purls as subcomponents. undefined when the patch fixed nothing
 * (OpenVEX needs a statement).
 *
 * The image is named in the forms scanners match (a VEX purl matches a scanned image's
 * purl when all ITS qualifiers are on the image's): `pkg:oci/<name>@<digest>?repository_url=<registry>/<repository>`
 * (trivy's form) with the bare digest as its `sha-256` hash (grype matches that), and
 * `pkg:oci/<name>@<digest>` without qualifiers (matches any repository_url convention,
 * grype's included). No `tag`/`arch` qualifiers: scanners' image purls lack them.
 * Deterministic: statements sorted by id, subcomponents by purl; `@id` is a hash of
 * the content.
 */
export function buildOpenVex(input: OpenVexInput): OpenVexDocument | undefined {
  const fixed = fixedVulnerabilities(input.before, input.after);
  if (fixed.length === 0) return undefined;
  const ref = typeof input.imageRef === "string" ? parseReference(input.imageRef) : input.imageRef;
  const products = imageProducts(ref, input.patchedDigest);
  const upgraded = new Map<string, UpgradedPackage>();
  for (const u of input.upgraded ?? []) {
    upgraded.set(`${u.package}\u0000${u.architecture}`, u);
    if (!upgraded.has(u.package)) upgraded.set(u.package, u);
  }
  const os = input.before.os;
  const statements: VexStatement[] = fixed.map((v) => {
    const subcomponents = new Map<string, string>();
    const notes = new Set<string>();
    for (const f of v.findings) {
      // findings from reports may lack the architecture: match by name then
      const u = upgraded.get(`${f.package}\u0000${f.architecture}`) ?? upgraded.get(f.package);
      const purl = packagePurl(
        {
          name: f.package,
          version: u?.toVersion,
          architecture: f.architecture || (u?.architecture ?? ""),
          sourceName: u?.sourceName ?? f.sourceName,
          sourceVersion: u?.sourceVersion,
        },
        os,
        input.before.namespace,
      );
      subcomponents.set(purl, purl);
      notes.add(
        u ? `${f.package} ${f.installedVersion} -> ${u.toVersion}` : `${f.package} ${f.installedVersion}`,
      );
    }
    const subs = [...subcomponents.keys()].sort(cmp).map((p) => ({ "@id": p, identifiers: { purl: p } }));
    return {
      vulnerability: { name: v.id, ...(v.aliases.length > 0 ? { aliases: [...v.aliases] } : {}) },
      products: products.map((p): VexProduct => ({ ...p, subcomponents: subs })),
      status: "fixed",
      status_notes: `upgraded by ocipatch: ${[...notes].sort(cmp).join(", ")}`,
    };
  });
  const timestamp =
    input.timestamp === undefined
      ? new Date().toISOString()
      : typeof input.timestamp === "string"
        ? input.timestamp
        : input.timestamp.toISOString();
  const body = {
    author: input.author ?? DEFAULT_VEX_AUTHOR,
    timestamp,
    version: 1,
    tooling: `ocipatch ${VERSION}`,
    statements,
  };
  const id = createHash("sha256").update(JSON.stringify(body)).digest("hex");
  return parseOpenVex(
    { "@context": OPENVEX_CONTEXT, "@id": `https://openvex.dev/docs/public/vex-${id}`, ...body },
    "the generated VEX document",
  );
}

/** The product entries naming the patched image (see buildOpenVex). */
function imageProducts(ref: Reference | LocalImageName, digest: Digest): VexProduct[] {
  const hashes = { "sha-256": hexOf(digest) };
  if (!("registry" in ref)) {
    // an OCI layout or archive: no repository to name, the digest identifies it
    const purl = ociPurl({ name: ref.name }, digest);
    return [{ "@id": purl, identifiers: { purl }, hashes }];
  }
  const withRepo = ociPurl({ ...ref, tag: undefined }, digest);
  const bare = ociPurl({ ...ref, tag: undefined }, digest, { repositoryUrl: false });
  return [
    { "@id": withRepo, identifiers: { purl: withRepo }, hashes },
    { "@id": bare, identifiers: { purl: bare } },
  ];
}

/** The document as written to disk / attached: 2-space JSON with a final newline. */
export function formatOpenVex(doc: OpenVexDocument): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}
