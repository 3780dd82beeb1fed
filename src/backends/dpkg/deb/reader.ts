import { createReadStream } from "node:fs";
import { PassThrough, Readable, type Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as tar from "tar-stream";
import { isOcipatchError, OcipatchError } from "../../../errors.js";
import { DigestStream } from "../../../util/digest.js";
import { expectedDigest, verifyFile } from "../../../util/verified-file.js";
import { parseParagraphs } from "../debian/deb822.js";
import { type ArMember, readAr } from "./ar.js";
import { parseConffiles, parseMd5sums } from "./control.js";
import { toDataEntryHeader } from "./data-entry.js";
import {
  assertDebCompressionSupported,
  compressionOfMember,
  type DebCompression,
  debDecompressor,
} from "./decompress.js";
import {
  type ControlMember,
  type DataEntry,
  type DebExpectation,
  type DebPackage,
  MAINTAINER_SCRIPTS,
  type MaintainerScriptName,
} from "./types.js";

/** One tar-stream entry (a streamx Readable). */
type TarEntry = tar.Extract extends AsyncIterable<infer S> ? S : never;

/**
 * A Node Readable over one tar-stream entry. Destroying a tar-stream entry
 * aborts the whole extraction, so the caller gets this adapter instead: it may
 * read it fully, partly or not at all; the rest is skipped afterwards.
 */
class EntryContent extends Readable {
  private ended = false;
  private readonly endPromise: Promise<void>;

  constructor(private readonly src: TarEntry) {
    super();
    this.endPromise = new Promise<void>((resolve, reject) => {
      src.on("end", () => {
        this.ended = true;
        resolve();
      });
      src.on("error", (e: Error) => {
        reject(e);
        if (!this.destroyed) this.destroy(e);
      });
      src.on("close", () => {
        if (this.ended) return;
        const e = new OcipatchError("INVALID_FORMAT", "data.tar entry ended early");
        reject(e);
        if (!this.destroyed) this.destroy(e);
      });
    });
    this.endPromise.catch(() => {}); // observed by skipRest(); avoid an unhandled rejection meanwhile
    // An entry nobody reads (a directory, or the one being read when the consumer stopped —
    // e.g. cancelled) is destroyed with an error when the tar stream closes early; a reader gets
    // the error through its own listener, but without one it must not crash the process.
    this.on("error", () => {});
    src.on("data", (c: unknown) => {
      if (this.destroyed) return;
      if (!this.push(c as Buffer)) src.pause();
    });
    src.on("end", () => {
      if (!this.destroyed) this.push(null);
    });
    src.pause();
  }

  override _read(): void {
    this.src.resume();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.src.resume(); // keep the tar stream moving; data is dropped
    cb(err);
  }

  /** Skip whatever the consumer did not read; resolves at the end of the entry. */
  async skipRest(): Promise<void> {
    if (!this.ended) {
      if (!this.destroyed) this.destroy();
      this.src.resume();
    }
    await this.endPromise;
  }
}

/** Limits against hostile packages: the control part is read into memory. */
const MAX_CONTROL_MEMBER = 64 * 1024 * 1024;
const MAX_CONTROL_TOTAL = 128 * 1024 * 1024;

export interface OpenDebOptions {
  /** For messages: the file name or URL. */
  readonly source?: string;
  /**
   * Expected SHA256 (+ size) of the whole .deb. With `openDeb` (a stream) the
   * check completes only when `entries()` has been iterated to its end; with
   * `openDebFile` the whole file is verified BEFORE anything is parsed.
   */
  readonly expect?: DebExpectation;
}

function wrap(e: unknown, source: string, what: string): Error {
  if (isOcipatchError(e)) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new OcipatchError("INVALID_FORMAT", `${source}: corrupt ${what}: ${msg}`, { cause: e });
}

/** Decompress an ar member body and feed it through a tar extractor. */
function tarOf(
  member: ArMember,
  compression: DebCompression,
  source: string,
  readAhead = 0,
): { extract: tar.Extract; done: Promise<void> } {
  const what = `${source} ${member.header.name}`;
  const dec: Transform | undefined = debDecompressor(compression, what, member.header.size);
  const extract = tar.extract();
  const input = Readable.from(member.body, { objectMode: false });
  const stages: unknown[] = [input];
  if (dec) stages.push(dec);
  // decoded bytes held until the entries are read (see DebPackage.prefetch)
  if (readAhead > 0) stages.push(new PassThrough({ highWaterMark: readAhead }));
  stages.push(extract);
  const done = (pipeline as unknown as (...s: unknown[]) => Promise<void>)(...stages).catch((e: unknown) => {
    throw wrap(e, source, member.header.name);
  });
  done.catch(() => {}); // observed by the caller; avoid an unhandled rejection meanwhile
  return { extract, done };
}

async function readControlTar(
  member: ArMember,
  compression: DebCompression,
  source: string,
): Promise<Map<string, ControlMember>> {
  const { extract, done } = tarOf(member, compression, source);
  const out = new Map<string, ControlMember>();
  let total = 0;
  try {
    for await (const entry of extract) {
      const h = entry.header;
      const name = h.name.replace(/^(\.\/)+/, "").replace(/\/+$/, "");
      if (h.type === "directory" && (name === "" || name === ".")) {
        entry.resume();
        continue;
      }
      if (h.type !== "file" && h.type !== "contiguous-file") {
        throw new OcipatchError(
          "INVALID_FORMAT",
          `${source}: control member "${h.name.slice(0, 100)}" is not a regular file`,
        );
      }
      if (name === "" || name.includes("/") || name === "..") {
        throw new OcipatchError(
          "HOSTILE_LAYER",
          `${source}: bad control member name "${h.name.slice(0, 100)}"`,
        );
      }
      const size = h.size ?? 0;
      total += size;
      if (size > MAX_CONTROL_MEMBER || total > MAX_CONTROL_TOTAL) {
        throw new OcipatchError("HOSTILE_LAYER", `${source}: control archive is too large`);
      }
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      out.set(name, { name, mode: (h.mode ?? 0o644) & 0o7777, data: Buffer.concat(chunks) });
    }
    await done;
  } catch (e) {
    throw wrap(e, source, member.header.name);
  }
  return out;
}

/** Read and check `debian-binary`, `control.tar*`; leave the ar reader positioned on `data.tar*`. */
export async function openDeb(stream: Readable, opts: OpenDebOptions = {}): Promise<DebPackage> {
  const source = opts.source ?? "package";
  let input: AsyncIterable<Buffer> = stream;
  if (opts.expect) {
    const ds = new DigestStream({
      digest: expectedDigest(opts.expect),
      ...(opts.expect.size === undefined ? {} : { size: opts.expect.size }),
      what: source,
    });
    stream.on("error", (e) => ds.destroy(e));
    input = stream.pipe(ds);
  }
  const members = readAr(input, source);
  let closed = false;
  /** The data.tar decoding, once started (by entries() or prefetch()). */
  let decoding: { extract: tar.Extract; done: Promise<void>; iterator: AsyncIterator<TarEntry> } | undefined;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    decoding?.extract.destroy();
    await members.return(undefined);
    stream.destroy();
  };
  const next = async (what: string): Promise<ArMember> => {
    for (;;) {
      const r = await members.next();
      if (r.done) throw new OcipatchError("INVALID_FORMAT", `${source}: not a .deb: no ${what} member`);
      // dpkg ignores members starting with "_" (e.g. debsigs' _gpgorigin).
      if (r.value.header.name.startsWith("_")) continue;
      return r.value;
    }
  };

  try {
    const first = await members.next();
    if (first.done || first.value.header.name !== "debian-binary") {
      throw new OcipatchError("INVALID_FORMAT", `${source}: not a .deb: first member is not debian-binary`);
    }
    const chunks: Buffer[] = [];
    for await (const c of first.value.body) chunks.push(c);
    const version = Buffer.concat(chunks).toString("latin1");
    if (!/^2\.\d+\n/.test(version)) {
      throw new OcipatchError(
        "UNSUPPORTED",
        `${source}: .deb format version "${version.trim().slice(0, 20)}" is not supported (only 2.x)`,
      );
    }

    const ctl = await next("control.tar");
    const controlCompression = compressionOfMember(ctl.header.name, "control.tar");
    if (!controlCompression) {
      throw new OcipatchError(
        "INVALID_FORMAT",
        `${source}: unexpected member "${ctl.header.name}" where control.tar was expected`,
      );
    }
    const controlMembers = await readControlTar(ctl, controlCompression, source);

    const data = await next("data.tar");
    const dataCompression = compressionOfMember(data.header.name, "data.tar");
    if (!dataCompression) {
      throw new OcipatchError(
        "INVALID_FORMAT",
        `${source}: unexpected member "${data.header.name}" where data.tar was expected`,
      );
    }
    assertDebCompressionSupported(dataCompression, `${source} ${data.header.name}`); // fail early

    const controlFile = controlMembers.get("control");
    if (!controlFile) throw new OcipatchError("INVALID_FORMAT", `${source}: control.tar has no control file`);
    const paragraphs = parseParagraphs(controlFile.data.toString("utf8"), { source: `${source}:control` });
    if (paragraphs.length !== 1 || !paragraphs[0]!.get("Package")) {
      throw new OcipatchError(
        "INVALID_FORMAT",
        `${source}: control file must hold exactly one package paragraph`,
      );
    }
    const md5 = controlMembers.get("md5sums");
    const conff = controlMembers.get("conffiles");
    const scripts: Partial<Record<MaintainerScriptName, Buffer>> = {};
    for (const s of MAINTAINER_SCRIPTS) {
      const m = controlMembers.get(s);
      if (m) scripts[s] = m.data;
    }

    let iterated = false;
    const decode = (readAhead: number) => {
      if (!decoding) {
        const t = tarOf(data, dataCompression!, source, readAhead);
        // tar-stream hands entries only to a listener: take them from the start, the first one
        // waits in the iterator (and the rest in the read-ahead) until entries() asks
        decoding = { ...t, iterator: t.extract[Symbol.asyncIterator]() };
      }
      return decoding;
    };
    async function* entries(): AsyncGenerator<DataEntry> {
      if (iterated) throw new OcipatchError("INTERNAL", `${source}: data.tar entries can be read only once`);
      iterated = true;
      if (closed) throw new OcipatchError("INTERNAL", `${source}: the package is closed`);
      const { extract, done, iterator } = decode(0);
      try {
        for await (const entry of { [Symbol.asyncIterator]: () => iterator }) {
          const header = toDataEntryHeader(entry.header, source);
          const content = new EntryContent(entry);
          yield { header, content };
          await content.skipRest();
        }
        await done;
        // Read to the end of the archive so a digest expectation is checked.
        for (;;) {
          const r = await members.next();
          if (r.done) break;
          for await (const _ of r.value.body) {
            // discard
          }
        }
      } catch (e) {
        throw wrap(e, source, data.header.name);
      } finally {
        extract.destroy();
        await close();
      }
    }

    return {
      source,
      control: paragraphs[0]!,
      controlMembers,
      md5sums: md5 ? parseMd5sums(md5.data.toString("utf8"), `${source}:md5sums`) : undefined,
      conffiles: conff ? parseConffiles(conff.data.toString("utf8"), `${source}:conffiles`) : [],
      scripts,
      controlCompression,
      dataCompression,
      entries,
      prefetch: (readAhead: number) => {
        if (!iterated && !closed) decode(readAhead);
      },
      close,
    };
  } catch (e) {
    await close().catch(() => {});
    throw wrap(e, source, "archive");
  }
}

/**
 * Open a .deb file. With an expectation, the WHOLE file is hashed first and a
 * mismatch throws DIGEST_MISMATCH before a single byte is parsed: this is the
 * mode the patch engine uses (download to a private temp file with
 * `saveVerified`, or verify here, then parse from disk).
 */
export async function openDebFile(path: string, opts: OpenDebOptions = {}): Promise<DebPackage> {
  const source = opts.source ?? path;
  if (opts.expect) await verifyFile(path, opts.expect, source);
  const stream = createReadStream(path);
  return openDeb(stream, { source });
}
