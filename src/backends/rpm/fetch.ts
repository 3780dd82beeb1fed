/**
 * Download planned .rpm files and verify each one before it is used: size and checksum from
 * primary.xml while it streams to disk, then (as `rpm -K`) the header digest, the payload digest
 * and, when its repository has `gpgcheck=1`, the OpenPGP header signature with that repository's
 * keys. Verified files are cached by their checksum (a cached file is verified again before reuse);
 * partial downloads have unique names and are removed on failure: nothing unverified is kept.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { isOcipatchError, OcipatchError } from "../../errors.js";
import { partialSibling } from "../../util/fs.js";
import { getWithRetries, retryableFailure } from "../../util/http/get.js";
import { redactUrl } from "../../util/http/redact.js";
import { discard } from "../../util/streams.js";
import { type FetchedOne, fetchPool } from "../fetch-pool.js";
import type { ArtifactDownload, FetchOutcome, FetchRequest } from "../types.js";
import { readRpmFile } from "./package/rpm-file.js";
import { verifyHeaderDigest, verifyPayloadDigest, verifyRpm } from "./package/verify.js";
import type { RpmKey } from "./repo/keys.js";
import type { RepoPackage } from "./repo/primary.js";
import { compareRpmVersions } from "./version.js";

const USER_AGENT = "ocipatch (rpm repository)";

/** How a package must be verified: the keys of its repository when it has gpgcheck=1. */
interface Trust {
  readonly gpgcheck: boolean;
  readonly keys: readonly RpmKey[];
  readonly repo: string;
}

/** Checksum ("sha256:hex") → the trust of the repository that listed it. Filled by planning. */
const trusted = new Map<string, Trust>();

/** Record how the packages of verified repositories are to be checked when fetched. */
export function trustRpmPackages(
  repos: ReadonlyArray<{
    readonly id: string;
    readonly gpgcheck: boolean;
    readonly keys: readonly RpmKey[];
    readonly packages: readonly RepoPackage[];
  }>,
): void {
  for (const r of repos) {
    const t: Trust = { gpgcheck: r.gpgcheck, keys: r.keys, repo: r.id };
    for (const p of r.packages) {
      const id = `${p.checksum.type}:${p.checksum.value}`;
      const prev = trusted.get(id);
      // the same file listed by two repositories: the stricter one decides
      if (!prev || (!prev.gpgcheck && t.gpgcheck)) trusted.set(id, t);
    }
  }
}

/** A planned .rpm the repository no longer has (HTTP 404/410). */
class RpmVanished extends OcipatchError {
  constructor(readonly item: ArtifactDownload) {
    super(
      "NOT_FOUND",
      `${item.package} ${item.version}: ${redactUrl(item.url)} is no longer in the repository (HTTP 404)`,
    );
  }
}

/** The item's checksum as (node hash name, hex). */
function checksumOf(item: ArtifactDownload): { type: string; value: string } {
  if (item.sha256) return { type: "sha256", value: item.sha256.toLowerCase() };
  const m = /^(sha1|sha224|sha384|sha512):([0-9a-f]{40,128})$/.exec(item.checksum ?? "");
  if (!m)
    throw new OcipatchError("INTERNAL", `${item.package} ${item.version}: no repository checksum to verify`);
  return { type: m[1]!, value: m[2]! };
}

async function fileHash(path: string, type: string): Promise<string> {
  const h = createHash(type);
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest("hex");
}

