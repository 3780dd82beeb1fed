/**
 * What `ocipatch patch` prints as its result, in kubescape patch's `-f/--format` names:
 * `pretty` (the seed's summary; with `verbose`, the table of what remains in the patched
 * image), `json` (the patch result) and `sarif` (the patched image's remaining findings).
 */
import { toSarif } from "../report/sarif.js";
import { formatScanTable } from "../scan/index.js";
import type { ScanResult } from "../scan/types.js";
import type { PatchResult, PlatformResult } from "./patch-image.js";
import { formatPatchSummary, patchResultJson } from "./summary.js";

type PatchOutputFormat = "pretty" | "json" | "sarif";

/** Accepted spellings: kubescape's `pretty-printer`, the seed's `table`. */
const FORMAT_ALIASES: Readonly<Record<string, PatchOutputFormat>> = {
  pretty: "pretty",
  "pretty-printer": "pretty",
  table: "pretty",
  json: "json",
  sarif: "sarif",
};

/** `-f VALUE` → format, or undefined when VALUE names none. */
export function parsePatchOutputFormat(value: string): PatchOutputFormat | undefined {
  return FORMAT_ALIASES[value.trim().toLowerCase()];
}

export const PATCH_OUTPUT_FORMATS = Object.keys(FORMAT_ALIASES);

/**
 * The scan that describes the image the run leaves behind, per platform: the re-scan of
 * the patched image, else (nothing patched, dry run) the scan of the image as it is.
 */
export function remainingScan(p: PlatformResult): ScanResult {
  return p.after ?? p.before;
}

/** SARIF 2.1.0 with one run per platform of what remains. */
function patchSarif(result: PatchResult): Record<string, unknown> {
  const logs = result.platforms.map((p) => toSarif(remainingScan(p)));
  const first = logs[0] ?? toSarifEmpty();
  return { ...first, runs: logs.flatMap((l) => l["runs"] as unknown[]) };
}

function toSarifEmpty(): Record<string, unknown> {
  return { $schema: "https://json.schemastore.org/sarif-2.1.0.json", version: "2.1.0", runs: [] };
}

/** The result text for a format (always ends with a newline). */
export function formatPatchOutput(
  result: PatchResult,
  format: PatchOutputFormat,
  opts: { readonly verbose?: boolean | undefined } = {},
): string {
  switch (format) {
    case "json":
      return `${JSON.stringify(patchResultJson(result), null, 2)}\n`;
    case "sarif":
      return `${JSON.stringify(patchSarif(result), null, 2)}\n`;
    case "pretty": {
      const summary = formatPatchSummary(result);
      if (!opts.verbose) return summary;
      const many = result.platforms.length > 1;
      const tables = result.platforms.map((p) => {
        const head = `Remaining vulnerabilities${many ? ` (${p.platform})` : ""}:`;
        return `${head}\n${formatScanTable(remainingScan(p)).replace(/\n+$/, "")}\n`;
      });
      return `${summary}\n${tables.join("\n")}`;
    }
  }
}
