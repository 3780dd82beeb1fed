/**
 * The mirror lists a `.repo` file may give instead of a `baseurl`, as librepo reads them:
 * - `mirrorlist=`: plain text, one URL per line, blank lines and `#` comment lines skipped
 *   (librepo `mirrorlist.c`); each URL is a repository base URL.
 * - `metalink=`: a Metalink 3.0 document (MirrorManager's) for `repomd.xml`: its
 *   `<verification><hash type="…">` digests (and those of `<mm0:alternates>`, older repomd.xml
 *   versions still accepted) and its `<resources><url … preference="N">…/repodata/repomd.xml</url>`
 *   mirrors, best preference first, the `repodata/repomd.xml` suffix taken off (librepo
 *   `metalink.c`, `lrmirrorlist.c`).
 * A mirrorlist whose content is a metalink document is read as one (dnf also treats a mirrorlist URL
 * containing "metalink" as a metalink). Only http(s) mirrors are kept (ocipatch fetches nothing
 * else). Hostile input is one INVALID_FORMAT line; sizes are bounded.
 */
import { createHash } from "node:crypto";
import { OcipatchError } from "../../../errors.js";
import { XmlStream } from "./xml.js";

/** Bound on a mirror list or metalink document (Fedora's metalink is ~10 KB). */
export const MAX_MIRRORLIST_BYTES = 1024 * 1024;
/** Mirrors kept from one list. */
const MAX_MIRRORS = 1000;
const MAX_URL = 4096;
const SUFFIX = "repodata/repomd.xml";

/** The digests one acceptable repomd.xml has (`sha256`, `sha512`, lower-case hex). */
export type RepomdHashes = Readonly<Partial<Record<"sha256" | "sha512", string>>>;

export interface MirrorList {
  readonly kind: "mirrorlist" | "metalink";
  /** Repository base URLs, in the order to try them, without a trailing slash. */
  readonly mirrors: readonly string[];
  /** Metalink only: the current repomd.xml's digests, then the alternates'. */
  readonly hashes: readonly RepomdHashes[];
  /** Mirrors left out (not http(s)). */
  readonly skipped: number;
}

const bad = (where: string, msg: string): OcipatchError =>
  new OcipatchError("INVALID_FORMAT", `${where}: ${msg}`);

/** http(s) URL with a host, no blanks or control characters. */
const usable = (u: string): boolean =>
  u.length <= MAX_URL && /^https?:\/\/[^/\s]/i.test(u) && !/[\s\p{Cc}]/u.test(u);

/** True when `bytes` looks like an XML (metalink) document rather than a list of URLs. */
export function looksLikeMetalink(bytes: Buffer): boolean {
  const head = bytes
    .subarray(0, 4096)
    .toString("utf8")
    .replace(/^\uFEFF/, "");
  return /^\s*(<\?xml[^>]*\?>\s*)?(<!--[\s\S]*?-->\s*)*<metalink[\s>]/.test(head);
}

/** A plain mirrorlist: `$var`s in its URLs replaced by `subst`. */
export function parseMirrorlist(bytes: Buffer, where: string, subst: (s: string) => string): MirrorList {
  if (bytes.length > MAX_MIRRORLIST_BYTES) throw bad(where, `larger than ${MAX_MIRRORLIST_BYTES} bytes`);
  if (bytes.includes(0)) throw bad(where, "not a mirror list (binary content)");
  const mirrors: string[] = [];
  let skipped = 0;
  for (const raw of bytes.toString("utf8").split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const url = subst(line).replace(/\/+$/, "");
    if (!usable(url)) {
      skipped++;
      continue;
    }
    if (!mirrors.includes(url)) mirrors.push(url);
    if (mirrors.length > MAX_MIRRORS) throw bad(where, `more than ${MAX_MIRRORS} mirrors`);
  }
  return { kind: "mirrorlist", mirrors, hashes: [], skipped };
}

