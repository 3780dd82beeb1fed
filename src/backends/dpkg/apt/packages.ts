import { closeSync, createReadStream, openSync, readFileSync, readSync } from "node:fs";
import { isOcipatchError, OcipatchError } from "../../../errors.js";
import type { SuiteKind } from "../../../plan/suites.js";
import { rangeAt } from "../../../util/sorted.js";
import { iterateParagraphs } from "../debian/deb822.js";
import { type Provision, parseProvides, parseRelations, type RelationGroup } from "../debian/relations.js";

/** Where an index came from. */
export interface IndexOrigin {
  /** The archive URI as the sources name it (before mirror rewriting). */
  readonly uri: string;
  /** The URI actually used to download (after mirror rewriting); `.deb` URLs are built on it. */
  readonly fetchUri: string;
  readonly suite: string;
  readonly kind: SuiteKind;
  readonly component: string;
  readonly architecture: string;
  /** apt pin priority of the suite: 500, or 100/1 for NotAutomatic suites. */
  readonly priority: number;
}

export type MultiArch = "no" | "same" | "foreign" | "allowed";

/** One version of one binary package available from a repository. */
export interface AvailablePackage {
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
  readonly multiArch: MultiArch;
  readonly source: string;
  readonly sourceVersion: string;
  readonly essential: boolean;
  readonly priority: string | undefined;
  readonly depends: readonly RelationGroup[];
  readonly preDepends: readonly RelationGroup[];
  readonly provides: readonly Provision[];
  readonly breaks: readonly RelationGroup[];
  readonly conflicts: readonly RelationGroup[];
  /** Path of the .deb relative to the archive root (`pool/main/o/openssl/...deb`). */
  readonly filename: string;
  readonly size: number;
  readonly sha256: string;
  readonly origin: IndexOrigin;
}

/** `Source: name (version)` or `Source: name` or absent. */
export function parsePackagesSourceField(
  source: string | undefined,
  binaryName: string,
  binaryVersion: string,
): { name: string; version: string } {
  if (source === undefined || source.trim() === "") return { name: binaryName, version: binaryVersion };
  const m = /^(\S+)(?:\s*\(([^)]+)\))?$/.exec(source.trim());
  if (!m) return { name: source.trim(), version: binaryVersion };
  return { name: m[1]!, version: m[2]?.trim() ?? binaryVersion };
}

export function parseMultiArch(v: string | undefined): MultiArch {
  const s = (v ?? "no").trim().toLowerCase();
  return s === "same" || s === "foreign" || s === "allowed" ? s : "no";
}

const PARAGRAPH_END = Buffer.from("\n\n");
const CRLF = Buffer.from("\r\n");
const EMPTY = Buffer.alloc(0);
const PACKAGE_FIELD = Buffer.from("Package:");
const PROVIDES_FIELD = Buffer.from("Provides:");

/** Is byte `c` white space as String.prototype.trim sees it in latin1 (tab to CR, space, NBSP)? */
function isSpace(c: number): boolean {
  return (c >= 9 && c <= 13) || c === 32 || c === 0xa0;
}

/**
 * The value of the first line of `b` in [start, end) starting with `prefix` (`Field:`), trimmed.
 * Trimmed in the bytes: a trimmed string would be a slice keeping the untrimmed one alive, for each
 * of the ~65,000 names of a universe index.
 */
function fieldInRange(b: Buffer, prefix: Buffer, start: number, end: number): string | undefined {
  let p = start;
  while (p < end) {
    const eol = b.indexOf(10, p);
    const lineEnd = eol === -1 || eol > end ? end : eol;
    if (lineEnd - p >= prefix.length && b.compare(prefix, 0, prefix.length, p, p + prefix.length) === 0) {
      let from = p + prefix.length;
      let to = lineEnd;
      while (from < to && isSpace(b[from]!)) from++;
      while (to > from && isSpace(b[to - 1]!)) to--;
      return b.toString("latin1", from, to);
    }
    p = lineEnd + 1;
  }
  return undefined;
}

/** Offsets of the lines of `b` that start with `prefix`. */
function* linesStartingWith(b: Buffer, prefix: Buffer): Generator<number> {
  if (b.subarray(0, prefix.length).equals(prefix)) yield 0;
  const after = Buffer.concat([Buffer.from("\n"), prefix]);
  for (let at = b.indexOf(after); at !== -1; at = b.indexOf(after, at + 1)) yield at + 1;
}

/** An index being read piece by piece (see `PackagesIndex.fromPieces`). */
export interface IndexPieces {
  /** The next piece of the file's bytes, in order. */
  push(piece: Buffer): void;
  /** The index, once every piece was pushed and the file holds them all. */
  finish(): PackagesIndex;
}

/**
 * A Packages index, parsed lazily: building it only finds paragraph boundaries,
 * package names and Provides lines in the bytes; a package's paragraph is decoded and
 * parsed the first time someone asks for it. This keeps a 45 MB main index usable in well
 * under a second. When the same bytes are in a file (the client's verified cache), they are
 * not kept: they are scanned piece by piece as they are written or read, and a paragraph is read
 * from the file when asked for (Ubuntu's universe index is 73 MB).
 */
