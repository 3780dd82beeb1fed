import type * as openpgp from "openpgp";
import { isOcipatchError, OcipatchError } from "../../../errors.js";
import { openpgpLib } from "../../../util/openpgp.js";
import type { SignedBy, SourceFile } from "./sources.js";

/** An OpenPGP public key apt would trust, with where it came from (for messages). */
export interface TrustedKey {
  readonly key: openpgp.Key;
  /** Primary key fingerprint, upper-case hex. */
  readonly fingerprint: string;
  /** Fingerprints of the primary key and all subkeys (any of them may sign). */
  readonly allFingerprints: readonly string[];
  readonly userId: string;
  readonly origin: string;
}

const ARMOR_HEADER = "-----BEGIN PGP PUBLIC KEY BLOCK-----";

/**
 * Read every public key of a keyring file: binary (`.gpg`, a concatenation of
 * transferable public keys, as in /usr/share/keyrings) or ASCII-armored (`.asc`).
 * An empty file is an empty keyring.
 */
export async function readKeyring(content: string | Uint8Array, origin: string): Promise<TrustedKey[]> {
  const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : Buffer.from(content);
  if (bytes.length === 0) return [];
  const head = bytes.subarray(0, 4096).toString("latin1");
  let keys: openpgp.Key[];
  try {
    if (head.includes(ARMOR_HEADER)) {
      const armored = bytes.toString("utf8");
      // a .asc file may hold several armored blocks
      const blocks = armored.split(ARMOR_HEADER).slice(1);
      keys = [];
      for (const b of blocks)
        keys.push(...(await (await openpgpLib()).readKeys({ armoredKeys: ARMOR_HEADER + b })));
    } else {
      keys = await (await openpgpLib()).readKeys({ binaryKeys: new Uint8Array(bytes) });
    }
  } catch (e) {
    throw new OcipatchError("SIGNATURE", `cannot read OpenPGP keys from ${origin}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  return keys.map((key) => describeKey(key, origin));
}

function describeKey(key: openpgp.Key, origin: string): TrustedKey {
  const fingerprint = key.getFingerprint().toUpperCase();
  const allFingerprints = [fingerprint, ...key.getSubkeys().map((s) => s.getFingerprint().toUpperCase())];
  const userId = key.getUserIDs()[0] ?? "";
  return { key, fingerprint, allFingerprints, userId, origin };
}

/** Does a `Signed-By` fingerprint (or long key id, with optional `!`) select this key? */
export function keyMatches(k: TrustedKey, selector: string): boolean {
  const exact = selector.endsWith("!");
  const s = (exact ? selector.slice(0, -1) : selector).toUpperCase();
  const candidates = exact ? [k.fingerprint] : k.allFingerprints;
  return candidates.some((f) => f === s || (s.length === 16 && f.endsWith(s)));
}

/**
 * Where keyring files are looked up: the image's files, or the host's filesystem. A path named
 * by one side's sources is looked up on that side only (an image's `Signed-By: /etc/shadow` is
 * the image's /etc/shadow); `get` reads bounded regular files only.
 */
export interface KeyringFiles {
  /** For messages: "the image", "the host". */
  readonly description: string;
  /** The file's bytes; undefined when missing; an error when not a regular file or too large. */
  get(path: string): Promise<Uint8Array | undefined>;
  /** Files apt trusts without Signed-By: trusted.gpg, trusted.gpg.d/*.{gpg,asc}, keyrings/*-archive-keyring.gpg. */
  defaults(): Promise<SourceFile[]>;
}

/** Is this one of the keyrings apt (and ocipatch) trust by default? */
export function isDefaultKeyringPath(path: string): boolean {
  if (path === "/etc/apt/trusted.gpg") return true;
  if (/^\/etc\/apt\/trusted\.gpg\.d\/[^/]+\.(gpg|asc)$/.test(path)) return true;
  return /^\/usr\/share\/keyrings\/[^/]+-archive-keyring\.gpg$/.test(path);
}

/** Keyring files given as contents (read from the image by the caller). */
export function keyringFilesFromList(files: readonly SourceFile[], description: string): KeyringFiles {
  const byPath = new Map(files.map((f) => [f.path, f] as const));
  return {
    description,
    async get(path) {
      const f = byPath.get(path);
      if (!f) return undefined;
      return typeof f.content === "string" ? Buffer.from(f.content) : f.content;
    },
    async defaults() {
      return files.filter((f) => isDefaultKeyringPath(f.path)).sort((a, b) => (a.path < b.path ? -1 : 1));
    },
  };
}

/**
 * The keys that may sign a repository, in apt's order of precedence:
 * `Signed-By` (inline block, keyring paths, or fingerprints selecting default keys); otherwise the
 * default keyrings of the files the source came from, plus explicitly configured keyrings;
 * otherwise (an image that ships no keys, e.g. distroless) the fallback keyrings (the host's).
 */
export class TrustStore {
  private readonly cache = new Map<string, Promise<TrustedKey[]>>();

  constructor(
    private readonly primary: KeyringFiles,
    private readonly extra: readonly SourceFile[] = [],
    private readonly fallback: KeyringFiles | undefined = undefined,
  ) {}

  private load(files: KeyringFiles, path: string): Promise<TrustedKey[]> {
    const id = `${files.description}\0${path}`;
    let p = this.cache.get(id);
    if (!p) {
      p = files.get(path).then((bytes) => {
        if (bytes === undefined) {
          throw new OcipatchError("SIGNATURE", `keyring ${path} is missing in ${files.description}`, {
            details: { missing: true, path },
          });
        }
        return readKeyring(bytes, `${path} (${files.description})`);
      });
      this.cache.set(id, p);
    }
    return p;
  }

  /** Default keyring files that could not be read (skipped, like apt skips unreadable keyrings). */
  readonly warnings: string[] = [];

  private async defaultsOf(files: KeyringFiles): Promise<TrustedKey[]> {
    const out: TrustedKey[] = [];
    for (const f of await files.defaults()) {
      try {
        out.push(...(await this.load(files, f.path)));
      } catch (e) {
        const w = `ignored keyring ${f.path} of ${files.description}: ${(e as Error).message}`;
        if (!this.warnings.includes(w)) this.warnings.push(w);
      }
    }
    return out;
  }

  /** The default trust set: the image's keys and configured keyrings, else the fallback's. */
  async defaultKeys(): Promise<TrustedKey[]> {
    const keys = await this.defaultsOf(this.primary);
    for (const f of this.extra) keys.push(...(await readKeyring(f.content, f.path)));
    if (keys.length === 0 && this.fallback) keys.push(...(await this.defaultsOf(this.fallback)));
    return keys;
  }

  /**
   * Keys for a source. `fromFallback`: the source itself came from the fallback (host) files,
   * so its Signed-By paths name fallback files.
   */
  async keysFor(signedBy: SignedBy | undefined, origin: string, fromFallback = false): Promise<TrustedKey[]> {
    if (!signedBy) {
      const keys =
        fromFallback && this.fallback ? await this.defaultsOf(this.fallback) : await this.defaultKeys();
      if (keys.length === 0) {
        throw new OcipatchError(
          "SIGNATURE",
          `no trusted OpenPGP keys for ${origin}: the image ships no apt keyring; give a keyring`,
          { details: { option: "keyrings" } },
        );
      }
      return keys;
    }
    const keys: TrustedKey[] = [];
    if (signedBy.inline !== undefined)
      keys.push(...(await readKeyring(signedBy.inline, `Signed-By of ${origin}`)));
    const files = fromFallback && this.fallback ? this.fallback : this.primary;
    for (const path of signedBy.paths) {
      let k: TrustedKey[];
      try {
        k = await this.load(files, path);
      } catch (e) {
        // An image without keys (distroless) whose sources name a keyring apt trusts by default
        // (e.g. /usr/share/keyrings/debian-archive-keyring.gpg): use the host's copy of THAT default
        // keyring. Any other path the image names is never looked up on the host.
        const hostCopy =
          !fromFallback &&
          this.fallback &&
          isOcipatchError(e, "SIGNATURE") &&
          e.details?.["missing"] === true &&
          isDefaultKeyringPath(path) &&
          (await this.defaultsOf(this.primary)).length === 0
            ? (await this.fallback.defaults()).find((f) => f.path === path)
            : undefined;
        if (!hostCopy || !this.fallback) throw e;
        k = await this.load(this.fallback, hostCopy.path);
      }
      keys.push(...k);
    }
    if (signedBy.fingerprints.length > 0) {
      const pool = await this.defaultKeys();
      for (const fp of signedBy.fingerprints) {
        const hit = pool.filter((k) => keyMatches(k, fp));
        if (hit.length === 0) {
          throw new OcipatchError(
            "SIGNATURE",
            `Signed-By key ${fp} of ${origin} is not in any trusted keyring`,
          );
        }
        keys.push(...hit);
      }
    }
    return keys;
  }
}
