import type { ScriptEffect } from "../../../types.js";
import type { EffectOutcome, EffectWrite } from "../effects.js";
import { type CacheFlavour, readCache, sortEntries, writeCache } from "./cache.js";
import { ConfUnsupported, readLdSoConf } from "./conf.js";
import { isDsoName, LdconfigUnsupported, type LdconfigView, resolveDirs, scanLibraryDirs } from "./scan.js";

export { finalizeStrings, readCache, sortEntries, writeCache } from "./cache.js";
export { ConfUnsupported, readLdSoConf } from "./conf.js";
export { type ElfResult, readElfLibrary } from "./elf.js";
export { dlCacheLibcmp } from "./libcmp.js";
export { isAnyDsoName, isDsoName, type LdconfigView, resolveDirs, scanLibraryDirs } from "./scan.js";
export { ELF_LIBRARY_SUMMARY } from "./summary.js";

/*
 * `ldconfig` (the libc-bin trigger libraries activate), natively: the
 * directories of /etc/ld.so.conf (and its includes) and the built-in ones
 * scanned in the final view, the cache written byte for byte as the image's
 * own ldconfig writes it, SONAME links created and dangling ones removed as
 * ldconfig does. The auxiliary cache (/var/cache/ldconfig/aux-cache, keyed by
 * inode numbers) is not written.
 */

const LD_SO_CACHE = "/etc/ld.so.cache";

/** Debian's built-in directories after the configured ones (multiarch, then /lib and /usr/lib). */
const TRIPLETS: Readonly<Record<string, string>> = { amd64: "x86_64-linux-gnu" };

interface LdconfigInput {
  readonly view: LdconfigView;
  /** The dpkg architecture of the image's libc. */
  readonly architecture: string;
  /** libc-bin's version before and after the patch. */
  readonly libcVersionBefore: string | undefined;
  readonly libcVersionAfter: string | undefined;
  /** Written or removed paths (absolute, real); the work is done only when one is a library in a scanned directory. */
  readonly changed: readonly string[];
  /** The packages whose scripts or triggers run ldconfig (the first one owns the writes). */
  readonly packages: readonly string[];
}

interface LdconfigOutcome {
  readonly effects: ScriptEffect[];
  readonly outcome: EffectOutcome | undefined;
}

