import { createHash } from "node:crypto";
import { isOcipatchError, OcipatchError, undefinedIfNotFound } from "../../../errors.js";
import { packageKey } from "../../../inventory/package-key.js";
import { LayerWriter } from "../../../patch/layer/layer-writer.js";
import { TargetTree } from "../../../patch/layer/target-tree.js";
import { packageFilesReady } from "../../fetch-pool.js";
import { combineScriptReports } from "../../script-report.js";
import type { BuildLayerRequest, FetchedPackage, ScriptReport } from "../../types.js";
import { debianArchitecture } from "../apt/architecture.js";
import { dpkgRecord } from "../db/record.js";
import { type DebPackage, openDebFile } from "../deb/index.js";
import { Paragraph, parseParagraphs } from "../debian/deb822.js";
import {
  infoBaseName,
  listPath,
  md5sumsFile,
  parseStatusConffiles,
  type UpgradeDbChanges,
  upgradeDbChanges,
} from "../dpkg-db/index.js";
import { packageInfoFiles } from "../dpkg-db/info-files.js";
import { upgradeScriptReport } from "../maintainer-scripts/index.js";
import { othersConffileHash } from "./conffile-owners.js";
import { applyConffiles } from "./conffiles-apply.js";
import { type BuildContext, checkAborted } from "./context.js";
import { type PackageDbUpdate, writeStatusDb, writeStatusDDb } from "./db-write.js";
import { readPathFilters } from "./dpkg-filters.js";
import { type ClaimingPackage, type EarlierPackage, FileClaims } from "./file-conflicts.js";
import { readImageDpkgDb, STATUS_D_DIR, statusDName } from "./image-db.js";
import { layerTime } from "./layer-time.js";
import {
  applyNativeEffects,
  captureForEffects,
  osFilesAfter,
  type UpgradedPackage,
} from "./native-effects.js";
import { Ownership } from "./ownership.js";
import { installedScripts } from "./scripts.js";
import { BatchTakeovers, type Takeovers } from "./takeovers.js";
import type { BuildPatchLayerResult, KeptConffile, PatchedPackage } from "./types.js";
import { type UnpackedPackage, unpackPackage } from "./unpack.js";
import { type RemovalRequest, writeWhiteouts } from "./whiteouts.js";

/**
 * Packages opened and decoding while the current one is written. Their decompressors run in
 * libuv's thread pool, so on the other core; with only the next one decoding, a large package
 * behind small ones had not begun when its turn came (docs/BENCHMARKS.md, twelfth session).
 */
const AHEAD = 3;
/**
 * Decoded bytes each package ahead may hold until its turn: AHEAD times this is less than the one
 * package's 16 MiB before; 8 MiB each was not faster (docs/BENCHMARKS.md, twelfth session).
 */
const READ_AHEAD = 4 * 1024 * 1024;

interface Prepared {
  readonly deb: FetchedPackage;
  readonly pkg: DebPackage;
  readonly name: string;
  readonly architecture: string;
  readonly version: string;
  /** The record replaced: installed package, or a not-installed status record (config-files). */
  readonly old: Paragraph;
  readonly oldNotInstalledArch: string | undefined;
  /** The key of the installed package it upgrades; undefined for a package new to the image. */
  readonly upgrades: string | undefined;
  readonly oldList: readonly string[];
  readonly unpacked: UnpackedPackage;
}

function checkInputs(input: BuildLayerRequest): void {
  if (input.packages.length === 0)
    throw new OcipatchError("INTERNAL", "buildPatchLayer: no package to install");
  const seen = new Set<string>();
  for (const d of input.packages) {
    const key = packageKey(d.package, d.architecture);
    if (seen.has(key)) throw new OcipatchError("INTERNAL", `buildPatchLayer: ${key} is given twice`);
    seen.add(key);
    if (d.installed && d.installed.name !== d.package) {
      throw new OcipatchError(
        "INTERNAL",
        `buildPatchLayer: ${d.package} is said to upgrade installed package ${d.installed.name}`,
      );
    }
  }
}

