import { OcipatchError, undefinedIfNotFound } from "../../../errors.js";
import type { InstalledPackage } from "../../../inventory/types.js";
import type { EntryMeta } from "../../../patch/layer/layer-writer.js";
import { DPKG_STATUS } from "../db/paths.js";
import { dpkgRecord } from "../db/record.js";
import { parseDpkgStatus } from "../db/status.js";
import { parseMd5sums } from "../deb/index.js";
import { Paragraph, parseParagraphs } from "../debian/deb822.js";
import {
  DPKG_INFO_DIR,
  type InfoFile,
  infoBaseName,
  rewriteStatusFile,
  type StatusReplacement,
  statusDFiles,
} from "../dpkg-db/index.js";
import type { BuildContext } from "./context.js";
import { STATUS_D_DIR, STATUS_FILE, statusDName } from "./image-db.js";
import type { Takeovers } from "./takeovers.js";

/** The database side of one package of the patch. */
export interface PackageDbUpdate {
  readonly name: string;
  readonly architecture: string;
  /** The record it replaces: the installed package, or a not-installed record of the status file. */
  readonly installed: InstalledPackage | undefined;
  readonly replacesStatusRecord: { readonly architecture: string } | undefined;
  readonly record: Paragraph;
  readonly infoFiles: readonly InfoFile[];
  /** md5sums as dpkg keeps them (for status.d's `<file>.md5sums`). */
  readonly md5sums: Buffer;
}

/** A database file's owner and mode; its mtime is the layer's time (the writer's default). */
function dbMeta(mode: number): EntryMeta {
  return { mode, uid: 0, gid: 0, uname: "root", gname: "root" };
}

async function writeDbFile(ctx: BuildContext, rel: string, data: Buffer, meta: EntryMeta): Promise<void> {
  const real = await ctx.tree.resolveParent(rel, "dpkg database");
  if (ctx.tree.wrote(real)) {
    throw new OcipatchError("INTERNAL", `dpkg database file /${rel} written twice`);
  }
  await ctx.writer.addFile(real, meta, data.length, data);
  ctx.tree.record(real, { kind: "file" });
}

/**
 * The full dpkg database: status rewritten once (new records appended, the records of packages
 * that disappeared dropped, those of packages whose conffiles the batch took marked obsolete there),
 * info files written, and the `.list` of every package that lost files to the batch rewritten.
 * Returns the written records as the inventory reader reads them.
 */
export async function writeStatusDb(
  ctx: BuildContext,
  updates: readonly PackageDbUpdate[],
  taken: Takeovers,
): Promise<InstalledPackage[]> {
  const text = ctx.db.statusText ?? "";
  const replacements: StatusReplacement[] = [];
  const appended: Paragraph[] = [];
  for (const u of updates) {
    if (u.installed) {
      replacements.push({ package: u.name, architecture: u.installed.architecture, record: u.record });
    } else if (u.replacesStatusRecord) {
      replacements.push({
        package: u.name,
        architecture: u.replacesStatusRecord.architecture,
        record: u.record,
      });
    } else appended.push(u.record);
  }
  for (const { installed } of taken.disappeared) {
    replacements.push({ package: installed.name, architecture: installed.architecture, record: undefined });
  }
  for (const { installed, record } of taken.records.values()) {
    replacements.push({ package: installed.name, architecture: installed.architecture, record });
  }
  let out = rewriteStatusFile(text, replacements);
  if (appended.length > 0) {
    if (out !== "" && !out.endsWith("\n")) out += "\n";
    if (out !== "" && !out.endsWith("\n\n")) out += "\n";
    out += appended.map((p) => `${p.toString()}\n`).join("");
  }
  const st = ctx.db.statusEntry;
  await writeDbFile(ctx, STATUS_FILE, Buffer.from(out), {
    mode: st?.mode ?? 0o644,
    uid: st?.uid ?? 0,
    gid: st?.gid ?? 0,
    uname: st?.uname ?? "root",
    gname: st?.gname ?? "root",
  });
  for (const u of updates) {
    for (const f of u.infoFiles) await writeDbFile(ctx, f.path, f.data, dbMeta(f.mode));
  }
  for (const { installed, list } of taken.lists.values()) {
    const path = `${DPKG_INFO_DIR}/${infoBaseName(dpkgRecord(installed).paragraph)}.list`;
    await writeDbFile(ctx, path, Buffer.from(list.map((l) => `${l}\n`).join("")), dbMeta(0o644));
  }
  const written = [...updates.map((u) => u.record), ...[...taken.records.values()].map((r) => r.record)];
  return readBack(written.map((r) => `${r.toString()}\n`).join("\n"), DPKG_STATUS, false);
}

/**
 * Records written to a database file, parsed by the inventory reader itself, so they read as a
 * real read of the patched image would (its warnings are the image's own, already reported).
 */
function readBack(text: string, dbPath: string, assumeInstalled: boolean): InstalledPackage[] {
  return parseDpkgStatus(text, dbPath, { assumeInstalled }).packages;
}

