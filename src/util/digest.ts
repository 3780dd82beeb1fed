import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { OcipatchError } from "../errors.js";

/** An OCI content digest, `sha256:<64 hex>` (sha512 accepted for reading). */
export type Digest = string & { readonly __digest: unique symbol };

const DIGEST_RE = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export function isDigest(s: string): s is Digest {
  return DIGEST_RE.test(s);
}

export function parseDigest(s: string): Digest {
  if (!isDigest(s)) throw new OcipatchError("INVALID_FORMAT", `invalid digest "${s}"`);
  return s;
}

export type DigestAlgorithm = "sha256" | "sha512";

/** The algorithm of a digest; an algorithm other than sha256 and sha512 is refused. */
export function algorithmOf(d: string): DigestAlgorithm {
  const alg = d.slice(0, Math.max(d.indexOf(":"), 0));
  if (alg === "sha256" || alg === "sha512") return alg;
  throw new OcipatchError(
    "UNSUPPORTED",
    `unsupported digest algorithm "${alg}" in "${d}" (ocipatch verifies sha256 and sha512)`,
  );
}

export function hexOf(d: Digest): string {
  return d.slice(d.indexOf(":") + 1);
}

export function sha256(data: Uint8Array | string): Digest {
  return `sha256:${createHash("sha256").update(data).digest("hex")}` as Digest;
}

/** The digest of `data` with the algorithm of `like` (the digest it is checked against). */
export function digestLike(data: Uint8Array | string, like: string): Digest {
  const alg = algorithmOf(like);
  return `${alg}:${createHash(alg).update(data).digest("hex")}` as Digest;
}

/**
 * Pass-through stream that hashes and counts what flows through it. When `expect`
 * is given, the stream errors at the end if digest or size differ.
 */
export class DigestStream extends Transform {
  private readonly hash: Hash;
  private readonly algorithm: DigestAlgorithm;
  size = 0;
  private result: Digest | undefined;

  constructor(
    private readonly expect?: { digest?: Digest; size?: number; what?: string },
    algorithm?: DigestAlgorithm,
  ) {
    super();
    this.algorithm = algorithm ?? (expect?.digest ? algorithmOf(expect.digest) : "sha256");
    this.hash = createHash(this.algorithm);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.size += chunk.length;
    if (this.expect?.size !== undefined && this.size > this.expect.size) {
      cb(
        new OcipatchError(
          "DIGEST_MISMATCH",
          `${this.expect.what ?? "content"}: more than the expected ${this.expect.size} bytes`,
        ),
      );
      return;
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.result = `${this.algorithm}:${this.hash.digest("hex")}` as Digest;
    const e = this.expect;
    if (e?.size !== undefined && e.size !== this.size) {
      cb(
        new OcipatchError(
          "DIGEST_MISMATCH",
          `${e.what ?? "content"}: got ${this.size} bytes, expected ${e.size}`,
        ),
      );
      return;
    }
    if (e?.digest !== undefined && e.digest !== this.result) {
      cb(
        new OcipatchError(
          "DIGEST_MISMATCH",
          `${e.what ?? "content"}: digest ${this.result} does not match expected ${e.digest}`,
        ),
      );
      return;
    }
    cb();
  }

  /**
   * Whether this stream, untouched so far, checks exactly this digest and size as it ends:
   * then a writer can take it as it is instead of hashing every byte a second time.
   */
  checks(digest: string, size: number): boolean {
    return this.size === 0 && this.expect?.digest === digest && this.expect.size === size;
  }

  /** The digest of everything that passed; only valid after the stream ended. */
  digest(): Digest {
    if (!this.result) throw new OcipatchError("INTERNAL", "digest read before the stream ended");
    return this.result;
  }
}
