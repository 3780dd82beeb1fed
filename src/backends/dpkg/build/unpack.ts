import { createHash, type Hash } from "node:crypto";
import { type Readable, Transform, type TransformCallback } from "node:stream";
import { isOcipatchError, OcipatchError, undefinedIfNotFound } from "../../../errors.js";
import type { EntryMeta } from "../../../patch/layer/layer-writer.js";
import { joinRel, parentOf } from "../../../rootfs/index.js";
import { compacted } from "../../../util/buffers.js";
import type { DataEntryHeader, DebPackage } from "../deb/index.js";
import { PackageContents } from "../dpkg-db/index.js";
import { isAnyDsoName, readElfLibrary } from "../maintainer-scripts/ldconfig/index.js";
import { type BuildContext, checkAborted } from "./context.js";
import { shouldSkip } from "./dpkg-filters.js";
import type { DiskState, FileClaims } from "./file-conflicts.js";

/** Conffiles are held back until their fate is decided (planConffiles). */
const MAX_CONFFILE_BYTES = 64 * 1024 * 1024;

export interface DeferredConffile {
  readonly header: DataEntryHeader;
  readonly data: Buffer;
  /** Shared with another instance of this Multi-Arch: same package of the batch (written once). */
  readonly shared?: boolean;
}

/** A package whose data.tar has been streamed into the layer (conffiles excepted). */
export interface UnpackedPackage {
  readonly contents: PackageContents;
  /** Conffiles (package path, no leading slash) not written yet. */
  readonly deferred: ReadonlyMap<string, DeferredConffile>;
  /** Package paths (no leading slash) dpkg's path filters leave out: not in the new archive for dpkg. */
  readonly filtered: ReadonlySet<string>;
  /**
   * Package paths (no leading slash) an installed package that replaces this one keeps
   * (`Replaced by files in installed package`): neither written nor in `contents`.
   */
  readonly kept: ReadonlySet<string>;
  /**
   * Package paths (no leading slash) of symlinks left unwritten because a directory is there, or a
   * symlink to the same directory (dpkg's existingdir): shared, like directories, with the
   * packages that list them.
   */
  readonly existingDirs: ReadonlySet<string>;
}

class Md5Tap extends Transform {
  /** Undefined when the md5 is known already (the package's md5sums). */
  readonly hash: Hash | undefined;
  /** Chunks kept when asked (shared libraries, for the native ldconfig), up to `keepLimit` bytes. */
  kept: Buffer[] | undefined;
  private keptBytes = 0;
  constructor(
    private readonly keepLimit: number,
    hash: boolean,
  ) {
    super();
    if (hash) this.hash = createHash("md5");
    if (keepLimit > 0) this.kept = [];
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash?.update(chunk);
    if (this.kept) {
      this.keptBytes += chunk.length;
      if (this.keptBytes > this.keepLimit) this.kept = undefined;
      else this.kept.push(chunk);
    }
    cb(null, chunk);
  }
}

/** Files up to this size are read whole and written in one piece instead of streamed. */
const SMALL_FILE_BYTES = 256 * 1024;

/** Largest shared library kept in memory to read its soname. */
const MAX_LIBRARY_BYTES = 512 * 1024 * 1024;

function baseNameOf(rel: string): string {
  return rel.slice(rel.lastIndexOf("/") + 1);
}

/**
 * An entry's whole content. A content that came in one piece is returned as it came: a view of
 * the decoder's output, so `compacted()` it before keeping it beyond writing it.
 */
