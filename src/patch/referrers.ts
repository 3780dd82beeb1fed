/**
 * What a patch attaches to the patched image as OCI referrers, in the shapes scanners
 * discover on their own:
 *
 * - the OpenVEX document wrapped in an in-toto statement (a bare statement, unsigned),
 *   artifactType `application/vnd.in-toto+json`, annotated
 *   `in-toto.io/predicate-type: https://openvex.dev/ns/v0.2.0` on the manifest (so on its
 *   referrers-index entry) and on its single layer: what `trivy image --vex oci` reads;
 * - a CycloneDX SBOM of each patched image manifest (`application/vnd.cyclonedx+json`,
 *   single layer): what `trivy --sbom-sources oci` scans instead of the image, so it must
 *   describe the PATCHED packages.
 *
 * To a registry (its referrers API, else the `sha256-<hex>` tag schema) or an OCI layout
 * (`index.json`); other destinations (archives) have no place for referrers.
 */
import { OcipatchError } from "../errors.js";
import { parseReference, type Reference, withDigest } from "../reference/index.js";
import type { OpenVexDocument } from "../report/index.js";
import { buildSbom, toCycloneDxJson } from "../sbom/index.js";
import { attachArtifactToLayout } from "../transport/oci-layout/referrers.js";
import { parseImageLocation } from "../transport/parse.js";
import type { RegistryOptions } from "../transport/registry/options.js";
import { type ArtifactToAttach, attachArtifact } from "../transport/registry/referrers.js";
import { type Digest, hexOf } from "../util/digest.js";
import type { PatchResult } from "./patch-image.js";
import { displayLocation } from "./summary.js";
import { dockerRef, vexFor } from "./write-reports.js";

const IN_TOTO_MEDIA_TYPE = "application/vnd.in-toto+json";
const IN_TOTO_STATEMENT_TYPE = "https://in-toto.io/Statement/v1";
const PREDICATE_TYPE_ANNOTATION = "in-toto.io/predicate-type";
const OPENVEX_PREDICATE_TYPE = "https://openvex.dev/ns/v0.2.0";
const CYCLONEDX_MEDIA_TYPE = "application/vnd.cyclonedx+json";

interface InTotoStatement {
  readonly _type: typeof IN_TOTO_STATEMENT_TYPE;
  readonly subject: ReadonlyArray<{ readonly name: string; readonly digest: { readonly sha256: string } }>;
  readonly predicateType: string;
  readonly predicate: unknown;
}

/** The in-toto statement carrying `doc` about the image `name@digest`. */
function vexStatement(doc: OpenVexDocument, name: string, digest: Digest): InTotoStatement {
  return {
    _type: IN_TOTO_STATEMENT_TYPE,
    subject: [{ name, digest: { sha256: hexOf(digest) } }],
    predicateType: OPENVEX_PREDICATE_TYPE,
    predicate: doc,
  };
}

interface AttachedReferrer {
  readonly kind: "vex" | "sbom";
  /** The manifest the referrer is about. */
  readonly subject: Digest;
  /** The referrer's manifest digest. */
  readonly digest: string;
  readonly artifactType: string;
}

interface Planned {
  readonly kind: AttachedReferrer["kind"];
  readonly subject: Digest;
  readonly artifact: ArtifactToAttach;
}

/** One OpenVEX document for the written manifest (for an index: every platform's statements). */
function combinedVex(result: PatchResult): OpenVexDocument | undefined {
  const many = result.platforms.length > 1;
  const docs = result.platforms.map((p) => vexFor(result, p, many)).filter((d) => d !== undefined);
  if (docs.length <= 1) return docs[0];
  return { ...docs[0]!, statements: docs.flatMap((d) => d.statements) };
}

/** The referrers a patch result calls for (none when nothing was written). */
export function plannedReferrers(result: PatchResult, now: Date = new Date()): Planned[] {
  const top = result.written?.digest as Digest | undefined;
  if (result.status !== "patched" || !top || result.destination === undefined) return [];
  const created = { "org.opencontainers.image.created": now.toISOString() };
  const out: Planned[] = [];
  const vex = combinedVex(result);
  const ref = dockerRef(result.destination) ?? dockerRef(result.source);
  if (vex) {
    const name = ref ? `${ref.registry}/${ref.repository}` : displayLocation(result.destination);
    const annotation = { [PREDICATE_TYPE_ANNOTATION]: OPENVEX_PREDICATE_TYPE };
    out.push({
      kind: "vex",
      subject: top,
      artifact: {
        artifactType: IN_TOTO_MEDIA_TYPE,
        mediaType: IN_TOTO_MEDIA_TYPE,
        blob: Buffer.from(`${JSON.stringify(vexStatement(vex, name, top), null, 2)}\n`),
        annotations: { ...annotation, ...created },
        blobAnnotations: { ...annotation, "org.opencontainers.image.title": "vex.intoto.json" },
      },
    });
  }
  for (const p of result.platforms) {
    if (!p.afterInventory || !p.patchedDigest) continue;
    const doc = buildSbom(
      { name: displayLocation(result.destination), digest: p.patchedDigest, platform: p.platform },
      p.afterInventory,
    );
    out.push({
      kind: "sbom",
      subject: p.patchedDigest,
      artifact: {
        artifactType: CYCLONEDX_MEDIA_TYPE,
        mediaType: CYCLONEDX_MEDIA_TYPE,
        blob: Buffer.from(toCycloneDxJson(doc, { timestamp: now })),
        annotations: created,
        blobAnnotations: { "org.opencontainers.image.title": "sbom.cdx.json" },
      },
    });
  }
  return out;
}

function untagged(ref: Reference): Reference {
  return parseReference(`${ref.registry}/${ref.repository}`);
}

/**
 * Attach the VEX statement and the SBOMs to what `result` wrote. Registry destinations use
 * `opts` for credentials and TLS. Returns what was attached; a failure is one typed error
 * naming the referrer (the patched image itself is already written).
 */
export async function attachReferrers(
  result: PatchResult,
  opts: RegistryOptions,
  now: Date = new Date(),
): Promise<AttachedReferrer[]> {
  if (result.destination === undefined) return [];
  const loc = parseImageLocation(result.destination);
  // registries and OCI layouts hold referrers; archives (and image stores) have no place for them
  let attach: ((p: Planned) => Promise<string>) | undefined;
  if (loc.transport === "docker") {
    const repo = untagged(loc.ref);
    attach = async (p) =>
      (await attachArtifact(withDigest(repo, p.subject), p.artifact, opts)).descriptor.digest;
  } else if (loc.transport === "oci") {
    const dir = loc.dir;
    attach = async (p) => (await attachArtifactToLayout(dir, p.subject, p.artifact)).digest;
  }
  if (!attach) return [];
  const attached: AttachedReferrer[] = [];
  for (const p of plannedReferrers(result, now)) {
    try {
      const digest = await attach(p);
      attached.push({ kind: p.kind, subject: p.subject, digest, artifactType: p.artifact.artifactType });
    } catch (e) {
      throw new OcipatchError(
        (e instanceof OcipatchError && e.code) || "REGISTRY",
        `attaching the ${p.kind === "vex" ? "VEX statement" : "SBOM"} to ${p.subject}: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }
  return attached;
}
