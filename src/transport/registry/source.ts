import { Readable } from "node:stream";
import { OcipatchError } from "../../errors.js";
import type { BlobOrigin, ImageOrIndex, OpenOptions } from "../../image/image.js";
import type { Descriptor } from "../../image/manifest.js";
import { MANIFEST_ACCEPT } from "../../image/media-types.js";
import { type ContentSource, fromRawManifest, type RawManifest } from "../../image/source.js";
import { manifestIdentifier, parseReference, type Reference } from "../../reference/reference.js";
import { type Digest, digestLike, isDigest, sha256 } from "../../util/digest.js";
import { retryDelay, sleep } from "../../util/http/retry.js";
import { chunksOf, readAll } from "../../util/streams.js";
import { RegistryClient } from "./client.js";
import { isTransientNetworkError, networkError } from "./errors.js";
import { abandonBody, type HttpResponse, headerValue } from "./http.js";
import type { RegistryOptions } from "./options.js";
import { pullScope } from "./scope.js";

/** Registries must accept manifests of at least 4 MiB; refuse anything much larger. */
const MAX_MANIFEST_SIZE = 8 * 1024 * 1024;

function toReference(ref: Reference | string): Reference {
  return typeof ref === "string" ? parseReference(ref) : ref;
}

/** `registry/repo:tag` (or `@digest`) for messages. */
function where(client: RegistryClient, repository: string, identifier: string): string {
  return `${client.registry}/${repository}${isDigest(identifier) ? "@" : ":"}${identifier}`;
}

/** Fetch a manifest by tag or digest; its digest is checked when pinned or announced. */
export async function getManifest(
  client: RegistryClient,
  repository: string,
  identifier: string,
  opts: { accept?: readonly string[]; signal?: AbortSignal | undefined } = {},
): Promise<RawManifest> {
  const name = where(client, repository, identifier);
  const res = await client.send({
    method: "GET",
    target: `/v2/${repository}/manifests/${identifier}`,
    scopes: [pullScope(repository)],
    headers: { accept: (opts.accept ?? MANIFEST_ACCEPT).join(", ") },
    expect: [200],
    what: `GET manifest ${name}`,
    notFound: () => new OcipatchError("NOT_FOUND", `manifest unknown: ${name} not found`),
    signal: opts.signal,
  });
  const bytes = await readManifestBody(client, res, name);
  const mediaType = headerValue(res, "content-type")?.split(";")[0]?.trim() || undefined;
  let digest: Digest;
  if (isDigest(identifier)) {
    digest = digestLike(bytes, identifier);
    if (digest !== identifier) {
      throw new OcipatchError(
        "DIGEST_MISMATCH",
        `manifest ${name}: the registry sent content with digest ${digest}`,
      );
    }
  } else {
    digest = sha256(bytes);
    const announced = headerValue(res, "docker-content-digest");
    // an announced digest is checked with its own algorithm (sha256 or sha512)
    const got = announced !== undefined && isDigest(announced) ? digestLike(bytes, announced) : undefined;
    if (got !== undefined && got !== announced) {
      throw new OcipatchError(
        "DIGEST_MISMATCH",
        `manifest ${name}: the registry announced digest ${announced} but sent content with digest ${got}`,
      );
    }
  }
  return { bytes, mediaType, digest };
}

async function readManifestBody(client: RegistryClient, res: HttpResponse, name: string): Promise<Buffer> {
  const len = Number(headerValue(res, "content-length") ?? "0");
  if (len > MAX_MANIFEST_SIZE) {
    abandonBody(res);
    throw new OcipatchError("INVALID_FORMAT", `manifest ${name} is too large (${len} bytes)`);
  }
  try {
    return await readAll(res.body, MAX_MANIFEST_SIZE);
  } catch (e) {
    if (e instanceof OcipatchError)
      throw new OcipatchError(e.code, `manifest ${name}: ${e.message}`, { cause: e });
    throw networkError(e, {
      host: client.host,
      what: `GET manifest ${name}`,
      timeoutMs: client.http.timeoutMs,
    });
  }
}

/**
 * The read side of a registry repository. Blob downloads follow redirects and, when
 * the connection breaks, resume with a Range request where they stopped.
 */
export class RegistrySource implements ContentSource {
  readonly description: string;
  readonly origin: BlobOrigin;

  constructor(
    readonly client: RegistryClient,
    readonly repository: string,
  ) {
    this.description = `${client.registry}/${repository}`;
    this.origin = { registry: client.registry, repository };
  }

  fetchManifest(desc: Descriptor, opts?: OpenOptions): Promise<RawManifest> {
    const accept = [desc.mediaType, ...MANIFEST_ACCEPT.filter((m) => m !== desc.mediaType)];
    return getManifest(this.client, this.repository, desc.digest, { accept, signal: opts?.signal });
  }

  private blobRequest(desc: Pick<Descriptor, "digest">, offset: number, signal?: AbortSignal) {
    return this.client.send({
      method: "GET",
      target: `/v2/${this.repository}/blobs/${desc.digest}`,
      scopes: [pullScope(this.repository)],
      headers: offset > 0 ? { range: `bytes=${offset}-` } : {},
      expect: [200, 206],
      followRedirects: true,
      what: `GET blob ${desc.digest} from ${this.description}`,
      notFound: () =>
        new OcipatchError("NOT_FOUND", `blob unknown: ${desc.digest} not found in ${this.description}`),
      signal,
    });
  }

