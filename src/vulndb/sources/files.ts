import { open, readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import yauzl from "yauzl";
import { OcipatchError } from "../../errors.js";
import { readAll } from "../../util/streams.js";

/** A JSON document found in a feed input (a file, a file in a directory, a zip entry). */
interface JsonDocument {
  /** Name for messages (file or entry name). */
  readonly name: string;
  /** Parsed JSON, or the parse error when the document is not JSON. */
  readonly value?: unknown;
  readonly error?: string;
}

/** Largest single JSON document read into memory (one OSV record or one secdb file). */
const MAX_DOCUMENT = 64 * 1024 * 1024;

async function isZip(path: string): Promise<boolean> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(4);
    const { bytesRead } = await fh.read(buf, 0, 4, 0);
    return bytesRead === 4 && buf.readUInt32LE(0) === 0x04034b50;
  } finally {
    await fh.close();
  }
}

function parseJson(name: string, text: string): JsonDocument {
  try {
    return { name, value: JSON.parse(text) };
  } catch (e) {
    return { name, error: (e as Error).message };
  }
}

async function* walk(dir: string, prefix = ""): AsyncGenerator<string> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) yield* walk(join(dir, e.name), rel);
    else if (e.isFile() && e.name.endsWith(".json")) yield rel;
  }
}

function openZip(path: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true, autoClose: true, validateEntrySizes: true }, (err, zip) => {
      if (err || !zip) reject(err ?? new Error("cannot open zip"));
      else resolve(zip);
    });
  });
}

async function* zipEntries(path: string, what: string): AsyncGenerator<JsonDocument> {
  let zip: yauzl.ZipFile;
  try {
    zip = await openZip(path);
  } catch (e) {
    throw new OcipatchError(
      "INVALID_FORMAT",
      `${what}: not a readable zip archive: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  try {
    for (;;) {
      const entry = await new Promise<yauzl.Entry | undefined>((resolve, reject) => {
        const onEntry = (en: yauzl.Entry): void => {
          cleanup();
          resolve(en);
        };
        const onEnd = (): void => {
          cleanup();
          resolve(undefined);
        };
        const onError = (err: Error): void => {
          cleanup();
          reject(err);
        };
        const cleanup = (): void => {
          zip.off("entry", onEntry);
          zip.off("end", onEnd);
          zip.off("error", onError);
        };
        zip.on("entry", onEntry);
        zip.on("end", onEnd);
        zip.on("error", onError);
        zip.readEntry();
      });
      if (!entry) return;
      if (entry.fileName.endsWith("/") || !entry.fileName.endsWith(".json")) continue;
      if (entry.uncompressedSize > MAX_DOCUMENT) {
        yield { name: entry.fileName, error: `entry larger than ${MAX_DOCUMENT} bytes` };
        continue;
      }
      const stream = await new Promise<import("node:stream").Readable>((resolve, reject) =>
        zip.openReadStream(entry, (err, s) =>
          err || !s ? reject(err ?? new Error("no stream")) : resolve(s),
        ),
      );
      const buf = await readAll(stream, MAX_DOCUMENT);
      yield parseJson(entry.fileName, buf.toString("utf8"));
    }
  } catch (e) {
    if (e instanceof OcipatchError) throw e;
    throw new OcipatchError("INVALID_FORMAT", `${what}: corrupt zip archive: ${(e as Error).message}`, {
      cause: e,
    });
  } finally {
    zip.close();
  }
}

/**
 * Every JSON document of a feed input: a zip archive (entries `*.json`), a
 * directory (files `*.json`, recursively, in name order) or a single JSON file.
 * A document that is not JSON is yielded with `error` (the caller skips and
 * counts it); an unreadable archive throws.
 */
export async function* jsonDocuments(path: string, what: string): AsyncGenerator<JsonDocument> {
  const st = await stat(path);
  if (st.isDirectory()) {
    for await (const rel of walk(path)) {
      yield parseJson(rel, await readFile(join(path, rel), "utf8"));
    }
    return;
  }
  if (await isZip(path)) {
    yield* zipEntries(path, what);
    return;
  }
  if (st.size > MAX_DOCUMENT) {
    throw new OcipatchError("INVALID_FORMAT", `${what}: JSON document larger than ${MAX_DOCUMENT} bytes`);
  }
  const doc = parseJson(path, await readFile(path, "utf8"));
  if (doc.error) throw new OcipatchError("INVALID_FORMAT", `${what}: invalid JSON: ${doc.error}`);
  yield doc;
}
