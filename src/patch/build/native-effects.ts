import type { MaintainerScriptReport } from "../maintainer-scripts/index.js";
import {
  caCertificatesPostinst,
  type EffectOutcome,
  type MaintainerEffect,
} from "../maintainer-scripts/index.js";
import type { BuildContext } from "./context.js";
import { FinalView } from "./final-view.js";
import type { RemovalRequest } from "./whiteouts.js";

/** Paths whose written contents the native effects read. */
export function captureForEffects(rel: string): boolean {
  return (
    rel.startsWith("usr/share/ca-certificates/") ||
    rel.startsWith("usr/local/share/ca-certificates/") ||
    rel === "etc/ca-certificates.conf"
  );
}

export interface UpgradedPackage {
  readonly name: string;
  /** The new version's `config` script. */
  readonly config: Buffer | undefined;
  readonly report: MaintainerScriptReport | undefined;
}

const LIB_DIR = /^(usr\/)?(local\/)?lib(32|64|x32)?(\/[a-z0-9_]+-linux-[a-z0-9_]+)?$/;
const SHARED_OBJECT = /\.so(\.[0-9.]+)?$/;

function parentOf(rel: string): string {
  const i = rel.lastIndexOf("/");
  return i < 0 ? "" : rel.slice(0, i);
}

/** Would `ldconfig` (the libc trigger and the libraries' postinst) change /etc/ld.so.cache? */
async function ldconfigEffect(
  ctx: BuildContext,
  removed: ReadonlySet<string>,
  pkgs: readonly UpgradedPackage[],
): Promise<MaintainerEffect[]> {
  const wants = pkgs.filter((p) =>
    p.report?.findings.some((f) =>
      f.actions.some((a) => a.kind === "ldconfig" || /\bldconfig\b/.test(a.detail)),
    ),
  );
  if (wants.length === 0) return [];
  const changed: string[] = [];
  for (const [rel, node] of ctx.tree.writtenEntries()) {
    if (!LIB_DIR.test(parentOf(rel)) || !SHARED_OBJECT.test(rel) || node.kind === "directory") continue;
    const img = await ctx.fs.lstat(`/${rel}`);
    const same =
      img !== undefined &&
      ((img.type === "symlink" && node.kind === "symlink" && img.linkTarget === node.target) ||
        (img.type === "file" && node.kind === "file"));
    if (!same) changed.push(`/${rel}`);
  }
  for (const rel of removed) {
    if (LIB_DIR.test(parentOf(rel)) && SHARED_OBJECT.test(rel)) changed.push(`/${rel}`);
  }
  const status: MaintainerEffect["status"] = changed.length === 0 ? "not needed" : "skipped";
  const detail =
    changed.length === 0
      ? "no library name or link in the library directories is added, removed or retargeted: /etc/ld.so.cache keeps the same entries"
      : `/etc/ld.so.cache NOT regenerated although library names changed (${changed.slice(0, 3).join(", ")}${changed.length > 3 ? ", ..." : ""}); run ldconfig in a derived image`;
  return wants.map((p) => ({ package: p.name, effect: "ldconfig", status, detail }));
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
): Promise<{ effects: MaintainerEffect[]; removals: RemovalRequest[] }> {
  const removed = new Set<string>();
  for (const r of removals) {
    try {
      const real = await ctx.tree.resolveParent(r.path, r.source);
      if (!ctx.tree.wrote(real)) removed.add(real);
    } catch {
      // reported by writeWhiteouts
    }
  }
  const view = new FinalView(ctx, removed);
  const effects: MaintainerEffect[] = [];
  const extra: RemovalRequest[] = [];
  const ca = pkgs.find((p) => p.name === "ca-certificates");
  if (ca) {
    const outcome = await caCertificatesPostinst({ view, configScript: ca.config });
    await writeOutcome(ctx, outcome, extra);
    effects.push(outcome.effect);
  }
  effects.push(...(await ldconfigEffect(ctx, removed, pkgs)));
  return { effects, removals: extra };
}

async function writeOutcome(
  ctx: BuildContext,
  outcome: EffectOutcome,
  removals: RemovalRequest[],
): Promise<void> {
  const meta = { mode: 0o644, uid: 0, gid: 0, uname: "root", gname: "root", mtime: ctx.now };
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
