import { pipeline, Readable } from "node:stream";
import { normalizeRegistryHost } from "../../auth/hosts.js";
import { isOcipatchError, OcipatchError } from "../../errors.js";
import type { BlobOrigin } from "../../image/image.js";
import type { Descriptor } from "../../image/manifest.js";
import { DigestStream } from "../../util/digest.js";
import { isRetryableStatus, retryAfterOf, retryDelay, sleep } from "../../util/http/retry.js";
import type { ProgressListener } from "../../util/progress.js";
import type { RegistryClient } from "./client.js";
import { isTransientNetworkError } from "./errors.js";
import { discard, headerValue } from "./http.js";

/** A blob to put into a repository. */
export interface BlobToWrite {
  readonly descriptor: Pick<Descriptor, "digest" | "size" | "mediaType">;
  /** A fresh stream of the blob's bytes (called again when an upload restarts). */
  open(signal?: AbortSignal): Promise<Readable>;
  /** Where the blob already is, to mount it from there. */
  readonly origin?: BlobOrigin | undefined;
}

type BlobOutcome = "exists" | "mount" | "upload";

interface UploaderOptions {
  readonly chunkSize: number;
  readonly progress?: ProgressListener | undefined;
}

/**
 * Reads a stream in pieces of exact sizes, holding back the newest chunk until the
 * next one (or a clean end) arrives. So the last bytes of a blob are only released
 * once the verifying stream in front has accepted its digest and size: a corrupt
 * blob is never completely sent.
 */
class HeldBackReader {
  private readonly it: AsyncIterator<Buffer>;
  private held: Buffer | undefined;
  private leftover: Buffer | undefined;
  private started = false;
  /** The first error of the source, if any (it explains why a request failed). */
  failure: unknown;

  constructor(source: Readable) {
    this.it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  private async advance(): Promise<Buffer | undefined> {
    try {
      if (!this.started) {
        this.started = true;
        const r = await this.it.next();
        if (r.done) return undefined;
        this.held = r.value;
      }
      if (this.held === undefined) return undefined;
      const r = await this.it.next();
      const out = this.held;
      this.held = r.done ? undefined : r.value;
      return out;
    } catch (e) {
      this.failure ??= e;
      throw e;
    }
  }

  /** The next `n` bytes as a stream; `last` also requires the source to end right there. */
  take(n: number, last: boolean, onBytes?: (n: number) => void): Readable {
    const self = this;
    async function* gen(): AsyncGenerator<Buffer> {
      let left = n;
      while (left > 0) {
        let buf = self.leftover ?? (await self.advance());
        self.leftover = undefined;
        if (!buf) {
          const e = new OcipatchError("DIGEST_MISMATCH", `blob ended ${left} bytes early`);
          self.failure ??= e;
          throw e;
        }
        if (buf.length > left) {
          self.leftover = buf.subarray(left);
          buf = buf.subarray(0, left);
        }
        left -= buf.length;
        onBytes?.(buf.length);
        yield buf;
      }
      if (last) {
        const extra = self.leftover ?? (await self.advance());
        if (extra && extra.length > 0) {
          const e = new OcipatchError("DIGEST_MISMATCH", "blob is longer than its descriptor says");
          self.failure ??= e;
          throw e;
        }
      }
    }
    return Readable.from(gen(), { objectMode: false });
  }

  /** Make sure the source ends without error (for empty blobs, which `take` never reads). */
  async finish(): Promise<void> {
    const extra = this.leftover ?? (await this.advance());
    if (extra && extra.length > 0)
      throw new OcipatchError("DIGEST_MISMATCH", "blob is longer than its descriptor says");
  }

  destroy(): void {
    void this.it.return?.();
  }
}

function sameRegistry(a: string, b: string): boolean {
  return normalizeRegistryHost(a) === normalizeRegistryHost(b);
}

/** Whether restarting the whole upload could help. */
function restartable(e: unknown): boolean {
  if (isOcipatchError(e)) {
    const d = e.details ?? {};
    if (d["restartable"] === true) return true;
    if (typeof d["status"] === "number" && isRetryableStatus(d["status"])) return true;
    if (e.code === "NETWORK") return isTransientNetworkError(e.cause);
    return false;
  }
  return isTransientNetworkError(e);
}

/**
 * Puts blobs into one repository: skipped when present (HEAD), mounted from another
 * repository of the same registry, or uploaded — in one PUT, or in PATCH chunks
 * above `chunkSize`. A failed upload is restarted from a new session (never resent
 * blindly), after checking whether the blob arrived after all.
 */
export class BlobUploader {
  constructor(
    private readonly client: RegistryClient,
    private readonly repository: string,
    private readonly scopes: readonly string[],
    private readonly opts: UploaderOptions,
  ) {}

