import type { ArtifactDownload } from "../backends/types.js";
import type { Plan } from "./types.js";

/** The package files a plan needs, in plan order (updates, then new packages). */
export function plannedDownloads(plan: Plan): ArtifactDownload[] {
  return [...plan.updates, ...plan.newPackages].map((u) => ({
    package: u.name,
    architecture: u.architecture,
    version: u.targetVersion,
    url: u.url,
    sha256: u.sha256,
    size: u.size,
    ...(u.checksum !== undefined ? { checksum: u.checksum } : {}),
  }));
}
