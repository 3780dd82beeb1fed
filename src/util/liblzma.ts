import { createRequire } from "node:module";
import { Transform, type TransformCallback } from "node:stream";

/** xz container, or the legacy .lzma ("LZMA_Alone") format. */
export type XzFormat = "xz" | "lzma";

type Koffi = typeof import("koffi");
type KoffiFunction = ReturnType<ReturnType<Koffi["load"]>["func"]>;

/** The host's liblzma, called through koffi (its binaries ship in npm packages). */
interface Liblzma {
  readonly version: string;
  readonly koffi: Koffi;
  /** sizeof(lzma_stream) and the offsets of the four fields ocipatch sets and reads. */
  readonly streamSize: number;
  readonly at: {
    readonly nextIn: number;
    readonly availIn: number;
    readonly nextOut: number;
    readonly availOut: number;
  };
  readonly streamDecoder: KoffiFunction;
  readonly aloneDecoder: KoffiFunction;
  readonly code: KoffiFunction;
  readonly end: KoffiFunction;
}

// liblzma's API (lzma/base.h, lzma/container.h): return codes, actions, flags
const LZMA_OK = 0;
const LZMA_STREAM_END = 1;
const LZMA_RUN = 0;
const LZMA_FINISH = 3;
const LZMA_CONCATENATED = 0x08;

/** What liblzma's error codes mean for the data (lzma/base.h). */
const ERRORS: Readonly<Record<number, string>> = {
  5: "cannot allocate memory",
  6: "decoding needs more than 1 GiB of memory",
  7: "file format not recognized",
  8: "unsupported options",
  9: "data is corrupt",
  10: "unexpected end of data",
};

/** Memory a decoder may take: `xz -9` needs 65 MiB; a header asking for more than this is refused. */
const MEMLIMIT = 1n << 30n;

/** Decoded bytes per call into liblzma (and per piece pushed). */
const OUT_BYTES = 1 << 20;

/**
 * Input is gathered to this size before a call: each call is a trip to the thread pool, and
 * koffi's start of one costs ~0.2 ms of the main thread (the 64 KiB pieces of a file read made
 * 320 calls for nginx-bullseye's 39 data.tar.xz, 1 MiB pieces 87; docs/BENCHMARKS.md).
 */
const MIN_IN_BYTES = 1 << 20;

/** The shared object name of liblzma 5 on this platform; undefined where none is expected. */
function sonames(): readonly string[] {
  if (process.platform === "linux") return ["liblzma.so.5"];
  if (process.platform === "darwin") return ["liblzma.5.dylib"];
  return [];
}

function load(): Liblzma | undefined {
  let koffi: Koffi;
  try {
    koffi = createRequire(import.meta.url)("koffi") as Koffi;
  } catch {
    return undefined; // no koffi binary for this platform: lzma-native decodes instead
  }
  for (const name of sonames()) {
    let lib: ReturnType<Koffi["load"]>;
    try {
      lib = koffi.load(name);
    } catch {
      continue; // not installed on this host
    }
    const number = lib.func("uint32_t lzma_version_number(void)")() as number;
    // liblzma 5.x keeps lzma_stream's layout (the soname's ABI)
    if (number < 50000002 || number >= 60000000) continue;
    const stream = koffi.struct({
      next_in: "void *",
      avail_in: "size_t",
      total_in: "uint64_t",
      next_out: "void *",
      avail_out: "size_t",
      total_out: "uint64_t",
      allocator: "void *",
      internal: "void *",
      reserved_ptr1: "void *",
      reserved_ptr2: "void *",
      reserved_ptr3: "void *",
      reserved_ptr4: "void *",
      seek_pos: "uint64_t",
      reserved_int2: "uint64_t",
      reserved_int3: "size_t",
      reserved_int4: "size_t",
      reserved_enum1: "int",
      reserved_enum2: "int",
    });
    return {
      version: lib.func("const char *lzma_version_string(void)")() as string,
      koffi,
      streamSize: koffi.sizeof(stream),
      at: {
        nextIn: koffi.offsetof(stream, "next_in"),
        availIn: koffi.offsetof(stream, "avail_in"),
        nextOut: koffi.offsetof(stream, "next_out"),
        availOut: koffi.offsetof(stream, "avail_out"),
      },
      streamDecoder: lib.func("int lzma_stream_decoder(void *strm, uint64_t memlimit, uint32_t flags)"),
      aloneDecoder: lib.func("int lzma_alone_decoder(void *strm, uint64_t memlimit)"),
      code: lib.func("int lzma_code(void *strm, int action)"),
      end: lib.func("void lzma_end(void *strm)"),
    };
  }
  return undefined;
}

let loaded: { lib: Liblzma | undefined } | undefined;

/** The host's liblzma 5 when it and koffi load here, else undefined (looked up once). */
export function hostLiblzma(): { readonly version: string } | undefined {
  loaded ??= { lib: load() };
  return loaded.lib;
}

