import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import { OcipatchError } from "../../../errors.js";
import { gunzipStream } from "../../../util/compression.js";
import { xzDecompressor } from "../../../util/xz.js";
import { zstdDecompressor } from "../../../util/zstd.js";
import { formatEvr } from "../version.js";
import type { RepomdData } from "./repomd.js";
import { XmlStream } from "./xml.js";

/** A dependency of primary.xml (`<rpm:entry name flags epoch ver rel pre/>`). */
export interface RepoDependency {
  readonly name: string;
  /** EQ, LT, LE, GT, GE; undefined for an unversioned dependency. */
  readonly flags: string | undefined;
  /** `[E:]V[-R]` of a versioned dependency. */
  readonly evr: string | undefined;
  /** `pre="1"`: needed by a scriptlet. */
  readonly pre: boolean;
}

/** One package of primary.xml. */
export interface RepoPackage {
  readonly name: string;
  readonly arch: string;
  readonly epoch: string | undefined;
  readonly version: string;
  readonly release: string;
  /** `[E:]V-R`, epoch left out when 0 or absent (as rpm prints installed packages without one). */
  readonly evr: string;
  /** Of the .rpm file. */
  readonly checksum: { readonly type: string; readonly value: string };
  /** `location href`, relative to the repository's base URL. */
  readonly location: string;
  /** `size package`: bytes of the .rpm file. */
  readonly size: number;
  readonly sourceRpm: string | undefined;
  readonly provides: readonly RepoDependency[];
  readonly requires: readonly RepoDependency[];
  readonly conflicts: readonly RepoDependency[];
  readonly obsoletes: readonly RepoDependency[];
  /** The files primary.xml lists (createrepo puts only /etc, *bin/ and a few others here). */
  readonly files: readonly { readonly path: string; readonly type: "file" | "dir" | "ghost" }[];
}

const DEP_KINDS = ["provides", "requires", "conflicts", "obsoletes"] as const;
type DepKind = (typeof DEP_KINDS)[number];

interface Draft {
  name?: string;
  arch?: string;
  epoch?: string | undefined;
  version?: string;
  release?: string;
  checksum?: { type: string; value: string };
  location?: string;
  size?: number;
  sourceRpm?: string;
  deps: Record<DepKind, RepoDependency[]>;
  files: Array<{ path: string; type: "file" | "dir" | "ghost" }>;
}

const HASH_NAMES: Record<string, string> = { sha: "sha1", sha1: "sha1", sha256: "sha256", sha512: "sha512" };

