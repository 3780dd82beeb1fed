import type { Command } from "commander";
import { EXIT, OcipatchError } from "../../errors.js";
import { displayLocation } from "../../vulndb/fetch.js";
import {
  databaseStatus,
  defaultDbDir,
  FEED_NAMES,
  type FeedName,
  feedByName,
  formatAge,
  updateDatabase,
} from "../../vulndb/index.js";
import type { CliContext } from "../context.js";
import { Output } from "../output.js";

/** `--source NAME=PATH_OR_URL` (repeatable; several locations per feed allowed). */
function parseSourceOptions(values: readonly string[]): Partial<Record<FeedName, string[]>> {
  const out: Partial<Record<FeedName, string[]>> = {};
  for (const v of values) {
    const eq = v.indexOf("=");
    if (eq <= 0 || eq === v.length - 1) {
      throw new OcipatchError(
        "USAGE",
        `--source expects NAME=PATH_OR_URL with NAME one of ${FEED_NAMES.join(", ")}, got "${v}"`,
      );
    }
    const name = feedByName(v.slice(0, eq).trim().toLowerCase()).name;
    const list = out[name] ?? [];
    list.push(v.slice(eq + 1).trim());
    out[name] = list;
  }
  return out;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function dbDirFrom(ctx: CliContext, explicit: string | undefined): string {
  return defaultDbDir(ctx.env, explicit);
}

function pad(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

export function registerDbCommand(program: Command, ctx: CliContext): void {
  const db = program.command("db").description("manage the local vulnerability database");

  db.command("update")
    .description(
      "download the vulnerability feeds and rebuild the database (conditional downloads; failures keep the previous data)",
    )
    .option(
      "--source <name=location>",
      `take feed NAME (${FEED_NAMES.join(", ")}) from a file, directory or URL; repeatable. Only the named feeds are updated`,
      collect,
      [] as string[],
    )
    .option(
      "--db-dir <dir>",
      "database directory (default: $OCIPATCH_DB_DIR, $XDG_CACHE_HOME/ocipatch/db, ~/.cache/ocipatch/db)",
    )
    .option("--force", "ignore ETag/Last-Modified and re-import everything")
    .option("-q, --quiet", "only print warnings, errors and the result table")
    .action(async (o: { source: string[]; dbDir?: string; force?: boolean; quiet?: boolean }) => {
      const locations = parseSourceOptions(o.source);
      const dbDir = dbDirFrom(ctx, o.dbDir);
      const out = new Output(ctx, { quiet: o.quiet ?? false });
      try {
        out.info(`Updating the vulnerability database in ${dbDir}...`);
        const result = await updateDatabase({
          dbDir,
          locations,
          force: o.force ?? false,
          progress: out.progress(),
        });
        const rows = [["FEED", "RESULT", "RECORDS", "VULNERABILITIES", "SKIPPED", "LOCATION"]];
        for (const r of result.results) {
          rows.push([
            r.feed,
            r.outcome,
            String(r.records),
            String(r.vulnerabilities),
            String(r.skipped),
            displayLocation(r.location),
          ]);
        }
        if (result.rebuilt) out.success(`Vulnerability database updated: ${result.path}`);
        else if (result.failures.length === 0)
          out.success(`Vulnerability database is up to date: ${result.path}`);
        else if (result.metadata) out.info(`Vulnerability database unchanged: ${result.path}`);
        out.result(pad(rows));
        if (result.failures.length > 0) {
          const first = result.failures[0]!;
          out.error(
            `db update: ${result.failures.length} of ${result.results.length} source location(s) failed; ` +
              `first: ${first.feed} (${displayLocation(first.location)}): ${first.error}` +
              `${first.outcome === "kept-previous" ? " (previous data kept)" : ""}`,
          );
          ctx.exitCode = EXIT.FAILURE;
        }
      } finally {
        out.close();
      }
    });

  db.command("status")
    .description("show the database's feeds, record counts and age")
    .option("--db-dir <dir>", "database directory")
    .option("--format <format>", "table or json", "table")
    .action((o: { dbDir?: string; format: string }) => {
      if (o.format !== "table" && o.format !== "json") {
        throw new OcipatchError("USAGE", `--format must be table or json, got "${o.format}"`);
      }
      const st = databaseStatus(dbDirFrom(ctx, o.dbDir));
      if (o.format === "json") {
        ctx.stdout.write(`${JSON.stringify(st, null, 2)}\n`);
        if (!st.exists) ctx.exitCode = EXIT.FAILURE;
        return;
      }
      const out = new Output(ctx);
      if (!st.exists || !st.metadata) {
        out.warning(st.warnings[0] ?? "no vulnerability database");
        ctx.exitCode = EXIT.FAILURE;
        return;
      }
      const m = st.metadata;
      ctx.stdout.write(
        `Database: ${m.path}\nSchema: ${m.schemaVersion}  Built: ${m.builtAt} by ${m.builtBy}  Age: ${
          st.ageMs === undefined ? "unknown" : formatAge(st.ageMs)
        }${st.stale ? " (stale)" : ""}\n\n`,
      );
      const rows = [["FEED", "LOCATIONS", "RECORDS", "VULNERABILITIES", "SKIPPED", "CHECKED"]];
      for (const f of st.feeds) {
        rows.push([
          f.feed,
          String(f.locations),
          String(f.records),
          String(f.vulnerabilities),
          String(f.skipped),
          f.checkedAt ?? "never",
        ]);
      }
      ctx.stdout.write(`${pad(rows)}\n\n`);
      const ns = st.namespaces.map((n) => `${n.namespace} (${n.records})`).join(", ");
      ctx.stdout.write(`Releases: ${ns || "none"}\n`);
      for (const w of st.warnings) out.warning(w);
    });
}
