/**
 * apk's configuration files in an image: `/etc/alpine-release`, `/etc/apk/world`
 * (apk-world(5)), `/etc/apk/repositories` (apk-repositories(5)).
 */
import { isOcipatchError, OcipatchError } from "../../errors.js";
import type { BackendFiles } from "../types.js";

export const APK_WORLD = "/etc/apk/world";
export const APK_REPOSITORIES = "/etc/apk/repositories";
export const APK_KEYS_DIR = "/etc/apk/keys";

/** `/etc/alpine-release`: the first line ("3.21.3"), or undefined when empty. */
export function parseAlpineRelease(text: string): string | undefined {
  const first = text.split("\n")[0]?.trim();
  return first ? first : undefined;
}

/** A dependency atom as in world and `D:` lines: `[!]name[@tag][op version]`. */
export interface ApkDependency {
  readonly name: string;
  readonly conflict: boolean;
  readonly tag: string | undefined;
  /** `=`, `<`, `>`, `<=`, `>=`, `~` (fuzzy), `=~`, `><` (checksum) … or undefined. */
  readonly op: string | undefined;
  readonly version: string | undefined;
}

const ATOM = /^(!)?([^@<>=~!\s]+)(?:@([^<>=~\s]+))?(?:(><|<=|>=|=~|~=|<|>|=|~)([0-9A-Za-z]\S*))?$/;

export function parseApkDependency(atom: string, source: string): ApkDependency {
  const m = ATOM.exec(atom);
  if (!m) throw new OcipatchError("INVALID_FORMAT", `${source}: malformed dependency "${atom}"`);
  return { conflict: m[1] === "!", name: m[2] as string, tag: m[3], op: m[4], version: m[5] };
}

/** `/etc/apk/world`: whitespace-separated dependency atoms. */
export function parseApkWorld(text: string, source: string = APK_WORLD): ApkDependency[] {
  return text
    .split(/\s+/)
    .filter((w) => w !== "")
    .map((w) => parseApkDependency(w, source));
}

/** The content of `path` when it is a regular file (symlinks followed), else undefined. */
export async function readIfFile(fs: BackendFiles, path: string): Promise<Buffer | undefined> {
  try {
    const st = await fs.stat(path);
    if (st?.type !== "file") return undefined;
    return await fs.readFile(path);
  } catch (e) {
    if (isOcipatchError(e, "NOT_FOUND")) return undefined;
    throw e;
  }
}

/** The image's world atoms; none without `/etc/apk/world`. */
export async function readApkWorld(fs: BackendFiles): Promise<ApkDependency[]> {
  const bytes = await readIfFile(fs, APK_WORLD);
  return bytes ? parseApkWorld(bytes.toString("utf8")) : [];
}

/** Names pinned to one version in world (`name=version`): apk keeps them there on upgrade. */
export function pinnedNames(world: readonly ApkDependency[]): Set<string> {
  return new Set(world.filter((d) => !d.conflict && d.op === "=").map((d) => d.name));
}

interface ApkRepository {
  /** `@tag` prefix: packages from it are installed only when asked for with `name@tag`. */
  readonly tag: string | undefined;
  /** The repository URL or path: the directory holding `<arch>/APKINDEX.tar.gz`. */
  readonly url: string;
  readonly line: number;
}

/** `/etc/apk/repositories`: one repository per line, `#` comments, optional `@tag` first. */
export function parseApkRepositories(text: string, source: string = APK_REPOSITORIES): ApkRepository[] {
  const out: ApkRepository[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const parts = line.split(/\s+/);
    let tag: string | undefined;
    if (parts[0]?.startsWith("@")) {
      tag = parts.shift()?.slice(1);
      if (!tag) throw new OcipatchError("INVALID_FORMAT", `${source}:${i + 1}: empty repository tag`);
    }
    if (parts.length !== 1)
      throw new OcipatchError("INVALID_FORMAT", `${source}:${i + 1}: expected "[@tag] URL", got "${line}"`);
    out.push({ tag, url: parts[0] as string, line: i + 1 });
  });
  return out;
}
