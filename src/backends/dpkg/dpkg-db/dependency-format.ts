/**
 * dpkg rewrites dependency fields when it records them (lib/dpkg/dump.c):
 * alternatives joined by " | ", relations by ", ", versions as "(op version)",
 * deprecated "<" / ">" as "<=" / ">=", a zero epoch dropped. Values it cannot
 * parse are returned unchanged (dpkg would have refused the package).
 */
const ALT_RE = /^([^\s:(]+)(?::([^\s(]+))?\s*(?:\(\s*(<<|<=|>=|>>|=|<|>)\s*([^\s)]+)\s*\))?$/;

/** A version as dpkg writes it: a zero epoch is dropped unless needed to parse it back. */
export function formatVersion(v: string): string {
  const m = /^0+:(.*)$/.exec(v);
  if (m && !m[1]!.includes(":")) return m[1]!;
  return v;
}

export function formatDependencyField(value: string): string {
  const relations: string[] = [];
  for (const rel of value.split(",")) {
    const r = rel.trim();
    if (r === "") continue;
    const alts: string[] = [];
    for (const alt of r.split("|")) {
      const m = ALT_RE.exec(alt.trim().replace(/\s+/g, " "));
      if (!m) return value;
      let s = m[1]!;
      if (m[2]) s += `:${m[2]}`;
      if (m[3]) {
        const op = m[3] === "<" ? "<=" : m[3] === ">" ? ">=" : m[3];
        s += ` (${op} ${formatVersion(m[4]!)})`;
      }
      alts.push(s);
    }
    relations.push(alts.join(" | "));
  }
  return relations.join(", ");
}
