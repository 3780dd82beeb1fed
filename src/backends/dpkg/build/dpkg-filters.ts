import { undefinedIfNotFound } from "../../../errors.js";
import type { LayeredFs } from "../../../rootfs/index.js";

/** One `path-exclude` / `path-include` option of the image's dpkg configuration. */
export interface PathFilter {
  readonly include: boolean;
  readonly pattern: string;
  readonly regexp: RegExp;
}

/** fnmatch(3) without flags, as dpkg uses it: `*` and `?` also match "/". */
function fnmatchRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "\\" && i + 1 < glob.length) {
      i++;
      re += glob[i]!.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    } else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end < 0) re += "\\[";
      else {
        const body = glob
          .slice(i + 1, end)
          .replace(/^!/, "^")
          .replace(/\\/g, "\\\\");
        re += `[${body}]`;
        i = end;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`^${re}$`, "s");
}

/** Parse `path-exclude=GLOB` / `path-include GLOB` lines of a dpkg.cfg file. */
export function parsePathFilters(text: string): PathFilter[] {
  const out: PathFilter[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s*(?:--)?path-(exclude|include)(?:=|\s+)\s*(\S+)\s*$/.exec(line);
    if (!m) continue;
    out.push({ include: m[1] === "include", pattern: m[2]!, regexp: fnmatchRegExp(m[2]!) });
  }
  return out;
}

/** The filters of /etc/dpkg/dpkg.cfg then /etc/dpkg/dpkg.cfg.d/* (name order), as dpkg reads them. */
export async function readPathFilters(fs: LayeredFs): Promise<PathFilter[]> {
  const files = ["/etc/dpkg/dpkg.cfg"];
  const st = await fs.stat("/etc/dpkg/dpkg.cfg.d").catch(undefinedIfNotFound);
  if (st?.type === "directory") {
    for (const name of await fs.readdir("/etc/dpkg/dpkg.cfg.d")) {
      // dpkg skips hidden and backup files (lib/dpkg/options.c valid_config_filename)
      if (!name.startsWith(".") && !name.endsWith("~") && !/\.dpkg-[a-z]+$/.test(name))
        files.push(`/etc/dpkg/dpkg.cfg.d/${name}`);
    }
  }
  const out: PathFilter[] = [];
  for (const f of files) {
    const text = await fs.readTextIfExists(f).catch(undefinedIfNotFound);
    if (text !== undefined) out.push(...parsePathFilters(text));
  }
  return out;
}

/**
 * dpkg's filter_should_skip (src/main/filters.c): the last matching filter
 * wins; an excluded directory or symlink is still kept when a path-include
 * pattern could match something below it. `path` is the package path
 * without the leading slash; `isDirLike` for directories and symlinks.
 */
export function shouldSkip(filters: readonly PathFilter[], path: string, isDirLike: boolean): boolean {
  if (filters.length === 0) return false;
  const abs = `/${path}`;
  let skip = false;
  for (const f of filters) if (f.regexp.test(abs)) skip = !f.include;
  if (skip && isDirLike) {
    for (const f of filters) {
      if (!f.include) continue;
      const wild = f.pattern.search(/[*?[\\]/);
      let len = wild === -1 ? f.pattern.length : wild;
      while (len > 0 && f.pattern[len - 1] === "/") len--;
      if (abs.slice(0, len) === f.pattern.slice(0, len)) return false;
    }
  }
  return skip;
}
