import { undefinedIfNotFound } from "../../../errors.js";
import { OS_RELEASE_FILES } from "../../../os/detect.js";
import type { ScriptEffect, ScriptReport } from "../../types.js";
import { caCertificatesPostinst, type EffectOutcome } from "../maintainer-scripts/index.js";
import { ldconfigNatively } from "../maintainer-scripts/ldconfig/index.js";
import type { BuildContext } from "./context.js";
import { FinalView } from "./final-view.js";
import type { RemovalRequest } from "./whiteouts.js";

/** The OS identification files, relative. */
const OS_FILES: ReadonlySet<string> = new Set(OS_RELEASE_FILES.map((p) => p.slice(1)));

/**
 * Paths whose written contents the build reads again: ca-certificates' certificates and
 * configuration, ldconfig's configuration (/etc/ld.so.conf and the usual directory of its
 * includes), and the OS identification files (for the re-scan).
 */
export function captureForEffects(rel: string): boolean {
  return (
    OS_FILES.has(rel) ||
    rel.startsWith("usr/share/ca-certificates/") ||
    rel.startsWith("usr/local/share/ca-certificates/") ||
    rel === "etc/ca-certificates.conf" ||
    rel === "etc/ld.so.conf" ||
    rel.startsWith("etc/ld.so.conf.d/")
  );
}

export interface UpgradedPackage {
  readonly name: string;
  /** The version installed by the patch. */
  readonly version: string;
  /** The new version's `config` script. */
  readonly config: Buffer | undefined;
  readonly report: ScriptReport | undefined;
}

/** The version and architecture of an installed package, from the image's dpkg status. */
function installed(ctx: BuildContext, name: string): { version: string; architecture: string } | undefined {
  for (const r of ctx.db.statusRecords) {
    if (r.get("Package") !== name || !/ installed$/.test(r.get("Status") ?? "")) continue;
    return { version: r.get("Version") ?? "", architecture: r.get("Architecture") ?? "" };
  }
  return undefined;
}

/** `ldconfig` as the libc-bin trigger (and older libraries' postinst) would have run it. */
async function ldconfigEffect(
  ctx: BuildContext,
  view: FinalView,
  removed: ReadonlySet<string>,
  pkgs: readonly UpgradedPackage[],
  removals: RemovalRequest[],
): Promise<ScriptEffect[]> {
  const wants = pkgs.filter((p) =>
    p.report?.findings.some((f) =>
      f.actions.some((a) => a.kind === "ldconfig" || /\bldconfig\b/.test(a.detail)),
    ),
  );
  if (wants.length === 0) return [];
  const changed: string[] = [];
  for (const [rel, node] of ctx.tree.writtenEntries()) if (node.kind !== "directory") changed.push(`/${rel}`);
  for (const rel of removed) changed.push(`/${rel}`);
  const libc = installed(ctx, "libc-bin") ?? installed(ctx, "libc6");
  const after = pkgs.find((p) => p.name === "libc-bin")?.version ?? libc?.version;
  const { effects, outcome } = await ldconfigNatively({
    view,
    architecture: libc?.architecture ?? "",
    libcVersionBefore: libc?.version,
    libcVersionAfter: after,
    changed,
    packages: wants.map((p) => p.name),
  });
  if (outcome) await writeOutcome(ctx, outcome, removals);
  return effects;
}

/** The real (resolved, relative) paths `removals` remove that the layer does not write again. */
async function removedPaths(ctx: BuildContext, removals: readonly RemovalRequest[]): Promise<Set<string>> {
  const removed = new Set<string>();
  for (const r of removals) {
    try {
      const real = await ctx.tree.resolveParent(r.path, r.source);
      if (!ctx.tree.wrote(real)) removed.add(real);
    } catch {
      // reported by writeWhiteouts
    }
  }
  return removed;
}

/**
 * The OS identification files as the patched image has them (absolute path → text; a file it
 * lacks is not in the map): the image's own, or what the layer writes instead. The re-scan
 * identifies the patched image's OS from them without reading its layers.
 */
export async function osFilesAfter(
  ctx: BuildContext,
  removals: readonly RemovalRequest[],
): Promise<Map<string, string>> {
  const view = new FinalView(ctx, await removedPaths(ctx, removals));
  const out = new Map<string, string>();
  for (const path of OS_RELEASE_FILES) {
    const content = await view.readRegular(path).catch(undefinedIfNotFound);
    if (content !== undefined) out.set(path, content.toString("utf8"));
  }
  return out;
}

/**
 * Run the maintainer-script effects ocipatch reproduces natively and write
 * their results into the layer. Returns the effects (for the report) and the
 * removals to turn into whiteouts.
 */
export async function applyNativeEffects(
  ctx: BuildContext,
  removals: readonly RemovalRequest[],
  pkgs: readonly UpgradedPackage[],
): Promise<{ effects: ScriptEffect[]; removals: RemovalRequest[] }> {
  const removed = await removedPaths(ctx, removals);
  const view = new FinalView(ctx, removed);
  const effects: ScriptEffect[] = [];
  const extra: RemovalRequest[] = [];
  const ca = pkgs.find((p) => p.name === "ca-certificates");
  if (ca) {
    const outcome = await caCertificatesPostinst({ view, configScript: ca.config });
    await writeOutcome(ctx, outcome, extra);
    effects.push(outcome.effect);
  }
  effects.push(...(await ldconfigEffect(ctx, view, removed, pkgs, extra)));
  return { effects, removals: extra };
}

async function writeOutcome(
  ctx: BuildContext,
  outcome: EffectOutcome,
  removals: RemovalRequest[],
): Promise<void> {
  // the mtime is the layer's time (the writer's default)
  const meta = { mode: 0o644, uid: 0, gid: 0, uname: "root", gname: "root" };
  for (const w of outcome.writes) {
    const real = await ctx.tree.resolveParent(w.path, outcome.effect.package);
    if (ctx.tree.wrote(real)) {
      ctx.warnings.push(
        `${outcome.effect.effect}: ${w.path} is also written by a package of this patch; kept`,
      );
      continue;
    }
    if (w.kind === "symlink") {
      await ctx.writer.addSymlink(real, w.target, { ...meta, mode: 0o777 });
      ctx.tree.record(real, { kind: "symlink", target: w.target });
    } else {
      await ctx.writer.addFile(real, { ...meta, mode: w.mode }, w.content.length, w.content);
      ctx.tree.record(real, { kind: "file" });
    }
  }
  for (const path of outcome.removes) {
    removals.push({ path, directory: false, source: outcome.effect.package });
  }
}
