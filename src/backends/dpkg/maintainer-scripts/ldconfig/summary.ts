import type { FileSummarizer } from "../../../../rootfs/index.js";
import { type ElfResult, readElfLibrary } from "./elf.js";
import { isAnyDsoName } from "./scan.js";

/**
 * Where Debian and Ubuntu keep the libraries ldconfig reads: the built-in directories (multiarch,
 * /lib, /usr/lib) and the usual /etc/ld.so.conf ones. A directory of ld.so.conf outside these is
 * read when ldconfig runs (no summary).
 */
const LIBRARY_DIRS = [
  "lib",
  "lib/*-linux-gnu*",
  "lib32",
  "lib64",
  "libx32",
  "usr/lib",
  "usr/lib/*-linux-gnu*",
  "usr/lib32",
  "usr/lib64",
  "usr/libx32",
  "usr/local/lib",
  "usr/local/lib/*-linux-gnu*",
];

/** Larger libraries are read when ldconfig runs (a summarized file is buffered while it is indexed). */
const MAX_SUMMARIZED_LIBRARY_BYTES = 16 * 1024 * 1024;

/** A result that shares nothing with the file it was read from (strings copied, no Buffer kept). */
function detached(r: ElfResult): ElfResult {
  if (r.kind !== "library") return { kind: r.kind, reason: copy(r.reason) };
  const { flags, soname, osversion } = r.library;
  return {
    kind: "library",
    library: { flags, soname: soname === undefined ? undefined : copy(soname), osversion },
  };
}

/** A flat copy of a string (never a slice of a larger one). */
function copy(s: string): string {
  return Buffer.from(s, "latin1").toString("latin1");
}

/**
 * ldconfig's reading of each library-named file (`isAnyDsoName`) in the
 * library directories, made while the image's layers are indexed: the native ldconfig then
 * needs no second read of an image layer for the libraries the patch does not change.
 */
export const ELF_LIBRARY_SUMMARY: FileSummarizer<ElfResult> = {
  id: "dpkg/ldconfig-elf/1",
  patterns: LIBRARY_DIRS.map((d) => `${d}/*`),
  name: isAnyDsoName,
  maxFileBytes: MAX_SUMMARIZED_LIBRARY_BYTES,
  summarize: (content) => detached(readElfLibrary(content)),
};
