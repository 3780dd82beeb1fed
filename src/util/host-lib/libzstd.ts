import { type Codec, type HostDecoder, hostDecoder, OUT_BYTES } from "./decoder.js";
import { callInPool, encodeBuffer, type HostFunction, hostLibrary, type Koffi } from "./koffi.js";

/** The host's libzstd 1.x (zstd.h's stable streaming API). */
interface Libzstd {
  readonly version: string;
  readonly koffi: Koffi;
  /** sizeof(ZSTD_inBuffer) (= sizeof(ZSTD_outBuffer)) and the offsets in both. */
  readonly bufferSize: number;
  readonly at: { readonly ptr: number; readonly size: number; readonly pos: number };
  readonly create: HostFunction;
  readonly init: HostFunction;
  readonly decompress: HostFunction;
  readonly free: HostFunction;
  readonly isError: HostFunction;
  readonly errorName: HostFunction;
}

const loaded = hostLibrary(
  "libzstd",
  { linux: ["libzstd.so.1"], darwin: ["libzstd.1.dylib"] },
  (koffi, lib): Libzstd | undefined => {
    const number = lib.func("unsigned int ZSTD_versionNumber(void)")() as number;
    // the streaming decoder of 1.3 on; 2.x may change what is stable
    if (number < 10300 || number >= 20000) return undefined;
    // ZSTD_inBuffer { const void *src; size_t size; size_t pos; }, ZSTD_outBuffer alike
    const buffer = koffi.struct({ ptr: "void *", size: "size_t", pos: "size_t" });
    return {
      version: lib.func("const char *ZSTD_versionString(void)")() as string,
      koffi,
      bufferSize: koffi.sizeof(buffer),
      at: {
        ptr: koffi.offsetof(buffer, "ptr"),
        size: koffi.offsetof(buffer, "size"),
        pos: koffi.offsetof(buffer, "pos"),
      },
      create: lib.func("void *ZSTD_createDStream(void)"),
      init: lib.func("size_t ZSTD_initDStream(void *zds)"),
      // size_t results as intptr_t: an error code, (size_t)-n, reads as -n exactly
      decompress: lib.func("intptr_t ZSTD_decompressStream(void *zds, void *output, void *input)"),
      free: lib.func("size_t ZSTD_freeDStream(void *zds)"),
      isError: lib.func("unsigned int ZSTD_isError(intptr_t code)"),
      errorName: lib.func("const char *ZSTD_getErrorName(intptr_t code)"),
    };
  },
);

/** The host's libzstd 1.x when it and koffi load here, else undefined (looked up once). */
export function hostLibzstd(): { readonly version: string } | undefined {
  return loaded();
}

/** One ZSTD_DStream: frames one after another, each checked against its content checksum. */
class ZstdCodec implements Codec {
  private readonly zds: unknown;
  private readonly input: Buffer;
  private readonly output: Buffer;
  /** ZSTD_decompressStream's last result: 0 once a frame is whole and flushed. */
  private last = 0;

  constructor(private readonly lib: Libzstd) {
    const zds = lib.create();
    if (zds === null || zds === 0n) throw new Error("cannot allocate memory");
    this.zds = zds;
    const rc = lib.init(zds) as number | bigint;
    if (lib.isError(rc) !== 0) {
      lib.free(zds);
      throw new Error(lib.errorName(rc) as string);
    }
    this.input = Buffer.alloc(lib.bufferSize);
    this.output = Buffer.alloc(lib.bufferSize);
  }

  setInput(input: Buffer): void {
    const { koffi, at } = this.lib;
    encodeBuffer(koffi, this.input, at.ptr, at.size, input);
    koffi.encode(this.input, at.pos, "size_t", 0);
  }

  async step(out: Buffer, finish: boolean): Promise<{ produced: number; more: boolean; ended: boolean }> {
    const { koffi, at } = this.lib;
    const inputLeft = () =>
      Number(koffi.decode(this.input, at.size, "size_t")) -
      Number(koffi.decode(this.input, at.pos, "size_t"));
    // every frame whole and flushed, and no input left: the data ends here (a call would ask for
    // the next frame's header)
    if (finish && this.last === 0 && inputLeft() === 0) return { produced: 0, more: false, ended: false };
    encodeBuffer(koffi, this.output, at.ptr, at.size, out, OUT_BYTES);
    koffi.encode(this.output, at.pos, "size_t", 0);
    const rc = await callInPool<number | bigint>(this.lib.decompress, this.zds, this.output, this.input);
    if (this.lib.isError(rc) !== 0) throw new Error(String(this.lib.errorName(rc)).toLowerCase());
    this.last = Number(rc);
    const produced = Number(koffi.decode(this.output, at.pos, "size_t"));
    // a full output is more only while the frame is not done: a frame that ended exactly at the end
    // of the buffer (0) would otherwise be called again, and read as the start of another frame
    const more = inputLeft() > 0 || (produced === OUT_BYTES && this.last !== 0);
    if (finish && !more && this.last !== 0) throw new Error("unexpected end of data");
    return { produced, more, ended: false };
  }

  free(): void {
    this.lib.free(this.zds);
  }
}

/** A streaming decoder over the host's libzstd; call only when `hostLibzstd()` found one. */
export function libzstdDecoder(corrupt: (message: string) => Error): HostDecoder {
  const lib = loaded();
  if (lib === undefined) throw new Error("libzstdDecoder: the host's libzstd is not loaded");
  return hostDecoder(() => new ZstdCodec(lib), corrupt);
}