export class PackagesIndex {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private readonly byName: OneOrMore = new Map();
  private readonly byProvides: OneOrMore = new Map();
  private readonly parsed = new Map<number, AvailablePackage>();

  /** `bytes`: the index's bytes, or undefined when they are read from `file`. */
  private constructor(
    readonly origin: IndexOrigin,
    private readonly where: string,
    private readonly file: string | undefined,
    private readonly bytes: Buffer | undefined,
  ) {}

  /** Build from the file's bytes, kept in memory; only ASCII fields are used, so latin1 decoding is exact for them. */
  static fromBytes(bytes: Buffer, origin: IndexOrigin, where: string): PackagesIndex {
    // CRLF files (never seen in Debian archives, but cheap to accept): kept, converted
    const b = bytes.includes(CRLF)
      ? Buffer.from(bytes.toString("latin1").replace(/\r\n/g, "\n"), "latin1")
      : bytes;
    const index = new PackagesIndex(origin, where, undefined, b);
    index.scan(b, 0);
    return index;
  }

  /**
   * An index of the bytes of `file`, scanned piece by piece as they come (while the file is
   * written, or read): only the paragraph a piece ends in is held between pieces. A CRLF file is
   * read whole from `file` by `finish` instead, and kept converted (as `fromBytes` does).
   */
  static fromPieces(origin: IndexOrigin, where: string, file: string): IndexPieces {
    const index = new PackagesIndex(origin, where, file, undefined);
    /** The bytes after the last paragraph end seen so far, and their offset in the file. */
    let carry = EMPTY;
    let base = 0;
    let crlf = false;
    return {
      push(piece: Buffer): void {
        if (crlf) return;
        if (piece.includes(CRLF) || (carry.at(-1) === 13 && piece[0] === 10)) {
          crlf = true;
          carry = EMPTY;
          return;
        }
        // The first paragraph end: across the seam, or in the piece. Only the paragraph the carry
        // began is joined into a buffer of its own; the piece is scanned where it is (joining all of
        // it to the carry copied every byte of the index once more).
        const first = carry.at(-1) === 10 && piece[0] === 10 ? 0 : piece.indexOf(PARAGRAPH_END);
        if (first === -1) {
          carry = Buffer.concat([carry, piece]);
          return;
        }
        if (carry.length + first > 0) index.scan(Buffer.concat([carry, piece.subarray(0, first)]), base);
        base += carry.length;
        const cut = Math.max(first, piece.lastIndexOf(PARAGRAPH_END));
        if (cut > first) index.scan(piece.subarray(first, cut), base + first);
        // a copy: the piece's memory is not kept for the few bytes after its last paragraph
        carry = Buffer.from(piece.subarray(cut));
        base += cut;
      },
      finish(): PackagesIndex {
        if (crlf) return PackagesIndex.fromBytes(readIndexFile(file, where), origin, where);
        index.scan(carry, base);
        carry = EMPTY;
        return index;
      },
    };
  }

  /** An index of a file, read piece by piece (`fromPieces`); a file of another size than `size` is an error. */
  static async fromFile(
    file: string,
    size: number,
    origin: IndexOrigin,
    where: string,
  ): Promise<PackagesIndex> {
    const pieces = PackagesIndex.fromPieces(origin, where, file);
    let n = 0;
    try {
      for await (const b of createReadStream(file, { highWaterMark: 1 << 20 })) {
        n += (b as Buffer).length;
        pieces.push(b as Buffer);
      }
    } catch (e) {
      if (isOcipatchError(e)) throw e;
      throw cannotRead(where, file, e);
    }
    if (n !== size) throw cutShort(where, file);
    return pieces.finish();
  }

  get size(): number {
    return this.starts.length;
  }

  /** Paragraphs and Provides of `b`, whole paragraphs that start at `base` in the file. */
  private scan(b: Buffer, base: number): void {
    let pos = 0;
    const n = b.length;
    while (pos < n) {
      // skip blank lines
      while (pos < n && (b[pos] === 10 || b[pos] === 13)) pos++;
      if (pos >= n) break;
      let end = b.indexOf(PARAGRAPH_END, pos);
      if (end === -1) end = n;
      const i = this.starts.length;
      this.starts.push(base + pos);
      this.ends.push(base + end);
      const name = fieldInRange(b, PACKAGE_FIELD, pos, end);
      if (name === undefined) {
        throw new OcipatchError(
          "INVALID_FORMAT",
          `${this.where}: paragraph at offset ${base + pos} has no Package field`,
        );
      }
      push(this.byName, name, i);
      pos = end;
    }
    // every Provides field, with its continuation lines
    for (const line of linesStartingWith(b, PROVIDES_FIELD)) {
      const from = line + PROVIDES_FIELD.length;
      let eol = b.indexOf(10, from);
      while (eol !== -1 && (b[eol + 1] === 32 || b[eol + 1] === 9)) eol = b.indexOf(10, eol + 1);
      const value = b.toString("latin1", from, eol === -1 ? n : eol);
      const i = this.paragraphAt(base + line);
      for (const part of value.split(",")) {
        const name = /^\s*([a-z0-9][a-z0-9+.-]*)/.exec(part)?.[1];
        if (name) push(this.byProvides, name, i);
      }
    }
  }

