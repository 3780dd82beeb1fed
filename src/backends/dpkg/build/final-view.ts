import { isOcipatchError, OcipatchError } from "../../../errors.js";
import {
  ELF_LIBRARY_SUMMARY,
  type ElfResult,
  type LdconfigView,
  readElfLibrary,
} from "../maintainer-scripts/ldconfig/index.js";
import type { BuildContext } from "./context.js";

const MAX_HOPS = 40;

function parentOf(rel: string): string {
  const i = rel.lastIndexOf("/");
  return i < 0 ? "" : rel.slice(0, i);
}

/**
 * The image as it will be with the patch layer on top, for the native
 * maintainer-script effects: the image's files, overlaid with what the layer
 * writes (contents of captured files only) and without what it removes.
 * Paths are resolved inside the image root only.
 */
export class FinalView implements LdconfigView {
  constructor(
    private readonly ctx: BuildContext,
    /** Real (resolved, relative) paths the layer removes. */
    private readonly removed: ReadonlySet<string>,
  ) {}

  private gone(rel: string): boolean {
    return this.removed.has(rel) && !this.ctx.tree.wrote(rel);
  }

  async lstat(
    absPath: string,
  ): Promise<{ kind: "file" | "directory" | "symlink" | "other"; target?: string } | undefined> {
    const rel = await this.ctx.tree.resolveParent(absPath, "maintainer-script effect");
    if (this.gone(rel)) return undefined;
    const node = await this.ctx.tree.lstat(rel);
    if (!node) return undefined;
    return node.target === undefined ? { kind: node.kind } : { kind: node.kind, target: node.target };
  }

  /** The real path a path leads to (every link followed), or undefined when it leads nowhere. */
  private async follow(absPath: string): Promise<string | undefined> {
    let path = absPath;
    for (let hops = 0; hops < MAX_HOPS; hops++) {
      let rel: string;
      try {
        rel = await this.ctx.tree.resolveParent(path, "maintainer-script effect");
      } catch (e) {
        if (isOcipatchError(e, "INVALID_FORMAT")) return undefined; // a parent is not a directory
        throw e;
      }
      if (this.gone(rel)) return undefined;
      const node = await this.ctx.tree.lstat(rel);
      if (!node) return undefined;
      if (node.kind !== "symlink") return rel;
      const t = node.target ?? "";
      path = t.startsWith("/") ? t : `/${parentOf(rel)}/${t}`;
    }
    return undefined;
  }

  async realpath(absPath: string): Promise<string | undefined> {
    const rel = await this.follow(absPath);
    return rel === undefined ? undefined : `/${rel}`;
  }

  /**
   * ldconfig's reading of each regular file among `realPaths`: files the layer
   * writes were classified while unpacked; the image's own were summarized while
   * its layers were indexed (ELF_LIBRARY_SUMMARY), and those without a summary
   * (a directory of ld.so.conf the summary does not cover, a large file) are read
   * with one pass over each layer (never one layer read per file).
   */
  async libraries(realPaths: readonly string[]): Promise<Map<string, ElfResult>> {
    const out = new Map<string, ElfResult>();
    const unsummarized: string[] = [];
    for (const abs of realPaths) {
      const rel = abs.replace(/^\/+/, "");
      if (this.gone(rel)) continue;
      const node = await this.ctx.tree.lstat(rel);
      if (node?.kind !== "file") continue;
      if (this.ctx.tree.wrote(rel)) {
        const kept = this.ctx.libraries.get(rel);
        const captured = this.ctx.captured.get(rel);
        out.set(
          abs,
          kept ??
            (captured
              ? readElfLibrary(captured)
              : { kind: "unsupported", reason: "not kept while unpacked" }),
        );
      } else {
        // summarized while the image's layers were indexed; read (one pass a layer) otherwise
        const summary = await this.ctx.fs.summary(`/${rel}`, ELF_LIBRARY_SUMMARY);
        if (summary) out.set(`/${rel}`, summary);
        else unsummarized.push(`/${rel}`);
      }
    }
    await this.ctx.fs.readFiles(unsummarized, (path, content) => {
      out.set(
        path,
        content ? readElfLibrary(content) : { kind: "unsupported", reason: "larger than the read limit" },
      );
    });
    return out;
  }

  async readRegular(absPath: string): Promise<Buffer | undefined> {
    const rel = await this.follow(absPath);
    if (rel === undefined) return undefined;
    const node = await this.ctx.tree.lstat(rel);
    if (node?.kind !== "file") return undefined;
    if (this.ctx.tree.wrote(rel)) {
      const c = this.ctx.captured.get(rel);
      if (!c)
        throw new OcipatchError(
          "INTERNAL",
          `/${rel} is written by the patch layer but was not kept for reading`,
        );
      return c;
    }
    return this.ctx.fs.readFile(`/${rel}`);
  }

  async isRegular(absPath: string): Promise<boolean> {
    const rel = await this.follow(absPath);
    return rel !== undefined && (await this.ctx.tree.lstat(rel))?.kind === "file";
  }

  async readdir(absPath: string): Promise<string[]> {
    const rel = await this.follow(absPath);
    if (rel === undefined) return [];
    const node = await this.ctx.tree.lstat(rel);
    if (node?.kind !== "directory") return [];
    const names = new Set<string>(this.ctx.tree.writtenChildren(rel));
    if (!this.ctx.tree.wrote(rel)) {
      try {
        for (const n of await this.ctx.fs.readdir(`/${rel}`)) names.add(n);
      } catch (e) {
        if (!isOcipatchError(e, "NOT_FOUND")) throw e;
      }
    }
    const prefix = rel === "" ? "" : `${rel}/`;
    return [...names].filter((n) => !this.gone(`${prefix}${n}`)).sort();
  }
}
