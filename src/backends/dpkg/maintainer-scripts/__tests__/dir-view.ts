/** Test helper: the LdconfigView of a real directory tree (a chroot-like root; links resolved inside it). */
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { type ElfResult, type LdconfigView, readElfLibrary } from "../ldconfig/index.js";

export class DirView implements LdconfigView {
  constructor(private readonly root: string) {}

  private host(abs: string): string {
    return join(this.root, abs);
  }

  /** Resolve every link inside the root (as chroot_canon does); undefined when nothing is there. */
  async realpath(absPath: string): Promise<string | undefined> {
    let parts = absPath.split("/").filter((p) => p !== "" && p !== ".");
    const done: string[] = [];
    for (let hops = 0; parts.length > 0; ) {
      const p = parts.shift()!;
      if (p === "..") {
        done.pop();
        continue;
      }
      const here = `/${[...done, p].join("/")}`;
      let st: ReturnType<typeof lstatSync>;
      try {
        st = lstatSync(this.host(here));
      } catch {
        return undefined;
      }
      if (st.isSymbolicLink()) {
        if (++hops > 40) return undefined;
        const t = readlinkSync(this.host(here));
        if (t.startsWith("/")) done.length = 0;
        parts = [...t.split("/").filter((x) => x !== "" && x !== "."), ...parts];
      } else {
        done.push(p);
      }
    }
    return `/${done.join("/")}`;
  }

  async lstat(absPath: string) {
    const parent = await this.realpath(absPath.slice(0, absPath.lastIndexOf("/")) || "/");
    if (parent === undefined) return undefined;
    const p = this.host(join(parent, absPath.slice(absPath.lastIndexOf("/") + 1)));
    try {
      const st = lstatSync(p);
      if (st.isSymbolicLink()) return { kind: "symlink" as const, target: readlinkSync(p) };
      return {
        kind: st.isFile()
          ? ("file" as const)
          : st.isDirectory()
            ? ("directory" as const)
            : ("other" as const),
      };
    } catch {
      return undefined;
    }
  }

  async readRegular(absPath: string): Promise<Buffer | undefined> {
    const r = await this.realpath(absPath);
    if (r === undefined || (await this.lstat(r))?.kind !== "file") return undefined;
    return readFileSync(this.host(r));
  }

  async isRegular(absPath: string): Promise<boolean> {
    return (await this.readRegular(absPath)) !== undefined;
  }

  async readdir(absPath: string): Promise<string[]> {
    const r = await this.realpath(absPath);
    if (r === undefined) return [];
    try {
      return readdirSync(this.host(r)).sort();
    } catch {
      return [];
    }
  }

  async libraries(realPaths: readonly string[]): Promise<Map<string, ElfResult>> {
    const out = new Map<string, ElfResult>();
    for (const p of realPaths) {
      const b = await this.readRegular(p);
      if (b) out.set(p, readElfLibrary(b));
    }
    return out;
  }
}
