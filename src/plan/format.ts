import type { Plan } from "./types.js";

export type PlanFormat = "table" | "json";

/** Human-readable size (1024-based, one decimal). */
export function formatSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB"];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: readonly string[]): string =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

const ids = (xs: readonly string[]): string => (xs.length === 0 ? "-" : xs.join(","));

/** The plan as text tables: updates, new packages, held and unresolved packages, total download. */
export function renderPlanTable(plan: Plan): string {
  const out: string[] = [];
  if (plan.updates.length === 0 && plan.newPackages.length === 0) {
    out.push("Nothing to upgrade.");
  } else {
    out.push(
      table(
        ["PACKAGE", "INSTALLED", "TARGET", "SOURCE", "REASON", "SIZE", "VULNERABILITIES"],
        plan.updates.map((u) => [
          u.package,
          u.installedVersion,
          u.targetVersion,
          u.sourceName,
          u.reason,
          formatSize(u.size),
          ids(u.vulnerabilityIds),
        ]),
      ),
    );
  }
  if (plan.newPackages.length > 0) {
    out.push("", "New packages (required by dependencies):");
    out.push(
      table(
        ["PACKAGE", "TARGET", "SOURCE", "SIZE", "REQUIRED BY"],
        plan.newPackages.map((n) => [
          n.package,
          n.targetVersion,
          n.sourceName,
          formatSize(n.size),
          n.requiredBy.join(", "),
        ]),
      ),
    );
  }
  if (plan.held.length > 0) {
    out.push("", "Held back (on hold in the image):");
    out.push(
      table(
        ["PACKAGE", "INSTALLED", "CANDIDATE", "VULNERABILITIES"],
        plan.held.map((h) => [
          h.package,
          h.installedVersion,
          h.candidateVersion ?? "-",
          ids(h.vulnerabilityIds),
        ]),
      ),
    );
  }
  if (plan.unresolved.length > 0) {
    out.push("", "Unresolved:");
    out.push(
      table(
        ["PACKAGE", "INSTALLED", "REASON", "VULNERABILITIES"],
        plan.unresolved.map((u) => [u.package, u.installedVersion ?? "-", u.reason, ids(u.vulnerabilityIds)]),
      ),
    );
  }
  const n = plan.updates.length + plan.newPackages.length;
  out.push("", `${n} package${n === 1 ? "" : "s"} to download, ${formatSize(plan.downloadSize)}.`);
  return `${out.join("\n")}\n`;
}

/** The plan as JSON: a top-level `updates` array (`package`, `installedVersion`, `targetVersion`, ...). */
export function renderPlanJson(plan: Plan): string {
  return `${JSON.stringify(
    {
      mode: plan.mode,
      updates: plan.updates,
      newPackages: plan.newPackages,
      held: plan.held,
      unresolved: plan.unresolved,
      downloadSize: plan.downloadSize,
      warnings: plan.warnings,
    },
    null,
    2,
  )}\n`;
}

export function renderPlan(plan: Plan, format: PlanFormat): string {
  return format === "json" ? renderPlanJson(plan) : renderPlanTable(plan);
}
