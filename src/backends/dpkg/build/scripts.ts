import type { LayeredFs } from "../../../rootfs/index.js";
import type { ScriptReport } from "../../types.js";
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

/**
 * One report for the whole patch: a single package's own report, or, for
 * several, the union of their findings under the packages' names (the
 * per-package reports are in `scriptReports`).
 */
export function combineScriptReports(reports: readonly ScriptReport[]): ScriptReport {
  if (reports.length === 1) return reports[0]!;
  return {
    package: reports.map((r) => r.package).join(", "),
    fromVersion: reports.map((r) => r.fromVersion).join(", "),
    toVersion: reports.map((r) => r.toVersion).join(", "),
    wouldHaveDoneSomething: reports.some((r) => r.wouldHaveDoneSomething),
    findings: reports.flatMap((r) => r.findings),
    kinds: [...new Set(reports.flatMap((r) => r.kinds))],
  };
}
