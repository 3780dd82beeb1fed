import { Readable } from "node:stream";
import { OcipatchError } from "../../errors.js";
import {
  type Descriptor,
  detectManifestMediaType,
  encodeJson,
  type ImageManifest,
  type IndexManifest,
  parseIndexManifest,
} from "../../image/manifest.js";
import { MediaTypes } from "../../image/media-types.js";
import { manifestIdentifier, parseReference, type Reference } from "../../reference/reference.js";
import { algorithmOf, type Digest, hexOf, sha256 } from "../../util/digest.js";
import { readAll } from "../../util/streams.js";
import { RegistryClient } from "./client.js";
import { headerValue } from "./http.js";
import { DEFAULT_CHUNK_SIZE, type RegistryOptions } from "./options.js";
import { pullScope, pushScope } from "./scope.js";
import { getManifest, headManifestWith } from "./source.js";
import { BlobUploader } from "./upload.js";

/**
 * OCI referrers (distribution spec v1.1): an artifact manifest whose `subject` names
 * another manifest, found again through `GET /v2/<name>/referrers/<digest>` or, on
 * registries without that API, through the "referrers tag schema": an image index tagged
 * `<alg>-<hex>` listing the referrers of `<alg>:<hex>`, updated read-modify-write.
 */

/** The OCI empty descriptor's content: `{}`. */
const EMPTY_JSON = Buffer.from("{}", "utf8");
export const EMPTY_DESCRIPTOR: Descriptor = {
  mediaType: MediaTypes.ociEmpty,
  digest: sha256(EMPTY_JSON),
  size: EMPTY_JSON.length,
  data: EMPTY_JSON.toString("base64"),
};

const MAX_INDEX = 4 * 1024 * 1024;
/** Re-reads after a tag schema update that lost our entry to a concurrent writer. */
const TAG_SCHEMA_ATTEMPTS = 4;

export interface ArtifactToAttach {
  /** The artifact's type (`application/openvex+json`...), set on the manifest and the index entry. */
  readonly artifactType: string;
  /** The artifact's content: the single layer blob. */
  readonly blob: Uint8Array;
  /** Media type of the blob (often the same as `artifactType`). */
  readonly mediaType: string;
  /** Manifest annotations; copied into the referrers index entry. */
  readonly annotations?: Readonly<Record<string, string>> | undefined;
  /** Annotations of the blob's descriptor (e.g. `org.opencontainers.image.title`). */
  readonly blobAnnotations?: Readonly<Record<string, string>> | undefined;
}

export interface AttachResult {
  /** Descriptor of the artifact manifest (as listed among the subject's referrers). */
  readonly descriptor: Descriptor;
  /** The subject's descriptor. */
  readonly subject: Descriptor;
  /** `api`: the registry indexes referrers itself; `tag`: the tag schema was updated. */
  readonly method: "api" | "tag";
  /** The tag schema tag (`sha256-<hex>`) when `method` is `tag`. */
  readonly tag?: string | undefined;
}

function toReference(ref: Reference | string): Reference {
  return typeof ref === "string" ? parseReference(ref) : ref;
}

/** The referrers tag schema's tag for a digest: `<alg>-<hex>`, truncated as the spec says. */
export function referrersTag(digest: Digest): string {
  return `${algorithmOf(digest).slice(0, 32)}-${hexOf(digest).slice(0, 64)}`;
}

/** The artifact manifest for `artifact` about `subject` (canonical JSON bytes). */
export function artifactManifest(
  subject: Descriptor,
  artifact: ArtifactToAttach,
): { manifest: ImageManifest; bytes: Buffer; blob: Descriptor } {
  const blob: Descriptor = {
    mediaType: artifact.mediaType,
    digest: sha256(artifact.blob),
    size: artifact.blob.length,
    ...(artifact.blobAnnotations && Object.keys(artifact.blobAnnotations).length > 0
      ? { annotations: { ...artifact.blobAnnotations } }
      : {}),
  };
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    artifactType: artifact.artifactType,
    config: EMPTY_DESCRIPTOR,
    layers: [blob],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    ...(artifact.annotations && Object.keys(artifact.annotations).length > 0
      ? { annotations: { ...artifact.annotations } }
      : {}),
  };
  return { manifest, bytes: encodeJson(manifest), blob };
}

