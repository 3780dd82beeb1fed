import type { Inventory } from "../inventory/types.js";
import { VERSION } from "../version.js";
import { recordsNameBinaries } from "../vulndb/namespace.js";
import { worseSeverity } from "../vulndb/severity.js";
import type { StoredRecord, VulnDatabase } from "../vulndb/store/database.js";
import type { FixState, Severity } from "../vulndb/types.js";
import { comparatorFor, type VersionComparator } from "../vulndb/versioning/index.js";
import { namespaceForOs } from "./release.js";
import { sortFindings, summarize } from "./summary.js";
import { type Finding, SCAN_SCHEMA_VERSION, type ScanResult, type ScanTarget } from "./types.js";

interface ScanOptions {
  /** Keep only findings with a fix (fixState "fixed"); the summary then counts those only. */
  readonly onlyFixed?: boolean;
  /** What was scanned (defaults to an inventory). */
  readonly target?: ScanTarget;
  /** Extra warnings to carry into the result (e.g. from the database update). */
  readonly warnings?: readonly string[];
  readonly now?: Date;
}

/** What one record says about one installed version. */
interface Verdict {
  readonly record: StoredRecord;
  readonly fixState: FixState;
  readonly fixedVersion: string | undefined;
  readonly note: string | undefined;
}

/**
 * Does `record` affect `version`? (see README, "Matching semantics")
 * - fixed:         introduced ≤ v < fixed → fixed (or not-fixed with a note if the fix is only in a
 *                  subscription channel such as Ubuntu Pro)
 * - last-affected: introduced ≤ v ≤ lastAffected → not-fixed
 * - open / wont-fix / undetermined: introduced ≤ v → not-fixed / wont-fix / unknown
 * - exact:         v is one of the listed versions → not-fixed
 */
function evaluateRecord(record: StoredRecord, version: string, cmp: VersionComparator): Verdict | undefined {
  if (record.status === "exact") {
    return record.versions?.some((v) => cmp.compare(version, v) === 0)
      ? { record, fixState: "not-fixed", fixedVersion: undefined, note: undefined }
      : undefined;
  }
  if (record.introduced !== undefined && cmp.compare(version, record.introduced) < 0) return undefined;
  switch (record.status) {
    case "fixed": {
      if (record.fixed === undefined || cmp.compare(version, record.fixed) >= 0) return undefined;
      if (record.channel) {
        return {
          record,
          fixState: "not-fixed",
          fixedVersion: undefined,
          note: `fixed in ${record.fixed} in the ${record.channel} channel only`,
        };
      }
      return { record, fixState: "fixed", fixedVersion: record.fixed, note: undefined };
    }
    case "last-affected":
      if (record.lastAffected === undefined || cmp.compare(version, record.lastAffected) > 0)
        return undefined;
      return {
        record,
        fixState: "not-fixed",
        fixedVersion: undefined,
        note: `last affected ${record.lastAffected}`,
      };
    case "open":
      return { record, fixState: "not-fixed", fixedVersion: undefined, note: undefined };
    case "wont-fix":
      return { record, fixState: "wont-fix", fixedVersion: undefined, note: undefined };
    case "undetermined":
      return { record, fixState: "unknown", fixedVersion: undefined, note: undefined };
    default:
      return undefined;
  }
}

const STATE_PRIORITY: readonly FixState[] = ["fixed", "wont-fix", "not-fixed", "unknown"];

/**
 * Several records (feeds, ranges) about the same id and package: a public fix wins
 * (the highest fixed version when feeds disagree, so that upgrading satisfies all),
 * then wont-fix, not-fixed, unknown.
 */
function merge(verdicts: readonly Verdict[], cmp: VersionComparator): Verdict {
  let best = verdicts[0]!;
  for (const v of verdicts.slice(1)) {
    const a = STATE_PRIORITY.indexOf(v.fixState);
    const b = STATE_PRIORITY.indexOf(best.fixState);
    if (a < b) best = v;
    else if (
      a === b &&
      v.fixedVersion &&
      best.fixedVersion &&
      cmp.compare(v.fixedVersion, best.fixedVersion) > 0
    ) {
      best = v;
    }
  }
  return best;
}