  async openBlob(desc: Descriptor, opts?: OpenOptions): Promise<Readable> {
    const first = await this.blobRequest(desc, 0, opts?.signal);
    const self = this;
    const policy = this.client.retryPolicy;
    async function* body(): AsyncGenerator<Buffer> {
      let res = first;
      let offset = 0;
      let resumes = 0;
      for (;;) {
        let done = false;
        const current = res;
        try {
          let skip = 0;
          if (offset > 0) {
            if (res.statusCode === 200)
              skip = offset; // the server ignored the Range
            else checkContentRange(headerValue(res, "content-range"), offset, self.description, desc);
          }
          for await (const c of chunksOf(res.body)) {
            let chunk = c;
            if (skip > 0) {
              if (chunk.length <= skip) {
                skip -= chunk.length;
                continue;
              }
              chunk = chunk.subarray(skip);
              skip = 0;
            }
            offset += chunk.length;
            yield chunk;
          }
          done = true;
          return;
        } catch (e) {
          if (isTransientNetworkError(e) && desc.size > 0 && offset === desc.size && !opts?.signal?.aborted) {
            // every byte arrived, then the connection closed instead of ending the message
            // (proxies that close without `Connection: close`); the digest is checked by the reader
            done = true;
            return;
          }
          if (!isTransientNetworkError(e) || resumes >= policy.retries || opts?.signal?.aborted) {
            throw networkError(e, {
              host: self.client.host,
              what: `download of blob ${desc.digest} from ${self.description}`,
              timeoutMs: self.client.http.timeoutMs,
              signal: opts?.signal,
            });
          }
          resumes++;
          self.client.http.onRetry?.({
            what: `download of blob ${desc.digest}`,
            attempt: resumes,
            delayMs: 0,
            reason: `connection broke after ${offset} bytes; resuming`,
          });
          await sleep(retryDelay(policy, resumes), opts?.signal);
          res = await self.blobRequest(desc, offset, opts?.signal);
        } finally {
          if (!done && !current.body.destroyed) current.body.destroy();
        }
      }
    }
    return Readable.from(body(), { objectMode: false });
  }

  async readBlob(desc: Descriptor, opts?: OpenOptions): Promise<Buffer> {
    return readAll(await this.openBlob(desc, opts));
  }
}

function checkContentRange(
  value: string | undefined,
  offset: number,
  where: string,
  desc: Pick<Descriptor, "digest">,
) {
  const m = value ? /^bytes (\d+)-/.exec(value) : null;
  if (!m || Number(m[1]) !== offset) {
    throw new OcipatchError(
      "REGISTRY",
      `${where} answered a resumed download of blob ${desc.digest} with the wrong range (${value ?? "none"})`,
    );
  }
}

/**
 * Open an image or index from a registry. Only the manifest is fetched now; config
 * and layers are fetched when used. Schema 1 manifests are refused.
 */
export async function openRegistryImage(
  ref: Reference | string,
  opts: RegistryOptions = {},
): Promise<ImageOrIndex> {
  const r = toReference(ref);
  const client = new RegistryClient(r.registry, opts);
  const raw = await getManifest(client, r.repository, manifestIdentifier(r), { signal: opts.signal });
  return fromRawManifest(new RegistrySource(client, r.repository), raw);
}

interface ManifestHead {
  readonly digest: Digest;
  readonly mediaType: string | undefined;
  readonly size: number;
}

/** Does a manifest exist? Its digest, media type and size, or undefined on 404. */
export async function headManifest(
  ref: Reference | string,
  opts: RegistryOptions = {},
): Promise<ManifestHead | undefined> {
  const r = toReference(ref);
  return headManifestWith(
    new RegistryClient(r.registry, opts),
    r.repository,
    manifestIdentifier(r),
    opts.signal,
  );
}

export async function headManifestWith(
  client: RegistryClient,
  repository: string,
  identifier: string,
  signal?: AbortSignal,
  scopes?: readonly string[],
): Promise<ManifestHead | undefined> {
  const name = where(client, repository, identifier);
  const res = await client.send({
    method: "HEAD",
    target: `/v2/${repository}/manifests/${identifier}`,
    scopes: scopes ?? [pullScope(repository)],
    headers: { accept: MANIFEST_ACCEPT.join(", ") },
    expect: [200, 404],
    what: `HEAD manifest ${name}`,
    signal,
  });
  await res.body.dump().catch(() => undefined);
  if (res.statusCode === 404) return undefined;
  const digest = headerValue(res, "docker-content-digest");
  const mediaType = headerValue(res, "content-type")?.split(";")[0]?.trim() || undefined;
  const size = Number(headerValue(res, "content-length") ?? Number.NaN);
  if (digest && isDigest(digest) && Number.isFinite(size)) return { digest, mediaType, size };
  // the registry did not say: fetch it
  const raw = await getManifest(client, repository, identifier, { signal });
  return { digest: raw.digest, mediaType: raw.mediaType, size: raw.bytes.length };
}
