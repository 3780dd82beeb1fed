/** Push a test image to a (loopback, plain-HTTP) test registry with skopeo. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "./exec.js";
import { withTempDir } from "./fs.js";
import { type RegistryCreds, skopeoFlags } from "./skopeo.js";

export interface PushedImage {
  /** host/repo:tag */
  readonly ref: string;
  /** digest of the pushed manifest (or index) */
  readonly digest: string;
  /** host/repo@digest */
  readonly pinned: string;
}

/**
 * skopeo copy --all --preserve-digests of image (TestImage or anything with an ociRef) to
 * `registryHost/repoTag`; returns the reference and the registry's digest.
 */
export async function pushImage(
  image: { readonly ociRef: string },
  registryHost: string,
  repoTag: string,
  creds?: RegistryCreds,
): Promise<PushedImage> {
  const ref = `${registryHost}/${repoTag}`;
  const dest = `docker://${ref}`;
  const digest = await withTempDir("push", async (tmp) => {
    const digestFile = join(tmp, "digest");
    await run("skopeo", [
      "copy",
      "-q",
      "--all",
      "--preserve-digests",
      "--digestfile",
      digestFile,
      ...skopeoFlags("dest", dest, creds),
      image.ociRef,
      dest,
    ]);
    return readFileSync(digestFile, "utf8").trim();
  });
  const repo = repoTag.replace(/:[^:/]+$/, "").replace(/@.*$/, "");
  return { ref, digest, pinned: `${registryHost}/${repo}@${digest}` };
}