/** An lzma_stream nobody ended (its decoder was dropped unfinished): its memory goes back here. */
const abandoned = new FinalizationRegistry<{ lib: Liblzma; strm: Buffer }>(({ lib, strm }) => {
  lib.end(strm);
});

/**
 * A streaming xz (or .lzma) decoder over the host's liblzma: each call decodes in libuv's thread
 * pool into a fresh 1 MiB buffer; the output waits for its reader (the input is not taken further
 * while the decoded bytes are not read). Errors are `corrupt(message)`.
 */
class LiblzmaDecoder extends Transform {
  /** The lzma_stream (liblzma keeps its state behind `internal`); undefined once ended. */
  private strm: Buffer | undefined;
  private coding = false;
  private wanted: (() => void) | undefined;
  /** Small input pieces not decoded yet (MIN_IN_BYTES). */
  private gathered: Buffer[] = [];
  private gatheredBytes = 0;

  constructor(
    private readonly lib: Liblzma,
    format: XzFormat,
    private readonly corrupt: (message: string) => Error,
  ) {
    super({ readableHighWaterMark: OUT_BYTES });
    const strm = Buffer.alloc(lib.streamSize); // all zero: LZMA_STREAM_INIT
    const rc = (
      format === "xz"
        ? lib.streamDecoder(strm, MEMLIMIT, LZMA_CONCATENATED)
        : lib.aloneDecoder(strm, MEMLIMIT)
    ) as number;
    if (rc !== LZMA_OK) throw corrupt(ERRORS[rc] ?? `liblzma error ${rc}`);
    this.strm = strm;
    abandoned.register(this, { lib, strm }, this);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.gatheredBytes + chunk.length < MIN_IN_BYTES) {
      this.gathered.push(chunk);
      this.gatheredBytes += chunk.length;
      cb();
      return;
    }
    this.decode(this.takeGathered(chunk), LZMA_RUN).then(() => cb(), cb);
  }

  override _flush(cb: TransformCallback): void {
    this.decode(this.takeGathered(Buffer.alloc(0)), LZMA_FINISH).then(() => cb(), cb);
  }

  /** The gathered pieces and `chunk`, as one buffer. */
  private takeGathered(chunk: Buffer): Buffer {
    if (this.gathered.length === 0) return chunk;
    const all = Buffer.concat([...this.gathered, chunk]);
    this.gathered = [];
    this.gatheredBytes = 0;
    return all;
  }

  override _read(size: number): void {
    const wanted = this.wanted;
    this.wanted = undefined;
    wanted?.();
    super._read(size);
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    if (!this.coding) this.endStream(); // else when the running call returns
    cb(err);
  }

  private endStream(): void {
    if (this.strm === undefined) return;
    this.lib.end(this.strm);
    this.strm = undefined;
    abandoned.unregister(this);
  }

  private codeOnce(strm: Buffer, action: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.lib.code.async(strm, action, (e: unknown, rc: number) => (e ? reject(e) : resolve(rc)));
    });
  }

  /** Decode all of `input` (and, with LZMA_FINISH, to the end of the data). */
  private async decode(input: Buffer, action: number): Promise<void> {
    const { koffi, at } = this.lib;
    const strm = this.strm;
    if (strm === undefined) return;
    koffi.encode(strm, at.nextIn, "uintptr_t", input.length > 0 ? koffi.address(input) : 0n);
    koffi.encode(strm, at.availIn, "size_t", input.length);
    for (;;) {
      const out = Buffer.allocUnsafe(OUT_BYTES);
      koffi.encode(strm, at.nextOut, "uintptr_t", koffi.address(out));
      koffi.encode(strm, at.availOut, "size_t", OUT_BYTES);
      this.coding = true;
      let rc: number;
      try {
        // `input` and `out` stay referenced here until the call returns
        rc = await this.codeOnce(strm, action);
      } finally {
        this.coding = false;
      }
      if (this.destroyed) {
        this.endStream();
        return;
      }
      const produced = OUT_BYTES - Number(koffi.decode(strm, at.availOut, "size_t"));
      if (rc !== LZMA_OK && rc !== LZMA_STREAM_END) throw this.corrupt(ERRORS[rc] ?? `liblzma error ${rc}`);
      if (produced > 0 && !this.push(out.subarray(0, produced))) {
        await new Promise<void>((r) => {
          this.wanted = r;
        });
      }
      if (rc === LZMA_STREAM_END) {
        this.endStream();
        return;
      }
      const inputLeft = Number(koffi.decode(strm, at.availIn, "size_t"));
      if (action === LZMA_RUN && inputLeft === 0 && produced < OUT_BYTES) return;
    }
  }
}

/** A streaming decoder over the host's liblzma; call only when `hostLiblzma()` found one. */
export function liblzmaDecoder(format: XzFormat, corrupt: (message: string) => Error): Transform {
  const lib = loaded?.lib;
  if (lib === undefined) throw new Error("liblzmaDecoder: the host's liblzma is not loaded");
  return new LiblzmaDecoder(lib, format, corrupt);
}
