import { OcipatchError } from "../../../errors.js";
import { ByteReader } from "./byte-reader.js";

/**
 * Streaming reader for the Unix `ar` archive format, the outer container of a
 * .deb (deb(5), ar(5)): the magic `!<arch>\n`, then members each with a 60-byte
 * ASCII header (name[16] mtime[12] uid[6] gid[6] mode[8] size[10] "`\n") followed
 * by the data, padded with "\n" to an even offset.
 *
 * Name quirks handled as far as archives in the wild use them: GNU trailing `/`
 * terminators, GNU `/` (symbol table) and `//` (long-name table) members with
 * `/<offset>` references, and BSD `#1/<len>` names stored in front of the data.
 */
export const AR_MAGIC = "!<arch>\n";
const HEADER_SIZE = 60;

export interface ArMemberHeader {
  readonly name: string;
  readonly mtime: number;
  readonly uid: number;
  readonly gid: number;
  readonly mode: number;
  /** Size of the member's data (BSD long names excluded). */
  readonly size: number;
  /** Offset of the member header in the archive. */
  readonly offset: number;
}

export interface ArMember {
  readonly header: ArMemberHeader;
  /**
   * The member data, as chunks. Consume it (or not) before asking for the next
   * member; whatever is left is skipped.
   */
  readonly body: AsyncIterable<Buffer>;
}

function field(buf: Buffer, start: number, len: number): string {
  return buf.toString("latin1", start, start + len).trimEnd();
}

function parseNumber(s: string, radix: 8 | 10, what: string, archive: string, offset: number): number {
  const re = radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (s === "" && what !== "size") return 0;
  if (!re.test(s)) {
    throw new OcipatchError(
      "INVALID_FORMAT",
      `${archive}: invalid ar member ${what} "${s}" at byte ${offset}`,
    );
  }
  return Number.parseInt(s, radix);
}

/**
 * Iterate over the members of an ar archive. Reads strictly sequentially; the
 * body of each member streams from the source.
 */
export async function* readAr(
  source: AsyncIterable<Buffer | string>,
  archive = "ar archive",
): AsyncGenerator<ArMember> {
  const r = new ByteReader(source, archive);
  try {
    const magic = await r.read(AR_MAGIC.length, "the ar magic");
    if (magic.toString("latin1") !== AR_MAGIC) {
      throw new OcipatchError("INVALID_FORMAT", `${archive}: not an ar archive (bad magic)`);
    }
    let longNames: Buffer | undefined;
    while (!(await r.atEnd())) {
      const offset = r.offset;
      const h = await r.read(HEADER_SIZE, "an ar member header");
      if (h[58] !== 0x60 || h[59] !== 0x0a) {
        throw new OcipatchError("INVALID_FORMAT", `${archive}: corrupt ar member header at byte ${offset}`);
      }
      let name = field(h, 0, 16);
      const mtime = parseNumber(field(h, 16, 12), 10, "mtime", archive, offset);
      const uid = parseNumber(field(h, 28, 6), 10, "uid", archive, offset);
      const gid = parseNumber(field(h, 34, 6), 10, "gid", archive, offset);
      const mode = parseNumber(field(h, 40, 8), 8, "mode", archive, offset);
      let size = parseNumber(field(h, 48, 10), 10, "size", archive, offset);
      const padded = size % 2 === 1;

      if (name.startsWith("#1/")) {
        // BSD: the name is the first <len> bytes of the data.
        const len = parseNumber(name.slice(3), 10, "name length", archive, offset);
        if (len > size)
          throw new OcipatchError("INVALID_FORMAT", `${archive}: bad BSD member name at ${offset}`);
        name = (await r.read(len, "a BSD member name")).toString("utf8").replace(/\0+$/, "");
        size -= len;
      } else if (name === "//") {
        // GNU long-name table: keep it (small) and continue.
        if (size > 1024 * 1024)
          throw new OcipatchError("INVALID_FORMAT", `${archive}: oversized ar name table`);
        longNames = await r.read(size, "the ar long-name table");
        if (padded) await r.skip(1, "ar padding");
        continue;
      } else if (name === "/" || name === "/SYM64/") {
        await r.skip(size, "the ar symbol table");
        if (padded) await r.skip(1, "ar padding");
        continue;
      } else if (/^\/\d+$/.test(name)) {
        const at = Number.parseInt(name.slice(1), 10);
        if (!longNames || at >= longNames.length) {
          throw new OcipatchError("INVALID_FORMAT", `${archive}: dangling ar long-name reference ${name}`);
        }
        let end = longNames.indexOf("/\n", at, "latin1");
        if (end === -1) end = longNames.indexOf("\n", at, "latin1");
        name = longNames.toString("utf8", at, end === -1 ? longNames.length : end);
      } else if (name.endsWith("/")) {
        name = name.slice(0, -1); // GNU terminator
      }

      const header: ArMemberHeader = { name, mtime, uid, gid, mode, size, offset };
      let consumed = 0;
      const body = (async function* () {
        for await (const c of r.chunks(size - consumed, `ar member ${name}`)) {
          consumed += c.length;
          yield c;
        }
      })();
      yield { header, body };
      if (consumed < size) await r.skip(size - consumed, `ar member ${name}`);
      if (padded) {
        if (await r.atEnd()) break; // some writers omit the final pad byte
        await r.skip(1, "ar padding");
      }
    }
  } finally {
    await r.close();
  }
}