async function readAllLimited(content: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of content) {
    n += (c as Buffer).length;
    if (n > limit) throw new OcipatchError("HOSTILE_LAYER", `${what} is larger than ${limit} bytes`);
    chunks.push(c as Buffer);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

async function md5Of(content: Readable): Promise<string> {
  const h = createHash("md5");
  for await (const c of content) h.update(c as Buffer);
  return h.digest("hex");
}

/**
 * A regular file's md5 for the package contents: the one the package's own md5sums lists (the
 * .deb is verified against the signed index, so its md5sums is too: no need to hash every byte
 * again), else computed from the content (which is consumed either way).
 */
async function md5OfEntry(
  listed: ReadonlyMap<string, string> | undefined,
  path: string,
  content: Readable,
): Promise<string> {
  const known = listed?.get(path);
  if (known === undefined) return md5Of(content);
  for await (const _ of content) {
    // drained: the entry is not written
  }
  return known;
}

function md5OfData(listed: ReadonlyMap<string, string> | undefined, path: string, data: Buffer): string {
  return listed?.get(path) ?? createHash("md5").update(data).digest("hex");
}

/**
 * Stream one package's data.tar into the layer: every entry at its real
 * location (parents resolved through the image's and the layer's symlinks),
 * file contents streamed and hashed on the way, conffiles held back,
 * entries dpkg's path-exclude filters drop left out (but still recorded in
 * the package contents, as dpkg lists them). `upgrades` is the installed
 * package the new version replaces (its key in the image's dpkg database). A path an installed
 * package outside the batch lists is unpacked, kept as it is, or refused as `claims` (dpkg's
 * file-conflict check) decides — before the filters, as dpkg checks it.
 */
export async function unpackPackage(
  ctx: BuildContext,
  pkg: DebPackage,
  upgrades: string | undefined,
  claims: FileClaims,
): Promise<UnpackedPackage> {
  const contents = new PackageContents();
  const deferred = new Map<string, DeferredConffile>();
  const filtered = new Set<string>();
  const existingDirs = new Set<string>();
  const kept = new Set<string>();
  const conffiles = new Set(pkg.conffiles.filter((c) => !c.removeOnUpgrade).map((c) => c.path.slice(1)));
  /** package path → real path written in the layer (hardlink targets). */
  const realOf = new Map<string, string>();
  const src = pkg.source;
  const name = pkg.control.get("Package") ?? "";
  const listed = pkg.md5sums;
  const { tree, writer } = ctx;

  for await (const e of pkg.entries()) {
    checkAborted(ctx.signal);
    const h = e.header;
    if (h.path === ".") {
      contents.add(h);
      continue;
    }
    const abs = `/${h.path}`;
    /** Another instance of this Multi-Arch: same package wrote the path already. */
    let shared = false;
    if (h.type !== "directory" && claims.contested(abs)) {
      const disk = await diskState(ctx, h, name, src);
      const claim = claims.claim(abs, h.type, conffiles.has(h.path), disk);
      shared = claim === "shared";
      if (claim === "keep") {
        kept.add(h.path);
        for await (const _ of e.content) {
          // drained: the installed package's file stays
        }
        continue;
      }
    }
    if (shouldSkip(ctx.filters, h.path, h.type === "directory" || h.type === "symlink")) {
      // listed, as dpkg lists it, but neither written nor hashed: dpkg has no new copy of it
      // (no .dpkg-new conffile, no line in the md5sums it generates)
      filtered.add(h.path);
      contents.add(h);
      for await (const _ of e.content) {
        // drained: the entry is not written
      }
      continue;
    }
    if (h.type === "file" && conffiles.has(h.path)) {
      const data = await readAllLimited(e.content, MAX_CONFFILE_BYTES, `${src}: conffile /${h.path}`);
      const md5 = createHash("md5").update(data).digest("hex");
      if (shared) claims.checkShared(abs, md5);
      contents.add(h, md5);
      deferred.set(h.path, { header: h, data: compacted(data), shared });
      continue;
    }
    const real = await placeOf(ctx, `/${h.path}`, name, src);
    const existing = await tree.lstat(real);
    const meta = ctx.ownership.meta(h, h.path);

    switch (h.type) {
      case "directory": {
        contents.add(h);
        // Existing directories keep the image's metadata; a symlink to a directory stays a symlink.
        if (existing?.kind === "directory" || existing?.kind === "symlink") break;
        await writer.addDirectory(real, meta);
        tree.record(real, { kind: "directory" });
        break;
      }
      case "file": {
        if (existing?.kind === "directory") await replaceDirectory(ctx, src, h.path, real, upgrades);
        if (tree.wrote(real)) {
          const md5 = await md5OfEntry(listed, h.path, e.content);
          // a file both instances of a Multi-Arch: same package have is written once, as dpkg shares it
          if (shared) claims.checkShared(abs, md5);
          contents.add(h, md5);
          if (!shared)
            ctx.warnings.push(
              `${src}: /${h.path} was already written by another package of this patch; kept`,
            );
          break;
        }
        if (ctx.capture(real)) {
          // kept for the native maintainer-script effects (certificates: small files)
          const data = await readAllLimited(e.content, MAX_CONFFILE_BYTES, `${src}: /${h.path}`);
          await writer.addFile(real, meta, data.length, data);
          contents.add(h, md5OfData(listed, h.path, data));
          ctx.captured.set(real, compacted(data));
        } else if (h.size <= SMALL_FILE_BYTES) {
          // whole, in one write: no stream, hash tap and pipeline per small file (most of them)
          const data = await readAllLimited(e.content, SMALL_FILE_BYTES, `${src}: /${h.path}`);
          await writer.addFile(real, meta, data.length, data);
          contents.add(h, md5OfData(listed, h.path, data));
          if (isAnyDsoName(baseNameOf(real))) ctx.libraries.set(real, readElfLibrary(data));
        } else {
          const library = isAnyDsoName(baseNameOf(real));
          const known = listed?.get(h.path);
          const tap = new Md5Tap(library ? MAX_LIBRARY_BYTES : 0, known === undefined);
          e.content.on("error", (err) => tap.destroy(err));
          await writer.addFile(real, meta, h.size, e.content.pipe(tap));
          contents.add(h, known ?? tap.hash?.digest("hex"));
          if (library) {
            ctx.libraries.set(
              real,
              tap.kept
                ? readElfLibrary(tap.kept)
                : { kind: "unsupported", reason: `larger than ${MAX_LIBRARY_BYTES} bytes` },
            );
          }
        }
        tree.record(real, { kind: "file" });
        realOf.set(h.path, real);
        break;
      }
      case "symlink": {
        contents.add(h);
        if (existing?.kind === "directory") {
          // dpkg never replaces a directory by a symlink (Debian Policy 6.6).
          ctx.warnings.push(`${src}: /${h.path} is a directory in the image; not replaced by a symlink`);
          existingDirs.add(h.path);
          break;
        }
        if (tree.wrote(real)) break;
        // a symlink leading to the directory the one there leads to: dpkg leaves that one as it is
        if (existing?.kind === "symlink" && (await linksToSameDirectory(ctx, real, h.linkname, src))) {
          existingDirs.add(h.path);
          break;
        }
        await writer.addSymlink(real, h.linkname, meta);
        tree.record(real, { kind: "symlink", target: h.linkname });
        break;
      }
      case "hardlink": {
        contents.add(h);
        if (existing?.kind === "directory") await replaceDirectory(ctx, src, h.path, real, upgrades);
        if (tree.wrote(real)) break;
        const target = realOf.get(h.linkname);
        const held = deferred.get(h.linkname);
        if (target !== undefined) {
          await writer.addHardlink(real, target, meta);
          const lib = ctx.libraries.get(target);
          if (lib) ctx.libraries.set(real, lib);
        } else if (held !== undefined) {
          // its target is a conffile that is written later, maybe not at all: a copy
          await writer.addFile(real, meta, held.data.length, held.data);
          if (ctx.capture(real)) ctx.captured.set(real, held.data);
        } else if (kept.has(h.linkname)) {
          // dpkg links it to the file left in place (the installed package's that replaces this
          // one) and sets the link's owner, mode and mtime on that inode: the file is written again
          // with them (a layer's hardlink can only lead to an entry of the same layer), and linked
          const keptAt = await relinkKeptFile(ctx, `/${h.linkname}`, name, meta, src);
          if (keptAt === undefined) {
            ctx.warnings.push(`${src}: hardlink /${h.path} to /${h.linkname}, which is not a file; skipped`);
            break;
          }
          await writer.addHardlink(real, keptAt, meta);
        } else if (!contents.has(h.linkname)) {
          // dpkg refuses a hardlink whose target is not earlier in the package
          throw new OcipatchError(
            "HOSTILE_LAYER",
            `${src}: hardlink /${h.path} points to /${h.linkname}, which is not earlier in the package`,
          );
        } else {
          ctx.warnings.push(`${src}: hardlink /${h.path} to /${h.linkname}, which was not unpacked; skipped`);
          break;
        }
        tree.record(real, { kind: "file" });
        realOf.set(h.path, real);
        break;
      }
    }
  }
  return { contents, deferred, filtered, kept, existingDirs };
}

/**
 * Where package `name`'s path `abs` is in the layer (no leading slash): where a diversion by the
 * administrator or another package sends it, its parents resolved through the image's and the
 * layer's symlinks.
 */
function placeOf(ctx: BuildContext, abs: string, name: string, src: string): Promise<string> {
  return ctx.tree.resolveParent(ctx.db.diversions.placement(abs, name).slice(1), src);
}

/**
 * The image's file at package path `abs` (where it is on disk, diverted or not) written again with
 * the metadata `meta`, as dpkg's chown/chmod of a new hardlink to it leaves it; its real path, or
 * undefined when there is no regular file there.
 */
async function relinkKeptFile(
  ctx: BuildContext,
  abs: string,
  name: string,
  meta: EntryMeta,
  src: string,
): Promise<string | undefined> {
  const at = await placeOf(ctx, abs, name, src);
  if (ctx.tree.wrote(at)) return at; // written again already, for an earlier link to it
  const img = await ctx.fs.lstat(`/${at}`).catch(undefinedIfNotFound);
  if (img?.type !== "file") return undefined;
  const data = await ctx.fs.readFile(`/${at}`);
  await ctx.writer.addFile(at, meta, data.length, data);
  ctx.tree.record(at, { kind: "file" });
  return at;
}

/** What is at an entry's place (diverted or not) before the layer writes it, for `FileClaims`. */
async function diskState(
  ctx: BuildContext,
  h: DataEntryHeader,
  name: string,
  src: string,
): Promise<DiskState> {
  const real = await placeOf(ctx, `/${h.path}`, name, src);
  const node = await ctx.tree.lstat(real);
  const followed =
    node?.kind === "symlink" ? await ctx.fs.stat(`/${real}`).catch(undefinedIfNotFound) : undefined;
  return {
    directory: node?.kind === "directory",
    sameDirectoryLink:
      h.type === "symlink" &&
      node?.kind === "symlink" &&
      (await linksToSameDirectory(ctx, real, h.linkname, src)),
    regularFile: node?.kind === "file" || followed?.type === "file",
  };
}

/**
 * dpkg's linktosameexistingdir: whether the symlink at the real path `real` and a new symlink
 * `linkname` put there lead to one existing directory. dpkg compares device and inode; the real
 * path a directory resolves to is as unique. A link that leads nowhere, to a non-directory or out
 * of the root leads to no directory.
 */
async function linksToSameDirectory(
  ctx: BuildContext,
  real: string,
  linkname: string,
  src: string,
): Promise<boolean> {
  const proposed = linkname.startsWith("/") ? linkname : joinRel(parentOf(real), linkname);
  let old: string;
  let now: string;
  try {
    old = await ctx.tree.resolveDirectory(real, src);
    now = await ctx.tree.resolveDirectory(proposed, src);
  } catch (e) {
    // not a directory on the way, too many links, or out of the root: dpkg's stat fails there too
    if (isOcipatchError(e, "INVALID_FORMAT") || isOcipatchError(e, "HOSTILE_LAYER")) return false;
    throw e;
  }
  return old === now && (await ctx.tree.lstat(old))?.kind === "directory";
}

/**
 * A regular file or hardlink where the image has a directory: dpkg moves the directory aside and
 * deletes it with everything in it (src/main/archives.c tarobject), unless another package owns
 * it ("trying to overwrite directory ... with nondirectory"), and so does the layer: the
 * directory's whiteout, then the new entry at the same path. A whiteout hides the layers below
 * only (OCI image spec), and engines that apply a layer entry by entry (Docker, containers/storage)
 * remove the directory at the whiteout, before the file comes.
 */
async function replaceDirectory(
  ctx: BuildContext,
  src: string,
  path: string,
  real: string,
  upgrades: string | undefined,
): Promise<void> {
  const owners = new Set([
    ...(ctx.db.owners.get(`/${path}`) ?? []),
    ...(ctx.db.owners.get(`/${real}`) ?? []),
  ]);
  if (upgrades !== undefined) owners.delete(upgrades);
  const prefix = `${real}/`;
  const writtenBelow = [...ctx.tree.writtenEntries()].some(([rel]) => rel.startsWith(prefix));
  if (owners.size > 0 || ctx.tree.wrote(real) || writtenBelow) {
    const why =
      owners.size > 0 ? `, which ${[...owners].sort().join(", ")} also owns` : " the patch layer writes into";
    throw new OcipatchError(
      "INVALID_FORMAT",
      `${src}: cannot install /${path}: /${real} is a directory in the image${why}`,
    );
  }
  await ctx.writer.addWhiteout(real);
}
