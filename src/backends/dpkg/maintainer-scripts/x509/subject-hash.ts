import { createHash } from "node:crypto";
import { OcipatchError } from "../../../../errors.js";
import { children, encodeTlv, readTlv, type Tlv } from "./der.js";

/*
 * OpenSSL's X509_NAME_hash (the name of the hash links in /etc/ssl/certs):
 * SHA-1 of the name's canonical encoding, first 4 bytes as a little-endian
 * number, printed as %08x. The canonical encoding (x509_name_canon) is the
 * concatenation of the DER of every RDN SET, without the outer SEQUENCE, where
 * each string value of a "canonicalisable" type is converted to UTF-8, stripped
 * of leading and trailing white space, inner runs of white space collapsed to
 * one space, ASCII upper case folded to lower case, and re-encoded as a
 * UTF8String. Other values (NumericString, bit strings...) are kept as they are.
 */

const UTF8 = 0x0c;
const PRINTABLE = 0x13;
const T61 = 0x14;
const IA5 = 0x16;
const UNIVERSAL = 0x1c;
const BMP = 0x1e;
const VISIBLE = 0x1a;
/** ASN1_MASK_CANON: the string types that are canonicalised. */
const CANON_TYPES = new Set([UTF8, PRINTABLE, T61, IA5, UNIVERSAL, BMP, VISIBLE]);

const SET = 0x31;
const SEQUENCE = 0x30;

function bad(what: string): OcipatchError {
  return new OcipatchError("INVALID_FORMAT", `certificate: ${what}`);
}

/** ASN1_STRING_to_UTF8 for the canonicalisable types. */
function toUtf8(tag: number, v: Uint8Array): Buffer {
  switch (tag) {
    case UTF8: {
      const s = Buffer.from(v).toString("utf8");
      if (!Buffer.from(s, "utf8").equals(Buffer.from(v))) throw bad("invalid UTF8String in a name");
      return Buffer.from(v);
    }
    case BMP: {
      if (v.length % 2) throw bad("odd-length BMPString");
      const cps: number[] = [];
      for (let i = 0; i < v.length; i += 2) cps.push((v[i]! << 8) | v[i + 1]!);
      return Buffer.from(String.fromCodePoint(...cps), "utf8");
    }
    case UNIVERSAL: {
      if (v.length % 4) throw bad("bad UniversalString length");
      const cps: number[] = [];
      for (let i = 0; i < v.length; i += 4)
        cps.push(((v[i]! << 24) | (v[i + 1]! << 16) | (v[i + 2]! << 8) | v[i + 3]!) >>> 0);
      return Buffer.from(String.fromCodePoint(...cps), "utf8");
    }
    default:
      // PrintableString, T61String, IA5String, VisibleString: one byte per character (Latin-1)
      return Buffer.from(Buffer.from(v).toString("latin1"), "utf8");
  }
}

/** ossl_isspace: space, \t, \n, \v, \f, \r. */
function isSpace(b: number): boolean {
  return b === 0x20 || (b >= 0x09 && b <= 0x0d);
}

/** asn1_string_canon on UTF-8 bytes. */
function canonicalValue(utf8: Uint8Array): Buffer {
  let from = 0;
  let to = utf8.length;
  while (from < to && isSpace(utf8[from]!)) from++;
  while (to > from && isSpace(utf8[to - 1]!)) to--;
  const out: number[] = [];
  let i = from;
  while (i < to) {
    const c = utf8[i]!;
    if (c & 0x80) {
      out.push(c);
      i++;
    } else if (isSpace(c)) {
      out.push(0x20);
      while (i < to && isSpace(utf8[i]!)) i++;
    } else {
      out.push(c >= 0x41 && c <= 0x5a ? c + 0x20 : c);
      i++;
    }
  }
  return Buffer.from(out);
}

/** DER comparison used to order the members of a SET OF (shorter first on a common prefix). */
function derCompare(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  const c = Buffer.compare(a.subarray(0, n), b.subarray(0, n));
  return c !== 0 ? c : a.length - b.length;
}

/** The canonical encoding of a Name given as its DER TLV inside `der`. */
function canonicalName(der: Uint8Array, name: Tlv): Buffer {
  if (name.tag !== SEQUENCE) throw bad("a Name is not a SEQUENCE");
  const sets: Buffer[] = [];
  for (const rdn of children(der, name)) {
    if (rdn.tag !== SET) throw bad("an RDN is not a SET");
    const entries: Buffer[] = [];
    for (const atv of children(der, rdn)) {
      if (atv.tag !== SEQUENCE) throw bad("an attribute is not a SEQUENCE");
      const [oid, value, ...rest] = children(der, atv);
      if (!oid || !value || rest.length > 0 || oid.tag !== 0x06) throw bad("malformed attribute");
      const oidDer = Buffer.from(der.subarray(oid.start, oid.end));
      const raw = der.subarray(value.valueStart, value.end);
      const valDer = CANON_TYPES.has(value.tag)
        ? encodeTlv(UTF8, canonicalValue(toUtf8(value.tag, raw)))
        : Buffer.from(der.subarray(value.start, value.end));
      entries.push(encodeTlv(SEQUENCE, Buffer.concat([oidDer, valDer])));
    }
    entries.sort(derCompare);
    sets.push(encodeTlv(SET, Buffer.concat(entries)));
  }
  return Buffer.concat(sets);
}

/** X509_NAME_hash of a Name's DER TLV, as the 8 hex digits OpenSSL prints. */
function nameHash(der: Uint8Array, name: Tlv): string {
  const sha1 = createHash("sha1").update(canonicalName(der, name)).digest();
  return sha1.readUInt32LE(0).toString(16).padStart(8, "0");
}

/** What rehash needs of one certificate. */
interface CertificateInfo {
  /** `openssl x509 -hash` of the certificate: its subject name hash. */
  readonly subjectHash: string;
  /** SHA-1 fingerprint of the certificate's DER (duplicates are detected by it). */
  readonly fingerprint: string;
}

/**
 * Subject hash and fingerprint of a DER certificate (a `TRUSTED CERTIFICATE`
 * body may carry trust settings after the certificate: they are ignored).
 */
export function certificateInfo(der: Uint8Array): CertificateInfo {
  const cert = readTlv(der, 0);
  if (cert.tag !== SEQUENCE) throw bad("not a SEQUENCE");
  const [tbs] = children(der, cert);
  if (!tbs || tbs.tag !== SEQUENCE) throw bad("no TBSCertificate");
  const fields = children(der, tbs);
  // [0] version is optional; then serial, signature, issuer, validity, subject
  const off = fields[0]?.tag === 0xa0 ? 1 : 0;
  const subject = fields[off + 4];
  if (!subject) throw bad("no subject");
  return {
    subjectHash: nameHash(der, subject),
    fingerprint: createHash("sha1").update(der.subarray(cert.start, cert.end)).digest("hex"),
  };
}
