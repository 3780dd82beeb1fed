import type * as openpgp from "openpgp";
import { OcipatchError } from "../../../errors.js";
import { openpgpLib } from "../../../util/openpgp.js";
import { parseParagraphs } from "../debian/deb822.js";
import type { TrustedKey } from "./keyring.js";

/** A file listed in a Release file's SHA256 section. */
export interface ReleaseFileEntry {
  readonly sha256: string;
  readonly size: number;
}

/** The fields of a (verified) Release file that ocipatch uses. */
export interface ReleaseInfo {
  readonly origin: string | undefined;
  readonly label: string | undefined;
  readonly suite: string | undefined;
  readonly codename: string | undefined;
  readonly version: string | undefined;
  readonly date: Date | undefined;
  readonly validUntil: Date | undefined;
  readonly architectures: readonly string[];
  readonly components: readonly string[];
  readonly acquireByHash: boolean;
  /** `NotAutomatic: yes` (experimental, backports): apt pins it to 1 (100 with ButAutomaticUpgrades). */
  readonly notAutomatic: boolean;
  readonly butAutomaticUpgrades: boolean;
  /** SHA256 section: path relative to dists/SUITE → hash and size. */
  readonly files: ReadonlyMap<string, ReleaseFileEntry>;
}

/**
 * Parse an RFC 2822 date as apt writes them (`Sat, 09 Aug 2025 09:16:30 UTC`; Ubuntu pads
 * single-digit hours with a space: `Thu, 26 Nov 2026  3:13:56 UTC`).
 */
export function parseReleaseDate(s: string): Date | undefined {
  const m =
    /^(?:[A-Za-z]{3},\s*)?(\d{1,2})\s+([A-Za-z]{3})\s+(\d{4})\s+(\d{1,2}):(\d{2}):(\d{2})\s*(UTC|GMT|Z|[+-]\d{4})?$/.exec(
      s.trim(),
    );
  if (!m) return undefined;
  const months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
  const mon = months.indexOf(m[2]!.toLowerCase());
  if (mon === -1) return undefined;
  let t = Date.UTC(+m[3]!, mon, +m[1]!, +m[4]!, +m[5]!, +m[6]!);
  const tz = m[7];
  if (tz && /^[+-]\d{4}$/.test(tz)) {
    const sign = tz[0] === "-" ? -1 : 1;
    t -= sign * (+tz.slice(1, 3) * 60 + +tz.slice(3, 5)) * 60_000;
  }
  return new Date(t);
}

const yes = (v: string | undefined): boolean => v !== undefined && /^(yes|true)$/i.test(v.trim());

/** Parse the text of a Release file (the signed content of InRelease). */
export function parseRelease(text: string, where: string): ReleaseInfo {
  const paras = parseParagraphs(text, { source: where });
  const p = paras[0];
  if (!p) throw new OcipatchError("INVALID_FORMAT", `${where}: empty Release file`);
  const files = new Map<string, ReleaseFileEntry>();
  for (const line of (p.get("SHA256") ?? "").split("\n")) {
    const t = line.trim();
    if (t === "") continue;
    const m = /^([0-9a-f]{64})\s+(\d+)\s+(\S+)$/i.exec(t);
    if (!m) throw new OcipatchError("INVALID_FORMAT", `${where}: malformed SHA256 line "${t.slice(0, 100)}"`);
    files.set(m[3]!, { sha256: m[1]!.toLowerCase(), size: Number(m[2]) });
  }
  if (files.size === 0)
    throw new OcipatchError("INVALID_FORMAT", `${where}: Release file has no SHA256 list`);
  const date = p.get("Date");
  const validUntil = p.get("Valid-Until");
  const parsedDate = date === undefined ? undefined : parseReleaseDate(date);
  const parsedValid = validUntil === undefined ? undefined : parseReleaseDate(validUntil);
  if (validUntil !== undefined && parsedValid === undefined) {
    throw new OcipatchError("INVALID_FORMAT", `${where}: unreadable Valid-Until "${validUntil}"`);
  }
  const words = (f: string): string[] => (p.get(f) ?? "").split(/\s+/).filter((x) => x !== "");
  return {
    origin: p.get("Origin"),
    label: p.get("Label"),
    suite: p.get("Suite"),
    codename: p.get("Codename"),
    version: p.get("Version"),
    date: parsedDate,
    validUntil: parsedValid,
    architectures: words("Architectures"),
    components: words("Components"),
    acquireByHash: yes(p.get("Acquire-By-Hash")),
    notAutomatic: yes(p.get("NotAutomatic")),
    butAutomaticUpgrades: yes(p.get("ButAutomaticUpgrades")),
    files,
  };
}

/** Who signed: the first good signature from a trusted key. */
export interface Signer {
  readonly keyId: string;
  readonly fingerprint: string;
  readonly userId: string;
  readonly keyring: string;
}

interface VerifiedText {
  /** The signed content, and nothing else. */
  readonly text: string;
  readonly signer: Signer;
}

interface VerifyOptions {
  /** Verification time (default: now). */
  readonly date?: Date;
}