const uniq = (xs: ReadonlyArray<string | undefined>): string[] => [
  ...new Set(xs.filter((x): x is string => x !== undefined && x !== "")),
];

/** Match an inventory against the database. Pure: no network, no image access. */
export function scanInventory(inventory: Inventory, db: VulnDatabase, opts: ScanOptions = {}): ScanResult {
  const warnings: string[] = [...(opts.warnings ?? []), ...inventory.warnings];
  const release = namespaceForOs(inventory.os);
  if (release.warning) warnings.push(release.warning);
  const namespace = release.namespace;
  const findings: Finding[] = [];
  if (namespace) {
    if (!db.hasNamespace(namespace)) {
      warnings.push(
        `the vulnerability database has no data for ${namespace}: update it with a feed that covers this release`,
      );
    }
    const cmp = comparatorFor(namespace);
    const binaries = recordsNameBinaries(namespace);
    const byName = new Map<string, StoredRecord[]>();
    for (const pkg of inventory.packages) {
      const sourceName = pkg.sourceName || pkg.name;
      const sourceVersion = pkg.sourceVersion || pkg.version;
      // records name source packages (Debian, Alpine) or binary packages (RPM distributions)
      const recordName = binaries ? pkg.name : sourceName;
      const matchedVersion = binaries ? pkg.version : sourceVersion;
      let records = byName.get(recordName);
      if (!records) {
        records = db.recordsFor(namespace, recordName);
        byName.set(recordName, records);
      }
      if (records.length === 0) continue;
      const byId = new Map<string, Verdict[]>();
      try {
        for (const r of records) {
          const v = evaluateRecord(r, matchedVersion, cmp);
          if (!v) continue;
          const list = byId.get(r.vulnId);
          if (list) list.push(v);
          else byId.set(r.vulnId, [v]);
        }
      } catch (e) {
        warnings.push(
          `${pkg.name} ${matchedVersion}: cannot compare versions (${(e as Error).message}); skipped`,
        );
        continue;
      }
      for (const [id, verdicts] of byId) {
        const best = merge(verdicts, cmp);
        let severity: Severity = best.record.severity;
        if (severity === "Unknown") {
          for (const v of verdicts) severity = worseSeverity(severity, v.record.severity);
        }
        const notes = uniq([best.note, ...verdicts.map((v) => v.record.notes)]);
        findings.push({
          id,
          aliases: uniq(verdicts.flatMap((v) => v.record.aliases)).filter((a) => a !== id),
          package: pkg.name,
          installedVersion: pkg.version,
          fixedVersion: best.fixedVersion,
          fixState: best.fixState,
          severity,
          sourceName,
          sourceVersion,
          architecture: pkg.architecture,
          dataSource: uniq(verdicts.map((v) => v.record.feed)).join(","),
          namespace,
          urgency: best.record.urgency ?? verdicts.find((v) => v.record.urgency)?.record.urgency,
          notes: notes.length > 0 ? notes.join("; ") : undefined,
          title: best.record.title ?? verdicts.find((v) => v.record.title)?.record.title,
        });
      }
    }
  }
  const kept = opts.onlyFixed ? findings.filter((f) => f.fixState === "fixed") : findings;
  const meta = db.metadata();
  return {
    schemaVersion: SCAN_SCHEMA_VERSION,
    tool: { name: "ocipatch", version: VERSION },
    createdAt: (opts.now ?? new Date()).toISOString(),
    target: opts.target ?? { type: "inventory" },
    os: {
      id: inventory.os.id,
      versionId: inventory.os.versionId,
      codename: inventory.os.codename,
      prettyName: inventory.os.prettyName,
    },
    namespace,
    db: {
      path: meta.path,
      schemaVersion: meta.schemaVersion,
      builtAt: meta.builtAt,
      feeds: meta.feeds.map((f) => ({
        feed: f.feed,
        location: f.location,
        checkedAt: f.checkedAt,
        records: f.records,
      })),
    },
    packages: inventory.packages.length,
    findings: sortFindings(kept),
    summary: summarize(kept),
    warnings,
  };
}
