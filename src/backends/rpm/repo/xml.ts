import { StringDecoder } from "node:string_decoder";
import { OcipatchError } from "../../../errors.js";

/**
 * A small streaming XML reader for repository metadata (repomd.xml, primary.xml): elements,
 * attributes, text, the five predefined entities and character references, comments, CDATA and
 * processing instructions. A DOCTYPE is refused (no entity expansion), as are unbalanced tags;
 * a token or a text run larger than `maxToken` is an error, so memory stays bounded by it, not by
 * the document.
 */
interface XmlHandler {
  open(name: string, attrs: Readonly<Record<string, string>>): void;
  close(name: string): void;
  text(text: string): void;
}

const MAX_DEPTH = 64;

export class XmlStream {
  private readonly decoder = new StringDecoder("utf8");
  private buf = "";
  private readonly stack: string[] = [];
  private sawRoot = false;

  constructor(
    private readonly handler: XmlHandler,
    private readonly where: string,
    private readonly maxToken = 16 * 1024 * 1024,
  ) {}

  write(chunk: Buffer | string): void {
    this.buf += typeof chunk === "string" ? chunk : this.decoder.write(chunk);
    this.drain(false);
  }

  end(): void {
    this.buf += this.decoder.end();
    this.drain(true);
    if (this.stack.length > 0) this.fail(`unexpected end of document inside <${this.stack.at(-1)}>`);
    if (!this.sawRoot) this.fail("no root element");
  }

  private fail(msg: string): never {
    throw new OcipatchError("INVALID_FORMAT", `${this.where}: not well-formed XML: ${msg}`);
  }

  private drain(final: boolean): void {
    let pos = 0;
    const b = this.buf;
    for (;;) {
      const lt = b.indexOf("<", pos);
      if (lt < 0) {
        if (final) {
          if (b.slice(pos).trim() !== "") this.fail("text after the root element");
          pos = b.length;
        }
        break;
      }
      if (lt > pos) this.emitText(b.slice(pos, lt));
      const end = this.tokenEnd(b, lt);
      if (end < 0) {
        pos = lt;
        break;
      }
      this.token(b.slice(lt, end));
      pos = end;
    }
    this.buf = b.slice(pos);
    if (this.buf.length > this.maxToken) this.fail(`a token longer than ${this.maxToken} characters`);
    if (final && this.buf !== "") this.fail("unterminated markup at the end");
  }

  /** Index after the markup starting at `lt`, or -1 when it is not complete yet. */
  private tokenEnd(b: string, lt: number): number {
    const delimited = (open: string, close: string): number | undefined => {
      if (!b.startsWith(open, lt)) return undefined;
      const i = b.indexOf(close, lt + open.length);
      return i < 0 ? -1 : i + close.length;
    };
    const special = delimited("<!--", "-->") ?? delimited("<![CDATA[", "]]>") ?? delimited("<?", "?>");
    if (special !== undefined) return special;
    if (b.startsWith("<!", lt) && b.length - lt >= 9)
      this.fail("DOCTYPE and other declarations are not allowed");
    let quote = "";
    for (let i = lt + 1; i < b.length; i++) {
      const c = b[i]!;
      if (quote !== "") {
        if (c === quote) quote = "";
      } else if (c === '"' || c === "'") quote = c;
      else if (c === ">") return i + 1;
      else if (c === "<") this.fail("'<' inside a tag");
    }
    return -1;
  }

  private emitText(raw: string): void {
    if (this.stack.length === 0) {
      if (raw.trim() !== "") this.fail("text outside the root element");
      return;
    }
    this.handler.text(decodeEntities(raw, this.where));
  }

  private token(t: string): void {
    if (t.startsWith("<!--") || t.startsWith("<?")) return;
    if (t.startsWith("<![CDATA[")) {
      if (this.stack.length === 0) this.fail("CDATA outside the root element");
      this.handler.text(t.slice(9, -3));
      return;
    }
    if (t.startsWith("<!")) this.fail("DOCTYPE and other declarations are not allowed");
    if (t.startsWith("</")) {
      const name = t.slice(2, -1).trim();
      const open = this.stack.pop();
      if (open !== name) this.fail(`</${name}> closes <${open ?? "nothing"}>`);
      this.handler.close(name);
      return;
    }
    const selfClosing = t.endsWith("/>");
    const inner = t.slice(1, selfClosing ? -2 : -1);
    const m = /^([^\s/>"'=]+)/.exec(inner);
    if (!m) this.fail(`bad tag ${t.slice(0, 40)}`);
    const name = m[1]!;
    const attrs: Record<string, string> = {};
    const rest = inner.slice(name.length);
    const re = /\s+([^\s=/>"']+)\s*=\s*(?:"([^"]*)"|'([^']*)')/gy;
    let at = 0;
    for (;;) {
      re.lastIndex = at;
      const a = re.exec(rest);
      if (!a) break;
      if (Object.hasOwn(attrs, a[1]!)) this.fail(`attribute ${a[1]} twice in <${name}>`);
      attrs[a[1]!] = decodeEntities(a[2] ?? a[3] ?? "", this.where);
      at = re.lastIndex;
    }
    if (rest.slice(at).trim() !== "") this.fail(`bad attributes in <${name}>`);
    if (this.stack.length === 0) {
      if (this.sawRoot) this.fail("a second root element");
      this.sawRoot = true;
    }
    if (this.stack.length >= MAX_DEPTH) this.fail(`elements nested deeper than ${MAX_DEPTH}`);
    this.handler.open(name, attrs);
    if (selfClosing) this.handler.close(name);
    else this.stack.push(name);
  }
}

const NAMED: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

function decodeEntities(s: string, where: string): string {
  if (!s.includes("&")) return s;
  return s.replace(/&([^;&\s]{0,10});?/g, (whole, ref: string) => {
    if (!whole.endsWith(";"))
      throw new OcipatchError("INVALID_FORMAT", `${where}: not well-formed XML: bare '&'`);
    const named = NAMED[ref];
    if (named !== undefined) return named;
    const num = /^#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}))$/.exec(ref);
    const cp = num ? Number.parseInt(num[1] ?? num[2]!, num[1] ? 16 : 10) : Number.NaN;
    if (!Number.isInteger(cp) || cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      throw new OcipatchError("INVALID_FORMAT", `${where}: not well-formed XML: unknown entity &${ref};`);
    return String.fromCodePoint(cp);
  });
}