  /** Paragraph i as text: from the bytes, or read from the file they were dropped for. */
  private paragraphText(i: number): string {
    const start = this.starts[i]!;
    const end = this.ends[i]!;
    if (this.bytes !== undefined) return this.bytes.toString("latin1", start, end);
    const buf = Buffer.allocUnsafe(end - start);
    let got: number;
    try {
      const fd = openSync(this.file!, "r");
      try {
        got = readSync(fd, buf, 0, buf.length, start);
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      throw cannotRead(this.where, this.file!, e);
    }
    if (got !== buf.length) throw cutShort(this.where, this.file!);
    return buf.toString("latin1");
  }

  private paragraphAt(offset: number): number {
    return rangeAt(this.starts, offset);
  }

  private parse(i: number): AvailablePackage {
    const cached = this.parsed.get(i);
    if (cached) return cached;
    const chunk = this.paragraphText(i);
    const where = `${this.where} (paragraph ${i + 1})`;
    const p = iterateParagraphs(chunk, { source: where }).next().value;
    if (!p) throw new OcipatchError("INVALID_FORMAT", `${where}: empty paragraph`);
    const need = (f: string): string => {
      const v = p.get(f);
      if (v === undefined || v === "") throw new OcipatchError("INVALID_FORMAT", `${where}: missing ${f}`);
      return v;
    };
    const name = need("Package");
    const version = need("Version");
    const ctx = (f: string): string => `${this.where}: ${name} ${version} ${f}`;
    const src = parsePackagesSourceField(p.get("Source"), name, version);
    const size = Number(need("Size"));
    const sha256 = need("SHA256").toLowerCase();
    if (!Number.isSafeInteger(size) || !/^[0-9a-f]{64}$/.test(sha256)) {
      throw new OcipatchError("INVALID_FORMAT", `${where}: bad Size or SHA256 for ${name} ${version}`);
    }
    const pkg: AvailablePackage = {
      name,
      version,
      architecture: need("Architecture"),
      multiArch: parseMultiArch(p.get("Multi-Arch")),
      source: src.name,
      sourceVersion: src.version,
      essential: /^yes$/i.test(p.get("Essential") ?? ""),
      priority: p.get("Priority"),
      depends: parseRelations(p.get("Depends"), { context: ctx("Depends") }),
      preDepends: parseRelations(p.get("Pre-Depends"), { context: ctx("Pre-Depends") }),
      provides: parseProvides(p.get("Provides"), ctx("Provides")),
      breaks: parseRelations(p.get("Breaks"), { context: ctx("Breaks") }),
      conflicts: parseRelations(p.get("Conflicts"), { context: ctx("Conflicts") }),
      filename: need("Filename"),
      size,
      sha256,
      origin: this.origin,
    };
    this.parsed.set(i, pkg);
    return pkg;
  }

  /** Every version of a package in this index. */
  get(name: string): AvailablePackage[] {
    return all(this.byName, name).map((i) => this.parse(i));
  }

  /** Packages whose Provides names `name`. */
  providers(name: string): AvailablePackage[] {
    return all(this.byProvides, name).map((i) => this.parse(i));
  }

  /** Every package name in the index. */
  names(): IterableIterator<string> {
    return this.byName.keys();
  }

  /** Parse everything (tests and diagnostics). */
  *all(): Generator<AvailablePackage> {
    for (let i = 0; i < this.starts.length; i++) yield this.parse(i);
  }
}

function cannotRead(where: string, file: string, e: unknown): OcipatchError {
  return new OcipatchError("IO", `${where}: cannot read the cached index ${file}: ${(e as Error).message}`, {
    cause: e,
  });
}

function cutShort(where: string, file: string): OcipatchError {
  return new OcipatchError("INVALID_FORMAT", `${where}: the cached index ${file} was cut short`);
}

function readIndexFile(file: string, where: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw cannotRead(where, file, e);
  }
}

/**
 * Paragraph numbers by name: one number for a name with one paragraph (nearly all), an array for
 * more. An array for each of the ~65,000 names of a universe index took 20 MiB more (heap snapshot,
 * docs/BENCHMARKS.md, thirteenth session).
 */
type OneOrMore = Map<string, number | number[]>;

function push(m: OneOrMore, k: string, v: number): void {
  const a = m.get(k);
  if (a === undefined) m.set(k, v);
  else if (typeof a === "number") m.set(k, [a, v]);
  else a.push(v);
}

function all(m: OneOrMore, k: string): readonly number[] {
  const a = m.get(k);
  return a === undefined ? [] : typeof a === "number" ? [a] : a;
}
