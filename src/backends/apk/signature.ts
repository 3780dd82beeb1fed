/**
 * apk v2 signatures (apk-v2(5), apk-keys(5), abuild-sign): the first gzip member of a package
 * or APKINDEX.tar.gz is a tar segment of `.SIGN.<ALG>.<keyname>` files, each an RSA PKCS#1 v1.5
 * signature over the exact compressed bytes of the next member, made with the private key whose
 * public half is `/etc/apk/keys/<keyname>` (a PEM public key). `RSA` hashes with SHA-1,
 * `RSA256` with SHA-256, `RSA512` with SHA-512. One signature by one trusted key suffices.
 */
import { createPublicKey, type KeyObject, verify } from "node:crypto";
import { isOcipatchError, OcipatchError } from "../../errors.js";
import type { BackendFiles } from "../types.js";
import type { TarEntry } from "./archive.js";
import { APK_KEYS_DIR } from "./config.js";

export interface ApkTrustedKey {
  /** The key's file name (what `.SIGN.*.<name>` refers to). */
  readonly name: string;
  readonly key: KeyObject;
}

interface ApkSignature {
  readonly algorithm: "RSA" | "RSA256" | "RSA512" | "DSA";
  readonly keyName: string;
  readonly signature: Buffer;
}

const HASH: Record<ApkSignature["algorithm"], string | undefined> = {
  RSA: "sha1",
  RSA256: "sha256",
  RSA512: "sha512",
  DSA: undefined,
};

/** A trusted key from PEM text; a file that is not a public key → INVALID_FORMAT. */
export function parseApkKey(name: string, pem: Buffer | string, source: string): ApkTrustedKey {
  try {
    return { name, key: createPublicKey(pem) };
  } catch {
    throw new OcipatchError("INVALID_FORMAT", `${source}: not a PEM public key`);
  }
}

/** Keys in `/etc/apk/keys` (none when the directory is absent). */
export async function readApkKeys(fs: BackendFiles, dir: string = APK_KEYS_DIR): Promise<ApkTrustedKey[]> {
  const st = await fs.stat(dir);
  if (st?.type !== "directory") return [];
  const keys: ApkTrustedKey[] = [];
  for (const name of (await fs.readdir(dir)).sort()) {
    const path = `${dir}/${name}`;
    const e = await fs.stat(path);
    if (e?.type !== "file") continue;
    try {
      keys.push(parseApkKey(name, await fs.readFile(path), `${fs.description}: ${path}`));
    } catch (err) {
      if (!isOcipatchError(err, "NOT_FOUND")) throw err;
    }
  }
  return keys;
}

/** The `.SIGN.*` entries of a signature segment (other entries are ignored, as apk does). */
export function signaturesOf(entries: readonly TarEntry[]): ApkSignature[] {
  const out: ApkSignature[] = [];
  for (const e of entries) {
    const m = /^\.SIGN\.(RSA|RSA256|RSA512|DSA)\.(.+)$/.exec(e.name);
    if (!m || e.type !== "file") continue;
    out.push({ algorithm: m[1] as ApkSignature["algorithm"], keyName: m[2] as string, signature: e.data });
  }
  return out;
}

/**
 * Verify that one signature by a trusted key covers `signed`. Returns the key's name.
 * Unsigned, unknown key or a signature that does not verify → SIGNATURE (one line).
 */
export function verifyApkSignatures(
  signatures: readonly ApkSignature[],
  keys: readonly ApkTrustedKey[],
  signed: Buffer,
  source: string,
): string {
  if (signatures.length === 0)
    throw new OcipatchError("SIGNATURE", `${source}: not signed (no .SIGN.* entry)`);
  const failed: string[] = [];
  const unknown: string[] = [];
  for (const s of signatures) {
    const hash = HASH[s.algorithm];
    const key = keys.find((k) => k.name === s.keyName);
    if (!key || !hash) {
      unknown.push(`${s.algorithm}.${s.keyName}`);
      continue;
    }
    let ok = false;
    try {
      ok = verify(hash, signed, key.key, s.signature);
    } catch {
      ok = false;
    }
    if (ok) return key.name;
    failed.push(`${s.algorithm}.${s.keyName}`);
  }
  if (failed.length > 0)
    throw new OcipatchError("SIGNATURE", `${source}: signature ${failed.join(", ")} does not verify`);
  throw new OcipatchError(
    "SIGNATURE",
    `${source}: signed by unknown key ${unknown.join(", ")} (trusted: ${keys.map((k) => k.name).join(", ") || "none"})`,
  );
}
