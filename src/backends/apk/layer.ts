/**
 * The patch layer of an apk upgrade, as `apk upgrade` would leave the filesystem (scripts not
 * run): the new versions' files at their paths, whiteouts for files the old versions owned and
 * no new or remaining package owns, `/lib/apk/db/installed` with the upgraded records replaced
 * (apk appends the newly installed records at the end), `scripts.tar` entries of the new
 * versions' install scripts, `/etc/apk/world` untouched. Files of protected directories
 * (`protected-paths.ts`) changed in the image are kept, the new version's written as
 * `<path>.apk-new`, and not removed when the new version drops them. Times are reproducible: package files
 * keep the package's build date, the database files get `now` or the newest build date.
 *
 * The database files are written as the image's apk-tools generation writes them
 * (`generation.ts`): apk-tools 2 as above; apk-tools 3 rewrites `installed`, the scripts store
 * and `triggers` whole, every package in apk_pkg_cmp_display order (`v3-db.ts`).
 */
import { createHash } from "node:crypto";
import { OcipatchError } from "../../errors.js";
import { LayerWriter } from "../../patch/layer/layer-writer.js";
import { combineScriptReports } from "../script-report.js";
import type {
  BuildLayerRequest,
  KeptConffile,
  PatchedPackage,
  PatchLayer,
  ScriptFinding,
  ScriptReport,
} from "../types.js";
import { readTar, splitGzipMembers, type TarEntry } from "./archive.js";
import { type ApkDependency, parseApkDependency } from "./config.js";
import { readFetchedApk } from "./fetch.js";
import { type ApkToolsGeneration, detectApkToolsGeneration } from "./generation.js";
import {
  APK_INSTALLED_DB,
  type ApkInstalledRecord,
  parseApkInstalledDb,
  serializeApkInstalledDb,
} from "./installed-db.js";
import { installedRecordOf } from "./installed-record.js";
import { packagesOf } from "./inventory.js";
import type { ApkPackage } from "./package.js";
import { apkVersionSatisfies } from "./planner.js";
import { ProtectedPaths } from "./protected-paths.js";
import { apkRecord } from "./record.js";
import { APK_SCRIPT_TYPES, writeScriptsTar } from "./scripts-tar.js";
import {
  type ApkV3PackageState,
  apkIdentityKey,
  compareApkPackagesForDisplay,
  gzipScripts,
  normalizeV3FileDatabase,
  parseScriptEntryName,
  parseTriggersByIdentity,
  v3ScriptEntries,
  v3TriggersText,
} from "./v3-db.js";

/**
 * The database directory's other files, next to `installed` (apk_db_layer_name: one directory):
 * `scripts.tar` (apk-tools 3: or `scripts.tar.gz`), and `triggers`, one line per installed
 * package with triggers: `<Q1 checksum> <directory>...` (apk-tools database.c).
 */
function dbFiles(dbPath: string) {
  const dir = dbPath.slice(0, dbPath.lastIndexOf("/"));
  return {
    scriptsTar: `${dir}/scripts.tar`,
    scriptsTarGz: `${dir}/scripts.tar.gz`,
    triggers: `${dir}/triggers`,
  };
}

/**
 * A package's scripts in apk_script_types order, whatever their order in the control segment:
 * apk_db_scriptdb_write writes a package's scripts to scripts.tar looping over the script types.
 */
function scriptsOf(pkg: ApkPackage): Array<[type: (typeof APK_SCRIPT_TYPES)[number], body: Buffer]> {
  return APK_SCRIPT_TYPES.flatMap((type) => {
    const body = pkg.scripts.get(`.${type}`);
    return body === undefined ? [] : [[type, body] as [(typeof APK_SCRIPT_TYPES)[number], Buffer]];
  });
}

