import type { LayeredFs } from "../../../rootfs/index.js";
import { MAINTAINER_SCRIPTS, type MaintainerScriptName } from "../deb/index.js";
import { DPKG_INFO_DIR } from "../dpkg-db/index.js";

/** The installed version's maintainer scripts, as dpkg keeps them in /var/lib/dpkg/info. */
export async function installedScripts(
  fs: LayeredFs,
  infoListing: readonly string[],
  base: string,
): Promise<Partial<Record<MaintainerScriptName, Buffer>>> {
  const have = new Set(infoListing);
  const out: Partial<Record<MaintainerScriptName, Buffer>> = {};
  for (const s of MAINTAINER_SCRIPTS) {
    const p = `${DPKG_INFO_DIR}/${base}.${s}`;
    if (have.has(p)) out[s] = await fs.readFile(`/${p}`);
  }
  return out;
}
