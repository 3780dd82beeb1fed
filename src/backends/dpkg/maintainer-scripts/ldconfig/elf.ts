/*
 * What ldconfig reads from a shared object (glibc elf/readelflib.c and the x86
 * wrapper in sysdeps/unix/sysv/linux/x86/readelflib.c): class, machine, type,
 * the program headers (first PT_LOAD, PT_DYNAMIC, PT_INTERP, the GNU ABI-tag
 * note) and the dynamic section's DT_SONAME / DT_NEEDED. Every read is bounds
 * checked: a truncated or corrupt file is "skipped", as ldconfig skips it.
 */

import { rangeAt } from "../../../../util/sorted.js";

const FLAG_ELF = 0x0001;
const FLAG_ELF_LIBC5 = 0x0002;
const FLAG_ELF_LIBC6 = 0x0003;
const FLAG_X8664_LIB64 = 0x0300;
const FLAG_X8664_LIBX32 = 0x0800;

const EM_386 = 3;
const EM_X86_64 = 62;
const ET_DYN = 3;
const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const PT_NOTE = 4;
const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const DT_SONAME = 14n;
const NT_GNU_ABI_TAG = 1;
/** A string longer than this is treated as corrupt (ldconfig has no limit, but sonames are short). */
const MAX_STRING = 4096;

const KNOWN_LIBS: ReadonlyMap<string, number> = new Map([
  ["libc.so.6", FLAG_ELF_LIBC6],
  ["libm.so.6", FLAG_ELF_LIBC6],
  ["libc.so.5", FLAG_ELF_LIBC5],
  ["libm.so.5", FLAG_ELF_LIBC5],
]);
const KNOWN_INTERPRETERS: ReadonlyMap<string, number> = new Map([
  ["/lib/ld-linux.so.2", FLAG_ELF_LIBC6],
  ["/libx32/ld-linux-x32.so.2", FLAG_ELF_LIBC6],
  ["/lib64/ld-linux-x86-64.so.2", FLAG_ELF_LIBC6],
]);

/** A shared object as ldconfig classifies it. */
export interface ElfLibrary {
  /** The cache entry flags (type and required-ABI bits). */
  readonly flags: number;
  /** DT_SONAME, undefined when there is none (the file name is used). */
  readonly soname: string | undefined;
  /** The GNU ABI tag (`OS ABI: Linux 3.2.0` is 0x00030200); 0 without one. */
  readonly osversion: number;
}

export type ElfResult =
  | { readonly kind: "library"; readonly library: ElfLibrary }
  /** Not a library ldconfig puts in the cache (with ldconfig's reason). */
  | { readonly kind: "skipped"; readonly reason: string }
  /** A format this reimplementation does not reproduce (a.out). */
  | { readonly kind: "unsupported"; readonly reason: string };

class Corrupt extends Error {}

/**
 * A file's bytes, whole or in the pieces it was read in (a large library is not joined into one
 * more copy of itself). A read across pieces copies just the bytes it asks for.
 */
class Bytes {
  readonly length: number;
  private readonly starts: number[] = [];
  constructor(private readonly pieces: readonly Buffer[]) {
    let n = 0;
    for (const p of pieces) {
      this.starts.push(n);
      n += p.length;
    }
    this.length = n;
  }
  /** `n` bytes from `off`, which the caller has checked lie inside the file. */
  view(off: number, n: number): Buffer {
    const lo = rangeAt(this.starts, off);
    const first = this.pieces[lo];
    if (first === undefined) return Buffer.alloc(0);
    const at = off - (this.starts[lo] ?? 0);
    if (at + n <= first.length) return first.subarray(at, at + n);
    const out = Buffer.allocUnsafe(n);
    let done = first.copy(out, 0, at);
    for (let i = lo + 1; done < n; i++) done += this.pieces[i]!.copy(out, done, 0, n - done);
    return out;
  }
  /** Up to `n` bytes from `off` as latin1, cut short at the end of the file. */
  latin1(off: number, n: number): string {
    const from = Math.min(off, this.length);
    return this.view(from, Math.min(n, this.length - from)).toString("latin1");
  }
}