function scriptReport(pkg: ApkPackage, fromVersion: string | undefined): ScriptReport {
  const findings: ScriptFinding[] = [];
  for (const [type, body] of scriptsOf(pkg)) {
    // apk runs pre/post-upgrade on upgrade, pre/post-install on a new install, triggers later
    const runs =
      fromVersion === undefined
        ? type !== "pre-upgrade" && type !== "post-upgrade"
        : !type.endsWith("-install");
    if (!runs || type.endsWith("-deinstall")) continue;
    const detail =
      body
        .toString("utf8")
        .split("\n")
        .map((l) => l.trim())
        .find((l) => l !== "" && !l.startsWith("#") && !l.startsWith("set ")) ?? "";
    findings.push({
      script: type,
      version: "new",
      invocation:
        fromVersion === undefined ? `.${type} ${pkg.version}` : `.${type} ${pkg.version} ${fromVersion}`,
      actions: [{ kind: type === "trigger" ? "triggers" : "other", detail: detail.slice(0, 120) }],
    });
  }
  return {
    package: pkg.name,
    fromVersion: fromVersion ?? "",
    toVersion: pkg.version,
    wouldHaveDoneSomething: findings.length > 0,
    findings,
    kinds: [...new Set(findings.flatMap((f) => f.actions.map((a) => a.kind)))],
  };
}

const ownedPaths = (r: ApkInstalledRecord): string[] => r.dirs.flatMap((d) => d.files.map((f) => f.path));
/** An atom of `r:` / `.PKGINFO` replaces naming `pkg` at its version (apk_dep_is_materialized). */
function materialized(atoms: readonly string[], name: string, version: string): boolean {
  return atoms
    .flatMap((a) => a.split(/\s+/))
    .filter((a) => a !== "")
    .some((a) => {
      let d: ApkDependency;
      try {
        d = parseApkDependency(a, "replaces");
      } catch {
        return false;
      }
      return d.name === name && apkVersionSatisfies(version, d.op, d.version) !== d.conflict;
    });
}

/**
 * apk_pkg_replaces_file(a = the installed owner, b = the new package): the same origin replaces;
 * else the higher replaces priority of the one whose replaces names the other wins; a file neither
 * replaces is a conflict ("trying to overwrite %s owned by %s").
 */
function replacesFile(a: ApkInstalledRecord, b: ApkPackage): "yes" | "no" | "conflict" {
  const bOrigin = b.pkginfo.origin?.[0];
  if (a.origin !== undefined && a.origin === bOrigin) return "yes";
  const aPrio = materialized(a.replaces, b.name, b.version)
    ? Number(a.lines.find((l) => l.key === "q")?.value ?? 0)
    : -1;
  const bPrio = materialized(b.pkginfo.replaces ?? [], a.name, a.version)
    ? Number(b.pkginfo.replaces_priority?.[0] ?? 0)
    : -1;
  if (aPrio > bPrio) return "no";
  if (bPrio >= 0) return "yes";
  return "conflict";
}

/** `record` without the `R:` lines (and their `a:`, `Z:`) of `paths`. */
function withoutFiles(
  record: ApkInstalledRecord,
  paths: ReadonlySet<string> | undefined,
  dbPath: string,
): ApkInstalledRecord {
  if (!paths || paths.size === 0) return record;
  let dir = "";
  let dropping = false;
  const lines = record.lines.filter((l) => {
    if (l.key === "F") dir = l.value;
    if (l.key === "F" || l.key === "R")
      dropping = l.key === "R" && paths.has(dir === "" ? `/${l.value}` : `/${dir}/${l.value}`);
    return !(dropping && (l.key === "R" || l.key === "a" || l.key === "Z"));
  });
  return recordFromLines(lines, record, dbPath);
}

/** `like` with its lines replaced (read back as the database reader reads them). */
function recordFromLines(
  lines: readonly { key: string; value: string }[],
  like: ApkInstalledRecord,
  dbPath: string,
): ApkInstalledRecord {
  const text = `${lines.map((l) => `${l.key}:${l.value}`).join("\n")}\n`;
  const out = parseApkInstalledDb(text, dbPath).records[0];
  if (!out) throw new Error("unreachable: empty record");
  return { ...out, line: like.line, newlinesBefore: like.newlinesBefore };
}

