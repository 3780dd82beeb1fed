import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import type * as openpgp from "openpgp";
import { OcipatchError } from "../../../errors.js";
import { openpgpLib } from "../../../util/openpgp.js";
import type { TagValue } from "../header.js";
import type { RpmKey } from "../repo/keys.js";
import { compressedPayload, PAYLOAD_TAG, type RpmPackageFile, SIGTAG } from "./rpm-file.js";

/**
 * Verifying a .rpm as `rpm -K` does, without rpm: the header digests of the signature header
 * (SHA256HEADER, else SHA1HEADER) over the main header bytes, the payload digest (PAYLOADDIGEST,
 * over the compressed payload; the legacy MD5 over header and payload for packages without it),
 * and the OpenPGP signature over the main header (RSAHEADER, or DSAHEADER for DSA/EdDSA keys)
 * with the repository's keys. A digest that does not match is DIGEST_MISMATCH; an unsigned
 * package, a key that is not given, or a bad signature is SIGNATURE.
 */

/** PGP hash algorithm ids (RFC 4880 9.4) rpm uses for PAYLOADDIGESTALGO. */
const HASH_ALGO: Readonly<Record<number, string>> = {
  1: "md5",
  2: "sha1",
  8: "sha256",
  9: "sha384",
  10: "sha512",
  11: "sha224",
};

function str(v: TagValue | undefined): string | undefined {
  return v?.type === "string" && v.values.length >= 1 ? v.values[0] : undefined;
}

function mismatch(pkg: RpmPackageFile, what: string): OcipatchError {
  return new OcipatchError("DIGEST_MISMATCH", `${pkg.path}: rpm ${what} does not match`);
}

/** Check the header digest; returns its name ("SHA256"). */
export function verifyHeaderDigest(pkg: RpmPackageFile): string {
  const sha256 = str(pkg.signature.get(SIGTAG.SHA256HEADER));
  const sha1 = str(pkg.signature.get(SIGTAG.SHA1HEADER));
  if (sha256 === undefined && sha1 === undefined)
    throw new OcipatchError("DIGEST_MISMATCH", `${pkg.path}: rpm package has no header digest`);
  const [algo, want] = sha256 !== undefined ? ["sha256", sha256] : ["sha1", sha1!];
  if (createHash(algo).update(pkg.headerBytes).digest("hex") !== want.toLowerCase())
    throw mismatch(pkg, `header ${algo.toUpperCase()} digest`);
  return algo.toUpperCase();
}

/**
 * Check the payload digest by streaming `source` (default: the file's compressed payload);
 * returns its name ("SHA256").
 */
export async function verifyPayloadDigest(pkg: RpmPackageFile, source?: Readable): Promise<string> {
  const digest = pkg.header.tags.get(PAYLOAD_TAG.PAYLOADDIGEST);
  const md5 = pkg.signature.get(SIGTAG.MD5);
  let algo: string;
  let want: string;
  let withHeader = false;
  if (digest !== undefined) {
    const id = pkg.header.tags.get(PAYLOAD_TAG.PAYLOADDIGESTALGO);
    const n = id?.type === "int" ? id.values[0]! : 8;
    const a = HASH_ALGO[n];
    if (a === undefined || a === "md5")
      throw new OcipatchError(
        "UNSUPPORTED",
        `${pkg.path}: rpm payload digest algorithm ${n} is not supported`,
      );
    const w = str(digest);
    if (w === undefined) throw mismatch(pkg, "payload digest (not a string)");
    algo = a;
    want = w.toLowerCase();
  } else if (md5?.type === "bin" && md5.value.length === 16) {
    // packages from before rpm 4.14: MD5 over the main header and the payload
    algo = "md5";
    want = md5.value.toString("hex");
    withHeader = true;
  } else {
    throw new OcipatchError("DIGEST_MISMATCH", `${pkg.path}: rpm package has no payload digest`);
  }
  const h = createHash(algo);
  if (withHeader) h.update(pkg.headerBytes);
  try {
    for await (const chunk of source ?? compressedPayload(pkg)) h.update(chunk as Buffer);
  } catch (e) {
    throw new OcipatchError("IO", `${pkg.path}: cannot read rpm payload: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (h.digest("hex") !== want) throw mismatch(pkg, `payload ${algo.toUpperCase()} digest`);
  return algo.toUpperCase();
}

/**
 * Verify the OpenPGP header signature with `keys`; returns the key that made it. Throws SIGNATURE
 * for an unsigned package (or one signed only the pre-4.0 way, over header and payload), a
 * signature by a key not in `keys`, or a bad signature.
 */
async function verifySignature(
  pkg: RpmPackageFile,
  keys: readonly RpmKey[],
  opts: { date?: Date } = {},
): Promise<RpmKey> {
  const blob = pkg.signature.get(SIGTAG.RSAHEADER) ?? pkg.signature.get(SIGTAG.DSAHEADER);
  if (blob === undefined) {
    const legacy = pkg.signature.has(SIGTAG.PGP) || pkg.signature.has(SIGTAG.GPG);
    throw new OcipatchError(
      "SIGNATURE",
      legacy
        ? `${pkg.path}: rpm package has only a header+payload signature (rpm < 4.0), which is not supported`
        : `${pkg.path}: rpm package is not signed`,
    );
  }
  if (blob.type !== "bin")
    throw new OcipatchError("SIGNATURE", `${pkg.path}: rpm header signature is not binary`);
  let sig: openpgp.Signature;
  try {
    sig = await (await openpgpLib()).readSignature({ binarySignature: new Uint8Array(blob.value) });
  } catch (e) {
    throw new OcipatchError(
      "SIGNATURE",
      `${pkg.path}: unreadable rpm header signature (${(e as Error).message})`,
      {
        cause: e,
      },
    );
  }
  const ids = sig.getSigningKeyIDs().map((k) => k.toHex().toUpperCase());
  const key = keys.find((k) => k.allFingerprints.some((f) => ids.some((id) => f.endsWith(id))));
  if (key === undefined)
    throw new OcipatchError(
      "SIGNATURE",
      `${pkg.path}: rpm package is signed with unknown key ${ids.join(", ") || "(no key ID)"}`,
    );
  let problem: string;
  try {
    const result = await (await openpgpLib()).verify({
      message: await (await openpgpLib()).createMessage({ binary: new Uint8Array(pkg.headerBytes) }),
      signature: sig,
      verificationKeys: [key.key],
      format: "binary",
      ...(opts.date ? { date: opts.date } : {}),
    });
    for (const s of result.signatures) await s.verified;
    if (result.signatures.length > 0) return key;
    problem = "no signatures";
  } catch (e) {
    problem = (e as Error).message;
  }
  throw new OcipatchError(
    "SIGNATURE",
    `${pkg.path}: bad rpm header signature from key ${key.fingerprint} (${problem.replace(/\s*\n\s*/g, " ")})`,
  );
}

interface RpmVerdict {
  readonly headerDigest: string;
  readonly payloadDigest: string;
  /** The key that signed the package. */
  readonly key: RpmKey;
}

/** Everything `rpm -K` checks: header digest, signature, then payload digest. */
export async function verifyRpm(
  pkg: RpmPackageFile,
  keys: readonly RpmKey[],
  opts: { date?: Date } = {},
): Promise<RpmVerdict> {
  const headerDigest = verifyHeaderDigest(pkg);
  const key = await verifySignature(pkg, keys, opts);
  const payloadDigest = await verifyPayloadDigest(pkg);
  return { headerDigest, payloadDigest, key };
}
