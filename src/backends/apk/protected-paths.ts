/**
 * apk's protected paths (apk-protected_paths(5)): the built-in `+etc`, `@etc/init.d`, `!etc/apk`
 * (apk-tools src/database.c apk_db_open) followed by the rules of
 * `/etc/apk/protected_paths.d/*.list`, one `<symbol><glob>` a line. A directory's protection is
 * its parent's, changed by the last rule matching it (apk_db_dir_get); its files share it.
 */
import type { LayeredFs } from "../../rootfs/index.js";

export const APK_PROTECTED_PATHS_DIR = "/etc/apk/protected_paths.d";

/** `-` ignore, `+` changed, `@` symlinks only, `!` all (enum apk_protect_mode). */
type ProtectMode = "none" | "ignore" | "changed" | "symlinks" | "all";

interface ProtectedPathRule {
  /** Relative to the root, without leading or trailing slashes ("etc/init.d"). */
  readonly pattern: string;
  readonly mode: ProtectMode;
}

const MODES: Readonly<Record<string, ProtectMode>> = {
  "-": "ignore",
  "+": "changed",
  "@": "symlinks",
  "!": "all",
};

/** One line of a `.list` (apk_db_add_protected_path); undefined for comments and empty lines. */
function ruleOf(line: string): ProtectedPathRule | undefined {
  if (line === "" || line.startsWith("#")) return undefined;
  const mode = MODES[line[0] as string];
  // without a symbol the whole line is the pattern, protected when changed
  const pattern = (mode === undefined ? line : line.slice(1)).replace(/^\/+/, "").replace(/\/+$/, "");
  return { pattern, mode: mode ?? "changed" };
}

/** fnmatch(3) of one path component with FNM_PATHNAME: `*`, `?`, `[...]` (`[!...]`). */
function componentMatcher(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end < 0) re += "\\[";
      else {
        let body = glob.slice(i + 1, end);
        const negate = body.startsWith("!") || body.startsWith("^");
        if (negate) body = body.slice(1);
        re += `[${negate ? "^" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`;
        i = end;
      }
    } else if (c === "\\" && i + 1 < glob.length) {
      i++;
      re += (glob[i] as string).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    } else re += c.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

export class ProtectedPaths {
  private readonly cache = new Map<string, { mode: ProtectMode; rules: readonly ProtectedPathRule[] }>();

  constructor(private readonly rules: readonly ProtectedPathRule[]) {}

  /** The rules apk uses for the image: the built-in ones, then every `.list`, in name order. */
  static async of(fs: Pick<LayeredFs, "lstat" | "readdir" | "readFile">): Promise<ProtectedPaths> {
    const lines = ["+etc", "@etc/init.d", "!etc/apk"];
    if ((await fs.lstat(APK_PROTECTED_PATHS_DIR))?.type === "directory") {
      for (const name of (await fs.readdir(APK_PROTECTED_PATHS_DIR)).sort()) {
        if (name.startsWith(".") || !name.endsWith(".list")) continue;
        const path = `${APK_PROTECTED_PATHS_DIR}/${name}`;
        if ((await fs.lstat(path))?.type !== "file") continue;
        lines.push(...(await fs.readFile(path)).toString("utf8").split("\n"));
      }
    }
    return new ProtectedPaths(lines.flatMap((l) => ruleOf(l.trim()) ?? []));
  }

  /**
   * Whether files of directory `dir` ("/etc/ssl", "/" for the root) are protected: apk keeps their
   * changed copies (apk_protect_mode_none: neither none nor ignore).
   */
  isProtected(dir: string): boolean {
    const mode = this.dir(dir.replace(/^\/+/, "").replace(/\/+$/, "")).mode;
    return mode !== "none" && mode !== "ignore";
  }

  /** apk_db_dir_get: the parent's mode, then each rule for this component (the last one wins). */
  private dir(name: string): { mode: ProtectMode; rules: readonly ProtectedPathRule[] } {
    // the root directory has no protection and passes every rule on to its children
    if (name === "") return { mode: "none", rules: this.rules };
    const hit = this.cache.get(name);
    if (hit) return hit;
    const slash = name.lastIndexOf("/");
    const parent = this.dir(slash < 0 ? "" : name.slice(0, slash));
    const component = name.slice(slash + 1);
    let mode = parent.mode;
    const rules: ProtectedPathRule[] = [];
    for (const r of parent.rules) {
      const sep = r.pattern.indexOf("/");
      const head = sep < 0 ? r.pattern : r.pattern.slice(0, sep);
      if (!componentMatcher(head).test(component)) continue;
      if (sep < 0) mode = r.mode;
      else rules.push({ pattern: r.pattern.slice(sep + 1), mode: r.mode });
    }
    const out = { mode, rules };
    this.cache.set(name, out);
    return out;
  }
}
