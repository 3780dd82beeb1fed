/**
 * Paths inside an image root. Internally a path is "relative form": no leading
 * slash, components joined with "/", the root being "". Publicly paths are
 * absolute ("/etc/os-release").
 */

/** Split a path into its non-empty components ("." kept, the caller decides). */
export function components(path: string): string[] {
  return path.split("/").filter((c) => c !== "");
}

/**
 * Lexically normalise a path inside the root: "." dropped, ".." pops a component
 * and never goes above the root, leading "/" ignored. No symlinks are resolved.
 */
export function normalizeInRoot(path: string): string {
  const out: string[] = [];
  for (const c of components(path)) {
    if (c === ".") continue;
    if (c === "..") {
      out.pop();
      continue;
    }
    out.push(c);
  }
  return out.join("/");
}

/** "/etc/os-release" for the relative form "etc/os-release"; "/" for the root. */
export function toAbsolute(rel: string): string {
  return `/${rel}`;
}

/** Parent of a relative path ("" for top-level entries and for the root). */
export function parentOf(rel: string): string {
  const i = rel.lastIndexOf("/");
  return i === -1 ? "" : rel.slice(0, i);
}

/** Last component of a relative path ("" for the root). */
export function baseName(rel: string): string {
  const i = rel.lastIndexOf("/");
  return i === -1 ? rel : rel.slice(i + 1);
}

/** Join a relative directory and a name. */
export function joinRel(dir: string, name: string): string {
  return dir === "" ? name : `${dir}/${name}`;
}

/** Proper ancestors of a relative path, nearest first, excluding the root. */
export function* ancestors(rel: string): Generator<string> {
  let p = parentOf(rel);
  while (p !== "") {
    yield p;
    p = parentOf(p);
  }
}

type TarNameProblem = "absolute" | "parent-reference" | "empty";

/**
 * Normalise a tar entry name to the relative form, or say why it is hostile.
 * Accepted: "a/b", "./a/b", "a//b/", "a/./b". Rejected: absolute names and any
 * ".." component (no legitimate layer writer emits them).
 */
export function normalizeTarName(name: string): { rel: string } | { problem: TarNameProblem } {
  if (name.startsWith("/")) return { problem: "absolute" };
  const out: string[] = [];
  for (const c of components(name)) {
    if (c === ".") continue;
    if (c === "..") return { problem: "parent-reference" };
    out.push(c);
  }
  if (out.length === 0 && !/^\.(\/+\.?)*\/*$/.test(name)) return { problem: "empty" };
  return { rel: out.join("/") };
}