/** The image's scripts store: the entries of scripts.tar, else of scripts.tar.gz. */
async function readScriptsStore(
  fs: BuildLayerRequest["fs"],
  paths: ReturnType<typeof dbFiles>,
): Promise<{ hasTar: boolean; hasTarGz: boolean; entries: TarEntry[] }> {
  const hasTar = (await fs.stat(paths.scriptsTar))?.type === "file";
  const hasTarGz = (await fs.stat(paths.scriptsTarGz))?.type === "file";
  if (hasTar)
    return { hasTar, hasTarGz, entries: readTar(await fs.readFile(paths.scriptsTar), paths.scriptsTar) };
  if (!hasTarGz) return { hasTar, hasTarGz, entries: [] };
  const gz = await fs.readFile(paths.scriptsTarGz);
  const tarBytes = Buffer.concat(splitGzipMembers(gz, paths.scriptsTarGz).map((m) => m.data));
  return { hasTar, hasTarGz, entries: readTar(tarBytes, paths.scriptsTarGz) };
}

const dirOf = (path: string): string => path.slice(0, path.lastIndexOf("/")) || "/";

/** `Q1` + base64 SHA-1 or `Q2` + base64 SHA-256 of `data`, the algorithm of `like`. */
function checksumLike(like: string, data: Buffer): string {
  return like.startsWith("Q2")
    ? `Q2${createHash("sha256").update(data).digest("base64")}`
    : `Q1${createHash("sha1").update(data).digest("base64")}`;
}

/**
 * apk_db_audit_file against the image: undefined when `path` does not exist; else whether it differs
 * from `checksum` (no checksum: it differs). A symlink's checksum is its target's; anything but
 * a regular file or a symlink differs.
 */
async function differs(
  fs: BuildLayerRequest["fs"],
  path: string,
  checksum: string | undefined,
): Promise<boolean | undefined> {
  const st = await fs.lstat(path);
  if (st === undefined) return undefined;
  if (checksum === undefined) return true;
  if (st.type === "symlink") return checksumLike(checksum, Buffer.from(st.linkTarget ?? "")) !== checksum;
  if (st.type !== "file") return true;
  return checksumLike(checksum, await fs.readFile(path)) !== checksum;
}

type LoadedPackage = { pkg: ApkPackage; size: number; old: ApkInstalledRecord | undefined };

/**
 * The new `installed`. apk-tools 2: the records that stay keep their place, the installed ones
 * are appended in install order. apk-tools 3: every record in apk_pkg_cmp_display order, one
 * blank line after each (apk_db_write_layers over apk_db_sorted_installed_packages).
 */
function installedText(
  generation: ApkToolsGeneration,
  kept: readonly ApkInstalledRecord[],
  fresh: readonly ApkInstalledRecord[],
  trailingNewlines: number,
): string {
  if (generation === 3) {
    const records = [...kept, ...fresh]
      .sort(compareApkPackagesForDisplay)
      .map((r, i) => ({ ...r, newlinesBefore: i === 0 ? 0 : 2 }));
    return serializeApkInstalledDb({ records, trailingNewlines: 2 });
  }
  const records = [...kept, ...fresh].map((r, i) => ({
    ...r,
    newlinesBefore: i === 0 ? 0 : i < kept.length ? Math.max(1, r.newlinesBefore) : 2,
  }));
  return serializeApkInstalledDb({ records, trailingNewlines: Math.max(trailingNewlines, 2) });
}

/**
 * apk-tools 3's scripts and triggers of every package of the new database (`records`, in its
 * order): the upgraded packages' from their control segments (apk_db_install_script; triggers
 * from `.PKGINFO` `triggers`, read_info_line → apk_db_pkg_add_triggers), the others' from the
 * image's scripts store and triggers file, attached by package identity
 * (apk_read_script_archive_entry, apk_db_add_trigger).
 */