class Reader {
  readonly little: boolean;
  constructor(
    readonly bytes: Bytes,
    readonly is64: boolean,
    little: boolean,
  ) {
    this.little = little;
  }
  get length(): number {
    return this.bytes.length;
  }
  private at(off: number, n: number): Buffer {
    if (!Number.isSafeInteger(off) || off < 0 || off + n > this.bytes.length) throw new Corrupt("truncated");
    return this.bytes.view(off, n);
  }
  u16(off: number): number {
    const b = this.at(off, 2);
    return this.little ? b.readUInt16LE(0) : b.readUInt16BE(0);
  }
  u32(off: number): number {
    const b = this.at(off, 4);
    return this.little ? b.readUInt32LE(0) : b.readUInt32BE(0);
  }
  u64(off: number): bigint {
    const b = this.at(off, 8);
    return this.little ? b.readBigUInt64LE(0) : b.readBigUInt64BE(0);
  }
  /** An address-sized word (Elf32_Addr / Elf64_Addr). */
  word(off: number): bigint {
    return this.is64 ? this.u64(off) : BigInt(this.u32(off));
  }
  /** A signed word (d_tag). */
  sword(off: number): bigint {
    if (this.is64) {
      const b = this.at(off, 8);
      return this.little ? b.readBigInt64LE(0) : b.readBigInt64BE(0);
    }
    const b = this.at(off, 4);
    return BigInt(this.little ? b.readInt32LE(0) : b.readInt32BE(0));
  }
  cstring(off: bigint): string {
    if (off < 0n || off >= BigInt(this.bytes.length)) throw new Corrupt("string outside the file");
    const start = Number(off);
    const s = this.bytes.view(start, Math.min(MAX_STRING + 1, this.bytes.length - start));
    const end = s.indexOf(0);
    if (end < 0) throw new Corrupt("unterminated string");
    return s.toString("latin1", 0, end);
  }
}

function toOffset(v: bigint, length: number): number {
  if (v < 0n || v >= BigInt(length)) throw new Corrupt("offset outside the file");
  return Number(v);
}

/** The GNU ABI tag in a PT_NOTE segment (glibc 2.31 readelflib.c), or 0. */
function abiTag(r: Reader, offset: bigint, filesz: bigint, palign: bigint): number {
  if (filesz < 32n) return 0;
  const align = palign < 4n ? 4n : palign;
  if (align !== 4n && align !== 8n) return 0;
  let at = toOffset(offset, r.length);
  let size = filesz;
  for (;;) {
    const namesz = r.u32(at);
    const descsz = r.u32(at + 4);
    const type = r.u32(at + 8);
    if (namesz === 4 && descsz === 16 && type === NT_GNU_ABI_TAG && r.bytes.latin1(at + 12, 4) === "GNU\0") {
      const w = (k: number) => r.u32(at + 4 * k);
      return ((w(4) << 24) | ((w(5) & 0xff) << 16) | ((w(6) & 0xff) << 8) | (w(7) & 0xff)) >>> 0;
    }
    const up = (v: bigint) => (v + align - 1n) & ~(align - 1n);
    const next = up(up(12n + BigInt(namesz)) + BigInt(descsz));
    if (size - 32n < next || next === 0n) return 0;
    size -= next;
    at += Number(next);
  }
}

function isAout(buf: Buffer): boolean {
  if (buf.length < 4) return false;
  const magic = buf.readUInt32LE(0) & 0xffff;
  return magic === 0o413 || magic === 0o314;
}

/**
 * Classify a file the way ldconfig's process_file does on x86-64 Linux: its content whole, or the
 * pieces it was read in.
 */
