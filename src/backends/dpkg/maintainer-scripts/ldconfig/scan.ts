import type { ImageView } from "../effects.js";
import type { CacheEntry, CacheFlavour } from "./cache.js";
import type { ElfResult } from "./elf.js";
import { dlCacheLibcmp } from "./libcmp.js";

/*
 * ldconfig's directory pass (elf/ldconfig.c add_dir_1/add_single_dir,
 * search_dir, create_links) over the image view: directories deduplicated by
 * what they resolve to (ldconfig compares device and inode), the first
 * spelling kept; in each, `lib*.so*` / `ld-*.so*` files and links, their
 * soname read from the ELF file, one library per soname (a file beats a link,
 * else the newer name by _dl_cache_libcmp); a cache entry `DIR/SONAME` each,
 * the SONAME links ldconfig would create, dangling `*.so.*` links it would
 * remove. glibc-hwcaps and legacy hwcap subdirectories are not reproduced.
 */

/** The image after the upgrade, with what ldconfig needs beyond ImageView. */
export interface LdconfigView extends ImageView {
  /** The real absolute path a path leads to (every link followed), or undefined. */
  realpath(absPath: string): Promise<string | undefined>;
  /** How ldconfig classifies each regular file (real absolute paths), read in one pass. */
  libraries(realPaths: readonly string[]): Promise<Map<string, ElfResult>>;
}

export class LdconfigUnsupported extends Error {}

interface ScanResult {
  /** In add_to_cache call order (not sorted). */
  readonly added: CacheEntry[];
  /** SONAME links ldconfig would create or replace: absolute path → target. */
  readonly links: Array<{ readonly path: string; readonly target: string }>;
  /** Dangling `*.so.*` links ldconfig would remove. */
  readonly stale: string[];
  /** Real directories scanned. */
  readonly dirs: string[];
  /** Files read. */
  readonly files: number;
}

const LEGACY_HWCAP_DIRS = new Set([
  "tls",
  "x86_64",
  "haswell",
  "xeon_phi",
  "avx512_1",
  "i386",
  "i486",
  "i586",
  "i686",
]);

/** Does this name look like a shared library to ldconfig? */
export function isDsoName(name: string, flavour: CacheFlavour): boolean {
  const lib = (name.startsWith("lib") || name.startsWith("ld-")) && name.includes(".so");
  if (flavour === "2.31") return lib;
  return lib || name.startsWith("ld.so.") || name.startsWith("ld64.so.");
}

/**
 * A name some ldconfig flavour reads as a library (the widest test, 2.33's): the files whose ELF
 * facts are kept while unpacking and indexing, before the image's flavour is known.
 */
export function isAnyDsoName(name: string): boolean {
  return isDsoName(name, "2.33");
}

/** Temporary files of prelink, rpm and dpkg that ldconfig never reads. */
function skippedName(name: string): boolean {
  return (
    name.endsWith(".#prelink#") ||
    /\.#prelink#\.[^/]{6}$/.test(name) ||
    name.includes(";") ||
    name.endsWith(".dpkg-new") ||
    name.endsWith(".dpkg-tmp")
  );
}

/** The dynamic linker: Debian's ldconfig never touches its links. */
function isDynamicLinker(soname: string): boolean {
  return /^ld-linux[-.]|^ld(64)?\.so\./.test(soname);
}

interface Candidate {
  readonly name: string;
  readonly isLink: boolean;
  readonly real: string;
}

interface Dlib {
  name: string;
  soname: string;
  flags: number;
  isLink: boolean;
  osversion: number;
  real: string;
}

const latin1 = (s: string) => Buffer.from(s, "latin1");