  private get name(): string {
    return `${this.client.registry}/${this.repository}`;
  }

  async exists(digest: string, signal?: AbortSignal): Promise<boolean> {
    const res = await this.client.send({
      method: "HEAD",
      target: `/v2/${this.repository}/blobs/${digest}`,
      scopes: this.scopes,
      expect: [200, 404],
      what: `HEAD blob ${digest} in ${this.name}`,
      signal,
    });
    await discard(res);
    return res.statusCode === 200;
  }

  /** Mount from another repository; returns an upload location when the registry declines. */
  private async mount(
    digest: string,
    from: string,
    signal?: AbortSignal,
  ): Promise<{ mounted: true } | { mounted: false; location: URL }> {
    const q = new URLSearchParams({ mount: digest, from });
    const res = await this.client.send({
      method: "POST",
      target: `/v2/${this.repository}/blobs/uploads/?${q.toString()}`,
      scopes: this.scopes,
      headers: { "content-length": "0" },
      expect: [201, 202],
      what: `mount of blob ${digest} from ${this.client.registry}/${from} into ${this.name}`,
      signal,
    });
    await discard(res);
    if (res.statusCode === 201) return { mounted: true };
    return { mounted: false, location: await this.locationOf(res.headers["location"]) };
  }

  private async locationOf(value: string | string[] | undefined): Promise<URL> {
    const v = Array.isArray(value) ? value[0] : value;
    if (!v) throw new OcipatchError("REGISTRY", `registry ${this.client.registry} sent no upload location`);
    return new URL(v, await this.client.origin());
  }

  private async startUpload(signal?: AbortSignal): Promise<URL> {
    const res = await this.client.send({
      method: "POST",
      target: `/v2/${this.repository}/blobs/uploads/`,
      scopes: this.scopes,
      headers: { "content-length": "0" },
      expect: [202],
      what: `start of a blob upload to ${this.name}`,
      signal,
    });
    await discard(res);
    return this.locationOf(res.headers["location"]);
  }

  private async cancelUpload(location: URL): Promise<void> {
    try {
      const res = await this.client.send({
        method: "DELETE",
        target: location,
        scopes: this.scopes,
        expect: [200, 202, 204, 404],
        retryable: false,
        what: `cancel of a blob upload to ${this.name}`,
      });
      await discard(res);
    } catch {
      // best effort: registries purge abandoned uploads themselves
    }
  }

  /** Put a blob into the repository unless it is there. */
  async ensure(blob: BlobToWrite, signal?: AbortSignal): Promise<BlobOutcome> {
    const { digest } = blob.descriptor;
    const progress = this.opts.progress;
    if (await this.exists(digest, signal)) {
      progress?.blobStart?.(blob.descriptor, "exists");
      progress?.blobDone?.(blob.descriptor, "exists");
      return "exists";
    }
    let location: URL | undefined;
    const o = blob.origin;
    if (o && sameRegistry(o.registry, this.client.registry) && o.repository !== this.repository) {
      progress?.blobStart?.(blob.descriptor, "mount");
      const r = await this.mount(digest, o.repository, signal);
      if (r.mounted) {
        progress?.blobDone?.(blob.descriptor, "mount");
        return "mount";
      }
      location = r.location;
    }
    const policy = this.client.retryPolicy;
    progress?.blobStart?.(blob.descriptor, "upload");
    for (let attempt = 0; ; attempt++) {
      try {
        await this.upload(blob, location, signal);
        progress?.blobDone?.(blob.descriptor, "upload");
        return "upload";
      } catch (e) {
        if (attempt >= policy.retries || !restartable(e) || signal?.aborted) throw e;
        if (location) void this.cancelUpload(location);
        location = undefined;
        const delayMs = retryDelay(policy, attempt + 1, retryAfterOf(e));
        progress?.info?.(`restarting the upload of blob ${digest} to ${this.name}: ${(e as Error).message}`);
        await sleep(delayMs, signal);
        // the failed request may have completed on the registry's side
        if (await this.exists(digest, signal)) {
          progress?.blobDone?.(blob.descriptor, "upload");
          return "upload";
        }
      }
    }
  }

