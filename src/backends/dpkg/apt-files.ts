import { isOcipatchError, OcipatchError, undefinedIfNotFound } from "../../errors.js";
import type { LayeredFs } from "../../rootfs/index.js";
import { isDefaultKeyringPath, type KeyringFiles } from "./apt/keyring.js";
import type { SourceFile } from "./apt/sources.js";
import { APT_FILE_LOCATIONS } from "./plan/plan-for-image.js";

const SOURCE_FILE = /\.(list|sources)$/;

/** The image's apt sources and keyrings (see APT_FILE_LOCATIONS), read through its layers. */
export async function readAptFiles(
  fs: LayeredFs,
): Promise<{ sources: SourceFile[]; keyrings: SourceFile[] }> {
  const read = async (locations: readonly string[], accept: (name: string) => boolean) => {
    const out: SourceFile[] = [];
    for (const loc of locations) {
      if (loc.endsWith("/")) {
        const dir = loc.slice(0, -1);
        const st = await fs.stat(dir).catch(undefinedIfNotFound);
        if (st?.type !== "directory") continue;
        for (const name of (await fs.readdir(dir)).sort()) {
          if (!accept(name)) continue;
          const path = `${dir}/${name}`;
          const e = await fs.stat(path).catch(undefinedIfNotFound);
          if (e?.type !== "file") continue;
          out.push({ path, content: await fs.readFile(path, { maxBytes: IMAGE_KEYRING_MAX_BYTES }) });
        }
      } else {
        const e = await fs.stat(loc).catch(undefinedIfNotFound);
        if (e?.type === "file")
          out.push({ path: loc, content: await fs.readFile(loc, { maxBytes: IMAGE_KEYRING_MAX_BYTES }) });
      }
    }
    return out;
  };
  return {
    sources: await read(APT_FILE_LOCATIONS.sources, (n) => SOURCE_FILE.test(n)),
    keyrings: await read(APT_FILE_LOCATIONS.keyrings, () => true),
  };
}

/** Largest apt source or keyring file read from an image (they are a few KiB). */
const IMAGE_KEYRING_MAX_BYTES = 16 * 1024 * 1024;

/**
 * The image's keyrings for the TrustStore: any path a `Signed-By` names is resolved inside the
 * image's filesystem view only (its symlinks stay inside the image root), must be a regular file
 * and at most IMAGE_KEYRING_MAX_BYTES. `defaults` are the already read files apt trusts by default.
 */
export function imageKeyringFiles(fs: LayeredFs, keyrings: readonly SourceFile[]): KeyringFiles {
  const description = "the image";
  return {
    description,
    async get(path) {
      const st = await fs.stat(path).catch((e: unknown) => {
        if (isOcipatchError(e, "NOT_FOUND")) return undefined;
        throw e;
      });
      if (st === undefined) return undefined;
      if (st.type !== "file") {
        throw new OcipatchError(
          "SIGNATURE",
          `keyring ${path} in ${description} is a ${st.type}, not a regular file`,
          { details: { path } },
        );
      }
      if (st.size > IMAGE_KEYRING_MAX_BYTES) {
        throw new OcipatchError(
          "SIGNATURE",
          `keyring ${path} in ${description} is ${st.size} bytes, more than the ${IMAGE_KEYRING_MAX_BYTES} bytes allowed`,
          { details: { path } },
        );
      }
      return fs.readFile(path, { maxBytes: IMAGE_KEYRING_MAX_BYTES });
    },
    async defaults() {
      return keyrings.filter((f) => isDefaultKeyringPath(f.path)).sort((a, b) => (a.path < b.path ? -1 : 1));
    },
  };
}
