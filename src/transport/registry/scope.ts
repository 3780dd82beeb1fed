/** Token scopes (distribution token-scope spec). */
export function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

export function pushScope(repository: string): string {
  return `repository:${repository}:pull,push`;
}

/** Union of scope sets; a later `pull,push` for a repository widens an earlier `pull`. */
export function mergeScopes(...sets: readonly (readonly string[])[]): string[] {
  const byResource = new Map<string, Set<string>>();
  const other: string[] = [];
  for (const set of sets) {
    for (const s of set) {
      const m = /^(repository(?:\([^)]*\))?:[^:]+):(.+)$/.exec(s);
      if (!m) {
        if (!other.includes(s)) other.push(s);
        continue;
      }
      const actions = byResource.get(m[1]!) ?? new Set<string>();
      for (const a of m[2]!.split(",")) if (a) actions.add(a);
      byResource.set(m[1]!, actions);
    }
  }
  const order = ["pull", "push", "delete"];
  const rank = (a: string) => (order.includes(a) ? order.indexOf(a) : order.length);
  const out = [...byResource].map(
    ([res, actions]) =>
      `${res}:${[...actions].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b)).join(",")}`,
  );
  return [...out, ...other];
}
