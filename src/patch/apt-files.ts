import type { SourceFile } from "../apt/sources.js";
import { APT_FILE_LOCATIONS } from "../plan/plan-for-image.js";
import type { LayeredFs } from "../rootfs/index.js";

/** Capture patterns so the apt files are kept in memory when the layers are indexed. */
export const APT_CAPTURE_PATTERNS: readonly string[] = ["etc/apt/**", "usr/share/keyrings/**"];

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
        const st = await fs.stat(dir).catch(() => undefined);
        if (st?.type !== "directory") continue;
        for (const name of (await fs.readdir(dir)).sort()) {
          if (!accept(name)) continue;
          const path = `${dir}/${name}`;
          const e = await fs.stat(path).catch(() => undefined);
          if (e?.type !== "file") continue;
          out.push({ path, content: await fs.readFile(path) });
        }
      } else {
        const e = await fs.stat(loc).catch(() => undefined);
        if (e?.type === "file") out.push({ path: loc, content: await fs.readFile(loc) });
      }
    }
    return out;
  };
  return {
    sources: await read(APT_FILE_LOCATIONS.sources, (n) => SOURCE_FILE.test(n)),
    keyrings: await read(APT_FILE_LOCATIONS.keyrings, () => true),
  };
}
