/** An entry of /etc/ssl/certs as update-ca-certificates and `openssl rehash` see it. */
export type CertsDirEntry =
  | { readonly kind: "symlink"; readonly target: string }
  | { readonly kind: "file"; readonly content: Buffer }
  | { readonly kind: "directory" }
  | { readonly kind: "other" };

/**
 * The rest of the image, after the upgrade, as seen from /etc/ssl/certs:
 * regular files by absolute path (symbolic links followed), undefined when
 * the path is not a regular file.
 */
interface OutsideView {
  readRegular(absPath: string): Promise<Buffer | undefined>;
}

export const ETC_CERTS = "/etc/ssl/certs";
const MAX_HOPS = 40;

function normalize(abs: string): string {
  const out: string[] = [];
  for (const c of abs.split("/")) {
    if (c === "" || c === ".") continue;
    if (c === "..") out.pop();
    else out.push(c);
  }
  return `/${out.join("/")}`;
}

/** /etc/ssl/certs (top level) as a mutable map, resolving links through it and the outside view. */
export class CertsDir {
  constructor(
    readonly entries: Map<string, CertsDirEntry>,
    private readonly outside: OutsideView,
  ) {}

  /** The regular file content `name` leads to (`test -f`), following symbolic links. */
  async regularContent(name: string): Promise<Buffer | undefined> {
    return this.resolve(`${ETC_CERTS}/${name}`, 0);
  }

  private async resolve(abs: string, hops: number): Promise<Buffer | undefined> {
    if (hops > MAX_HOPS) return undefined;
    const p = normalize(abs);
    const slash = p.lastIndexOf("/");
    if (p.slice(0, slash) !== ETC_CERTS) return this.outside.readRegular(p);
    const e = this.entries.get(p.slice(slash + 1));
    if (!e) return undefined;
    if (e.kind === "file") return e.content;
    if (e.kind !== "symlink") return undefined;
    const next = e.target.startsWith("/") ? e.target : `${ETC_CERTS}/${e.target}`;
    return this.resolve(next, hops + 1);
  }

  /** A regular file outside /etc/ssl/certs (or inside, through the model). */
  async outsideRegular(absPath: string): Promise<Buffer | undefined> {
    return this.resolve(absPath, 0);
  }

  /** `test -e` (any existing target) is approximated by "leads to a regular file or a directory entry". */
  async exists(name: string): Promise<boolean> {
    const e = this.entries.get(name);
    if (!e) return false;
    if (e.kind !== "symlink") return true;
    return (await this.regularContent(name)) !== undefined;
  }

  readlink(name: string): string | undefined {
    const e = this.entries.get(name);
    return e?.kind === "symlink" ? e.target : undefined;
  }

  symlink(name: string, target: string): void {
    this.entries.set(name, { kind: "symlink", target });
  }

  unlink(name: string): void {
    const e = this.entries.get(name);
    if (e && e.kind !== "directory") this.entries.delete(name);
  }
}
