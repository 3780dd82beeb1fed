import { createHash } from "node:crypto";
import type { DataEntryHeader, DataEntryType, DebPackage } from "../deb/index.js";

interface ContentItem {
  /** Normalised path (no leading slash; "." for the root). */
  readonly path: string;
  readonly type: DataEntryType;
  readonly linkname: string;
  /** md5 of the content, for regular files and hardlinks (dpkg copies the target's). */
  readonly md5: string | undefined;
}

/**
 * What a package's data.tar contains, in archive order, with the md5 of every
 * regular file: the input dpkg's database files are computed from. Fill it while
 * writing the layer (`add`), or at once with `collectContents`.
 */
export class PackageContents {
  readonly items: ContentItem[] = [];
  private readonly byPath = new Map<string, ContentItem>();

  add(header: DataEntryHeader, md5?: string): void {
    let hash = md5;
    if (header.type === "hardlink") hash = this.byPath.get(header.linkname)?.md5;
    if (header.type !== "file" && header.type !== "hardlink") hash = undefined;
    const item: ContentItem = { path: header.path, type: header.type, linkname: header.linkname, md5: hash };
    this.items.push(item);
    this.byPath.set(item.path, item);
  }

  has(path: string): boolean {
    return this.byPath.has(path);
  }

  get(path: string): ContentItem | undefined {
    return this.byPath.get(path);
  }

  md5(path: string): string | undefined {
    return this.byPath.get(path)?.md5;
  }
}

/** Read all data.tar entries of a package, hashing regular files. Consumes `pkg.entries()`. */
export async function collectContents(pkg: DebPackage): Promise<PackageContents> {
  const out = new PackageContents();
  for await (const e of pkg.entries()) {
    let md5: string | undefined;
    if (e.header.type === "file") {
      const h = createHash("md5");
      for await (const c of e.content) h.update(c as Buffer);
      md5 = h.digest("hex");
    }
    out.add(e.header, md5);
  }
  return out;
}

/** dpkg's .list name of a normalised path: "/." for the root, "/<path>" otherwise. */
export function listPath(path: string): string {
  return path === "." ? "/." : `/${path}`;
}
