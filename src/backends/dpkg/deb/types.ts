import type { Readable } from "node:stream";
import type { FileExpectation } from "../../../util/verified-file.js";
import type { Paragraph } from "../debian/deb822.js";
import type { DebCompression } from "./decompress.js";

/** The maintainer scripts dpkg knows (deb-preinst(5), deb-postinst(5), ...). */
export const MAINTAINER_SCRIPTS = ["preinst", "postinst", "prerm", "postrm", "config"] as const;
export type MaintainerScriptName = (typeof MAINTAINER_SCRIPTS)[number];

/** One file of the control archive (control, md5sums, conffiles, scripts, triggers, shlibs...). */
export interface ControlMember {
  readonly name: string;
  readonly mode: number;
  readonly data: Buffer;
}

/** A line of the control `conffiles` file (deb-conffiles(5)). */
export interface ConffileEntry {
  /** Absolute path, e.g. `/etc/nginx/nginx.conf`. */
  readonly path: string;
  /** dpkg ≥ 1.20.6: the conffile is to be removed on upgrade and is not shipped. */
  readonly removeOnUpgrade: boolean;
}

export type DataEntryType = "file" | "directory" | "symlink" | "hardlink";

/** A data.tar entry header, normalised. */
export interface DataEntryHeader {
  /**
   * Path relative to the root, without leading `./` or `/` and without a
   * trailing slash; the root directory entry (`./`) is ".".
   */
  readonly path: string;
  readonly type: DataEntryType;
  /** Permission bits including setuid/setgid/sticky (mode & 0o7777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly uname: string;
  readonly gname: string;
  /** Seconds since the epoch. */
  readonly mtime: number;
  /** Symlink target (verbatim) or hardlink target (normalised like `path`); "" otherwise. */
  readonly linkname: string;
  /** Content size; 0 for everything but regular files. */
  readonly size: number;
}

export interface DataEntry {
  readonly header: DataEntryHeader;
  /** The file content (empty for non-files). Read it before asking for the next entry, or it is skipped. */
  readonly content: Readable;
}

/** Expected identity of a .deb, as published in the signed Packages index. */
export type DebExpectation = FileExpectation;

/** A .deb opened for reading: the control part is parsed, the data part streams once. */
export interface DebPackage {
  /** For messages: the file name or URL. */
  readonly source: string;
  /** The `control` paragraph. */
  readonly control: Paragraph;
  /** Every control member by name (`control`, `md5sums`, `conffiles`, `postinst`, `triggers`...). */
  readonly controlMembers: ReadonlyMap<string, ControlMember>;
  /** `md5sums`: path (no leading slash) → md5 hex; undefined when the package ships none. */
  readonly md5sums: ReadonlyMap<string, string> | undefined;
  readonly conffiles: readonly ConffileEntry[];
  /** Maintainer scripts present in the package. */
  readonly scripts: Partial<Record<MaintainerScriptName, Buffer>>;
  readonly controlCompression: DebCompression;
  readonly dataCompression: DebCompression;
  /**
   * The data.tar entries, in archive order. Can be iterated once. When the
   * package was opened from a stream with an expectation, the digest check
   * happens after the last entry: the iteration throws DIGEST_MISMATCH then.
   */
  entries(): AsyncGenerator<DataEntry>;
  /**
   * Start decoding data.tar now (the decompressor runs, in its own process for large xz
   * members), holding up to `readAhead` decoded bytes until `entries()` reads them: the next
   * package is decoded while the current one is written. Nothing is parsed or checked earlier
   * than without it; an error surfaces from `entries()`. No effect once `entries()` has started.
   */
  prefetch(readAhead: number): void;
  /** Stop reading (closes the underlying file). Safe to call more than once. */
  close(): Promise<void>;
}
