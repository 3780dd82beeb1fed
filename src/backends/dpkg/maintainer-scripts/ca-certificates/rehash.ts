import { OcipatchError } from "../../../../errors.js";
import { pemBlocks } from "../x509/pem.js";
import { certificateInfo } from "../x509/subject-hash.js";
import type { CertsDir } from "./certs-dir.js";
import { byteCompare } from "./conf.js";

/*
 * `openssl rehash DIR` (OpenSSL 1.1.1 and 3.x apps/rehash.c), reproduced on a
 * CertsDir: files are read in byte order of their names; an existing link
 * named HHHHHHHH.N (or .rN for CRLs) is kept when its number is still needed
 * for the same target; every other certificate of a hash gets the lowest free
 * number; links no longer needed are removed; a certificate whose SHA-1
 * fingerprint was already seen under the same hash is skipped as a duplicate.
 */

const MAX_COLLISIONS = 256;
const EXTENSIONS = new Set(["pem", "crt", "cer", "crl"]);
const CERT_LABELS = new Set(["CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE"]);

interface HashEntry {
  filename: string;
  oldId: number;
  needSymlink: boolean;
  digest: string | undefined;
}

interface Bucket {
  readonly hash: string;
  readonly entries: HashEntry[];
  numNeeded: number;
}

const NO_ID = 0xffff;

function addEntry(
  buckets: Map<string, Bucket>,
  hash: string,
  filename: string,
  digest: string | undefined,
  needSymlink: boolean,
  oldId: number,
): void {
  let bp = buckets.get(hash);
  if (!bp) {
    bp = { hash, entries: [], numNeeded: 0 };
    buckets.set(hash, bp);
  }
  let found: HashEntry | undefined;
  for (const ep of bp.entries) {
    if (digest !== undefined && ep.digest === digest) return; // duplicate certificate
    if (ep.filename === filename) {
      found = ep;
      if (digest === undefined) break;
    }
  }
  let ep = found;
  if (!ep) {
    if (bp.numNeeded >= MAX_COLLISIONS) return;
    ep = { filename, oldId: NO_ID, needSymlink: false, digest: undefined };
    bp.entries.push(ep);
  }
  if (oldId < ep.oldId) ep.oldId = oldId;
  if (needSymlink && !ep.needSymlink) {
    ep.needSymlink = true;
    bp.numNeeded++;
    ep.digest = digest;
  }
}

const LINK_NAME = /^([0-9a-fA-F]{8})\.(r?)([0-9]+)$/i;

/** The certificate a file holds, or undefined when rehash would skip it. */
function certificateOf(content: Buffer, name: string): { hash: string; digest: string } | undefined {
  const blocks = pemBlocks(content.toString("latin1"));
  if (blocks.length !== 1) return undefined; // "does not contain exactly one certificate or CRL"
  const b = blocks[0]!;
  if (!CERT_LABELS.has(b.label)) {
    throw new OcipatchError(
      "UNSUPPORTED",
      `/etc/ssl/certs/${name}: a ${b.label} PEM block is not reproduced by the native rehash`,
    );
  }
  const info = certificateInfo(b.der);
  return { hash: info.subjectHash, digest: info.fingerprint };
}

/** Apply `openssl rehash` to the directory model. */
export async function rehash(dir: CertsDir): Promise<void> {
  const buckets = new Map<string, Bucket>();
  const names = [...dir.entries.keys()].sort(byteCompare);
  for (const name of names) {
    const e = dir.entries.get(name)!;
    if (e.kind === "symlink") {
      const m = LINK_NAME.exec(name);
      if (m) {
        if (m[2]) {
          throw new OcipatchError("UNSUPPORTED", `/etc/ssl/certs/${name}: CRL hash links are not reproduced`);
        }
        addEntry(buckets, m[1]!.toLowerCase(), e.target, undefined, false, Number(m[3]) & 0xffff);
        continue;
      }
    }
    const dot = name.lastIndexOf(".");
    if (dot < 0 || !EXTENSIONS.has(name.slice(dot + 1).toLowerCase())) continue;
    if (name.slice(dot + 1).toLowerCase() === "crl") {
      throw new OcipatchError("UNSUPPORTED", `/etc/ssl/certs/${name}: CRLs are not reproduced`);
    }
    if (e.kind === "directory" || e.kind === "other") continue;
    const content = await dir.regularContent(name);
    if (content === undefined) continue;
    const cert = certificateOf(content, name);
    if (cert) addEntry(buckets, cert.hash, name, cert.digest, true, NO_ID);
  }
  for (const bp of buckets.values()) {
    const used = new Set<number>();
    for (const ep of bp.entries) if (ep.oldId < bp.numNeeded) used.add(ep.oldId);
    let nextId = 0;
    for (const ep of bp.entries) {
      if (ep.oldId < bp.numNeeded) continue; // the link exists and is kept
      if (ep.needSymlink) {
        while (used.has(nextId)) nextId++;
        dir.unlink(`${bp.hash}.${nextId}`);
        dir.symlink(`${bp.hash}.${nextId}`, ep.filename);
        used.add(nextId);
      } else {
        dir.unlink(`${bp.hash}.${ep.oldId}`);
      }
    }
  }
}