/** The control of the .deb must be the package the plan asked for. */
function checkControl(
  d: FetchedPackage,
  pkg: DebPackage,
): { name: string; architecture: string; version: string } {
  const name = pkg.control.get("Package") ?? "";
  const architecture = pkg.control.get("Architecture") ?? "";
  const version = pkg.control.get("Version") ?? "";
  if (name !== d.package || architecture !== d.architecture || version === "") {
    throw new OcipatchError(
      "INVALID_FORMAT",
      `${d.path}: the package is ${name || "?"}:${architecture || "?"} ${version || "?"}, expected ${d.package}:${d.architecture}`,
    );
  }
  return { name, architecture, version };
}

async function md5OfImageFile(ctx: BuildContext, abs: string): Promise<string | undefined> {
  try {
    const st = await ctx.fs.stat(abs);
    if (st?.type !== "file") return undefined;
    return createHash("md5")
      .update(await ctx.fs.readFile(abs))
      .digest("hex");
  } catch (e) {
    if (isOcipatchError(e, "NOT_FOUND")) return undefined;
    throw e;
  }
}

/**
 * Build ONE layer that, applied on top of the image, leaves it as
 * `dpkg --force-confold -i <debs>` would (maintainer scripts NOT run): package
 * files at their real locations, conffiles per dpkg's confold rules, whiteouts
 * for what the old versions owned and the new ones do not, and the dpkg
 * database (status or distroless status.d, info files) rewritten once.
 */
