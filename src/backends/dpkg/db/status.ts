import { packageKey } from "../../../inventory/package-key.js";
import type { InstalledPackage } from "../../../inventory/types.js";
import { iterateParagraphs, Paragraph } from "../debian/deb822.js";
import { parseDebianVersion } from "../debian/version.js";
import type { DpkgRecord } from "./record.js";

/** dpkg's three Status words (dpkg(1), "PACKAGE STATES"). */
export const WANT_STATES = ["unknown", "install", "hold", "deinstall", "purge"] as const;
export const ERROR_FLAGS = ["ok", "reinstreq"] as const;
export const PACKAGE_STATES = [
  "not-installed",
  "config-files",
  "half-installed",
  "unpacked",
  "half-configured",
  "triggers-awaited",
  "triggers-pending",
  "installed",
] as const;

export type WantState = (typeof WANT_STATES)[number];
export type ErrorFlag = (typeof ERROR_FLAGS)[number];
export type PackageState = (typeof PACKAGE_STATES)[number];

export interface DpkgStatus {
  readonly want: WantState;
  readonly eflag: ErrorFlag;
  readonly state: PackageState;
}

/** Parse a `Status:` value ("install ok installed"); undefined when malformed. */
export function parseStatusField(value: string): DpkgStatus | undefined {
  const words = value.trim().split(/\s+/);
  if (words.length !== 3) return undefined;
  const [want, eflag, state] = words as [string, string, string];
  if (!(WANT_STATES as readonly string[]).includes(want)) return undefined;
  if (!(ERROR_FLAGS as readonly string[]).includes(eflag)) return undefined;
  if (!(PACKAGE_STATES as readonly string[]).includes(state)) return undefined;
  return { want: want as WantState, eflag: eflag as ErrorFlag, state: state as PackageState };
}

/**
 * Whether a package counts as installed: fully installed (`installed`, no error
 * flag) and not selected for removal — `install ok installed`, or `hold ok
 * installed` (installed and pinned by the admin).
 */
export function countsAsInstalled(s: DpkgStatus): boolean {
  return s.state === "installed" && s.eflag === "ok" && (s.want === "install" || s.want === "hold");
}

/** `Source: name` or `Source: name (version)`; undefined when malformed. */
export function parseSourceField(value: string): { name: string; version: string | undefined } | undefined {
  const m = /^([A-Za-z0-9][A-Za-z0-9.+-]*)(?:\s+\(\s*([^\s()]+)\s*\))?$/.exec(value.trim());
  if (!m) return undefined;
  return { name: m[1]!, version: m[2] };
}

export interface ParseDpkgStatusOptions {
  /**
   * Records without a Status field count as installed (distroless `status.d`
   * files are the packages' control files, which have no Status).
   */
  readonly assumeInstalled?: boolean;
}

export interface DpkgStatusResult {
  /** Installed packages, in file order. */
  readonly packages: InstalledPackage[];
  /** Well-formed records that do not count as installed (removed, half-installed...). */
  readonly notInstalled: Array<{
    readonly name: string;
    readonly architecture: string;
    readonly status: string;
  }>;
  /** Problems, each naming the file and line; the records concerned were skipped. */
  readonly warnings: string[];
}

interface Block {
  readonly line: number;
  readonly text: string;
}

/** Is text[from, to) empty or whitespace only (as `.trim() === ""`)? */
function isBlankLine(text: string, from: number, to: number): boolean {
  if (from === to) return true;
  const c = text.charCodeAt(from);
  // most lines start with a field name: decide without allocating
  if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0b && c !== 0x0c && c < 0x80) return false;
  return text.slice(from, to).trim() === "";
}

/**
 * Split control-file text into blank-line separated blocks, keeping start lines. Scans line
 * ends in place (no array of every line: a status database may hold millions of lines).
 */
function* blocks(text: string): Generator<Block> {
  let start = -1;
  let startLine = 0;
  let line = 1;
  let pos = 0;
  while (pos <= text.length) {
    let end = text.indexOf("\n", pos);
    if (end === -1) end = text.length;
    if (isBlankLine(text, pos, end)) {
      if (start !== -1) yield { line: startLine, text: text.slice(start, Math.max(start, pos - 1)) };
      start = -1;
    } else if (start === -1) {
      start = pos;
      startLine = line;
    }
    pos = end + 1;
    line++;
  }
  if (start !== -1) yield { line: startLine, text: text.slice(start) };
}

