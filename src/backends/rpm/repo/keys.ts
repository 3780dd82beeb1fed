import type * as openpgp from "openpgp";
import { OcipatchError } from "../../../errors.js";
import { openpgpLib } from "../../../util/openpgp.js";

/** An OpenPGP public key a repository names (`gpgkey=`), with where it came from. */
export interface RpmKey {
  readonly key: openpgp.Key;
  /** Primary key fingerprint, upper-case hex. */
  readonly fingerprint: string;
  /** Fingerprints of the primary key and its subkeys (any of them may sign). */
  readonly allFingerprints: readonly string[];
  readonly userId: string;
  readonly origin: string;
}

const ARMOR_HEADER = "-----BEGIN PGP PUBLIC KEY BLOCK-----";

/**
 * The public keys of a key file as RPM distributions ship them (`/etc/pki/rpm-gpg/RPM-GPG-KEY-*`:
 * one or several ASCII-armored blocks, or binary). A file without a key is an error.
 */
export async function readRpmKeys(content: Uint8Array, origin: string): Promise<RpmKey[]> {
  const bytes = Buffer.from(content);
  let keys: openpgp.Key[] = [];
  try {
    if (bytes.subarray(0, 4096).toString("latin1").includes(ARMOR_HEADER)) {
      for (const block of bytes.toString("utf8").split(ARMOR_HEADER).slice(1))
        keys.push(...(await (await openpgpLib()).readKeys({ armoredKeys: ARMOR_HEADER + block })));
    } else if (bytes.length > 0) {
      keys = await (await openpgpLib()).readKeys({ binaryKeys: new Uint8Array(bytes) });
    }
  } catch (e) {
    throw new OcipatchError("SIGNATURE", `cannot read OpenPGP keys from ${origin}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (keys.length === 0) throw new OcipatchError("SIGNATURE", `${origin}: holds no OpenPGP public key`);
  return keys.map((key) => {
    const fingerprint = key.getFingerprint().toUpperCase();
    return {
      key,
      fingerprint,
      allFingerprints: [fingerprint, ...key.getSubkeys().map((s) => s.getFingerprint().toUpperCase())],
      userId: key.getUserIDs()[0] ?? "",
      origin,
    };
  });
}
