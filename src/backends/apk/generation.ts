/**
 * Which apk-tools generation last wrote the image's database, read from what is in the image
 * (nothing is run). apk-tools 3 rewrites `installed`, `scripts.tar` and `triggers` differently
 * from apk-tools 2 (see `v3-db.ts`), so the patch layer writes them as that generation would.
 *
 * In the order of the evidence:
 * 1. the installed `apk-tools` package (or a package providing `cmd:apk=<version>`): its major
 *    version is the generation of the apk that manages the image;
 * 2. what only apk-tools 3 writes: an `f:` line with the `S` flag (sha256_160, apk_db_fdb_write),
 *    a `g:` line (package tags, apk_db_fdb_write), script names with an `X1` hex identity
 *    (apk_db_scriptdb_write through apk_blob_push_hash_hex), a `scripts.tar.gz` without a
 *    `scripts.tar` (apk_db_read_layer / apk_db_write_layers);
 * 3. otherwise apk-tools 2 (what ocipatch has always written).
 */
import type { ApkInstalledDb } from "./installed-db.js";

export type ApkToolsGeneration = 2 | 3;

export interface ApkToolsDetection {
  readonly generation: ApkToolsGeneration;
  /** What decided it, for warnings and reports. */
  readonly evidence: string;
}

export interface ApkDbFilesSeen {
  /** Names of the entries of the image's scripts store (scripts.tar or scripts.tar.gz), if any. */
  readonly scriptNames?: readonly string[];
  readonly hasScriptsTar: boolean;
  readonly hasScriptsTarGz: boolean;
}

const majorOf = (version: string): number | undefined => {
  const m = /^(\d+)\./.exec(version);
  return m ? Number(m[1]) : undefined;
};

const generationOf = (major: number): ApkToolsGeneration => (major >= 3 ? 3 : 2);

export function detectApkToolsGeneration(
  db: Pick<ApkInstalledDb, "records">,
  files: ApkDbFilesSeen,
): ApkToolsDetection {
  const tools = db.records.find((r) => r.name === "apk-tools");
  const toolsMajor = tools ? majorOf(tools.version) : undefined;
  if (tools && toolsMajor !== undefined)
    return {
      generation: generationOf(toolsMajor),
      evidence: `apk-tools-${tools.version} is installed`,
    };
  for (const r of db.records) {
    const cmd = r.provides.map((p) => /^cmd:apk=(.+)$/.exec(p)?.[1]).find((v) => v !== undefined);
    const major = cmd === undefined ? undefined : majorOf(cmd);
    if (cmd !== undefined && major !== undefined)
      return { generation: generationOf(major), evidence: `${r.name}-${r.version} provides cmd:apk=${cmd}` };
  }
  for (const r of db.records) {
    const flags = r.lines.find((l) => l.key === "f")?.value ?? "";
    if (flags.includes("S"))
      return { generation: 3, evidence: `${r.name}-${r.version} has the apk-tools 3 flag f:S` };
    if (r.lines.some((l) => l.key === "g"))
      return { generation: 3, evidence: `${r.name}-${r.version} has an apk-tools 3 g: line` };
  }
  const x1 = files.scriptNames?.find((n) => /\.X1[0-9a-f]{40}\.[^.]+$/.test(n));
  if (x1 !== undefined) return { generation: 3, evidence: `scripts.tar names ${x1} (apk-tools 3 naming)` };
  if (files.hasScriptsTarGz && !files.hasScriptsTar)
    return { generation: 3, evidence: "the scripts are stored in scripts.tar.gz (apk-tools 3)" };
  return { generation: 2, evidence: "no sign of apk-tools 3" };
}
