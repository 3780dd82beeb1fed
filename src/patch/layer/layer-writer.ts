import { createHash } from "node:crypto";
import { createWriteStream, type WriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import type { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import { OcipatchError } from "../../errors.js";
import { FileLayer } from "../../image/file-layer.js";
import type { Descriptor } from "../../image/manifest.js";
import { type Compression, layerMediaType, MediaTypes } from "../../image/media-types.js";
import { compressor } from "../../util/compression.js";
import { DigestStream } from "../../util/digest.js";
import { coalesce, discard } from "../../util/streams.js";

/** Ownership and times of an entry written into a layer. */
export interface EntryMeta {
  readonly mode: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly uname?: string;
  readonly gname?: string;
  readonly mtime?: Date;
  /** Extended attributes (name → raw value), as PAX `SCHILY.xattr.<name>` records of the entry. */
  readonly xattrs?: Readonly<Record<string, Buffer>>;
}

export interface FinishedLayer {
  readonly layer: FileLayer;
  /** Size of the uncompressed tar. */
  readonly uncompressedSize: number;
  readonly entries: number;
  /** Every entry's path (no leading slash, no trailing slash; whiteouts as `dir/.wh.name`). */
  readonly paths: ReadonlySet<string>;
}

const WHITEOUT_PREFIX = ".wh.";

/** Compression level of gzip patch layers. */
export const GZIP_LEVEL = 4;

function clean(path: string): string {
  const p = path.replace(/^\/+/, "").replace(/\/+$/, "");
  if (p === "" || p.split("/").some((c) => c === ".." || c === "." || c === "")) {
    throw new OcipatchError("INTERNAL", `refusing to write unsafe layer path "${path}"`);
  }
  return p;
}

/** One PAX record, `<length> <key>=<value>\n`, the length counting itself; the value raw bytes. */
function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from("\n")]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

/** Whether tar-stream writes `name` in a plain ustar header (ASCII, fits name/prefix), so without a PAX header of its own. */
function fitsUstar(name: string, linkname: string): boolean {
  if (Buffer.byteLength(name) !== name.length || Buffer.byteLength(linkname) !== linkname.length)
    return false;
  let rest = name;
  let prefix = "";
  while (rest.length > 100) {
    const i = rest.indexOf("/");
    if (i === -1) return false;
    prefix += prefix ? `/${rest.slice(0, i)}` : rest.slice(0, i);
    rest = rest.slice(i + 1);
  }
  return prefix.length <= 155 && linkname.length <= 100;
}

/** A 512-byte ustar header block of type `x` (PAX extended header) for `size` bytes of records. */
function paxHeaderBlock(size: number, mtime: Date): Buffer {
  const b = Buffer.alloc(512);
  const octal = (v: number, off: number, len: number) =>
    b.write(`${v.toString(8).padStart(len - 1, "0")}\0`, off, len, "ascii");
  b.write("PaxHeader", 0, 100, "ascii");
  octal(0o644, 100, 8);
  octal(0, 108, 8);
  octal(0, 116, 8);
  octal(size, 124, 12);
  octal(Math.max(0, Math.floor(mtime.getTime() / 1000)), 136, 12);
  b.write("        ", 148, 8, "ascii");
  b.write("x", 156, 1, "ascii");
  b.write("ustar\u000000", 257, 8, "ascii");
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8, "ascii");
  return b;
}

/**
 * Writes one OCI layer: a tar stream, hashed for its diffID, compressed, hashed
 * for its digest and stored in a local file. Entries must be added one at a time
 * (awaiting each); `finish()` returns a FileLayer ready to append to an image.
 */
export class LayerWriter {
  private readonly pack = tar.pack();
  private readonly diffDigest = new DigestStream();
  private readonly blobDigest = new DigestStream();
  private readonly done: Promise<void>;
  private readonly written = new Set<string>();
  private count = 0;
  private failed: unknown;
  /** The layer file. */
  private readonly out: WriteStream;

  constructor(
    readonly path: string,
    readonly compression: Compression,
    private readonly manifestMediaType: string = MediaTypes.ociManifest,
    /** mtime of entries given none; a promise when it is known only later (the first such entry waits). */
    private readonly defaultMtime: Date | Promise<Date> = new Date(),
    private readonly signal?: AbortSignal | undefined,
  ) {
    // gzip level 4: ~3.5x faster than the default 6 for ~3 % more bytes (docs/BENCHMARKS.md)
    const comp = compressor(compression, compression === "gzip" ? GZIP_LEVEL : undefined);
    const out = createWriteStream(path, { mode: 0o600 });
    this.out = out;
    // The tar stream comes in small pieces (headers, file contents); gzip cuts its own members,
    // zstd (a pipe to the host tool) and the file are handed large pieces.
    const stages: unknown[] = [this.pack, this.diffDigest];
    if (compression !== "gzip") stages.push(coalesce(1 << 20));
    if (comp) stages.push(comp);
    stages.push(this.blobDigest, out);
    this.done = (pipeline as unknown as (...s: unknown[]) => Promise<void>)(...stages);
    this.done.catch((e: unknown) => {
      this.failed = e;
    });
  }

  /** Paths written so far (without leading slash). */
  has(path: string): boolean {
    return this.written.has(clean(path));
  }

