import { isOcipatchError, oneLine } from "../errors.js";

/** One image's outcome in a fleet run (also the `--format json` record). */
export interface FleetImageResult {
  readonly name: string;
  /** `registry/repository:tag` (just `registry/repository` when discovery failed). */
  readonly source: string;
  readonly destination: string | undefined;
  readonly status: "patched" | "up-to-date" | "dry-run" | "failed";
  /** Manifest digest of the patched image, when one was written. */
  readonly digest?: string | undefined;
  /** Fixable vulnerabilities before, and those left after. */
  readonly fixableBefore?: number | undefined;
  readonly fixableAfter?: number | undefined;
  readonly upgraded?: number | undefined;
  readonly durationMs: number;
  readonly error?: { readonly code: string; readonly message: string } | undefined;
}

export function errorRecord(e: unknown): { code: string; message: string } {
  return { code: isOcipatchError(e) ? e.code : "INTERNAL", message: oneLine(e) };
}

const STATUS_TEXT: Record<FleetImageResult["status"], string> = {
  patched: "Patched",
  "up-to-date": "Up-to-date",
  "dry-run": "Dry-run",
  failed: "Failed",
};

function details(r: FleetImageResult): string {
  if (r.error) return r.error.message;
  const parts: string[] = [];
  if (r.upgraded !== undefined) parts.push(`${r.upgraded} package${r.upgraded === 1 ? "" : "s"} upgraded`);
  if (r.fixableBefore !== undefined) {
    parts.push(
      r.fixableAfter === undefined
        ? `${r.fixableBefore} fixable`
        : `fixable ${r.fixableBefore} -> ${r.fixableAfter}`,
    );
  }
  return parts.join(", ") || "OK";
}

/** copa's summary table: NAME STATUS SOURCE IMAGE PATCHED IMAGE DETAILS, one row per image. */
export function formatFleetTable(results: readonly FleetImageResult[]): string {
  const rows = [
    ["NAME", "STATUS", "SOURCE IMAGE", "PATCHED IMAGE", "TIME", "DETAILS"],
    ...results.map((r) => [
      r.name,
      STATUS_TEXT[r.status],
      r.source,
      r.destination ?? "-",
      `${(r.durationMs / 1000).toFixed(1)}s`,
      details(r),
    ]),
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const lines = rows.map((row) =>
    row
      .map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c]!)))
      .join("   ")
      .trimEnd(),
  );
  const failed = results.filter((r) => r.status === "failed").length;
  lines.push(
    "",
    `${results.length} image${results.length === 1 ? "" : "s"}: ${results.length - failed} ok, ${failed} failed`,
  );
  return `${lines.join("\n")}\n`;
}

export function formatFleetJson(results: readonly FleetImageResult[]): string {
  return `${JSON.stringify(results, null, 2)}\n`;
}
