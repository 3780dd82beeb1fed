import type { Descriptor } from "../image/manifest.js";

/** What happens to a blob during a transfer. */
export type BlobAction = "download" | "upload" | "mount" | "exists" | "write";

/**
 * Progress events of long operations. The library only emits them; the CLI renders
 * them (bars on a terminal, plain lines in CI, JSON on request).
 */
export interface ProgressListener {
  /** A phase of the work starts (`Copying`, `Downloading packages`, ...). */
  phase?(name: string, total?: number): void;
  /** `label` names the blob for people (a package name); the digest is shown otherwise. */
  blobStart?(
    desc: Pick<Descriptor, "digest" | "size" | "mediaType"> & { label?: string },
    action: BlobAction,
  ): void;
  blobProgress?(desc: Pick<Descriptor, "digest" | "size">, bytesDone: number): void;
  blobDone?(desc: Pick<Descriptor, "digest" | "size"> & { label?: string }, action: BlobAction): void;
  /** A free-form progress message. */
  info?(message: string): void;
  warn?(message: string): void;
}
