import { OcipatchError } from "../../../errors.js";
import type { BackendFiles } from "../../types.js";
import { type RpmKey, readRpmKeys } from "./keys.js";

/** A repository of an image's `/etc/yum.repos.d/*.repo`, variables substituted. */
export interface RpmRepo {
  readonly id: string;
  readonly name: string;
  /** `baseurl=` (several allowed, tried in order). */
  readonly baseurls: readonly string[];
  readonly mirrorlist: string | undefined;
  readonly metalink: string | undefined;
  readonly enabled: boolean;
  /** Check each package's header signature. */
  readonly gpgcheck: boolean;
  /** Check repomd.xml's detached signature (`repomd.xml.asc`). */
  readonly repoGpgcheck: boolean;
  /** `gpgkey=` URLs (`file:///etc/pki/rpm-gpg/…`). */
  readonly gpgkeys: readonly string[];
  /** `<file>` (for messages). */
  readonly origin: string;
}

/** dnf's variables: `releasever`, `basearch`, and those of `/etc/dnf/vars/*`. */
type RepoVars = Readonly<Record<string, string>>;

/** `[main]` options that are the repositories' defaults (dnf.conf / yum.conf). */
interface RepoDefaults {
  readonly gpgcheck: boolean;
  readonly repoGpgcheck: boolean;
}

/** dnf's own defaults (libdnf: gpgcheck and repo_gpgcheck off unless configured). */
const DNF_DEFAULTS: RepoDefaults = { gpgcheck: false, repoGpgcheck: false };

interface Section {
  readonly name: string;
  readonly values: Map<string, string>;
}

/**
 * INI as dnf reads it: `[section]`, `key=value`, `#`/`;` comment lines, continuation lines
 * (starting with blanks) appended to the previous value with a newline.
 */
function parseIni(text: string, where: string): Section[] {
  const sections: Section[] = [];
  let cur: Section | undefined;
  let last: string | undefined;
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.replace(/\s+$/, "");
    if (line.trim() === "" || /^\s*[#;]/.test(line)) {
      last = undefined;
      continue;
    }
    if (/^\s/.test(line) && cur && last !== undefined) {
      cur.values.set(last, `${cur.values.get(last) ?? ""}\n${line.trim()}`);
      continue;
    }
    const sec = /^\[([^\]]+)\]$/.exec(line.trim());
    if (sec) {
      cur = { name: sec[1]!.trim(), values: new Map() };
      sections.push(cur);
      last = undefined;
      continue;
    }
    const kv = /^([A-Za-z0-9_.-]+)\s*=\s*(.*)$/.exec(line.trim());
    if (!kv || !cur)
      throw new OcipatchError("INVALID_FORMAT", `${where}:${i + 1}: not "key=value" in a [section]`);
    last = kv[1]!.toLowerCase();
    cur.values.set(last, kv[2]!);
  }
  return sections;
}

/** `$var` and `${var}` replaced by dnf's variables (unknown ones left as written, as dnf does). */
export function substituteVars(s: string, vars: RepoVars): string {
  return s.replace(/\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))/g, (whole, braced?: string, bare?: string) => {
    const v = vars[(braced ?? bare)!];
    return v === undefined ? whole : v;
  });
}

function parseBool(v: string | undefined, dflt: boolean, where: string): boolean {
  if (v === undefined || v.trim() === "") return dflt;
  const t = v.trim().toLowerCase();
  if (["1", "yes", "true", "on"].includes(t)) return true;
  if (["0", "no", "false", "off"].includes(t)) return false;
  throw new OcipatchError("INVALID_FORMAT", `${where}: "${v}" is not a boolean`);
}

/** A list value: separated by blanks, commas or newlines. */
const listOf = (v: string | undefined): string[] =>
  v === undefined ? [] : v.split(/[\s,]+/).filter((x) => x !== "");

/** The repositories of one `.repo` file. */
export function parseRepoFile(
  text: string,
  origin: string,
  vars: RepoVars,
  defaults: RepoDefaults = DNF_DEFAULTS,
): RpmRepo[] {
  const repos: RpmRepo[] = [];
  for (const s of parseIni(text, origin)) {
    if (s.name === "main") continue;
    const where = `${origin} [${s.name}]`;
    const get = (k: string): string | undefined => {
      const v = s.values.get(k);
      return v === undefined ? undefined : substituteVars(v, vars);
    };
    const one = (k: string): string | undefined => {
      const v = get(k)?.trim();
      return v === undefined || v === "" ? undefined : v;
    };
    const repo: RpmRepo = {
      id: substituteVars(s.name, vars),
      name: one("name") ?? s.name,
      baseurls: listOf(get("baseurl")),
      mirrorlist: one("mirrorlist"),
      metalink: one("metalink"),
      enabled: parseBool(get("enabled"), true, `${where} enabled`),
      gpgcheck: parseBool(get("gpgcheck"), defaults.gpgcheck, `${where} gpgcheck`),
      repoGpgcheck: parseBool(get("repo_gpgcheck"), defaults.repoGpgcheck, `${where} repo_gpgcheck`),
      gpgkeys: listOf(get("gpgkey")),
      origin,
    };
    if (repo.enabled && repo.baseurls.length === 0 && !repo.mirrorlist && !repo.metalink)
      throw new OcipatchError("INVALID_FORMAT", `${where}: no baseurl, mirrorlist or metalink`);
    if (repos.some((r) => r.id === repo.id))
      throw new OcipatchError("INVALID_FORMAT", `${where}: repository id "${repo.id}" appears twice`);
    repos.push(repo);
  }
  return repos;
}

