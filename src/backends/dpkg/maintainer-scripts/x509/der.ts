import { OcipatchError } from "../../../../errors.js";

/** One DER TLV: tag byte, where its value starts and ends, and the whole encoding's end. */
export interface Tlv {
  readonly tag: number;
  readonly start: number;
  /** First byte of the value. */
  readonly valueStart: number;
  /** One past the last byte of the value (and of the TLV). */
  readonly end: number;
}

function bad(what: string): OcipatchError {
  return new OcipatchError("INVALID_FORMAT", `certificate: ${what}`);
}

/** Read the TLV at `pos` of `buf` (DER: definite lengths only, single-byte tags). */
export function readTlv(buf: Uint8Array, pos: number, limit = buf.length): Tlv {
  if (pos + 2 > limit) throw bad("truncated DER");
  const tag = buf[pos]!;
  if ((tag & 0x1f) === 0x1f) throw bad("multi-byte DER tags are not supported");
  let len = buf[pos + 1]!;
  let valueStart = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw bad("indefinite or oversized DER length");
    if (valueStart + n > limit) throw bad("truncated DER length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[valueStart + i]!;
    valueStart += n;
  }
  const end = valueStart + len;
  if (end > limit) throw bad("DER value runs past its container");
  return { tag, start: pos, valueStart, end };
}

/** The TLVs directly inside a constructed value. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let p = parent.valueStart;
  while (p < parent.end) {
    const t = readTlv(buf, p, parent.end);
    out.push(t);
    p = t.end;
  }
  return out;
}

/** DER encoding of a tag with a value. */
export function encodeTlv(tag: number, value: Uint8Array): Buffer {
  const n = value.length;
  let head: number[];
  if (n < 0x80) head = [tag, n];
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    head = [tag, 0x80 | bytes.length, ...bytes];
  }
  return Buffer.concat([Buffer.from(head), value]);
}
