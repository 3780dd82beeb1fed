import { Readable } from "node:stream";
import { isOcipatchError, OcipatchError } from "../../errors.js";
import type { Image, ImageIndex, ImageOrIndex } from "../../image/image.js";
import type { Descriptor } from "../../image/manifest.js";
import {
  emptyStats,
  type ImageSink,
  type TransferStats,
  type WriteOptions,
  type WriteResult,
} from "../../image/sink.js";
import { openVerified } from "../../image/source.js";
import { parseReference, type Reference } from "../../reference/reference.js";
import type { Digest } from "../../util/digest.js";
import type { ProgressListener } from "../../util/progress.js";
import { RegistryClient } from "./client.js";
import { headerValue } from "./http.js";
import { DEFAULT_CHUNK_SIZE, DEFAULT_CONCURRENCY, type RegistryOptions } from "./options.js";
import { pullScope, pushScope } from "./scope.js";
import { headManifestWith, RegistrySource } from "./source.js";
import { type BlobToWrite, BlobUploader } from "./upload.js";

/** One manifest to put, children before parents. */
interface PlannedManifest {
  readonly item: ImageOrIndex;
  /** Its blobs (images only); empty when the manifest is already in the repository. */
  readonly blobs: BlobToWrite[];
  /** Blobs not checked one by one because the manifest is already there. */
  readonly presentDigests: readonly string[];
  readonly present: boolean;
}

/** The blobs of an image as streams: its layers, or (for artifacts) raw blobs from where it came from. */
async function blobsOf(image: Image, opts: RegistryOptions, signal?: AbortSignal): Promise<BlobToWrite[]> {
  const config = await image.rawConfig({ signal });
  const configBlob: BlobToWrite = {
    descriptor: image.manifest.config,
    open: async () => Readable.from([config]),
    origin: image.origin,
  };
  try {
    const layers = await image.layers({ signal });
    return [
      configBlob,
      ...layers.map((l) => ({
        descriptor: l.descriptor,
        open: (s?: AbortSignal) => l.compressed({ signal: s }),
        origin: l.origin,
      })),
    ];
  } catch (e) {
    // e.g. attestation manifests, whose "layers" are not filesystem layers
    if (!image.origin || !isOcipatchError(e) || (e.code !== "UNSUPPORTED" && e.code !== "INVALID_FORMAT"))
      throw e;
    const origin = image.origin;
    const source = new RegistrySource(new RegistryClient(origin.registry, opts), origin.repository);
    return [
      configBlob,
      ...image.manifest.layers.map((d: Descriptor) => ({
        descriptor: d,
        open: (s?: AbortSignal) => openVerified(source, d, "blob", { signal: s }),
        origin,
      })),
    ];
  }
}

async function runPool<T>(
  items: readonly T[],
  limit: number,
  signal: AbortSignal,
  fn: (t: T) => Promise<void>,
) {
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < items.length && failure === undefined && !signal.aborted) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (e) {
        failure ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== undefined) throw failure;
}

/**
 * Writes images and indexes to a registry repository: blobs first (skipped, mounted
 * or uploaded), then child manifests by digest, then the top manifest by tag (or by
 * digest when the reference has no tag).
 */
class RegistrySink implements ImageSink {
  readonly description: string;
  readonly ref: Reference;

  constructor(
    ref: Reference | string,
    private readonly opts: RegistryOptions = {},
  ) {
    this.ref = typeof ref === "string" ? parseReference(ref) : ref;
    this.description = `${this.ref.registry}/${this.ref.repository}${this.ref.tag ? `:${this.ref.tag}` : ""}${this.ref.digest ? `@${this.ref.digest}` : ""}`;
  }

  async write(item: ImageOrIndex, wopts: WriteOptions = {}): Promise<WriteResult> {
    const { ref } = this;
    if (ref.digest && ref.digest !== item.digest) {
      throw new OcipatchError(
        "USAGE",
        `cannot write ${item.description} to ${this.description}: its digest is ${item.digest}`,
      );
    }
    const progress = wopts.progress ?? this.opts.progress;
    const abort = new AbortController();
    const outer = wopts.signal ?? this.opts.signal;
    const signal = outer ? AbortSignal.any([outer, abort.signal]) : abort.signal;
    const client = new RegistryClient(ref.registry, { ...this.opts, signal: outer, progress });
    const repo = ref.repository;

    // one token for everything: push here, pull where blobs can be mounted from
    const mountFrom = new Set<string>();
    const canMount = (o: { registry: string; repository: string } | undefined) =>
      o !== undefined && o.repository !== repo && o.registry === ref.registry;
    if (canMount(item.origin)) mountFrom.add(item.origin!.repository);
    const shared = this.opts.sharedBlobs;
    for (const r of shared?.repositoriesOf(ref.registry) ?? []) if (r !== repo) mountFrom.add(r);
    const initialScopes = [pushScope(repo), ...[...mountFrom].map(pullScope)];
    const plan = await this.plan(item, client, initialScopes, signal);
    for (const p of plan)
      for (const b of p.blobs) if (canMount(b.origin)) mountFrom.add(b.origin!.repository);
    const scopes = [pushScope(repo), ...[...mountFrom].sort().map(pullScope)];
    const uploader = new BlobUploader(client, repo, scopes, {
      chunkSize: this.opts.chunkSize ?? DEFAULT_CHUNK_SIZE,
      progress,
    });

    const stats: TransferStats = emptyStats();
    const unique = new Map<Digest, BlobToWrite>();
    const present = new Set<string>();
    for (const p of plan) {
      for (const d of p.presentDigests) present.add(d);
      for (const b of p.blobs) if (!unique.has(b.descriptor.digest)) unique.set(b.descriptor.digest, b);
    }
    for (const d of unique.keys()) present.delete(d);
    stats.blobsSkipped += present.size;
    progress?.phase?.(`Writing to ${this.description}`, unique.size);
    try {
      await runPool([...unique.values()], this.opts.concurrency ?? DEFAULT_CONCURRENCY, signal, async (b) => {
        const outcome = await this.ensureShared(uploader, b, canMount, signal);
        if (outcome === "exists") stats.blobsSkipped++;
        else if (outcome === "mount") stats.blobsMounted++;
        else {
          stats.blobsUploaded++;
          stats.bytesUploaded += b.descriptor.size;
        }
      });
    } catch (e) {
      abort.abort();
      throw e;
    }

    for (const p of plan.slice(0, -1)) {
      if (!p.present) await this.putManifest(client, p.item, p.item.digest, scopes, signal, progress);
    }
    const tag = ref.tag ?? item.digest;
    await this.putManifest(client, item, tag, scopes, signal, progress);
    return {
      digest: item.digest,
      mediaType: item.mediaType,
      size: item.rawManifest.length,
      location: `${ref.registry}/${repo}${ref.tag ? `:${ref.tag}` : ""}@${item.digest}`,
      stats,
    };
  }