/** The subject's descriptor: the digest (pinned or resolved from the tag), media type and size. */
async function subjectDescriptor(client: RegistryClient, ref: Reference, signal?: AbortSignal) {
  const head = await headManifestWith(client, ref.repository, manifestIdentifier(ref), signal);
  const name = `${ref.registry}/${ref.repository}@${manifestIdentifier(ref)}`;
  if (!head) throw new OcipatchError("NOT_FOUND", `manifest unknown: ${name} not found`);
  if (ref.digest && head.digest !== ref.digest) {
    throw new OcipatchError("DIGEST_MISMATCH", `${name}: the registry reports digest ${head.digest}`);
  }
  if (!head.mediaType) {
    // the registry did not say; read the document to tell
    const raw = await getManifest(client, ref.repository, head.digest, { signal });
    return {
      mediaType: raw.mediaType ?? MediaTypes.ociManifest,
      digest: head.digest,
      size: raw.bytes.length,
    };
  }
  return { mediaType: head.mediaType, digest: head.digest, size: head.size };
}

async function putManifest(
  client: RegistryClient,
  repository: string,
  reference: string,
  mediaType: string,
  bytes: Buffer,
  signal: AbortSignal | undefined,
) {
  const res = await client.send({
    method: "PUT",
    target: `/v2/${repository}/manifests/${reference}`,
    scopes: [pushScope(repository)],
    headers: { "content-type": mediaType },
    body: bytes,
    expect: [201],
    what: `PUT manifest ${client.registry}/${repository}${reference.includes(":") ? "@" : ":"}${reference}`,
    signal,
  });
  await res.body.dump().catch(() => undefined);
  return res;
}

/** The tag schema index of `digest`, or undefined when the tag does not exist. */
async function readTagSchemaIndex(
  client: RegistryClient,
  repository: string,
  digest: Digest,
  signal: AbortSignal | undefined,
): Promise<IndexManifest | undefined> {
  const tag = referrersTag(digest);
  let raw: Awaited<ReturnType<typeof getManifest>>;
  try {
    // accept every manifest type: a registry may hide what it cannot send as asked
    raw = await getManifest(client, repository, tag, { signal });
  } catch (e) {
    if (e instanceof OcipatchError && e.code === "NOT_FOUND") return undefined;
    throw e;
  }
  const name = `${client.registry}/${repository}:${tag}`;
  const mt = detectManifestMediaType(raw.bytes, raw.mediaType, `referrers index ${name}`);
  if (mt !== MediaTypes.ociIndex) {
    throw new OcipatchError(
      "REGISTRY",
      `${name} is a ${mt}, not a referrers index: refusing to overwrite it`,
    );
  }
  return parseIndexManifest(raw.bytes, `referrers index ${name}`);
}

function entryOf(desc: Descriptor, artifactType: string, annotations?: Readonly<Record<string, string>>) {
  const e: Descriptor = {
    mediaType: desc.mediaType,
    digest: desc.digest,
    size: desc.size,
    artifactType,
  };
  return annotations && Object.keys(annotations).length > 0 ? { ...e, annotations: { ...annotations } } : e;
}

/** Add `entry` to the tag schema index of `subject` (read, add, write, verify; retried). */
async function updateTagSchema(
  client: RegistryClient,
  repository: string,
  subject: Digest,
  entry: Descriptor,
  signal: AbortSignal | undefined,
): Promise<string> {
  const tag = referrersTag(subject);
  for (let attempt = 1; ; attempt++) {
    const current = await readTagSchemaIndex(client, repository, subject, signal);
    const manifests = current?.manifests ?? [];
    if (manifests.some((m) => m.digest === entry.digest)) return tag;
    const index = {
      schemaVersion: 2 as const,
      mediaType: MediaTypes.ociIndex,
      manifests: [...manifests, entry],
      ...(current?.annotations ? { annotations: current.annotations } : {}),
    };
    await putManifest(client, repository, tag, MediaTypes.ociIndex, encodeJson(index), signal);
    // no conditional PUT on registries without the referrers API: check that no
    // concurrent writer replaced the index between our read and our write
    const after = await readTagSchemaIndex(client, repository, subject, signal);
    if (after?.manifests.some((m) => m.digest === entry.digest)) return tag;
    if (attempt >= TAG_SCHEMA_ATTEMPTS) {
      throw new OcipatchError(
        "REGISTRY",
        `could not add ${entry.digest} to the referrers index ${client.registry}/${repository}:${tag}: it kept being replaced by another writer`,
      );
    }
  }
}

