import { OcipatchError } from "../../../errors.js";

/**
 * Debian control-file (deb822) paragraphs, as in dpkg's status file, apt's
 * Packages/Release indices and a .deb's control file. Field names are
 * case-insensitive; values keep their continuation lines (joined with "\n",
 * leading space of continuation lines removed, a lone "." meaning an empty line
 * stays as ".").
 */
/**
 * Field names are few (Package, Version, ...): share one string per distinct spelling and its
 * lower-case key instead of keeping a copy per paragraph (a status database or Packages index
 * holds 100k+ paragraphs). Bounded, so hostile input with endless distinct names cannot grow it.
 */
const INTERNED_MAX = 4096;
const interned = new Map<string, { name: string; key: string }>();
function intern(name: string): { name: string; key: string } {
  let hit = interned.get(name);
  if (hit) return hit;
  // copy out of the (possibly huge) text the name was sliced from
  const flat = Buffer.from(name, "utf8").toString("utf8");
  hit = { name: flat, key: flat.toLowerCase() };
  if (interned.size < INTERNED_MAX) interned.set(flat, hit);
  return hit;
}

export class Paragraph {
  /** Fields in order of appearance, with their original spelling. */
  readonly fields: Array<[string, string]> = [];
  /** Lower-case field names, parallel to `fields` (a linear scan: paragraphs have a few dozen fields). */
  private readonly keys: string[] = [];
  /** 1-based line where the paragraph starts (for messages). */
  readonly line: number;

  constructor(line = 0) {
    this.line = line;
  }

  private indexOf(name: string): number {
    const key = name.toLowerCase();
    return this.keys.indexOf(key);
  }

  get(name: string): string | undefined {
    const i = this.indexOf(name);
    return i === -1 ? undefined : this.fields[i]![1];
  }

  has(name: string): boolean {
    return this.indexOf(name) !== -1;
  }

  set(name: string, value: string): void {
    const i = this.indexOf(name);
    if (i === -1) {
      const n = intern(name);
      this.keys.push(n.key);
      this.fields.push([n.name, value]);
    } else {
      this.fields[i] = [this.fields[i]![0], value];
    }
  }

  delete(name: string): void {
    const i = this.indexOf(name);
    if (i === -1) return;
    this.fields.splice(i, 1);
    this.keys.splice(i, 1);
  }

  /** Serialise back to control-file text (with a trailing newline, no blank line). */
  toString(): string {
    let s = "";
    for (const [k, v] of this.fields) {
      const lines = v.split("\n");
      const first = lines.shift() ?? "";
      s += first === "" ? `${k}:\n` : `${k}: ${first}\n`;
      for (const l of lines) s += ` ${l}\n`;
    }
    return s;
  }
}

interface ParseOptions {
  /** For messages: which file is being parsed. */
  readonly source?: string;
  /** Called for malformed lines instead of throwing; the line is skipped. */
  readonly onError?: (message: string, line: number) => void;
}

/** Parse every paragraph of a control file. Comments (`#` at column 0) are skipped. */
export function parseParagraphs(text: string, opts: ParseOptions = {}): Paragraph[] {
  const out: Paragraph[] = [];
  for (const p of iterateParagraphs(text, opts)) out.push(p);
  return out;
}

export function* iterateParagraphs(text: string, opts: ParseOptions = {}): Generator<Paragraph> {
  const lines = text.split("\n");
  let cur: Paragraph | undefined;
  let lastField: string | undefined;
  const fail = (msg: string, line: number): void => {
    const full = `${opts.source ? `${opts.source}:` : ""}${line}: ${msg}`;
    if (opts.onError) opts.onError(full, line);
    else throw new OcipatchError("INVALID_FORMAT", full);
  };
  for (let n = 0; n < lines.length; n++) {
    let line = lines[n]!;
    if (line.endsWith("\r")) line = line.slice(0, -1);
    if (line.trim() === "") {
      if (cur) {
        yield cur;
        cur = undefined;
        lastField = undefined;
      }
      continue;
    }
    if (line.startsWith("#")) continue;
    if (line.startsWith(" ") || line.startsWith("\t")) {
      if (!cur || lastField === undefined) {
        fail("continuation line outside a field", n + 1);
        continue;
      }
      const prev = cur.get(lastField) ?? "";
      cur.set(lastField, `${prev}\n${line.slice(1)}`);
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) {
      fail(`malformed line "${line.slice(0, 80)}"`, n + 1);
      continue;
    }
    const name = line.slice(0, colon);
    if (/\s/.test(name)) {
      fail(`malformed field name "${name.slice(0, 80)}"`, n + 1);
      continue;
    }
    if (!cur) cur = new Paragraph(n + 1);
    cur.set(name, line.slice(colon + 1).trim());
    lastField = name;
  }
  if (cur) yield cur;
}
