import type { Command } from "commander";
import { OcipatchError } from "../../errors.js";
import {
  formatScanJson,
  formatScanTable,
  importReport,
  inventoryForImage,
  type ScanResult,
  scanInventory,
} from "../../scan/index.js";
import { writeFileAtomic } from "../../util/fs.js";
import { openDatabaseForScan } from "../../vulndb/index.js";
import type { CliContext } from "../context.js";
import { indexCacheFor, NO_LAYER_CACHE_OPTION } from "../index-cache.js";
import { Output } from "../output.js";
import { dbDirFrom } from "./db.js";

interface ScanFlags {
  image?: string;
  fromReport?: string;
  format: string;
  onlyFixed?: boolean;
  output?: string;
  offline?: boolean;
  skipDbUpdate?: boolean;
  dbDir?: string;
  platform?: string;
  username?: string;
  password?: string;
  insecure?: boolean;
  quiet?: boolean;
  /** false with --no-layer-cache */
  layerCache: boolean;
}

export function registerScanCommand(program: Command, ctx: CliContext): void {
  program
    .command("scan")
    .description("list OS package vulnerabilities of an image, or import a grype/trivy JSON report")
    .option("-i, --image <ref>", "image to scan")
    .option("--from-report <file>", "read findings from a grype or trivy JSON report instead of scanning")
    .option("--format <format>", "table or json", "table")
    .option("--only-fixed", "only show vulnerabilities with a fixed version")
    .option("-o, --output <file>", "write the report to a file instead of stdout")
    .option("--offline", "never update the vulnerability database")
    .option("--skip-db-update", "do not update the vulnerability database, even when stale")
    .option("--db-dir <dir>", "vulnerability database directory")
    .option("--platform <os/arch>", "platform to scan in a multi-platform image")
    .option("-u, --username <user>", "registry user name")
    .option("-p, --password <password>", "registry password")
    .option("--insecure", "allow registries without valid TLS (and plain HTTP)")
    .option(...NO_LAYER_CACHE_OPTION)
    .option("-q, --quiet", "only print warnings and errors on stderr")
    .action(async (o: ScanFlags) => {
      if (o.format !== "table" && o.format !== "json") {
        throw new OcipatchError("USAGE", `--format must be table or json, got "${o.format}"`);
      }
      if (!o.image === !o.fromReport) {
        throw new OcipatchError("USAGE", "give exactly one of --image REF or --from-report FILE");
      }
      const out = new Output(ctx, { quiet: o.quiet ?? false });
      try {
        await runScan(o, ctx, out);
      } finally {
        out.close();
      }
    });
}

async function runScan(o: ScanFlags, ctx: CliContext, out: Output): Promise<void> {
  const progress = out.progress();
  let result: ScanResult;
  if (o.fromReport) {
    result = await importReport(o.fromReport, { onlyFixed: o.onlyFixed ?? false });
  } else {
    out.info("Scanning image...");
    const { inventory, target } = await inventoryForImage(
      {
        reference: o.image!,
        platform: o.platform,
        username: o.username ?? ctx.env["OCIPATCH_USERNAME"],
        password: o.password ?? ctx.env["OCIPATCH_PASSWORD"],
        insecure: o.insecure,
      },
      // layers indexed by an earlier scan or patch are not read again
      { indexCache: indexCacheFor(ctx.env, o.layerCache) },
    );
    const { db, warnings } = await openDatabaseForScan({
      dbDir: dbDirFrom(ctx, o.dbDir),
      offline: o.offline ?? false,
      skipUpdate: o.skipDbUpdate ?? false,
      progress,
    });
    try {
      result = scanInventory(inventory, db, { onlyFixed: o.onlyFixed ?? false, target, warnings });
    } finally {
      db.close();
    }
  }
  for (const w of result.warnings) out.warning(w);
  if (o.image) out.success("Scanned image successfully");
  const text = o.format === "json" ? formatScanJson(result) : formatScanTable(result);
  if (o.output) {
    await writeFileAtomic(o.output, text);
    out.info(`Report written to ${o.output}`);
  } else {
    out.result(text);
  }
}
