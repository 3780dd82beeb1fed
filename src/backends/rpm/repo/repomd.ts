import type * as openpgp from "openpgp";
import { OcipatchError } from "../../../errors.js";
import { openpgpLib } from "../../../util/openpgp.js";
import type { RpmKey } from "./keys.js";
import { XmlStream } from "./xml.js";

/** A checksum as repository metadata writes it: `<checksum type="sha256">hex</checksum>`. */
export interface RepoChecksum {
  /** Node's hash name: sha1, sha224, sha256, sha384, sha512. */
  readonly type: string;
  /** Lower-case hex. */
  readonly value: string;
}

/** One `<data type="…">` of repomd.xml (primary, filelists, other, updateinfo, modules...). */
export interface RepomdData {
  readonly type: string;
  /** `location href`, relative to the repository's base URL (`repodata/…-primary.xml.gz`). */
  readonly location: string;
  /** Of the file as stored (compressed). */
  readonly checksum: RepoChecksum;
  readonly size: number | undefined;
  /** Of the decompressed content. */
  readonly openChecksum: RepoChecksum | undefined;
  readonly openSize: number | undefined;
}

interface Repomd {
  readonly revision: string | undefined;
  readonly data: ReadonlyMap<string, RepomdData>;
}

/** Checksum type names of repodata (`sha` is SHA-1, as yum wrote it) → node's hash names. */
const HASHES: Record<string, { name: string; hexLength: number }> = {
  sha: { name: "sha1", hexLength: 40 },
  sha1: { name: "sha1", hexLength: 40 },
  sha224: { name: "sha224", hexLength: 56 },
  sha256: { name: "sha256", hexLength: 64 },
  sha384: { name: "sha384", hexLength: 96 },
  sha512: { name: "sha512", hexLength: 128 },
};

/** A checksum element's type and text, checked: a known algorithm and hex of its length. */
function repoChecksum(type: string | undefined, text: string, where: string): RepoChecksum {
  const h = HASHES[(type ?? "").toLowerCase()];
  const value = text.trim().toLowerCase();
  if (!h) throw new OcipatchError("UNSUPPORTED", `${where}: checksum type "${type ?? ""}" is not supported`);
  if (value.length !== h.hexLength || !/^[0-9a-f]+$/.test(value))
    throw new OcipatchError("INVALID_FORMAT", `${where}: malformed ${type} checksum "${value.slice(0, 80)}"`);
  return { type: h.name, value };
}

function sizeOf(text: string | undefined, where: string): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  if (!/^\d{1,15}$/.test(t))
    throw new OcipatchError("INVALID_FORMAT", `${where}: bad size "${t.slice(0, 40)}"`);
  return Number(t);
}

/** Parse repomd.xml (after its signature was checked, when the repository asks for that). */
export function parseRepomd(content: Uint8Array, where: string): Repomd {
  const data = new Map<string, RepomdData>();
  let revision: string | undefined;
  let path: string[] = [];
  let text = "";
  let cur:
    | {
        type: string;
        fields: Map<string, { attrs: Readonly<Record<string, string>>; text: string }>;
      }
    | undefined;
  const xml = new XmlStream(
    {
      open(name, a) {
        path.push(name);
        text = "";
        if (path.length === 1 && name !== "repomd")
          throw new OcipatchError("INVALID_FORMAT", `${where}: root element <${name}>, not <repomd>`);
        if (path.length === 2 && name === "data") {
          const type = a["type"];
          if (!type) throw new OcipatchError("INVALID_FORMAT", `${where}: <data> without a type`);
          cur = { type, fields: new Map() };
        } else if (path.length === 3 && cur) cur.fields.set(name, { attrs: a, text: "" });
      },
      text(t) {
        text += t;
      },
      close(name) {
        if (path.length === 2 && name === "revision") revision = text.trim();
        if (path.length === 3 && cur) {
          const f = cur.fields.get(name);
          if (f) cur.fields.set(name, { attrs: f.attrs, text });
        }
        if (path.length === 2 && name === "data" && cur) {
          const w = `${where}: <data type="${cur.type}">`;
          const f = cur.fields;
          const location = f.get("location")?.attrs["href"];
          const checksum = f.get("checksum");
          if (!location || !checksum)
            throw new OcipatchError("INVALID_FORMAT", `${w} needs a location and a checksum`);
          if (data.has(cur.type)) throw new OcipatchError("INVALID_FORMAT", `${w} appears twice`);
          const open = f.get("open-checksum");
          data.set(cur.type, {
            type: cur.type,
            location,
            checksum: repoChecksum(checksum.attrs["type"], checksum.text, w),
            size: sizeOf(f.get("size")?.text, w),
            openChecksum: open ? repoChecksum(open.attrs["type"], open.text, w) : undefined,
            openSize: sizeOf(f.get("open-size")?.text, w),
          });
          cur = undefined;
        }
        path = path.slice(0, -1);
        text = "";
      },
    },
    where,
    1024 * 1024,
  );
  xml.write(Buffer.from(content));
  xml.end();
  return { revision, data };
}

/**
 * Verify repomd.xml against its detached signature (`repomd.xml.asc`, armored or binary) with the
 * repository's keys (its `gpgkey=` files); throws SIGNATURE unless one signature is good.
 */
export async function verifyRepomdSignature(
  repomd: Uint8Array,
  signature: Uint8Array,
  keys: readonly RpmKey[],
  where: string,
  opts: { date?: Date } = {},
): Promise<RpmKey> {
  if (keys.length === 0) throw new OcipatchError("SIGNATURE", `${where}: no keys to verify repomd.xml with`);
  let sig: openpgp.Signature;
  try {
    const head = Buffer.from(signature.subarray(0, 64)).toString("latin1");
    sig = head.includes("-----BEGIN PGP SIGNATURE-----")
      ? await (await openpgpLib()).readSignature({
          armoredSignature: Buffer.from(signature).toString("utf8"),
        })
      : await (await openpgpLib()).readSignature({ binarySignature: new Uint8Array(signature) });
  } catch (e) {
    throw new OcipatchError("SIGNATURE", `${where}: unreadable repomd.xml.asc (${(e as Error).message})`, {
      cause: e,
    });
  }
  const result = await (await openpgpLib()).verify({
    message: await (await openpgpLib()).createMessage({ binary: new Uint8Array(repomd) }),
    signature: sig,
    verificationKeys: keys.map((k) => k.key),
    format: "binary",
    ...(opts.date ? { date: opts.date } : {}),
  });
  const problems: string[] = [];
  for (const s of result.signatures) {
    const keyId = s.keyID.toHex().toUpperCase();
    try {
      await s.verified;
      const k = keys.find((t) => t.allFingerprints.some((f) => f.endsWith(keyId)));
      if (k) return k;
      problems.push(`${keyId}: not a key of the repository`);
    } catch (e) {
      const msg = (e as Error).message;
      problems.push(
        /could not find signing key/i.test(msg)
          ? `${keyId}: not a key of the repository`
          : `${keyId}: ${msg}`,
      );
    }
  }
  throw new OcipatchError(
    "SIGNATURE",
    `${where}: repomd.xml has no valid signature from the repository's keys (${problems.join("; ") || "no signatures"})`,
  );
}
