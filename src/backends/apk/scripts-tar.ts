/**
 * `/lib/apk/db/scripts.tar`: apk's store of installed packages' scripts (a plain tarball;
 * apk-tools 3 keeps it gzipped as `scripts.tar.gz` when no `scripts.tar` exists).
 */
import tar from "tar-stream";

/** apk's script types (control member `.<type>`), in apk_script_types order (apk-tools src/database.c). */
export const APK_SCRIPT_TYPES = [
  "pre-install",
  "post-install",
  "pre-deinstall",
  "post-deinstall",
  "pre-upgrade",
  "post-upgrade",
  "trigger",
] as const;

interface ScriptsTarEntry {
  /**
   * `<name>-<version>.<identity>.<script type>` (apk-tools src/database.c apk_db_scriptdb_write):
   * the identity is the `Q1` checksum for apk-tools 2, `X1` + hex for apk-tools 3.
   */
  readonly name: string;
  readonly data: Buffer;
  readonly mode: number;
  /** The entry's own time (apk-tools 3: the package's build time); else the archive's. */
  readonly mtime?: Date;
}

export async function writeScriptsTar(entries: readonly ScriptsTarEntry[], mtime: Date): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on("data", (c: unknown) => {
      chunks.push(c as Buffer);
    });
    pack.on("end", resolve);
    pack.on("error", reject);
  });
  for (const e of entries) {
    await new Promise<void>((resolve, reject) =>
      pack.entry(
        {
          name: e.name,
          mode: e.mode,
          mtime: e.mtime ?? mtime,
          size: e.data.length,
          uname: "root",
          gname: "root",
        },
        e.data,
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}
