import { OcipatchError } from "../../errors.js";
import type { FsEntry, LayeredFs } from "../../rootfs/index.js";
import { MAX_SYMLINK_HOPS } from "../../rootfs/index.js";

/** What a path is in the image with the patch layer on top (as far as the layer is written). */
export interface TargetNode {
  readonly kind: "directory" | "file" | "symlink" | "other";
  /** Symlink target as stored. */
  readonly target?: string | undefined;
  /** The image's entry, when the path comes from the image (not from the layer). */
  readonly image?: FsEntry | undefined;
}

function components(p: string): string[] {
  return p.split("/").filter((c) => c !== "" && c !== ".");
}

/**
 * The filesystem the patch layer is written onto: the image (LayeredFs) overlaid
 * with every entry the layer has written so far. Resolves parent directories
 * through symlinks, the way the kernel does inside a chroot of the image, but
 * refuses symlinks that would leave the root through "..": nothing is ever placed
 * outside the image. Paths are relative ("usr/lib/x"), "" is the root.
 */
export class TargetTree {
  private readonly written = new Map<string, TargetNode>();

  constructor(private readonly fs: LayeredFs) {}

  /** Record an entry the layer wrote at a real (resolved) path. */
  record(rel: string, node: TargetNode): void {
    this.written.set(rel, node);
  }

  /** Whether the layer wrote this real path. */
  wrote(rel: string): boolean {
    return this.written.has(rel);
  }

  /** Every real path the layer wrote, with what it is. */
  writtenEntries(): IterableIterator<[string, TargetNode]> {
    return this.written.entries();
  }

  /** The layer's own entry at a real path. */
  layerNode(rel: string): TargetNode | undefined {
    return this.written.get(rel);
  }

  /** Real paths the layer wrote directly under a real directory path. */
  writtenChildren(dirRel: string): string[] {
    const prefix = dirRel === "" ? "" : `${dirRel}/`;
    const out: string[] = [];
    for (const k of this.written.keys()) {
      if (k.startsWith(prefix) && k.length > prefix.length && !k.slice(prefix.length).includes("/")) {
        out.push(k.slice(prefix.length));
      }
    }
    return out;
  }

  /** lstat of a real path (its parents already resolved): the layer's entry first, then the image's. */
  async lstat(rel: string): Promise<TargetNode | undefined> {
    if (rel === "") return { kind: "directory" };
    const own = this.written.get(rel);
    if (own) return own;
    const e = await this.fs.lstat(`/${rel}`);
    if (!e) return undefined;
    const kind =
      e.type === "directory"
        ? "directory"
        : e.type === "symlink"
          ? "symlink"
          : e.type === "file"
            ? "file"
            : "other";
    return { kind, target: e.linkTarget, image: e };
  }

  /**
   * The real location of `path`: every parent component resolved through
   * symlinks (of the image or of the layer), the last component kept as is.
   * Missing parents are kept literally (they will be created). `what` names
   * the source for messages.
   */
  async resolveParent(path: string, what: string): Promise<string> {
    const comps = components(path);
    const last = comps.pop();
    if (last === undefined) return "";
    if (last === "..") throw escapesRoot(what, path);
    const dir = await this.resolveDir(comps, what, path);
    return dir === "" ? last : `${dir}/${last}`;
  }

  /** The real path of a directory (symlinks followed, including a final one). */
  async resolveDirectory(path: string, what: string): Promise<string> {
    return this.resolveDir(components(path), what, path);
  }

  private async resolveDir(comps: string[], what: string, original: string): Promise<string> {
    const todo = [...comps].reverse();
    const resolved: string[] = [];
    let hops = 0;
    let missing = false;
    while (todo.length > 0) {
      const c = todo.pop()!;
      if (c === "..") {
        if (resolved.length === 0) throw escapesRoot(what, original);
        resolved.pop();
        continue;
      }
      const cand = resolved.length === 0 ? c : `${resolved.join("/")}/${c}`;
      if (missing && !this.written.has(cand)) {
        resolved.push(c);
        continue;
      }
      const node = await this.lstat(cand);
      if (!node) {
        missing = true;
        resolved.push(c);
        continue;
      }
      if (node.kind === "symlink") {
        hops++;
        if (hops > MAX_SYMLINK_HOPS) {
          throw new OcipatchError(
            "HOSTILE_LAYER",
            `${what}: too many levels of symbolic links resolving "/${original}"`,
          );
        }
        const target = node.target ?? "";
        if (target.startsWith("/")) resolved.length = 0;
        todo.push(...components(target).reverse());
        continue;
      }
      if (node.kind !== "directory") {
        throw new OcipatchError(
          "INVALID_FORMAT",
          `${what}: cannot place "/${original}": /${cand} is not a directory in the image`,
        );
      }
      resolved.push(c);
    }
    return resolved.join("/");
  }
}

function escapesRoot(what: string, path: string): OcipatchError {
  return new OcipatchError(
    "HOSTILE_LAYER",
    `${what}: "/${path}" leaves the image root through a symbolic link or ".."`,
  );
}
