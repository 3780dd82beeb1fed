/** A minimal ustar writer with PAX records, enough for apk's segments (test harness only). */

export interface TarSpec {
  readonly name: string;
  readonly type: "file" | "directory" | "symlink" | "hardlink";
  readonly mode: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly mtime?: number;
  readonly content?: Buffer;
  readonly linkname?: string;
  readonly pax?: Readonly<Record<string, string>>;
}

function field(h: Buffer, off: number, len: number, value: string): void {
  h.write(value, off, len, "utf8");
}

function octal(h: Buffer, off: number, len: number, value: number): void {
  field(h, off, len, `${value.toString(8).padStart(len - 1, "0")}\0`);
}

function header(name: string, flag: string, size: number, spec: Partial<TarSpec>): Buffer {
  const h = Buffer.alloc(512);
  if (Buffer.byteLength(name) > 100) throw new Error(`tar name too long for the test writer: ${name}`);
  field(h, 0, 100, name);
  octal(h, 100, 8, spec.mode ?? 0o644);
  octal(h, 108, 8, spec.uid ?? 0);
  octal(h, 116, 8, spec.gid ?? 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, spec.mtime ?? 0);
  h.fill(0x20, 148, 156);
  field(h, 156, 1, flag);
  field(h, 157, 100, spec.linkname ?? "");
  field(h, 257, 6, "ustar\0");
  field(h, 263, 2, "00");
  field(h, 265, 32, "root");
  field(h, 297, 32, "root");
  let sum = 0;
  for (const b of h) sum += b;
  field(h, 148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  return h;
}

function pad(b: Buffer): Buffer {
  const rest = b.length % 512;
  return rest === 0 ? b : Buffer.concat([b, Buffer.alloc(512 - rest)]);
}

function paxRecords(pax: Readonly<Record<string, string>>): Buffer {
  let out = "";
  for (const [k, v] of Object.entries(pax)) {
    const body = ` ${k}=${v}\n`;
    let len = body.length + 1;
    while (`${len}${body}`.length !== len) len = `${len}${body}`.length;
    out += `${len}${body}`;
  }
  return Buffer.from(out);
}

/** Tar bytes for `specs`; `end` adds the two zero blocks (a tarball, not a segment). */
export function writeTar(specs: readonly TarSpec[], end: boolean): Buffer {
  const parts: Buffer[] = [];
  for (const s of specs) {
    if (s.pax && Object.keys(s.pax).length > 0) {
      const recs = paxRecords(s.pax);
      parts.push(header(`PaxHeaders/${s.name.slice(0, 80)}`, "x", recs.length, { mode: 0o644 }), pad(recs));
    }
    const content = s.type === "file" ? (s.content ?? Buffer.alloc(0)) : Buffer.alloc(0);
    const flag = { file: "0", hardlink: "1", symlink: "2", directory: "5" }[s.type];
    parts.push(header(s.name, flag, content.length, s), pad(content));
  }
  if (end) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
