import { entryPath, DPKG_INFO_DIR as INFO_DIR } from "../db/paths.js";
import type { ControlMember } from "../deb/index.js";
import type { Paragraph } from "../debian/deb822.js";
import { listPath, type PackageContents } from "./contents.js";

/** var/lib/dpkg/info, as layer entries name it. */
export const DPKG_INFO_DIR = entryPath(INFO_DIR);

/**
 * The name dpkg gives a package's files in /var/lib/dpkg/info: `<name>` or,
 * for `Multi-Arch: same` packages, `<name>:<arch>` (lib/dpkg/db-ctrl-access.c,
 * pkgbin_name(..., pnaw_same)).
 */
export function infoBaseName(control: Paragraph): string {
  const name = control.get("Package") ?? "";
  const ma = (control.get("Multi-Arch") ?? "").toLowerCase();
  const arch = control.get("Architecture");
  return ma === "same" && arch ? `${name}:${arch}` : name;
}

/**
 * `info/<pkg>.list`: "/." then every path of the package in archive order,
 * directories without a trailing slash, then the obsolete conffiles dpkg keeps
 * listed.
 */
function listFile(contents: PackageContents, obsoleteConffiles: readonly string[] = []): string {
  const lines = contents.items.map((i) => listPath(i.path));
  for (const c of obsoleteConffiles) lines.push(`/${c.replace(/^\/+/, "")}`);
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}

/**
 * `info/<pkg>.md5sums`: the package's own md5sums member verbatim; when it has
 * none, dpkg writes the hashes it computed while unpacking (every regular file
 * and hardlink, in archive order).
 */
export function md5sumsFile(members: ReadonlyMap<string, ControlMember>, contents: PackageContents): Buffer {
  const own = members.get("md5sums");
  if (own) return own.data;
  let s = "";
  for (const i of contents.items) if (i.md5 !== undefined) s += `${i.md5}  ${i.path}\n`;
  return Buffer.from(s);
}

export interface InfoFile {
  /** Path in the image, e.g. `var/lib/dpkg/info/libssl3:amd64.postinst`. */
  readonly path: string;
  readonly data: Buffer;
  readonly mode: number;
}

interface InfoFilesInput {
  readonly control: Paragraph;
  readonly members: ReadonlyMap<string, ControlMember>;
  readonly contents: PackageContents;
  readonly obsoleteConffiles?: readonly string[];
}

/**
 * Every file dpkg keeps in /var/lib/dpkg/info for the new version: each control
 * member except `control` (and names with a dot), with its mode, plus the
 * generated `.list` and, when the package has no md5sums, the generated `.md5sums`.
 */
export function infoFiles(input: InfoFilesInput): InfoFile[] {
  const base = infoBaseName(input.control);
  const out: InfoFile[] = [];
  const names = [...input.members.keys()].filter((n) => n !== "control" && n !== "list" && !n.includes("."));
  for (const n of names.sort()) {
    const m = input.members.get(n)!;
    out.push({ path: `${DPKG_INFO_DIR}/${base}.${n}`, data: m.data, mode: m.mode });
  }
  if (!input.members.has("md5sums")) {
    out.push({
      path: `${DPKG_INFO_DIR}/${base}.md5sums`,
      data: md5sumsFile(input.members, input.contents),
      mode: 0o644,
    });
  }
  out.push({
    path: `${DPKG_INFO_DIR}/${base}.list`,
    data: Buffer.from(listFile(input.contents, input.obsoleteConffiles)),
    mode: 0o644,
  });
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Info files of the old version that the new one does not have (dpkg deletes
 * them; the engine writes whiteouts). `oldFiles` are the image's paths under
 * var/lib/dpkg/info belonging to the package (`<base>.<type>` for the old base name).
 */
export function obsoleteInfoFiles(oldFiles: readonly string[], newFiles: readonly InfoFile[]): string[] {
  const keep = new Set(newFiles.map((f) => f.path));
  return oldFiles.filter((p) => !keep.has(p));
}

/** The info files of a package in a listing of var/lib/dpkg/info (`<base>.<type>`, type without dots). */
export function packageInfoFiles(allInfoPaths: readonly string[], base: string): string[] {
  const prefix = `${DPKG_INFO_DIR}/${base}.`;
  return allInfoPaths.filter((p) => p.startsWith(prefix) && /^[^./]+$/.test(p.slice(prefix.length)));
}
