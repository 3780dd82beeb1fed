import { undefinedIfNotFound } from "../../../errors.js";
import type { EntryMeta } from "../../../patch/layer/layer-writer.js";
import type { LayeredFs } from "../../../rootfs/index.js";
import { DPKG_STATOVERRIDE } from "../db/paths.js";
import type { DataEntryHeader } from "../deb/index.js";

/** One line of /var/lib/dpkg/statoverride. */
export interface StatOverride {
  readonly uid: number;
  readonly gid: number;
  readonly uname: string | undefined;
  readonly gname: string | undefined;
  readonly mode: number;
}

function parseIds(text: string | undefined): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of (text ?? "").split("\n")) {
    const f = line.split(":");
    if (f.length < 3 || f[0] === "" || line.startsWith("#")) continue;
    const id = Number(f[2]);
    if (Number.isInteger(id) && id >= 0 && !out.has(f[0]!)) out.set(f[0]!, id);
  }
  return out;
}

/**
 * Who owns what dpkg unpacks, as dpkg decides it inside the image: tar owner
 * names are looked up in the image's /etc/passwd and /etc/group (numeric ids
 * when the name is unknown there), and /var/lib/dpkg/statoverride replaces
 * owner and mode of the paths it lists.
 */
export class Ownership {
  private constructor(
    private readonly users: Map<string, number>,
    private readonly groups: Map<string, number>,
    private readonly overrides: Map<string, StatOverride>,
    readonly warnings: string[],
  ) {}

  static async read(fs: LayeredFs): Promise<Ownership> {
    const text = (p: string) => fs.readTextIfExists(p).catch(undefinedIfNotFound);
    const users = parseIds(await text("/etc/passwd"));
    const groups = parseIds(await text("/etc/group"));
    const overrides = new Map<string, StatOverride>();
    const warnings: string[] = [];
    for (const line of ((await text(DPKG_STATOVERRIDE)) ?? "").split("\n")) {
      const t = line.trim();
      if (t === "") continue;
      const m = /^(\S+)\s+(\S+)\s+([0-7]+)\s+(\/.*)$/.exec(t);
      const uid = m ? idOf(m[1]!, users) : undefined;
      const gid = m ? idOf(m[2]!, groups) : undefined;
      if (!m || uid === undefined || gid === undefined) {
        warnings.push(`${DPKG_STATOVERRIDE}: ignored line "${t.slice(0, 120)}"`);
        continue;
      }
      overrides.set(m[4]!.replace(/\/+$/, ""), {
        uid,
        gid,
        uname: m[1]!.startsWith("#") ? undefined : m[1]!,
        gname: m[2]!.startsWith("#") ? undefined : m[2]!,
        mode: Number.parseInt(m[3]!, 8) & 0o7777,
      });
    }
    return new Ownership(users, groups, overrides, warnings);
  }

  /** Owner, mode and mtime of a data.tar entry written at `packagePath` (no leading slash). */
  meta(h: DataEntryHeader, packagePath: string): EntryMeta {
    const ov = this.overrides.get(`/${packagePath}`);
    if (ov && h.type !== "symlink") {
      return {
        mode: ov.mode,
        uid: ov.uid,
        gid: ov.gid,
        ...(ov.uname ? { uname: ov.uname } : {}),
        ...(ov.gname ? { gname: ov.gname } : {}),
        mtime: new Date(h.mtime * 1000),
      };
    }
    return {
      mode: h.mode,
      uid: (h.uname ? this.users.get(h.uname) : undefined) ?? h.uid,
      gid: (h.gname ? this.groups.get(h.gname) : undefined) ?? h.gid,
      uname: h.uname || (h.uid === 0 ? "root" : ""),
      gname: h.gname || (h.gid === 0 ? "root" : ""),
      mtime: new Date(h.mtime * 1000),
    };
  }
}

function idOf(spec: string, names: Map<string, number>): number | undefined {
  if (spec.startsWith("#")) {
    const n = Number(spec.slice(1));
    return Number.isInteger(n) && n >= 0 ? n : undefined;
  }
  return names.get(spec);
}
