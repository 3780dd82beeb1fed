/**
 * The patch layer of an rpm upgrade, as `rpm -U` would leave the filesystem (scriptlets not run):
 * the new versions' payload at its paths (owners from the image's passwd/group, modes and mtimes
 * from the package), `%config` files handled as rpm does (kept, `.rpmnew`, `.rpmsave`),
 * whiteouts for files the old versions owned that nothing owns any more, and rpmdb.sqlite
 * rewritten with the new installed headers (checkpointed: no `-wal` in the layer, the image's
 * `-wal`/`-shm` whited out). Every path is placed through the image's symlinks the way rpm
 * would in a chroot; one that leaves the root is refused and nothing is left behind.
 */
import { Readable } from "node:stream";
import { OcipatchError } from "../../../errors.js";
import type { InstalledPackage } from "../../../inventory/types.js";
import { type EntryMeta, LayerWriter } from "../../../patch/layer/layer-writer.js";
import { TargetTree } from "../../../patch/layer/target-tree.js";
import { combineScriptReports } from "../../script-report.js";
import type {
  BuildLayerRequest,
  KeptConffile,
  PatchedPackage,
  PatchLayer,
  ScriptReport,
} from "../../types.js";
import { FILE_FLAG, type RpmFile, type RpmHeader } from "../header.js";
import { readCpio } from "../package/cpio.js";
import { payloadStream, type RpmPackageFile, readRpmFile } from "../package/rpm-file.js";
import { headerArch, headerEvr, PSEUDO_PACKAGES, RPMDB_DIRS, rpmRecord, toInstalled } from "../record.js";
import { readRpmdbSqlite } from "../rpmdb-sqlite.js";
import { fileCapsXattr } from "./caps.js";
import { configFate, digestOf } from "./config-files.js";
import { installedHeaderBlob } from "./installed-header.js";
import { RpmOwners } from "./owners.js";
import { rewriteRpmdbSqlite } from "./rpmdb-write.js";
import { rpmScriptReport } from "./scripts.js";

const BUILDTIME = 1006;
const INSTALLCOLOR = 1127;
/** `%caps` of each file: the security.capability xattr rpm sets on regular files (`caps.ts`). */
const FILECAPS = 5010;

interface Loaded {
  readonly pkg: RpmPackageFile;
  readonly old: RpmHeader | undefined;
  readonly oldHnum: number | undefined;
  readonly fromVersion: string | undefined;
  /** Installed packages it obsoletes: erased with the upgrade. */
  readonly obsoleted: ReadonlyArray<{ readonly header: RpmHeader; readonly hnum: number }>;
}

function int(h: RpmHeader, tag: number): number | undefined {
  const v = h.tags.get(tag);
  return v?.type === "int" ? v.values[0] : undefined;
}

/** `now`, else SOURCE_DATE_EPOCH, else the newest build time of the packages (as dpkg's layerTime). */
function installTime(req: BuildLayerRequest, loaded: readonly Loaded[]): number {
  if (req.now !== undefined) return Math.floor(req.now.getTime() / 1000);
  const sde = process.env["SOURCE_DATE_EPOCH"];
  if (sde !== undefined && sde !== "") {
    if (!/^\d{1,12}$/.test(sde))
      throw new OcipatchError(
        "USAGE",
        `SOURCE_DATE_EPOCH must be a number of seconds, not "${sde.slice(0, 20)}"`,
      );
    return Number(sde);
  }
  return Math.max(0, ...loaded.map((l) => int(l.pkg.header, BUILDTIME) ?? 0));
}

async function findDbPath(req: BuildLayerRequest): Promise<string> {
  const fromInventory = req.inventory.packages.find((p) => p.dbPath !== undefined)?.dbPath;
  if (fromInventory !== undefined) return fromInventory;
  for (const d of RPMDB_DIRS)
    if ((await req.fs.stat(`${d}/rpmdb.sqlite`))?.type === "file") return `${d}/rpmdb.sqlite`;
  throw new OcipatchError("NOT_FOUND", `${req.fs.description}: no rpm database to update`);
}

/** Only an `rpmdb.sqlite` is written; the read-only formats are refused (before planning, by the patcher). */
export function assertWritableRpmdb(description: string, dbPath: string | undefined): void {
  if (dbPath === undefined || dbPath.endsWith("/rpmdb.sqlite")) return;
  const format = dbPath.endsWith("/Packages.db") ? "an NDB (SUSE)" : "a Berkeley DB";
  throw new OcipatchError(
    "UNSUPPORTED",
    `${description}: ${dbPath}: patching ${format} rpm database is not supported yet (rpmdb.sqlite is)`,
  );
}

