import { oneLine } from "../errors.js";
import type { TagStrategy } from "./config.js";
import { compareTagVersions, parseTagVersion } from "./semver.js";

/** Lists a repository's tags (the registry's `/v2/<name>/tags/list`). */
export type TagLister = (repository: string) => Promise<readonly string[]>;

export interface SelectedTags {
  readonly tags: readonly string[];
  readonly warnings: readonly string[];
}

/**
 * Version order as copa sorts: tags that parse as versions by precedence (ties by text); tags
 * that do not parse sort before them, lexically, so `maxTags` keeps the newest versions.
 */
export function sortTags(tags: readonly string[]): string[] {
  const parsed = tags.map((t) => ({ t, v: parseTagVersion(t) }));
  return parsed
    .sort((a, b) => {
      if (a.v && b.v) return compareTagVersions(a.v, b.v) || (a.t < b.t ? -1 : a.t > b.t ? 1 : 0);
      if (a.v) return 1;
      if (b.v) return -1;
      return a.t < b.t ? -1 : a.t > b.t ? 1 : 0;
    })
    .map((x) => x.t);
}

/**
 * The tags of `repository` a strategy selects (copa's semantics):
 * - `list`: exactly these; tags the registry does not have are skipped with a warning;
 * - `pattern`: the registry's tags matching the regular expression (unanchored, as Go's
 *   `MatchString`), minus `exclude`, in version order, the newest `maxTags` when set;
 * - `latest`: the highest version among the registry's tags (minus `exclude`); none (with a
 *   warning) when no tag parses as a version.
 */
export async function selectTags(
  repository: string,
  strategy: TagStrategy,
  list: TagLister,
): Promise<SelectedTags> {
  const exclude = new Set(strategy.exclude ?? []);
  const warnings: string[] = [];
  if (strategy.strategy === "list") {
    const wanted = [...new Set(strategy.list)].filter((t) => !exclude.has(t));
    let present: Set<string>;
    try {
      present = new Set(await list(repository));
    } catch (e) {
      // cannot check: every tag is tried, a missing one then fails on its own
      warnings.push(`cannot list the tags of ${repository} (${oneLine(e)}); trying every listed tag`);
      return { tags: wanted, warnings };
    }
    const tags = wanted.filter((t) => {
      if (present.has(t)) return true;
      warnings.push(`${repository}:${t} does not exist; skipped`);
      return false;
    });
    return { tags, warnings };
  }
  const all = (await list(repository)).filter((t) => !exclude.has(t));
  if (strategy.strategy === "pattern") {
    const re = new RegExp(strategy.pattern, "u");
    const sorted = sortTags(all.filter((t) => re.test(t)));
    const max = strategy.maxTags ?? 0;
    const tags = max > 0 && sorted.length > max ? sorted.slice(sorted.length - max) : sorted;
    if (tags.length === 0) warnings.push(`no tag of ${repository} matches ${strategy.pattern}`);
    return { tags, warnings };
  }
  const versions = sortTags(all.filter((t) => parseTagVersion(t) !== undefined));
  const latest = versions[versions.length - 1];
  if (latest === undefined) {
    warnings.push(`no tag of ${repository} is a version; strategy latest selects nothing`);
    return { tags: [], warnings };
  }
  return { tags: [latest], warnings };
}