/** Turns the XML events of primary.xml into packages, handed to `onPackage` one by one. */
function primaryHandler(where: string, onPackage: (p: RepoPackage) => void) {
  const path: string[] = [];
  let text = "";
  let d: Draft | undefined;
  let depKind: DepKind | undefined;
  let fileType: "file" | "dir" | "ghost" = "file";
  let checksumType = "";
  const bad: (msg: string) => never = (msg) => {
    throw new OcipatchError("INVALID_FORMAT", `${where}: ${msg}`);
  };
  return {
    open(name: string, a: Readonly<Record<string, string>>) {
      path.push(name);
      text = "";
      if (path.length === 1 && name !== "metadata") bad(`root element <${name}>, not <metadata>`);
      if (path.length === 2) {
        if (name !== "package") return;
        if (a["type"] !== undefined && a["type"] !== "rpm") bad(`<package type="${a["type"]}">`);
        d = { deps: { provides: [], requires: [], conflicts: [], obsoletes: [] }, files: [] };
        return;
      }
      if (!d) return;
      if (path.length === 3) {
        if (name === "version") {
          if (a["ver"] === undefined || a["rel"] === undefined) bad("<version> without ver or rel");
          d.epoch = a["epoch"];
          d.version = a["ver"];
          d.release = a["rel"];
        } else if (name === "location") d.location = a["href"];
        else if (name === "size") {
          const s = a["package"] ?? "";
          if (!/^\d{1,15}$/.test(s)) bad(`bad package size "${s.slice(0, 30)}"`);
          d.size = Number(s);
        } else if (name === "checksum") checksumType = a["type"] ?? "";
      } else if (path.length === 4 && path[2] === "format") {
        const kind = name.startsWith("rpm:") ? (name.slice(4) as DepKind) : undefined;
        depKind = kind !== undefined && DEP_KINDS.includes(kind) ? kind : undefined;
        if (name === "file")
          fileType = a["type"] === "dir" ? "dir" : a["type"] === "ghost" ? "ghost" : "file";
      } else if (path.length === 5 && depKind && name === "rpm:entry") {
        const dep = a["name"];
        if (!dep) bad(`<rpm:entry> without a name in ${d.name ?? "a package"}`);
        const versioned = a["ver"] !== undefined;
        d.deps[depKind].push({
          name: dep,
          flags: a["flags"],
          evr: versioned
            ? formatEvr({
                epoch: a["epoch"] === undefined || a["epoch"] === "0" ? undefined : a["epoch"],
                version: a["ver"]!,
                release: a["rel"],
              })
            : undefined,
          pre: a["pre"] === "1",
        });
      }
    },
    text(t: string) {
      text += t;
    },
    close(name: string) {
      if (d && path.length === 3) {
        if (name === "name") d.name = text.trim();
        else if (name === "arch") d.arch = text.trim();
        else if (name === "checksum") {
          const type = HASH_NAMES[checksumType.toLowerCase()];
          const value = text.trim().toLowerCase();
          if (!type || !/^[0-9a-f]{40,128}$/.test(value)) bad(`bad checksum of ${d.name ?? "a package"}`);
          d.checksum = { type, value };
        }
      } else if (d && path.length === 4 && path[2] === "format") {
        if (name === "rpm:sourcerpm") d.sourceRpm = text.trim() || undefined;
        else if (name === "file") d.files.push({ path: text.trim(), type: fileType });
        if (DEP_KINDS.some((k) => `rpm:${k}` === name)) depKind = undefined;
      } else if (d && path.length === 2 && name === "package") {
        const { name: n, arch, version, release, checksum, location, size } = d;
        if (
          !n ||
          !arch ||
          version === undefined ||
          release === undefined ||
          !checksum ||
          !location ||
          size === undefined
        )
          bad(`a <package> (${n ?? "no name"}) lacks name, arch, version, checksum, location or size`);
        onPackage({
          name: n,
          arch,
          epoch: d.epoch,
          version,
          release,
          evr: formatEvr({ epoch: d.epoch === "0" ? undefined : d.epoch, version, release }),
          checksum,
          location,
          size,
          sourceRpm: d.sourceRpm,
          provides: d.deps.provides,
          requires: d.deps.requires,
          conflicts: d.deps.conflicts,
          obsoletes: d.deps.obsoletes,
          files: d.files,
        });
        d = undefined;
      }
      path.pop();
      text = "";
    },
  };
}

/** The decompressor for a metadata file, chosen by its name and checked against its magic. */
function decompressorFor(location: string, head: Buffer, where: string) {
  const gz = head[0] === 0x1f && head[1] === 0x8b;
  const zst = head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528;
  const xz = head.subarray(0, 6).equals(XZ_MAGIC);
  if (location.endsWith(".gz")) {
    if (!gz) throw new OcipatchError("INVALID_FORMAT", `${where}: not gzip data`);
    return gunzipStream();
  }
  if (location.endsWith(".zst")) {
    if (!zst) throw new OcipatchError("INVALID_FORMAT", `${where}: not zstd data`);
    return zstdDecompressor(where);
  }
  if (location.endsWith(".xz")) {
    if (!xz) throw new OcipatchError("INVALID_FORMAT", `${where}: not xz data`);
    return xzDecompressor("xz", where);
  }
  if (location.endsWith(".xml")) return undefined;
  throw new OcipatchError(
    "UNSUPPORTED",
    `${where}: compression of ${location} is not supported (gzip, xz, zstd)`,
  );
}

const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);

