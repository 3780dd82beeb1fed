/**
 * Minimal path globs for capture patterns: `**` any run of characters including
 * "/", `*` any run within one component, `?` one character; a pattern ending in
 * "/**" also matches the directory itself. Patterns are relative to the root; a
 * leading "/" is ignored.
 */
function globToRegExp(pattern: string): RegExp {
  let p = pattern.replace(/^\/+/, "");
  let suffix = "";
  if (p.endsWith("/**")) {
    p = p.slice(0, -3);
    suffix = "(?:/.*)?";
  }
  let re = "";
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === "*") {
      if (p[i + 1] === "*") {
        re += ".*";
        i++;
      } else {
        re += "[^/]*";
      }
    } else if (c === "?") {
      re += "[^/]";
    } else {
      re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
    }
  }
  return new RegExp(`^${re}${suffix}$`, "s");
}

/** A predicate over relative paths that matches any of the patterns. */
export function globMatcher(patterns: readonly string[]): (rel: string) => boolean {
  const res = patterns.map(globToRegExp);
  return (rel) => res.some((r) => r.test(rel));
}
