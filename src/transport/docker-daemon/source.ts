import { OcipatchError } from "../../errors.js";
import type { Image } from "../../image/image.js";
import { familiarReference, type Reference } from "../../reference/index.js";
import { openDockerArchive } from "../docker-archive/source.js";
import { connectEngine, type EngineClient, type EngineClientOptions } from "./client.js";
import { spoolToTempFile } from "./spool.js";

/** The name the engine knows an image by: `nginx:1.22`, `host:5000/app:v1`, `app@sha256:…`. */
export function engineImageName(ref: Reference): string {
  return familiarReference(ref);
}

/**
 * Open an image of the local engine store (`docker-daemon:REF`): the engine's export
 * (`GET /images/{name}/get`, a `docker save` tar) is saved once to an unlinked
 * temporary file and indexed like a docker archive; blobs are then read as byte
 * ranges of it and their digests checked by the image model.
 */
export async function openDockerDaemonImage(
  ref: Reference,
  opts: EngineClientOptions & { client?: EngineClient | undefined } = {},
): Promise<Image> {
  const client = opts.client ?? (await connectEngine(opts));
  const name = engineImageName(ref);
  try {
    const body = await client.exportImage(name, opts.signal);
    let spool: Awaited<ReturnType<typeof spoolToTempFile>>;
    try {
      spool = await spoolToTempFile(body, { dir: opts.env?.["TMPDIR"], signal: opts.signal });
    } catch (e) {
      if (e instanceof OcipatchError) throw e;
      throw client.unreachable(e);
    }
    return await openDockerArchive(spool.path, undefined, { description: `docker-daemon:${name}` });
  } finally {
    if (!opts.client) await client.close();
  }
}