  /**
   * Put one blob into the repository. With blobs shared across the run's writes: when another
   * write has put (or is putting) it into this registry, mount it from there.
   */
  private async ensureShared(
    uploader: BlobUploader,
    b: BlobToWrite,
    canMount: (o: BlobToWrite["origin"]) => boolean,
    signal: AbortSignal,
  ) {
    const shared = this.opts.sharedBlobs;
    if (!shared) return uploader.ensure(b, signal);
    const claim = await shared.claim(this.ref.registry, b.descriptor.digest, signal);
    if (claim.kind === "found") {
      const from = canMount(b.origin) ? b : { ...b, origin: claim.origin };
      return uploader.ensure(from, signal);
    }
    try {
      const outcome = await uploader.ensure(b, signal);
      claim.done({ registry: this.ref.registry, repository: this.ref.repository });
      return outcome;
    } catch (e) {
      claim.done(undefined);
      throw e;
    }
  }

  /** Every manifest below and including `item`, children first. */
  private async plan(
    item: ImageOrIndex,
    client: RegistryClient,
    scopes: readonly string[],
    signal: AbortSignal,
  ): Promise<PlannedManifest[]> {
    const out: PlannedManifest[] = [];
    const seen = new Set<string>();
    // each manifest's entries, children first; siblings are planned concurrently, kept in order
    const visit = async (it: ImageOrIndex, parentPresent: boolean): Promise<PlannedManifest[]> => {
      if (seen.has(it.digest)) return [];
      seen.add(it.digest);
      // an image's blobs are read while the registry is asked for its manifest (one round
      // trip less); they are dropped when it is there already
      const blobs = it.kind === "image" && !parentPresent ? blobsOf(it, this.opts, signal) : undefined;
      blobs?.catch(() => undefined); // observed below when the manifest is not there
      // what a stored manifest refers to is stored too (registries check it on PUT)
      const present =
        parentPresent ||
        (await headManifestWith(client, this.ref.repository, it.digest, signal, scopes)) !== undefined;
      if (it.kind === "index") {
        const children = await Promise.all(
          (it as ImageIndex).children().map(async (child) => visit(await child.load({ signal }), present)),
        );
        return [...children.flat(), { item: it, blobs: [], presentDigests: [], present }];
      }
      if (present) {
        const digests = [it.manifest.config.digest, ...it.manifest.layers.map((l) => l.digest)];
        return [{ item: it, blobs: [], presentDigests: digests, present }];
      }
      return [{ item: it, blobs: await blobs!, presentDigests: [], present }];
    };
    out.push(...(await visit(item, false)));
    // the top manifest goes last even if a child had the same digest
    const top = out.findIndex((p) => p.item === item);
    if (top !== -1 && top !== out.length - 1) out.push(...out.splice(top, 1));
    return out;
  }

  private async putManifest(
    client: RegistryClient,
    item: ImageOrIndex,
    reference: string,
    scopes: readonly string[],
    signal: AbortSignal,
    progress: ProgressListener | undefined,
  ): Promise<void> {
    const name = `${client.registry}/${this.ref.repository}${reference.includes(":") ? "@" : ":"}${reference}`;
    const res = await client.send({
      method: "PUT",
      target: `/v2/${this.ref.repository}/manifests/${reference}`,
      scopes,
      headers: { "content-type": item.mediaType },
      body: item.rawManifest,
      expect: [201],
      what: `PUT manifest ${name}`,
      signal,
    });
    await res.body.dump().catch(() => undefined);
    const announced = headerValue(res, "docker-content-digest");
    if (announced && announced !== item.digest) {
      throw new OcipatchError(
        "REGISTRY",
        `registry ${client.registry} stored manifest ${name} under digest ${announced} instead of ${item.digest}`,
      );
    }
    progress?.info?.(`wrote manifest ${name}`);
  }
}

/** A sink writing to `ref` (tag, or digest when the reference has no tag). */
export function registrySink(ref: Reference | string, opts: RegistryOptions = {}): ImageSink {
  return new RegistrySink(ref, opts);
}