/**
 * Distroless `status.d`: each record rewritten in its own file (original
 * name), `<file>.md5sums` rewritten where the image keeps one; a new package
 * gets `status.d/<name>` (and `.md5sums` when the image's files have them).
 * The records keep the image's style: no `Status` field when the image's have none. A package
 * that lost files to the batch keeps its `<file>.md5sums` (its file list here) without them, and
 * its record, rewritten in its file, the conffiles the batch took marked obsolete.
 */
export async function writeStatusDDb(
  ctx: BuildContext,
  updates: readonly PackageDbUpdate[],
  taken: Takeovers,
): Promise<InstalledPackage[]> {
  const installed: InstalledPackage[] = [];
  const names = new Set(ctx.db.statusDNames);
  for (const { installed: p, list } of taken.lists.values()) {
    const file = statusDName(p);
    if (file === undefined || !names.has(`${file}.md5sums`)) continue;
    const path = `${STATUS_D_DIR}/${file}.md5sums`;
    const keep = new Set(list);
    const old = parseMd5sums((await ctx.fs.readTextIfExists(`/${path}`)) ?? "", `/${path}`);
    const text = [...old].flatMap(([f, md5]) => (keep.has(`/${f}`) ? [`${md5}  ${f}\n`] : [])).join("");
    await writeDbFile(ctx, path, Buffer.from(text), dbMeta(0o644));
  }
  const records = ctx.db.statusDNames.filter((n) => !n.endsWith(".md5sums") && !n.startsWith("."));
  const anyMd5sums = ctx.db.statusDNames.some((n) => n.endsWith(".md5sums"));
  let withStatus = 0;
  for (const n of records.slice(0, 20)) {
    const t = (await ctx.fs.readTextIfExists(`/${STATUS_D_DIR}/${n}`).catch(undefinedIfNotFound)) ?? "";
    if (/^Status:/m.test(t)) withStatus++;
  }
  const imageHasStatus = records.length === 0 || withStatus * 2 >= Math.min(records.length, 20);

  /** Records of other packages the batch changed (conffiles taken), by status.d file. */
  const others = new Map<string, StatusReplacement[]>();
  for (const { installed: p, record } of taken.records.values()) {
    const file = statusDName(p);
    if (file === undefined) continue;
    others.set(file, [
      ...(others.get(file) ?? []),
      { package: p.name, architecture: p.architecture, record },
    ]);
  }

  const byFile = new Map<string, PackageDbUpdate[]>();
  for (const u of updates) {
    let file = u.installed ? statusDName(u.installed) : undefined;
    if (u.installed && file === undefined) {
      throw new OcipatchError(
        "INVALID_FORMAT",
        `${u.name}: its record is in ${u.installed.dbPath}, not in /${STATUS_D_DIR}`,
      );
    }
    if (file === undefined) {
      file = u.name;
      if (names.has(file) || byFile.has(file)) file = `${u.name}_${u.architecture}`;
      names.add(file);
    }
    const list = byFile.get(file) ?? [];
    list.push(u);
    byFile.set(file, list);
  }

  for (const [file, list] of byFile) {
    const path = `${STATUS_D_DIR}/${file}`;
    const old = (await ctx.fs.readTextIfExists(`/${path}`).catch(undefinedIfNotFound)) ?? "";
    const keepStatus = old === "" ? imageHasStatus : /^Status:/m.test(old);
    const records = list.map((u) => {
      const r = new Paragraph();
      for (const [k, v] of u.record.fields) r.set(k, v);
      if (!keepStatus) r.delete("Status");
      return r;
    });
    let text: string;
    if (old === "") text = records.map((r) => r.toString()).join("\n");
    else {
      text = rewriteStatusFile(old, [
        ...list.map((u, i) => ({
          package: u.name,
          architecture: u.installed!.architecture,
          record: records[i]!,
        })),
        ...(others.get(file) ?? []),
      ]);
      others.delete(file);
    }
    const single = parseParagraphs(text, { onError: () => undefined }).length === 1;
    const hasMd5 = names.has(`${file}.md5sums`) || (old === "" && anyMd5sums);
    const files = statusDFiles(path, records[0]!, single && hasMd5 ? list[0]!.md5sums : undefined);
    await writeDbFile(ctx, path, Buffer.from(text), dbMeta(0o644));
    for (const f of files.slice(1)) await writeDbFile(ctx, f.path, f.data, dbMeta(0o644));
    installed.push(...readBack(text, `/${path}`, true));
  }
  for (const [file, replacements] of others) {
    const path = `${STATUS_D_DIR}/${file}`;
    const text = rewriteStatusFile((await ctx.fs.readTextIfExists(`/${path}`)) ?? "", replacements);
    await writeDbFile(ctx, path, Buffer.from(text), dbMeta(0o644));
    installed.push(...readBack(text, `/${path}`, true));
  }
  return installed;
}
