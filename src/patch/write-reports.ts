import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../util/fs.js";
import type { PatchResult } from "./patch-image.js";
import { displayLocation, patchResultJson, scanJson } from "./summary.js";

/** File name stem for an image location: `nginx_1.22` from `docker.io/library/nginx:1.22`. */
export function reportStem(location: string): string {
  const s = displayLocation(location)
    .replace(/^(oci|docker-archive):/, "")
    .replace(/^docker\.io\/(library\/)?/, "")
    .replace(/@sha256:[0-9a-f]{12}[0-9a-f]*/, "")
    .replace(/[^A-Za-z0-9._-]+/g, "_")
    .replace(/^_+|_+$/g, "");
  return s || "image";
}

/** `-r/--report`: the before/after scans and the patch summary, written atomically. */
export async function writePatchReports(dir: string, result: PatchResult): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const stem = reportStem(result.source);
  const files: string[] = [];
  const many = result.platforms.length > 1;
  for (const p of result.platforms) {
    const plat = many ? `-${p.platform.replace(/\//g, "_")}` : "";
    for (const side of ["before", "after"] as const) {
      const text = scanJson(p, side);
      if (text === undefined) continue;
      const f = join(dir, `${stem}${plat}-${side}.json`);
      await writeFileAtomic(f, text);
      files.push(f);
    }
  }
  const f = join(dir, `${stem}-patch-report.json`);
  await writeFileAtomic(f, `${JSON.stringify(patchResultJson(result), null, 2)}\n`);
  files.push(f);
  return files;
}
