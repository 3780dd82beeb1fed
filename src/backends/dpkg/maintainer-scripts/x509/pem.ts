/** One PEM block of a file: its label ("CERTIFICATE") and decoded body. */
interface PemBlock {
  readonly label: string;
  readonly der: Buffer;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

/** The PEM blocks of a text, in order (headers such as Proc-Type make a block unreadable: undefined der). */
export function pemBlocks(text: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const body = m[2]!;
    out.push({ label: m[1]!, der: Buffer.from(body.replace(/\s+/g, ""), "base64") });
  }
  return out;
}
