import { once } from "../once.js";
import { hostLibrary } from "./koffi.js";

/** glibc's `M_MMAP_THRESHOLD` (malloc.h). */
const M_MMAP_THRESHOLD = -3;

/** Allocations of this size or more get their own mapping, returned to the system when freed. */
const MMAP_THRESHOLD = 128 * 1024;

/** glibc's `mallopt`; undefined where libc.so.6 has none (not glibc) or koffi is missing. */
const mallopt = hostLibrary("libc", { linux: ["libc.so.6"] }, (_koffi, libc) => {
  try {
    return libc.func("int mallopt(int param, int value)");
  } catch {
    return undefined; // a libc.so.6 without mallopt: not glibc, nothing to tune
  }
});

/**
 * Fixes glibc malloc's mmap threshold at 128 KiB. By default glibc raises it to the largest block
 * freed so far (up to 32 MiB): once a 1 MiB buffer has been freed, later ones come from the heap,
 * and what is freed there mostly stays in the process. A patch allocates thousands of 0.25–1 MiB
 * buffers (decoder outputs, gzip members, HTTP bodies), so its resident memory kept growing;
 * fixed, a cold nginx-bullseye patch peaks 35–40 MB lower in the same time (docs/BENCHMARKS.md).
 * The same as `MALLOC_MMAP_THRESHOLD_=131072`; a value the user set there is left alone. Returns
 * whether glibc took it (false elsewhere: musl, macOS, no koffi).
 */
export const tuneMalloc = once((): boolean => {
  if (process.platform !== "linux" || process.env["MALLOC_MMAP_THRESHOLD_"] !== undefined) return false;
  const fn = mallopt();
  return fn !== undefined && fn(M_MMAP_THRESHOLD, MMAP_THRESHOLD) === 1;
});