export async function buildPatchLayer(input: BuildLayerRequest): Promise<BuildPatchLayerResult> {
  checkInputs(input);
  const { fs, inventory } = input;
  const nativeArch = debianArchitecture(input.platform.architecture, input.platform.variant);
  // known once every package file is there: what the layer writes itself before then waits for it
  const now =
    input.now ?? packageFilesReady(input.packages).then(() => layerTime(input.packages.map((d) => d.path)));
  if (now instanceof Promise) now.catch(() => undefined); // awaited by the writer, or the build fails first
  const db = await readImageDpkgDb(fs, inventory);
  const ownership = await Ownership.read(fs);
  const ctx: BuildContext = {
    fs,
    writer: new LayerWriter(input.layerPath, input.compression, input.manifestMediaType, now, input.signal),
    tree: new TargetTree(fs),
    db,
    filters: await readPathFilters(fs),
    ownership,
    warnings: [...ownership.warnings],
    signal: input.signal,
    capture: captureForEffects,
    captured: new Map(),
    libraries: new Map(),
  };
  /** Packages opened and not yet closed; `ended` once the build is over (closed then). */
  const opened: DebPackage[] = [];
  let ended = false;
  /** The packages after the current one (up to AHEAD), opened and decoding while it is written. */
  const ahead: Array<Promise<DebPackage>> = [];
  const open = (i: number): Promise<DebPackage> => {
    const d = input.packages[i]!;
    // A package ahead may still be downloading when the build fails: the build does not wait for
    // it (the downloads stop once the build's error is known), and one that arrives or finishes
    // opening after the end is closed at once.
    const over = () => new OcipatchError("INTERNAL", "the layer build has ended");
    const p = Promise.resolve(d.ready).then(async () => {
      if (ended) throw over();
      const pkg = await openDebFile(d.path);
      if (ended) {
        await pkg.close();
        throw over();
      }
      opened.push(pkg);
      pkg.prefetch(READ_AHEAD);
      return pkg;
    });
    p.catch(() => undefined); // observed when its turn comes; after the build's end, nobody waits for it
    return p;
  };
  /**
   * The key of the installed package each one upgrades; undefined for a package new to the image.
   * One of that name and architecture unpacked but not configured (or otherwise `unsettled`) is
   * upgraded in place, as dpkg upgrades it.
   */
  const upgradesOf = input.packages.map((d) => {
    if (d.installed) return packageKey(d.installed.name, d.installed.architecture);
    const u = db.unsettled.find((p) => p.name === d.package && p.architecture === d.architecture);
    return u === undefined ? undefined : packageKey(u.name, u.architecture);
  });
  const upgrading = new Set(upgradesOf.filter((k) => k !== undefined));
  // the installed packages outside the batch whose files it takes over (Replaces), package by package
  const owning = [...inventory.packages, ...db.unsettled];
  const taking = new BatchTakeovers(db, owning, upgrading);
  try {
    // 1. every package's files, streamed from its data.tar, in the order given
    const prepared: Prepared[] = [];
    /** The batch's packages unpacked so far, as the file-conflict check of the next ones sees them. */
    const claimed: EarlierPackage[] = [];
    for (const [i, d] of input.packages.entries()) {
      checkAborted(ctx.signal);
      // packages i, i+1, … are open (or opening) in `ahead`: the next one to open is i + ahead.length
      for (let j = i + ahead.length; j < input.packages.length && j <= i + AHEAD; j++) ahead.push(open(j));
      const pkg = await ahead.shift()!;
      const id = checkControl(d, pkg);
      let old = d.installed ? dpkgRecord(d.installed).paragraph : undefined;
      let oldNotInstalledArch: string | undefined;
      if (!old) {
        // a config-files (removed, not purged) record is replaced, as dpkg does
        const rec = db.statusRecords.find(
          (r) => r.get("Package") === id.name && r.get("Architecture") === id.architecture,
        );
        if (rec) {
          old = rec;
          oldNotInstalledArch = id.architecture;
        }
      }
      const upgrades = upgradesOf[i];
      const oldList = upgrades === undefined ? [] : (db.lists.get(upgrades) ?? []);
      const claiming: ClaimingPackage = {
        ...id,
        multiArch: pkg.control.get("Multi-Arch"),
        replaces: pkg.control.get("Replaces"),
      };
      const claims = new FileClaims(
        claiming,
        (path) => taking.listers(path, upgrades),
        db.diversions,
        nativeArch,
        (path) => taking.listedBefore(path).map((j) => claimed[j]!),
      );
      const unpacked = await unpackPackage(ctx, pkg, upgrades, claims);
      claimed.push({ ...claiming, md5: (abs) => unpacked.contents.md5(abs.slice(1)) });
      taking.unpacked({
        name: id.name,
        upgrades,
        contents: unpacked.contents,
        filtered: unpacked.filtered,
        existingDirs: unpacked.existingDirs,
        conffiles: new Set(pkg.conffiles.filter((c) => !c.removeOnUpgrade).map((c) => c.path)),
      });
      for (const { by, paths } of claims.keptBy.values()) {
        const more = paths.length > 1 ? ` (and ${paths.length - 1} more)` : "";
        ctx.warnings.push(
          `${id.name} ${id.version}: replaced by files in installed package ${by.name} ${by.version}: ${paths[0]}${more} kept as ${by.name} has it`,
        );
      }
      prepared.push({
        deb: d,
        pkg,
        ...id,
        old: old ?? new Paragraph(),
        oldNotInstalledArch,
        upgrades,
        oldList,
        unpacked,
      });
    }

    // 2. what dpkg would change, per package, seeing the whole batch
    const inheritedHash = othersConffileHash(db, owning);
    const newOwners = new Map<string, Set<number>>();
    prepared.forEach((p, i) => {
      for (const item of p.unpacked.contents.items) {
        const abs = listPath(item.path);
        const s = newOwners.get(abs) ?? new Set<number>();
        s.add(i);
        newOwners.set(abs, s);
      }
    });

    const packages: PatchedPackage[] = [];
    const keptConffiles: KeptConffile[] = [];
    const removals: RemovalRequest[] = [];
    const updates: PackageDbUpdate[] = [];
    const scriptReports: ScriptReport[] = [];
    const upgraded: UpgradedPackage[] = [];
    for (const [i, p] of prepared.entries()) {
      checkAborted(ctx.signal);
      /** Where this package's path is on disk: diverted by the administrator or another package. */
      const onDisk = (abs: string): string => db.diversions.placement(abs, p.name);
      const ownedByOthers = (abs: string): boolean =>
        [...(db.owners.get(abs) ?? [])].some((k) => !upgrading.has(k)) ||
        [...(newOwners.get(abs) ?? [])].some((j) => j !== i);
      const md5 = new Map<string, string | undefined>();
      for (const c of [
        ...p.pkg.conffiles.map((c) => c.path),
        ...parseStatusConffiles(p.old).map((c) => c.path),
      ]) {
        if (!md5.has(c)) md5.set(c, await md5OfImageFile(ctx, onDisk(c)));
      }
      const isDir = new Map<string, boolean>();
      const { filtered, kept } = p.unpacked;
      for (const l of p.oldList) {
        const rel = l.slice(1);
        if (l === "/." || (p.unpacked.contents.has(rel) && !filtered.has(rel))) continue;
        const st = await fs.lstat(onDisk(l)).catch(undefinedIfNotFound);
        isDir.set(l, st?.type === "directory");
      }
      const changes: UpgradeDbChanges = upgradeDbChanges({
        old: p.old,
        deb: p.pkg,
        contents: p.unpacked.contents,
        oldList: p.oldList,
        ...(db.layout === "status" ? { infoDirListing: db.infoListing } : {}),
        imageMd5: (abs) => md5.get(abs),
        ownedByOthers,
        isDirectory: (abs) => isDir.get(abs),
        filtered: (rel) => filtered.has(rel),
        othersConffileHash: (abs) => inheritedHash(abs, p.upgrades),
        kept: (rel) => kept.has(rel),
      });

      const outcome = await applyConffiles(
        ctx,
        p.name,
        p.pkg.source,
        changes.conffiles.decisions,
        p.unpacked.deferred,
        (abs) => md5.get(abs),
        (rel) => p.unpacked.contents.md5(rel),
        onDisk,
      );
      keptConffiles.push(...outcome.kept);
      const src = p.pkg.source;
      for (const f of changes.remove.files) removals.push({ path: onDisk(f), directory: false, source: src });
      for (const f of changes.remove.directories)
        removals.push({ path: onDisk(f), directory: true, source: src });
      for (const f of outcome.remove) removals.push({ path: f, directory: false, source: src });
      if (db.layout === "status") {
        for (const f of changes.removeInfoFiles)
          removals.push({ path: `/${f}`, directory: false, source: src });
      }

      updates.push({
        name: p.name,
        architecture: p.architecture,
        installed: p.deb.installed,
        replacesStatusRecord: p.oldNotInstalledArch ? { architecture: p.oldNotInstalledArch } : undefined,
        record: changes.record,
        infoFiles: changes.infoFiles,
        md5sums: md5sumsFile(p.pkg.controlMembers, p.unpacked.contents),
      });
      packages.push({
        package: p.name,
        architecture: p.architecture,
        fromVersion: p.deb.installed?.version,
        toVersion: p.version,
      });
      const newScripts = { new: p.pkg.scripts, newTriggers: p.pkg.controlMembers.get("triggers")?.data };
      if (p.deb.installed) {
        const old =
          db.layout === "status"
            ? await installedScripts(fs, db.infoListing, infoBaseName(dpkgRecord(p.deb.installed).paragraph))
            : {};
        const report = upgradeScriptReport(p.name, p.deb.installed.version, p.version, {
          old,
          ...newScripts,
        });
        scriptReports.push(report);
        upgraded.push({ name: p.name, version: p.version, config: p.pkg.scripts.config, report });
      } else {
        const r = upgradeScriptReport(p.name, "", p.version, { old: {}, ...newScripts });
        upgraded.push({ name: p.name, version: p.version, config: p.pkg.scripts.config, report: r });
        if (r.wouldHaveDoneSomething) {
          ctx.warnings.push(
            `${p.name} ${p.version} (new): its maintainer scripts were not run (${r.kinds.join(", ")})`,
          );
        }
      }
    }

    const taken = taking.result();
    const gone = await disappearances(ctx, taken);
    removals.push(...gone.removals);

    // 3. the dpkg database, written once
    const installed =
      db.layout === "status"
        ? await writeStatusDb(ctx, updates, taken)
        : await writeStatusDDb(ctx, updates, taken);

    // 4. what the skipped maintainer scripts would have done, where ocipatch reproduces it
    checkAborted(ctx.signal);
    const native = await applyNativeEffects(ctx, removals, upgraded);
    removals.push(...native.removals);

    // 5. what the old versions owned and the new ones do not
    const removed = await writeWhiteouts(ctx, removals);
    // the OS identification files as the patched image has them
    const osFiles = await osFilesAfter(ctx, removals).catch(() => undefined); // none: the re-scan reads the image

    checkAborted(ctx.signal);
    const finished = await ctx.writer.finish();
    // the packages that disappeared, and an upgraded one's record of another architecture
    // (amd64 -> all: the new record replaced it)
    const erased = [
      ...gone.erased,
      ...input.packages.flatMap((d) =>
        d.installed && d.installed.architecture !== d.architecture
          ? [{ name: d.installed.name, architecture: d.installed.architecture }]
          : [],
      ),
    ];
    return {
      ...finished,
      packages,
      installed,
      ...(erased.length > 0 ? { erased } : {}),
      keptConffiles,
      removed,
      scripts: combineScriptReports(scriptReports),
      scriptReports,
      maintainerEffects: native.effects,
      ...(osFiles ? { osFiles } : {}),
      warnings: ctx.warnings,
    };
  } catch (e) {
    await ctx.writer.abort();
    throw e;
  } finally {
    ended = true;
    for (const p of opened) await p.close().catch(() => undefined);
  }
}