/** The directories ldconfig would scan, in order: `[path as written, real path]`. */
export async function resolveDirs(
  view: LdconfigView,
  paths: readonly string[],
  flavour: CacheFlavour,
): Promise<Array<{ path: string; real: string }>> {
  const seen = new Set<string>();
  const out: Array<{ path: string; real: string }> = [];
  for (const path of paths) {
    const real = await view.realpath(path.startsWith("/") ? path : `/${path}`);
    if (real === undefined || (await view.lstat(real))?.kind !== "directory" || seen.has(real)) continue;
    seen.add(real);
    out.push({ path, real });
    if (flavour !== "2.31") {
      const hw = await view.realpath(`${real === "/" ? "" : real}/glibc-hwcaps`);
      if (hw !== undefined && (await view.lstat(hw))?.kind === "directory") {
        throw new LdconfigUnsupported(`${path}/glibc-hwcaps subdirectories are not reproduced`);
      }
    }
  }
  return out;
}

export async function scanLibraryDirs(
  view: LdconfigView,
  dirs: ReadonlyArray<{ path: string; real: string }>,
  flavour: CacheFlavour,
): Promise<ScanResult> {
  const stale: string[] = [];
  const perDir: Candidate[][] = [];
  for (const d of dirs) {
    const cands: Candidate[] = [];
    const prefix = d.real === "/" ? "" : d.real;
    for (const name of await view.readdir(d.real)) {
      const abs = `${prefix}/${name}`;
      if (!isDsoName(name, flavour)) {
        if (LEGACY_HWCAP_DIRS.has(name) && (await view.readdir(abs)).length > 0) {
          throw new LdconfigUnsupported(`${d.path}/${name}: hwcap subdirectories are not reproduced`);
        }
        continue;
      }
      if (skippedName(name)) continue;
      const st = await view.lstat(abs);
      if (st?.kind === "symlink") {
        const target = await view.realpath(abs);
        if (target === undefined) {
          if (name.includes(".so.")) stale.push(`${d.path}/${name}`);
          continue;
        }
        cands.push({ name, isLink: true, real: target });
      } else if (st?.kind === "file") {
        cands.push({ name, isLink: false, real: abs });
      }
    }
    perDir.push(cands);
  }
  const reals = [...new Set(perDir.flat().map((c) => c.real))];
  const libs = await view.libraries(reals);

  const added: CacheEntry[] = [];
  const links: Array<{ path: string; target: string }> = [];
  for (const [k, d] of dirs.entries()) {
    const dlibs: Dlib[] = [];
    for (const c of perDir[k]!) {
      const r = libs.get(c.real);
      if (!r || r.kind === "skipped") continue;
      if (r.kind === "unsupported") throw new LdconfigUnsupported(`${d.path}/${c.name}: ${r.reason}`);
      let soname = r.library.soname ?? c.name;
      let isLink = c.isLink;
      if (
        isLink &&
        c.name !== soname &&
        !(c.name.length >= 3 && c.name.endsWith(".so") && soname.startsWith(c.name))
      ) {
        isLink = false;
      }
      if (isLink) soname = c.name;
      const same = dlibs.find((x) => x.soname === soname);
      if (same) {
        if (
          (!isLink && same.isLink) ||
          (isLink === same.isLink && dlCacheLibcmp(latin1(same.name), latin1(c.name)) < 0)
        ) {
          same.name = c.name;
          same.isLink = isLink;
          same.osversion = r.library.osversion;
          same.real = c.real;
        }
        continue;
      }
      dlibs.unshift({
        name: c.name,
        soname,
        flags: r.library.flags,
        isLink,
        osversion: r.library.osversion,
        real: c.real,
      });
    }
    const prefix = d.real === "/" ? "" : d.real;
    for (const l of dlibs) {
      if (!l.isLink && l.soname !== l.name && !isDynamicLinker(l.soname)) {
        const so = `${prefix}/${l.soname}`;
        const soReal = await view.realpath(so);
        const relink =
          soReal === undefined ? true : soReal !== l.real && (await view.lstat(so))?.kind === "symlink";
        if (relink) links.push({ path: `${d.path}/${l.soname}`, target: l.name });
      }
      added.push({ soname: l.soname, path: `${d.path}/${l.soname}`, flags: l.flags, osversion: l.osversion });
    }
  }
  return { added, links, stale, dirs: dirs.map((d) => d.real), files: reals.length };
}