/** `rpm -K` of a file whose bytes already matched the repository's checksum. */
async function verifyPackage(
  path: string,
  item: ArtifactDownload,
  trust: Trust,
  shown: string,
): Promise<void> {
  try {
    const pkg = await readRpmFile(path);
    const h = pkg.header;
    const evr = `${h.epoch ? `${h.epoch}:` : ""}${h.version}-${h.release}`;
    if (h.name !== item.package || compareRpmVersions(evr, item.version) !== 0)
      throw new OcipatchError(
        "INVALID_FORMAT",
        `${path}: is ${h.name} ${evr}, the repository says ${item.package} ${item.version}`,
      );
    if (trust.gpgcheck) await verifyRpm(pkg, trust.keys);
    else {
      verifyHeaderDigest(pkg);
      await verifyPayloadDigest(pkg);
    }
  } catch (e) {
    if (!isOcipatchError(e)) throw e;
    // name the package, not the temporary file
    throw new OcipatchError(e.code, e.message.split(path).join(shown), { cause: e });
  }
}

/** Stream `item` to `part`, hashing and counting; a mismatch is DIGEST_MISMATCH, a broken connection retried. */
async function download(
  item: ArtifactDownload,
  part: string,
  signal: AbortSignal,
): Promise<number | "vanished"> {
  const sum = checksumOf(item);
  const shown = redactUrl(item.url);
  const r = await getWithRetries(item.url, { signal, userAgent: USER_AGENT }, async (body) => {
    const h = createHash(sum.type);
    let n = 0;
    const out = createWriteStream(part);
    try {
      await pipeline(
        body,
        async function* (src) {
          for await (const c of src) {
            const b = c as Buffer;
            n += b.length;
            if (n > item.size)
              throw new OcipatchError(
                "DIGEST_MISMATCH",
                `${item.package} ${item.version} (${shown}): larger than the ${item.size} bytes the repository gives`,
              );
            h.update(b);
            yield b;
          }
        },
        out,
      );
    } catch (e) {
      await discard(out); // the caller removes the part
      if (isOcipatchError(e)) throw e;
      throw retryableFailure(`GET ${shown}: connection broke after ${n} bytes`, e);
    }
    const digest = h.digest("hex");
    if (n !== item.size || digest !== sum.value)
      throw new OcipatchError(
        "DIGEST_MISMATCH",
        `${item.package} ${item.version} (${shown}): ${n} bytes with ${sum.type} ${digest.slice(0, 16)}…, the repository says ${item.size} bytes with ${sum.value.slice(0, 16)}…`,
      );
    return n;
  });
  if (r.kind === "not-found") return "vanished";
  if (r.kind !== "ok") throw new OcipatchError("NETWORK", `GET ${shown}: unexpected HTTP 304`);
  return r.value;
}

/** BackendPatcher.fetch for rpm: bounded parallel downloads, verified, cached by checksum. */
export function fetchRpms(items: readonly ArtifactDownload[], req: FetchRequest): Promise<FetchOutcome> {
  const fileOf = (item: ArtifactDownload) => `${checksumOf(item).value}.rpm`;
  return fetchPool(items, req, fileOf, async (item, file, signal): Promise<FetchedOne> => {
    const sum = checksumOf(item);
    const trust = trusted.get(`${sum.type}:${sum.value}`);
    if (!trust)
      throw new OcipatchError(
        "INTERNAL",
        `${item.package} ${item.version}: not from a verified rpm repository of this run`,
      );
    const shown = `${item.package} ${item.version} (${redactUrl(item.url)})`;
    const size = await stat(file).then(
      (s) => s.size,
      () => undefined,
    );
    if (size !== undefined) {
      try {
        if (size !== item.size || (await fileHash(file, sum.type)) !== sum.value)
          throw new OcipatchError("DIGEST_MISMATCH", `${file}: cached file does not match`);
        await verifyPackage(file, item, trust, file);
        return { kind: "cached" };
      } catch {
        await rm(file, { force: true });
      }
    }
    const part = partialSibling(file);
    try {
      const n = await download(item, part, signal);
      if (n === "vanished") return { kind: "vanished", error: new RpmVanished(item) };
      await verifyPackage(part, item, trust, shown);
      await rename(part, file);
      return { kind: "downloaded", bytes: n };
    } finally {
      await rm(part, { force: true }).catch(() => undefined);
    }
  });
}