async function fileOrUndefined(fs: BackendFiles, path: string): Promise<Buffer | undefined> {
  try {
    const st = await fs.stat(path);
    return st?.type === "file" ? await fs.readFile(path) : undefined;
  } catch (e) {
    if (e instanceof OcipatchError && e.code === "NOT_FOUND") return undefined;
    throw e;
  }
}

async function listDir(fs: BackendFiles, dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir)).sort();
  } catch (e) {
    if (e instanceof OcipatchError && e.code === "NOT_FOUND") return [];
    throw e;
  }
}

/** The variables of an image: `/etc/dnf/vars/*` (then /etc/yum/vars), over `base` (releasever, basearch). */
export async function readRepoVars(fs: BackendFiles, base: RepoVars): Promise<RepoVars> {
  const vars: Record<string, string> = {};
  for (const dir of ["/etc/yum/vars", "/etc/dnf/vars"]) {
    for (const name of await listDir(fs, dir)) {
      if (!/^[A-Za-z0-9_]+$/.test(name)) continue;
      const v = await fileOrUndefined(fs, `${dir}/${name}`);
      if (v !== undefined) vars[name] = v.toString("utf8").split("\n")[0]!.trim();
    }
  }
  return { ...vars, ...base };
}

/** `[main]` gpgcheck / repo_gpgcheck of /etc/dnf/dnf.conf (else /etc/yum.conf). */
async function readRepoDefaults(fs: BackendFiles): Promise<RepoDefaults> {
  for (const path of ["/etc/dnf/dnf.conf", "/etc/yum.conf"]) {
    const text = await fileOrUndefined(fs, path);
    if (text === undefined) continue;
    const main = parseIni(text.toString("utf8"), `${fs.description}: ${path}`).find((s) => s.name === "main");
    const w = `${fs.description}: ${path} [main]`;
    return {
      gpgcheck: parseBool(main?.values.get("gpgcheck"), DNF_DEFAULTS.gpgcheck, `${w} gpgcheck`),
      repoGpgcheck: parseBool(
        main?.values.get("repo_gpgcheck"),
        DNF_DEFAULTS.repoGpgcheck,
        `${w} repo_gpgcheck`,
      ),
    };
  }
  return DNF_DEFAULTS;
}

/** Every repository of the image's `/etc/yum.repos.d/*.repo`, in file order. */
export async function readImageRepos(fs: BackendFiles, base: RepoVars): Promise<RpmRepo[]> {
  const vars = await readRepoVars(fs, base);
  const defaults = await readRepoDefaults(fs);
  const repos: RpmRepo[] = [];
  for (const name of await listDir(fs, "/etc/yum.repos.d")) {
    if (!name.endsWith(".repo")) continue;
    const path = `/etc/yum.repos.d/${name}`;
    const text = await fileOrUndefined(fs, path);
    if (text === undefined) continue;
    for (const r of parseRepoFile(text.toString("utf8"), `${fs.description}: ${path}`, vars, defaults)) {
      const dup = repos.find((x) => x.id === r.id);
      if (dup)
        throw new OcipatchError(
          "INVALID_FORMAT",
          `${r.origin}: repository id "${r.id}" is also in ${dup.origin}`,
        );
      repos.push(r);
    }
  }
  return repos;
}

/**
 * The keys of a repository's `gpgkey=` list, read from the image (`file://` URLs only: ocipatch
 * does not trust keys fetched from the network). A missing or unreadable key file is SIGNATURE.
 */
export async function readRepoKeys(fs: BackendFiles, repo: RpmRepo): Promise<RpmKey[]> {
  const keys: RpmKey[] = [];
  for (const url of repo.gpgkeys) {
    const m = /^file:\/\/(\/[^?#]*)$/.exec(url);
    if (!m)
      throw new OcipatchError(
        "SIGNATURE",
        `${repo.origin} [${repo.id}]: gpgkey ${url} is not a file:// key of the image (keys are not fetched)`,
      );
    const path = decodeURIComponent(m[1]!);
    const bytes = await fileOrUndefined(fs, path);
    if (bytes === undefined)
      throw new OcipatchError(
        "SIGNATURE",
        `${repo.origin} [${repo.id}]: gpgkey ${path} is missing in the image`,
      );
    keys.push(...(await readRpmKeys(bytes, `${path} (${fs.description})`)));
  }
  return keys;
}
