/**
 * os-release(5) files: `KEY=value` lines, values optionally in double or single
 * quotes with shell-style backslash escapes in double quotes; `#` comments.
 * Unparseable lines are skipped (and reported when `onSkip` is given).
 */
export function parseOsRelease(
  text: string,
  onSkip?: (line: number, text: string) => void,
): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) {
      onSkip?.(i + 1, raw);
      return;
    }
    const value = unquote(m[2]!);
    if (value === undefined) {
      onSkip?.(i + 1, raw);
      return;
    }
    out.set(m[1]!, value);
  });
  return out;
}

function unquote(v: string): string | undefined {
  if (v.startsWith('"')) {
    let out = "";
    for (let i = 1; i < v.length; i++) {
      const c = v[i]!;
      if (c === "\\" && i + 1 < v.length) {
        const n = v[i + 1]!;
        // Inside double quotes, a backslash escapes only these (as in sh).
        if (n === '"' || n === "\\" || n === "$" || n === "`") {
          out += n;
          i++;
          continue;
        }
        out += c;
        continue;
      }
      if (c === '"') return v.slice(i + 1).trim() === "" ? out : undefined;
      out += c;
    }
    return undefined; // unterminated
  }
  if (v.startsWith("'")) {
    const end = v.indexOf("'", 1);
    if (end === -1 || v.slice(end + 1).trim() !== "") return undefined;
    return v.slice(1, end);
  }
  // Unquoted: strip an inline comment, keep the rest (lenient with stray spaces).
  return v.replace(/\s+#.*$/, "").trim();
}
