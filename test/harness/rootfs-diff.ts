/** File-level comparison of two unpacked root filesystems (type, mode, owner, link target, content). */
import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";

interface RootfsDifference {
  readonly path: string;
  /** "only-a", "only-b", or what differs ("content", "mode", "owner", "type", "link"). */
  readonly kind: string;
}

interface Node {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  link?: string;
  hash?: string;
  /** Modification time in whole seconds. */
  mtime: number;
  nlink: number;
}

interface DiffOptions {
  /** Also compare modification times (whole seconds) and hardlink counts of files. */
  readonly mtimes?: boolean;
}

function walk(root: string, exclude: (p: string) => boolean): Map<string, Node> {
  const out = new Map<string, Node>();
  const visit = (rel: string): void => {
    for (const name of readdirSync(join(root, rel))) {
      const p = rel ? `${rel}/${name}` : name;
      if (exclude(p)) continue;
      const st = lstatSync(join(root, p));
      const node: Node = {
        type: "other",
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        mtime: Math.floor(st.mtimeMs / 1000),
        nlink: st.nlink,
      };
      if (st.isDirectory()) node.type = "dir";
      else if (st.isSymbolicLink()) {
        node.type = "symlink";
        node.link = readlinkSync(join(root, p));
      } else if (st.isFile()) {
        node.type = "file";
        node.hash = createHash("sha256")
          .update(readFileSync(join(root, p)))
          .digest("hex");
      }
      out.set(p, node);
      if (node.type === "dir") visit(p);
    }
  };
  visit("");
  return out;
}

/** Differences between two root filesystems, paths matching `exclude` (relative, no leading slash) ignored. */
export function diffRootfs(
  a: string,
  b: string,
  exclude: readonly RegExp[],
  opts: DiffOptions = {},
): RootfsDifference[] {
  const ex = (p: string) => exclude.some((re) => re.test(p));
  const ta = walk(a, ex);
  const tb = walk(b, ex);
  const out: RootfsDifference[] = [];
  for (const [p, na] of ta) {
    const nb = tb.get(p);
    if (!nb) {
      out.push({ path: p, kind: "only-a" });
      continue;
    }
    if (na.type !== nb.type) out.push({ path: p, kind: "type" });
    else if (na.link !== nb.link) out.push({ path: p, kind: "link" });
    else if (na.hash !== nb.hash) out.push({ path: p, kind: "content" });
    else if (na.mode !== nb.mode) out.push({ path: p, kind: "mode" });
    else if (na.uid !== nb.uid || na.gid !== nb.gid) out.push({ path: p, kind: "owner" });
    else if (opts.mtimes && na.mtime !== nb.mtime) out.push({ path: p, kind: "mtime" });
    else if (opts.mtimes && na.type === "file" && na.nlink !== nb.nlink) out.push({ path: p, kind: "links" });
  }
  for (const p of tb.keys()) if (!ta.has(p)) out.push({ path: p, kind: "only-b" });
  return out.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
}

/** Names in a directory with their link targets (file contents left out). */
export function dirNames(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of readdirSync(dir).sort()) {
    const st = lstatSync(join(dir, name));
    out.set(
      name,
      st.isSymbolicLink() ? `-> ${readlinkSync(join(dir, name))}` : st.isFile() ? "file" : "other",
    );
  }
  return out;
}
