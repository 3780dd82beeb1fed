import { createRequire } from "node:module";
import { hostSwitchedOff } from "../host-filter.js";
import { once } from "../once.js";

export type Koffi = typeof import("koffi");
export type HostLibrary = ReturnType<Koffi["load"]>;
export type HostFunction = ReturnType<HostLibrary["func"]>;

/**
 * koffi, the foreign-function interface through which ocipatch calls the host's compression
 * libraries (its binaries ship in npm packages); undefined where it has none for this platform.
 */
export const loadKoffi = once((): Koffi | undefined => {
  try {
    return createRequire(import.meta.url)("koffi") as Koffi;
  } catch {
    return undefined; // no koffi binary for this platform: the bundled decoders serve
  }
});

/** The first of `names` (shared object names, by platform) the host's dynamic loader finds. */
export function openHostLibrary(
  k: Koffi,
  names: Partial<Record<NodeJS.Platform, readonly string[]>>,
): HostLibrary | undefined {
  for (const name of names[process.platform] ?? []) {
    try {
      return k.load(name);
    } catch {
      // not installed on this host: the next name, or none
    }
  }
  return undefined;
}

/**
 * Points the (pointer, size) pair at `pointerAt` and `sizeAt` of a C struct at `buf`'s first
 * `size` bytes (a null pointer for an empty buffer).
 */
export function encodeBuffer(
  k: Koffi,
  struct: Buffer,
  pointerAt: number,
  sizeAt: number,
  buf: Buffer,
  size = buf.length,
): void {
  k.encode(struct, pointerAt, "uintptr_t", size > 0 ? k.address(buf) : 0n);
  k.encode(struct, sizeAt, "size_t", size);
}

/**
 * A host library, looked up on the first call only: koffi and the first of `names` the dynamic
 * loader finds are given to `declare`; undefined where either is missing, `declare` refuses what it
 * found (another ABI version), or the library `name` is `hostSwitchedOff` (the bundled decoders
 * serve then).
 */
export function hostLibrary<T>(
  name: string,
  names: Partial<Record<NodeJS.Platform, readonly string[]>>,
  declare: (koffi: Koffi, lib: HostLibrary) => T | undefined,
): () => T | undefined {
  return once(() => {
    if (hostSwitchedOff(name)) return undefined;
    const koffi = loadKoffi();
    const lib = koffi === undefined ? undefined : openHostLibrary(koffi, names);
    return koffi === undefined || lib === undefined ? undefined : declare(koffi, lib);
  });
}

/** Calls `fn` in libuv's thread pool (koffi's asynchronous call). */
export function callInPool<T>(fn: HostFunction, ...args: unknown[]): Promise<T> {
  return new Promise((resolve, reject) => {
    fn.async(...args, (e: unknown, r: T) => (e ? reject(e) : resolve(r)));
  });
}