  private async upload(blob: BlobToWrite, startAt: URL | undefined, signal?: AbortSignal): Promise<void> {
    const { digest, size } = blob.descriptor;
    let location = startAt ?? (await this.startUpload(signal));
    const source = await blob.open(signal);
    // a source stream that verifies this blob already (a registry's or layout's) is not hashed
    // twice; else pipeline wires errors both ways, and failures surface through the reader
    const reader = new HeldBackReader(
      source instanceof DigestStream && source.checks(digest, size)
        ? source
        : pipeline(source, new DigestStream({ digest, size, what: `blob ${digest}` }), () => {
            // reported by the reader
          }),
    );
    let done = 0;
    const onBytes = (n: number) => {
      done += n;
      this.opts.progress?.blobProgress?.(blob.descriptor, done);
    };
    const withDigest = (u: URL) => {
      const url = new URL(u);
      url.searchParams.set("digest", digest);
      return url;
    };
    try {
      if (size <= this.opts.chunkSize) {
        if (size === 0) await reader.finish();
        const res = await this.client.send({
          method: "PUT",
          target: withDigest(location),
          scopes: this.scopes,
          headers: { "content-type": "application/octet-stream", "content-length": String(size) },
          body: size === 0 ? Buffer.alloc(0) : () => reader.take(size, true, onBytes),
          retryable: false,
          expect: [201],
          what: `upload of blob ${digest} to ${this.name}`,
          signal,
        });
        await discard(res);
        return;
      }
      for (let offset = 0; offset < size; ) {
        const n = Math.min(this.opts.chunkSize, size - offset);
        const last = offset + n === size;
        const res = await this.client.send({
          method: "PATCH",
          target: location,
          scopes: this.scopes,
          headers: {
            "content-type": "application/octet-stream",
            "content-length": String(n),
            "content-range": `${offset}-${offset + n - 1}`,
          },
          body: () => reader.take(n, last, onBytes),
          retryable: false,
          expect: [202],
          what: `upload of a chunk of blob ${digest} to ${this.name}`,
          signal,
        });
        await discard(res);
        const range = headerValue(res, "range");
        const m = range ? /^(?:bytes=)?0-(\d+)$/.exec(range) : null;
        if (m && Number(m[1]) !== offset + n - 1) {
          throw new OcipatchError(
            "REGISTRY",
            `registry ${this.client.registry} acknowledged bytes 0-${m[1]} of blob ${digest} after ${offset + n} were sent`,
            { details: { restartable: true } },
          );
        }
        location = await this.locationOf(res.headers["location"] ?? location.toString());
        offset += n;
      }
      const res = await this.client.send({
        method: "PUT",
        target: withDigest(location),
        scopes: this.scopes,
        headers: { "content-length": "0" },
        body: Buffer.alloc(0),
        retryable: false,
        expect: [201],
        what: `completion of the upload of blob ${digest} to ${this.name}`,
        signal,
      });
      await discard(res);
    } catch (e) {
      // a failure of the blob itself explains a broken request best
      if (reader.failure) throw reader.failure;
      throw e;
    } finally {
      reader.destroy();
      source.destroy();
    }
  }
}