/**
 * A package whose every file the batch took over disappears, as dpkg notes it: its info files
 * go (its status record is dropped with the database write) — on distroless, its status.d file
 * and `.md5sums` when the record is alone in it; its postrm (`disappear`) is not run.
 */
async function disappearances(
  ctx: BuildContext,
  taken: Takeovers,
): Promise<{ removals: RemovalRequest[]; erased: Array<{ name: string; architecture: string }> }> {
  const out: RemovalRequest[] = [];
  const erased: Array<{ name: string; architecture: string }> = [];
  const remove = (path: string) => out.push({ path, directory: false, source: "dpkg database" });
  for (const { installed, by } of taken.disappeared) {
    const what = `${installed.name} ${installed.version}`;
    ctx.warnings.push(`${what} disappeared: ${by} took over every file it had`);
    if (ctx.db.layout !== "status") {
      const file = statusDName(installed);
      const text = file && (await ctx.fs.readTextIfExists(`/${STATUS_D_DIR}/${file}`));
      if (!file || !text || parseParagraphs(text, { onError: () => undefined }).length !== 1) {
        ctx.warnings.push(`${what}: its record shares ${installed.dbPath} with others; left in it`);
        continue;
      }
      erased.push({ name: installed.name, architecture: installed.architecture });
      remove(`/${STATUS_D_DIR}/${file}`);
      if (ctx.db.statusDNames.includes(`${file}.md5sums`)) remove(`/${STATUS_D_DIR}/${file}.md5sums`);
      continue;
    }
    const files = packageInfoFiles(ctx.db.infoListing, infoBaseName(dpkgRecord(installed).paragraph));
    if (files.some((f) => f.endsWith(".postrm"))) {
      ctx.warnings.push(`${what}: its postrm was not run (disappear)`);
    }
    for (const f of files) remove(`/${f}`);
    erased.push({ name: installed.name, architecture: installed.architecture });
  }
  return { removals: out, erased };
}
