import { undefinedIfNotFound } from "../../../errors.js";
import type { EntryMeta } from "../../../patch/layer/layer-writer.js";
import type { ConffileDecision } from "../dpkg-db/index.js";
import type { BuildContext } from "./context.js";
import { shouldSkip } from "./dpkg-filters.js";
import type { KeptConffile } from "./types.js";
import type { DeferredConffile } from "./unpack.js";

export interface ConffileOutcome {
  readonly kept: KeptConffile[];
  /** Absolute paths to remove (remove-on-upgrade conffiles), where they are on disk (diverted). */
  readonly remove: string[];
}

/**
 * Carry out planConffiles' decisions (dpkg --force-confold): write the new
 * conffile, keep the image's copy (with the new one as `.dpkg-dist` when both
 * changed), or remove it (`.dpkg-old` keeps a modified copy). Each conffile is
 * where `onDisk` places it (a diverted one at its divert-to path), as are its
 * `.dpkg-dist` and `.dpkg-old`; `imageMd5` takes the package's path.
 */
export async function applyConffiles(
  ctx: BuildContext,
  pkgName: string,
  source: string,
  decisions: readonly ConffileDecision[],
  deferred: ReadonlyMap<string, DeferredConffile>,
  imageMd5: (abs: string) => string | undefined,
  newMd5: (rel: string) => string | undefined,
  onDisk: (abs: string) => string,
): Promise<ConffileOutcome> {
  const kept: KeptConffile[] = [];
  const remove: string[] = [];
  const written = new Set<string>();

  /** Writes the conffile `rel` (package path) at `diskRel`. */
  const write = async (
    rel: string,
    diskRel: string,
    held: DeferredConffile,
    meta?: EntryMeta,
  ): Promise<void> => {
    if (shouldSkip(ctx.filters, rel, false)) return;
    const real = await ctx.tree.resolveParent(diskRel, source);
    if (ctx.tree.wrote(real)) {
      if (!held.shared)
        ctx.warnings.push(`${source}: /${rel} was already written by another package of this patch; kept`);
      return;
    }
    await ctx.writer.addFile(real, meta ?? ctx.ownership.meta(held.header, rel), held.data.length, held.data);
    if (ctx.capture(real)) ctx.captured.set(real, held.data);
    ctx.tree.record(real, { kind: "file" });
  };

  for (const d of decisions) {
    const rel = d.path.replace(/^\/+/, "");
    const disk = onDisk(d.path);
    const diskRel = disk.replace(/^\/+/, "");
    const held = deferred.get(rel);
    switch (d.action) {
      case "install": {
        if (!held) break;
        let meta: EntryMeta | undefined;
        if (d.copyPermsFromImage) {
          const img = await ctx.fs.stat(disk).catch(undefinedIfNotFound);
          if (img) {
            meta = {
              mode: img.mode,
              uid: img.uid,
              gid: img.gid,
              ...(img.uname ? { uname: img.uname } : {}),
              ...(img.gname ? { gname: img.gname } : {}),
              mtime: new Date(held.header.mtime * 1000),
            };
          }
        }
        await write(rel, diskRel, held, meta);
        written.add(rel);
        break;
      }
      case "keep":
        if (imageMd5(d.path) !== newMd5(rel)) kept.push({ package: pkgName, path: d.path });
        break;
      case "keep-with-dist":
        kept.push({ package: pkgName, path: d.path });
        if (held) await write(`${rel}.dpkg-dist`, `${diskRel}.dpkg-dist`, held);
        break;
      case "remove":
        remove.push(disk);
        break;
      case "remove-keep-old": {
        const img = await ctx.fs.stat(disk).catch(undefinedIfNotFound);
        if (img?.type === "file") {
          const data = await ctx.fs.readFile(disk);
          const real = await ctx.tree.resolveParent(`${diskRel}.dpkg-old`, source);
          await ctx.writer.addFile(
            real,
            {
              mode: img.mode,
              uid: img.uid,
              gid: img.gid,
              ...(img.uname ? { uname: img.uname } : {}),
              ...(img.gname ? { gname: img.gname } : {}),
              ...(img.mtime ? { mtime: img.mtime } : {}),
            },
            data.length,
            data,
          );
          ctx.tree.record(real, { kind: "file" });
        }
        remove.push(disk);
        break;
      }
      case "none":
        break;
    }
  }
  return { kept, remove };
}