interface PrimaryOptions {
  /** Keep only the packages this accepts (the others are parsed and dropped: bounded memory). */
  readonly filter?: (p: RepoPackage) => boolean;
  readonly signal?: AbortSignal | undefined;
}

/**
 * Read primary.xml(.gz|.xz|.zst) from `input` as it streams: the stored bytes are hashed (and counted)
 * against repomd's checksum and size while they are decompressed and parsed. The packages are
 * returned only once the whole file matched: DIGEST_MISMATCH (one line) otherwise, and nothing of
 * an unverified file is handed out.
 */
export async function readPrimary(
  input: Readable,
  data: RepomdData,
  where: string,
  opts: PrimaryOptions = {},
): Promise<RepoPackage[]> {
  const hash = createHash(data.checksum.type);
  const packages: RepoPackage[] = [];
  const xml = new XmlStream(
    primaryHandler(where, (p) => {
      if (!opts.filter || opts.filter(p)) packages.push(p);
    }),
    where,
  );
  let stored = 0;
  let parseError: unknown;
  let decompress = "pending" as ReturnType<typeof decompressorFor> | "pending";
  const decoded: Promise<void>[] = [];
  const feed = (chunk: Buffer): void => {
    if (parseError !== undefined) return;
    try {
      xml.write(chunk);
    } catch (e) {
      parseError = e;
    }
  };
  const tooBig = () =>
    new OcipatchError(
      "DIGEST_MISMATCH",
      `${where}: ${data.location} is larger than the ${data.size} bytes repomd.xml gives`,
    );
  let pendingHead = Buffer.alloc(0);
  const start = (chunk: Buffer): void => {
    const d = decompressorFor(data.location, chunk, where);
    decompress = d;
    if (d) {
      d.on("data", feed);
      const done = new Promise<void>((resolve, reject) => {
        d.on("end", resolve);
        d.on("error", (e) =>
          reject(
            e instanceof OcipatchError
              ? e
              : new OcipatchError(
                  "INVALID_FORMAT",
                  `${where}: corrupt compressed data (${(e as Error).message})`,
                ),
          ),
        );
      });
      done.catch(() => undefined); // observed by Promise.all(decoded) after the checksum check
      decoded.push(done);
    }
  };
  const push = async (chunk: Buffer, last = false): Promise<void> => {
    if (decompress === "pending") {
      pendingHead = Buffer.concat([pendingHead, chunk]);
      // the magic needs 6 bytes; a shorter file is decided at its end
      if (pendingHead.length < 6 && !last) return;
      chunk = pendingHead;
      start(chunk);
    }
    const d = decompress as Exclude<typeof decompress, "pending">;
    if (d) {
      // a decoder that failed takes no more input; its error is reported after the checksum check
      if (!d.destroyed && !d.write(chunk))
        await new Promise((r) => {
          d.once("drain", r);
          d.once("close", r);
        });
    } else feed(chunk);
  };
  try {
    for await (const c of input) {
      opts.signal?.throwIfAborted();
      const chunk = Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array);
      stored += chunk.length;
      if (data.size !== undefined && stored > data.size) throw tooBig();
      hash.update(chunk);
      await push(chunk);
    }
    if (decompress === "pending") {
      if (pendingHead.length === 0)
        throw new OcipatchError("DIGEST_MISMATCH", `${where}: ${data.location} is empty`);
      await push(Buffer.alloc(0), true);
    }
    const d = decompress as Exclude<typeof decompress, "pending">;
    const digest = hash.digest("hex");
    if (digest !== data.checksum.value || (data.size !== undefined && stored !== data.size)) {
      d?.destroy();
      throw new OcipatchError(
        "DIGEST_MISMATCH",
        `${where}: ${data.location} has ${data.checksum.type} ${digest.slice(0, 16)}…, repomd.xml says ${data.checksum.value.slice(0, 16)}…`,
      );
    }
    if (d) {
      d.end();
      await Promise.all(decoded);
    }
    if (parseError !== undefined) throw parseError;
    xml.end();
  } catch (e) {
    if (typeof decompress === "object" && decompress) decompress.destroy();
    input.destroy();
    throw e;
  }
  return packages;
}