export async function buildRpmLayer(req: BuildLayerRequest): Promise<PatchLayer> {
  if (req.packages.length === 0) throw new OcipatchError("INTERNAL", "no package to build a layer from");
  const dbPath = await findDbPath(req);
  assertWritableRpmdb(req.fs.description, dbPath);
  const loaded: Loaded[] = [];
  for (const f of req.packages) {
    await f.ready; // (a file still downloading)
    const pkg = await readRpmFile(f.path);
    if (pkg.header.name !== f.package)
      throw new OcipatchError("INVALID_FORMAT", `${f.path}: is ${pkg.header.name}, expected ${f.package}`);
    const n = f.installed ? rpmRecord(f.installed) : undefined;
    const obsoleted = (f.replaces ?? []).map((p) => rpmRecord(p)).filter((r) => r.hnum !== n?.hnum);
    loaded.push({ pkg, old: n?.header, oldHnum: n?.hnum, fromVersion: f.installed?.version, obsoleted });
  }
  const time = installTime(req, loaded);
  const mtimeOfOwn = new Date(time * 1000);
  const color =
    req.inventory.packages.map((p) => int(rpmRecord(p).header, INSTALLCOLOR)).find((c) => c !== undefined) ??
    0;

  // the database: old headers out, the installed form of the new ones in
  const what = `${req.fs.description}: ${dbPath}`;
  const dbBytes = await req.fs.readFile(dbPath);
  const walEntry = await req.fs.lstat(`${dbPath}-wal`);
  const wal = walEntry?.type === "file" ? await req.fs.readFile(`${dbPath}-wal`) : undefined;
  const rewritten = rewriteRpmdbSqlite(
    dbBytes,
    wal,
    {
      remove: [...erasedHnums(loaded)],
      add: loaded.map((l) => installedHeaderBlob(l.pkg, { time, color })),
    },
    what,
  );
  const installed: InstalledPackage[] = readRpmdbSqlite(rewritten.bytes, `${what} (patched)`)
    .filter((r) => !PSEUDO_PACKAGES.has(r.header.name))
    .map((r) => toInstalled(r, dbPath));

  // files the old versions owned and nothing owns now
  const replaced = erasedHnums(loaded);
  const newOwned = new Set(loaded.flatMap((l) => l.pkg.header.files.map((f) => f.path)));
  const stillOwned = new Set(
    req.inventory.packages
      .filter((p) => !replaced.has(rpmRecord(p).hnum))
      .flatMap((p) => rpmRecord(p).header.files.map((f) => f.path)),
  );
  const isDir = (f: RpmFile) => (f.mode & 0o170000) === 0o040000;
  const tree = new TargetTree(req.fs);
  const gone: Array<{ path: string; file: RpmFile; old: RpmHeader; name: string }> = [];
  const goneDirs: string[] = [];
  const erased = loaded.flatMap((l) => [
    ...(l.old ? [{ header: l.old, name: l.pkg.header.name }] : []),
    ...l.obsoleted.map((o) => ({ header: o.header, name: o.header.name })),
  ]);
  const seen = new Set<string>();
  for (const { header, name } of erased) {
    for (const f of header.files) {
      // rpm neither removes nor backs up a %ghost %config file (rpmfilesConfigConflict)
      if (f.flags & FILE_FLAG.GHOST && f.flags & FILE_FLAG.CONFIG) continue;
      if (newOwned.has(f.path) || stillOwned.has(f.path) || seen.has(f.path)) continue;
      seen.add(f.path);
      if ((await req.fs.lstat(f.path)) === undefined) continue;
      if (isDir(f)) goneDirs.push(f.path);
      else gone.push({ path: f.path, file: f, old: header, name });
    }
  }
  // a directory goes only when nothing else is left in it (rpm leaves a non-empty one) and the new
  // versions write nothing into it (a whiteout before a file under it: runtimes refuse the layer); deepest first
  const goneSet = new Set(gone.map((g) => g.path));
  const written = loaded.flatMap((l) =>
    l.pkg.header.files.filter((f) => !(f.flags & FILE_FLAG.GHOST)).map((f) => f.path),
  );
  const removedDirs: string[] = [];
  for (const d of [...new Set(goneDirs)].sort(
    (a, b) => b.split("/").length - a.split("/").length || (a < b ? -1 : 1),
  )) {
    const children = await req.fs.readdir(d);
    if (children.every((c) => goneSet.has(`${d}/${c}`)) && !written.some((p) => p.startsWith(`${d}/`))) {
      goneSet.add(d);
      removedDirs.push(d);
    }
  }
  const under = (p: string) => removedDirs.some((d) => p.startsWith(`${d}/`));

  const owners = await RpmOwners.of(req.fs);
  const warnings: string[] = [];
  const kept: KeptConffile[] = [];
  const removed: string[] = [];
  const writer = new LayerWriter(
    req.layerPath,
    req.compression,
    req.manifestMediaType,
    mtimeOfOwn,
    req.signal,
  );
  try {
    // whiteouts (a changed config file the new version drops is saved as .rpmsave first, as rpm -e does)
    for (const g of gone) {
      if (under(g.path)) continue;
      const real = await tree.resolveParent(g.path, what);
      if (g.file.flags & FILE_FLAG.CONFIG) {
        const disk = await req.fs.lstat(`/${real}`);
        if (disk?.type === "file") {
          const content = await req.fs.readFile(`/${real}`);
          if (digestOf(g.old.fileDigestAlgo, content) !== g.file.digest) {
            await writer.addFile(`${real}.rpmsave`, diskMeta(disk), content.length, content);
            tree.record(`${real}.rpmsave`, { kind: "file" });
            warnings.push(`${g.name}: ${g.path} was changed in the image: saved as ${g.path}.rpmsave`);
          }
        }
      }
      await writer.addWhiteout(real);
      removed.push(`/${real}`);
    }
    for (const d of removedDirs) {
      if (under(d)) continue;
      const real = await tree.resolveParent(d, what);
      await writer.addWhiteout(real);
      removed.push(`/${real}`);
    }
    removed.sort();

    for (const l of loaded) {
      const h = l.pkg.header;
      const label = `${l.pkg.path}: rpm payload`;
      const byPath = new Map(h.files.map((f) => [f.path, f]));
      const oldByPath = new Map((l.old?.files ?? []).map((f) => [f.path, f]));
      const capsTag = h.tags.get(FILECAPS);
      const caps = capsTag?.type === "string" ? capsTag.values : [];
      const fileIndex = new Map(h.files.map((f, i) => [f.path, i]));
      const realOf = new Map<string, string>();
      for await (const e of readCpio(payloadStream(l.pkg), h, label)) {
        if (e.path === "/") continue;
        const file = byPath.get(e.path);
        if (file === undefined || file.flags & FILE_FLAG.GHOST) continue;
        const real = await tree.resolveParent(e.path, label);
        realOf.set(e.path, real);
        if (writer.has(real)) {
          if (e.type !== "directory")
            warnings.push(`${h.name}: ${e.path} is also in another upgraded package: kept the first`);
          continue;
        }
        const uid = owners.uid(file.user);
        const gid = owners.gid(file.group);
        const meta: EntryMeta = {
          mode: e.mode & 0o7777,
          uid,
          gid,
          uname: uid === 0 ? "root" : file.user,
          gname: gid === 0 ? "root" : file.group,
          mtime: new Date(e.mtime * 1000),
        };
        switch (e.type) {
          case "directory": {
            const have = await tree.lstat(real);
            if (have?.kind === "symlink") {
              // rpm keeps a symlink where the package has a directory (/lib -> usr/lib): the
              // package's files go through it, so it must lead to a directory inside the root
              const to = await tree.resolveDirectory(real, label);
              if ((await tree.lstat(to))?.kind !== "directory")
                throw new OcipatchError(
                  "INVALID_FORMAT",
                  `${label}: cannot place ${e.path}: the image has a symlink there that leads to no directory`,
                );
              continue;
            }
            const img = have?.image;
            if (img?.type === "directory" && img.mode === meta.mode && img.uid === uid && img.gid === gid)
              continue;
            await writer.addDirectory(real, meta);
            tree.record(real, { kind: "directory" });
            break;
          }
          case "symlink":
            await writer.addSymlink(real, e.linkTarget, meta);
            tree.record(real, { kind: "symlink", target: e.linkTarget });
            break;
          case "hardlink": {
            const target = realOf.get(e.linkTarget);
            if (target === undefined || !writer.has(target)) {
              warnings.push(`${h.name}: ${e.path}: its hard-link target was not written: not written`);
              break;
            }
            await writer.addHardlink(real, target, meta);
            tree.record(real, { kind: "file" });
            break;
          }
          case "file": {
            let at = real;
            if (file.flags & FILE_FLAG.CONFIG) {
              const disk = await req.fs.lstat(`/${real}`);
              let content: Buffer | undefined;
              const fate = await configFate(
                file,
                h.fileDigestAlgo,
                oldByPath.get(e.path),
                l.old?.fileDigestAlgo ?? h.fileDigestAlgo,
                disk === undefined
                  ? undefined
                  : {
                      type: disk.type,
                      digest: async (algo) => {
                        content ??= await req.fs.readFile(`/${real}`);
                        return digestOf(algo, content);
                      },
                    },
              );
              if (fate === "keep") {
                kept.push({ package: h.name, path: e.path });
                tree.record(real, { kind: "file" });
                continue;
              }
              if (fate === "rpmnew") {
                at = `${real}.rpmnew`;
                kept.push({ package: h.name, path: e.path });
                warnings.push(
                  `${h.name}: ${e.path} was changed in the image: kept, the new one is ${e.path}.rpmnew`,
                );
              } else if (fate === "rpmsave" || fate === "rpmorig") {
                const ext = fate === "rpmsave" ? ".rpmsave" : ".rpmorig";
                const saved = content ?? (await req.fs.readFile(`/${real}`));
                await writer.addFile(`${real}${ext}`, diskMeta(disk!), saved.length, saved);
                tree.record(`${real}${ext}`, { kind: "file" });
                warnings.push(`${h.name}: ${e.path} was changed in the image: saved as ${e.path}${ext}`);
              }
            }
            // rpm sets %caps on regular files only (fsmSetmeta), an empty text meaning none
            const cap = caps[fileIndex.get(e.path) ?? -1] ?? "";
            const withCaps: EntryMeta =
              cap === ""
                ? meta
                : {
                    ...meta,
                    xattrs: { "security.capability": fileCapsXattr(cap, `${l.pkg.path}: ${e.path}`) },
                  };
            await writer.addFile(at, withCaps, e.size, Readable.from(e.body()));
            tree.record(at, { kind: "file" });
            break;
          }
          default:
            warnings.push(`${h.name}: ${e.path} is a special file: not written`);
        }
      }
    }

    // the database, where the image keeps it; its -wal/-shm would replay or shadow the old state
    const dbReal = await tree.resolveParent(dbPath, what);
    const dbEntry = await req.fs.lstat(`/${dbReal}`);
    await writer.addFile(
      dbReal,
      { mode: dbEntry?.mode ?? 0o644, uid: dbEntry?.uid ?? 0, gid: dbEntry?.gid ?? 0, mtime: mtimeOfOwn },
      rewritten.bytes.length,
      rewritten.bytes,
    );
    for (const side of ["-wal", "-shm"]) {
      if ((await req.fs.lstat(`/${dbReal}${side}`)) === undefined) continue;
      await writer.addWhiteout(`${dbReal}${side}`);
      removed.push(`/${dbReal}${side}`);
    }

    for (const l of loaded)
      for (const o of l.obsoleted)
        warnings.push(`${l.pkg.header.name} obsoletes ${o.header.name} ${headerEvr(o.header)}: removed`);
    const finished = await writer.finish();
    const scriptReports: ScriptReport[] = loaded.map((l) =>
      rpmScriptReport(
        l.pkg.header.name,
        l.pkg.header,
        l.old,
        l.fromVersion ?? "",
        headerEvr(l.pkg.header),
        l.obsoleted.map((o) => o.header),
      ),
    );
    const packages: PatchedPackage[] = loaded.map((l) => ({
      package: l.pkg.header.name,
      architecture: headerArch(l.pkg.header),
      fromVersion: l.fromVersion,
      toVersion: headerEvr(l.pkg.header),
    }));
    return {
      ...finished,
      packages,
      installed,
      // the packages obsoleted, and an upgraded one's old record when the architecture changed
      erased: loaded.flatMap((l) =>
        [
          ...(l.old && headerArch(l.old) !== headerArch(l.pkg.header) ? [l.old] : []),
          ...l.obsoleted.map((o) => o.header),
        ].map((h) => ({ name: h.name, architecture: headerArch(h) })),
      ),
      keptConffiles: kept,
      removed,
      scripts: combineScriptReports(scriptReports),
      scriptReports,
      warnings: [...owners.warnings, ...warnings],
    };
  } catch (e) {
    await writer.abort();
    throw e;
  }
}

/** Header numbers the upgrade erases: the upgraded versions and the packages obsoleted. */
function erasedHnums(loaded: readonly Loaded[]): Set<number> {
  return new Set(
    loaded.flatMap((l) => [
      ...(l.oldHnum === undefined ? [] : [l.oldHnum]),
      ...l.obsoleted.map((o) => o.hnum),
    ]),
  );
}

function diskMeta(e: { mode: number; uid: number; gid: number; mtime: Date | undefined }): EntryMeta {
  return { mode: e.mode, uid: e.uid, gid: e.gid, ...(e.mtime ? { mtime: e.mtime } : {}) };
}