function upstreamOf(version: string | undefined): [number, number] | undefined {
  const m = /^(?:\d+:)?(\d+)\.(\d+)/.exec(version ?? "");
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

function flavourOf(version: string | undefined): CacheFlavour | string {
  const v = upstreamOf(version);
  if (!v) return `libc-bin's version ${version ?? "(none)"} is not known`;
  const [major, minor] = v;
  if (major === 2 && minor === 31) return "2.31";
  if (major === 2 && minor >= 33 && minor <= 35) return "2.33";
  if (major > 2 || (major === 2 && minor >= 36)) return "2.36";
  return `glibc ${major}.${minor}'s cache format is not reproduced`;
}

function parentOf(abs: string): string {
  const i = abs.lastIndexOf("/");
  return i <= 0 ? "/" : abs.slice(0, i);
}

/** The generator string of the new cache: the old one, with libc-bin's new version when it changed. */
function generatorFor(old: string, before: string | undefined, after: string | undefined): string {
  if (!before || !after || before === after) return old;
  let g = old.split(`GLIBC ${before})`).join(`GLIBC ${after})`);
  const b = upstreamOf(before);
  const a = upstreamOf(after);
  if (a && b && (a[0] !== b[0] || a[1] !== b[1])) {
    g = g.replace(/release version [0-9.]+$/, `release version ${a[0]}.${a[1]}`);
  }
  return g;
}

export async function ldconfigNatively(input: LdconfigInput): Promise<LdconfigOutcome> {
  const { view } = input;
  const effectsOf = (status: ScriptEffect["status"], detail: string, paths?: string[]) =>
    input.packages.map(
      (p): ScriptEffect => ({
        package: p,
        effect: "ldconfig",
        status,
        detail,
        ...(paths ? { paths } : {}),
      }),
    );
  const skipped = (why: string): LdconfigOutcome => ({
    effects: effectsOf("skipped", `/etc/ld.so.cache NOT regenerated: ${why}`),
    outcome: undefined,
  });

  const triplet = TRIPLETS[input.architecture];
  if (!triplet) return skipped(`only amd64 images are reproduced (this one is ${input.architecture})`);
  const flavour = flavourOf(input.libcVersionAfter);
  if (flavour !== "2.31" && flavour !== "2.33" && flavour !== "2.36") return skipped(flavour);

  let dirs: Array<{ path: string; real: string }>;
  try {
    const conf = await readLdSoConf(view);
    const builtin = [`/lib/${triplet}`, `/usr/lib/${triplet}`, "/lib", "/usr/lib"];
    dirs = await resolveDirs(view, [...conf.map((c) => c.path), ...builtin], flavour);
  } catch (e) {
    if (e instanceof ConfUnsupported || e instanceof LdconfigUnsupported) return skipped(e.message);
    throw e;
  }
  const scanned = new Set(dirs.map((d) => d.real));
  const touched = input.changed.filter((p) => {
    const name = p.slice(p.lastIndexOf("/") + 1);
    return scanned.has(parentOf(p)) && isDsoName(name, flavour);
  });
  if (touched.length === 0) {
    return {
      effects: effectsOf(
        "not needed",
        "no library in the directories ldconfig scans is written or removed: /etc/ld.so.cache keeps the same entries",
      ),
      outcome: undefined,
    };
  }

  const oldBytes = await view.readRegular(LD_SO_CACHE);
  if (!oldBytes) {
    if (!(await view.isRegular("/sbin/ldconfig")) && !(await view.isRegular("/usr/sbin/ldconfig"))) {
      return {
        effects: effectsOf(
          "not needed",
          "the image has neither ldconfig nor /etc/ld.so.cache: the dynamic linker searches its default directories",
        ),
        outcome: undefined,
      };
    }
    return skipped("the image has no /etc/ld.so.cache");
  }
  const old = readCache(oldBytes);
  if (!old) return skipped("the image's /etc/ld.so.cache is not in the new format");
  if (old.hwcapEntries > 0) return skipped("the image's cache has glibc-hwcaps entries");
  const withExtensions = flavour !== "2.31";
  if (withExtensions !== old.hasExtensions || (withExtensions && old.generator === undefined)) {
    return skipped(`the image's /etc/ld.so.cache does not look written by glibc ${flavour}`);
  }

  let scan: Awaited<ReturnType<typeof scanLibraryDirs>>;
  try {
    scan = await scanLibraryDirs(view, dirs, flavour);
  } catch (e) {
    if (e instanceof LdconfigUnsupported) return skipped(e.message);
    throw e;
  }
  const entries = sortEntries(flavour, scan.added);
  const generator =
    old.generator === undefined
      ? undefined
      : generatorFor(old.generator, input.libcVersionBefore, input.libcVersionAfter);
  const bytes = writeCache(flavour, entries, generator);

  const writes: EffectWrite[] = [];
  if (!bytes.equals(oldBytes)) writes.push({ path: LD_SO_CACHE, kind: "file", content: bytes, mode: 0o644 });
  for (const l of scan.links) writes.push({ path: l.path, kind: "symlink", target: l.target });
  const removes = [...scan.stale];
  const what = `${scan.dirs.length} directories, ${scan.files} files read, ${entries.length} libraries`;
  if (writes.length === 0 && removes.length === 0) {
    return {
      effects: effectsOf("not needed", `/etc/ld.so.cache already lists what ldconfig would (${what})`),
      outcome: undefined,
    };
  }
  const paths = [...writes.map((w) => w.path), ...removes];
  const links = scan.links.length + removes.length;
  const detail = `/etc/ld.so.cache ${writes.some((w) => w.path === LD_SO_CACHE) ? "regenerated" : "unchanged"} (${what})${links > 0 ? `; ${scan.links.length} soname link(s) created, ${removes.length} dangling removed` : ""}; aux-cache not updated`;
  const effects = effectsOf("applied natively", detail, paths);
  return { effects, outcome: { effect: effects[0]!, writes, removes } };
}
