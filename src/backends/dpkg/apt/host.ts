import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { isOcipatchError } from "../../../errors.js";
import { readRegularFile } from "../../../util/regular-file.js";
import { isDefaultKeyringPath, type KeyringFiles } from "./keyring.js";
import type { HostAptSources } from "./repositories.js";
import type { SourceFile } from "./sources.js";

/**
 * The machine ocipatch runs on: its apt sources and keyrings are the fallback for images
 * that ship none (distroless), used only when the host runs the same distribution.
 * `root` lets tests point at a directory laid out like `/`.
 * Files are read as bounded regular files (a FIFO or device there is an error, not a hang).
 */

/** Largest host apt file read (sources, keyrings, os-release). */
const HOST_APT_FILE_MAX_BYTES = 16 * 1024 * 1024;

async function readIf(path: string, what: string): Promise<Buffer | undefined> {
  try {
    return await readRegularFile(path, HOST_APT_FILE_MAX_BYTES, { what: `host ${what}` });
  } catch (e) {
    if (isOcipatchError(e, "NOT_FOUND")) return undefined;
    throw e;
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
    (await readIf(join(root, "etc/os-release"), "file")) ??
    (await readIf(join(root, "usr/lib/os-release"), "file"));
  if (!osr) return undefined;
  const text = osr.toString("utf8");
  const id = osReleaseField(text, "ID");
  if (!id) return undefined;
  const sources: SourceFile[] = [];
  const main = await readIf(join(root, "etc/apt/sources.list"), "apt source");
  if (main) sources.push({ path: "/etc/apt/sources.list", content: main });
  for (const f of await list(join(root, "etc/apt/sources.list.d"))) {
    if (!f.endsWith(".list") && !f.endsWith(".sources")) continue;
    const c = await readIf(join(root, "etc/apt/sources.list.d", f), "apt source");
    if (c) sources.push({ path: `/etc/apt/sources.list.d/${f}`, content: c });
  }
  return { sources, os: { id, codename: osReleaseField(text, "VERSION_CODENAME") } };
}

/** The host's keyrings as a KeyringFiles (any path readable; defaults as apt's). */
export function hostKeyringFiles(root = "/"): KeyringFiles {
  return {
    description: "the host",
    async get(path) {
      return readIf(join(root, path), "keyring");
    },
    async defaults() {
      const out: SourceFile[] = [];
      const add = async (p: string): Promise<void> => {
        if (!isDefaultKeyringPath(p)) return;
        const c = await readIf(join(root, p), "keyring");
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
