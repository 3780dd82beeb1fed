import { normalizeRegistryHost } from "../../auth/hosts.js";
import type { BlobOrigin } from "../../image/image.js";
import { abortable } from "../../util/abortable.js";

/** The caller writes the blob itself; it says where it ended up (or undefined when it failed). */
interface BlobClaim {
  readonly kind: "write";
  done(where: BlobOrigin | undefined): void;
}

/** Another write of the run has put the blob there: mount it from there. */
interface BlobFound {
  readonly kind: "found";
  readonly origin: BlobOrigin;
}

/**
 * The blobs the writes of one run (e.g. a fleet of images) have put into registries, so that a
 * blob shared by several images (a base layer, an identical patch layer) is uploaded once per
 * registry and mounted into the other repositories. A write of a blob that another write is still
 * uploading waits for it; when that one fails, the next one uploads.
 */
export class SharedBlobs {
  private readonly where = new Map<string, Promise<BlobOrigin | undefined>>();
  private readonly repositories = new Map<string, Set<string>>();

  /** Repositories of `registry` written in this run (to ask for pull access to mount from them). */
  repositoriesOf(registry: string): string[] {
    return [...(this.repositories.get(normalizeRegistryHost(registry)) ?? [])].sort();
  }

  /** Either where the blob already is (after waiting for a write in progress), or the duty to write it. */
  async claim(registry: string, digest: string, signal?: AbortSignal): Promise<BlobClaim | BlobFound> {
    const host = normalizeRegistryHost(registry);
    const key = `${host} ${digest}`;
    for (;;) {
      const pending = this.where.get(key);
      if (pending === undefined) break;
      const origin = await abortable(pending, signal);
      if (origin) return { kind: "found", origin };
      // that write failed: the next claimant writes it
      if (this.where.get(key) === pending) this.where.delete(key);
    }
    let settle!: (o: BlobOrigin | undefined) => void;
    this.where.set(
      key,
      new Promise((resolve) => {
        settle = resolve;
      }),
    );
    return {
      kind: "write",
      done: (origin) => {
        if (origin) {
          const repos = this.repositories.get(host) ?? new Set<string>();
          repos.add(origin.repository);
          this.repositories.set(host, repos);
        }
        settle(origin);
      },
    };
  }
}
