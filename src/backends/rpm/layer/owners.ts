import type { BackendFiles } from "../../types.js";

/**
 * Owner names of package files mapped to ids the way rpm does it inside the image: through the
 * image's /etc/passwd and /etc/group; a name the image does not know becomes root (0), with one
 * warning per name, as rpm's "user X does not exist - using root".
 */
export class RpmOwners {
  readonly warnings: string[] = [];
  private readonly warned = new Set<string>();

  private constructor(
    private readonly users: ReadonlyMap<string, number>,
    private readonly groups: ReadonlyMap<string, number>,
  ) {}

  static async of(fs: BackendFiles): Promise<RpmOwners> {
    return new RpmOwners(await ids(fs, "/etc/passwd"), await ids(fs, "/etc/group"));
  }

  uid(name: string): number {
    return this.lookup(this.users, name, "user");
  }

  gid(name: string): number {
    return this.lookup(this.groups, name, "group");
  }

  private lookup(map: ReadonlyMap<string, number>, name: string, kind: string): number {
    if (name === "" || name === "root") return 0;
    const id = map.get(name);
    if (id !== undefined) return id;
    if (!this.warned.has(`${kind}:${name}`)) {
      this.warned.add(`${kind}:${name}`);
      this.warnings.push(`${kind} ${name} does not exist in the image - using root`);
    }
    return 0;
  }
}

async function ids(fs: BackendFiles, path: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if ((await fs.stat(path))?.type !== "file") return out;
  const text = (await fs.readFile(path)).toString("utf8");
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const f = line.split(":");
    const id = Number(f[2]);
    if (f.length >= 3 && f[0] !== "" && f[2] !== "" && Number.isInteger(id) && id >= 0 && !out.has(f[0]!))
      out.set(f[0]!, id);
  }
  return out;
}
