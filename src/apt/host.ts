import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { isDefaultKeyringPath, type KeyringFiles } from "./keyring.js";
import type { HostAptSources } from "./repositories.js";
import type { SourceFile } from "./sources.js";

/**
 * The machine ocipatch runs on: its apt sources and keyrings are the fallback for images
 * that ship none (distroless), used only when the host runs the same distribution.
 * `root` lets tests point at a directory laid out like `/`.
 */
async function readIf(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch {
    return undefined;
  }
}

async function list(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}

function osReleaseField(text: string, key: string): string | undefined {
  const m = new RegExp(`^${key}=(.*)$`, "m").exec(text);
  return m ? m[1]!.trim().replace(/^["']|["']$/g, "") : undefined;
}

export async function readHostAptSources(root = "/"): Promise<HostAptSources | undefined> {
  const osr =
    (await readIf(join(root, "etc/os-release"))) ?? (await readIf(join(root, "usr/lib/os-release")));
  if (!osr) return undefined;
  const text = osr.toString("utf8");
  const id = osReleaseField(text, "ID");
  if (!id) return undefined;
  const sources: SourceFile[] = [];
  const main = await readIf(join(root, "etc/apt/sources.list"));
  if (main) sources.push({ path: "/etc/apt/sources.list", content: main });
  for (const f of await list(join(root, "etc/apt/sources.list.d"))) {
    if (!f.endsWith(".list") && !f.endsWith(".sources")) continue;
    const c = await readIf(join(root, "etc/apt/sources.list.d", f));
    if (c) sources.push({ path: `/etc/apt/sources.list.d/${f}`, content: c });
  }
  return { sources, os: { id, codename: osReleaseField(text, "VERSION_CODENAME") } };
}

/** The host's keyrings as a KeyringFiles (any path readable; defaults as apt's). */
export function hostKeyringFiles(root = "/"): KeyringFiles {
  return {
    description: "the host",
    async get(path) {
      return readIf(join(root, path));
    },
    async defaults() {
      const out: SourceFile[] = [];
      const add = async (p: string): Promise<void> => {
        if (!isDefaultKeyringPath(p)) return;
        const c = await readIf(join(root, p));
        if (c) out.push({ path: p, content: c });
      };
      await add("/etc/apt/trusted.gpg");
      for (const f of await list(join(root, "etc/apt/trusted.gpg.d")))
        await add(`/etc/apt/trusted.gpg.d/${f}`);
      for (const f of await list(join(root, "usr/share/keyrings"))) await add(`/usr/share/keyrings/${f}`);
      return out;
    },
  };
}
