/** `/lib/apk/db/scripts.tar`: apk's store of installed packages' scripts (a plain tarball). */
import tar from "tar-stream";

interface ScriptsTarEntry {
  /** `<name>-<version>.<Q1 checksum>.<script type>` (apk-tools src/database.c). */
  readonly name: string;
  readonly data: Buffer;
  readonly mode: number;
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
        { name: e.name, mode: e.mode, mtime, size: e.data.length, uname: "root", gname: "root" },
        e.data,
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}