export function readElfLibrary(content: Buffer | readonly Buffer[]): ElfResult {
  const bytes = new Bytes(Buffer.isBuffer(content) ? [content] : content);
  // ldconfig checks the size of its own ELF header (64 bytes) before anything else
  if (bytes.length < 64) return { kind: "skipped", reason: "too short to be a shared object" };
  const head = bytes.view(0, 64);
  if (head.toString("latin1", 0, 4) !== "\x7fELF") {
    if (isAout(head)) return { kind: "unsupported", reason: "an a.out library" };
    return { kind: "skipped", reason: "not an ELF file" };
  }
  const cls = head[4];
  const data = head[5];
  if ((cls !== 1 && cls !== 2) || (data !== 1 && data !== 2)) {
    return { kind: "skipped", reason: "an unknown ELF class or byte order" };
  }
  try {
    return classify(new Reader(bytes, cls === 2, data === 1));
  } catch (e) {
    if (e instanceof Corrupt) return { kind: "skipped", reason: `corrupt (${e.message})` };
    throw e;
  }
}

function classify(r: Reader): ElfResult {
  const is64 = r.is64;
  const machine = r.u16(18);
  let wrapperFlags = 0;
  if (machine === EM_X86_64) wrapperFlags = (is64 ? FLAG_X8664_LIB64 : FLAG_X8664_LIBX32) | FLAG_ELF_LIBC6;
  else if (!(machine === EM_386 && !is64)) {
    return { kind: "skipped", reason: `for unknown machine ${machine}` };
  }
  const type = r.u16(16);
  if (type !== ET_DYN) return { kind: "skipped", reason: `not a shared object (type ${type})` };
  const phoff = is64 ? r.u64(32) : BigInt(r.u32(28));
  const phnum = r.u16(is64 ? 56 : 44);
  const phsize = is64 ? 56 : 32;
  let flags = FLAG_ELF;
  let loadaddr: bigint | undefined;
  let dynOff = 0n;
  let dynSize = 0n;
  let osversion = 0;
  const base = phnum === 0 ? 0 : toOffset(phoff, r.length);
  for (let i = 0; i < phnum; i++) {
    const p = base + i * phsize;
    const ptype = r.u32(p);
    const offset = is64 ? r.u64(p + 8) : BigInt(r.u32(p + 4));
    const vaddr = is64 ? r.u64(p + 16) : BigInt(r.u32(p + 8));
    const filesz = is64 ? r.u64(p + 32) : BigInt(r.u32(p + 16));
    const palign = is64 ? r.u64(p + 48) : BigInt(r.u32(p + 28));
    if (ptype === PT_LOAD) {
      if (loadaddr === undefined) loadaddr = vaddr - offset;
    } else if (ptype === PT_DYNAMIC) {
      dynOff = offset;
      dynSize = filesz;
    } else if (ptype === PT_INTERP) {
      const interp = r.cstring(offset);
      const f = KNOWN_INTERPRETERS.get(interp);
      if (f !== undefined) flags = f;
    } else if (ptype === PT_NOTE && osversion === 0) {
      osversion = abiTag(r, offset, filesz, palign);
    }
  }
  loadaddr ??= 0n;
  if (dynSize === 0n) return { kind: "skipped", reason: "no dynamic section" };
  const dynBase = toOffset(dynOff, r.length);
  const dsize = is64 ? 16 : 8;
  const val = (at: number) => (is64 ? r.u64(at + 8) : BigInt(r.u32(at + 4)));
  let strtab: bigint | undefined;
  for (let at = dynBase; ; at += dsize) {
    const tag = r.sword(at);
    if (tag === DT_NULL) break;
    if (tag === DT_STRTAB) {
      strtab = val(at) - loadaddr;
      toOffset(strtab, r.length);
      break;
    }
  }
  if (strtab === undefined) return { kind: "skipped", reason: "no dynamic string table" };
  let soname: string | undefined;
  for (let at = dynBase; ; at += dsize) {
    const tag = r.sword(at);
    if (tag === DT_NULL) break;
    if (tag !== DT_NEEDED && tag !== DT_SONAME) continue;
    const name = r.cstring(strtab + val(at));
    if (tag === DT_NEEDED) {
      if (flags === FLAG_ELF) flags = KNOWN_LIBS.get(name) ?? flags;
    } else {
      soname = name;
    }
    if (soname !== undefined && flags !== FLAG_ELF) break;
  }
  if (wrapperFlags !== 0) flags = wrapperFlags;
  return { kind: "library", library: { flags, soname, osversion } };
}