/** A metalink document for `repomd.xml`. */
export function parseMetalink(bytes: Buffer, where: string, subst: (s: string) => string): MirrorList {
  if (bytes.length > MAX_MIRRORLIST_BYTES) throw bad(where, `larger than ${MAX_MIRRORLIST_BYTES} bytes`);
  const path: string[] = [];
  let inRepomd = false;
  let sawRepomd = false;
  let sawMain = false;
  let hashType: string | undefined;
  let url: { preference: number; order: number } | undefined;
  let text = "";
  let cur: Record<string, string> = {};
  const hashes: Record<string, string>[] = [];
  const urls: { url: string; preference: number; order: number }[] = [];
  const local = (n: string) => n.slice(n.indexOf(":") + 1);
  const x = new XmlStream(
    {
      open(name, attrs) {
        const n = local(name);
        path.push(n);
        text = "";
        if (path.length === 1 && n !== "metalink")
          throw bad(where, `<${name.slice(0, 40)}> is not a metalink`);
        if (n === "file" && path.length === 3 && path[1] === "files") {
          inRepomd = attrs["name"] === "repomd.xml";
          if (inRepomd) {
            if (sawRepomd) throw bad(where, 'two <file name="repomd.xml">');
            sawRepomd = true;
          }
        }
        if (!inRepomd) return;
        if (n === "verification") cur = {};
        else if (n === "hash" && path.at(-2) === "verification") hashType = attrs["type"]?.toLowerCase();
        else if (n === "url" && path.at(-2) === "resources") {
          const p = attrs["preference"];
          const preference = p === undefined ? 0 : Number(p);
          if (!/^\d{1,3}$/.test(p ?? "0") || preference > 100)
            throw bad(where, `url preference "${String(p).slice(0, 20)}" is not 0 to 100`);
          url = { preference, order: urls.length };
        }
      },
      text(t) {
        if (text.length + t.length > MAX_URL + 256) throw bad(where, "a text longer than a URL or digest");
        text += t;
      },
      close(name) {
        const n = local(name);
        path.pop();
        if (!inRepomd) return;
        if (n === "file") inRepomd = false;
        else if (n === "hash" && hashType !== undefined) {
          const v = text.trim().toLowerCase();
          const len = { sha256: 64, sha512: 128 }[hashType];
          if (len !== undefined) {
            if (!new RegExp(`^[0-9a-f]{${len}}$`).test(v))
              throw bad(where, `${hashType} "${v.slice(0, 20)}" is not a digest`);
            cur[hashType] = v;
          }
          hashType = undefined;
        } else if (n === "verification") {
          // the current repomd.xml's digests first, then the alternates'
          if (path.at(-1) === "file") {
            if (Object.keys(cur).length === 0)
              throw bad(where, "the metalink gives no sha256 or sha512 digest of repomd.xml");
            hashes.unshift(cur);
            sawMain = true;
          } else if (Object.keys(cur).length > 0) hashes.push(cur);
          if (hashes.length > MAX_MIRRORS) throw bad(where, "too many hash sets");
        } else if (n === "url" && url) {
          urls.push({ url: text.trim(), ...url });
          if (urls.length > MAX_MIRRORS) throw bad(where, `more than ${MAX_MIRRORS} mirrors`);
          url = undefined;
        }
        text = "";
      },
    },
    where,
    MAX_URL * 4,
  );
  x.write(bytes);
  x.end();
  if (!sawRepomd) throw bad(where, 'no <file name="repomd.xml"> in the metalink');
  // higher preference first; the document's order among equals
  urls.sort((a, b) => b.preference - a.preference || a.order - b.order);
  const mirrors: string[] = [];
  let skipped = 0;
  for (const u of urls) {
    const full = subst(u.url);
    const base = (full.endsWith(SUFFIX) ? full.slice(0, -SUFFIX.length) : full).replace(/\/+$/, "");
    if (!usable(base)) {
      skipped++;
      continue;
    }
    if (!mirrors.includes(base)) mirrors.push(base);
  }
  if (!sawMain) throw bad(where, "the metalink gives no sha256 or sha512 digest of repomd.xml");
  return { kind: "metalink", mirrors, hashes, skipped };
}

/** A fetched list: a metalink when `metalink=` named it or its content is one, else a mirrorlist. */
export function parseMirrors(
  bytes: Buffer,
  declared: "mirrorlist" | "metalink",
  where: string,
  subst: (s: string) => string,
): MirrorList {
  return declared === "metalink" || looksLikeMetalink(bytes)
    ? parseMetalink(bytes, where, subst)
    : parseMirrorlist(bytes, where, subst);
}

/**
 * Does `repomd` match one of the metalink's hash sets? Each set is checked with its strongest
 * digest (sha512 over sha256), as librepo does.
 */
export function repomdMatches(repomd: Buffer, hashes: readonly RepomdHashes[]): boolean {
  const digest = new Map<string, string>();
  const of = (alg: "sha256" | "sha512") => {
    let d = digest.get(alg);
    if (d === undefined) {
      d = createHash(alg).update(repomd).digest("hex");
      digest.set(alg, d);
    }
    return d;
  };
  return hashes.some((h) => (h.sha512 !== undefined ? of("sha512") === h.sha512 : h.sha256 === of("sha256")));
}
