import { type Codec, type HostDecoder, hostDecoder, OUT_BYTES } from "./decoder.js";
import { callInPool, encodeBuffer, type HostFunction, hostLibrary, type Koffi } from "./koffi.js";

/** xz container, or the legacy .lzma ("LZMA_Alone") format. */
export type XzFormat = "xz" | "lzma";

/** The host's liblzma 5. */
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
  readonly streamDecoder: HostFunction;
  readonly aloneDecoder: HostFunction;
  readonly code: HostFunction;
  readonly end: HostFunction;
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

const loaded = hostLibrary(
  "liblzma",
  { linux: ["liblzma.so.5"], darwin: ["liblzma.5.dylib"] },
  (koffi, lib): Liblzma | undefined => {
    const number = lib.func("uint32_t lzma_version_number(void)")() as number;
    // liblzma 5.x keeps lzma_stream's layout (the soname's ABI)
    if (number < 50000002 || number >= 60000000) return undefined;
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
  },
);

/** The host's liblzma 5 when it and koffi load here, else undefined (looked up once). */
export function hostLiblzma(): { readonly version: string } | undefined {
  return loaded();
}

/** One lzma_stream (liblzma keeps its state behind `internal`). */
class LzmaCodec implements Codec {
  private readonly strm: Buffer;

  constructor(
    private readonly lib: Liblzma,
    format: XzFormat,
  ) {
    this.strm = Buffer.alloc(lib.streamSize); // all zero: LZMA_STREAM_INIT
    const rc = (
      format === "xz"
        ? lib.streamDecoder(this.strm, MEMLIMIT, LZMA_CONCATENATED)
        : lib.aloneDecoder(this.strm, MEMLIMIT)
    ) as number;
    if (rc !== LZMA_OK) throw new Error(ERRORS[rc] ?? `liblzma error ${rc}`);
  }

  setInput(input: Buffer): void {
    const { koffi, at } = this.lib;
    encodeBuffer(koffi, this.strm, at.nextIn, at.availIn, input);
  }

  async step(out: Buffer, finish: boolean): Promise<{ produced: number; more: boolean; ended: boolean }> {
    const { koffi, at } = this.lib;
    encodeBuffer(koffi, this.strm, at.nextOut, at.availOut, out, OUT_BYTES);
    const rc = await callInPool<number>(this.lib.code, this.strm, finish ? LZMA_FINISH : LZMA_RUN);
    if (rc !== LZMA_OK && rc !== LZMA_STREAM_END) throw new Error(ERRORS[rc] ?? `liblzma error ${rc}`);
    const produced = OUT_BYTES - Number(koffi.decode(this.strm, at.availOut, "size_t"));
    const inputLeft = Number(koffi.decode(this.strm, at.availIn, "size_t"));
    const ended = rc === LZMA_STREAM_END;
    // at the finish, liblzma is called until the end of the stream (or LZMA_BUF_ERROR: cut short)
    const more = !ended && (finish || inputLeft > 0 || produced === OUT_BYTES);
    return { produced, more, ended };
  }

  free(): void {
    this.lib.end(this.strm);
  }
}

/** A streaming decoder over the host's liblzma; call only when `hostLiblzma()` found one. */
export function liblzmaDecoder(format: XzFormat, corrupt: (message: string) => Error): HostDecoder {
  const lib = loaded();
  if (lib === undefined) throw new Error("liblzmaDecoder: the host's liblzma is not loaded");
  return hostDecoder(() => new LzmaCodec(lib, format), corrupt);
}
