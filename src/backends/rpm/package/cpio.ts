import type { Readable } from "node:stream";
import { isOcipatchError, OcipatchError } from "../../../errors.js";
import type { RpmHeader } from "../header.js";

/**
 * The payload of a .rpm: a "newc" cpio archive (magic 070701, 110-byte ASCII-hex headers, name
 * and data each padded to 4 bytes, ended by TRAILER!!!), read as a stream. rpm writes paths as
 * `./usr/bin/x` and uid/gid 0: names come from the header (FILEUSERNAME/FILEGROUPNAME).
 *
 * Hard links follow newc's nlink semantics: every member of a link set has the same inode and
 * `nlink`, and only the LAST member of the set carries the data. The reader holds the earlier
 * members back and yields, once the set is complete, the data member as a file and then the
 * others as `hardlink` entries pointing at it (as a tar stream would order them).
 *
 * Paths are normalised to absolute paths; a name with a `..` component, an empty name, or a name
 * the header does not list is one INVALID_FORMAT error: nothing of such a payload is trusted.
 */

export type CpioEntryType = "file" | "directory" | "symlink" | "hardlink" | "other";

export interface CpioEntry {
  /** Normalised absolute path ("/usr/bin/x"). */
  readonly path: string;
  readonly type: CpioEntryType;
  /** st_mode with the file-type bits, as the archive has it. */
  readonly mode: number;
  /** Owner and group names from the header. */
  readonly user: string;
  readonly group: string;
  readonly uid: number;
  readonly gid: number;
  /** Seconds since the epoch. */
  readonly mtime: number;
  readonly nlink: number;
  readonly ino: number;
  /** Bytes of content (0 for hard links, directories; the target's length for symlinks). */
  readonly size: number;
  /** Symlink target, or the path a hard link points at; "" otherwise. */
  readonly linkTarget: string;
  /**
   * The content of a regular file, streamed: read it before asking for the next entry (an
   * unread body is skipped). Empty for other types.
   */
  body(): AsyncIterable<Buffer>;
}

const MAGIC = "070701";
const STRIPPED_MAGIC = "07070X";
const HEADER_SIZE = 110;
const TRAILER = "TRAILER!!!";
/** Longest name accepted (PATH_MAX). */
const MAX_NAME = 4096;
const S_IFMT = 0o170000;

function bad(what: string, msg: string): OcipatchError {
  return new OcipatchError("INVALID_FORMAT", `${what}: invalid cpio payload: ${msg}`);
}

/**
 * `./usr/bin/x` → `/usr/bin/x`, `./` (the root, which a package such as `filesystem` owns) → `/`;
 * throws for a `..` component, a NUL byte or an empty name.
 */
export function normaliseCpioPath(name: string, what: string): string {
  if (name === "") throw bad(what, "empty path");
  const parts: string[] = [];
  for (const p of name.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") throw bad(what, `path escapes the root: ${JSON.stringify(name)}`);
    if (p.includes("\0")) throw bad(what, `path has a NUL byte: ${JSON.stringify(name)}`);
    parts.push(p);
  }
  return `/${parts.join("/")}`;
}