function v3ScriptsAndTriggers(
  records: readonly ApkInstalledRecord[],
  installed: readonly ApkPackage[],
  storeEntries: readonly TarEntry[],
  triggersText: string,
): ApkV3PackageState[] {
  const stored = new Map<string, Map<string, Buffer>>();
  for (const e of storeEntries) {
    if (e.type !== "file") continue;
    const id = parseScriptEntryName(e.name);
    if (!id) continue;
    const m = stored.get(id.key) ?? new Map<string, Buffer>();
    m.set(id.type, e.data);
    stored.set(id.key, m);
  }
  const triggers = parseTriggersByIdentity(triggersText);
  const fresh = new Map(installed.map((p) => [apkIdentityKey(p.checksum), p] as const));
  return records.map((r) => {
    const key = apkIdentityKey(r.checksum ?? "");
    const pkg = key === undefined ? undefined : fresh.get(key);
    const buildTime = Number(r.lines.find((l) => l.key === "t")?.value ?? 0) || 0;
    const base = { name: r.name, version: r.version, checksum: r.checksum ?? "", buildTime };
    if (pkg) {
      const last = pkg.pkginfo.triggers?.[pkg.pkginfo.triggers.length - 1] ?? "";
      return {
        ...base,
        scripts: new Map(scriptsOf(pkg)),
        triggers: last.split(" ").filter((t) => t !== ""),
      };
    }
    return {
      ...base,
      scripts: (key === undefined ? undefined : stored.get(key)) ?? new Map(),
      triggers: (key === undefined ? undefined : triggers.get(key)) ?? [],
    };
  });
}

/** apk-tools 2: the replaced versions' scripts and trigger lines out, the new versions' in. */
async function writeV2ScriptsAndTriggers(
  req: BuildLayerRequest,
  writer: LayerWriter,
  paths: ReturnType<typeof dbFiles>,
  loaded: readonly LoadedPackage[],
  scriptsStore: { hasTar: boolean; entries: readonly TarEntry[] },
  dbMeta: { mode: number; mtime: Date },
  dbTime: Date,
): Promise<void> {
  // scripts.tar: drop the replaced versions' scripts, add the new ones'
  const hasScripts = loaded.some((l) => l.pkg.scripts.size > 0);
  if (scriptsStore.hasTar || hasScripts) {
    const existing = scriptsStore.hasTar ? scriptsStore.entries : [];
    const oldPrefixes = loaded.flatMap((l) =>
      l.old?.checksum ? [`${l.old.name}-${l.old.version}.${l.old.checksum}.`] : [],
    );
    const keptScripts = existing.filter(
      (e) => e.type === "file" && !oldPrefixes.some((p) => e.name.startsWith(p)),
    );
    const added = loaded.flatMap(({ pkg }) =>
      scriptsOf(pkg).map(([type, body]) => ({
        name: `${pkg.name}-${pkg.version}.${pkg.checksum}.${type}`,
        data: body,
        mode: 0o755,
      })),
    );
    if (added.length > 0 || keptScripts.length !== existing.length) {
      const tar = await writeScriptsTar(
        [...keptScripts.map((e) => ({ name: e.name, data: e.data, mode: e.mode })), ...added],
        dbTime,
      );
      await writer.addFile(paths.scriptsTar, dbMeta, tar.length, tar);
    }
  }
  // triggers: the replaced versions' lines out, the new versions' (with a .trigger) in
  const triggersStat = await req.fs.stat(paths.triggers);
  const newTriggers = loaded.flatMap(({ pkg }) => {
    const dirs = (pkg.pkginfo.triggers ?? []).flatMap((t) => t.split(/\s+/)).filter((t) => t !== "");
    return pkg.scripts.has(".trigger") && dirs.length > 0 ? [`${pkg.checksum} ${dirs.join(" ")}`] : [];
  });
  if (triggersStat?.type === "file" || newTriggers.length > 0) {
    const oldSums = new Set(loaded.flatMap((l) => (l.old?.checksum ? [l.old.checksum] : [])));
    const existing =
      triggersStat?.type === "file"
        ? (await req.fs.readFile(paths.triggers))
            .toString("utf8")
            .split("\n")
            .filter((l) => l.trim() !== "")
        : [];
    const keptLines = existing.filter((l) => !oldSums.has(l.split(" ")[0] ?? ""));
    if (newTriggers.length > 0 || keptLines.length !== existing.length) {
      const text = [...keptLines, ...newTriggers].map((l) => `${l}\n`).join("");
      await writer.addFile(paths.triggers, dbMeta, Buffer.byteLength(text), Buffer.from(text));
    }
  }
}