/**
 * Push `artifact` as an OCI artifact manifest whose `subject` is `ref` (a tag or a digest
 * in the same repository). When the registry does not answer the manifest PUT with an
 * `OCI-Subject` header (it has no referrers API), the `<alg>-<hex>` tag schema index is
 * updated so `listReferrers` (and other clients) find it. Attaching the same artifact
 * twice changes nothing; different artifacts accumulate.
 */
export async function attachArtifact(
  ref: Reference | string,
  artifact: ArtifactToAttach,
  opts: RegistryOptions = {},
): Promise<AttachResult> {
  const r = toReference(ref);
  const client = new RegistryClient(r.registry, opts);
  const signal = opts.signal;
  const subject = await subjectDescriptor(client, r, signal);
  const { bytes, blob } = artifactManifest(subject, artifact);
  const repo = r.repository;
  const uploader = new BlobUploader(client, repo, [pushScope(repo)], {
    chunkSize: opts.chunkSize ?? DEFAULT_CHUNK_SIZE,
    progress: opts.progress,
  });
  for (const [desc, content] of [
    [EMPTY_DESCRIPTOR, EMPTY_JSON],
    [blob, Buffer.from(artifact.blob)],
  ] as const) {
    await uploader.ensure({ descriptor: desc, open: async () => Readable.from([content]) }, signal);
  }
  const digest = sha256(bytes);
  const res = await putManifest(client, repo, digest, MediaTypes.ociManifest, bytes, signal);
  const descriptor = entryOf(
    { mediaType: MediaTypes.ociManifest, digest, size: bytes.length },
    artifact.artifactType,
    artifact.annotations,
  );
  const announced = headerValue(res, "oci-subject");
  if (announced === subject.digest) return { descriptor, subject, method: "api" };
  const tag = await updateTagSchema(client, repo, subject.digest, descriptor, signal);
  opts.progress?.info?.(`added ${digest} to the referrers index ${r.registry}/${repo}:${tag}`);
  return { descriptor, subject, method: "tag", tag };
}

export interface ListReferrersOptions extends RegistryOptions {
  /** Only referrers of this artifact type. */
  readonly artifactType?: string | undefined;
}

export interface ReferrersList {
  readonly referrers: readonly Descriptor[];
  /** Where the list came from: the registry's referrers API or the tag schema index. */
  readonly method: "api" | "tag";
}

/**
 * The referrers of `digest` in `ref`'s repository: from the referrers API when the
 * registry has it, else from the tag schema index (empty when neither has any).
 */
export async function listReferrers(
  ref: Reference | string,
  digest: Digest,
  opts: ListReferrersOptions = {},
): Promise<ReferrersList> {
  const r = toReference(ref);
  const client = new RegistryClient(r.registry, opts);
  const repo = r.repository;
  const q = opts.artifactType ? `?${new URLSearchParams({ artifactType: opts.artifactType })}` : "";
  const name = `${r.registry}/${repo}`;
  const res = await client.send({
    method: "GET",
    target: `/v2/${repo}/referrers/${digest}${q}`,
    scopes: [pullScope(repo)],
    headers: { accept: MediaTypes.ociIndex },
    // 404 is how the spec says "no referrers API"; some registries answer 405 or 501
    expect: [200, 404, 405, 501],
    what: `GET referrers of ${digest} in ${name}`,
    signal: opts.signal,
  });
  const filter = (ds: readonly Descriptor[]) =>
    opts.artifactType ? ds.filter((d) => d.artifactType === opts.artifactType) : [...ds];
  const contentType = headerValue(res, "content-type")?.split(";")[0]?.trim();
  if (res.statusCode === 200 && contentType === MediaTypes.ociIndex) {
    const bytes = await readAll(res.body, MAX_INDEX);
    const index = parseIndexManifest(bytes, `referrers of ${digest} in ${name}`);
    return { referrers: filter(index.manifests), method: "api" };
  }
  // no such API, or a 200 that is not an index (a registry UI): use the tag schema
  await res.body.dump().catch(() => undefined);
  const index = await readTagSchemaIndex(client, repo, digest, opts.signal);
  return { referrers: filter(index?.manifests ?? []), method: "tag" };
}