/** Pull-based reader of exact byte counts over a stream's chunks. */
class ByteReader {
  private readonly it: AsyncIterator<Buffer>;
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  constructor(
    stream: Readable,
    private readonly what: string,
  ) {
    this.it = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }
  private async more(): Promise<boolean> {
    if (this.done) return false;
    let r: IteratorResult<Buffer>;
    try {
      r = await this.it.next();
    } catch (e) {
      if (isOcipatchError(e)) throw e;
      throw bad(this.what, (e as Error).message);
    }
    if (r.done) {
      this.done = true;
      return false;
    }
    this.buf = this.buf.length === 0 ? r.value : Buffer.concat([this.buf, r.value]);
    return true;
  }
  /** Exactly `n` bytes (n small); throws at a premature end. */
  async exact(n: number): Promise<Buffer> {
    while (this.buf.length < n) if (!(await this.more())) throw bad(this.what, "truncated");
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
  /** Up to `n` bytes of whatever is buffered (reading once when empty); throws at a premature end. */
  async some(n: number): Promise<Buffer> {
    if (this.buf.length === 0 && !(await this.more())) throw bad(this.what, "truncated");
    const k = Math.min(n, this.buf.length);
    const out = this.buf.subarray(0, k);
    this.buf = this.buf.subarray(k);
    return out;
  }
  async close(): Promise<void> {
    await this.it.return?.();
  }
}

interface RawMember {
  readonly name: string;
  readonly ino: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly nlink: number;
  readonly mtime: number;
  readonly size: number;
  readonly devMajor: number;
  readonly devMinor: number;
}

async function readMember(r: ByteReader, what: string): Promise<RawMember> {
  const h = (await r.exact(HEADER_SIZE)).toString("latin1");
  const magic = h.slice(0, 6);
  if (magic === STRIPPED_MAGIC)
    throw new OcipatchError(
      "UNSUPPORTED",
      `${what}: rpm's stripped cpio payload (files over 4 GiB) is not supported`,
    );
  if (magic !== MAGIC) throw bad(what, `bad member magic ${JSON.stringify(magic)}`);
  const field = (i: number): number => {
    const s = h.slice(6 + 8 * i, 14 + 8 * i);
    if (!/^[0-9a-fA-F]{8}$/.test(s)) throw bad(what, `bad header field ${JSON.stringify(s)}`);
    return Number.parseInt(s, 16);
  };
  const namesize = field(11);
  if (namesize < 2 || namesize > MAX_NAME) throw bad(what, `name size ${namesize}`);
  const nameBytes = await r.exact(namesize + ((4 - ((HEADER_SIZE + namesize) % 4)) % 4));
  if (nameBytes[namesize - 1] !== 0) throw bad(what, "name is not NUL-terminated");
  return {
    name: nameBytes.toString("utf8", 0, namesize - 1),
    ino: field(0),
    mode: field(1),
    uid: field(2),
    gid: field(3),
    nlink: field(4),
    mtime: field(5),
    size: field(6),
    devMajor: field(7),
    devMinor: field(8),
  };
}

function typeOf(mode: number): CpioEntryType {
  switch (mode & S_IFMT) {
    case 0o100000:
      return "file";
    case 0o040000:
      return "directory";
    case 0o120000:
      return "symlink";
    default:
      return "other";
  }
}

const EMPTY: AsyncIterable<Buffer> = {
  async *[Symbol.asyncIterator]() {},
};

/**
 * The entries of a newc cpio `stream` (a decompressed rpm payload), owners from `header`. The
 * stream is consumed as entries are asked for; every entry path is checked before it is yielded.
 */
export async function* readCpio(
  stream: Readable,
  header: Pick<RpmHeader, "files">,
  what: string,
): AsyncGenerator<CpioEntry> {
  const owners = new Map<string, { user: string; group: string }>();
  for (const f of header.files) owners.set(f.path, { user: f.user, group: f.group });
  const r = new ByteReader(stream, what);
  const seen = new Set<string>();
  // hard-link sets waiting for their data member: key dev:ino
  const pending = new Map<string, RawMember[]>();
  try {
    for (;;) {
      const m = await readMember(r, what);
      if (m.name === TRAILER) break;
      const path = normaliseCpioPath(m.name, what);
      if (seen.has(path)) throw bad(what, `${path} appears twice`);
      seen.add(path);
      const owner = owners.get(path);
      if (owner === undefined) throw bad(what, `${path} is not a file of the package header`);
      const type = typeOf(m.mode);
      if (path === "/" && type !== "directory") throw bad(what, `the root is a ${type}`);
      if (type !== "file" && type !== "symlink" && m.size !== 0)
        throw bad(what, `${path}: ${type} with content`);
      const entry = (e: Partial<CpioEntry> & Pick<CpioEntry, "path" | "type">, raw: RawMember): CpioEntry => {
        const o = owners.get(e.path)!;
        return {
          mode: raw.mode,
          user: o.user,
          group: o.group,
          uid: raw.uid,
          gid: raw.gid,
          mtime: raw.mtime,
          nlink: raw.nlink,
          ino: raw.ino,
          size: 0,
          linkTarget: "",
          body: () => EMPTY,
          ...e,
        };
      };
      const pad = (4 - (m.size % 4)) % 4;
      if (type === "symlink") {
        if (m.size === 0 || m.size > MAX_NAME) throw bad(what, `${path}: symlink target of ${m.size} bytes`);
        const target = (await r.exact(m.size)).toString("utf8");
        if (target.includes("\0")) throw bad(what, `${path}: symlink target has a NUL byte`);
        await r.exact(pad);
        yield entry({ path, type, size: m.size, linkTarget: target }, m);
        continue;
      }
      if (type !== "file") {
        yield entry({ path, type }, m);
        continue;
      }
      let links: RawMember[] = [];
      if (m.nlink > 1) {
        const key = `${m.devMajor}:${m.devMinor}:${m.ino}`;
        const set = pending.get(key) ?? [];
        if (set.length > 0 && set[0]!.nlink !== m.nlink)
          throw bad(what, `${path}: link count differs within its set`);
        set.push(m);
        if (set.length < m.nlink) {
          if (m.size !== 0) throw bad(what, `${path}: data before the last member of its hard-link set`);
          pending.set(key, set);
          continue;
        }
        pending.delete(key);
        links = set.slice(0, -1);
      }
      // a regular file (or the data member of a complete hard-link set): stream its body
      let left = m.size;
      const body = async function* (): AsyncGenerator<Buffer> {
        while (left > 0) {
          const chunk = await r.some(left);
          left -= chunk.length;
          yield chunk;
        }
      };
      yield entry({ path, type, size: m.size, body }, m);
      while (left > 0) left -= (await r.some(left)).length;
      await r.exact(pad);
      // the other members of its set, now that the data member has a path
      for (const other of links) {
        yield entry({ path: normaliseCpioPath(other.name, what), type: "hardlink", linkTarget: path }, other);
      }
    }
    if (pending.size > 0) {
      const first = [...pending.values()][0]![0]!;
      throw bad(what, `hard-link set of ${normaliseCpioPath(first.name, what)} is incomplete`);
    }
  } finally {
    await r.close();
  }
}