export async function buildApkLayer(req: BuildLayerRequest): Promise<PatchLayer> {
  if (req.packages.length === 0) throw new OcipatchError("INTERNAL", "no package to build a layer from");
  const loaded: LoadedPackage[] = [];
  for (const f of req.packages) {
    await f.ready; // (a file still downloading)
    const { pkg, size } = await readFetchedApk(f.path);
    if (pkg.name !== f.package)
      throw new OcipatchError("INVALID_FORMAT", `${f.path}: is ${pkg.name}, expected ${f.package}`);
    loaded.push({ pkg, size, old: f.installed ? apkRecord(f.installed) : undefined });
  }
  const dbPath = req.inventory.packages[0]?.dbPath ?? APK_INSTALLED_DB;
  const db = parseApkInstalledDb((await req.fs.readFile(dbPath)).toString("utf8"), dbPath);
  const paths = dbFiles(dbPath);
  const scriptsStore = await readScriptsStore(req.fs, paths);
  const { generation } = detectApkToolsGeneration(db, {
    scriptNames: scriptsStore.entries.map((e) => e.name),
    hasScriptsTar: scriptsStore.hasTar,
    hasScriptsTarGz: scriptsStore.hasTarGz,
  });

  const buildTimes = loaded.map((l) => Number(l.pkg.pkginfo.builddate?.[0] ?? 0)).filter((t) => t > 0);
  const dbTime = req.now ?? new Date((buildTimes.length ? Math.max(...buildTimes) : 0) * 1000);

  // the new database: unchanged records in place, the installed ones appended in install order
  const replaced = new Set(loaded.flatMap((l) => (l.old ? [l.old.name] : [])));
  const stay = db.records.filter((r) => !replaced.has(r.name));
  // files another installed package owns: apk_pkg_replaces_file decides
  const ownerOf = new Map(stay.flatMap((r) => ownedPaths(r).map((p) => [p, r] as const)));
  const movedFrom = new Map<string, Set<string>>(); // record name → paths it loses
  const notTaken = new Map<string, Set<string>>(); // new package → paths it leaves to their owner
  for (const { pkg } of loaded) {
    for (const e of pkg.entries) {
      const owner = e.type === "directory" ? undefined : ownerOf.get(e.path);
      if (owner === undefined) continue;
      const fate = replacesFile(owner, pkg);
      if (fate === "conflict")
        throw new OcipatchError(
          "RESOLVE",
          `${pkg.name}-${pkg.version}: trying to overwrite ${e.path} owned by ${owner.name}-${owner.version}`,
        );
      const into = fate === "yes" ? movedFrom : notTaken;
      const key = fate === "yes" ? owner.name : pkg.name;
      into.set(key, new Set([...(into.get(key) ?? []), e.path]));
    }
  }
  const kept = stay.map((r) => {
    const out = withoutFiles(r, movedFrom.get(r.name), dbPath);
    // apk-tools 3 reads every record into memory and writes it back (apk_db_fdb_read, apk_db_fdb_write)
    return generation === 3 ? recordFromLines(normalizeV3FileDatabase(out), out, dbPath) : out;
  });
  const fresh = loaded.map((l) =>
    withoutFiles(installedRecordOf(l.pkg, l.size, generation), notTaken.get(l.pkg.name), dbPath),
  );
  const dbText = installedText(generation, kept, fresh, db.trailingNewlines);

  // files: what the new versions ship; what the old ones owned and nothing owns any more
  const newPaths = new Set(loaded.flatMap((l) => l.pkg.entries.map((e) => e.path)));
  const stillOwned = new Set(kept.flatMap(ownedPaths));
  const protectedPaths = await ProtectedPaths.of(req.fs);
  const warnings: string[] = [];
  const keptConffiles: KeptConffile[] = [];
  const removed: string[] = [];
  for (const l of loaded) {
    if (!l.old) continue;
    for (const d of l.old.dirs) {
      const isProtected = protectedPaths.isProtected(`/${d.name}`);
      for (const { path: p, checksum } of d.files) {
        if (newPaths.has(p) || stillOwned.has(p) || removed.includes(p)) continue;
        // only a protected file's content matters: elsewhere a dropped file goes if it is there
        const changed = isProtected
          ? await differs(req.fs, p, checksum)
          : (await req.fs.lstat(p)) === undefined
            ? undefined
            : false;
        if (changed === undefined) continue;
        // apk_db_purge_pkg: in a protected directory a file changed since its record stays, and the
        // file's .apk-new goes
        if (isProtected && (await req.fs.lstat(`${p}.apk-new`)) !== undefined) removed.push(`${p}.apk-new`);
        if (isProtected && changed) {
          keptConffiles.push({ package: l.old.name, path: p });
          warnings.push(
            `${l.old.name}: ${p} was changed in the image: kept, though ${l.pkg.version} drops it`,
          );
          continue;
        }
        removed.push(p);
      }
    }
  }
  // directories the old versions owned and nothing owns any more go when nothing is left in them
  // (apk removes an emptied directory); deepest first, so emptied parents follow
  const newDirs = new Set<string>();
  for (const p of newPaths)
    for (let d = p; d !== "/" && d !== ""; d = d.slice(0, d.lastIndexOf("/"))) newDirs.add(d);
  const keptDirs = new Set(kept.flatMap((r) => r.dirs.map((d) => `/${d.name}`)));
  const oldDirs = [...new Set(loaded.flatMap((l) => (l.old ? l.old.dirs.map((d) => `/${d.name}`) : [])))]
    .filter((d) => d !== "/" && !newDirs.has(d) && !keptDirs.has(d))
    .sort((a, b) => b.split("/").length - a.split("/").length || (a < b ? -1 : 1));
  const gone = new Set(removed);
  const removedDirs: string[] = [];
  for (const d of oldDirs) {
    if ((await req.fs.lstat(d))?.type !== "directory") continue;
    const children = await req.fs.readdir(d);
    if (children.every((c) => gone.has(`${d}/${c}`))) {
      gone.add(d);
      removedDirs.push(d);
    }
  }
  // a whited-out directory hides what is in it: no whiteouts below it
  const under = (p: string) => removedDirs.some((d) => p.startsWith(`${d}/`));
  removed.splice(0, removed.length, ...[...removed, ...removedDirs].filter((p) => !under(p)));
  removed.sort();

  // apk_db_migrate_files_for_priority: a file of a protected directory that exists in the image and
  // differs from the database's record of it (or has none) is kept; the package's goes to
  // <path>.apk-new, unless the image's already has the new content
  const recorded = new Map(
    db.records.flatMap((r) => r.dirs.flatMap((d) => d.files.map((f) => [f.path, f.checksum]))),
  );
  const newChecksums = new Map(
    fresh.flatMap((r) => r.dirs.flatMap((d) => d.files.map((f) => [f.path, f.checksum]))),
  );
  const destinationOf = async (pkg: ApkPackage, path: string): Promise<string | undefined> => {
    if (!protectedPaths.isProtected(dirOf(path))) return path;
    if (!(await differs(req.fs, path, recorded.get(path)))) return path;
    keptConffiles.push({ package: pkg.name, path });
    if ((await differs(req.fs, path, newChecksums.get(path))) === false) return undefined;
    warnings.push(`${pkg.name}: ${path} was changed in the image: kept, the new one is ${path}.apk-new`);
    return `${path}.apk-new`;
  };

  const writer = new LayerWriter(req.layerPath, req.compression, req.manifestMediaType, dbTime, req.signal);
  try {
    for (const p of removed) await writer.addWhiteout(p);
    for (const { pkg } of loaded) {
      const mtime = new Date(Number(pkg.pkginfo.builddate?.[0] ?? 0) * 1000);
      // where each of the package's files went in the layer (a hard link follows its target)
      const written = new Map<string, string>();
      for (const e of pkg.entries) {
        // a file an installed package keeps (it replaces this one with a higher priority)
        if (e.path === "/" || notTaken.get(pkg.name)?.has(e.path)) continue;
        if (writer.has(e.path)) {
          if (e.type !== "directory")
            warnings.push(`${pkg.name}: ${e.path} is also in another upgraded package: kept the first`);
          continue;
        }
        const meta = { mode: e.mode, uid: e.uid, gid: e.gid, mtime };
        if (e.type === "directory") {
          await writer.addDirectory(e.path, meta);
          continue;
        }
        if (e.type !== "file" && e.type !== "symlink" && e.type !== "hardlink") {
          warnings.push(`${pkg.name}: ${e.path} is a ${e.type}: not written`);
          continue;
        }
        const at = await destinationOf(pkg, e.path);
        if (at === undefined) continue;
        switch (e.type) {
          case "file":
            await writer.addFile(at, meta, e.content.length, e.content);
            break;
          case "symlink":
            await writer.addSymlink(at, e.linkTarget ?? "", meta);
            break;
          case "hardlink": {
            // readApkPackage made sure the target is a file earlier in the package (e.content is its
            // content); when the layer does not have it at a path of this package's (kept, or another
            // package's), the content goes
            const target = written.get(e.linkTarget ?? "");
            if (target !== undefined) await writer.addHardlink(at, target, meta);
            else await writer.addFile(at, meta, e.content.length, e.content);
            break;
          }
        }
        written.set(e.path, at);
      }
    }
    const dbMeta = { mode: 0o644, mtime: dbTime };
    await writer.addFile(dbPath, dbMeta, Buffer.byteLength(dbText), Buffer.from(dbText));

    if (generation === 3) {
      const v3 = v3ScriptsAndTriggers(
        parseApkInstalledDb(dbText, dbPath).records,
        loaded.map((l) => l.pkg),
        scriptsStore.entries,
        (await req.fs.stat(paths.triggers))?.type === "file"
          ? (await req.fs.readFile(paths.triggers)).toString("utf8")
          : "",
      );
      // apk_db_write_layers writes the three files on every commit
      const tar = await writeScriptsTar(v3ScriptEntries(v3, dbTime), dbTime);
      if (!scriptsStore.hasTar && scriptsStore.hasTarGz) {
        const gz = gzipScripts(tar);
        await writer.addFile(paths.scriptsTarGz, dbMeta, gz.length, gz);
      } else await writer.addFile(paths.scriptsTar, dbMeta, tar.length, tar);
      const text = v3TriggersText(v3);
      await writer.addFile(paths.triggers, dbMeta, Buffer.byteLength(text), Buffer.from(text));
    } else {
      await writeV2ScriptsAndTriggers(req, writer, paths, loaded, scriptsStore, dbMeta, dbTime);
    }
    const finished = await writer.finish();
    const scriptReports = loaded.map((l) => scriptReport(l.pkg, l.old?.version));
    const packages: PatchedPackage[] = loaded.map((l) => ({
      package: l.pkg.name,
      architecture: l.pkg.architecture,
      fromVersion: l.old?.version,
      toVersion: l.pkg.version,
    }));
    return {
      ...finished,
      packages,
      keptConffiles,
      removed,
      scripts: combineScriptReports(scriptReports),
      scriptReports,
      // the database as written, for the re-scan (pins in world are unchanged)
      installed: packagesOf(
        parseApkInstalledDb(dbText, dbPath),
        dbPath,
        new Set(req.inventory.packages.filter((p) => p.held).map((p) => p.name)),
      ),
      warnings,
    };
  } catch (e) {
    await writer.abort();
    throw e;
  }
}