/**
 * Parse a dpkg status database (`/var/lib/dpkg/status`, or one file of
 * `status.d`). Every field is kept (continuation lines included) in each
 * package's `record`. Malformed records are skipped with a warning naming the
 * file and line; the parser never throws.
 */
export function parseDpkgStatus(
  text: string,
  dbPath: string,
  opts: ParseDpkgStatusOptions = {},
): DpkgStatusResult {
  const packages: InstalledPackage[] = [];
  const notInstalled: DpkgStatusResult["notInstalled"] = [];
  const warnings: string[] = [];
  const seen = new Set<string>();
  for (const block of blocks(text)) {
    const at = `${dbPath}:${block.line}`;
    let problem: string | undefined;
    const paras = [
      ...iterateParagraphs(block.text, {
        onError: (msg, line) => {
          problem ??= `${dbPath}:${block.line + line - 1}: ${msg.replace(/^\d+: /, "")}`;
        },
      }),
    ];
    const parsed = paras[0];
    if (problem !== undefined || !parsed) {
      warnings.push(`${problem ?? at}: malformed record skipped`);
      continue;
    }
    const record = new Paragraph(block.line);
    for (const [k, v] of parsed.fields) record.set(k, v);

    const name = record.get("Package");
    if (!name) {
      warnings.push(`${at}: record without a Package field skipped`);
      continue;
    }
    if (!/^[A-Za-z0-9][A-Za-z0-9.+-]*$/.test(name)) {
      warnings.push(`${at}: invalid package name ${JSON.stringify(name.slice(0, 80))} skipped`);
      continue;
    }
    const architecture = record.get("Architecture") ?? "";
    const statusValue = record.get("Status");
    let status: DpkgStatus | undefined;
    if (statusValue === undefined) {
      if (!opts.assumeInstalled) {
        warnings.push(`${at}: package ${name} has no Status field; skipped`);
        continue;
      }
      status = { want: "install", eflag: "ok", state: "installed" };
    } else {
      status = parseStatusField(statusValue);
      if (!status) {
        warnings.push(
          `${at}: package ${name} has a malformed Status ${JSON.stringify(statusValue)}; skipped`,
        );
        continue;
      }
    }
    if (!countsAsInstalled(status)) {
      notInstalled.push({ name, architecture, status: `${status.want} ${status.eflag} ${status.state}` });
      const partial = status.state !== "not-installed" && status.state !== "config-files";
      if (partial)
        warnings.push(
          `${at}: package ${name} is "${status.want} ${status.eflag} ${status.state}"; not counted as installed`,
        );
      continue;
    }
    const version = record.get("Version");
    if (!version) {
      warnings.push(`${at}: installed package ${name} has no Version; skipped`);
      continue;
    }
    try {
      parseDebianVersion(version);
    } catch {
      warnings.push(`${at}: package ${name} has an invalid Version ${JSON.stringify(version)}; skipped`);
      continue;
    }
    let sourceName = name;
    let sourceVersion = version;
    const sourceValue = record.get("Source");
    if (sourceValue !== undefined) {
      const src = parseSourceField(sourceValue);
      if (src) {
        sourceName = src.name;
        sourceVersion = src.version ?? version;
      } else {
        warnings.push(
          `${at}: package ${name} has a malformed Source ${JSON.stringify(sourceValue)}; using the binary name and version`,
        );
      }
    }
    const key = packageKey(name, architecture);
    if (seen.has(key)) {
      warnings.push(`${at}: duplicate record for ${key} skipped`);
      continue;
    }
    seen.add(key);
    packages.push({
      name,
      version,
      architecture,
      sourceName,
      sourceVersion,
      held: status.want === "hold",
      dbPath,
      native: dpkgNative(record, status.want),
    });
  }
  return { packages, notInstalled, warnings };
}

/** dpkg's own part of a package read from its status record (`InstalledPackage.native`). */
export function dpkgNative(record: Paragraph, selection: string): DpkgRecord {
  return { backend: "dpkg", selection, multiArch: record.get("Multi-Arch") || undefined, paragraph: record };
}