  private async header(
    path: string,
    type: tar.Header["type"],
    meta: EntryMeta,
    extra: { size?: number; linkname?: string } = {},
  ): Promise<tar.Header> {
    const h: tar.Header = {
      name: path,
      type,
      mode: meta.mode & 0o7777,
      uid: meta.uid ?? 0,
      gid: meta.gid ?? 0,
      uname: meta.uname ?? "root",
      gname: meta.gname ?? "root",
      mtime: meta.mtime ?? (await this.defaultMtime),
      size: extra.size ?? 0,
      linkname: extra.linkname ?? "",
      devmajor: 0,
      devminor: 0,
    };
    return h;
  }

  private async entry(h: tar.Header, body?: Buffer | Readable, xattrs?: EntryMeta["xattrs"]): Promise<void> {
    if (this.failed) throw this.failed;
    const key = h.name.replace(/\/$/, "");
    this.written.add(key);
    this.count++;
    if (xattrs !== undefined && Object.keys(xattrs).length > 0) this.pushPaxHeader(h, xattrs);
    if (body === undefined || Buffer.isBuffer(body)) {
      await new Promise<void>((resolve, reject) => {
        this.pack.entry(h, body ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
      });
      return;
    }
    const sink = this.pack.entry(h);
    // a large file is cut short when the run is cancelled, not streamed to its end first
    await pipeline(body, sink as unknown as Writable, this.signal ? { signal: this.signal } : {});
  }

  /**
   * The entry's PAX header with its xattrs, written before tar-stream writes the entry itself
   * (tar-stream writes PAX values as UTF-8 text; these are bytes). Readers take the LAST PAX
   * header before an entry, so the path goes in here too and the entry's own header gets a name
   * tar-stream writes without a PAX header of its own. Called only between entries.
   */
  private pushPaxHeader(h: tar.Header, xattrs: NonNullable<EntryMeta["xattrs"]>): void {
    const linkname = h.linkname ?? "";
    const records: Buffer[] = [];
    const fits = fitsUstar(h.name, linkname);
    if (!fits) {
      records.push(paxRecord("path", Buffer.from(h.name)));
      if (linkname !== "") records.push(paxRecord("linkpath", Buffer.from(linkname)));
      // a stand-in the ustar header can hold; the PAX path is the entry's name
      h.name = `PaxHeader-path/${createHash("sha256").update(h.name).digest("hex").slice(0, 40)}`;
      if (Buffer.byteLength(linkname) > 100 || Buffer.byteLength(linkname) !== linkname.length)
        h.linkname = "PaxHeader-linkpath";
    }
    for (const name of Object.keys(xattrs).sort()) {
      const v = xattrs[name];
      if (v !== undefined) records.push(paxRecord(`SCHILY.xattr.${name}`, v));
    }
    const payload = Buffer.concat(records);
    // header() gave every entry its mtime
    this.pack.push(paxHeaderBlock(payload.length, h.mtime!));
    this.pack.push(payload);
    if (payload.length % 512) this.pack.push(Buffer.alloc(512 - (payload.length % 512)));
  }

  async addDirectory(path: string, meta: EntryMeta): Promise<void> {
    await this.entry(await this.header(`${clean(path)}/`, "directory", meta));
  }

  async addFile(path: string, meta: EntryMeta, size: number, content: Buffer | Readable): Promise<void> {
    await this.entry(await this.header(clean(path), "file", meta, { size }), content, meta.xattrs);
  }

  async addSymlink(path: string, target: string, meta: EntryMeta): Promise<void> {
    await this.entry(
      await this.header(clean(path), "symlink", { ...meta, mode: meta.mode || 0o777 }, { linkname: target }),
    );
  }

  /** A hard link to `target` (a path written earlier in this layer). */
  async addHardlink(path: string, target: string, meta: EntryMeta): Promise<void> {
    await this.entry(await this.header(clean(path), "link", meta, { linkname: clean(target) }));
  }

  /** Hide `path` of the lower layers (OCI whiteout `.wh.<name>`). */
  async addWhiteout(path: string): Promise<void> {
    const p = clean(path);
    const slash = p.lastIndexOf("/");
    const dir = slash === -1 ? "" : `${p.slice(0, slash)}/`;
    const name = p.slice(slash + 1);
    await this.entry(
      await this.header(`${dir}${WHITEOUT_PREFIX}${name}`, "file", { mode: 0o644 }, { size: 0 }),
    );
  }

  /** Finalise the tar and return the layer (digests computed while writing). */
  async finish(): Promise<FinishedLayer> {
    this.pack.finalize();
    await this.done;
    const descriptor: Descriptor = {
      mediaType: layerMediaType(this.compression, this.manifestMediaType),
      digest: this.blobDigest.digest(),
      size: this.blobDigest.size,
    };
    return {
      layer: new FileLayer(this.path, descriptor, this.diffDigest.digest(), this.compression),
      uncompressedSize: this.diffDigest.size,
      entries: this.count,
      paths: this.written,
    };
  }

  /** Abandon the layer and remove its file. */
  async abort(): Promise<void> {
    this.pack.destroy();
    await this.done.catch(() => undefined); // destroyed on purpose: only waiting for it to settle
    // the pipeline settles before the file's open in the thread pool may have run: once the
    // stream closed, the removal holds (as every other file write does, util/streams.ts discard)
    await discard(this.out);
    await rm(this.path, { force: true });
  }
}