async function firstGoodSignature(
  signatures: openpgp.VerifyMessageResult["signatures"],
  keys: readonly TrustedKey[],
  where: string,
): Promise<Signer> {
  const problems: string[] = [];
  for (const s of signatures) {
    const keyId = s.keyID.toHex().toUpperCase();
    try {
      await s.verified;
      const k = keys.find((t) => t.allFingerprints.some((f) => f.endsWith(keyId)));
      return {
        keyId,
        fingerprint: k?.fingerprint ?? keyId,
        userId: k?.userId ?? "",
        keyring: k?.origin ?? "",
      };
    } catch (e) {
      const msg = (e as Error).message;
      problems.push(
        /could not find signing key/i.test(msg) ? `${keyId}: not a trusted key` : `${keyId}: ${msg}`,
      );
    }
  }
  const detail = problems.length === 0 ? "no signatures" : problems.join("; ");
  throw new OcipatchError("SIGNATURE", `${where}: no valid signature from a trusted key (${detail})`);
}

const BEGIN_SIGNED = "-----BEGIN PGP SIGNED MESSAGE-----";
const END_SIGNATURE = "-----END PGP SIGNATURE-----";

/**
 * An InRelease file is exactly one clear-signed message, as apt requires (apt-pkg/contrib/gpgv.cc
 * SplitClearSignedFile): nothing but empty lines before its BEGIN line or after its END line, and
 * no second signed block. Unsigned text around the signed part could otherwise be read as if signed.
 */
function checkClearsignedFraming(text: string, where: string): void {
  const lines = text.split("\n").map((l) => l.replace(/[ \t\r]+$/, ""));
  const begin = lines.findIndex((l) => l !== "");
  if (begin === -1 || lines[begin] !== BEGIN_SIGNED)
    throw new OcipatchError(
      "SIGNATURE",
      `${where}: does not start with a signed message block (as apt requires)`,
    );
  const end = lines.indexOf(END_SIGNATURE, begin);
  if (end === -1) throw new OcipatchError("SIGNATURE", `${where}: the signature block is not terminated`);
  if (lines.slice(end + 1).some((l) => l !== ""))
    throw new OcipatchError(
      "SIGNATURE",
      `${where}: contains unsigned lines after the signature (apt refuses it)`,
    );
  if (lines.indexOf(BEGIN_SIGNED, begin + 1) !== -1)
    throw new OcipatchError("SIGNATURE", `${where}: contains more than one signed message (apt refuses it)`);
}

/** Verify an InRelease file (OpenPGP cleartext signature); returns only the signed text. */
export async function verifyInRelease(
  content: Uint8Array,
  keys: readonly TrustedKey[],
  where: string,
  opts: VerifyOptions = {},
): Promise<VerifiedText> {
  if (keys.length === 0) throw new OcipatchError("SIGNATURE", `${where}: no trusted keys to verify it with`);
  const armored = Buffer.from(content).toString("utf8");
  checkClearsignedFraming(armored, where);
  let message: openpgp.CleartextMessage;
  try {
    message = await (await openpgpLib()).readCleartextMessage({ cleartextMessage: armored });
  } catch (e) {
    throw new OcipatchError(
      "SIGNATURE",
      `${where}: not an OpenPGP signed message (${(e as Error).message})`,
      {
        cause: e,
      },
    );
  }
  const result = await (await openpgpLib()).verify({
    message,
    verificationKeys: keys.map((k) => k.key),
    ...(opts.date ? { date: opts.date } : {}),
  });
  const signer = await firstGoodSignature(result.signatures, keys, where);
  return { text: result.data, signer };
}

/** Verify a Release file against its detached signature (Release.gpg). */
export async function verifyDetachedRelease(
  release: Uint8Array,
  signature: Uint8Array,
  keys: readonly TrustedKey[],
  where: string,
  opts: VerifyOptions = {},
): Promise<VerifiedText> {
  if (keys.length === 0) throw new OcipatchError("SIGNATURE", `${where}: no trusted keys to verify it with`);
  let sig: openpgp.Signature;
  try {
    const head = Buffer.from(signature.subarray(0, 64)).toString("latin1");
    sig = head.includes("-----BEGIN PGP SIGNATURE-----")
      ? await (await openpgpLib()).readSignature({
          armoredSignature: Buffer.from(signature).toString("utf8"),
        })
      : await (await openpgpLib()).readSignature({ binarySignature: new Uint8Array(signature) });
  } catch (e) {
    throw new OcipatchError("SIGNATURE", `${where}: unreadable Release.gpg (${(e as Error).message})`, {
      cause: e,
    });
  }
  const message = await (await openpgpLib()).createMessage({ binary: new Uint8Array(release) });
  const result = await (await openpgpLib()).verify({
    message,
    signature: sig,
    verificationKeys: keys.map((k) => k.key),
    format: "binary",
    ...(opts.date ? { date: opts.date } : {}),
  });
  const signer = await firstGoodSignature(result.signatures, keys, where);
  return { text: Buffer.from(release).toString("utf8"), signer };
}
