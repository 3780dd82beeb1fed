import type { FileSummarizer, LayeredFsOptions } from "../rootfs/index.js";
import { apkBackend } from "./apk/backend.js";
import { dpkgBackend } from "./dpkg/backend.js";
import { rpmBackend } from "./rpm/backend.js";
import type { BackendId, PackageBackend } from "./types.js";

/** Every package backend ocipatch has: ONE line per distribution family, in detection order. */
export const BACKENDS: readonly PackageBackend[] = [dpkgBackend, apkBackend, rpmBackend];

/** The backend with this id. */
export function backendById(id: BackendId): PackageBackend | undefined {
  return BACKENDS.find((b) => b.id === id);
}

/** Capture globs of every backend: what a filesystem view keeps in memory for inventory and patch. */
export function backendCapturePatterns(): string[] {
  return [...new Set(BACKENDS.flatMap((b) => b.capturePatterns))];
}

/** File summarizers of every backend: what a filesystem view summarizes while it indexes a layer. */
export function backendFileSummaries(): FileSummarizer[] {
  return [...new Set(BACKENDS.flatMap((b) => b.fileSummaries ?? []))];
}

/**
 * What a filesystem view the backends read from keeps while it indexes a layer: their small files
 * (databases, repositories, keys) and the summaries their patchers ask for.
 */
export function backendViewOptions(): Required<
  Pick<LayeredFsOptions, "extraCapturePatterns" | "fileSummaries">
> {
  return { extraCapturePatterns: backendCapturePatterns(), fileSummaries: backendFileSummaries() };
}
