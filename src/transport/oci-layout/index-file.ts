import { join } from "node:path";
import { isOcipatchError } from "../../errors.js";
import { encodeJson, parseIndexManifest, parseJson } from "../../image/manifest.js";
import { withFileLock } from "../../util/file-lock.js";
import { DEFAULT_HOST_FILE_MAX_BYTES, readRegularFile } from "../../util/regular-file.js";
import { writeFileAtomic } from "../atomic-fs.js";
import { emptyLayoutIndex } from "./index-json.js";
import { INDEX_FILE, INDEX_LOCK } from "./layout.js";

type Json = Record<string, unknown>;

/**
 * The `index.json` of the layout at `root` as a document (an empty index when there is none);
 * `shown` names the layout in messages.
 */
export async function readIndexDocument(root: string, shown: string): Promise<Json> {
  const what = `${shown}/${INDEX_FILE}`;
  let raw: Buffer;
  try {
    raw = await readRegularFile(join(root, INDEX_FILE), DEFAULT_HOST_FILE_MAX_BYTES);
  } catch (e) {
    if (isOcipatchError(e, "NOT_FOUND")) return emptyLayoutIndex();
    throw e;
  }
  parseIndexManifest(raw, what);
  return parseJson(raw, what) as Json;
}

/**
 * Read-modify-write of `index.json` by every writer (image sink, referrers) under ONE lock
 * file, so that concurrent runs keep each other's entries; the new file replaces the old
 * atomically.
 */
export async function updateIndexDocument(
  root: string,
  shown: string,
  update: (doc: Json) => Json,
  signal?: AbortSignal | undefined,
): Promise<void> {
  await withFileLock(
    join(root, INDEX_LOCK),
    `${shown}/${INDEX_FILE}`,
    async () => {
      const doc = await readIndexDocument(root, shown);
      await writeFileAtomic(join(root, INDEX_FILE), encodeJson(update(doc)));
    },
    { signal },
  );
}
