import { OcipatchError } from "../errors.js";
import type { Inventory } from "../inventory/types.js";
import type { UpgradeTarget } from "../plan/types.js";
import type { ScanResult } from "../scan/types.js";

/** Fixable findings → planner targets (one per source package and id). */
export function targetsFromScan(scan: ScanResult): UpgradeTarget[] {
  const out: UpgradeTarget[] = [];
  for (const f of scan.findings) {
    if (f.fixState !== "fixed" || f.fixedVersion === undefined) continue;
    // ocipatch's own matches carry SOURCE versions; imported reports name binary packages
    out.push(
      scan.target.type === "report"
        ? { package: f.package, fixedVersion: f.fixedVersion, vulnerabilityIds: [f.id] }
        : { sourceName: f.sourceName, fixedVersion: f.fixedVersion, vulnerabilityIds: [f.id] },
    );
  }
  return out;
}

/** A `--vuln-report` must be about this image's OS release and architecture. */
export function checkReportMatches(report: ScanResult, inventory: Inventory, platform: string): void {
  const where = report.target.report?.path ?? "the vulnerability report";
  const ros = report.os;
  if (ros) {
    const id = ros.id.toLowerCase();
    const sameId = id === inventory.os.id || inventory.os.idLike.includes(id);
    const major = (v: string | undefined) => v?.split(".")[0];
    const sameVersion =
      ros.versionId === undefined ||
      inventory.os.versionId === undefined ||
      (inventory.os.id === "ubuntu"
        ? ros.versionId === inventory.os.versionId
        : major(ros.versionId) === major(inventory.os.versionId));
    if (!sameId || !sameVersion) {
      throw new OcipatchError(
        "USAGE",
        `${where} is about ${ros.id} ${ros.versionId ?? ""}`.trimEnd() +
          `, but the image is ${inventory.os.id} ${inventory.os.versionId ?? ""}`.trimEnd(),
      );
    }
  }
  const rplat = report.target.platform;
  if (rplat) {
    const arch = (p: string) => p.split("/")[1];
    if (arch(rplat) !== undefined && arch(rplat) !== arch(platform)) {
      throw new OcipatchError("USAGE", `${where} is for ${rplat}, but the image is ${platform}`);
    }
  }
}
