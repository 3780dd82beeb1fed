import type { ImageView } from "../effects.js";

/*
 * /etc/ld.so.conf as glibc's ldconfig reads it (elf/ldconfig.c parse_conf,
 * parse_conf_include, add_dir_1): `#` comments, leading blanks, `include`
 * with glob patterns (relative to the including file's directory), the
 * obsolete `hwcap` directive ignored, trailing blanks and slashes removed.
 * Every path is looked up in the image view only. ldconfig recurses into
 * includes without limit (an include loop crashes it): a loop or a deeper
 * nesting than MAX_DEPTH is refused here.
 */

const LD_SO_CONF = "/etc/ld.so.conf";
const MAX_DEPTH = 16;
const MAX_CONF_BYTES = 1024 * 1024;
const MAX_DIRS = 4096;
/** Paths one include pattern may match (a pattern of many wildcard levels must not walk the whole image). */
const MAX_GLOB_PATHS = 10_000;

export class ConfUnsupported extends Error {}

/** A directory line: the path as written (trimmed), in the order ldconfig adds them. */
interface ConfDir {
  readonly path: string;
  readonly from: string;
}

const isSpace = (c: string) =>
  c === " " || c === "\t" || c === "\n" || c === "\v" || c === "\f" || c === "\r";

/** Glob one pattern component (fnmatch without flags: `*`, `?`, `[...]`; a leading dot only literally). */
function globComponent(pattern: string, name: string): boolean {
  if (name.startsWith(".") && !pattern.startsWith(".")) return false;
  let src = "^";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") src += "[^/]*";
    else if (c === "?") src += "[^/]";
    else if (c === "[") {
      const close = pattern.indexOf("]", i + 2);
      if (close < 0) {
        src += "\\[";
        continue;
      }
      let body = pattern.slice(i + 1, close);
      const negate = body.startsWith("!") || body.startsWith("^");
      if (negate) body = body.slice(1);
      src += `[${negate ? "^" : ""}${body.replace(/[\\\]^]/g, (m) => `\\${m}`)}]`;
      i = close;
    } else if (c === "\\" && i + 1 < pattern.length) {
      src += pattern[++i]!.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    } else src += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`${src}$`, "s").test(name);
}

const hasMagic = (s: string) => /[*?[]/.test(s);

/** glob(3) with no flags, inside the view: matches sorted in C collation per directory level. */
async function globInView(view: ImageView, pattern: string): Promise<string[]> {
  const parts = pattern.split("/").filter((p, i) => p !== "" || i === 0);
  let found: string[] = [parts[0] === "" ? "" : "."];
  for (let k = 1; k < parts.length; k++) {
    const part = parts[k]!;
    const next: string[] = [];
    for (const base of found) {
      if (!hasMagic(part)) {
        next.push(`${base}/${part.replace(/\\(.)/g, "$1")}`);
        continue;
      }
      const names = (await view.readdir(base === "" ? "/" : base)).filter((n) => globComponent(part, n));
      names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      for (const n of names) next.push(`${base}/${n}`);
      if (next.length > MAX_GLOB_PATHS)
        throw new ConfUnsupported(`include ${pattern} matches too many paths`);
    }
    found = next;
  }
  const out: string[] = [];
  for (const p of found) if ((await view.lstat(p)) !== undefined) out.push(p);
  return out;
}

function dirnameOf(p: string): string {
  const i = p.lastIndexOf("/");
  return i <= 0 ? "/" : p.slice(0, i);
}

/** The directory lines of ld.so.conf and everything it includes, in ldconfig's order. */
export async function readLdSoConf(view: ImageView, file = LD_SO_CONF): Promise<ConfDir[]> {
  const dirs: ConfDir[] = [];
  const parse = async (name: string, stack: readonly string[]): Promise<void> => {
    if (stack.includes(name))
      throw new ConfUnsupported(`${name} includes itself (ldconfig would not finish)`);
    if (stack.length >= MAX_DEPTH)
      throw new ConfUnsupported(`includes nested deeper than ${MAX_DEPTH} at ${name}`);
    const buf = await view.readRegular(name);
    if (buf === undefined) return; // ldconfig ignores a missing (or unreadable) file
    if (buf.length > MAX_CONF_BYTES)
      throw new ConfUnsupported(`${name} is larger than ${MAX_CONF_BYTES} bytes`);
    const lines = buf.toString("latin1").split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    for (const raw of lines) {
      let line = raw;
      const hash = line.indexOf("#");
      if (hash >= 0) line = line.slice(0, hash);
      const nul = line.indexOf("\0");
      if (nul >= 0) line = line.slice(0, nul);
      let i = 0;
      while (i < line.length && isSpace(line[i]!)) i++;
      const cp = line.slice(i);
      if (cp === "") continue;
      if (cp.startsWith("include") && (cp[7] === " " || cp[7] === "\t")) {
        for (const word of cp.slice(8).split(/[ \t]/)) {
          if (word === "") continue;
          const pattern = word.startsWith("/") ? word : `${dirnameOf(name)}/${word}`;
          for (const f of await globInView(view, pattern)) await parse(f, [...stack, name]);
        }
      } else if (/^hwcap[ \t]/i.test(cp)) {
        // "hwcap directive ignored"
      } else {
        let path = cp;
        while (path.length > 0 && isSpace(path[path.length - 1]!)) path = path.slice(0, -1);
        while (path.length > 0 && path.endsWith("/")) path = path.slice(0, -1);
        if (path === "") continue;
        if (dirs.length >= MAX_DIRS) throw new ConfUnsupported(`more than ${MAX_DIRS} directories`);
        dirs.push({ path, from: name });
      }
    }
  };
  await parse(file, []);
  return dirs;
}
