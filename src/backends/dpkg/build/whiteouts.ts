import { isOcipatchError } from "../../../errors.js";
import type { BuildContext } from "./context.js";

export interface RemovalRequest {
  /** Absolute path as the package (or dpkg database) names it. */
  readonly path: string;
  readonly directory: boolean;
  readonly source: string;
}

/**
 * Turn the paths dpkg would delete into whiteouts at their real locations:
 * nothing is whited out that the layer itself writes (a file that moved,
 * e.g. /bin/x → /usr/bin/x on a merged-/usr image), that the image does not
 * have, or — for directories — that still has content once the removals are
 * applied. A directory is only removed when it is a real directory of the
 * image, never through or instead of a symlink. Whiteouts below a removed
 * directory are dropped (the directory's whiteout hides them).
 * Returns the real paths whited out (absolute), in the order written.
 */
export async function writeWhiteouts(
  ctx: BuildContext,
  requests: readonly RemovalRequest[],
): Promise<string[]> {
  const gone = new Set<string>();
  const files = requests.filter((r) => !r.directory);
  const dirs = requests
    .filter((r) => r.directory)
    .sort((a, b) => b.path.split("/").length - a.path.split("/").length || (a.path < b.path ? 1 : -1));

  const realOf = async (r: RemovalRequest): Promise<string | undefined> => {
    try {
      return await ctx.tree.resolveParent(r.path, r.source);
    } catch (e) {
      if (isOcipatchError(e)) {
        if (await belowWrittenFile(ctx, r)) return undefined; // in a directory a file replaced
        ctx.warnings.push(`not removing ${r.path}: ${e.message}`);
        return undefined;
      }
      throw e;
    }
  };

  for (const r of files) {
    const real = await realOf(r);
    if (real === undefined || real === "" || ctx.tree.wrote(real) || gone.has(real)) continue;
    const st = await ctx.fs.lstat(`/${real}`);
    if (!st) continue;
    if (st.type === "directory") continue; // dpkg would only rmdir it; listed as a file by mistake
    gone.add(real);
  }
  for (const r of dirs) {
    const real = await realOf(r);
    if (real === undefined || real === "" || ctx.tree.wrote(real) || gone.has(real)) continue;
    const st = await ctx.fs.lstat(`/${real}`);
    if (st?.type !== "directory") continue;
    if (ctx.tree.writtenChildren(real).length > 0) continue;
    const left = (await ctx.fs.readdir(`/${real}`)).filter((n) => !gone.has(`${real}/${n}`));
    if (left.length > 0) continue;
    gone.add(real);
  }

  const out: string[] = [];
  const sorted = [...gone].sort();
  for (const real of sorted) {
    if (hasGoneAncestor(real, gone)) continue;
    await ctx.writer.addWhiteout(real);
    out.push(`/${real}`);
  }
  return out;
}

/** Whether a parent of the path is a file the layer writes (where the image had a directory). */
async function belowWrittenFile(ctx: BuildContext, r: RemovalRequest): Promise<boolean> {
  const comps = r.path.split("/").filter((c) => c !== "");
  for (let i = 1; i < comps.length; i++) {
    const parts = comps.slice(0, i).join("/");
    const real = await ctx.tree.resolveParent(parts, r.source).catch(() => undefined); // unresolvable: the removal itself reports it

    if (real === undefined) return false;
    const kind = ctx.tree.layerNode(real)?.kind;
    if (kind === "file" || kind === "other") return true;
  }
  return false;
}

function hasGoneAncestor(rel: string, gone: ReadonlySet<string>): boolean {
  let i = rel.lastIndexOf("/");
  while (i > 0) {
    if (gone.has(rel.slice(0, i))) return true;
    i = rel.lastIndexOf("/", i - 1);
  }
  return false;
}
