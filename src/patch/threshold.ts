/**
 * `-s/--severity-threshold`: does the image a patch run leaves behind still have a
 * vulnerability at or above a severity? As in kubescape (grype's HasSeverityAtOrAbove):
 * a finding of Unknown severity never counts, the threshold itself does.
 */
import { OcipatchError } from "../errors.js";
import type { Severity } from "../scan/types.js";
import { severityRank } from "../vulndb/severity.js";
import { remainingScan } from "./output.js";
import type { PatchResult } from "./patch-image.js";

const THRESHOLDS: readonly Severity[] = ["Negligible", "Low", "Medium", "High", "Critical"];

/** `high`, `HIGH`, `High` → High; anything else is a usage error. */
export function parseSeverityThreshold(value: string): Severity {
  const v = value.trim().toLowerCase();
  const s = THRESHOLDS.find((t) => t.toLowerCase() === v);
  if (!s) {
    throw new OcipatchError(
      "USAGE",
      `the severity threshold must be one of ${THRESHOLDS.map((t) => t.toLowerCase()).join(", ")}, got "${value}"`,
      { details: { option: "severityThreshold" } },
    );
  }
  return s;
}

interface ThresholdVerdict {
  /** Unique vulnerability ids at or above the threshold in what remains. */
  readonly ids: readonly string[];
  readonly exceeded: boolean;
}

export function checkSeverityThreshold(result: PatchResult, threshold: Severity): ThresholdVerdict {
  const limit = severityRank(threshold);
  const ids = new Set<string>();
  for (const p of result.platforms) {
    for (const f of remainingScan(p).findings) {
      if (f.severity !== "Unknown" && severityRank(f.severity) <= limit) ids.add(f.id);
    }
  }
  const sorted = [...ids].sort();
  return { ids: sorted, exceeded: sorted.length > 0 };
}
